"""Errors and cancellation: the agent's exception comes out unchanged, every open handle is
ended with the status Codex would give it, and the bundle still reduces."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import anyio
import pytest

from rollout_trace_sdk.record import RecorderWarning, Turn, open_rollout

from .recorder_support import (
    bundle_in,
    check_bundle,
    cut_off_status,
    loss_report,
    of_type,
    payload,
    recorded_whole,
    types,
)

pytestmark = pytest.mark.anyio

USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}


class Boom(Exception):
    pass


def _statuses(bundle: Path, kind: str) -> list[str]:
    return [e["payload"]["status"] for e in of_type(bundle, kind)]


async def test_error_in_turn_fails_turn_thread_and_rollout(tmp_path: Path) -> None:
    with pytest.raises(Boom, match="bad luck"):
        async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
            turn.inference([USER])  # left open: the rollout must end it
            raise Boom("bad luck")
    bundle = bundle_in(tmp_path)
    assert _statuses(bundle, "codex_turn_ended") == ["failed"]
    assert _statuses(bundle, "thread_ended") == ["failed"]
    assert _statuses(bundle, "rollout_ended") == ["failed"]
    failed = of_type(bundle, "inference_failed")
    assert len(failed) == 1
    # the turn ends what it left running before its own end
    assert types(bundle).index("inference_failed") < types(bundle).index("codex_turn_ended")
    observed = [e["payload"]["event_type"] for e in of_type(bundle, "protocol_event_observed")]
    assert observed == [
        "session_configured",
        "turn_started",
        "error",
        "turn_complete",
        "shutdown_complete",
    ]
    assert types(bundle)[-1] == "recording_completed"
    state = check_bundle(bundle, tmp_path)
    assert state["status"] == "failed"


async def test_error_in_inference_and_tool_is_recorded(tmp_path: Path) -> None:
    async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
        with pytest.raises(Boom):
            async with turn.inference([USER]):
                raise Boom("provider said no")
        with pytest.raises(Boom):
            async with turn.tool_call("c1", "read_file", arguments={"path": "x"}):
                raise Boom("disk on fire")
    bundle = bundle_in(tmp_path)
    failed = of_type(bundle, "inference_failed")[0]["payload"]
    assert failed["error"] == "Boom: provider said no"
    assert failed["partial_response_payload"] is None
    ended = of_type(bundle, "tool_call_ended")[0]["payload"]
    assert ended["status"] == "failed"
    assert payload(bundle, ended["result_payload"]) == {
        "type": "error",
        "error": "Boom: disk on fire",
    }
    assert _statuses(bundle, "codex_turn_ended") == ["completed"]
    state = check_bundle(bundle, tmp_path)
    assert [c["execution"]["status"] for c in state["inference_calls"].values()] == ["failed"]
    assert state["tool_calls"]["c1"]["execution"]["status"] == "failed"


async def test_cancellation_inside_handles(tmp_path: Path, schema: int) -> None:
    async with open_rollout(tmp_path) as rollout:
        with anyio.CancelScope() as scope:
            async with (
                rollout.root.turn() as turn,
                turn.tool_call("c1", "exec_command", arguments={"cmd": "sleep 9"}) as tool,
            ):
                tool.exec_started(["sleep", "9"], process_id=42)
                async with turn.inference([USER]):
                    scope.cancel()
                    await anyio.sleep(1)
        assert scope.cancelled_caught
    bundle = bundle_in(tmp_path)
    cancelled = of_type(bundle, "inference_cancelled")[0]["payload"]
    assert cancelled["reason"] == "cancelled: cancel scope cancelled"  # by this very task
    assert _statuses(bundle, "tool_call_ended") == [cut_off_status(bundle)]
    assert _statuses(bundle, "codex_turn_ended") == ["cancelled"]
    assert [e["payload"]["event_type"] for e in of_type(bundle, "protocol_event_observed")][-2] == (
        "turn_aborted"
    )
    # the process outlived its call; the rollout ends it like Codex ends a killed one
    assert _statuses(bundle, "tool_call_runtime_ended") == ["failed"]
    runtime = of_type(bundle, "tool_call_runtime_ended")[0]["payload"]["runtime_payload"]
    assert payload(bundle, runtime)["exit_code"] == -1
    assert _statuses(bundle, "rollout_ended") == ["completed"]
    check_bundle(bundle, tmp_path)


async def test_requests_left_without_an_ending_call(tmp_path: Path) -> None:
    """An error ends a request failed with its text; a normal exit or a cancellation ends it
    unanswered: an inference call cancelled, a compaction request failed (the schema has no
    cancelled end for it), each with the same reason."""
    async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
        async with turn.inference([USER]), turn.compaction().request({"input": [USER]}):
            pass
        with anyio.CancelScope() as scope:
            async with turn.inference([USER]), turn.compaction().request({"input": [USER]}):
                scope.cancel()
                await anyio.sleep(1)
        assert scope.cancelled_caught
        with pytest.raises(RuntimeError):
            async with turn.inference([USER]), turn.compaction().request({"input": [USER]}):
                raise RuntimeError("boom")
    bundle = bundle_in(tmp_path)
    unanswered = ["closed without a recorded response", "cancelled: cancel scope cancelled"]
    assert [e["payload"]["reason"] for e in of_type(bundle, "inference_cancelled")] == unanswered
    assert [e["payload"]["error"] for e in of_type(bundle, "inference_failed")] == [
        "RuntimeError: boom"
    ]
    assert [e["payload"]["error"] for e in of_type(bundle, "compaction_request_failed")] == [
        *unanswered,
        "RuntimeError: boom",
    ]
    check_bundle(bundle, tmp_path)


async def test_outer_cancellation_aborts_and_still_completes_recording(tmp_path: Path) -> None:
    """A scope outside the rollout is cancelled while the agent waits (cancelled from
    inside: a deadline could pass before the work below was recorded on a busy machine)."""
    with anyio.CancelScope() as scope:
        async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
            child = rollout.root.spawn("worker")
            child.turn()
            turn.tool_call("c1", "exec", input="text(1)").code_cell("1", "text(1)")
            turn.compaction().request({"input": [USER]})
            scope.cancel()
            await anyio.sleep_forever()
    assert scope.cancelled_caught
    bundle = bundle_in(tmp_path)
    assert _statuses(bundle, "rollout_ended") == ["aborted"]
    assert _statuses(bundle, "thread_ended") == ["aborted", "aborted"]
    assert _statuses(bundle, "codex_turn_ended") == ["cancelled", "cancelled"]
    assert _statuses(bundle, "code_cell_ended") == ["terminated"]
    assert len(of_type(bundle, "compaction_request_failed")) == 1
    assert types(bundle)[-1] == "recording_completed"
    state = check_bundle(bundle, tmp_path)
    assert state["status"] == "aborted"
    assert recorded_whole(state)


class _CancelAt:
    """Cancels the enclosing scope at the k-th checkpoint the script passes."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.seen = 0
        self.scope = anyio.CancelScope()

    async def __call__(self) -> None:
        self.seen += 1
        if self.seen == self.k:
            self.scope.cancel()
        await anyio.lowlevel.checkpoint()


async def _agent_script(turn: Turn, checkpoint: Any, tag: str = "") -> None:
    """A loop with a checkpoint between every recording call."""
    await checkpoint()
    turn.accept(USER)
    async with turn.inference([USER]) as call:
        await checkpoint()
        out = call.completed(
            response_id="r1",
            output_items=[
                {
                    "type": "function_call",
                    "name": "exec_command",
                    "arguments": "{}",
                    "call_id": f"{tag}c1",
                }
            ],
        )
    await checkpoint()
    async with turn.tool_call(f"{tag}c1", "exec_command", arguments="{}") as tool:
        await checkpoint()
        session = tool.exec_started(["cat"], process_id=5)
        await checkpoint()
        tool.completed({"type": "function_call_output", "call_id": f"{tag}c1", "output": "started"})
    await checkpoint()
    async with turn.tool_call(
        f"{tag}c2", "write_stdin", arguments={"session_id": 5, "chars": "x"}
    ) as tool:
        tool.stdin_target(session)
        await checkpoint()
        tool.completed({"type": "function_call_output", "call_id": f"{tag}c2", "output": "x"})
    session.exited(0, "x")
    await checkpoint()
    async with turn.tool_call(f"{tag}c3", "spawn_agent", arguments={"message": "m"}) as tool:
        child = tool.spawn_agent(f"w{tag}")
        await checkpoint()
        tool.completed({"type": "function_call_output", "call_id": f"{tag}c3", "output": "{}"})
    async with child, child.turn() as child_turn:
        await checkpoint()
        child_turn.report_result("done")
    await checkpoint()
    async with turn.inference([USER, *out]) as call:
        await checkpoint()
        call.completed(response_id="r2", output_items=[])


async def test_cancellation_at_every_checkpoint_leaves_a_reducible_bundle(tmp_path: Path) -> None:
    total = _CancelAt(0)
    async with open_rollout(tmp_path / "full") as rollout, rollout.root.turn() as turn:
        await _agent_script(turn, total)
    check_bundle(bundle_in(tmp_path / "full"), tmp_path)
    assert total.seen > 8
    for k in range(1, total.seen + 1):
        cancel = _CancelAt(k)
        out = tmp_path / f"k{k}"
        with cancel.scope:
            async with open_rollout(out) as rollout, rollout.root.turn() as turn:
                await _agent_script(turn, cancel)
        assert cancel.scope.cancelled_caught
        bundle = bundle_in(out)
        assert types(bundle)[-1] == "recording_completed"
        assert _statuses(bundle, "rollout_ended") == ["aborted"]
        check_bundle(bundle, tmp_path)


async def test_two_hundred_concurrent_tasks(tmp_path: Path) -> None:
    async def worker(turn: Turn, n: int) -> None:
        call_id = f"call_{n}"
        async with turn.inference([USER]) as call:
            await anyio.sleep(0)
            call.completed(
                response_id=f"r{n}",
                output_items=[
                    {
                        "type": "function_call",
                        "name": "lookup",
                        "arguments": str(n),
                        "call_id": call_id,
                    }
                ],
            )
        async with turn.tool_call(call_id, "lookup", arguments=str(n)) as tool:
            await anyio.sleep(0)
            tool.completed({"type": "function_call_output", "call_id": call_id, "output": str(n)})

    async with (
        open_rollout(tmp_path) as rollout,
        rollout.root.turn() as turn,
        anyio.create_task_group() as tg,
    ):
        for n in range(200):
            tg.start_soon(worker, turn, n)
    bundle = bundle_in(tmp_path)
    assert len(of_type(bundle, "inference_completed")) == 200
    assert len(of_type(bundle, "tool_call_ended")) == 200
    state = check_bundle(bundle, tmp_path)
    assert len(state["tool_calls"]) == 200
    assert all(t["execution"]["status"] == "completed" for t in state["tool_calls"].values())


@pytest.mark.parametrize("budget", [1_500, 6_000, 20_000])
# which records are dropped is the writer's timing: a spawn_agent call whose invocation was
# dropped leaves its activity out, and a write_stdin naming a session whose start payload
# was dropped (schema 2) leaves its target out; each says so, in some runs and not others
@pytest.mark.filterwarnings("ignore:.*lost its invocation:rollout_trace_sdk.record.RecorderWarning")
@pytest.mark.filterwarnings(
    "ignore:.*names a terminal session this bundle does not hold:"
    "rollout_trace_sdk.record.RecorderWarning"
)
async def test_dropped_records_never_break_the_bundle(tmp_path: Path, budget: int) -> None:
    """A writer too small for the work drops records; whatever survives must still reduce
    (a handle whose start was dropped records nothing more) and the loss is reported."""
    async with open_rollout(tmp_path, max_queued_bytes=budget, overflow="drop") as rollout:
        # a burst twice the budget, with no checkpoint: drops on any machine, however fast
        filler = rollout.root.turn()
        for k in range(2 * budget // 256):
            filler.accept_item_id(f"fill{k}")
        filler.end()
        for round_no in range(6):
            if round_no % 2:
                await anyio.sleep(0.01)  # let the writer catch up now and then
            async with rollout.root.turn() as turn:
                await _agent_script(turn, _CancelAt(0), f"r{round_no}")
            child = rollout.root.spawn(f"helper{round_no}")
            async with child, child.turn() as turn:
                turn.report_result("ok")
    bundle = bundle_in(tmp_path)
    stats = rollout.stats
    assert stats is not None
    assert stats.events_dropped + stats.payloads_dropped > 0
    warnings = [
        payload(bundle, e["payload"]["event_payload"])
        for e in of_type(bundle, "protocol_event_observed")
        if e["payload"]["event_type"] == "warning"
    ]
    assert warnings, "the loss must be reported in the bundle"
    assert types(bundle)[-1] == "recording_completed"
    check_bundle(bundle, tmp_path)


async def test_ending_a_thread_ends_its_open_turns_first(tmp_path: Path) -> None:
    async with open_rollout(tmp_path) as rollout:
        child = rollout.root.spawn("worker")
        child.turn().inference([USER])
        child.end()
        child.end()  # idempotent
    bundle = bundle_in(tmp_path)
    sequence = types(bundle)
    child_end = sequence.index("thread_ended")
    assert sequence.index("inference_cancelled") < sequence.index("codex_turn_ended") < child_end
    assert of_type(bundle, "thread_ended")[0]["payload"]["thread_id"] == child.thread_id
    assert _statuses(bundle, "codex_turn_ended") == ["cancelled"]
    assert _statuses(bundle, "thread_ended") == ["completed", "completed"]
    check_bundle(bundle, tmp_path)


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_turn_never_ended_is_counted_and_warned_about(tmp_path: Path, schema: int) -> None:
    """A turn made without ``async with`` and never ended (the author forgot ``turn.end()``)
    was ended cancelled by the close without a word: the bundle showed it interrupted and
    nothing said why (found by review api33). The close now warns once and counts it."""
    with pytest.warns(RecorderWarning, match=r"turns still open when the rollout closed \(") as got:
        async with open_rollout(tmp_path, schema_version=schema) as rollout:
            for _ in range(2):
                turn = rollout.root.turn()  # forgot ``async with`` (and ``turn.end()``)
                async with turn.inference([USER]) as call:
                    call.completed(output_items=[])
    assert len([w for w in got if "still open" in str(w.message)]) == 1  # once a rollout
    bundle = bundle_in(tmp_path)
    assert _statuses(bundle, "codex_turn_ended") == ["cancelled", "cancelled"]
    assert "2 turns still open when the rollout closed" in loss_report(bundle)
    assert rollout.stats is not None and rollout.stats.approximated == {"left open": 2}
    check_bundle(bundle, tmp_path)


async def test_turns_ended_otherwise_are_not_called_left_open(tmp_path: Path) -> None:
    """Only a normal close finds a forgotten turn: ``turn.end()``, a thread's ``end()`` (which
    ends its turns, as documented) and a rollout left by an exception or a cancellation
    (which end what was running) warn about nothing."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with open_rollout(tmp_path / "a") as rollout:
            rollout.root.turn().end()
            child = rollout.root.spawn("worker")
            child.turn()
            child.end()
        with pytest.raises(Boom):
            async with open_rollout(tmp_path / "b") as rollout:
                rollout.root.turn()
                raise Boom
        with anyio.CancelScope() as scope:
            async with open_rollout(tmp_path / "c") as rollout:
                rollout.root.turn()
                scope.cancel()
                await anyio.sleep(1)
    assert [str(w.message) for w in caught if issubclass(w.category, RecorderWarning)] == []
    for name in "abc":
        assert "still open" not in loss_report(bundle_in(tmp_path / name))
