"""Tool and code-cell events: a tool call from dispatch through its runtime to its result, and
a code-mode cell from its JavaScript source to its last response (../shared/spec/format.md 2.2
rows 11-18, 4.5-4.8; v2.md 2.2, 9.2; v3.md 7.3), with the tagged unions they carry (the call's
kind, who requested it, its summary).
"""

from __future__ import annotations

from typing import Any, Final, Literal, TypeAlias

import attrs

from .payload_refs import RawPayloadRef
from .thread_events import ExecutionStatus

CodeCellRuntimeStatus: TypeAlias = Literal[
    "starting", "running", "yielded", "completed", "failed", "terminated"
]
CODE_CELL_RUNTIME_STATUSES: Final[tuple[str, ...]] = CodeCellRuntimeStatus.__args__  # type: ignore[attr-defined]

ToolCallKindType: TypeAlias = Literal[
    "exec_command",
    "write_stdin",
    "apply_patch",
    "mcp",
    "web",
    "image_generation",
    "spawn_agent",
    "assign_agent_task",
    "send_message",
    "wait_agent",
    "close_agent",
    "other",
]
TOOL_CALL_KIND_TYPES: Final[tuple[str, ...]] = ToolCallKindType.__args__  # type: ignore[attr-defined]


@attrs.frozen
class ToolCallKind:
    """What a tool call does, as Codex names it from the tool's name (format.md 4.5). ``mcp``
    carries server/tool, ``other`` carries the tool name."""

    type: ToolCallKindType
    name: str | None = None
    server: str | None = None
    tool: str | None = None

    @classmethod
    def other(cls, name: str) -> ToolCallKind:
        """The kind of a tool Codex has no kind for: ``{"type": "other", "name": NAME}``.

        Args:
            name: the tool's name.

        Returns:
            The kind.
        """
        return cls("other", name=name)

    @classmethod
    def mcp(cls, server: str, tool: str) -> ToolCallKind:
        """An MCP tool's kind, as ``tool_call_runtime_started`` gives it (v2.md 2.4).

        Args:
            server: the MCP server's name.
            tool: the tool's name on that server.

        Returns:
            The kind.
        """
        return cls("mcp", server=server, tool=tool)


@attrs.frozen
class ModelRequester:
    """The model asked for the tool call (it has a model-visible call id)."""


@attrs.frozen
class CodeCellRequester:
    """A code-mode cell asked for the tool call from inside its JavaScript runtime."""

    runtime_cell_id: str


ToolCallRequester: TypeAlias = ModelRequester | CodeCellRequester


@attrs.frozen
class GenericSummary:
    """How Codex summarises every dispatched tool call: ``label`` (the tool's name, with its
    namespace), the first 160 characters of its input, and an output preview Codex leaves null
    (format.md 4.5)."""

    label: str
    input_preview: str | None
    output_preview: str | None = None


@attrs.frozen
class TerminalSummary:
    """The summary of a call that runs in a terminal (``exec_command``, ``write_stdin``): its
    terminal operation. The reducer gives it to a call once the operation exists (reducer.md 7)."""

    operation_id: str


@attrs.frozen
class AgentSummary:
    """Declared for calls to another agent (spawn, send, assign): its path, the task and the
    message's start. Part of Codex's summary enum; no Codex we recorded writes it (v2.md 3.8)."""

    target_agent_path: str
    task_name: str | None
    message_preview: str


@attrs.frozen
class WaitAgentSummary:
    """Declared for ``wait_agent`` calls: the agent awaited and the timeout. As ``AgentSummary``, no
    Codex we recorded writes it (v2.md 3.8)."""

    target_agent_path: str | None
    timeout_ms: int | None


ToolCallSummary: TypeAlias = GenericSummary | TerminalSummary | AgentSummary | WaitAgentSummary
#: Each summary variant by its ``type`` tag, in Codex's order.
SUMMARY_TYPES: Final[dict[str, type[Any]]] = {
    "terminal": TerminalSummary,
    "agent": AgentSummary,
    "wait_agent": WaitAgentSummary,
    "generic": GenericSummary,
}
#: Each summary variant's tag and field names, in declaration order (its JSON's key order).
_SUMMARY_KEYS: Final = {
    cls: (tag, tuple(field.name for field in attrs.fields(cls)))
    for tag, cls in SUMMARY_TYPES.items()
}


def summary_to_dict(summary: ToolCallSummary) -> dict[str, Any]:
    """A tool call's summary as Codex writes it, in events and in the state: its ``type``
    tag, then its fields in order, null ones included."""
    tag, names = _SUMMARY_KEYS[summary.__class__]
    out: dict[str, Any] = {"type": tag}
    for name in names:
        out[name] = getattr(summary, name)
    return out


def tool_kind_to_dict(kind: ToolCallKind) -> dict[str, Any]:
    """A tool call's kind as Codex writes it: ``other`` with its name, ``mcp`` with its server
    and tool, any other just its type."""
    if kind.type == "other":
        return {"type": "other", "name": kind.name}
    if kind.type == "mcp":
        return {"type": "mcp", "server": kind.server, "tool": kind.tool}
    return {"type": kind.type}


@attrs.frozen
class ToolCallStarted:
    """``tool_call_started``: a tool call was dispatched, by the model (``model_visible_call_id`` is
    its call item's ``call_id``) or by a code cell (``code_mode_runtime_tool_id``). The reducer
    links it to the model's call and output items, to the inference whose response asked for it,
    and, for ``write_stdin``, to a terminal operation (reducer.md 7.1). ``invocation_payload``
    (``tool_invocation``) is the tool's name and arguments."""

    tool_call_id: str
    model_visible_call_id: str | None
    code_mode_runtime_tool_id: str | None
    requester: ToolCallRequester
    kind: ToolCallKind
    summary: ToolCallSummary
    invocation_payload: RawPayloadRef | None


@attrs.frozen
class McpToolCallCorrelationAssigned:
    """``mcp_tool_call_correlation_assigned``: the id Codex put in an MCP request's ``_meta``
    (``codex_bridge_mcp_call_id``), so the call can be found from the server's side; it becomes
    the state's ``mcp_call_id``, once per call (format.md 4.7)."""

    tool_call_id: str
    mcp_call_id: str


@attrs.frozen
class StdinTargetResolved:
    """``stdin_target_resolved``: a write_stdin call reached the process an earlier exec_command
    call started; the reducer moves the write's operation into that call's terminal session
    (v2.md 9.2)."""

    tool_call_id: str
    exec_tool_call_id: str


@attrs.frozen
class CodeCellWaitTargetResolved:
    """``code_cell_wait_target_resolved`` (schema 3): a ``wait`` call resolved to the code cell it
    waits on, the state's only source of wait links (v3.md 7.3, 10)."""

    tool_call_id: str
    runtime_cell_id: str


@attrs.frozen
class ToolCallRuntimeStarted:
    """``tool_call_runtime_started``: the tool began running (a process, an MCP call, an agent
    action); ``runtime_payload`` is the protocol's begin event. Its ``kind`` replaces the call's,
    and an ``exec_command`` or ``write_stdin`` begin makes the terminal operation (reducer.md
    7.2, 9.2; v2.md 8)."""

    tool_call_id: str
    kind: ToolCallKind
    runtime_payload: RawPayloadRef


@attrs.frozen
class ToolCallRuntimeEnded:
    """``tool_call_runtime_ended``: the tool stopped running; ``runtime_payload`` is the protocol's
    end event (exit code and output, or a sub-agent's activity), from which the reducer ends the
    terminal operation and draws agent edges (reducer.md 9.3, 10.3)."""

    tool_call_id: str
    status: ExecutionStatus
    runtime_payload: RawPayloadRef


@attrs.frozen
class ToolCallEnded:
    """``tool_call_ended``: the dispatch returned ``status`` and ``result_payload``
    (``tool_result``: what went back to the model, or the error). It ends a terminal operation
    that had no runtime events (reducer.md 7.2); schema 3 ends a call cut off by an interrupt as
    ``aborted`` (v3.md 7.4)."""

    tool_call_id: str
    status: ExecutionStatus
    result_payload: RawPayloadRef | None


@attrs.frozen
class CodeCellStarted:
    """``code_cell_started``: code mode ran the JavaScript of the ``exec`` call
    ``model_visible_call_id``; ``runtime_cell_id`` is the runtime's name for the cell, which its
    nested tool calls and waits use. The state's cell (``code_cell:<call id>``) waits for the
    call item to exist (reducer.md 8.1)."""

    runtime_cell_id: str
    model_visible_call_id: str
    source_js: str


@attrs.frozen
class CodeCellInitialResponse:
    """``code_cell_initial_response``: the first answer the cell gave the model: ``yielded`` when it
    keeps running in the background, else its result. ``response_payload`` is a ``tool_result``
    (format.md 4.8; reducer.md 8.2)."""

    runtime_cell_id: str
    status: CodeCellRuntimeStatus
    response_payload: RawPayloadRef | None


@attrs.frozen
class CodeCellEnded:
    """``code_cell_ended``: the cell finished (``completed``, ``failed``, ``terminated``). Written
    right after the initial response unless that yielded; then when a later wait saw the end
    (format.md 4.8)."""

    runtime_cell_id: str
    status: CodeCellRuntimeStatus
    response_payload: RawPayloadRef | None
