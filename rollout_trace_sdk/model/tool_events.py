"""Tool and code-cell events: a tool call from dispatch through its runtime to its result, and
a code-mode cell from its JavaScript source to its last response (../shared/spec/format.md 2.2
rows 11-18, 4.5-4.8; v2.md 2.2, 9.2; v3.md 7.3), with the tagged unions they carry (the call's
kind, who requested it, its summary).
"""

from __future__ import annotations

from typing import Final, Literal, TypeAlias

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
    """What a tool call does. ``mcp`` carries server/tool, ``other`` carries the tool name."""

    type: ToolCallKindType
    name: str | None = None
    server: str | None = None
    tool: str | None = None

    @classmethod
    def other(cls, name: str) -> ToolCallKind:
        return cls("other", name=name)

    @classmethod
    def mcp(cls, server: str, tool: str) -> ToolCallKind:
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
    label: str
    input_preview: str | None
    output_preview: str | None = None


@attrs.frozen
class TerminalSummary:
    operation_id: str


@attrs.frozen
class AgentSummary:
    target_agent_path: str
    task_name: str | None
    message_preview: str


@attrs.frozen
class WaitAgentSummary:
    target_agent_path: str | None
    timeout_ms: int | None


ToolCallSummary: TypeAlias = GenericSummary | TerminalSummary | AgentSummary | WaitAgentSummary


@attrs.frozen
class ToolCallStarted:
    tool_call_id: str
    model_visible_call_id: str | None
    code_mode_runtime_tool_id: str | None
    requester: ToolCallRequester
    kind: ToolCallKind
    summary: ToolCallSummary
    invocation_payload: RawPayloadRef | None


@attrs.frozen
class McpToolCallCorrelationAssigned:
    tool_call_id: str
    mcp_call_id: str


@attrs.frozen
class StdinTargetResolved:
    """A write_stdin call reached the process an earlier exec_command call started."""

    tool_call_id: str
    exec_tool_call_id: str


@attrs.frozen
class CodeCellWaitTargetResolved:
    """Schema 3: a ``wait`` call resolved to the code cell it waits on."""

    tool_call_id: str
    runtime_cell_id: str


@attrs.frozen
class ToolCallRuntimeStarted:
    tool_call_id: str
    kind: ToolCallKind
    runtime_payload: RawPayloadRef


@attrs.frozen
class ToolCallRuntimeEnded:
    tool_call_id: str
    status: ExecutionStatus
    runtime_payload: RawPayloadRef


@attrs.frozen
class ToolCallEnded:
    tool_call_id: str
    status: ExecutionStatus
    result_payload: RawPayloadRef | None


@attrs.frozen
class CodeCellStarted:
    runtime_cell_id: str
    model_visible_call_id: str
    source_js: str


@attrs.frozen
class CodeCellInitialResponse:
    runtime_cell_id: str
    status: CodeCellRuntimeStatus
    response_payload: RawPayloadRef | None


@attrs.frozen
class CodeCellEnded:
    runtime_cell_id: str
    status: CodeCellRuntimeStatus
    response_payload: RawPayloadRef | None
