"""``recording`` versus ``unclosed``: the recorder holds an exclusive ``flock`` on its open
``trace.jsonl`` from creation to close, and ``ls``, ``validate``, ``summary``/``show`` and the
viewer (``load_state``) read a log whose writer holds it as ``recording``, one whose writer is
gone (killed: the kernel drops the lock) as ``unclosed``. The bundle's bytes are unchanged.

Found by review cli26: both read ``unclosed``, so a root of thousands of bundles, some from
killed processes, could not be sorted into running and dead."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rollout_trace_sdk.model.layout import EVENT_LOG
from rollout_trace_sdk.record import _files, open_rollout
from rollout_trace_sdk.reduce import liveness
from rollout_trace_sdk.reduce.liveness import log_is_written
from rollout_trace_sdk.reduce.validate import validate_bundle
from rollout_trace_sdk.sources import bundle_info
from rollout_trace_sdk.view.capture import recording_status
from rollout_trace_sdk.view.load import load_state
from tests.conftest import LOOP_NAMES
from tests.test_cli import run

from .recorder_support import bundle_in

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="flock is POSIX")

_AGENT = Path(__file__).with_name("killed_agent.py")


def _statuses(bundle: Path) -> tuple[str, bool | None, str]:
    """What ``ls``, ``validate`` and ``summary`` say of ``bundle``."""
    report = validate_bundle(bundle)
    state = load_state(bundle, lenient=True)
    return bundle_info(bundle).status, report.recording, recording_status(state)


@pytest.mark.anyio
async def test_a_live_recording_reads_recording_and_complete_once_closed(tmp_path: Path) -> None:
    async with open_rollout(tmp_path) as rollout:
        async with rollout.root.turn() as turn:
            turn.accept_item_id("a")
        await rollout._writer.flush()
        bundle = bundle_in(tmp_path)
        assert _statuses(bundle) == ("recording", True, "recording")
        code, out, err = run("ls", tmp_path)
        assert code == 0 and " recording " in out.splitlines()[1], out
        code, out, err = run("summary", bundle, "--lenient")
        assert "still recording" in out, out
        code, out, err = run("show", bundle, "--lenient")
        assert "· still recording" in out, out
        code, out, err = run("validate", bundle)
        assert code == 1 and "recording: its recorder is still writing it" in err, err
    assert _statuses(bundle) == ("complete", False, "complete")
    assert log_is_written(bundle) is False


@pytest.mark.anyio
async def test_a_reader_probing_as_the_log_is_made_does_not_cost_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader's shared lock held at the instant the writer locks its new log: the writer
    takes the lock with its first write instead of going without it."""
    real = _files.lock_log
    calls: list[int] = []

    def busy_once(fd: int) -> bool | None:
        calls.append(fd)
        return False if len(calls) == 1 else real(fd)

    monkeypatch.setattr(_files, "lock_log", busy_once)
    async with open_rollout(tmp_path) as rollout:
        bundle = bundle_in(tmp_path)
        assert log_is_written(bundle) is False  # the first try met the reader
        async with rollout.root.turn() as turn:
            turn.accept_item_id("a")
        await rollout._writer.flush()
        assert log_is_written(bundle) is True
        assert len(calls) == 2


@pytest.mark.anyio
async def test_without_fcntl_nothing_is_locked_and_it_reads_unclosed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows (no ``fcntl``, no ``/proc`` to find the open log in): the recorder records as
    before and readers say ``unclosed``."""
    monkeypatch.setattr(_files, "fcntl_module", lambda: None)
    monkeypatch.setattr(liveness, "_PROC", tmp_path / "no-proc")
    async with open_rollout(tmp_path) as rollout:
        async with rollout.root.turn() as turn:
            turn.accept_item_id("a")
        await rollout._writer.flush()
        bundle = bundle_in(tmp_path)
        assert _statuses(bundle) == ("unclosed", False, "unclosed")
    assert _statuses(bundle) == ("complete", False, "complete")


def _start(args: list[str]) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    return child


def _kill(child: subprocess.Popen[str]) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)


@pytest.mark.parametrize("loop", ["asyncio", "trio"])
def test_a_running_recorder_reads_recording_and_a_killed_one_unclosed(
    loop: str, tmp_path: Path
) -> None:
    root = tmp_path / "traces"
    root.mkdir()
    child = _start([str(_AGENT), str(root), loop, "2", "7", "{}"])
    try:
        bundle = bundle_in(root)
        # until its first lines are on disk (0.3 s of sleep was not always enough at load 15)
        deadline = time.monotonic() + 60
        while not (bundle / EVENT_LOG).stat().st_size and time.monotonic() < deadline:
            time.sleep(0.01)
        assert bundle_info(bundle).status == "recording"
        assert validate_bundle(bundle).recording is True
        assert recording_status(load_state(bundle, lenient=True)) == "recording"
    finally:
        _kill(child)
    assert bundle_info(bundle).status in ("unclosed", "torn")
    assert validate_bundle(bundle).recording is not True
    assert recording_status(load_state(bundle, lenient=True)) == "unclosed"


_FORKER = """
import os, sys, time
import anyio
from rollout_trace_sdk.record import open_rollout

async def main(root: str) -> None:
    async with open_rollout(root) as rollout:
        async with rollout.root.turn() as turn:
            turn.accept_item_id("a")
            await rollout._writer.flush()
            if os.fork() == 0:  # a child that lives on (a worker pool's), recording nothing
                print("ready", os.getpid(), flush=True)
                time.sleep(120)
                os._exit(0)
            time.sleep(0.2)
            while True:
                turn.accept_item_id("b")
                await anyio.sleep(0.01)

loop = sys.argv[2]
anyio.run(main, sys.argv[1], backend=loop)
"""


@pytest.mark.parametrize("loop", LOOP_NAMES[:2])
def test_a_forked_child_does_not_keep_a_killed_parents_lock(loop: str, tmp_path: Path) -> None:
    """The lock belongs to the open file description, which a fork shares: the child closes
    its copy of the descriptor at the fork, so the parent's death still releases it."""
    script = tmp_path / "forker.py"
    script.write_text(_FORKER)
    root = tmp_path / "traces"
    root.mkdir()
    parent = subprocess.Popen(
        [sys.executable, str(script), str(root), loop],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert parent.stdout is not None
    forked = 0
    try:
        ready, pid = parent.stdout.readline().split()  # the forked child's line
        assert ready == "ready"
        forked = int(pid)
        time.sleep(0.4)
        bundle = bundle_in(root)
        assert bundle_info(bundle).status == "recording"
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=60)
        os.kill(forked, 0)  # the forked child still lives (raises if not)
        assert bundle_info(bundle).status in ("unclosed", "torn")
        assert log_is_written(bundle) is False
    finally:
        _kill(parent)
        parent.stdout.close()
        if forked:
            os.kill(forked, signal.SIGKILL)


def test_the_lock_is_never_an_error(tmp_path: Path) -> None:
    """``lock_log`` never raises (its promise; the writer calls it again before a chunk when a
    reader's probe met the first try): a closed descriptor (-1 once the log is closed, a
    number no longer open) is no lock, not a ``ValueError`` or ``OSError`` raised into the
    writer task."""
    assert _files.lock_log(-1) is None
    fd = os.open(tmp_path / "x", os.O_CREAT | os.O_WRONLY)
    os.close(fd)
    assert _files.lock_log(fd) is None
