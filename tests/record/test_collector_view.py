"""What a rollout keeps for as long as it records (every id, every stored item's reference)
stays out of the garbage collector's walk: a full collection costs the same after 3,600 tool
calls as after 550. Kept in sets, or in dicts that each new tuple tracked again, it was
walked entry by entry by every full collection, ~7 times per 50,000 calls: at 200,000 calls
the collector took ~14 µs a call (``record/_renaming.Names``, ``_known_refs``, ``items``)."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.record import open_rollout

pytestmark = pytest.mark.anyio


def _walked() -> int:
    """What a full collection walks now: the references held by tracked objects."""
    return sum(len(gc.get_referents(o)) for o in gc.get_objects())


async def _calls(turn: Any, start: int, stop: int) -> None:
    for i in range(start, stop):
        async with turn.tool_call(
            f"call_{i}", "exec_command", arguments={"cmd": f"ls {i}"}
        ) as tool:
            tool.completed(
                {"type": "function_call_output", "call_id": f"call_{i}", "output": f"{i}"}
            )


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_full_collection_walks_no_more_as_the_rollout_grows(
    tmp_path: Path, schema: int
) -> None:
    async with (
        open_rollout(tmp_path, schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        await _calls(turn, 0, 500)
        await rollout.flush()
        gc.collect()
        await _calls(turn, 500, 550)  # new ids and references since the collection
        await rollout.flush()
        before = _walked()
        await _calls(turn, 550, 3550)
        await rollout.flush()
        gc.collect()
        await _calls(turn, 3550, 3600)
        await rollout.flush()
        after = _walked()
    # 3,000 more calls: each id or reference walked would add 3,000 to 6,000
    assert after - before < 2000, (before, after)


async def test_a_tool_calls_queued_records_leave_the_collectors_walk_at_its_first_look(
    tmp_path: Path,
) -> None:
    """The records a tool call queues (schema 3: its payloads and its events, kept flat) hold
    nothing the collector tracks, and the first young collection untracks every one of them.
    An event that nested its values (and those its reference) in tuples of their own lost one
    level a collection: most reached the older generations while queued (per 10,000 calls a
    full collection of ~30 ms and middle ones of ~1 ms, 3-5 µs a call; found by hot26)."""
    async with open_rollout(tmp_path, schema_version=3) as rollout:
        turn = rollout.root.turn()
        gc.collect()
        enabled = gc.isenabled()
        gc.disable()  # every record below is in the young generation when it is looked at
        try:
            for i in range(20):  # no await: the writer takes nothing off the queue meanwhile
                tool = turn.tool_call(f"call_{i}", "exec_command", arguments={"cmd": f"ls {i}"})
                tool.completed(
                    {"type": "function_call_output", "call_id": f"call_{i}", "output": "x"}
                )
            queued = list(rollout._writer._queue)
            gc.collect(0)
        finally:
            if enabled:
                gc.enable()
        turn.end()
        tracked = [item for item in queued if gc.is_tracked(item)]
        assert len(queued) >= 20 * 6, len(queued)
        assert not tracked, tracked[:3]
