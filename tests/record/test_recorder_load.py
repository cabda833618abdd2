"""Load, at a size CI affords: many tasks and sub-agent threads recording at once.

With the default policy nothing is lost even when the byte budget is far too small for the
burst (sync calls overdraw up to the hard cap, ``async with`` points wait for the writer);
with ``overflow="drop"`` the loss the bundle reports is exactly what is missing."""

from __future__ import annotations

import re
from pathlib import Path

import anyio
import pytest

from rollout_trace_sdk.record import AgentThread, Turn, open_rollout

from .recorder_support import (
    bundle_in,
    check_bundle,
    events,
    of_type,
    payload,
    schema_of,
)

pytestmark = pytest.mark.anyio

TASKS = 100
EVENTS = 200
THREADS = 20
BUDGET = 256 << 10  # far below the burst (~27k lines of ~256 budget bytes each)


async def _worker(thread: AgentThread, n: int) -> None:
    async with thread.turn() as turn:
        for k in range(EVENTS):
            if k % 10 == 0:
                async with turn.tool_call(f"c{n}-{k}", "lookup", arguments={"k": k}) as tool:
                    tool.runtime_started({"k": k})
                    await anyio.lowlevel.checkpoint()
            turn.accept_item_id(f"i{n}-{k}")
            await anyio.lowlevel.checkpoint()


async def test_default_policy_loses_nothing_under_load(tmp_path: Path) -> None:
    async with open_rollout(tmp_path, max_queued_bytes=BUDGET) as rollout:
        threads = [rollout.root] + [rollout.root.spawn(f"sub{k}") for k in range(THREADS - 1)]
        async with anyio.create_task_group() as tg:
            for n in range(TASKS):
                tg.start_soon(_worker, threads[n % THREADS], n)
        for thread in threads[1:]:
            thread.end()
    stats = rollout.stats
    assert stats is not None
    assert (stats.events_dropped, stats.payloads_dropped) == (0, 0)
    bundle = bundle_in(tmp_path)
    seqs = [e["seq"] for e in events(bundle)]
    assert seqs == list(range(1, len(seqs) + 1))
    accepted = [e for e in of_type(bundle, "history_item_accepted")]
    assert len(accepted) == TASKS * EVENTS
    assert len(of_type(bundle, "tool_call_ended")) == TASKS * EVENTS // 10
    assert len(of_type(bundle, "codex_turn_ended")) == TASKS
    assert of_type(bundle, "recording_completed")
    check_bundle(bundle, tmp_path, compare=False)


async def _spam(turn: Turn, n: int) -> None:
    for k in range(EVENTS):
        turn.accept_item_id(f"i{n}-{k}")
        await anyio.lowlevel.checkpoint()


async def test_drop_policy_reports_exactly_what_is_missing(tmp_path: Path) -> None:
    async with open_rollout(tmp_path, max_queued_bytes=16 << 10, overflow="drop") as rollout:
        turns = [rollout.root.turn() for _ in range(4)]  # opened while there is room
        async with anyio.create_task_group() as tg:
            for n in range(TASKS):
                tg.start_soon(_spam, turns[n % 4], n)
    bundle = bundle_in(tmp_path)
    written = len(
        [e for e in of_type(bundle, "history_item_accepted") if e["payload"]["item_id"][0] == "i"]
    )
    missing = TASKS * EVENTS - written
    assert missing > 0, "the budget was meant to overflow"
    report = [
        payload(bundle, e["payload"]["event_payload"])["message"]
        for e in of_type(bundle, "protocol_event_observed")
        if e["payload"]["event_type"] == "warning"
    ]
    assert len(report) == 1
    match = re.search(r"dropped (\d+) events and (\d+) payloads", report[0])
    assert match is not None
    dropped_events, dropped_payloads = int(match.group(1)), int(match.group(2))
    if schema_of(bundle) == 2:
        assert dropped_events == missing
    else:  # a dropped payload is an omitted ref there, and its event may be dropped too
        assert missing <= dropped_events <= missing + dropped_payloads
    assert [e["payload"]["status"] for e in of_type(bundle, "codex_turn_ended")] == [
        "cancelled"
    ] * 4  # closing events are never dropped for want of room
    check_bundle(bundle, tmp_path, compare=False)
