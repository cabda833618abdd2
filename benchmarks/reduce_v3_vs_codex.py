"""Our reducer against Codex 0.171's ``codex debug trace-reduce`` on schema-3 bundles.

Two kinds of bundle: the largest bundles of ``../shared/conformance-v3`` (small: what 0.171
recorded), and long agent loops from ``reduce_vs_codex.py`` (every request resends the whole
history) converted to schema 3 with ``rollout-trace convert`` (payloads packed into zstd
shards). Both reducers run as child processes, alternating; wall time is the median, peak RSS
the largest ``wait4`` figure; outputs must be byte-identical.

A third kind with ``--demo-scale N``: ``rollout-trace demo --scale N`` written in schema 3
(templates whose parts lie in older shards). Targets (ours / Codex 0.171's, same run): the
400-step loop no slower and at most twice the peak RSS; the demo no slower.

    CODEX3_BIN=... python benchmarks/reduce_v3_vs_codex.py --quick    # N = 100, 400
    CODEX3_BIN=... python benchmarks/reduce_v3_vs_codex.py            # adds N = 800
    CODEX3_BIN=... python benchmarks/reduce_v3_vs_codex.py --demo-scale 400
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.reduce_vs_codex import cached_bundle, compare, demo_bundle
from rollout_trace_sdk.reduce.convert import convert_bundle

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "conformance-v3"
#: (row label, figure) -> the most ours / Codex's may be.
TARGETS: dict[tuple[str, str], float] = {
    ("loop N=400 (v3)", "time_ratio"): 1.0,
    ("loop N=400 (v3)", "rss_ratio"): 2.0,
    ("demo", "time_ratio"): 1.0,
}


def _largest_corpus_bundles(count: int) -> list[Path]:
    bundles = [p.parent for p in CORPUS.glob("*/trace-*/manifest.json")]
    size = {b: sum(f.stat().st_size for f in b.rglob("*") if f.is_file()) for b in bundles}
    return sorted(bundles, key=lambda b: -size[b])[:count]


def _v3_loop(work: Path, steps: int) -> Path:
    target = work / f"loop-{steps}-v3"
    if not (target / ".complete").exists():
        import shutil

        shutil.rmtree(target, ignore_errors=True)
        convert_bundle(cached_bundle(work, steps), target, 3)
        (target / ".complete").touch()
    return target


def _show(row: dict[str, Any]) -> None:
    if "error" in row:
        print(f"{row['bundle']:>34} ERROR {row['error']}")
        return
    print(
        f"{row['bundle']:>34} {row['mb']:>7} MB {row['events']:>7} ev  "
        f"ours {row['ours_s']:>7.3f} s {row['ours_rss_mb']:>7.1f} MB  "
        f"codex {row.get('codex_s', float('nan')):>7.3f} s "
        f"{row.get('codex_rss_mb', float('nan')):>7.1f} MB  "
        f"time x{row.get('time_ratio', float('nan'))}  rss x{row.get('rss_ratio', float('nan'))}  "
        f"identical={row.get('identical')}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 100 and 400 only")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, nargs="*", help="explicit loop lengths")
    parser.add_argument("--corpus", type=int, default=2, help="largest corpus bundles to time")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "rt-bench")
    parser.add_argument(
        "--demo-scale", type=int, default=0, help="also time `rollout-trace demo --scale N`"
    )
    args = parser.parse_args()
    codex = os.environ.get("CODEX3_BIN")
    if not codex:
        print("CODEX3_BIN is not set: measuring our reducer alone", file=sys.stderr)
    args.work.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-v3-"))
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = []
    for bundle in _largest_corpus_bundles(args.corpus) if CORPUS.is_dir() else []:
        rows.append(compare(bundle, f"corpus {bundle.parent.name}", codex, args.runs, scratch))
        _show(rows[-1])
    for steps in args.steps or ((100, 400) if args.quick else (100, 400, 800)):
        bundle = _v3_loop(args.work, steps)
        rows.append(compare(bundle, f"loop N={steps} (v3)", codex, args.runs, scratch))
        _show(rows[-1])
    demo = demo_bundle(args.work, args.demo_scale, schema=3) if args.demo_scale else None
    if demo is not None:
        rows.append(compare(demo, f"demo x{args.demo_scale} (v3)", codex, args.runs, scratch))
        _show(rows[-1])
    for line in _verdict(rows):
        print(line)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def _verdict(rows: list[dict[str, Any]]) -> list[str]:
    """Each target next to its figure from this run (rows that ran)."""
    lines = []
    for (label, figure), most in TARGETS.items():
        for row in rows:
            if row["bundle"].startswith(label) and figure in row:
                ok = "met" if row[figure] <= most else "NOT met"
                lines.append(f"{row['bundle']} {figure}: {row[figure]} (target <= {most}) {ok}")
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
