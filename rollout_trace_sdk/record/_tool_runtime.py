"""What runs under a tool call, started from it: its runtime events, an exec's process (a
terminal session), a write_stdin call's target, an MCP call, a code cell (the base of
:class:`~.tools.ToolCall`, which has the call's start, results and end).

Apart from ``tools`` because each is one runtime work of the call, which the reducers
parse and allow once a call (``_claim``), recorded by the module of what runs
(``terminals``, ``mcp``, ``code_cells``), while ``tools`` records the call itself. The common
tool call (``_tool_fast``) uses none of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from ..model import events as ev
from ._agent_tools import AgentToolWork
from .mcp import McpCall, _NullMcpCall
from .runtime import warn
from .terminals import TerminalSession, _NullTerminalSession

if TYPE_CHECKING:
    from .code_cells import CodeCell

_TERMINAL_KINDS: Final = frozenset({"exec_command", "write_stdin"})
#: Kinds whose runtime payloads the reducers parse as sub-agent activity or waits: recorded
#: through spawn_agent / agent_interacted / agent_interrupted / wait_started / wait_ended.
_AGENT_KINDS: Final = frozenset(
    {"spawn_agent", "assign_agent_task", "send_message", "close_agent", "wait_agent"}
)


class ToolRuntime(AgentToolWork):
    """A tool call's runtime side; see :class:`~.tools.ToolCall` for the call itself."""

    __slots__ = ()
    # set by ToolCall.__init__ (its slots)
    model_visible_call_id: str | None
    requesting_cell: CodeCell | None

    def _owner(self) -> object:
        """What ends this call, and the MCP call it runs, if it ends first: the model's
        call, its turn; a cell's call, the cell. Codex keeps a yielded cell running after its
        turn completes, and the calls it makes then go on (they stay the cell's turn's)."""
        return self._turn if self.requesting_cell is None else self.requesting_cell

    def runtime_started(self, payload: Any, *, kind: ev.ToolCallKind | None = None) -> None:
        """A ``tool_runtime_event`` payload + ``tool_call_runtime_started`` (any shape).

        Terminal kinds are refused here (with a warning): the reducer parses their runtime
        payloads, so use :meth:`exec_started` (exec_command) or nothing (write_stdin) instead.

        Args:
            payload: the runtime event's JSON, in whatever shape the tool has.
            kind: the kind to record; the call's own kind when not given.
        """
        effective = kind or self.kind
        if not self._live or self._over():
            return
        if effective.type in _TERMINAL_KINDS:
            warn(
                f"rollout trace: use exec_started for {effective.type} runtime events",
                kind="runtime_started on an exec call",
            )
            return
        if effective.type in _AGENT_KINDS or self.kind.type in _AGENT_KINDS:
            warn(
                f"rollout trace: {self.kind.type} runtime events are recorded by its own calls",
                kind="runtime event of an agent call",
            )
            return
        self._runtime_started(payload, effective)

    def runtime_ended(self, payload: Any, *, status: ev.ExecutionStatus = "completed") -> None:
        """A ``tool_runtime_event`` payload + ``tool_call_runtime_ended`` (terminal kinds
        refused, as for :meth:`runtime_started`; use :meth:`TerminalSession.exited`).

        Args:
            payload: the runtime event's JSON.
            status: how the runtime work ended.
        """
        if self.kind.type in _TERMINAL_KINDS:
            warn(
                f"rollout trace: use TerminalSession.exited for {self.kind.type} runtime events",
                kind="runtime_ended on an exec call",
            )
            return
        if self.kind.type in _AGENT_KINDS:
            warn(
                f"rollout trace: {self.kind.type} runtime events are recorded by its own calls",
                kind="runtime event of an agent call",
            )
            return
        if self._live:
            self._runtime_ended(payload, status)

    def exec_started(
        self,
        command: Sequence[str],
        *,
        process_id: str | int | None = None,
        cwd: str | None = None,
        parsed_cmd: Sequence[Any] | None = None,
        source: str = "unified_exec_startup",
    ) -> TerminalSession:
        """A process started for this exec_command call. With a ``process_id`` it is a
        terminal session that later write_stdin calls can reach (:meth:`stdin_target`).

        One per call, and not for write_stdin calls (their terminal operation comes from
        the invocation): the reducer refuses a second operation for one call, so a second
        start is refused here with a warning.

        Args:
            command: the process's argv.
            process_id: the session's id, for a process that stays up for write_stdin.
            cwd: its working directory; the rollout's when not given.
            parsed_cmd: Codex's parsed form of the command; one ``unknown`` entry when not
                given.
            source: what started the process, as Codex's ``source`` field.

        Returns:
            The terminal session, to end with :meth:`TerminalSession.exited`; a null
            session when the call is not live, has ended, or already started a process.
        """
        if not self._live or self._over():
            return _NullTerminalSession.INSTANCE
        if self.kind.type == "write_stdin" or not self._claim("exec"):
            warn(
                f"rollout trace: tool call {self.tool_call_id} cannot start another process",
                kind="second process of a call",
            )
            return _NullTerminalSession.INSTANCE
        return TerminalSession(self, command, process_id, cwd, parsed_cmd, source)

    def stdin_target(self, session: TerminalSession) -> None:
        """This write_stdin call writes to ``session`` (``stdin_target_resolved``).

        Args:
            session: the terminal session an earlier exec_command call started.
        """
        if not self._live or not session.enabled:
            return
        reachable = session._reachable_from(self._rt)
        if (
            session._rt.sink is self._rt.sink  # this rollout's session
            and self._rt.sink.refuses_work()
            and (self._rt.counts_only or not reachable)
        ):
            # the call or the process started past the bundle's ceiling or after its writer
            # stopped (the call counts what it records; a recorded call's exec may start its
            # process after it): the event the uncapped run records, counted; the ceiling
            # (or the failure) explains it, no warning
            self._rt.sink.lost_event()
            return
        if not reachable:
            warn(
                f"rollout trace: write_stdin call {self.tool_call_id} names a terminal session "
                "this bundle does not hold (another rollout's, or its start was dropped); "
                "its target is not recorded",
                kind="stdin target not in the bundle",
            )
            return
        self._emit(ev.StdinTargetResolved(self.tool_call_id, session.tool_call_id))

    def mcp(self, server: str, tool: str, arguments: Any = None) -> McpCall:
        """The call runs an MCP tool: runtime start (kind ``mcp``) and a correlation id.

        Args:
            server: the MCP server's name.
            tool: the tool's name on that server.
            arguments: the tool's arguments as sent to the server.

        Returns:
            The MCP call (put :meth:`McpCall.meta` in the request's ``_meta``); a null call
            when this call is not live or has ended.
        """
        if not self._live or self._over():
            return _NullMcpCall.INSTANCE
        if not self._claim("mcp"):
            warn(
                f"rollout trace: tool call {self.tool_call_id} cannot start another runtime",
                kind="second runtime of a call",
            )
            return _NullMcpCall.INSTANCE
        return McpCall(self, server, tool, arguments, owner=self._owner())

    def code_cell(self, runtime_cell_id: str, source_js: str = "") -> CodeCell:
        """This ``exec`` call started code cell ``runtime_cell_id`` running ``source_js``.

        Args:
            runtime_cell_id: the code-mode runtime's id for the cell.
            source_js: the JavaScript the cell runs.

        Returns:
            The code cell, or a null cell when this call is not live, has ended, or the
            start was dropped.
        """
        # code_cells comes after this module (a cell makes tool calls): imported on first use
        from .code_cells import CodeCell, _NullCodeCell

        if not self._live or self._over():
            return _NullCodeCell.INSTANCE
        # one cell per exec call: both reducers refuse a whole bundle with a second start
        if self._work is not None:
            self._rt.sink.values.note("cell")
            return _NullCodeCell.INSTANCE
        self._work = "cell"
        # one cell per runtime id in a thread, or both reducers refuse the whole bundle: a
        # runtime id used again is renamed (see _cell_ids)
        runtime_cell_id, renamed = self._rt.cell_names.claim(
            self._turn.thread.thread_id, self._rt.text(runtime_cell_id)
        )
        if renamed:
            self._rt.sink.values.note("renamed")
        return self._child(
            _NullCodeCell.INSTANCE,
            CodeCell,
            self._turn,
            runtime_cell_id,
            self.model_visible_call_id or self.tool_call_id,
            source_js,
        )
