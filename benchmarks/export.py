"""Export throughput: bundles/s and MB/s with 1 and 2 processes and with Ray; per-worker peak
memory; DuckDB query times on the result.

    python benchmarks/export.py [--count 1000] [--scales 1,4,16] [--no-ray] [--json]

Bundles: the demo recorded once per scale (a real agent loop with subprocess tools, a
sub-agent and a compaction; scale multiplies its length), every other scale converted to
the other schema, then copied round-robin to ``--count`` bundle directories, so the mix holds both
schemas and sizes from tens of KB to about a MB. Each engine exports all of them into a fresh
directory:

* ``1 process``: ``--jobs 1`` (in the driver's process; the baseline),
* ``2 processes``: ``--jobs 2`` (spawned pool),
* ``ray 1 CPU`` and ``ray 2 CPU``: ``--engine ray`` on a local Ray started with 1, then 2
  CPUs (its start-up, tens of seconds on this machine, is timed apart from the export).

``CPU ms/b`` is the CPU time one bundle took in its worker and ``busy`` the workers' CPU time
over the wall time (how many cores the run actually got): on a machine shared with other
work, a speed-up below 2× with ``busy`` below 2 means the cores were taken, not that the
export serialises. Targets, printed as met or not: 2 processes ≥ 1.8× one process's bundles/s; each worker's peak
RSS bounded by the largest single bundle's export, not by the number of bundles (a process
that exports only the largest bundle is the baseline; the target is within 1.5× of it).
Then the documented queries (``rollout-trace query --recipe``) time on the 2-process export
(best of 3). The machine is shared: compare figures measured in the same run.
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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rollout_trace_sdk.export.parquet import ExportOptions, ExportSummary, run_export
from rollout_trace_sdk.export.query import RECIPES, run

_MB = 1024 * 1024


def _cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "rollout_trace_sdk", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    return done.stdout


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def make_templates(work: Path, scales: list[int]) -> list[Path]:
    """One demo bundle per scale; every other one converted to the other schema (the demo
    records schema 3, or what ``ROLLOUT_TRACE_SCHEMA`` says: the tests set 2, and convert
    refuses a bundle already of the schema asked for)."""
    templates = []
    for n, scale in enumerate(scales):
        bundle = Path(
            _cli("demo", "--out", str(work / f"demo{scale}"), "--scale", str(scale)).splitlines()[0]
        )
        if n % 2 == 1:
            schema = json.loads((bundle / "manifest.json").read_bytes())["schema_version"]
            other = "2" if schema == 3 else "3"
            converted = work / f"demo{scale}-v{other}" / bundle.name
            converted.parent.mkdir(parents=True)
            _cli("convert", str(bundle), "--to", other, "-o", str(converted))
            bundle = converted
        templates.append(bundle)
    return templates


def make_bundles(templates: list[Path], root: Path, count: int) -> int:
    """``count`` bundles (hard-linked copies of the templates, round-robin); total bytes."""
    total = 0
    for n in range(count):
        template = templates[n % len(templates)]
        target = root / f"b{n:05d}" / template.name
        shutil.copytree(template, target, copy_function=os.link)
        total += _size(target)
    return total


def _figures(summary: ExportSummary, seconds: float) -> dict[str, Any]:
    peaks = summary.max_rss_kb_by_pid()
    return {
        "bundles": len(summary.exported),
        "failed": len(summary.failed),
        "seconds": round(seconds, 2),
        "bundles_per_s": round(len(summary.exported) / seconds, 1),
        "mb_per_s": round(summary.bytes_exported / _MB / seconds, 2),
        "cpu_ms_per_bundle": round(
            1000 * sum(r.cpu_seconds for r in summary.exported) / max(1, len(summary.exported)), 1
        ),
        "parallelism": round(sum(r.cpu_seconds for r in summary.exported) / seconds, 2),
        "workers": len(peaks),
        "peak_rss_mb_per_worker": sorted(round(kb / 1024, 1) for kb in peaks.values()),
    }


def _export(root: Path, out: Path, *, jobs: int, engine: str = "process") -> dict[str, Any]:
    started = time.perf_counter()
    summary = run_export([str(root)], ExportOptions(to=str(out)), jobs=jobs, engine=engine)
    return _figures(summary, time.perf_counter() - started)


def _largest_alone(bundle: Path, out: Path) -> float:
    """Peak RSS (MB) of a fresh process exporting only ``bundle`` (the memory baseline)."""
    code = (
        "import resource, sys;"
        "from rollout_trace_sdk.export.parquet import ExportOptions, run_export;"
        f"run_export([{str(bundle)!r}], ExportOptions(to={str(out)!r}), jobs=1);"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600
    )
    return round(int(done.stdout.split()[-1]) / 1024, 1)


def _ray(root: Path, out: Path, cpus: int) -> dict[str, Any]:
    import ray

    started = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - started
    try:
        figures = _export(root, out, jobs=cpus, engine="ray")
    finally:
        ray.shutdown()
    figures["startup_s"] = round(startup, 1)
    return figures


def _query_times(out: Path) -> dict[str, float]:
    times = {}
    for name, (_, sql) in RECIPES.items():
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            run(out, sql)
            best = min(best, time.perf_counter() - started)
        times[name] = round(best * 1000, 1)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="bundles (default 1,000)")
    parser.add_argument("--scales", default="1,4,16", help="demo scales of the templates")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray run")
    parser.add_argument("--json", action="store_true", help="print a JSON line at the end")
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    with tempfile.TemporaryDirectory(prefix="export-bench-") as temp:
        work = Path(temp)
        templates = make_templates(work / "templates", scales)
        total = make_bundles(templates, work / "bundles", args.count)
        sizes = {t.parent.name: round(_size(t) / 1024, 1) for t in templates}
        print(f"{args.count} bundles, {total / _MB:.1f} MB; template KB: {sizes}")
        runs = {
            "1 process": _export(work / "bundles", work / "out1", jobs=1),
            "2 processes": _export(work / "bundles", work / "out2", jobs=2),
        }
        if not args.no_ray:
            try:
                for cpus in (1, 2):
                    runs[f"ray {cpus} CPU"] = _ray(work / "bundles", work / f"out-ray{cpus}", cpus)
            except ImportError:
                print("ray is not installed: skipped (pip install '.[ray]' in a checkout)")
        largest = max(templates, key=_size)
        alone = _largest_alone(largest, work / "out-largest")
        rerun_started = time.perf_counter()
        rerun = run_export([str(work / "bundles")], ExportOptions(to=str(work / "out2")), jobs=2)
        rerun_s = round(time.perf_counter() - rerun_started, 2)
        queries = _query_times(work / "out2")
        equal = all(
            run(work / name, "SELECT count(*), sum(conversation_items) FROM rollouts")
            == run(work / "out1", "SELECT count(*), sum(conversation_items) FROM rollouts")
            for name in ("out2", "out-ray1", "out-ray2")
            if (work / name).is_dir()
        )
    print(
        f"\n{'engine':<14}{'bundles/s':>10}{'MB/s':>8}{'seconds':>9}{'CPU ms/b':>9}{'busy':>6}"
        "  peak RSS per worker (MB)"
    )
    for name, f in runs.items():
        extra = f"  (Ray start-up {f['startup_s']} s, not included)" if "startup_s" in f else ""
        print(
            f"{name:<14}{f['bundles_per_s']:>10}{f['mb_per_s']:>8}{f['seconds']:>9}"
            f"{f['cpu_ms_per_bundle']:>9}{f['parallelism']:>6}  "
            f"{f['peak_rss_mb_per_worker']}{extra}"
        )
    speedup = runs["2 processes"]["bundles_per_s"] / runs["1 process"]["bundles_per_s"]
    if "ray 2 CPU" in runs:
        ray_speedup = runs["ray 2 CPU"]["bundles_per_s"] / runs["ray 1 CPU"]["bundles_per_s"]
        print(f"ray 2 CPUs vs 1: {ray_speedup:.2f}x")
    peak = max(max(f["peak_rss_mb_per_worker"]) for f in runs.values())
    print(f"\nre-run with nothing changed: {rerun.skipped} skipped in {rerun_s} s")
    print(f"tables of every engine agree: {equal}")
    print(
        f"target 2 processes >= 1.8x one: {speedup:.2f}x -> {'met' if speedup >= 1.8 else 'NOT met'}"
    )
    print(
        f"target worker memory bounded by the largest bundle: peak {peak} MB vs {alone} MB "
        f"exporting only the largest -> {'met' if peak <= 1.5 * alone else 'NOT met'}"
    )
    print(
        "DuckDB query times (ms, best of 3): " + ", ".join(f"{k} {v}" for k, v in queries.items())
    )
    if args.json:
        report = {
            "count": args.count,
            "mb": round(total / _MB, 1),
            "runs": runs,
            "speedup_2_vs_1": round(speedup, 2),
            "largest_alone_rss_mb": alone,
            "rerun_skipped": rerun.skipped,
            "rerun_s": rerun_s,
            "engines_agree": equal,
            "query_ms": queries,
        }
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
