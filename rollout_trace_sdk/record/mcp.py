"""MCP calls run under a tool call: the runtime events and the correlation id Codex's MCP
bridge puts in the request's ``_meta``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ..model import events as ev
from .runtime import NullLifecycle, uuid4

if TYPE_CHECKING:
    from .tools import ToolCall


class McpCall:
    """An MCP tool run under a tool call; correlates the MCP request with the trace."""

    enabled: ClassVar[bool] = True
    _ends_with_turn: ClassVar[bool] = True
    __slots__ = ("_done", "_tool", "_turn", "mcp_call_id")

    def __init__(self, tool: ToolCall, server: str, name: str, arguments: Any) -> None:
        self._tool = tool
        self._turn = tool._turn
        self._done = False
        self.mcp_call_id = uuid4()
        tool._runtime_started(
            {
                "call_id": tool.tool_call_id,
                "turn_id": tool._turn.turn_id,
                "invocation": {"server": server, "tool": name, "arguments": arguments},
            },
            ev.ToolCallKind.mcp(server, name),
        )
        rt = tool._turn._rt
        rt.event(ev.McpToolCallCorrelationAssigned(tool.tool_call_id, self.mcp_call_id))
        rt.opened(self)

    def meta(self, meta: Any = None) -> Any:
        """The MCP request's ``_meta`` with ``codex_bridge_mcp_call_id`` added (a copy; JSON
        that is neither null nor an object is returned unchanged)."""
        if meta is None:
            return {"codex_bridge_mcp_call_id": self.mcp_call_id}
        if isinstance(meta, Mapping):
            out = dict(meta)
            out["codex_bridge_mcp_call_id"] = self.mcp_call_id
            return out
        return meta

    def completed(self, result: Any) -> None:
        """The MCP server answered (``result`` = the CallToolResult JSON)."""
        self._end({"result": {"Ok": result}}, "completed")

    def failed(self, error: str) -> None:
        self._end({"result": {"Err": error}}, "failed")

    def _end(self, payload: Any, status: ev.ExecutionStatus) -> None:
        if self._done:
            return
        self._done = True
        self._tool._turn._rt.closed(self)
        self._tool._runtime_ended(payload, status)

    @property
    def ended(self) -> bool:
        return self._done

    def _close_at_shutdown(self, status: ev.RolloutStatus) -> None:
        self.failed("ended before the MCP call")


class _NullMcpCall(NullLifecycle, McpCall):
    enabled: ClassVar[bool] = False
    __slots__ = ()
    INSTANCE: ClassVar[McpCall]

    def __init__(self) -> None:
        self.mcp_call_id = ""
        self._done = True

    def meta(self, meta: Any = None) -> Any:
        return meta

    def completed(self, result: Any) -> None:
        return None

    def failed(self, error: str) -> None:
        return None

    @property
    def ended(self) -> bool:
        return True


_NullMcpCall.INSTANCE = _NullMcpCall()
