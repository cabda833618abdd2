"""The first rollout of a process holds the event loop no longer than any later one.

What a recorder needs once per process (the writer's modules, its compressor, trio's
KeyboardInterrupt marks) is loaded when ``rollout_trace_sdk.record`` is imported, not when
the first rollout opens inside a running loop: there the import stalled every other task of
the agent (73 ms under asyncio, 31 ms under trio, measured by
``benchmarks/first_rollout.py``). Checked in a fresh interpreter per backend: the first
traced episode imports no module the same episode untraced has not already loaded (but
``resource``, a few µs, for the open-file limit), and an asyncio program never imports trio.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_CHILD = r"""
import json, sys, tempfile
import anyio
from rollout_trace_sdk.record import open_rollout

async def episode(root):
    async with open_rollout(root) as rollout, rollout.root.turn() as turn:
        history = turn.accept({"type": "message", "role": "user",
                               "content": [{"type": "input_text", "text": "hi"}]})
        async with turn.inference({"model": "m", "input": history}) as call:
            history += call.completed(output_items=[{"type": "function_call",
                "name": "exec_command", "call_id": "c1", "arguments": "{}"}])
        async with turn.tool_call("c1", "exec_command", arguments="{}") as tool:
            tool.exec_started(["ls"]).exited(0, "x")
            tool.completed({"type": "function_call_output", "call_id": "c1", "output": "x"})
    await anyio.to_thread.run_sync(lambda: None)  # what anyio loads for itself, untraced

async def main():
    await episode(None)
    before = set(sys.modules)
    with tempfile.TemporaryDirectory() as tmp:
        await episode(tmp)
    print(json.dumps({"new": sorted(set(sys.modules) - before), "trio": "trio" in sys.modules}))

anyio.run(main, backend=sys.argv[1])
"""


def _first_rollout(backend: str) -> tuple[set[str], bool]:
    """The modules the first traced episode imported, and whether trio is loaded."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, backend], check=True, capture_output=True, text=True
    ).stdout
    result = json.loads(out.splitlines()[-1])
    return set(result["new"]), bool(result["trio"])


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_first_rollout_imports_nothing_on_the_loop(backend: str) -> None:
    new, _ = _first_rollout(backend)
    assert new <= {"resource"}


def test_an_asyncio_program_never_imports_trio() -> None:
    _, trio_loaded = _first_rollout("asyncio")
    assert not trio_loaded
