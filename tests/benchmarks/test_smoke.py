"""Every benchmark script runs end to end at a tiny size and reports its figures.

The figures at these sizes mean nothing (speed targets live in the scripts, measured against a
baseline of the same run); what is checked is that the script still runs against today's
code and prints what it promises. ``peers.py`` has its own test (test_peers_smoke.py).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.codex_oracle import codex_bin
from tests.conftest import CONFORMANCE, CONFORMANCE_V3
from tests.hostile import COMMANDS

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _run(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def _last_json(stdout: str) -> dict[str, Any]:
    """The JSON object a ``--json`` run ends with (one line, or an indented block)."""
    text = stdout.strip()
    start = text.rfind("\n{") + 1 if not text.endswith("}\n") else 0
    for candidate in (text.splitlines()[-1], text[start:]):
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        assert isinstance(value, dict)
        return value
    raise AssertionError(f"no JSON object at the end of:\n{stdout[-1000:]}")


def test_run(tmp_path: Path) -> None:
    figures = _last_json(_run("run.py", "--tiny", "--json"))
    for key in ("timer_ns", "payload_100k_ratio", "payload_100k_burst8_ratio"):
        assert figures[key] > 0, key
    # the longest pause's CPU tells whether the loop worked or waited (tool_calls.py)
    for key in ("max_tracing_pause_cpu_ms", "max_tracing_pause_cpu_ms_noredact"):
        assert figures[key] >= 0, key


@pytest.mark.skipif(
    shutil.which("valgrind") is None, reason="no valgrind (scripts/test.sh installs it)"
)
def test_instructions() -> None:
    figures = _last_json(_run("instructions.py", "--tiny", "--json"))
    # on the loop's thread and in all: counted, as numbers (at this size what the writer's
    # batching moves between two runs can outweigh 400 calls: CI once saw -32,790 a call)
    for key in ("tool_call_instructions", "tool_call_instructions_loop"):
        assert isinstance(figures[key], float) and math.isfinite(figures[key]), key


@pytest.mark.skipif(
    shutil.which("valgrind") is None, reason="no valgrind (scripts/test.sh installs it)"
)
def test_instructions_of_the_calls_alone() -> None:
    figures = _last_json(_run("instructions.py", "--tiny", "--calls", "--json"))
    # counted only inside the calls, no writer's batching in it: a count, never negative
    assert set(figures) == {"calls_instructions"}
    assert figures["calls_instructions"] > 0


def test_first_rollout() -> None:
    figures = _last_json(_run("first_rollout.py", "--runs", "1", "--json"))
    for backend in ("asyncio", "trio"):
        assert figures[f"{backend}_first_open_ms"] > 0
        assert figures[f"{backend}_first_episode_lag_max_ms_untraced"] >= 0


def test_load() -> None:
    figures = _last_json(
        _run("load.py", "--tasks", "3", "--events", "3", "--threads", "2", "--json")
    )
    assert figures["recording_completed"] is True
    assert figures["seq_strictly_increasing"] is True
    assert figures["tool_calls_ended"] == figures["tool_calls_expected"]


def test_soak() -> None:
    figures = _last_json(_run("soak.py", "--runs", "1", "--graceful", "0", "--json"))
    assert figures["runs"] == 1 and figures["problems"] == []
    assert figures["strict_ok"] == figures["lenient_ok"] == 1


def test_history() -> None:
    figures = _last_json(_run("history.py", "--steps", "2,4", "--json"))
    assert any(key.endswith("_size_growth_exponent") for key in figures)


def test_growth() -> None:
    figures = _last_json(_run("growth.py", "--turns", "20", "--big-mb", "1", "--json"))
    for schema in ("schema2", "schema3"):
        assert figures[schema]["lost"] == 0 and figures[schema]["events"] > 20 * 10
        assert figures[schema]["big_output_stall_s"] >= 0 and "rss_kb_per_turn" in figures[schema]


def test_redact() -> None:
    figures = _last_json(_run("redact.py", "--tiny", "--json"))
    assert figures and all(isinstance(row, dict) and row["bytes"] > 0 for row in figures.values())


def test_integrations() -> None:
    out = _run("integrations.py", "--blocks", "1", "--block", "1")
    assert "responses" in out and "chat" in out and "overhead" in out


def test_view_without_browser() -> None:
    figures = _last_json(_run("view.py", "--scale", "1", "--no-browser"))
    assert figures["events"] and figures["html_s"] and figures["reduce_s"]


def test_show_follow() -> None:
    out = _run("show_follow.py", "--before", "5", "--seconds", "1.5", "--every", "0.3")
    # every turn recorded while following is printed once the recording ends, and the
    # follower exits 0 on its own
    assert "never printed 0;" in out and "exit 0," in out, out


def test_summary() -> None:
    figures = _last_json(_run("summary.py", "--scale", "1", "--runs", "1", "--json"))
    assert figures["events"] and figures["summary_median_s"] and figures["reduce_s"]


def test_fuzz_bundles() -> None:
    figures = _last_json(
        _run("fuzz_bundles.py", "--scale", "1", "--cases", "1", "--mutants", "0", "--json")
    )
    assert figures["failures"] == 0 and figures["runs"] == len(COMMANDS)  # one case


def test_reduce_vs_codex(tmp_path: Path) -> None:
    figures = _last_json(
        _run("reduce_vs_codex.py", "--steps", "2", "--runs", "1", "--work", str(tmp_path), "--json")
    )
    rows = figures["rows"]
    assert isinstance(rows, list) and len(rows) == 1
    row = rows[0]
    assert "error" not in row and row["events"] > 0
    if codex_bin(2) is not None:
        assert row["identical"] is True


@pytest.mark.skipif(codex_bin(3) is None, reason="no Codex 0.171 binary (CODEX3_BIN)")
def test_reduce_v3_vs_codex(tmp_path: Path) -> None:
    out = _run(
        "reduce_v3_vs_codex.py",
        *("--steps", "2", "--corpus", "0", "--runs", "1", "--work", str(tmp_path)),
    )
    assert "loop N=2 (v3)" in out and "identical=True" in out


@pytest.mark.skipif(
    codex_bin(2) is None
    or codex_bin(3) is None
    or not CONFORMANCE.is_dir()
    or not CONFORMANCE_V3.is_dir(),
    reason="needs both Codex binaries and ../shared's conformance corpora",
)
@pytest.mark.parametrize("values", ["numbers", "strings"])
def test_values_vs_codex(values: str) -> None:
    out = _run("values_vs_codex.py", "--values", values, "--count", "1")
    assert "{'" in out.splitlines()[-1]  # the outcomes, counted
