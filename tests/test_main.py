"""``rollout_trace_sdk.__main__.run``: the command as the process's own, and how it ends.

Each case is a child process (``run`` may end its process); what it prints to a pipe tells
which exit it took.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.reduce.test_bundle import make_bundle

#: The child: an audit hook that writes when the interpreter's teardown clears it, an atexit
#: handler, text left in standard output's buffer (a pipe's is flushed at exit only), then
#: ``run`` with ``ARGV``; with ``THREAD``, a thread still running when ``run`` ends (it waits
#: for ``run`` to return: a thread sleeping a fixed time had ended before a slow ``reduce``
#: did, on a loaded machine).
_CHILD = """
import atexit, os, sys, threading
from rollout_trace_sdk.__main__ import run

def teardown(event, args, write=os.write):
    # raised by the interpreter's teardown (the first by 3.11, the second by later ones)
    if event in ("cpython.PyInterpreterState_Clear", "cpython._PySys_ClearAuditHooks"):
        write(1, b"teardown\\n")

sys.addaudithook(teardown)
atexit.register(lambda: sys.stdout.write("atexit\\n"))
release = threading.Event()  # set once run returned: the thread runs as long as run does
if THREAD:
    threading.Thread(target=lambda: (release.wait(60), os.write(1, b"thread\\n"))).start()
sys.stdout.write("buffered\\n")
sys.argv = ["rollout-trace", *ARGV]
status = run()
release.set()
raise SystemExit(status)
"""


def _child(argv: list[str], *, thread: bool = False) -> subprocess.CompletedProcess[str]:
    code = f"ARGV = {argv!r}\nTHREAD = {thread!r}\n{_CHILD}"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_a_reduce_ends_without_the_teardown_as_an_exit_would(tmp_path: Path) -> None:
    """The interpreter's teardown is skipped (its ~1.4 ms of the small reduction), yet the
    atexit handlers run, standard output is flushed and the status is the command's."""
    bundle, state = make_bundle(tmp_path), tmp_path / "o.json"
    done = _child(["reduce", str(bundle), "-o", str(state)])
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.splitlines() == ["buffered", str(state), "atexit"]
    assert state.read_bytes().startswith(b"{")


def test_a_reduce_to_standard_output_is_written_whole(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    state = subprocess.run(
        [sys.executable, "-m", "rollout_trace_sdk", "reduce", str(bundle), "-o", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    done = _child(["reduce", str(bundle), "-o", "-"])
    assert done.returncode == 0, done.stderr
    assert state.startswith("{")
    assert done.stdout == f"buffered\n{state}atexit\n"


def test_another_thread_running_gets_the_interpreters_exit(tmp_path: Path) -> None:
    """The interpreter waits for a thread still running: so does ``run``."""
    bundle, state = make_bundle(tmp_path), tmp_path / "o.json"
    done = _child(["reduce", str(bundle), "-o", str(state)], thread=True)
    assert done.returncode == 0, done.stderr
    assert "thread" in done.stdout.splitlines()
    assert "teardown" in done.stdout.splitlines()


def test_a_failed_command_gets_the_interpreters_exit(tmp_path: Path) -> None:
    """Only a command that said it left nothing open (``cli.nothing_left_open``) skips the
    teardown; a refusal ends as before, with its status."""
    done = _child(["reduce", str(tmp_path / "missing"), "-o", str(tmp_path / "o.json")])
    assert done.returncode == 1
    assert done.stdout.splitlines() == ["buffered", "atexit", "teardown"]
