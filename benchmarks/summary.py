"""``rollout-trace summary`` on a large bundle whose state.json is up to date.

Records ``rollout-trace demo --scale N`` (default 400: 401 agents, ~32,000 events), reduces it
once with ``rollout-trace reduce`` (which writes BUNDLE/state.json: the baseline), then runs
``rollout-trace summary BUNDLE`` (text, piped) and ``--json`` as a user would, in a fresh
process each time, and reports the median and best wall time. Target: <= 1 s. The interpreter's
own start-up (``python -c pass``) and the CLI's (``rollout-trace --version``) are measured in
the same run, so a loaded machine shows in every figure.

    python benchmarks/summary.py [--scale 400] [--bundle DIR] [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from rollout_trace_sdk.cli import main as cli


def _wall(argv: list[str], runs: int, cpu: list[float] | None = None) -> list[float]:
    """Wall times of ``runs`` fresh processes; their CPU times (user + system) go to ``cpu``."""
    times = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if cpu is not None:
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=400)
    parser.add_argument("--bundle", type=Path, help="use this bundle instead of recording one")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="summary-bench-"))
    py = sys.executable
    try:
        bundle = args.bundle
        if bundle is None:
            out = io.StringIO()
            assert cli(["demo", "--out", str(work), "--scale", str(args.scale)], out=out) == 0
            bundle = Path(out.getvalue().splitlines()[0])
        (reduce_s,) = _wall([py, "-m", "rollout_trace_sdk", "reduce", str(bundle)], 1)
        summary = [py, "-m", "rollout_trace_sdk", "summary", str(bundle)]
        check = subprocess.run(summary, capture_output=True, text=True, check=True)
        assert "state.json is newer" in check.stderr, check.stderr
        cpu: list[float] = []
        text = _wall(summary, args.runs, cpu)
        as_json = _wall([*summary, "--json"], args.runs)
        python = _wall([py, "-c", "pass"], args.runs)
        version = _wall([py, "-m", "rollout_trace_sdk", "--version"], args.runs)
        figures: dict[str, Any] = {
            "load_average": os.getloadavg()[0],
            "cpus": os.cpu_count(),
            "events": sum(1 for _ in (bundle / "trace.jsonl").open("rb")),
            "state_mb": (bundle / "state.json").stat().st_size / 1e6,
            "reduce_s": reduce_s,
            "summary_median_s": statistics.median(text),
            "summary_best_s": min(text),
            "summary_cpu_s": statistics.median(cpu),
            "summary_json_median_s": statistics.median(as_json),
            "python_startup_s": statistics.median(python),
            "cli_startup_s": statistics.median(version),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(orjson.dumps(figures).decode())
        return
    print(f"machine: {figures['cpus']} CPUs, load average {figures['load_average']:.1f}")
    print(f"bundle: {figures['events']:,} events, state.json {figures['state_mb']:.1f} MB")
    print(f"reduce (baseline, writes state.json)  {figures['reduce_s']:6.2f} s")
    print(
        f"summary, state.json up to date        {figures['summary_median_s']:6.2f} s median, "
        f"{figures['summary_best_s']:.2f} s best (target <= 1 s); "
        f"CPU {figures['summary_cpu_s']:.2f} s"
    )
    print(f"summary --json                        {figures['summary_json_median_s']:6.2f} s")
    print(
        f"python -c pass / rollout-trace --version  {figures['python_startup_s']:.2f} s / "
        f"{figures['cli_startup_s']:.2f} s"
    )


if __name__ == "__main__":
    main()
