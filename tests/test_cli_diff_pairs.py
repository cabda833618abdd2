"""``rollout-trace diff ROOT_A [ROOT_B] --by KEY``: an eval set's runs of two agent versions,
paired by a metadata key and compared pair by pair."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import orjson
import pytest

from rollout_trace_sdk.cli import main

from .view.test_diff import _SCRIPT, _record, _Step

#: v2 of a scripted agent: its build fails on task 2, it skips the tests on task 3.
_FAILED: list[_Step] = [_SCRIPT[0], ("exec_command", '{"cmd":"make"}', "error", True), _SCRIPT[3]]
_SKIPPED: list[_Step] = [*_SCRIPT[:2], _SCRIPT[3]]


def _eval_set(root: Path) -> None:
    """Tasks 1-3 with v1 and v2 under one root, task 4 with v1 only."""
    for task, v2 in ((1, _SCRIPT), (2, _FAILED), (3, _SKIPPED)):
        _record(root, _SCRIPT, metadata={"task": task, "version": "v1"})
        _record(root, v2, metadata={"task": task, "version": "v2"})
    _record(root, _SCRIPT, metadata={"task": 4, "version": "v1"})


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["diff", *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_pairs_by_a_key_one_line_each(tmp_path: Path) -> None:
    """A line per pair that differs, the pairs alike, the values of one side only, then how
    to see one pair in full (the last line went unchecked: mut52)."""
    root = tmp_path / "runs"
    _eval_set(root)
    sides = ["--by", "task", "--meta-a", "version=v1", "--meta-b", "version=v2"]
    code, text, err = _run(str(root), *sides, "--exit-code")
    assert code == 3, err
    lines = text.splitlines()
    assert lines[0] == "by task: 4 values · 2 differ · 1 alike · 1 on one side only"
    assert lines[1].startswith('2  differ  tokens 400 → 300 · /root step 2: exec_command {"cmd')
    assert lines[1].endswith("(completed) → failed")
    assert lines[2].startswith("3  differ  tokens 400 → 300 · /root A's step 3: exec_command")
    assert lines[3].startswith("4  only in A: ")
    assert "alike: 1" in lines
    assert (
        lines[-1] == "one pair in full: rollout-trace diff A B (--json gives each pair's bundles)"
    )


def test_json_one_pair_a_line(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    _eval_set(root)
    sides = ["--by", "task", "--meta-a", "version=v1", "--meta-b", "version=v2", "--json"]
    code, text, err = _run(str(root), *sides)
    assert code == 0, err
    pairs = [orjson.loads(line) for line in text.splitlines()]
    assert [(p["value"], p["alike"]) for p in pairs] == [
        (1, True),
        (2, False),
        (3, False),
        (4, False),
    ]
    assert pairs[1]["diff"]["b"]["metadata"] == {"task": 2, "version": "v2"}
    assert pairs[3]["b"] is None and pairs[3]["diff"] is None
    assert Path(pairs[0]["a"]).parent == root


def test_thread_compares_one_agent_in_every_pair(tmp_path: Path) -> None:
    """``--thread`` compares that agent in every pair; a pair where neither run has it has
    nothing of it that differs (it was counted a value on one side only)."""
    helper: list[_Step] = [("ls", "{}", "x", False), "ok"]
    for version, steps in (("v1", _SCRIPT), ("v2", _SKIPPED)):
        _record(tmp_path / "runs", steps, helper=helper, metadata={"task": 1, "version": version})
        _record(tmp_path / "runs", steps, metadata={"task": 2, "version": version})
    sides = ["--by", "task", "--meta-a", "version=v1", "--meta-b", "version=v2"]
    code, text, err = _run(str(tmp_path / "runs"), *sides, "--thread", "/root/helper")
    assert code == 0, err
    assert text.splitlines() == ["by task: 2 values · 0 differ · 2 alike", "alike: 1, 2"]
    code, text, _ = _run(str(tmp_path / "runs"), *sides, "--thread", "/root")
    assert text.splitlines()[0] == "by task: 2 values · 2 differ · 0 alike"
    # an agent no pair has (a typo) is refused, as ``diff A B --thread`` refuses it: every
    # pair read alike and it exited 0 (docs53)
    code, text, err = _run(str(tmp_path / "runs"), *sides, "--thread", "/root/helpr")
    assert (code, text) == (1, "")
    assert "no agent '/root/helpr' in any of the 2 pairs" in err


def test_two_roots(tmp_path: Path) -> None:
    """v1's runs under one root, v2's under another: no --meta-a/--meta-b needed."""
    for task in (1, 2):
        _record(tmp_path / "v1", _SCRIPT, metadata={"task": task})
        _record(tmp_path / "v2", _SCRIPT if task == 1 else _SKIPPED, metadata={"task": task})
    code, text, _ = _run(str(tmp_path / "v1"), str(tmp_path / "v2"), "--by", "task")
    assert code == 0
    assert text.splitlines()[0] == "by task: 2 values · 1 differ · 1 alike"


@pytest.mark.parametrize(
    ("argv", "message", "code"),
    [
        (["--by", "task"], "--by with one root compares nothing", 2),
        (["--by", "task", "--meta-a", "=x"], "give KEY=VALUE", 2),
        (
            ["--by", "task", "--meta-a", "a", "--steps"],
            "not with --steps, --context or --latest",
            2,
        ),
        (["--by", "nothing", "--meta-a", "version=v1"], "has metadata 'nothing'", 1),
        (["--by", "task", "--meta-a", "a", "--ignore", "("], "--ignore '(': missing )", 2),
    ],
)
def test_refused_clearly(tmp_path: Path, argv: list[str], message: str, code: int) -> None:
    root = tmp_path / "runs"
    _record(root, _SCRIPT, metadata={"task": 1, "version": "v1"})
    got, _, err = _run(str(root), *argv)
    assert (got, message in err, "Traceback" in err) == (code, True, False), err


def test_control_characters_spelled_out(tmp_path: Path) -> None:
    """A tool name, its arguments and a metadata value holding terminal control characters
    (a colour, a window title, a screen clear) are printed spelled out, never sent to the
    terminal; rich markup in them is text."""
    root = tmp_path / "runs"
    evil: list[_Step] = [
        ("\x1b[31mred\x1b]0;title\x07", '{"a":"\x1b[2J[bold]x[/bold]"}', "o", False)
    ]
    _record(root, _SCRIPT, metadata={"task": "t\x1b[31m1", "version": "v1"})
    _record(root, [*evil, "done"], metadata={"task": "t\x1b[31m1", "version": "v2"})
    sides = ["--by", "task", "--meta-a", "version=v1", "--meta-b", "version=v2"]
    code, text, err = _run(str(root), *sides)
    assert code == 0, err
    assert "\x1b" not in text and "\x07" not in text
    assert "t\\x1b[31m1  differ" in text
    assert 'B: \\x1b[31mred\\x1b]0;title\\x07 {"a":"\\x1b[2J[bold]x[/bold]"}' in text
    code, _, err = _run(str(tmp_path / "no\x1b[2Jroot"), str(root), "--by", "task")
    assert (code, "no\\x1b[2Jroot: not a traces root" in err, "\x1b" in err) == (1, True, False)


def test_a_nickname_two_agents_share_is_refused(tmp_path: Path) -> None:
    """``--thread Ada`` where a pair's runs give that nickname to two agents (v2 renamed the
    sub-agent) is refused with their paths, as ``diff A B`` refuses it: the pair read alike
    (no agent compared) and ``--exit-code`` gave 0, though the runs differ."""
    helper: list[_Step] = [("ls", "{}", "x", False), "ok"]
    root = tmp_path / "runs"
    _record(root, _SCRIPT, helper=helper, helper_nickname="Ada", metadata={"task": 1, "v": 1})
    _record(
        root,
        _SCRIPT,
        helper=helper[1:],
        helper_name="helper2",
        helper_nickname="Ada",
        metadata={"task": 1, "v": 2},
    )
    sides = ["--by", "task", "--meta-a", "v=1", "--meta-b", "v=2", "--thread", "Ada"]
    code, text, err = _run(str(root), *sides, "--exit-code")
    assert (code, text) == (1, ""), text
    assert "'Ada' names 2 agents: /root/helper, /root/helper2 (task 1)" in err


def test_json_names_a_bundle_whose_path_is_not_utf8(tmp_path: Path) -> None:
    """A bundle directory whose name is not UTF-8 (its bytes reach Python as lone
    surrogates) is named with ``\\udcXX`` escapes, as ``ls --json`` names it: it read
    ``internal error`` and printed no pair."""
    root = tmp_path / "runs"
    _record(root, _SCRIPT, metadata={"task": 1, "v": 1})
    bundle = _record(root, _SKIPPED, metadata={"task": 1, "v": 2})
    os.rename(bytes(bundle), bytes(bundle) + b"\xff")
    sides = ["--by", "task", "--meta-a", "v=1", "--meta-b", "v=2", "--json"]
    code, text, err = _run(str(root), *sides)
    assert code == 0, err
    (pair,) = [json.loads(line) for line in text.splitlines()]
    assert os.fsencode(pair["b"]) == bytes(bundle) + b"\xff"
    assert pair["alike"] is False


def test_a_value_or_path_with_a_newline_stays_on_its_line(tmp_path: Path) -> None:
    """A metadata value (and so a bundle's line) with a newline in it printed a line of its
    own choosing (here a fake ``alike:`` line): it is spelled ``\\n``, one line a pair."""
    root = tmp_path / "runs"
    value = "t1\nalike: t1"
    _record(root, _SCRIPT, metadata={"task": value, "version": "v1"})
    _record(root, _SKIPPED, metadata={"task": value, "version": "v2"})
    _record(root, _SCRIPT, metadata={"task": "only\nv1", "version": "v1"})
    sides = ["--by", "task", "--meta-a", "version=v1", "--meta-b", "version=v2"]
    code, text, err = _run(str(root), *sides)
    assert code == 0, err
    lines = text.splitlines()
    assert lines[0] == "by task: 2 values · 1 differ · 0 alike · 1 on one side only"
    assert [line.split("  ")[0] for line in lines[1:3]] == ["t1\\nalike: t1", "only\\nv1"]
    assert not any(line.startswith("alike") for line in lines)
