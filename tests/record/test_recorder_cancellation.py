"""Cancellation never hangs the agent: opening a rollout in a cancelled scope, a deadline that
passes during start-up, a sibling that fails while the agent opens its rollout, and a close
that cannot drain in time. The hang cases run in a child process with a timeout, so a
regression fails the test instead of hanging the suite."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import anyio
import pytest

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.model import layout
from rollout_trace_sdk.record import RecorderWarning, Rollout, _files, open_rollout
from rollout_trace_sdk.reduce.shard_frames import decompress_shard
from tests.conftest import ASYNCIO_LOOPS, LOOP_NAMES

from .recorder_support import (
    bundle_in,
    check_bundle,
    events,
    loss_report,
    of_type,
    payload,
    types,
)
from .writer_support import make_writer

#: loop mechanics: also on uvloop's event loop (tests/conftest.py)
pytestmark = pytest.mark.uvloop

_SCENARIOS = {
    "already_cancelled": """
        with anyio.CancelScope() as scope:
            scope.cancel()
            async with open_rollout(root) as rollout:
                rollout.root.turn()
                await anyio.sleep(5)
        """,
    "deadline_during_startup": """
        with anyio.move_on_after(0.005):
            async with open_rollout(root):
                await anyio.sleep(5)
        """,
    "deadline_zero": """
        with anyio.move_on_after(0):
            async with open_rollout(root):
                await anyio.sleep(5)
        """,
    "sibling_fails": """
        async def agent() -> None:
            async with open_rollout(root):
                await anyio.sleep(5)

        async def sibling() -> None:
            raise ValueError("sibling")

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(agent)
                tg.start_soon(sibling)
        except BaseExceptionGroup as group:
            assert group.subgroup(ValueError) is not None
        """,
}

_SCRIPT = """
import sys
import anyio
from rollout_trace_sdk.record import open_rollout

root = sys.argv[1]

async def main() -> None:
{body}
    print("returned")

loop = sys.argv[2]
options = {{"use_uvloop": True}} if loop == "uvloop" else None
anyio.run(main, backend="trio" if loop == "trio" else "asyncio", backend_options=options)
"""


@pytest.mark.parametrize("backend", LOOP_NAMES)
@pytest.mark.parametrize("scenario", sorted(_SCENARIOS))
def test_cancellation_during_open_never_hangs(tmp_path: Path, backend: str, scenario: str) -> None:
    body = textwrap.indent(textwrap.dedent(_SCENARIOS[scenario]), "    ")
    script = _SCRIPT.format(body=body)
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path), backend],
            capture_output=True,
            text=True,
            timeout=30,  # the agent returns in well under a second; 30 s means a hang
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{scenario} on {backend}: the agent hung")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "returned"
    bundle = bundle_in(tmp_path)
    assert types(bundle)[-1] == "recording_completed"
    assert [e["payload"]["status"] for e in of_type(bundle, "rollout_ended")] == ["aborted"]
    check_bundle(bundle, tmp_path)


@pytest.mark.anyio
async def test_close_that_runs_out_of_time_counts_what_it_left(tmp_path: Path) -> None:
    """``aclose(timeout=0)`` writes nothing more of the queue, but says how much it left and
    still appends the closing lines."""
    writer = make_writer(tmp_path)
    ref = ev.RawPayloadRef("raw_payload:9", "protocol_event", "payloads/9.json")
    for n in range(50):
        writer.event_nowait(ev.ProtocolEventObserved(f"e{n}", ref))
    await writer.aclose(timeout=0)
    stats = writer.stats
    assert stats.events_dropped == 50
    bundle = writer.bundle_dir
    assert types(bundle) == ["protocol_event_observed", "recording_completed"]
    assert [e["seq"] for e in events(bundle)] == [1, 2]  # no gap where the queue was
    warning = payload(
        bundle, of_type(bundle, "protocol_event_observed")[-1]["payload"]["event_payload"]
    )
    assert "dropped 50 events" in warning["message"]
    assert "closing took longer than 0 s" in warning["message"]


@pytest.mark.anyio
async def test_cancelled_body_closes_promptly_with_the_closing_lines(tmp_path: Path) -> None:
    with anyio.CancelScope() as scope:
        async with open_rollout(tmp_path) as rollout, rollout.root.turn():
            scope.cancel()
            await anyio.sleep(5)
    assert scope.cancelled_caught
    bundle = bundle_in(tmp_path)
    assert types(bundle)[-1] == "recording_completed"
    check_bundle(bundle, tmp_path)


def _hold_first_lines(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """A slow disk: the first chunk of log lines waits in the worker thread (``entered`` set)
    until ``release`` is set (10 s at most); the writes after it go straight through."""
    real = _files.append_lines
    entered, release = threading.Event(), threading.Event()

    def slow_disk(fd: int, data: bytes | bytearray | memoryview) -> int:
        if not entered.is_set():
            entered.set()
            release.wait(10)
        return real(fd, data)

    monkeypatch.setattr(_files, "append_lines", slow_disk)
    return entered, release


def _whole_and_closed(bundle: Path, tmp: Path) -> None:
    """Every seq from 1, in order, closed by ``recording_completed``; both reducers agree."""
    seqs = [e["seq"] for e in events(bundle)]
    assert seqs == list(range(1, len(seqs) + 1)), (seqs[:3], len(seqs))
    assert types(bundle)[-1] == "recording_completed"
    check_bundle(bundle, tmp)


@pytest.mark.parametrize("anyio_backend", ASYNCIO_LOOPS)
@pytest.mark.anyio
async def test_asyncio_cancelling_a_flush_loses_nothing(
    tmp_path: Path, schema: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``asyncio.wait_for(rollout.flush(), ...)`` (or ``asyncio.timeout``) cancels the flushing
    task with asyncio's own ``Task.cancel()``, which anyio's shield does not hold off: the
    chunk it was writing was abandoned in the worker thread, and the next one was written
    beside it (its lines ahead of the first chunk's, with stale offsets: runs of the
    ``wait_for`` case lost the log's first lines, or created a shard twice and stopped
    recording). Here a slow disk holds the first chunk's lines until a second flush has
    had its chance to write."""
    import asyncio

    entered, release = _hold_first_lines(monkeypatch)
    async with open_rollout(tmp_path) as rollout:
        for n in range(100):
            rollout.root.protocol_event("note", {"n": n})
        first = asyncio.ensure_future(rollout.flush())
        while not entered.is_set():
            await asyncio.sleep(0.001)
        first.cancel()  # as wait_for does when its time is up
        for n in range(100, 200):
            rollout.root.protocol_event("note", {"n": n})
        second = asyncio.ensure_future(rollout.flush())
        await asyncio.sleep(0.1)  # the second flush writes now, unless it waits for the first
        release.set()
        await second
        with pytest.raises(asyncio.CancelledError):
            await first  # the cancellation still comes out, once the chunk is written
    bundle = bundle_in(tmp_path)
    notes = [
        e
        for e in of_type(bundle, "protocol_event_observed")
        if e["payload"]["event_type"] == "note"
    ]
    assert len(notes) == 200
    _whole_and_closed(bundle, tmp_path)


@pytest.mark.parametrize("anyio_backend", ASYNCIO_LOOPS)
@pytest.mark.anyio
async def test_asyncio_deadline_passing_during_the_close_still_closes(
    tmp_path: Path, schema: int
) -> None:
    """An ``asyncio.timeout`` whose deadline passes while the rollout closes cancels the task
    natively, through the close's shield: the close stopped half way (the rest of the queue
    lost uncounted, no closing lines) and the writer task went on writing through the closed
    log descriptor. Now the close finishes, then the timeout comes out as usual."""
    import asyncio

    loop = asyncio.get_running_loop()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(None) as deadline:
            async with open_rollout(tmp_path) as rollout:
                for n in range(2000):
                    rollout.root.protocol_event("note", {"n": n, "text": "y" * 20_000})
                deadline.reschedule(loop.time() + 0.01)  # passes while the queue is written
    bundle = bundle_in(tmp_path)
    assert len(of_type(bundle, "protocol_event_observed")) >= 2000
    _whole_and_closed(bundle, tmp_path)


@pytest.mark.anyio
async def test_close_timeout_passing_while_the_writer_task_writes_keeps_the_seqs(
    tmp_path: Path, schema: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``close_timeout`` can pass while the writer task's chunk is still in the worker thread.
    The closing lines took the seqs after the last line then on disk, and that chunk's lines
    came after them: the loss report and ``recording_completed`` repeated seqs 1 and 2 after
    lines 1..10, and both reducers refused the log ("missing or reordered trace event")."""
    entered, release = _hold_first_lines(monkeypatch)
    async with anyio.create_task_group() as tg, open_rollout(tmp_path, close_timeout=0) as rollout:
        for n in range(10):
            rollout.root.protocol_event("first", {"n": n})
        while not entered.is_set():  # the writer task's chunk is in the worker thread
            await anyio.sleep(0.001)
        for n in range(10):
            rollout.root.protocol_event("left", {"n": n})
        tg.start_soon(anyio.to_thread.run_sync, _release_later, release, rollout)
    bundle = bundle_in(tmp_path)
    kinds = [e["payload"].get("event_type") for e in of_type(bundle, "protocol_event_observed")]
    assert kinds.count("first") == 10
    assert "closing took longer than 0 s" in loss_report(bundle)
    _whole_and_closed(bundle, tmp_path)


def _release_later(release: threading.Event, rollout: Rollout) -> None:
    """In a worker thread: let the slow disk go on once the close has run out of time (it
    has counted the queue left as lost; 0.2 s of waiting instead let the chunk go before
    the close had begun, now and then, on a busy machine). Bounded: a close that never
    gives up fails the test, it does not hang it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stats = rollout.stats
        if stats is not None and stats.lost_anything:
            break
        time.sleep(0.001)
    release.set()


@pytest.mark.anyio
async def test_a_cancelled_rollout_whose_task_closes_it_slowly_is_not_taken_for_left_open(
    tmp_path: Path,
) -> None:
    """The writer task is cancelled with the task that opened the rollout, which is still
    running (its clean-up takes a while before it leaves the rollout): nothing was left
    open, so the writer ends and that task's close writes the closing lines. Only when the
    opening task is gone is the rollout one the loop ended under (the 1 s grace given to
    other tasks would otherwise run out here, and the rollout be closed as left open)."""

    async def work() -> None:
        async with open_rollout(tmp_path) as rollout:
            rollout.root.protocol_event("note", {})
            try:
                await anyio.sleep_forever()
            finally:
                with anyio.CancelScope(shield=True):
                    await anyio.sleep(1.5)  # longer than the grace: a slow clean-up

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with anyio.create_task_group() as tg:
            tg.start_soon(work)
            while not any(tmp_path.iterdir()):
                await anyio.sleep(0.001)
            tg.cancel_scope.cancel()
    assert [str(w.message) for w in caught if issubclass(w.category, RecorderWarning)] == []
    bundle = bundle_in(tmp_path)
    assert types(bundle)[-1] == "recording_completed"
    check_bundle(bundle, tmp_path)


@pytest.mark.parametrize("loop", ASYNCIO_LOOPS)
@pytest.mark.filterwarnings("ignore:rollout trace. the rollout was closed in another task")
def test_a_rollout_left_open_when_the_loop_ends_keeps_what_it_recorded(
    tmp_path: Path, schema: int, loop: str | tuple[str, dict[str, bool]]
) -> None:
    """A rollout entered and never exited (``await scope.__aenter__()`` in a notebook cell or
    a script) when ``asyncio.run`` returns: the runner cancels the writer task. Nothing will
    close the rollout, so what it queued is written and the bundle left unclosed, with a
    warning. Before, whatever the writer had not written yet (here everything: the run is
    shorter than the writer's linger) was lost without a word, the bundle read ``empty``.
    A rollout whose task is still running then (a background task's), or one handed to
    another task that closes it, closes as before: that task is cancelled too, and its
    close writes the closing lines. The rollout left
    open gives back SIGTERM (it kept SIGTERM raising ``KeyboardInterrupt`` for good)."""
    backend, options = (loop, {}) if isinstance(loop, str) else loop
    left, held, handed = tmp_path / "left", tmp_path / "held", tmp_path / "handed"

    async def hold() -> None:
        async with open_rollout(held) as rollout:
            rollout.root.protocol_event("held", {})
            await anyio.sleep_forever()

    async def close_later(scope: Any, rollout: Rollout) -> None:  # not the task that opened it
        try:
            rollout.root.protocol_event("handed", {})
            await anyio.sleep_forever()
        finally:
            await scope.__aexit__(None, None, None)

    running: list[asyncio.Task[None]] = []  # still running when main returns

    async def main() -> None:
        rollout = await open_rollout(left).__aenter__()
        for n in range(20):
            rollout.root.protocol_event("note", {"n": n})
        loop = asyncio.get_running_loop()
        scope = open_rollout(handed)
        opened = await loop.create_task(scope.__aenter__())  # a task that ends at once
        running.extend([loop.create_task(hold()), loop.create_task(close_later(scope, opened))])
        while not held.exists():
            await anyio.sleep(0.001)

    before = signal.getsignal(signal.SIGTERM)
    with pytest.warns(
        RecorderWarning, match="event loop ended with this rollout still open"
    ) as got:
        anyio.run(main, backend=backend, backend_options=options)
    assert signal.getsignal(signal.SIGTERM) is before  # its SIGTERM handling given back
    bundle = bundle_in(left)
    # the left one's alone: not the handed one's, which its other task closed
    said = [str(w.message) for w in got if "event loop ended" in str(w.message)]
    assert len(said) == 1 and said[0].endswith(str(bundle)), said
    shards = sorted((bundle / layout.PAYLOADS_DIR).glob("*" + layout.SHARD_SUFFIX))
    assert bool(shards) == (schema == 3)
    for shard in shards:  # sealed all the same: every frame whole
        assert decompress_shard(shard.read_bytes())[1], shard
    notes = of_type(bundle, "protocol_event_observed")
    assert [e["payload"]["event_type"] for e in notes].count("note") == 20
    assert "recording_completed" not in types(bundle)  # unclosed: nobody closed it
    check_bundle(bundle, tmp_path)
    for other in (bundle, bundle_in(held), bundle_in(handed)):  # the room held is given back
        assert not (other / layout.SPACE_RESERVE).exists()
    for other in (bundle_in(held), bundle_in(handed)):
        assert types(other)[-1] == "recording_completed"
        check_bundle(other, tmp_path)
    assert of_type(bundle_in(held), "rollout_ended")[0]["payload"]["status"] == "aborted"
