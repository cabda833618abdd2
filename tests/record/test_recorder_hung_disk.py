"""A disk that stops answering (a write that never returns: a hung network file system) holds
the agent no longer than the rollout's ``write_timeout`` at a time: the close returns and
leaves the bundle unclosed, ``overflow="wait"`` stops waiting, the rollout's exit does not
wait for the worker thread. Before, each of them waited for ever (found by review21:
``close_timeout`` bounded the draining of the queue, not the write in flight).

The write is made to hang by the log's append (``_files.append_lines``) waiting on an event
that only the test's teardown sets; the worker thread then finishes into the descriptor the
writer left open for it."""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from rollout_trace_sdk.record import RecorderWarning, _files, open_rollout
from rollout_trace_sdk.record._worker_threads import WRITER_THREADS, WriteHung, writer_threads
from rollout_trace_sdk.reduce import reduce_bundle

from .recorder_support import bundle_in, types

#: loop mechanics: also on uvloop's event loop (tests/conftest.py)
pytestmark = pytest.mark.uvloop

_CLOSE_TIMEOUT = 0.2
#: a write counts as hung after this long here
_WRITE_TIMEOUT = 1.0
#: far more than a stalled rollout may take, far less than a test that hangs
_BOUND_S = 8.0


class _HangingDisk:
    """The log's appends made to hang (the ones into a bundle under ``under``, or all) once
    ``hang`` is set, until ``release`` is; ``hanging`` counts those that hang."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, under: Path | None = None) -> None:
        self.hang = False
        self.hanging: list[int] = []
        self.release = threading.Event()
        append = _files.append_lines

        def hanging_append(fd: int, data: Any) -> int:
            if self.hang and (
                under is None or os.readlink(f"/proc/self/fd/{fd}").startswith(str(under))
            ):
                self.hanging.append(fd)
                self.release.wait()
            return append(fd, data)

        monkeypatch.setattr(_files, "append_lines", hanging_append)


@pytest.fixture
def hanging_disk(monkeypatch: pytest.MonkeyPatch) -> Iterator[_HangingDisk]:
    """Set ``hang`` and every later append to the log hangs until the test ends."""
    disk = _HangingDisk(monkeypatch)
    try:
        yield disk
    finally:
        disk.release.set()


async def _tool_calls(turn: Any, first: int, count: int, output: str) -> None:
    for n in range(first, first + count):
        async with turn.tool_call(f"c{n}", "exec_command", arguments={"cmd": "ls"}) as tool:
            tool.completed({"type": "function_call_output", "call_id": f"c{n}", "output": output})


@pytest.mark.anyio
@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("overflow", ["wait", "drop"])
async def test_the_agent_goes_on_when_a_write_never_returns(
    tmp_path: Path, hanging_disk: _HangingDisk, schema: int, overflow: str
) -> None:
    """Once the disk hangs, the agent records 150 tool calls of 20 KB into a 1 MiB queue
    (with ``"wait"`` it would wait for room) and closes: all of it within the bound, with
    one warning naming the hung write, nothing raised, and a bundle left unclosed that
    lenient reduction reads whole up to the hang."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with anyio.fail_after(_BOUND_S):
            async with open_rollout(
                tmp_path,
                schema_version=schema,
                close_timeout=_CLOSE_TIMEOUT,
                write_timeout=_WRITE_TIMEOUT,
                max_queued_bytes=1 << 20,
                overflow=overflow,  # type: ignore[arg-type]
            ) as rollout:
                turn = rollout.root.turn()
                await _tool_calls(turn, 0, 3, "ok")
                await rollout.flush()
                hanging_disk.hang = True
                await _tool_calls(turn, 3, 150, "x" * 20_000)
                turn.end()
    hung = [w for w in caught if "has not returned" in str(w.message)]
    assert len(hung) == 1 and issubclass(hung[0].category, RecorderWarning)
    stats = rollout.stats
    assert stats is not None and stats.failed is not None and stats.lost_anything
    bundle = bundle_in(tmp_path)
    assert "recording_completed" not in types(bundle)
    skipped: list[str] = []
    trace = reduce_bundle(bundle, lenient=True, skipped=skipped)
    assert len(trace.tool_calls) >= 3  # the calls written before the disk hung


@pytest.mark.anyio
@pytest.mark.parametrize("schema", [2, 3])
async def test_a_close_whose_own_write_hangs_returns(
    tmp_path: Path, hanging_disk: _HangingDisk, schema: int
) -> None:
    """The disk hangs as the close writes its last lines (nothing queued before): the close
    returns within the bound, warned, the bundle unclosed."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with anyio.fail_after(_BOUND_S):
            async with open_rollout(
                tmp_path,
                schema_version=schema,
                close_timeout=_CLOSE_TIMEOUT,
                write_timeout=_WRITE_TIMEOUT,
            ) as rollout:
                turn = rollout.root.turn()
                await _tool_calls(turn, 0, 2, "ok")
                turn.end()
                await rollout.flush()
                hanging_disk.hang = True
    assert any("has not returned" in str(w.message) for w in caught)
    assert "recording_completed" not in types(bundle_in(tmp_path))


@pytest.mark.anyio
async def test_a_slow_disk_is_no_hung_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Appends that each take 0.3 s (under the 1 s a write may take here) are waited for: the
    bundle closes whole, nothing lost, no warning."""
    append = _files.append_lines

    def slow_append(fd: int, data: Any) -> int:
        threading.Event().wait(0.3)
        return append(fd, data)

    monkeypatch.setattr(_files, "append_lines", slow_append)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with open_rollout(
            tmp_path,
            close_timeout=_CLOSE_TIMEOUT,
            write_timeout=_WRITE_TIMEOUT,
            max_queued_bytes=256 << 10,
        ) as rollout:
            turn = rollout.root.turn()
            await _tool_calls(turn, 0, 20, "x" * 20_000)
            turn.end()
    assert not [w for w in caught if issubclass(w.category, RecorderWarning)]
    stats = rollout.stats
    assert stats is not None and not stats.lost_anything
    assert types(bundle_in(tmp_path))[-1] == "recording_completed"


async def _two_calls_then_two_more(
    root: Path, go: anyio.Event, ready: list[None] | None = None
) -> Any:
    """A rollout under ``root`` that records two tool calls and flushes them (then says so in
    ``ready``), waits for ``go`` (the disk hangs by then) and records two more; returned once
    closed."""
    async with open_rollout(
        root, write_timeout=_WRITE_TIMEOUT, close_timeout=_CLOSE_TIMEOUT
    ) as rollout:
        turn = rollout.root.turn()
        await _tool_calls(turn, 0, 2, "ok")
        await rollout.flush()
        if ready is not None:
            ready.append(None)
        await go.wait()
        await _tool_calls(turn, 2, 2, "ok")
        turn.end()
    return rollout


async def _beside_hung_rollouts(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    hold_loop_s: float,
    others: int = 1,
    others_timeout: float = _WRITE_TIMEOUT,
) -> list[Any]:
    """As many rollouts as the writers have threads hang on one disk (each holding a writer
    thread's token until its write is abandoned), then ``others`` rollouts on another disk
    record, flush and close; their writes wait for a token. With ``hold_loop_s``, the loop
    is held (a blocking call of the agent) that long once they all wait. Returns them."""
    hung_root, other_root = tmp_path / "hung", tmp_path / "other"
    disk = _HangingDisk(monkeypatch, under=hung_root)

    ready: list[None] = []

    async def hung_rollout(go: anyio.Event) -> None:
        await _two_calls_then_two_more(hung_root, go, ready)

    # open (and written to) before the disk hangs: on a busy machine, forty rollouts still
    # opening delayed the first writes past their timeout, and the test waited for ever
    async def other_rollout(n: int, go: anyio.Event, done: list[Any]) -> None:
        async with open_rollout(
            other_root / str(n), write_timeout=others_timeout, close_timeout=_BOUND_S
        ) as rollout:
            turn = rollout.root.turn()
            await rollout.flush()
            ready.append(None)
            await go.wait()
            await _tool_calls(turn, 0, 5, "ok")
            await rollout.flush()
            turn.end()
        done.append(rollout)

    done: list[Any] = []
    try:
        with warnings.catch_warnings(record=True), anyio.fail_after(_BOUND_S * 2):
            warnings.simplefilter("always")
            async with anyio.create_task_group() as tg:
                go, go_on = anyio.Event(), anyio.Event()
                for _ in range(WRITER_THREADS):
                    tg.start_soon(hung_rollout, go)
                for n in range(others):
                    tg.start_soon(other_rollout, n, go_on, done)
                while len(ready) < WRITER_THREADS + others:
                    await anyio.sleep(0.01)
                disk.hang = True
                go.set()
                # every writer thread hangs (on a busy machine, load 10-15, some writes were
                # let go as hung before their threads reached the disk: then fewer hang)
                with anyio.move_on_after(_WRITE_TIMEOUT / 2):
                    while len(disk.hanging) < WRITER_THREADS:
                        await anyio.sleep(0.01)
                go_on.set()
                limiter = writer_threads().limiter
                # they wait for a token (on a busy machine, not all of them before the hung
                # writes are let go: then the loop is held for those that do)
                with anyio.move_on_after(_WRITE_TIMEOUT / 2):
                    while limiter.statistics().tasks_waiting < others:
                        await anyio.sleep(0.001)
                time.sleep(hold_loop_s)
    finally:
        disk.release.set()
    assert len(done) == others
    return done


@pytest.mark.anyio
@pytest.mark.parametrize("hold_loop_s", [0.0, _WRITE_TIMEOUT * 1.5])
async def test_writes_hung_on_one_disk_do_not_stop_a_rollout_on_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hold_loop_s: float
) -> None:
    """A rollout on a healthy disk records, flushes and closes whole while every writer
    thread's write hangs on another disk. Under trio it was stopped as hung itself, its log
    empty: trio's limiter keeps an abandoned thread's token until the thread returns, so the
    hung writes held every thread of the loop's writers (found by review22). And when the
    loop was held past the hung writes' deadlines and its own, it was stopped as hung once
    it woke: it had judged itself by when a write last returned, and writes abandoned as
    hung (which give their tokens back) were no write that returned (a clean-clone CI run at
    load ~4 lost it once; now the writes past their deadlines are let go first)."""
    (rollout,) = await _beside_hung_rollouts(tmp_path, monkeypatch, hold_loop_s)
    stats = rollout.stats
    assert stats is not None and stats.failed is None and not stats.lost_anything
    assert types(bundle_in(tmp_path / "other" / "0"))[-1] == "recording_completed"


@pytest.mark.anyio
async def test_more_rollouts_than_threads_behind_hung_writes_on_another_disk_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test above with half again as many rollouts on the healthy disk as the writers
    have threads, the loop held past every deadline: each closes whole. The tokens the hung
    writes gave back went to the first forty, and the others, which had let the hung writes
    go first, were judged at once by writes that had only just begun: a third of them were
    stopped as hung (found by review29: 20 of 60 on asyncio, trio and uvloop). Their own
    writes may take three timeouts of the hung ones: with one, sixty rollouts' writes after a
    loop held 1.5 s took longer at load 8, and some were stopped as hung for it."""
    others, timeout = WRITER_THREADS * 3 // 2, _WRITE_TIMEOUT * 3
    rollouts = await _beside_hung_rollouts(
        tmp_path, monkeypatch, timeout * 1.2, others, others_timeout=timeout
    )
    stopped = [r for r in rollouts if r.stats is None or r.stats.failed is not None]
    assert not stopped, f"{len(stopped)} of {others} stopped as hung"
    for n in range(others):
        assert types(bundle_in(tmp_path / "other" / str(n)))[-1] == "recording_completed"


@pytest.mark.anyio
async def test_rollouts_waiting_behind_writes_that_all_hang_are_stopped_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five times as many rollouts as the writers have threads, on a disk that hangs: the
    rollouts waiting for a thread are stopped as hung once no write of the loop has returned
    for the timeout (the first forty writes hang, and the forty that take their tokens when
    they are abandoned), not handed a thread forty at a time, each to hang a timeout more
    (200 rollouts would take five timeouts, a thousand twenty-five)."""
    disk = _HangingDisk(monkeypatch)
    stopped: list[object] = []

    async def rollout_on_the_disk(go: anyio.Event) -> None:
        rollout = await _two_calls_then_two_more(tmp_path, go)
        assert rollout.stats is not None
        stopped.append(rollout.stats.failed)

    try:
        with warnings.catch_warnings(record=True), anyio.fail_after(_BOUND_S * 2):
            warnings.simplefilter("always")
            async with anyio.create_task_group() as tg:
                go = anyio.Event()
                for _ in range(WRITER_THREADS * 5):
                    tg.start_soon(rollout_on_the_disk, go)
                await anyio.sleep(0.5)
                disk.hang = True
                go.set()
    finally:
        disk.release.set()
    assert len(stopped) == WRITER_THREADS * 5
    assert all(isinstance(failed, WriteHung) for failed in stopped)
    assert len(disk.hanging) < WRITER_THREADS * 3  # two rounds of writes, and a margin


@pytest.mark.anyio
async def test_a_long_queue_of_slow_writes_is_no_hung_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five times as many rollouts as the writers have threads, on a disk whose appends each
    take an eighth of the write timeout: a write waits for a thread longer than the timeout,
    and is waited for (others return meanwhile); every bundle closes whole. Before, a write
    was timed from the moment it asked for a thread, and rollouts were stopped as hung on a
    disk that never stopped answering (found by review22: 29 of 120 rollouts, appends of
    0.3 s, a timeout of 1 s)."""
    append = _files.append_lines

    def slow_append(fd: int, data: Any) -> int:
        threading.Event().wait(0.25)
        return append(fd, data)

    monkeypatch.setattr(_files, "append_lines", slow_append)
    stopped: list[str] = []

    # 200 rollouts' ~4 appends each through 40 threads: ~5 s of queue, far past the timeout;
    # one append 0.25 s, an eighth of it (40 threads and 200 tasks sharing the GIL on a busy
    # machine made a 0.15 s append take over 0.5 s in CI)
    async def rollout_on_a_slow_disk() -> None:
        async with open_rollout(tmp_path, write_timeout=2.0, close_timeout=_BOUND_S * 2) as rollout:
            turn = rollout.root.turn()
            await _tool_calls(turn, 0, 3, "ok")
            await rollout.flush()
            turn.end()
        assert rollout.stats is not None
        if rollout.stats.failed is not None or rollout.stats.lost_anything:
            stopped.append(str(rollout.stats.failed))

    with warnings.catch_warnings(record=True) as caught, anyio.fail_after(_BOUND_S * 3):
        warnings.simplefilter("always")
        async with anyio.create_task_group() as tg:
            for _ in range(WRITER_THREADS * 5):
                tg.start_soon(rollout_on_a_slow_disk)
    assert not stopped and not [w for w in caught if issubclass(w.category, RecorderWarning)]
