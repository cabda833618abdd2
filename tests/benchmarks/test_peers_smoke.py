"""benchmarks/peers.py runs end to end (our recorder and stdlib logging, which are always
installed) and reports every figure. No timing thresholds: speed targets live in the script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "peers.py"
FIGURES = (
    "event_p50_us",
    "event_p99_us",
    "tool_p50_us",
    "tool_p99_us",
    "lag_p99_ms",
    "lag_max_ms",
    "burst_tools_delivered",
    "events_delivered",
    "events_per_s",
)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_quick_run_reports_every_figure() -> None:
    done = _run("--quick", "--json", "--peers", "ours,logging")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["quick"] is True and report["runs"] == 1
    assert set(report["peers"]) == {"ours", "logging"}
    for name, figures in report["peers"].items():
        assert figures["installed"] is True, name
        for key in FIGURES:
            assert figures[key] > 0, (name, key)
        assert figures["event_p50_us"] <= figures["event_p99_us"], name
        assert figures["tool_p50_us"] <= figures["tool_p99_us"], name
        assert figures["lag_p99_ms"] <= figures["lag_max_ms"], name
        # under its byte budget our recorder keeps everything; the queue is unbounded
        assert figures["events_delivered"] == 1.0, name
        assert figures["burst_tools_delivered"] == 1.0, name
    targets = report["targets"]
    assert targets["event_p50_best_peer"] == "logging"
    assert targets["event_p50_ratio"] > 0
    assert {"event_p50_met", "lag_p99_ms_met", "lag_max_ms_met"} <= set(targets)
    # the table is printed before the JSON line
    assert "ours (rollout_trace_sdk)" in done.stdout and "target:" in done.stdout


def test_unknown_peer_is_refused() -> None:
    done = _run("--quick", "--peers", "ours,nope")
    assert done.returncode == 2
    assert "unknown peer(s): nope" in done.stderr
