"""``rollout-trace summary`` end to end: which state it read, text and JSON, the options."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from rollout_trace_sdk.cli import main


def run(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def bundle(demo_bundle: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(demo_bundle, copy, symlinks=True)
    (copy / "state.json").unlink(missing_ok=True)
    return copy


def test_summary_reduces_once_then_reads_the_state_reduce_wrote(bundle: Path) -> None:
    code, reduced, err = run("summary", bundle)
    assert code == 0 and err.startswith(f"summary: reduced {bundle} (no state.json;")
    assert run("reduce", bundle)[0] == 0
    code, read, err = run("summary", bundle)
    assert code == 0
    assert (
        err == f"summary: read {bundle}/state.json (state.json is newer than the bundle's files)\n"
    )
    assert read == reduced
    code, again, err = run("summary", bundle / "state.json")
    assert (code, again, err) == (0, reduced, f"summary: read {bundle}/state.json\n")


def test_summary_text_puts_totals_first(bundle: Path) -> None:
    code, out, _ = run("summary", bundle)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("rollout ") and lines[2] == "totals"
    for label in ("agents", "inference calls", "tool calls", "terminal sessions", "tokens"):
        assert any(line.strip().startswith(label) for line in lines[3:15]), label
    for title in ("models (1)", "tool time by kind", "agents by tokens in", "compactions"):
        assert any(line.startswith(title) for line in lines), title


def test_summary_json_follows_the_documented_schema(bundle: Path) -> None:
    code, out, _ = run("summary", bundle, "--json")
    assert code == 0
    summary = orjson.loads(out)
    assert list(summary) == [
        "summary_version",
        "rollout",
        "thread",
        "totals",
        "models",
        "agents",
        "tools_by_kind",
        "compactions",
        "terminal_sessions",
        "failures",
        "calls",
        "omitted",
    ]
    assert summary["summary_version"] == 1 and summary["thread"] is None
    agents = summary["agents"]
    assert len(agents) == summary["totals"]["threads"]  # JSON keeps every row unless --limit


def test_limit_and_thread(bundle: Path) -> None:
    code, out, _ = run("summary", bundle, "--json", "--limit", "1")
    summary = orjson.loads(out)
    assert code == 0 and len(summary["agents"]) == 1
    assert summary["omitted"]["agents"] == summary["totals"]["threads"] - 1
    code, out, _ = run("summary", bundle, "--thread", "/root", "--json")
    summary = orjson.loads(out)
    assert summary["thread"]["agent_path"] == "/root"
    assert {c["type"] for c in summary["calls"]} >= {"inference_call", "tool_call", "compaction"}
    code, out, _ = run("summary", bundle, "--thread", "/root")
    assert code == 0 and any(line.startswith("calls (") for line in out.splitlines())


def test_bad_options_are_refused(bundle: Path) -> None:
    code, out, err = run("summary", bundle, "--thread", "/nobody")
    assert (code, out) == (1, "") and "no agent with path or thread id '/nobody'" in err
    code, out, err = run("summary", bundle, "--limit", "-1")
    assert (code, out) == (2, "") and "--limit must be 0 or more" in err


@pytest.mark.parametrize("columns", ["80", "50"])
def test_piped_output_is_plain_and_fits_columns(bundle: Path, columns: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rollout_trace_sdk", "summary", str(bundle)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": columns},
        check=True,
    )
    assert "\x1b[" not in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= int(columns)
