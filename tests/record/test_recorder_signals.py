"""Signals: SIGTERM, SIGHUP and SIGINT each leave a closed bundle (the closing events
written), and the SIGTERM and SIGHUP handlers the recorder installs are the previous ones
again once it closes."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.record import _queue, open_rollout

from .recorder_support import bundle_in, check_bundle, cut_off_status, events, of_type, types

_SCRIPT = """
import sys
import signal
# Python's own SIGINT handler even when started with SIGINT ignored (a background job),
# unless the test asks for it ignored
signal.signal(signal.SIGINT, signal.SIG_IGN if sys.argv[3:] else signal.default_int_handler)
import anyio
from rollout_trace_sdk.record import open_rollout

async def main(root: str) -> None:
    async with open_rollout(root) as rollout, rollout.root.turn() as turn:
        async with turn.tool_call("c1", "exec_command", arguments={"cmd": "sleep"}) as tool:
            tool.exec_started(["sleep", "100"], process_id=7)
            print("ready", flush=True)
            await anyio.sleep(100)

anyio.run(main, sys.argv[1], backend=sys.argv[2])
"""


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_leaves_a_closed_bundle(tmp_path: Path, backend: str, signum: int) -> None:
    _signalled(tmp_path, backend, signum)
    _closed_by_the_signal(tmp_path)


def _signalled(root: Path, backend: str, signum: int, *args: str) -> str:
    """Run the agent script recording under ``root``, send ``signum`` once it is ready, and
    return what it printed on stderr."""
    child = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, str(root), backend, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        child.send_signal(signum)
        _, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return stderr


def _closed_by_the_signal(root: Path) -> None:
    bundle = bundle_in(root)
    assert types(bundle)[-1] == "recording_completed"
    assert [e["payload"]["status"] for e in of_type(bundle, "rollout_ended")] == ["aborted"]
    assert [e["payload"]["status"] for e in of_type(bundle, "tool_call_ended")] == [
        cut_off_status(bundle)
    ]
    check_bundle(bundle, root)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sigterm_closes_the_bundle_with_sigint_ignored(tmp_path: Path, backend: str) -> None:
    """A program started with SIGINT ignored (``agent.py &`` from a script): trio installs
    no SIGINT handler then, and the KeyboardInterrupt our SIGTERM handler raised landed in
    trio's own loop and broke the run, leaving the bundle unclosed (found by review)."""
    stderr = _signalled(tmp_path, backend, signal.SIGTERM, "ignore-sigint")
    assert "Trio guest run got abandoned" not in stderr and "NoEventLoopError" not in stderr
    _closed_by_the_signal(tmp_path)


@pytest.mark.anyio
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
async def test_stop_signal_disposition_is_restored(tmp_path: Path, signum: int) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are handled in the main thread only")
    before = signal.getsignal(signum)
    async with open_rollout(tmp_path):
        during = signal.getsignal(signum)
    assert signal.getsignal(signum) == before
    if before is signal.SIG_DFL:
        assert during != signal.SIG_DFL


@pytest.mark.anyio
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
async def test_a_handler_the_program_installs_while_recording_is_kept(
    tmp_path: Path, signum: int
) -> None:
    """A program that installs its own handler while a rollout is open (a server's graceful
    shutdown set up after start) keeps it when the rollout closes: only the recorder's own
    handler is put back (putting back whatever was there before passed, mut30)."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are handled in the main thread only")

    def own(n: int, frame: object) -> None:
        """The program's handler (never called)."""

    previous = signal.signal(signum, signal.SIG_DFL)
    try:
        async with open_rollout(tmp_path):
            assert signal.getsignal(signum) is not signal.SIG_DFL  # the recorder's
            signal.signal(signum, own)
        assert signal.getsignal(signum) is own
    finally:
        signal.signal(signum, previous)


@pytest.mark.anyio
async def test_an_ignored_sighup_stays_ignored(tmp_path: Path) -> None:
    """``nohup`` ignores SIGHUP so that a program outlives its terminal: recording leaves
    that choice alone (only a default disposition is taken over)."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are handled in the main thread only")
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        async with open_rollout(tmp_path):
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


_SECOND_CTRL_C = """
import os, signal, sys, threading, time
signal.signal(signal.SIGINT, signal.default_int_handler)
import trio
from rollout_trace_sdk.record import _files, open_rollout

real = _files.append_lines
sent = threading.Event()

def slow_disk(fd, data):
    if not sent.is_set():  # the second Ctrl-C comes while the close writes its first chunk
        sent.set()
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.3)
    return real(fd, data)

_files.append_lines = slow_disk

async def main() -> None:
    async with open_rollout(sys.argv[1], schema_version=int(sys.argv[2])) as rollout:
        for n in range(200):
            rollout.root.protocol_event("note", {"n": n})
        raise KeyboardInterrupt  # the first Ctrl-C

try:
    trio.run(main)
except KeyboardInterrupt:
    print("interrupted")
"""


@pytest.mark.parametrize("schema", [2, 3])
def test_a_second_ctrl_c_while_closing_keeps_the_chunk_being_written(
    tmp_path: Path, schema: int
) -> None:
    """Trio delivers a second Ctrl-C to the main task at its next checkpoint, shields or not:
    in the close, that was the wait for the chunk in the worker thread, and the close's end
    shut the log under it (the log stayed empty, 27 payload files beside it, in a run of
    the multi-agent review program). The chunk is now written whole first; the bundle is
    left unclosed, as the user asked to stop, and reads."""
    done = subprocess.run(
        [sys.executable, "-c", _SECOND_CTRL_C, str(tmp_path), str(schema)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "interrupted", done.stderr
    bundle = bundle_in(tmp_path)
    seqs = [e["seq"] for e in events(bundle)]
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(of_type(bundle, "protocol_event_observed")) >= 200
    assert types(bundle)[-1] == "rollout_ended"
    check_bundle(bundle, tmp_path)


_CTRL_C_AT_THE_END = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
import trio
from rollout_trace_sdk.record import _files, open_rollout

real = _files.append_lines

def disk(fd, data):
    written = real(fd, data)
    if b"recording_completed" in bytes(data):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C as the close has written its last line
    return written

_files.append_lines = disk

async def main() -> None:
    async with open_rollout(sys.argv[1], schema_version=int(sys.argv[2])) as rollout:
        rollout.root.protocol_event("note", {"n": 1})

try:
    trio.run(main)
except KeyboardInterrupt:
    print("interrupted")
except BaseExceptionGroup as group:
    print("a group:", repr(group))
"""


@pytest.mark.parametrize("schema", [2, 3])
def test_a_ctrl_c_as_the_close_ends_comes_out_as_keyboard_interrupt(
    tmp_path: Path, schema: int
) -> None:
    """Trio raises a Ctrl-C pressed as the close writes its last line at the main task's next
    wait, which is leaving the writer's task group: its nursery wrapped the interrupt in a
    ``BaseExceptionGroup``, and the agent's ``except KeyboardInterrupt`` missed it (21
    runs of 22). It comes out as the KeyboardInterrupt it is, and the bundle is
    closed. (Whether the interrupt reaches the close's last wait or the next one is a race:
    three runs.)"""
    for run in range(3):
        root = tmp_path / str(run)
        done = subprocess.run(
            [sys.executable, "-c", _CTRL_C_AT_THE_END, str(root), str(schema)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.stdout.strip() == "interrupted", (done.stdout, done.stderr)
        bundle = bundle_in(root)
        assert types(bundle)[-1] == "recording_completed"
        check_bundle(bundle, tmp_path)


def test_under_trio_a_chunk_is_written_out_of_keyboard_interrupts_reach(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Marked when a writer is made under trio (not at import: an asyncio program never
    imports trio): the chunk loop is where a KeyboardInterrupt would lose records."""
    import trio
    import trio.lowlevel

    from rollout_trace_sdk.record.writer import BundleWriter

    seen: list[bool] = []
    write_chunk = BundleWriter._write_chunk

    async def watched(self: BundleWriter) -> None:
        seen.append(trio.lowlevel.currently_ki_protected())
        await write_chunk(self)

    monkeypatch.setattr(BundleWriter, "_write_chunk", watched)

    async def main() -> None:
        async with open_rollout(tmp_path) as rollout, rollout.root.turn():
            await rollout.flush()

    trio.run(main)
    assert seen and all(seen)


class _InterruptedClock:
    """``time`` as the record queue sees it, whose ``time_ns`` raises ``KeyboardInterrupt``
    on every ``every``-th read: what a signal handler of the program's that raises
    (``sys.exit`` on SIGTERM, ``signal.default_int_handler`` on SIGHUP) does when the signal
    arrives while the recorder reads the clock."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.reads = 0

    def time_ns(self) -> int:
        self.reads += 1
        if self.reads % self.every == 0:
            raise KeyboardInterrupt
        return time.time_ns()

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.mark.anyio
async def test_an_exception_a_signal_handler_raises_mid_call_leaves_no_seq_gap(
    schema: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue took an event's seq, then read the clock: an exception raised there left a
    seq without its line, and both reducers refused the whole bundle ("missing or reordered
    trace event"). Found by review robust29 with ``signal.default_int_handler`` installed
    for SIGHUP on asyncio (one bundle in some fifteen signalled)."""
    clock = _InterruptedClock(every=3)
    interrupted = 0
    async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
        monkeypatch.setattr(_queue, "time", clock)
        for i in range(30):
            try:
                turn.thread.protocol_event("tick", {"i": i})
                async with turn.tool_call(f"c{i}", "f", arguments="{}") as tool:
                    tool.completed(
                        {"type": "function_call_output", "call_id": f"c{i}", "output": "x"}
                    )
            except KeyboardInterrupt:
                interrupted += 1
        monkeypatch.undo()
    assert interrupted > 10 and clock.reads > 60
    bundle = bundle_in(tmp_path)
    assert [e["seq"] for e in events(bundle)] == list(range(1, len(events(bundle)) + 1))
    check_bundle(bundle, tmp_path)


_FORK_SCRIPT = """
import multiprocessing, os, signal, sys, time
import anyio
from rollout_trace_sdk.record import open_rollout

async def main(root: str) -> None:
    async with open_rollout(root):
        child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(60,))
        child.start()
        time.sleep(0.3)
        os.kill(child.pid, getattr(signal, sys.argv[3]))
        child.join(10)
        print(child.exitcode, flush=True)
        if child.exitcode is None:
            child.kill()
            child.join()

anyio.run(main, sys.argv[1], backend=sys.argv[2])
"""


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_forked_child_dies_of_a_stop_signal(tmp_path: Path, backend: str, name: str) -> None:
    """A child forked while a rollout is open (a multiprocessing worker, a sandbox) dies of
    SIGTERM or SIGHUP as it would without the recorder: it records nothing, so there is no
    bundle of its own to close. It inherited the parent's handler, which handed the signal
    to the parent's SIGINT handler: under asyncio's runner that cancels a main task the
    child does not run, and the child lived on (``Process.terminate()`` and a pool's exit
    did not end it; found by review29)."""
    out = subprocess.run(
        [sys.executable, "-c", _FORK_SCRIPT, str(tmp_path), backend, name],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.split() == [str(-getattr(signal, name))], out.stderr[-2000:]
