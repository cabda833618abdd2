"""A few crash-soak runs (``benchmarks/soak.py`` does 100+): the agent loop is killed with
SIGKILL at random moments, and ended with SIGTERM and SIGINT; every bundle must keep the
payload-before-line rule, whole lines with seqs 1..N (a last line SIGKILL tore aside), and
reduce (leniently when cut). Schema 3 (the default) on both backends, schema 2 on one."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.soak import soak

from .recorder_support import bundle_in, check_bundle


@pytest.mark.parametrize(("backend", "schema"), [("asyncio", 3), ("trio", 3), ("asyncio", 2)])
def test_crash_soak(backend: str, schema: int) -> None:
    result = soak(runs=3, backend=backend, seed=7, graceful_runs=1, schema=schema)
    assert result["problems"] == []
    assert result["runs"] == 5
    assert result["lenient_ok"] == 5
    assert result["completed"] >= 2  # the SIGTERM and SIGINT runs


_TIGHT_AGENT = """
import sys
import anyio
from rollout_trace_sdk.record import open_rollout

PAD = "y" * 100_000

async def main(root):
    async with open_rollout(root, schema_version=3) as rollout, rollout.root.turn() as turn:
        print("ready", flush=True)
        for n in range(10**7):  # never waits: the writer's queue is never empty
            async with turn.tool_call(f"t{n}", "f", arguments="{}") as tool:
                output = f"{n}" + PAD
                tool.completed({"type": "function_call_output", "call_id": f"t{n}", "output": output})

anyio.run(main, sys.argv[1])
"""


@pytest.mark.parametrize("delay", [0.0, 0.2, 0.4])
def test_a_busy_agent_killed_leaves_only_its_last_shard_unsealed(
    tmp_path: Path, delay: float
) -> None:
    """An agent that never waits keeps the writer's queue full, and shards the plan had
    moved past stayed open: killed, 7 of 12 such bundles were refused by Codex 0.171 and by
    strict reduction ("missing footer in payload shard N"). Each is sealed as soon as its
    records are written now, so the crash leaves only the last one open. Killed ``delay``
    seconds after its first shard rotated (a fixed time from its start was, on a loaded
    machine, before any had: "no shard rotated")."""
    child = subprocess.Popen(
        [sys.executable, "-c", _TIGHT_AGENT, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        payloads = bundle_in(tmp_path) / "payloads"
        deadline = time.monotonic() + 60
        while len(list(payloads.glob("*.zst"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
    finally:
        child.kill()
        child.wait()
    bundle = bundle_in(tmp_path)
    assert len(list((bundle / "payloads").glob("*.zst"))) > 1, "no shard rotated"
    check_bundle(bundle)  # strict, and as Codex 0.171 reads it when here
