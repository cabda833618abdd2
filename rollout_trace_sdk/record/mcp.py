"""MCP calls run under a tool call: the runtime events and the correlation id Codex's MCP
bridge puts in the request's ``_meta``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ..model import events as ev
from ._fields import as_text
from ._handle import ToolWork, UnderToolCall
from .runtime import NullLifecycle, error_of, ignore, uuid4


class McpCall(UnderToolCall):
    """An MCP tool run under a tool call; correlates the MCP request with the trace.

    Leaving its ``async with`` block without an ending call records it as failed."""

    __slots__ = ("mcp_call_id",)

    def __init__(
        self, call: ToolWork, server: str, name: str, arguments: Any, *, owner: object
    ) -> None:
        super().__init__(call)
        # event fields Codex reads as strings (a bundle holding another type is refused)
        server, name = as_text(server), as_text(name)
        self.mcp_call_id = uuid4()
        tool_call_id = self.tool_call_id
        self._runtime_started(
            {
                "call_id": tool_call_id,
                "turn_id": self._turn_id,
                "invocation": {"server": server, "tool": name, "arguments": arguments},
            },
            ev.ToolCallKind.mcp(server, name),
        )
        # Codex writes the correlation with no envelope context
        self._rt.event(ev.McpToolCallCorrelationAssigned(tool_call_id, self.mcp_call_id))
        self._register(owner)  # its call's turn or cell: if it ends first, it ends this

    def meta(self, meta: Any = None) -> Any:
        """The MCP request's ``_meta`` with ``codex_bridge_mcp_call_id`` added (a copy; JSON
        that is neither null nor an object is returned unchanged).

        The id is what lets the trace be joined with the MCP server's own logs.

        Args:
            meta: the ``_meta`` the request would carry otherwise.

        Returns:
            The ``_meta`` to send.
        """
        if meta is None:
            return {"codex_bridge_mcp_call_id": self.mcp_call_id}
        if isinstance(meta, Mapping):
            out = dict(meta)
            out["codex_bridge_mcp_call_id"] = self.mcp_call_id
            return out
        return meta

    def completed(self, result: Any) -> None:
        """The MCP server answered.

        Args:
            result: the CallToolResult JSON.
        """
        self._end({"result": {"Ok": result}}, "completed")

    def failed(self, error: str | BaseException) -> None:
        """The MCP call failed (the server errored or could not be reached).

        Args:
            error: what went wrong (an exception: recorded as ``Type: message``).
        """
        self._end({"result": {"Err": error_of(error)}}, "failed")

    def _end(self, payload: Any, status: ev.ExecutionStatus) -> None:
        if self._finish():
            self._runtime_ended(payload, status)

    def _close_at_shutdown(self, status: ev.RolloutStatus) -> None:
        self.failed("ended before the MCP call")


class _NullMcpCall(NullLifecycle, McpCall):
    __slots__ = ()
    INSTANCE: ClassVar[McpCall]

    def meta(self, meta: Any = None) -> Any:
        return meta

    completed = failed = ignore


_NullMcpCall.INSTANCE = _NullMcpCall(mcp_call_id="", tool_call_id="", _done=True)
