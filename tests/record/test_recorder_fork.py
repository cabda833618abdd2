"""``os.fork()`` while a rollout records: the child never writes into the parent's bundle
(not even when it unwinds through the recorder with ``sys.exit``), and the parent's bundle
keeps strictly increasing seqs, loses nothing and reduces. Runs in a child interpreter so
pytest itself is never forked. On trio the child unwinds through the recorder with
``sys.exit`` (which used to write the inherited queue into the parent's log); on asyncio it
leaves with ``os._exit`` (asyncio's loop shares its epoll set with the child, so a child that
keeps running it breaks the parent's loop, recorder or not)."""

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
                        turn.accept_item_id(f"child-{n}")
                    tool.completed({"type": "function_call_output", "call_id": "c1", "output": "c"})
                    if sys.argv[2] == "trio":
                        sys.exit(0)  # unwinds through the recorder (and trio), in the child
                    # asyncio's loop shares its epoll set with the child: a child that runs it
                    # on breaks the parent's loop whatever the recorder does, so it leaves
                    os._exit(0)
                os.waitpid(pid, 0)
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
