"""``diff_rollouts``: ``rollout-trace diff A B --json``'s comparison from Python."""

from __future__ import annotations

import io
import re
from pathlib import Path

import orjson
import pytest

import rollout_trace_sdk
from rollout_trace_sdk import ReduceError, diff_rollouts
from rollout_trace_sdk.cli import main

from ..doc_blocks import python_blocks
from .test_diff import _SCRIPT, _record


def test_it_is_what_the_command_prints(tmp_path: Path) -> None:
    """The same dict ``--json`` prints, options included; a state.json is a source too."""
    a = _record(tmp_path / "a", _SCRIPT)
    b = _record(tmp_path / "b", [*_SCRIPT[:2], _SCRIPT[3]])
    out = io.StringIO()
    argv = ["diff", str(a), str(b), "--json", "--actions-only", "--ignore", "pid \\d+"]
    assert main(argv, out=out, err=io.StringIO()) == 0
    diff = diff_rollouts(a, b, actions_only=True, ignore=[r"pid \d+"])
    assert diff == orjson.loads(out.getvalue())
    assert diff["alike"] is False and diff["agents"][0]["counts"]["only_a"] == 1
    assert rollout_trace_sdk.diff_rollouts is diff_rollouts
    state = tmp_path / "state.json"
    assert main(["reduce", str(a), "-o", str(state)], out=io.StringIO()) == 0
    assert diff_rollouts(state, a)["alike"] is True


def test_bad_sources_raise_the_readers_errors(tmp_path: Path) -> None:
    a = _record(tmp_path / "a", _SCRIPT)
    with pytest.raises(ReduceError):
        diff_rollouts(a, tmp_path / "nothing")
    with pytest.raises(LookupError, match="no agent '/root/x'"):
        diff_rollouts(a, a, thread="/root/x")
    with pytest.raises(re.error):
        diff_rollouts(a, a, ignore=["("])


def test_the_docs_block_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/viewing.md's block, on two recorded runs at the paths it names."""
    (block,) = [
        code
        for name, code in python_blocks().items()
        if name == "viewing.md: from rollout_trace_sdk import diff_rollouts"
    ]
    for side, steps in (("v1/trace-a", _SCRIPT), ("v2/trace-b", [*_SCRIPT[:2], _SCRIPT[3]])):
        made = _record(tmp_path / "made" / side, steps)
        (tmp_path / "runs" / side).parent.mkdir(parents=True, exist_ok=True)
        made.rename(tmp_path / "runs" / side)
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    monkeypatch.setattr("sys.stdout", printed)
    exec(compile(block, "viewing.md", "exec"), {})
    assert printed.getvalue().startswith("/root {")
