"""Our reducer against Codex 0.171's ``codex debug trace-reduce`` on schema-3 bundles.

Two kinds of bundle: the largest bundles of ``../shared/conformance-v3`` (small: what 0.171
recorded), and long agent loops from ``reduce_vs_codex.py`` (every request resends the whole
history) converted to schema 3 with ``rollout-trace convert`` (payloads packed into zstd
shards). Both reducers run as child processes, alternating; wall time is the median, peak RSS
the largest ``wait4`` figure; outputs must be byte-identical.

    CODEX3_BIN=... python benchmarks/reduce_v3_vs_codex.py --quick    # N = 100, 400
    CODEX3_BIN=... python benchmarks/reduce_v3_vs_codex.py            # adds N = 800
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.reduce_vs_codex import cached_bundle, compare
from rollout_trace_sdk.reduce.convert import convert_bundle

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "conformance-v3"


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
    args = parser.parse_args()
    codex = os.environ.get("CODEX3_BIN")
    if not codex:
        print("CODEX3_BIN is not set: measuring our reducer alone", file=sys.stderr)
    args.work.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-v3-"))
    for bundle in _largest_corpus_bundles(args.corpus) if CORPUS.is_dir() else []:
        _show(compare(bundle, f"corpus {bundle.parent.name}", codex, args.runs, scratch))
    for steps in args.steps or ((100, 400) if args.quick else (100, 400, 800)):
        bundle = _v3_loop(args.work, steps)
        _show(compare(bundle, f"loop N={steps} (v3)", codex, args.runs, scratch))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
