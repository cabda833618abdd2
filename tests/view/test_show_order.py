"""Where ``rollout-trace show`` prints each record of an agent (``view/show_order.py``): by
time, then by the log within one millisecond, and a tool call under the inference call that
asked for it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.view.load import load_state
from rollout_trace_sdk.view.show import short_id

from ..conftest import CONFORMANCE, CONFORMANCE_V3, needs_conformance, needs_conformance_v3
from .conftest import plain_transcript


def test_a_tool_call_stays_under_its_call_within_a_millisecond(demo_state: Any) -> None:
    """A fast loop starts a tool call and the next inference call in the same millisecond:
    the transcript put every inference call of that millisecond before its tool calls, so a
    tool call was printed under the call after the one that asked for it (found by review,
    running the README's quickstart)."""
    state = orjson.loads(orjson.dumps(demo_state))
    at = state["started_at_unix_ms"]
    for table in ("inference_calls", "tool_calls", "terminal_operations", "codex_turns"):
        for obj in state[table].values():
            obj["execution"]["started_at_unix_ms"] = obj["execution"]["ended_at_unix_ms"] = at
    for item in state["conversation_items"].values():
        item["first_seen_at_unix_ms"] = at
    asked_by = {
        tool: short_id(call_id)
        for call_id, call in state["inference_calls"].items()
        for tool in call["tool_call_ids_started_by_response"]
    }
    assert len(asked_by) == 7
    last_call = None
    for line in plain_transcript(state).splitlines():
        if line.lstrip().startswith("▸ inference "):
            last_call = line.split()[2]
        elif line.lstrip().startswith("⚙ "):
            tool = line.split()[2]
            assert last_call == asked_by[tool], (tool, line)


def _all_in_one_millisecond(state: Any) -> Any:
    """A copy of ``state`` whose every time is its start: a loop faster than the clock."""
    same = orjson.loads(orjson.dumps(state))
    at = same["started_at_unix_ms"]
    tables = ("inference_calls", "tool_calls", "terminal_operations", "compaction_requests")
    for table in tables:
        for obj in (same.get(table) or {}).values():
            obj["execution"]["started_at_unix_ms"] = obj["execution"]["ended_at_unix_ms"] = at
    for compaction in (same.get("compactions") or {}).values():
        compaction["installed_at_unix_ms"] = at
    for item in same["conversation_items"].values():
        item["first_seen_at_unix_ms"] = at
    return same


def _corpus_state(corpus: Path, case: str) -> Any:
    return orjson.loads(next((corpus / case).glob("*/expected_state.json")).read_bytes())


_MESSAGES_AND_COMPACTIONS = [
    pytest.param(CONFORMANCE, case, marks=needs_conformance, id=f"v2-{case}")
    for case in ("multi_agent_v2_lifecycle", "auto_compaction_local")
] + [
    pytest.param(CONFORMANCE_V3, case, marks=needs_conformance_v3, id=f"v3-{case}")
    for case in ("multi_agent_v2_lifecycle", "auto_compaction_remote")
]


@pytest.mark.parametrize(("corpus", "case"), [(None, "demo"), *_MESSAGES_AND_COMPACTIONS])
def test_a_loop_faster_than_the_clock_is_told_in_the_same_order(
    corpus: Path | None, case: str, demo_state: Any
) -> None:
    """Within one millisecond, an input item (a sub-agent's answer a wait brought in, the
    history a compaction installed) was printed before every call of that millisecond, and
    a compaction before the calls that ran before it (found by int35's parallel tool calls
    under the Agents SDK): each now goes where the log puts it, so the transcript reads the
    same whatever the clock's resolution."""
    state = demo_state if corpus is None else _corpus_state(corpus, case)

    def lines(state: Any) -> list[str]:  # durations aside
        return [re.sub(r"\d+ ms\b", "N ms", line) for line in plain_transcript(state).splitlines()]

    assert lines(_all_in_one_millisecond(state)) == lines(state)


def test_a_tool_call_stays_under_its_call_while_another_call_runs(tmp_path: Path) -> None:
    """Two inference calls of one agent at once (parallel samples): the first's tool call
    started after the second call had, so printed by time it came under the second call,
    which never asked for it (found by the lead, session 37). Each tool call is printed
    under the call whose response asked for it."""

    def asked(call_id: str) -> dict[str, str]:
        return {"type": "function_call", "call_id": call_id, "name": "f", "arguments": "{}"}

    async def record() -> Path:
        user = {"role": "user", "content": "go"}
        async with open_rollout(tmp_path, model="m") as rollout, rollout.root.turn() as turn:
            turn.accept(user)
            first, second = turn.inference({"input": [user]}), turn.inference({"input": [user]})
            async with first, second:
                await anyio.sleep(0.005)
                first.completed(output_items=[asked("c1")])
                await anyio.sleep(0.005)
                async with turn.tool_call("c1", "f", arguments="{}") as tool:
                    tool.completed({"type": "function_call_output", "call_id": "c1", "output": "1"})
                await anyio.sleep(0.005)
                second.completed(output_items=[asked("c2")])
            async with turn.tool_call("c2", "f", arguments="{}") as tool:
                tool.completed({"type": "function_call_output", "call_id": "c2", "output": "2"})
        assert rollout.bundle_dir is not None
        return rollout.bundle_dir

    state = load_state(anyio.run(record))
    asked_by = {
        tool: short_id(call_id)
        for call_id, call in state["inference_calls"].items()
        for tool in call["tool_call_ids_started_by_response"]
    }
    under = {}
    last_call = None
    for line in plain_transcript(state).splitlines():
        if line.lstrip().startswith("▸ inference "):
            last_call = line.split()[2]
        elif line.lstrip().startswith("⚙ "):
            under[line.split()[2]] = last_call
    assert under == asked_by and len(under) == 2, plain_transcript(state)


@pytest.mark.anyio
async def test_an_interrupted_turn_ends_before_the_next_turn_of_its_millisecond(
    tmp_path: Path,
) -> None:
    """A turn a deadline cut off, and the next turn started at once in the same millisecond
    (a loop that retries the task): the first turn's ``✗ turn … cancelled`` line was printed
    after everything of that millisecond, under the second turn's request, as if the second
    turn's work were the first's (found by review user51, half of the runs of a loop whose
    turn ran into ``fail_after``). It goes where the log ended the turn."""
    async with open_rollout(tmp_path, model="m") as rollout:
        with anyio.move_on_after(0.01):
            async with rollout.root.turn() as first:
                first.accept({"role": "user", "content": "first try"})
                async with first.inference({"input": "first try"}):
                    await anyio.sleep(1)
        async with rollout.root.turn() as second:
            second.accept({"role": "user", "content": "again"})
            async with second.inference({"input": "again"}) as call:
                call.completed(output_items=[{"role": "assistant", "content": "done"}])
    assert rollout.bundle_dir is not None
    state = load_state(rollout.bundle_dir)
    at = state["started_at_unix_ms"]  # the whole loop in one millisecond, as a fast clock
    for table in ("inference_calls", "codex_turns"):
        for obj in state[table].values():
            obj["execution"]["started_at_unix_ms"] = obj["execution"]["ended_at_unix_ms"] = at
    for item in state["conversation_items"].values():
        item["first_seen_at_unix_ms"] = at
    first_id = next(iter(state["codex_turns"]))
    lines = [line.strip() for line in plain_transcript(state).splitlines()]
    ended = next(i for i, line in enumerate(lines) if line.startswith("✗ turn"))
    assert short_id(first_id) in lines[ended], lines
    assert lines[ended - 1].startswith("error:") and lines[ended + 1] == "user: again", lines
