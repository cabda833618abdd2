"""What ``summary`` says of terminal sessions (view/summary_terminals.py): Codex's reducer
keeps every session ``running``, so the text said "22 terminal sessions (22 running)" after
every command of a Codex session had exited (review codexview27). It counts them by how the
command that started each went; the JSON keeps Codex's status beside that."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import anyio
import pytest

from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.view.load import load_state
from rollout_trace_sdk.view.summary import build_summary
from rollout_trace_sdk.view.summary_terminals import op_error, stderr
from rollout_trace_sdk.view.summary_text import render_plain, summary_lines

from ..conftest import CONFORMANCE_V3, needs_conformance_v3


def _text(summary: dict[str, Any]) -> str:
    out = io.StringIO()
    render_plain(summary_lines(summary, 120), out)
    return out.getvalue()


def _session_rows(text: str) -> list[list[str]]:
    """The terminal sessions table's rows, split at its column gaps."""
    rows = text.split("terminal sessions (", 1)[1].splitlines()[2:]
    return [re.split(r"\s{2,}", row.strip()) for row in rows if row.startswith("  ")]


@needs_conformance_v3
@pytest.mark.parametrize(
    ("scenario", "line", "status"),
    [
        # exec_command, then two write_stdin to its process, which exits
        ("terminal_session_reuse", "terminal sessions    1\n", "completed"),
        # a command killed when its turn was interrupted
        ("interrupt_during_tool", "terminal sessions    1 (1 failed)\n", "failed"),
    ],
)
def test_a_codex_session_is_counted_by_how_its_command_went(
    scenario: str, line: str, status: str
) -> None:
    [bundle] = sorted((CONFORMANCE_V3 / scenario).glob("trace-*"))
    state = load_state(bundle)
    summary = build_summary(state)
    totals = summary["totals"]["terminal_sessions"]
    assert totals["by_status"] == {"running": 1}  # Codex's, kept
    assert totals["by_command_status"] == {status: 1}
    [session] = summary["terminal_sessions"]
    [op] = [
        o
        for o in state["terminal_operations"].values()
        if o["operation_id"]
        == state["terminal_sessions"][session["terminal_id"]]["created_by_operation_id"]
    ]
    execution = op["execution"]
    assert (session["status"], session["wall_ms"]) == ("running", None)
    assert session["command_status"] == status
    assert session["command_ms"] == execution["ended_at_unix_ms"] - execution["started_at_unix_ms"]
    text = _text(summary)
    assert line in text and "running" not in text
    [row] = _session_rows(text)
    assert row[3] == status and row[4] != "-"


async def _two_sessions_state(root: Path) -> Any:
    """The state of a rollout still being recorded with two terminal sessions: the process of
    the first has exited, that of the second runs."""
    async with open_rollout(root) as rollout, rollout.root.turn() as turn:
        turn.inference({"model": "m", "input": "hi"}).completed(output_items=[])
        sessions = []
        for n, command in enumerate(["true", "cat"]):
            async with turn.tool_call(f"c{n}", "exec_command", arguments={"cmd": command}) as tool:
                sessions.append(tool.exec_started(["/bin/sh", "-c", command], process_id=n + 1))
                tool.completed({"type": "function_call_output", "call_id": f"c{n}", "output": ""})
        sessions[0].exited(0, "")
        await rollout.flush()
        assert rollout.bundle_dir is not None
        return load_state(rollout.bundle_dir)


def test_a_session_whose_command_still_runs_is_counted_running(tmp_path: Path) -> None:
    """Of two sessions of a rollout still being recorded, the one whose process exited is
    completed, the one whose process runs is running; ``--limit`` cuts the list, not the
    count."""
    summary = build_summary(anyio.run(_two_sessions_state, tmp_path), limit=1)
    totals = summary["totals"]["terminal_sessions"]
    assert totals["by_status"] == {"running": 2}
    assert totals["by_command_status"] == {"completed": 1, "running": 1}
    assert len(summary["terminal_sessions"]) == 1 and summary["omitted"]["terminal_sessions"] == 1
    text = _text(summary)
    assert "terminal sessions    2 (1 completed, 1 running)\n" in text
    assert _session_rows(text)[0][3] == "completed"


def test_a_failed_command_is_explained_by_its_stderr_first() -> None:
    """A command's stderr, stripped, is why it failed; only without one (Codex 0.171's pty
    merges it into stdout) do the exit code and stdout's last lines stand in. Found by the
    mut38 audit: ``stderr`` answering None for every command passed every test (the
    corpora's commands ran on a pty, so their stderr is empty)."""
    failed = {"result": {"stderr": "  cat: nofile: No such file\n", "exit_code": 1, "stdout": "x"}}
    assert stderr(failed) == "cat: nofile: No such file"
    assert op_error(failed) == "cat: nofile: No such file"
    blank = {"result": {"stderr": " \n", "exit_code": 2, "stdout": "a\nb\n"}}
    assert stderr(blank) is None
    assert op_error(blank) == "exit code 2: a\nb"
