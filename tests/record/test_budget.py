"""The process budget (``record/_budget.py``): many rollouts of one process together hold at
most what ``set_process_budget`` allows (twice that for calls that cannot wait, under
``overflow="wait"``), what is dropped for it is counted in each bundle with the budget named,
and rollouts whose agents await their ``async with`` lose nothing. Without a process budget a
rollout has only its own, as before."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest

from rollout_trace_sdk.record import Rollout, _files, open_rollout, set_process_budget
from rollout_trace_sdk.record._budget import DEFAULT_PROCESS_BUDGET, PROCESS, ProcessBudget

from .recorder_support import loss_report, of_type

pytestmark = pytest.mark.anyio

_KB = 1024
_OUTPUT = "x" * (20 * _KB)


@pytest.fixture
def budget() -> Iterator[None]:
    """Each test sets its own process budget; the default comes back after it."""
    yield
    set_process_budget(DEFAULT_PROCESS_BUDGET)


def _held(rollouts: list[Rollout]) -> int:
    return sum(r._writer.held_bytes for r in rollouts)


async def _burst(
    root: Path, n: int, calls: int, overflow: Literal["wait", "drop"]
) -> tuple[list[Path], int]:
    """``n`` rollouts opened at once, each recording ``calls`` tool calls with a 20 KB
    output, round-robin and without awaiting anything between them (as an agent whose calls
    never wait would): the bundles and the most the rollouts held together."""
    most = 0
    async with contextlib.AsyncExitStack() as stack:
        rollouts: list[Rollout] = []
        turns = []
        for k in range(n):
            rollout = await stack.enter_async_context(
                open_rollout(root / f"r{k}", overflow=overflow)
            )
            rollouts.append(rollout)
            turns.append(await stack.enter_async_context(rollout.root.turn()))
        for i in range(calls):
            for k, turn in enumerate(turns):
                call = turn.tool_call(f"c{k}_{i}", "exec_command", arguments={"cmd": "ls"})
                call.completed(
                    {"type": "function_call_output", "call_id": f"c{k}_{i}", "output": _OUTPUT}
                )
                most = max(most, _held(rollouts))
        bundles = [r.bundle_dir for r in rollouts if r.bundle_dir is not None]
    return bundles, most


@pytest.mark.parametrize("overflow", ["drop", "wait"])
async def test_rollouts_together_hold_no_more_than_the_process_budget(
    tmp_path: Path, budget: None, overflow: Literal["wait", "drop"]
) -> None:
    limit = 1 << 20
    set_process_budget(limit)
    bundles, most = await _burst(tmp_path, 8, 40, overflow)
    # calls that cannot wait may overdraw twice as far under "wait"; one record per rollout
    # may pass its cap (an empty queue takes anything)
    allowed = limit * (2 if overflow == "wait" else 1) + 8 * (len(_OUTPUT) + 1024)
    assert most <= allowed
    assert PROCESS.reserved == 0  # every closed rollout handed its reservation back
    reports = [loss_report(b) for b in bundles]
    assert any("set_process_budget" in r for r in reports)
    # the report counts what is missing: every call started and ended, outputs dropped
    for bundle in bundles:
        assert len(of_type(bundle, "tool_call_started")) == 40
        assert len(of_type(bundle, "tool_call_ended")) == 40


async def test_a_rollout_past_its_own_budget_names_its_own_in_the_report(
    tmp_path: Path, budget: None
) -> None:
    """Under a process budget with room to spare, a rollout that passes its own
    ``max_queued_bytes`` drops for that budget, and its report names it, not the process's
    (naming the process budget for any refusal passed, mut30)."""
    set_process_budget(256 << 20)
    async with (
        open_rollout(tmp_path, max_queued_bytes=64 * _KB) as rollout,
        rollout.root.turn() as turn,
    ):
        for i in range(40):  # nothing awaited: the writer cannot keep up
            call = turn.tool_call(f"c{i}", "exec_command", arguments={"cmd": "ls"})
            call.completed({"type": "function_call_output", "call_id": f"c{i}", "output": _OUTPUT})
    assert rollout.bundle_dir is not None
    report = loss_report(rollout.bundle_dir)
    assert f"the writer's {64 * _KB}-byte memory budget was full" in report, report
    assert "set_process_budget" not in report


async def test_without_a_process_budget_each_rollout_has_its_own(
    tmp_path: Path, budget: None
) -> None:
    set_process_budget(None)
    bundles, most = await _burst(tmp_path, 8, 40, "drop")
    assert most > 2 << 20  # 8 × 40 × 20 KB were held at once: nothing stopped them
    assert all(loss_report(b) == "" for b in bundles)


async def test_agents_that_await_lose_nothing_under_a_small_process_budget(
    tmp_path: Path, budget: None
) -> None:
    """``async with`` waits for the rollout's own writer while the process is crowded: with
    the agents awaiting, every record is written, as long as what their blocks record
    between two awaits fits in the budget together (not "however small the budget": an
    ``async with`` never waits for other rollouts' writers, and 6 agents of 200 KB outputs
    under 256 KiB lose some, counted; see docs/guarantees.md)."""
    limit = 256 * _KB
    set_process_budget(limit)
    most = 0
    rollouts: list[Rollout] = []

    async def agent(k: int) -> None:
        nonlocal most
        async with open_rollout(tmp_path / f"r{k}") as rollout, rollout.root.turn() as turn:
            rollouts.append(rollout)
            for i in range(30):
                async with turn.tool_call(f"c{i}", "exec_command", arguments={}) as call:
                    call.completed(
                        {"type": "function_call_output", "call_id": f"c{i}", "output": _OUTPUT}
                    )
                most = max(most, _held(rollouts))
                await anyio.sleep(0)

    async with anyio.create_task_group() as tg:
        for k in range(6):
            tg.start_soon(agent, k)
    for rollout in rollouts:
        assert rollout.bundle_dir is not None
        assert loss_report(rollout.bundle_dir) == ""
        assert len(of_type(rollout.bundle_dir, "tool_call_ended")) == 30
    assert most <= 2 * limit + 6 * (len(_OUTPUT) + 1024)
    assert PROCESS.reserved == 0


async def test_chunks_a_stalled_disk_holds_stay_within_the_process_budget(
    tmp_path: Path, budget: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk the writer has taken off its queue is in memory until it is written: on a
    stalled disk it stays there, and the queue must not refill its room meanwhile. (Its
    reservation went back when the chunk was taken: 8 rollouts recording one after another
    on a stalled disk held ~6 MB under a 1 MiB budget, each one's whole burst in a chunk
    outside the budget.)"""
    limit = 1 << 20
    set_process_budget(limit)
    release = threading.Event()
    stalled: list[int] = []  # the payload bytes of each chunk waiting for the disk
    write = _files.write_chunk

    def stalled_write(chunk: _files.Chunk, *args: Any) -> None:
        stalled.append(sum(len(data) for _, data in chunk.payloads))
        release.wait(20)
        write(chunk, *args)

    monkeypatch.setattr(_files, "write_chunk", stalled_write)
    rollouts: list[Rollout] = []
    done = anyio.Event()

    async def agent(k: int) -> None:
        async with (
            open_rollout(tmp_path / f"r{k}", overflow="drop", schema_version=2) as rollout,
            rollout.root.turn() as turn,
        ):
            rollouts.append(rollout)
            for i in range(60):  # 1.2 MB at once: what the budget lets in, the writer takes
                call = turn.tool_call(f"c{i}", "exec_command", arguments={})
                call.completed(
                    {"type": "function_call_output", "call_id": f"c{i}", "output": _OUTPUT}
                )
            await done.wait()

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            for k in range(8):
                tg.start_soon(agent, k)
                while len(stalled) <= k:  # its writer took its chunk: the next one starts
                    await anyio.sleep(0.005)
            held = _held(rollouts) + sum(stalled)
            release.set()
            done.set()
    assert held <= limit + 8 * (len(_OUTPUT) + 1024)
    assert PROCESS.reserved == 0


@pytest.mark.parametrize("value", [0, -1, 1.5, "1GB", True])
def test_a_budget_that_is_no_positive_number_is_refused(value: Any, budget: None) -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        set_process_budget(value)
    assert PROCESS.limit == DEFAULT_PROCESS_BUDGET


class _Queue:
    """What the budget sees of a rollout's queue (``_budget.Reserving``)."""

    def __init__(self, own_cap: int) -> None:
        self._cap = 0
        self._own_cap = own_cap
        self._taken = 0


def test_rollouts_holding_the_whole_budget_are_not_crowded_until_past_it() -> None:
    """``async with`` waits while the rollouts reserve *more* than the budget: reserved up
    to it exactly, nothing waits (counting the limit itself as crowded passed every budget
    test, mut33). Past it (calls that cannot wait may overdraw up to twice), they are."""
    budget = ProcessBudget(1000)
    queue = _Queue(own_cap=1 << 20)
    assert budget.grant(queue, 1000, 1)
    assert budget.reserved == 1000 and queue._cap == 1000
    assert not budget.crowded
    assert not budget.grant(queue, 1001, 1)  # past the limit: only with the factor
    assert budget.grant(queue, 1001, 2)
    assert budget.reserved > 1000 and budget.crowded


async def test_a_full_process_budget_is_logged_once_a_minute_not_once_a_bundle(
    tmp_path: Path, budget: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each bundle that drops for the process's budget says so in its loss report; the log
    says it once a minute, naming how many bundles it also stands for (user50: a budget too
    small for 400 rollouts logged 397 lines)."""
    from rollout_trace_sdk.record import _queue_rules

    said = _queue_rules._ProcessFullLog()
    monkeypatch.setattr(_queue_rules, "_PROCESS_FULL_LOG", said)
    set_process_budget(256 * _KB)

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if "whole memory budget" in r.getMessage()]

    with caplog.at_level("WARNING", logger="rollout_trace_sdk"):
        first, _ = await _burst(tmp_path / "a", 8, 20, "drop")
        dropped = [b for b in first if "set_process_budget" in loss_report(b)]
        assert len(dropped) > 1  # several bundles dropped for the process's budget...
        assert len(lines()) == 1  # ...and one line said so
        assert "other bundle" not in lines()[0]
        assert said._last is not None
        said._last -= _queue_rules.PROCESS_FULL_LOG_EVERY  # a minute later
        await _burst(tmp_path / "b", 8, 20, "drop")
    assert len(lines()) == 2
    assert f"and {len(dropped) - 1} other bundle" in lines()[1], lines()[1]
