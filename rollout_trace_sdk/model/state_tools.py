"""The reduced state's tools: tool calls, code-mode cells, and the terminal sessions and
operations that exec_command and write_stdin calls make (../shared/spec/format.md 5; reducer.md
7-9; v2.md 3.5-3.7, 9; v3.md 8).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, TypeAlias

import attrs

from ._state_node import Node, TaggedNode
from .state_execution import ExecutionWindow
from .tool_events import (
    CodeCellRuntimeStatus,
    ToolCallKind,
    ToolCallSummary,
    summary_to_dict,
    tool_kind_to_dict,
)


@attrs.define(slots=True, kw_only=True)
class CodeCell(Node):
    """A code-mode cell (``code_cell:<exec call id>``): its JavaScript, the ``exec`` call's item and
    output items, its runtime status, its first response and result, the tool calls it made and
    the ``wait`` calls that waited on it (reducer.md 8; v2.md 3.6)."""

    code_cell_id: str
    model_visible_call_id: str
    thread_id: str
    codex_turn_id: str
    source_item_id: str
    output_item_ids: list[str] = attrs.field(factory=list)
    runtime_cell_id: str | None = None
    execution: ExecutionWindow
    runtime_status: CodeCellRuntimeStatus = "starting"
    initial_response_at_unix_ms: int | None = None
    initial_response_seq: int | None = None
    initial_response_status: CodeCellRuntimeStatus | None = None
    raw_initial_response_payload_id: str | None = None
    raw_result_payload_id: str | None = None
    yielded_at_unix_ms: int | None = None
    yielded_seq: int | None = None
    source_js: str
    nested_tool_call_ids: list[str] = attrs.field(factory=list)
    wait_tool_call_ids: list[str] = attrs.field(factory=list)


@attrs.define(slots=True, kw_only=True)
class ToolCall:
    """One tool call: who asked for it (the model or a code cell), its kind and summary, the model's
    call and output items, its terminal operation and its payloads (reducer.md 7; v2.md 3.5;
    v3.md 8)."""

    tool_call_id: str
    mcp_call_id: str | None = None
    model_visible_call_id: str | None
    code_mode_runtime_tool_id: str | None
    started_code_cell_id: str | None = None
    #: schema 3: the code cell a ``wait`` call resolved to (omitted when unset)
    resolved_wait_runtime_cell_id: str | None = None
    thread_id: str
    started_by_codex_turn_id: str | None
    execution: ExecutionWindow
    #: the requesting code cell; None = requested by the model
    requester_code_cell_id: str | None
    kind: ToolCallKind
    model_visible_call_item_ids: list[str] = attrs.field(factory=list)
    model_visible_output_item_ids: list[str] = attrs.field(factory=list)
    terminal_operation_id: str | None = None
    summary: ToolCallSummary
    raw_invocation_payload_id: str | None
    raw_result_payload_id: str | None = None
    raw_runtime_payload_ids: list[str] = attrs.field(factory=list)

    def to_json(self) -> dict[str, Any]:
        """The call as Codex writes it.

        Returns:
            Its keys in Codex's order: ``started_code_cell_id`` and
            ``resolved_wait_runtime_cell_id`` left out when unset, ``requester`` as Codex's
            tagged enum, ``kind`` and ``summary`` as the events write them.
        """
        out: dict[str, Any] = {
            "tool_call_id": self.tool_call_id,
            "mcp_call_id": self.mcp_call_id,
            "model_visible_call_id": self.model_visible_call_id,
            "code_mode_runtime_tool_id": self.code_mode_runtime_tool_id,
        }
        if self.started_code_cell_id is not None:
            out["started_code_cell_id"] = self.started_code_cell_id
        if self.resolved_wait_runtime_cell_id is not None:
            out["resolved_wait_runtime_cell_id"] = self.resolved_wait_runtime_cell_id
        out["thread_id"] = self.thread_id
        out["started_by_codex_turn_id"] = self.started_by_codex_turn_id
        out["execution"] = self.execution.to_json()
        out["requester"] = (
            {"type": "model"}
            if self.requester_code_cell_id is None
            else {"type": "code_cell", "code_cell_id": self.requester_code_cell_id}
        )
        out["kind"] = tool_kind_to_dict(self.kind)
        out["model_visible_call_item_ids"] = self.model_visible_call_item_ids
        out["model_visible_output_item_ids"] = self.model_visible_output_item_ids
        out["terminal_operation_id"] = self.terminal_operation_id
        out["summary"] = summary_to_dict(self.summary)
        out["raw_invocation_payload_id"] = self.raw_invocation_payload_id
        out["raw_result_payload_id"] = self.raw_result_payload_id
        out["raw_runtime_payload_ids"] = self.raw_runtime_payload_ids
        return out


# Alike in shape to CodexTurn and its neighbours (a to_json ending, then fields), but each
# class is one of Codex's state types spelling out its own keys in order: not one thing.
@attrs.define(slots=True, kw_only=True)
class TerminalSession(Node):
    """A terminal process, from the ``exec_command`` that started it to its last operation."""

    terminal_id: str
    thread_id: str
    created_by_operation_id: str
    operation_ids: list[str] = attrs.field(factory=list)
    execution: ExecutionWindow


@attrs.define(slots=True)
class ExecCommandRequest(TaggedNode):
    """What an ``exec_command`` operation ran: the command, the command as one string, and its
    working directory, from the runtime's begin event (reducer.md 9.2)."""

    TYPE: ClassVar[str] = "exec_command"
    command: list[str]
    display_command: str
    cwd: str
    yield_time_ms: int | None = None
    max_output_tokens: int | None = None


@attrs.define(slots=True)
class WriteStdinRequest(TaggedNode):
    """What a ``write_stdin`` operation sent: the characters (the call's ``chars``, or the runtime's
    ``interaction_input``), with the call's yield time and output limit (reducer.md 9.1-9.2)."""

    TYPE: ClassVar[str] = "write_stdin"
    stdin: str
    yield_time_ms: int | None = None
    max_output_tokens: int | None = None


TerminalRequest: TypeAlias = ExecCommandRequest | WriteStdinRequest


@attrs.define(slots=True)
class TerminalResult(Node):
    """How a terminal operation ended: exit code and output, from the runtime's end event or the
    dispatch result (reducer.md 9.3; v2.md 9.3)."""

    exit_code: int | None
    stdout: str
    stderr: str
    formatted_output: str | None = None
    original_token_count: int | None = None
    chunk_id: str | None = None


@attrs.define(slots=True)
class ModelObservation(Node):
    """What the model saw of a terminal operation: its tool call's call and output items
    (``direct_tool_call``; ``code_cell_output`` is declared and never produced; reducer.md 9.4)."""

    call_item_ids: list[str]
    output_item_ids: list[str]
    source: Literal["direct_tool_call", "code_cell_output"] = "direct_tool_call"


@attrs.define(slots=True, kw_only=True)
class TerminalOperation(Node):
    """One command run in a terminal, or one write to its stdin (``terminal_operation:N``): its tool
    call, session, request, result and payloads (reducer.md 9; v2.md 9)."""

    operation_id: str
    terminal_id: str | None
    tool_call_id: str
    kind: Literal["exec_command", "write_stdin"]
    execution: ExecutionWindow
    request: TerminalRequest
    result: TerminalResult | None = None
    model_observations: list[ModelObservation] = attrs.field(factory=list)
    raw_payload_ids: list[str] = attrs.field(factory=list)
