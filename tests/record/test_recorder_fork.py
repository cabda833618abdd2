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

anyio.run(main, sys.argv[1], backend=sys.argv[2])
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
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
