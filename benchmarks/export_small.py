"""Many small bundles: an RL run's one-episode rollouts exported as one part per bundle and
table (``pack=False``, what ``export`` wrote before packing) and packed (the default).

    python benchmarks/export_small.py [--count 3000] [--jobs 2] [--json] [--keep DIR]

Bundles: ``--count`` one-episode rollouts recorded with ``open_rollout`` in this process, 20 at
a time (a user message, a model call asking for a tool, the tool's result, a model call that
answers: rows in seven of the twelve tables), as an RL trainer records its episodes. Each way
of exporting writes a fresh directory and reports its files, bytes on disk, export time and
the driver's own CPU time (its serial share, however many workers); then, in a fresh process
each (so the peak is the query's own), ``SELECT count(*) FROM tool_calls`` (time and peak
RSS) and every ready-made query (best of 3), and whether both directories answer every
ready-made query alike. The machine is shared: compare figures measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rollout_trace_sdk.export.parquet import ExportOptions, run_export
from rollout_trace_sdk.export.query import RECIPES

_MB = 1024 * 1024

_RECORD = """
import sys, anyio
from rollout_trace_sdk.record import open_rollout

USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "solve"}]}

async def episode(root, n):
    async with open_rollout(root, model="policy-1", schema_version=3) as rollout:
        async with rollout.root.turn() as turn:
            history = turn.accept(USER)
            async with turn.inference({"model": "policy-1", "input": history}) as call:
                ask = {"type": "function_call", "name": "exec_command", "call_id": f"c{n}",
                       "arguments": '{"cmd": "pytest -q"}'}
                usage = {"input_tokens": 900 + n % 50, "output_tokens": 40, "total_tokens": 940}
                history += call.completed(response_id=f"r{n}a", output_items=[ask],
                                          token_usage=usage)
            async with turn.tool_call(f"c{n}", "exec_command", arguments=ask["arguments"]) as tool:
                said = {"type": "function_call_output", "call_id": f"c{n}",
                        "output": f"{n % 7} passed" if n % 5 else "1 failed"}
                if n % 5:
                    history.append(tool.completed(said))
                else:
                    history.append(tool.failed("exit 1", output_item=said))
            async with turn.inference({"model": "policy-1", "input": history}) as call:
                done = {"type": "message", "role": "assistant",
                        "content": [{"type": "output_text", "text": f"episode {n} done"}]}
                call.completed(response_id=f"r{n}b", output_items=[done], token_usage=usage)

async def main(root, count):
    for start in range(0, count, 20):
        async with anyio.create_task_group() as group:
            for n in range(start, min(count, start + 20)):
                group.start_soon(episode, root, n)

anyio.run(main, sys.argv[1], int(sys.argv[2]))
"""

_QUERY = """
import json, resource, sys, time
from rollout_trace_sdk.export.query import run
started = time.perf_counter()
_, rows = run(sys.argv[1], sys.argv[2])
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, "rows": rows}, default=str))
"""


def record(root: Path, count: int) -> None:
    """``count`` one-episode bundles under ``root`` (a child process: the recorder's threads
    and memory are not the export's)."""
    subprocess.run([sys.executable, "-c", _RECORD, str(root), str(count)], check=True, timeout=7200)


def _files(out: Path) -> tuple[int, int]:
    files = [p for p in out.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_blocks * 512 for p in files)


def _query(out: Path, sql: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _QUERY, str(out), sql],
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    answer: dict[str, Any] = json.loads(
        done.stdout.strip().splitlines()[-1]
    )  # after any progress bar
    return answer


def measure(bundles: Path, out: Path, *, pack: bool, jobs: int) -> dict[str, Any]:
    """Export ``bundles`` to ``out`` one way, then time its queries."""
    started, cpu = time.perf_counter(), time.process_time()
    summary = run_export([str(bundles)], ExportOptions(to=str(out)), jobs=jobs, pack=pack)
    seconds, driver_cpu = time.perf_counter() - started, time.process_time() - cpu
    files, disk = _files(out)
    count = _query(out, "SELECT count(*) FROM tool_calls")
    recipes: dict[str, float] = {}
    answers: dict[str, Any] = {}
    for name, (_, sql) in RECIPES.items():
        runs = [_query(out, sql) for _ in range(3)]
        recipes[name] = round(1000 * min(r["seconds"] for r in runs), 1)
        answers[name] = runs[0]["rows"]
    return {
        "exported": len(summary.exported),
        "failed": len(summary.failed),
        "export_s": round(seconds, 1),
        # the driver's own CPU time: what it does serially, however many workers there are
        "driver_cpu_s": round(driver_cpu, 1),
        "files": files,
        "disk_mb": round(disk / _MB, 1),
        "count": count["rows"][0][0],
        "count_s": round(count["seconds"], 2),
        "count_peak_mb": round(count["peak_mb"]),
        "recipes_ms": recipes,
        "_answers": answers,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=3000, help="bundles (default 3,000)")
    parser.add_argument("--jobs", type=int, default=2, help="export worker processes")
    parser.add_argument("--json", action="store_true", help="print a JSON line at the end")
    parser.add_argument("--keep", metavar="DIR", help="record into (or reuse) DIR/bundles")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="export-small-") as temp:
        work = Path(args.keep or temp)
        bundles = work / "bundles"
        if not bundles.is_dir():
            started = time.perf_counter()
            record(bundles, args.count)
            print(f"recorded {args.count} bundles in {time.perf_counter() - started:.0f} s")
        count, disk = _files(bundles)
        n = sum(1 for _ in bundles.iterdir())
        print(f"{n} bundles, {count} files, {disk / _MB:.1f} MB on disk; load {os.getloadavg()}")
        runs = {
            "one part per bundle": measure(
                bundles, Path(temp) / "loose", pack=False, jobs=args.jobs
            ),
            "packed": measure(bundles, Path(temp) / "packed", pack=True, jobs=args.jobs),
        }
    loose, packed = runs["one part per bundle"], runs["packed"]
    same = loose.pop("_answers") == packed.pop("_answers")
    print(
        f"\n{'':<22}{'files':>8}{'MB':>8}{'export s':>10}{'driver CPU s':>14}"
        f"{'count s':>9}{'count MB':>10}"
    )
    for name, f in runs.items():
        print(
            f"{name:<22}{f['files']:>8}{f['disk_mb']:>8}{f['export_s']:>10}"
            f"{f['driver_cpu_s']:>14}{f['count_s']:>9}{f['count_peak_mb']:>10}"
        )
    for name, f in runs.items():
        print(f"{name}: ready-made queries (ms, best of 3): {f['recipes_ms']}")
    print(f"every ready-made query answers alike: {same}; load {os.getloadavg()}")
    if args.json:
        print(json.dumps({"count": n, "runs": runs, "same_answers": same}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
