"""How long the first rollout of a process holds the event loop.

    python benchmarks/first_rollout.py [--runs N] [--json]

Everything a recorder does once per process (importing what it writes with, starting its
worker thread, raising the open-file limit, building its encoders) must happen at import
time or off the loop: an agent that opens its first rollout mid-run (an RL worker's first
episode, a server's first request) must not stall its other tasks for it. Each run is a
fresh interpreter that imports ``rollout_trace_sdk.record`` (not timed: import time is not
loop time), then runs one small episode (a turn, an inference answered by a tool call, the
tool's process and output, the final answer) on asyncio and on trio, while a probe task
measures the loop's lag (its trips through the scheduler, back to back). Reported per
backend, median over runs: ``first_open_ms`` (the ``open_rollout`` entry alone, wall time)
and ``first_episode_lag_max_ms`` (the probe's worst lag during the whole first episode), next
to the same episode with tracing off (``open_rollout(None)``) in the same run. Lower is
better; the target is the untraced figure plus ~1 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

_CHILD = r"""
import json, sys, tempfile, time
import anyio
from rollout_trace_sdk.record import open_rollout

def text(role, kind, words):
    return {"type": "message", "role": role, "content": [{"type": kind, "text": words}]}

async def episode(root, lags, opened):
    stop = anyio.Event()

    async def probe():
        while not stop.is_set():
            t0 = time.perf_counter()
            await anyio.sleep(0)
            lags.append(time.perf_counter() - t0)

    async with anyio.create_task_group() as tg:
        tg.start_soon(probe)
        await anyio.sleep(0.01)
        t0 = time.perf_counter()
        scope = open_rollout(root, model="m")
        rollout = await scope.__aenter__()
        opened.append(time.perf_counter() - t0)
        try:
            async with rollout.root.turn() as turn:
                history = turn.accept(text("user", "input_text", "What time is it?"))
                async with turn.inference({"model": "m", "input": history}) as call:
                    await anyio.sleep(0.001)
                    history += call.completed(output_items=[{
                        "type": "function_call", "name": "exec_command", "call_id": "c1",
                        "arguments": json.dumps({"cmd": "date"})}])
                async with turn.tool_call("c1", "exec_command", arguments=history[-1]["arguments"]) as tool:
                    process = tool.exec_started(["date"])
                    await anyio.sleep(0.001)
                    process.exited(0, "Sat Dec  5")
                    history.append(tool.completed({
                        "type": "function_call_output", "call_id": "c1", "output": "Sat Dec  5"}))
                async with turn.inference({"model": "m", "input": history}) as call:
                    await anyio.sleep(0.001)
                    call.completed(output_items=[text("assistant", "output_text", "Saturday")])
        finally:
            await scope.__aexit__(None, None, None)
        await anyio.sleep(0.01)
        stop.set()

def main():
    backend, traced = sys.argv[1], sys.argv[2] == "1"
    lags, opened = [], []
    with tempfile.TemporaryDirectory() as tmp:
        anyio.run(episode, tmp if traced else None, lags, opened, backend=backend)
    print(json.dumps({"open_ms": opened[0] * 1e3, "lag_max_ms": max(lags) * 1e3}))

main()
"""


def _run(backend: str, traced: bool) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, backend, "1" if traced else "0"],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout
    figures: dict[str, float] = json.loads(out.splitlines()[-1])
    return figures


def measure(runs: int) -> dict[str, float]:
    """Median figures over ``runs`` fresh processes per backend, traced and untraced."""
    results: dict[str, float] = {}
    for backend in ("asyncio", "trio"):
        samples: dict[tuple[bool, str], list[float]] = {}
        for _ in range(runs):
            for traced in (True, False):  # alternating: the same machine state for both
                for key, value in _run(backend, traced).items():
                    samples.setdefault((traced, key), []).append(value)
        for (traced, key), values in samples.items():
            name = {"open_ms": "first_open_ms", "lag_max_ms": "first_episode_lag_max_ms"}[key]
            suffix = "" if traced else "_untraced"
            results[f"{backend}_{name}{suffix}"] = statistics.median(values)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = measure(args.runs)
    for backend in ("asyncio", "trio"):
        print(
            f"{backend:8} first open {results[f'{backend}_first_open_ms']:7.2f} ms "
            f"(untraced {results[f'{backend}_first_open_ms_untraced']:.2f}); "
            f"first episode's worst loop lag {results[f'{backend}_first_episode_lag_max_ms']:7.2f} ms "
            f"(untraced {results[f'{backend}_first_episode_lag_max_ms_untraced']:.2f})"
        )
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
