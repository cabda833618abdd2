"""benchmarks/export.py runs end to end on a few bundles (no Ray: its own test starts one) and
reports every figure. No timing thresholds: the targets are printed by the script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from rollout_trace_sdk.export.query import RECIPES

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "export.py"


def _report(script: Path, *args: str) -> tuple[dict[str, Any], str]:
    """Run a benchmark script with ``--json``; its report (the last line) and its output."""
    done = subprocess.run(
        [sys.executable, str(script), *args, "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stdout


def test_small_run_reports_every_figure() -> None:
    report, stdout = _report(SCRIPT, "--count", "4", "--scales", "1,2", "--no-ray")
    assert report["count"] == 4 and report["engines_agree"] is True
    assert set(report["runs"]) == {"1 process", "2 processes"}
    for name, run in report["runs"].items():
        assert run["bundles"] == 4 and run["failed"] == 0, name
        assert run["bundles_per_s"] > 0 and run["mb_per_s"] > 0, name
        assert all(mb > 0 for mb in run["peak_rss_mb_per_worker"]), name
    assert report["rerun_skipped"] == 4
    assert set(report["query_ms"]) == set(RECIPES)
    assert "target 2 processes >= 1.8x one" in stdout


def test_export_small_runs_and_both_ways_answer_alike() -> None:
    """benchmarks/export_small.py (one part per bundle against packs) was the one script
    under benchmarks/ no smoke test ran, though docs/benchmarks.md says each runs in CI at a
    tiny size (found by docs33)."""
    report, _ = _report(SCRIPT.with_name("export_small.py"), "--count", "3", "--jobs", "1")
    assert report["count"] == 3 and report["same_answers"] is True
    assert set(report["runs"]) == {"one part per bundle", "packed"}
    for name, run in report["runs"].items():
        assert run["exported"] == 3 and run["failed"] == 0, name
        assert run["count"] > 0 and set(run["recipes_ms"]) == set(RECIPES), name
