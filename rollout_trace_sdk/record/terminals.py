"""Terminal sessions: the processes exec_command calls start.

The exec begin/end payloads keep the exact shape of Codex's protocol events (the reducer
parses them into terminal operations and sessions); a session with a process id is what
later write_stdin calls name with ``stdin_target_resolved``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any, ClassVar, Final, Literal

from ..model import events as ev
from ._fields import as_exit_code, as_text
from ._handle import ToolWork, UnderToolCall
from ._text import text_of
from ._values import Mistyped
from .runtime import NullLifecycle, Runtime, ignore, now_ms


def _path_text(path: Any) -> Any:
    """A path as text (a ``Path`` is a natural thing to pass); anything else as given."""
    return os.fsdecode(path) if isinstance(path, os.PathLike | bytes) else path


#: The statuses :meth:`TerminalSession.exited` takes.
_END_STATUSES: Final = ("completed", "failed")


class TerminalSession(UnderToolCall):
    """A process an exec_command call started (runtime begin … runtime end).

    Leaving its ``async with`` block without :meth:`exited` records exit code -1, failed."""

    __slots__ = ("_base", "_begun", "_started_ns", "process_id")

    def __init__(
        self,
        call: ToolWork,
        command: Sequence[str],
        process_id: str | int | None,
        cwd: str | None,
        parsed_cmd: Sequence[Any] | None,
        source: str,
    ) -> None:
        super().__init__(call)
        self.process_id = None if process_id is None else text_of(process_id)
        argv = [text_of(part) for part in list(command)]  # (a copy: see tool_kinds)
        self._base: dict[str, Any] = {"call_id": self.tool_call_id}
        if self.process_id is not None:
            self._base["process_id"] = self.process_id
        self._base["turn_id"] = self._turn_id
        self._started_ns = time.monotonic_ns()
        shape = {
            "command": argv,
            "cwd": self._rt.cwd if cwd is None or cwd == "" else as_text(_path_text(cwd)),
            "parsed_cmd": list(parsed_cmd)
            if parsed_cmd is not None
            else [{"type": "unknown", "cmd": " ".join(argv)}],
            "source": as_text(source),
        }
        begin = dict(self._base)
        begin["started_at_ms"] = now_ms()
        begin.update(shape)
        self._base.update(shape)
        self._begun = self._runtime_started(begin, ev.ToolCallKind("exec_command"))
        self._register()  # no owner: the process may outlive its tool call and turn

    def _reachable_from(self, rt: Runtime) -> bool:
        """Whether a write_stdin call of ``rt``'s rollout may name this session: its start
        is in that bundle. Both reducers refuse a whole bundle whose write_stdin names an
        exec it does not hold ("stdin target referenced unknown exec"): a session of an
        earlier rollout (a shell kept across episodes), or one whose start was dropped."""
        return self._rt is rt and self._begun

    def exited(
        self,
        exit_code: int,
        aggregated_output: str = "",
        *,
        status: Literal["completed", "failed"] | None = None,
    ) -> None:
        """The process ended (runtime end). Only the first call records anything.

        Args:
            exit_code: the process's exit code.
            aggregated_output: its stdout and stderr as the model saw them.
            status: the end's status; completed when ``exit_code`` is 0, else failed.
        """
        if not self._finish():
            return
        elapsed = time.monotonic_ns() - self._started_ns
        exit_code = as_exit_code(exit_code)
        if status is None:
            number = exit_code.value if isinstance(exit_code, Mistyped) else exit_code
            status = "completed" if number == 0 else "failed"
        else:
            status = self._rt.known_status(status, _END_STATUSES)
        if aggregated_output.__class__ is not str:
            aggregated_output = as_text(aggregated_output)
        end = {"call_id": self._base["call_id"]}
        if self.process_id is not None:
            end["process_id"] = self.process_id
        end["turn_id"] = self._base["turn_id"]
        end["completed_at_ms"] = now_ms()
        for key in ("command", "cwd", "parsed_cmd", "source"):
            end[key] = self._base[key]
        end.update(
            aggregated_output=aggregated_output,
            exit_code=exit_code,
            duration={"secs": elapsed // 1_000_000_000, "nanos": elapsed % 1_000_000_000},
            status=status,
        )
        self._runtime_ended(end, status)

    def _close_at_shutdown(self, status: ev.RolloutStatus) -> None:
        self.exited(-1, status="failed")


class _NullTerminalSession(NullLifecycle, TerminalSession):
    __slots__ = ()
    INSTANCE: ClassVar[TerminalSession]

    exited = ignore


_NullTerminalSession.INSTANCE = _NullTerminalSession(tool_call_id="", process_id=None, _done=True)
