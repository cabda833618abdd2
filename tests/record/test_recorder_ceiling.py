"""Work started past a schema-3 bundle's ceiling (``max_bundle_bytes``: ``Runtime.counted_only``).

Past the ceiling a start is refused, so the bundle stays bounded. A refused start used to
hand back the null twin, and everything under it (a sub-agent's turns, a turn's calls, their
events) was lost uncounted: ``demo --scale 400`` under a 3 MB limit said "dropped 83 events"
where 4,964 were missing (user39). Now the handle goes on, counting instead of writing, so
the loss report adds up; and what the bundle does hold never names what it does not (an
agent thread, a terminal session, a turn), which both reducers would refuse.

The ceiling is twice the limit here (the overdraft floor set to 0), so small rollouts reach it.
"""

from __future__ import annotations

import functools
import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from rollout_trace_sdk.record import RecorderWarning, Rollout, Turn, open_rollout

from .writer_support import reduce_like_codex

_LIMIT = 20_000


@pytest.fixture(autouse=True)
def _small_ceiling(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from rollout_trace_sdk.record import _shard_plan

    monkeypatch.setattr(_shard_plan, "EVENT_OVERDRAFT_BYTES", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the ceiling's own warning
        yield


def _lines(bundle: Path) -> int:
    return (bundle / "trace.jsonl").read_bytes().count(b"\n")


def _dropped(rollout: Rollout) -> int:
    stats = rollout.stats
    assert stats is not None
    return stats.events_dropped


def _dropped_events(bundle: Path) -> int:
    """The events the bundle's loss report says were left out."""
    from tests.record.writer_support import shard_texts

    reports = [t for t in shard_texts(bundle) if b"rollout_trace_sdk: dropped" in t]
    assert len(reports) == 1, reports
    found = re.search(rb"dropped (\d+) events", reports[0])
    assert found is not None, reports[0]
    return int(found.group(1))


def test_the_loss_report_counts_what_ran_under_refused_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo (sub-agents, terminal sessions, compactions) past its ceiling: the lines
    written and the events reported left out add up to the uncapped run's lines (plus the
    report's own line), and Codex 0.171 reduces the bundle as we do."""
    import rollout_trace_sdk.demo as demo

    monkeypatch.setenv("ROLLOUT_TRACE_SCHEMA", "3")  # both runs (the suite's default is 2)
    whole = demo.run_demo(tmp_path / "whole", 12)
    monkeypatch.setattr(
        demo, "open_rollout", functools.partial(open_rollout, max_bundle_bytes=60_000)
    )
    capped = demo.run_demo(tmp_path / "capped", 12)
    dropped = _dropped_events(capped)
    assert dropped > _lines(whole) // 2  # most of it: was 55 of ~2,400 with null twins
    assert _lines(capped) - 1 + dropped == _lines(whole)
    state = reduce_like_codex(capped)
    assert state["recording_status"] == "closed_with_partial_payloads"
    assert len(state["threads"]) < 13


async def _fill(rollout: Rollout, turn: Turn) -> None:
    """Record point events in ``turn`` until the bundle reaches its ceiling: one item
    accepted again and again (stored once), so that the payloads keep room under the
    limit and what is recorded past the ceiling is stored whole."""
    before = _dropped(rollout)
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]}
    for i in range(100_000):
        turn.accept(item)
        if i % 20 == 0:
            await rollout.flush()
        if _dropped(rollout) > before:
            return
    raise AssertionError("the ceiling was never reached")


def _record(tmp_path: Path, body: Any) -> tuple[Path, int]:
    """Run ``body(rollout, turn)`` in a root turn of a capped rollout; the bundle and the
    events the rollout counted as dropped."""
    dropped = 0

    async def main() -> None:
        nonlocal dropped
        async with open_rollout(tmp_path, max_bundle_bytes=_LIMIT) as rollout:
            async with rollout.root.turn() as turn:
                await body(rollout, turn)
            await rollout.flush()
            dropped = _dropped(rollout)

    anyio.run(main)
    (bundle,) = tmp_path.glob("trace-*")
    return bundle, dropped


def test_a_spawn_recorded_before_the_ceiling_never_names_a_child_started_after_it(
    tmp_path: Path,
) -> None:
    """A spawn_agent call started before the ceiling (its start and end written) whose child
    starts after it: the call's activity would name a thread the bundle does not hold, which
    both reducers refuse; it is counted instead, with the child's whole work."""
    counted: list[int] = []

    async def body(rollout: Rollout, turn: Turn) -> None:
        async with turn.tool_call(
            "call_spawn", "spawn_agent", arguments={"task_name": "w", "message": "do it"}
        ) as tool:
            await _fill(rollout, turn)
            counted.append(_dropped(rollout))
            child = tool.spawn_agent("worker")
            assert child.enabled and not child.ended  # counting, not a null twin
            async with (
                child,
                child.turn() as work,
                work.tool_call("c1", "exec_command", arguments={"cmd": "ls"}) as call,
            ):
                call.completed({"type": "function_call_output", "call_id": "c1", "output": "ok"})
            tool.completed(
                {"type": "function_call_output", "call_id": "call_spawn", "output": "{}"}
            )

    bundle, dropped = _record(tmp_path, body)
    # the child's start and configuration, the activity (counted though the call is in the
    # bundle: ``_activity``), the turn and the call with their protocol events, their ends:
    # every one, so the loss report adds up (a bound of >= 8 let the activity go uncounted)
    assert dropped - counted[0] == 14
    assert b"tool_call_runtime_ended" not in (bundle / "trace.jsonl").read_bytes()
    state = reduce_like_codex(bundle)
    assert len(state["threads"]) == 1
    assert state["tool_calls"]["call_spawn"]["execution"]["status"] == "completed"


def test_a_write_stdin_before_the_ceiling_never_names_a_session_started_after_it(
    tmp_path: Path,
) -> None:
    """A write_stdin call recorded before the ceiling whose target session started after it:
    counted, not warned about as another rollout's session, and the bundle reduces."""

    async def body(rollout: Rollout, turn: Turn) -> None:
        async with turn.tool_call("w1", "write_stdin", arguments={"session_id": 1}) as writer:
            await _fill(rollout, turn)
            async with turn.tool_call("e1", "exec_command", arguments={"cmd": "cat"}) as exec_call:
                session = exec_call.exec_started(["cat"], process_id=7)
                exec_call.completed({"type": "function_call_output", "call_id": "e1", "output": ""})
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # no warning: the ceiling explains it
                before = _dropped(rollout)
                writer.stdin_target(session)
                assert _dropped(rollout) == before + 1
            session.exited(0, "")
            writer.completed({"type": "function_call_output", "call_id": "w1", "output": ""})

    bundle, _ = _record(tmp_path, body)
    state = reduce_like_codex(bundle)
    assert "e1" not in state["tool_calls"] and "w1" in state["tool_calls"]


def test_a_call_resumed_in_a_turn_past_the_ceiling_keeps_its_end(tmp_path: Path) -> None:
    """A call kept past its turn (``outlive_turn``) and resumed in a turn started past the
    ceiling: the call is in the bundle, so its end is kept (the ends of what is running
    are), and both reducers show it completed though its new turn is not there."""

    async def body(rollout: Rollout, turn: Turn) -> None:
        call = turn.tool_call("c1", "shell", arguments={"cmd": "rm -rf build"})
        await call.__aenter__()
        call.outlive_turn()
        await _fill(rollout, turn)
        turn.end()
        async with rollout.root.turn() as later:
            assert not later.ended  # counting, not a null twin
            call.resume_in(later)
            call.completed({"type": "function_call_output", "call_id": "c1", "output": "done"})

    bundle, _ = _record(tmp_path, body)
    state = reduce_like_codex(bundle)
    assert len(state["codex_turns"]) == 1
    assert state["tool_calls"]["c1"]["execution"]["status"] == "completed"


def test_work_past_the_ceiling_stores_none_of_its_items(tmp_path: Path) -> None:
    """A long agent past its ceiling: its inferences' items, requests and responses and its
    tools' outputs are neither serialised nor remembered by the item store, which kept a
    reference for each new item (a content digest and an omitted reference: ~1 kB a turn,
    2.6 kB with the ids, where the null twins of before kept 0.2 kB), for nothing the
    bundle would hold. The events are counted all the same."""
    grown: list[int] = []

    async def body(rollout: Rollout, turn: Turn) -> None:
        await _fill(rollout, turn)
        store = rollout._rt.items
        assert store is not None
        known = len(store._by_content._refs) + len(store._by_content._young)
        async with rollout.root.turn() as later:
            assert not later.ended  # counting, not a null twin
            history: list[Any] = []
            for i in range(30):
                text = f"question {i}"
                question = {"role": "user", "content": [{"type": "input_text", "text": text}]}
                history += later.accept({"type": "message", **question})
                async with later.inference({"model": "m", "input": list(history)}) as call:
                    answer = {"type": "function_call", "call_id": f"c{i}", "name": "shell"}
                    history += call.completed(
                        response_id=f"r{i}", output_items=[{**answer, "arguments": "{}"}]
                    )
                async with later.tool_call(f"c{i}", "shell", arguments={}) as tool:
                    output = {"type": "function_call_output", "call_id": f"c{i}", "output": text}
                    history.append(tool.completed(output))
        grown.append(len(store._by_content._refs) + len(store._by_content._young) - known)

    bundle, _ = _record(tmp_path, body)
    assert grown == [0]
    reduce_like_codex(bundle)


def test_an_agent_call_past_the_ceiling_counts_what_an_uncapped_one_records(
    tmp_path: Path,
) -> None:
    """A send_message call started past the ceiling delivers to two agents: uncapped, the
    second activity is refused with a warning (the edge's id is the call's), and so is a
    process started after it. Counted, both were counted as events and nothing warned: the
    loss report said more was left out than the uncapped run records."""
    deltas: list[int] = []

    async def body(rollout: Rollout, turn: Turn) -> None:
        first, second = rollout.root.spawn("a"), rollout.root.spawn("b")
        await _fill(rollout, turn)
        arguments = {"target": "/root/a", "message": "hi"}
        async with turn.tool_call("sm", "send_message", arguments=arguments) as call:
            before = _dropped(rollout)
            call.agent_interacted(first)  # counted: the one activity
            with pytest.warns(RecorderWarning, match="recorded its agent activity already"):
                call.agent_interacted(second)
            with pytest.warns(RecorderWarning, match="cannot start another process"):
                call.exec_started(["ls"])
            deltas.append(_dropped(rollout) - before)
            call.completed({"type": "function_call_output", "call_id": "sm", "output": "ok"})

    bundle, _ = _record(tmp_path, body)
    assert deltas == [1]
    reduce_like_codex(bundle)


def test_a_write_stdin_names_a_process_started_past_the_ceiling_without_warning(
    tmp_path: Path,
) -> None:
    """An exec_command call and a write_stdin call both recorded before the ceiling, the
    process started after it (its runtime start left out): the write_stdin's target is
    counted, as the event the uncapped run records. It was warned about as another rollout's
    session, and not counted."""
    counted: list[int] = []

    async def body(rollout: Rollout, turn: Turn) -> None:
        async with (
            turn.tool_call("e1", "exec_command", arguments={"cmd": "cat"}) as exec_call,
            turn.tool_call("w1", "write_stdin", arguments={"session_id": 7}) as writer,
        ):
            await _fill(rollout, turn)
            session = exec_call.exec_started(["cat"], process_id=7)
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # the ceiling explains it
                before = _dropped(rollout)
                writer.stdin_target(session)
                counted.append(_dropped(rollout) - before)
            writer.completed({"type": "function_call_output", "call_id": "w1", "output": ""})
            exec_call.completed({"type": "function_call_output", "call_id": "e1", "output": ""})
        session.exited(0, "")

    bundle, _ = _record(tmp_path, body)
    assert counted == [1]
    reduce_like_codex(bundle)


def test_a_write_stdin_past_the_ceiling_naming_another_rollouts_session_warns(
    tmp_path: Path,
) -> None:
    """A write_stdin call started past the ceiling naming a session of another rollout (a
    shell kept across episodes): warned about and not counted, as the uncapped run does."""

    async def body(rollout: Rollout, turn: Turn) -> None:
        async with open_rollout(tmp_path / "other") as other, other.root.turn() as elsewhere:
            async with elsewhere.tool_call("e1", "exec_command", arguments={"cmd": "sh"}) as call:
                session = call.exec_started(["sh"], process_id=3)
                call.completed({"type": "function_call_output", "call_id": "e1", "output": ""})
            await _fill(rollout, turn)
            async with turn.tool_call("w1", "write_stdin", arguments={"session_id": 3}) as writer:
                before = _dropped(rollout)
                with pytest.warns(RecorderWarning, match="does not hold"):
                    writer.stdin_target(session)
                assert _dropped(rollout) == before
                writer.completed({"type": "function_call_output", "call_id": "w1", "output": ""})
            session.exited(0, "")

    _record(tmp_path, body)


def _said(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }


def _asked(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def test_a_request_past_the_ceiling_continues_a_response_past_it_without_warning(
    tmp_path: Path,
) -> None:
    """Requests past the ceiling continuing a response (``previous_response_id``) also past
    it, before and after a compaction: the responses were not remembered (their ends were counted,
    not written), so each continuation was warned about as naming "no response recorded in
    this thread" and counted as a dropped input, which the uncapped run does not record."""
    counted: list[int] = []
    said: list[str] = []

    async def body(rollout: Rollout, turn: Turn) -> None:
        await _fill(rollout, turn)
        async with rollout.root.turn() as later:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")  # the ceiling explains what is left out
                before = _dropped(rollout)
                first = later.accept(_asked("one"))
                async with later.inference({"model": "m", "input": first}) as call:
                    call.completed(response_id="resp_1", output_items=[_said("a")])
                request = {"model": "m", "input": later.accept(_asked("two"))}
                async with later.inference({**request, "previous_response_id": "resp_1"}) as call:
                    call.completed(response_id="resp_2", output_items=[_said("b")])
                compaction = later.compaction()
                replaced = compaction.installed(input_history=first, replacement_history=[])
                async with later.inference({"model": "m", "input": replaced}) as call:
                    call.completed(response_id="resp_3", output_items=[_said("c")])
                async with later.inference(
                    {"model": "m", "input": [], "previous_response_id": "resp_3"}
                ) as call:
                    call.completed(response_id="resp_4", output_items=[_said("d")])
                counted.append(_dropped(rollout) - before)
            said.extend(str(w.message) for w in caught if w.category is RecorderWarning)

    bundle, _ = _record(tmp_path, body)
    assert said == []
    # two accepted items, four inferences (start, end and the output's acceptance each),
    # the compaction's checkpoint
    assert counted == [2 + 4 * 3 + 1]
    reduce_like_codex(bundle)


def test_work_started_past_the_ceiling_counts_its_payloads(tmp_path: Path) -> None:
    """A spawn_agent call started past the ceiling: its child's configuration and its own
    runtime end (``_activity`` on a runtime that counts) are payloads the bundle does not
    hold, counted by number (``RecordQueue.lost_payload``) so the loss report adds them up."""
    payloads: list[int] = []

    async def body(rollout: Rollout, turn: Turn) -> None:
        await _fill(rollout, turn)
        async with turn.tool_call(
            "call_spawn", "spawn_agent", arguments={"task_name": "w", "message": "do it"}
        ) as tool:
            before = rollout.stats
            assert before is not None
            tool.spawn_agent("worker")  # the child's session_metadata, the call's runtime end
            after = rollout.stats
            assert after is not None
            payloads.append(after.payloads_dropped - before.payloads_dropped)
            tool.completed(
                {"type": "function_call_output", "call_id": "call_spawn", "output": "{}"}
            )

    bundle, _ = _record(tmp_path, body)
    assert payloads == [2]
    # and the loss report says why those payloads have no bytes (``QueueRules``' reason)
    from tests.record.writer_support import shard_texts

    (report,) = [t for t in shard_texts(bundle) if b"rollout_trace_sdk: dropped" in t]
    assert b"its payloads by number only (never serialised, so not in the bytes)" in report


def test_a_payload_past_the_ceiling_counted_from_another_thread_is_a_payload(
    tmp_path: Path,
) -> None:
    """A call started past the ceiling starts its process from a worker thread: the payload
    that start would write is counted as a dropped payload, not an event
    (``RecordQueue.lost_payload``'s thread path keeps its own tally, merged when the rollout
    reads its stats: counting it as an event passed every test, mut42)."""
    counted: list[tuple[int, int]] = []

    async def body(rollout: Rollout, turn: Turn) -> None:
        await _fill(rollout, turn)
        async with turn.tool_call("c1", "exec_command", arguments={"cmd": "ls"}) as call:
            await rollout.flush()
            before = rollout.stats
            assert before is not None
            await anyio.to_thread.run_sync(functools.partial(call.exec_started, ["ls"]))
            await rollout.flush()
            after = rollout.stats
            assert after is not None
            counted.append(
                (
                    after.payloads_dropped - before.payloads_dropped,
                    after.events_dropped - before.events_dropped,
                )
            )

    _record(tmp_path, body)
    payloads, events = counted[0]
    assert payloads >= 1 and events >= 1, counted
    assert counted == [(1, events)]


def test_a_call_left_open_past_the_ceiling_has_its_end_counted(tmp_path: Path) -> None:
    """A call started past the ceiling and never ended is still ended when the rollout
    closes (``Handle._opened`` keeps it among the open handles), and that end is counted
    as the explicit end of a twin call would be."""

    def body(end_it: bool) -> Any:
        async def run(rollout: Rollout, turn: Turn) -> None:
            await _fill(rollout, turn)
            call = turn.tool_call("c1", "exec_command", arguments={"cmd": "ls"})
            await call.__aenter__()
            if end_it:
                await call.__aexit__(None, None, None)  # ended as the rollout's close ends it

        return run

    _, ended = _record(tmp_path / "ended", body(True))
    _, left_open = _record(tmp_path / "open", body(False))
    assert left_open == ended


def test_a_wait_past_the_ceiling_leaves_the_cell_end_in_the_cells_turn(tmp_path: Path) -> None:
    """A code cell recorded before the ceiling, collected by a wait in a turn started past
    it: the cell's end is kept (what was running ends), and written in the cell's own turn,
    never in the wait's turn, which the bundle does not hold (``ToolCall._wait_resolved``
    gives no turn on a runtime that counts). Codex 0.171 reduces either bundle alike, so
    only the envelope shows it."""
    source = "const a = await tools.exec_command({cmd: 'sleep 1'});\n"

    async def body(rollout: Rollout, turn: Turn) -> None:
        asked = {"type": "custom_tool_call", "call_id": "cell", "name": "exec", "input": source}
        async with turn.inference({"model": "m", "input": []}) as inference:
            inference.completed(output_items=[asked])
        async with turn.tool_call("cell", "exec", input=source) as tool:
            cell = tool.code_cell("1", source)
            cell.yielded()
            tool.completed(
                {"type": "custom_tool_call_output", "call_id": "cell", "output": "running"}
            )
        await _fill(rollout, turn)
        turn.end()
        async with rollout.root.turn() as later:
            assert not later.ended  # counting, not a null twin
            arguments = {"cell_id": "1", "yield_time_ms": 10000}
            async with later.tool_call("wait", "wait", arguments=arguments) as wait:
                cell.finished([{"type": "input_text", "text": "done"}])
                wait.completed({"type": "function_call_output", "call_id": "wait", "output": ""})

    bundle, _ = _record(tmp_path, body)
    state = reduce_like_codex(bundle)
    (kept_turn,) = state["codex_turns"]
    (cell_state,) = state["code_cells"].values()
    assert cell_state["runtime_status"] == "completed"
    lines = (bundle / "trace.jsonl").read_text().splitlines()
    (ended,) = [json.loads(line) for line in lines if '"code_cell_ended"' in line]
    assert ended["codex_turn_id"] == kept_turn
