"""``validate ROOT`` over a root of many bundles: serially (``--jobs 1``) and with workers.

    python benchmarks/validate.py [--count 2400] [--jobs 1,2] [--root DIR] [--json]

Bundles: ``--count`` copies of one ``rollout-trace demo`` bundle (one episode with its helper
agent, ~64 KB), or the bundles already under ``--root``. Each run is the command line in a
fresh process: its wall time, and, sampled every 20 ms from ``/proc`` (Linux), the peak RSS
of its largest process and of the whole tree (the driver, the forkserver, every worker), and
their CPU time (as of the last sample: at most 20 ms short a process): in all, the driver's,
and the busiest process's, which is what the wall time comes to when each process has a core
of its own, as on a quiet machine (a shared one's wall times move with its load). The machine is shared: compare
figures measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent


def _tree_rss(pid: int, cpu: dict[int, float]) -> tuple[int, int]:
    """The summed RSS (bytes) of ``pid`` and its descendants, and the largest one's, from
    ``/proc`` (the workers are the forkserver's children, which no ``wait`` of ours reaps:
    ``ru_maxrss`` would miss them); each one's CPU seconds so far put in ``cpu``."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    total, largest, todo = 0, 0, [pid]
    while todo:
        at = todo.pop()
        total += rss.get(at, 0)
        largest = max(largest, rss.get(at, 0))
        if at in used:
            cpu[at] = used[at]
        todo += children.get(at, [])
    return total, largest


def _run(root: Path, jobs: int) -> dict[str, float]:
    command = [
        sys.executable,
        "-m",
        "rollout_trace_sdk",
        "validate",
        str(root),
        "--jobs",
        str(jobs),
    ]
    env = {**os.environ, "PYTHONPATH": str(_ROOT)}
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    peak = largest = 0
    cpu: dict[int, float] = {}
    while process.poll() is None:
        tree, one = _tree_rss(process.pid, cpu)
        peak, largest = max(peak, tree), max(largest, one)
        time.sleep(0.02)
    wall = time.perf_counter() - start
    return {
        "jobs": jobs,
        "wall_s": wall,
        "largest_rss_mb": largest / 2**20,
        "tree_rss_mb": peak / 2**20,
        "cpu_s": sum(cpu.values()),
        "driver_cpu_s": cpu.get(process.pid, 0.0),
        # what wall time comes to when each process has a core of its own (a quiet machine)
        "busiest_cpu_s": max(cpu.values(), default=0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2400)
    parser.add_argument("--jobs", default="1,2")
    parser.add_argument("--root", type=Path)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.root
        if root is None:
            subprocess.run(
                [sys.executable, "-m", "rollout_trace_sdk", "demo", "--out", f"{scratch}/demo"],
                env={**os.environ, "PYTHONPATH": str(_ROOT)},
                check=True,
                stdout=subprocess.DEVNULL,
            )
            [demo] = Path(scratch, "demo").iterdir()
            root = Path(scratch, "root")
            for n in range(args.count):
                shutil.copytree(demo, root / f"b{n:05d}")
        count = sum(1 for _ in root.iterdir())
        rows = [_run(root, jobs) for jobs in map(int, args.jobs.split(","))]
    if args.json:
        print(json.dumps({"bundles": count, "runs": rows}))
        return
    print(f"validate ROOT over {count} bundles")
    for row in rows:
        print(
            f"  --jobs {row['jobs']}: {row['wall_s']:.1f} s wall, largest process "
            f"{row['largest_rss_mb']:.0f} MB, whole tree {row['tree_rss_mb']:.0f} MB peak; "
            f"CPU {row['cpu_s']:.1f} s, the driver's {row['driver_cpu_s']:.1f} s, the busiest "
            f"process's {row['busiest_cpu_s']:.1f} s"
        )


if __name__ == "__main__":
    main()
