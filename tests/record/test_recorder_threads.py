"""Handles used from other OS threads (``anyio.to_thread.run_sync`` workers and plain
``threading.Thread``s), on asyncio and trio: no exception reaches the caller, every record
arrives in order (seq strictly increasing), nothing is lost, and the bundle reduces."""

from __future__ import annotations

import threading
from pathlib import Path

import anyio
import pytest

from rollout_trace_sdk.record import RecorderWarning, Turn, open_rollout

from .recorder_support import (
    bundle_in,
    check_bundle,
    events,
    of_type,
)

#: loop mechanics: also on uvloop's event loop (tests/conftest.py)
pytestmark = [pytest.mark.anyio, pytest.mark.uvloop]

PER_THREAD = 200


def _record(turn: Turn, tag: str, errors: list[BaseException]) -> None:
    """What a worker thread records: tool calls with payloads, and point events."""
    try:
        for n in range(PER_THREAD):
            call_id = f"{tag}-{n}"
            tool = turn.tool_call(call_id, "lookup", arguments={"n": n})
            tool.runtime_started({"n": n})
            tool.completed({"type": "function_call_output", "call_id": call_id, "output": "x"})
    except BaseException as exc:  # pragma: no cover - the failure the test looks for
        errors.append(exc)


async def test_handles_from_worker_threads(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
        plain = [threading.Thread(target=_record, args=(turn, f"t{k}", errors)) for k in range(2)]
        for thread in plain:
            thread.start()
        async with anyio.create_task_group() as tg:
            for k in range(2):
                tg.start_soon(anyio.to_thread.run_sync, _record, turn, f"w{k}", errors)
            for n in range(PER_THREAD):  # the loop thread records at the same time
                turn.accept_item_id(f"loop-{n}")
                await anyio.sleep(0)
        for thread in plain:
            await anyio.to_thread.run_sync(thread.join)
    assert errors == []
    bundle = bundle_in(tmp_path)
    seqs = [e["seq"] for e in events(bundle)]
    bad = [(i, s) for i, s in enumerate(seqs) if s != i + 1][:5]
    assert seqs == list(range(1, len(seqs) + 1)), (
        bad,
        len(seqs),
        [(e["seq"], e["payload"]["type"], e["thread_id"]) for e in events(bundle)][
            bad[0][0] - 3 : bad[0][0] + 3
        ]
        if bad
        else None,
    )
    assert len(of_type(bundle, "tool_call_ended")) == 4 * PER_THREAD
    assert len(of_type(bundle, "history_item_accepted")) >= PER_THREAD
    stats = rollout.stats
    assert stats is not None and not stats.lost_anything
    state = check_bundle(bundle, tmp_path)
    assert len(state["tool_calls"]) == 4 * PER_THREAD


async def test_thread_calls_after_close_are_dropped_and_counted(tmp_path: Path) -> None:
    with pytest.warns(RecorderWarning, match="turns still open when the rollout closed"):
        async with open_rollout(tmp_path) as rollout:
            turn = rollout.root.turn()  # left for the close to end
    # the rollout is closed: a late thread call must neither raise nor write (work on the
    # turn the close ended is refused as after its end; the writer drops the rest)
    with pytest.warns(RecorderWarning, match="that had ended"):
        await anyio.to_thread.run_sync(turn.accept_item_id, "late")
    await anyio.to_thread.run_sync(rollout.root.protocol_event, "warning")
    stats = rollout.stats
    assert stats is not None and stats.events_dropped >= 1
    assert stats.approximated["after end"] == 1
    check_bundle(bundle_in(tmp_path), tmp_path)


async def test_thread_whose_metadata_was_omitted(tmp_path: Path) -> None:
    """Schema 3 with a bundle limit: the child's session metadata no longer fits and is
    recorded as omitted. Codex 0.171 then gives the thread the origin ``unknown`` (a thread
    started with no metadata payload at all is a root); both reducers must agree."""
    async with open_rollout(tmp_path, schema_version=3, max_bundle_bytes=4000) as rollout:
        rollout.root.protocol_event("warning", {"message": "x" * 3000})
        child = rollout.root.spawn("helper")
        async with child:
            pass
    bundle = bundle_in(tmp_path)
    started = [e["payload"] for e in of_type(bundle, "thread_started")]
    assert started[1]["metadata_payload"]["capture"]["status"] == "omitted"
    state = check_bundle(bundle, tmp_path)
    origins = {t["agent_path"]: t["origin"] for t in state["threads"].values()}
    assert origins == {"/root": {"type": "root"}, "/root/helper": {"type": "unknown"}}


async def test_threads_whose_metadata_was_cut(tmp_path: Path) -> None:
    """Schema 3 with a per-payload limit below the session metadata's size: every thread's
    metadata is truncated. Codex 0.171 keeps the rollout's own thread (its id is the rollout
    id) a root and gives any other the origin ``unknown``; both reducers must agree."""
    async with open_rollout(tmp_path, schema_version=3, max_payload_bytes=64) as rollout:
        child = rollout.root.spawn("helper")
        async with child:
            pass
    bundle = bundle_in(tmp_path)
    started = [e["payload"] for e in of_type(bundle, "thread_started")]
    assert [s["metadata_payload"]["capture"]["status"] for s in started] == ["truncated"] * 2
    state = check_bundle(bundle, tmp_path)
    origins = {t["agent_path"]: t["origin"] for t in state["threads"].values()}
    assert origins == {"/root": {"type": "root"}, "/root/helper": {"type": "unknown"}}
