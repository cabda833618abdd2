"""What ``summary`` says of terminal operations and sessions: a command's line, why a failed
one failed, and how a session's command went.

Codex's reducer never ends a terminal session: every session of its reduced state is
``running``, however its commands went (docs/summary.md). The command that started a session
(its ``exec_command`` operation) is what ends: it stays open through the ``write_stdin``
operations that talk to its process and ends when the process exits (or is killed: ``codex
exec`` kills what is left when it ends). So the summary says a session's status as that
command's, beside the state's own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, Final

_Obj = Mapping[str, Any]


def command(op: _Obj) -> Any:
    """An operation's command line as ``summary`` names it (its kind without one)."""
    request = op.get("request")
    if not isinstance(request, Mapping):
        return op.get("kind")
    return request.get("display_command") or op.get("kind")


def stderr(op: _Obj) -> str | None:
    """An operation's stderr, stripped; None when it has none."""
    result = op.get("result")
    text = result.get("stderr") if isinstance(result, Mapping) else None
    return text.strip() or None if isinstance(text, str) else None


#: How many of a failed command's last output lines its failure shows.
_OUTPUT_TAIL_LINES: Final = 3


def op_error(op: _Obj) -> str | None:
    """Why a terminal operation failed: its stderr, else its exit code and the last lines of
    its stdout. Codex 0.171 runs commands on a pty that merges stderr into stdout, so a
    failed command's stderr is empty: its failure read "(no error text was recorded)" while
    the state held ``exit_code`` 1 and ``cat: nofile: No such file or directory``."""
    said = stderr(op)
    if said:
        return said
    code = exit_code(op)
    if code is None:
        return None
    result = op["result"]  # a mapping: it holds the exit code
    stdout = result.get("stdout")
    lines = [line for line in str(stdout or "").splitlines() if line.strip()]
    tail = "\n".join(lines[-_OUTPUT_TAIL_LINES:])
    return f"exit code {code}: {tail}" if tail else f"exit code {code}"


def exit_code(op: _Obj) -> int | None:
    """A terminal operation's exit code (``None``: none recorded, or not a whole number)."""
    result = op.get("result")
    code = result.get("exit_code") if isinstance(result, Mapping) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def session_command(state: _Obj, session: _Obj) -> tuple[str | None, int | None, Any]:
    """The status, duration and command line of the operation that started ``session``:
    ``running`` while its process runs, ``completed`` or ``failed`` once it exited or was
    killed. (None, None, None) when the state does not hold that operation."""
    ops = state.get("terminal_operations")
    op = ops.get(session.get("created_by_operation_id")) if isinstance(ops, Mapping) else None
    if not isinstance(op, Mapping):
        return None, None, None
    execution: _Obj = op["execution"] if isinstance(op.get("execution"), Mapping) else {}
    status = execution.get("status")
    start, end = execution.get("started_at_unix_ms"), execution.get("ended_at_unix_ms")
    took = end - start if isinstance(start, int) and isinstance(end, int) else None
    request = op.get("request")
    line = request.get("display_command") if isinstance(request, Mapping) else None
    return (status if isinstance(status, str) else "running"), took, line


def by_command_status(rows: list[dict[str, Any]]) -> dict[str, int]:
    """The sessions' count per status of the command that started each (``summary``'s
    ``terminal_sessions`` rows; a session whose command the state lacks is not counted)."""
    counts = Counter(r["command_status"] for r in rows if r["command_status"] is not None)
    return dict(sorted(counts.items()))
