"""``rollout-trace summary`` end to end: which state it read, text and JSON, the options."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def test_a_state_reduced_while_the_log_grew_is_not_taken_for_up_to_date(
    bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``reduce`` of a bundle still being recorded wrote ``state.json`` after the recorder had
    written on (and closed the log) during the reduction: newer than every file, it was read by
    ``summary`` as up to date, a "running" rollout that had completed, for good (found by
    review user35). A state whose bundle changed while it was reduced is left older than the
    bundle's files, so ``summary`` reduces again."""
    import time

    from rollout_trace_sdk import cli

    log = bundle / "trace.jsonl"
    whole = log.read_bytes()
    lines = whole.splitlines(keepends=True)
    log.write_bytes(b"".join(lines[: len(lines) // 2]))
    real = cli._reduce

    def reduce_while_the_recorder_closes(path: str, **kwargs: Any) -> Any:
        reduced = real(path, **kwargs)
        log.write_bytes(whole)
        time.sleep(0.05)  # the state is written later than the log, as a slow reduction's is
        return reduced

    monkeypatch.setattr(cli, "_reduce", reduce_while_the_recorder_closes)
    assert run("reduce", bundle)[0] == 0
    monkeypatch.setattr(cli, "_reduce", real)
    code, out, err = run("summary", bundle, "--json")
    assert code == 0 and err.startswith(f"summary: reduced {bundle} (state.json is older"), err
    assert json.loads(out)["rollout"]["status"] == "completed"


def test_summary_text_puts_totals_first(bundle: Path) -> None:
    code, out, _ = run("summary", bundle)
    assert code == 0
    lines = out.splitlines()
    # the header wraps where its wall time is longer (the demo recorded on a loaded machine:
    # "145 ms wall" put "schema 2" on a line of its own; review27)
    first = lines.index("totals")
    assert lines[0].startswith("rollout ") and first <= 3 and lines[first - 1] == "", out
    for label in ("agents", "inference calls", "tool calls", "terminal sessions", "tokens"):
        assert any(line.strip().startswith(label) for line in lines[first + 1 : 15]), label
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


def test_thread_takes_an_id_prefix_as_its_help_says(bundle: Path) -> None:
    """``--thread`` takes a unique thread id prefix (as ``show --thread`` does, and as
    docs/summary.md says); its help said only "agent path or thread id" (found by the docs
    audit)."""
    from rollout_trace_sdk.cli import build_parser

    [commands] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    summary = commands.choices["summary"]
    # and a nickname, which it also takes (its help left that out: found by review30)
    assert "nickname, thread id or its prefix" in " ".join(summary.format_help().split())
    agents = json.loads(run("summary", bundle, "--json")[1])["agents"]
    named = next(a for a in agents if a["nickname"])
    code, out, err = run("summary", bundle, "--thread", named["nickname"], "--json")
    assert code == 0 and json.loads(out)["thread"]["thread_id"] == named["thread_id"], err
    child = agents[-1]["thread_id"]
    code, out, err = run("summary", bundle, "--thread", child[:-4], "--json")
    assert code == 0, err
    assert json.loads(out)["thread"]["thread_id"] == child


def test_bad_options_are_refused(bundle: Path) -> None:
    code, out, err = run("summary", bundle, "--thread", "/nobody")
    assert (code, out) == (1, "") and "no agent with path, nickname or thread id '/nobody'" in err
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


def test_piped_output_with_columns_zero_has_the_default_width(bundle: Path) -> None:
    """``COLUMNS=0`` (exported by some shells before the terminal's size is known) was taken
    as a width: every line wrapped at its first chance (44 characters where 109 fit)."""
    shown = [
        subprocess.run(
            [sys.executable, "-m", "rollout_trace_sdk", "summary", str(bundle)],
            capture_output=True,
            text=True,
            env={k: v for k, v in os.environ.items() if k != "COLUMNS"} | columns,
            check=True,
        ).stdout
        for columns in ({}, {"COLUMNS": "0"})
    ]
    assert shown[1] == shown[0]


def test_token_sums_past_64_bits_are_written_exact(demo_state: Any, tmp_path: Path) -> None:
    """Each count fits in 64 bits, their sum does not: orjson refused it and ``summary
    --json`` ended in an internal error (found by review)."""
    state = orjson.loads(orjson.dumps(demo_state))
    for call in state["inference_calls"].values():
        call["usage"] = {"input_tokens": 2**63, "output_tokens": 2**63 - 1}
    source = tmp_path / "state.json"
    source.write_bytes(orjson.dumps(state))
    code, out, _ = run("summary", source, "--json")
    assert code == 0
    calls = len(state["inference_calls"])
    tokens = json.loads(out)["totals"]["tokens"]
    assert (tokens["input_tokens"], tokens["output_tokens"]) == (calls * 2**63, calls * (2**63 - 1))
    code, out, _ = run("summary", source)
    assert code == 0 and f"{calls * 2**63:,} in" in out


def test_bidi_controls_never_reach_the_terminal(demo_state: Any, tmp_path: Path) -> None:
    """Text spells them out as ``show`` does; JSON writes them as ``\\uNNNN`` escapes (orjson
    writes them raw), which is the same JSON value (found by review)."""
    state = orjson.loads(orjson.dumps(demo_state))
    hostile = "/root/\u202eevil\u2066x\u2069\u200f\x9b"
    for thread in state["threads"].values():
        thread["agent_path"] = hostile
    source = tmp_path / "state.json"
    source.write_bytes(orjson.dumps(state))
    code, text, _ = run("summary", source)
    assert code == 0 and "/root/\\u202eevil\\u2066x\\u2069\\u200f\\x9b" in text
    code, out, _ = run("summary", source, "--json")
    assert code == 0 and "\\u202eevil\\u2066x\\u2069\\u200f\\u009b" in out
    for raw in (text, out):
        assert not any(ch in raw for ch in "\u202e\u2066\u2069\u200f\x9b")
    assert orjson.loads(out)["agents"][0]["agent_path"] == hostile


def test_a_strict_summary_does_not_read_a_state_only_lenient_reduction_made(
    tmp_path: Path,
) -> None:
    """A log cut by a crash: strict ``summary`` refused it, then read the ``state.json`` a
    ``reduce --lenient`` wrote as if it were sound (found by review)."""
    from tests.reduce.test_bundle import event_lines, make_bundle

    whole = event_lines().splitlines(keepends=True)[:-1]  # killed before it completed
    torn = make_bundle(tmp_path, b"".join(whole) + b'{"schema_version":2,"seq":9')
    assert run("summary", torn)[0] == 1
    assert run("reduce", torn, "--lenient")[0] == 0
    code, _, err = run("summary", torn)
    assert code == 1 and "EOF while parsing" in err  # the reducer's refusal, as before
    code, _, err = run("summary", torn, "--lenient")
    assert code == 0 and "read " in err  # lenient: the state lenient reduction wrote is used
