"""``os.fork()`` while a rollout records: the child never writes into the parent's bundle
and the parent's bundle
keeps strictly increasing seqs, loses nothing and reduces. Runs in a child interpreter so
pytest itself is never forked. The child checks that its inherited recorder is inert (closed,
queue dropped, its copy of the log descriptor closed: it can never write the inherited queue
into the parent's log, as a trio child unwinding with ``sys.exit`` used to), then leaves with
``os._exit``: the event loop's epoll set is shared with the parent, so a child that keeps
running the loop breaks the parent's loop, recorder or not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import LOOP_NAMES

from .recorder_support import bundle_in, check_bundle, events, of_type

_SCRIPT = """
import os, sys
import anyio
from rollout_trace_sdk.record import open_rollout

async def main(root: str) -> None:
    async with open_rollout(root) as rollout:
        async with rollout.root.turn() as turn:
            for n in range(50):
                turn.accept_item_id(f"parent-before-{n}")  # queued, not yet written
            async with turn.tool_call("c1", "f", arguments={"x": 1}) as tool:
                pid = os.fork()
                if pid == 0:
                    for n in range(20):
                        turn.accept_item_id(f"child-{n}")  # dropped: the child is inert
                    tool.completed({"type": "function_call_output", "call_id": "c1", "output": "c"})
                    writer = rollout._writer
                    try:
                        os.fstat(writer._fd)
                        fd_open = True
                    except OSError:
                        fd_open = False
                    inert = writer.stats.closed and not writer._queue and not fd_open
                    # leave without running the inherited event loop on: its epoll set is
                    # shared with the parent (asyncio and trio alike)
                    os._exit(0 if inert else 3)
                _, status = os.waitpid(pid, 0)
                assert os.waitstatus_to_exitcode(status) == 0, "the child's recorder was not inert"
                tool.completed({"type": "function_call_output", "call_id": "c1", "output": "p"})
            for n in range(50):
                turn.accept_item_id(f"parent-after-{n}")
    print("parent done", rollout.stats.lost_anything)

loop = sys.argv[2]
options = {"use_uvloop": True} if loop == "uvloop" else None
anyio.run(main, sys.argv[1], backend="trio" if loop == "trio" else "asyncio", backend_options=options)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.parametrize("backend", LOOP_NAMES)
def test_fork_leaves_the_parents_bundle_alone(tmp_path: Path, backend: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path), backend],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "parent done False" in done.stdout, done.stderr
    bundle = bundle_in(tmp_path)
    seqs = [e["seq"] for e in events(bundle)]
    assert seqs == list(range(1, len(seqs) + 1))
    accepted = [e["payload"]["item_id"] for e in of_type(bundle, "history_item_accepted")]
    assert not [item for item in accepted if item.startswith("child-")]
    assert len([item for item in accepted if item.startswith("parent-")]) == 100
    assert len(of_type(bundle, "recording_completed")) == 1
    assert len(of_type(bundle, "tool_call_ended")) == 1
    check_bundle(bundle, tmp_path)


_LOCKED_FORK = """
import os, sys
import anyio
from rollout_trace_sdk.record import RedactionConfig, open_rollout
from rollout_trace_sdk.record import _redact_scan

async def child(root: str) -> None:
    # keys of its own: the child must compile a scanner database, under the lock
    config = RedactionConfig(keys=("child_only_secret",))
    with anyio.fail_after(20):
        async with open_rollout(root, redact=config) as rollout, rollout.root.turn() as turn:
            async with turn.tool_call("c1", "f", arguments={"child_only_secret": "x"}) as tool:
                tool.completed({"type": "function_call_output", "call_id": "c1", "output": "ok"})

_redact_scan._COMPILING.acquire()  # as a parent's writer thread compiling at the fork
pid = os.fork()
if pid == 0:
    try:
        anyio.run(child, sys.argv[1])
    except BaseException:
        os._exit(3)
    os._exit(0)
_redact_scan._COMPILING.release()
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_a_fork_while_a_scanner_compiled_does_not_hang_the_childs_rollout(
    tmp_path: Path,
) -> None:
    """A fork while the parent's writer thread compiled the redaction scanner copied its
    lock held: a rollout the child opened hung for good, past its close timeout (found by
    review: 28 of 40 children forked during a parent's first write)."""
    done = subprocess.run(
        [sys.executable, "-c", _LOCKED_FORK, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    check_bundle(bundle_in(tmp_path))


_STORE_LOCKED_FORK = """
import os, sys, threading
import anyio
from rollout_trace_sdk.record import open_rollout

async def main(root: str) -> None:
    async with open_rollout(root, schema_version=3) as rollout, rollout.root.turn() as turn:
        tool = turn.tool_call("c1", "f", arguments={})
        held, release = threading.Event(), threading.Event()

        def worker() -> None:  # as a worker thread storing a tool's output at the fork
            with rollout._writer.items._lock:
                held.set()
                release.wait(10)

        thread = threading.Thread(target=worker)
        thread.start()
        held.wait(10)
        pid = os.fork()
        if pid == 0:
            tool.completed({"type": "function_call_output", "call_id": "c1", "output": "c"})
            os._exit(0)
        release.set()
        thread.join()
        for _ in range(200):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                sys.exit(os.waitstatus_to_exitcode(status))
            await anyio.sleep(0.05)
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        sys.exit(4)

loop = sys.argv[2]
options = {"use_uvloop": True} if loop == "uvloop" else None
anyio.run(main, sys.argv[1], backend="trio" if loop == "trio" else "asyncio", backend_options=options)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.parametrize("backend", LOOP_NAMES)
def test_a_fork_while_a_thread_stored_an_item_does_not_hang_the_child(
    tmp_path: Path, backend: str
) -> None:
    """A fork while another thread of the parent held the item store's lock (a tool ended in
    a worker thread: its output is stored under it) copied the lock held: the child's next
    call storing an item (any tool's ``completed``) waited for good. Found by review21b."""
    done = subprocess.run(
        [sys.executable, "-c", _STORE_LOCKED_FORK, str(tmp_path), backend],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, (done.returncode, done.stderr)
