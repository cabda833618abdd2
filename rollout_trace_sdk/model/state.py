"""The reduced state graph (``state.json``): what ``codex debug trace-reduce`` writes.

The classes are mutable because replay grows them event by event; they are slotted because a
long rollout holds many thousands of conversation items. Serialisation is hand-written rather
than derived: Codex's key order, the keys it omits (``responses_item_id``, ``accepted_*``,
``agent_message``, ``started_code_cell_id``, ``content_sha256``) and its sorted maps are part of
the byte format, and spelling them out per class keeps that visible in one place.
"""

from __future__ import annotations

from typing import Any, Final, Literal, TypeAlias

import attrs
import orjson

from . import codec
from .events import (
    CodeCellRuntimeStatus,
    ExecutionStatus,
    RawPayloadRef,
    RolloutStatus,
    ToolCallKind,
    ToolCallSummary,
)

STATE_SCHEMA_VERSION: Final = 2

ConversationRole: TypeAlias = Literal["system", "developer", "user", "assistant", "tool"]
ConversationChannel: TypeAlias = Literal["analysis", "commentary", "final", "summary"]
ConversationItemKind: TypeAlias = Literal[
    "message",
    "reasoning",
    "function_call",
    "function_call_output",
    "custom_tool_call",
    "custom_tool_call_output",
    "compaction_marker",
]
InteractionEdgeKind: TypeAlias = Literal[
    "spawn_agent", "assign_agent_task", "send_message", "agent_result", "close_agent"
]


# --- conversation parts --------------------------------------------------------------------------


@attrs.frozen
class TextPart:
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"type": "text", "text": self.text}


@attrs.frozen
class SummaryPart:
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"type": "summary", "text": self.text}


@attrs.frozen
class EncodedPart:
    label: str
    value: str

    def to_json(self) -> dict[str, Any]:
        return {"type": "encoded", "label": self.label, "value": self.value}


@attrs.frozen
class JsonPart:
    """A JSON value shown as a cut-down summary; the payload holds the full value."""

    summary: str
    raw_payload_id: str

    def to_json(self) -> dict[str, Any]:
        return {"type": "json", "summary": self.summary, "raw_payload_id": self.raw_payload_id}


@attrs.frozen
class CodePart:
    language: str
    source: str

    def to_json(self) -> dict[str, Any]:
        return {"type": "code", "language": self.language, "source": self.source}


@attrs.frozen
class PayloadRefPart:
    """Content we do not inline (images, unknown element types); the hash, when present,
    is what makes one image in two request payloads the same part."""

    label: str
    raw_payload_id: str
    content_sha256: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "payload_ref",
            "label": self.label,
            "raw_payload_id": self.raw_payload_id,
        }
        if self.content_sha256 is not None:
            out["content_sha256"] = self.content_sha256
        return out


ConversationPart: TypeAlias = (
    TextPart | SummaryPart | EncodedPart | JsonPart | CodePart | PayloadRefPart
)


@attrs.frozen
class AgentMessageMeta:
    author: str
    recipient: str


# --- producers and anchors -----------------------------------------------------------------------

ProducerType: TypeAlias = Literal[
    "user_input", "inference", "tool", "code_cell", "interaction_edge", "compaction", "harness"
]
_PRODUCER_FIELD: Final[dict[str, str]] = {
    "inference": "inference_call_id",
    "tool": "tool_call_id",
    "code_cell": "code_cell_id",
    "interaction_edge": "edge_id",
    "compaction": "compaction_id",
}


@attrs.frozen
class Producer:
    """Who put an item into the conversation (``ProducerRef``)."""

    type: ProducerType
    id: str | None = None

    def to_json(self) -> dict[str, Any]:
        field = _PRODUCER_FIELD.get(self.type)
        if field is None:
            return {"type": self.type}
        return {"type": self.type, field: self.id}


AnchorType: TypeAlias = Literal["conversation_item", "tool_call", "thread"]
_ANCHOR_FIELD: Final[dict[str, str]] = {
    "conversation_item": "item_id",
    "tool_call": "tool_call_id",
    "thread": "thread_id",
}


@attrs.frozen
class TraceAnchor:
    type: AnchorType
    id: str

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, _ANCHOR_FIELD[self.type]: self.id}


# --- objects -------------------------------------------------------------------------------------


@attrs.define(slots=True)
class ExecutionWindow:
    started_at_unix_ms: int
    started_seq: int
    ended_at_unix_ms: int | None = None
    ended_seq: int | None = None
    status: ExecutionStatus = "running"

    def end(self, at: int, seq: int, status: ExecutionStatus) -> None:
        self.ended_at_unix_ms = at
        self.ended_seq = seq
        self.status = status

    def to_json(self) -> dict[str, Any]:
        return {
            "started_at_unix_ms": self.started_at_unix_ms,
            "started_seq": self.started_seq,
            "ended_at_unix_ms": self.ended_at_unix_ms,
            "ended_seq": self.ended_seq,
            "status": self.status,
        }


@attrs.frozen
class SpawnedOrigin:
    parent_thread_id: str
    spawn_edge_id: str
    task_name: str
    agent_role: str

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "spawned",
            "parent_thread_id": self.parent_thread_id,
            "spawn_edge_id": self.spawn_edge_id,
            "task_name": self.task_name,
            "agent_role": self.agent_role,
        }


@attrs.define(slots=True)
class AgentThread:
    thread_id: str
    agent_path: str
    nickname: str | None
    origin: SpawnedOrigin | None  # None = root
    execution: ExecutionWindow
    default_model: str | None
    conversation_item_ids: list[str] = attrs.field(factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "agent_path": self.agent_path,
            "nickname": self.nickname,
            "origin": {"type": "root"} if self.origin is None else self.origin.to_json(),
            "execution": self.execution.to_json(),
            "default_model": self.default_model,
            "conversation_item_ids": self.conversation_item_ids,
        }


@attrs.define(slots=True)
class CodexTurn:
    codex_turn_id: str
    thread_id: str
    execution: ExecutionWindow
    input_item_ids: list[str] = attrs.field(factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "codex_turn_id": self.codex_turn_id,
            "thread_id": self.thread_id,
            "execution": self.execution.to_json(),
            "input_item_ids": self.input_item_ids,
        }


@attrs.define(slots=True)
class ConversationItem:
    item_id: str
    thread_id: str
    codex_turn_id: str | None
    first_seen_at_unix_ms: int
    role: ConversationRole
    channel: ConversationChannel | None
    kind: ConversationItemKind
    body: list[ConversationPart]
    call_id: str | None
    produced_by: list[Producer] = attrs.field(factory=list)
    agent_message: AgentMessageMeta | None = None
    responses_item_id: str | None = None
    accepted_at_unix_ms: int | None = None
    accepted_seq: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"item_id": self.item_id}
        if self.responses_item_id is not None:
            out["responses_item_id"] = self.responses_item_id
        if self.accepted_at_unix_ms is not None:
            out["accepted_at_unix_ms"] = self.accepted_at_unix_ms
            out["accepted_seq"] = self.accepted_seq
        out["thread_id"] = self.thread_id
        out["codex_turn_id"] = self.codex_turn_id
        out["first_seen_at_unix_ms"] = self.first_seen_at_unix_ms
        out["role"] = self.role
        out["channel"] = self.channel
        out["kind"] = self.kind
        if self.agent_message is not None:
            out["agent_message"] = {
                "author": self.agent_message.author,
                "recipient": self.agent_message.recipient,
            }
        out["body"] = {"parts": [part.to_json() for part in self.body]}
        out["call_id"] = self.call_id
        out["produced_by"] = [producer.to_json() for producer in self.produced_by]
        return out


@attrs.define(slots=True)
class TokenUsage:
    input_tokens: int
    cached_input_tokens: int
    cache_write_input_tokens: int
    output_tokens: int
    reasoning_output_tokens: int

    def to_json(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "cache_write_input_tokens": self.cache_write_input_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_output_tokens": self.reasoning_output_tokens,
        }


@attrs.define(slots=True)
class InferenceCall:
    inference_call_id: str
    thread_id: str
    codex_turn_id: str
    execution: ExecutionWindow
    model: str
    provider_name: str
    raw_request_payload_id: str
    response_id: str | None = None
    upstream_request_id: str | None = None
    request_item_ids: list[str] = attrs.field(factory=list)
    response_item_ids: list[str] = attrs.field(factory=list)
    tool_call_ids_started_by_response: list[str] = attrs.field(factory=list)
    usage: TokenUsage | None = None
    raw_response_payload_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "inference_call_id": self.inference_call_id,
            "thread_id": self.thread_id,
            "codex_turn_id": self.codex_turn_id,
            "execution": self.execution.to_json(),
            "model": self.model,
            "provider_name": self.provider_name,
            "response_id": self.response_id,
            "upstream_request_id": self.upstream_request_id,
            "request_item_ids": self.request_item_ids,
            "response_item_ids": self.response_item_ids,
            "tool_call_ids_started_by_response": self.tool_call_ids_started_by_response,
            "usage": None if self.usage is None else self.usage.to_json(),
            "raw_request_payload_id": self.raw_request_payload_id,
            "raw_response_payload_id": self.raw_response_payload_id,
        }


@attrs.define(slots=True)
class CodeCell:
    code_cell_id: str
    model_visible_call_id: str
    thread_id: str
    codex_turn_id: str
    source_item_id: str
    execution: ExecutionWindow
    source_js: str
    output_item_ids: list[str] = attrs.field(factory=list)
    runtime_cell_id: str | None = None
    runtime_status: CodeCellRuntimeStatus = "starting"
    initial_response_at_unix_ms: int | None = None
    initial_response_seq: int | None = None
    initial_response_status: CodeCellRuntimeStatus | None = None
    raw_initial_response_payload_id: str | None = None
    raw_result_payload_id: str | None = None
    yielded_at_unix_ms: int | None = None
    yielded_seq: int | None = None
    nested_tool_call_ids: list[str] = attrs.field(factory=list)
    wait_tool_call_ids: list[str] = attrs.field(factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "code_cell_id": self.code_cell_id,
            "model_visible_call_id": self.model_visible_call_id,
            "thread_id": self.thread_id,
            "codex_turn_id": self.codex_turn_id,
            "source_item_id": self.source_item_id,
            "output_item_ids": self.output_item_ids,
            "runtime_cell_id": self.runtime_cell_id,
            "execution": self.execution.to_json(),
            "runtime_status": self.runtime_status,
            "initial_response_at_unix_ms": self.initial_response_at_unix_ms,
            "initial_response_seq": self.initial_response_seq,
            "initial_response_status": self.initial_response_status,
            "raw_initial_response_payload_id": self.raw_initial_response_payload_id,
            "raw_result_payload_id": self.raw_result_payload_id,
            "yielded_at_unix_ms": self.yielded_at_unix_ms,
            "yielded_seq": self.yielded_seq,
            "source_js": self.source_js,
            "nested_tool_call_ids": self.nested_tool_call_ids,
            "wait_tool_call_ids": self.wait_tool_call_ids,
        }


@attrs.define(slots=True)
class ToolCall:
    tool_call_id: str
    model_visible_call_id: str | None
    code_mode_runtime_tool_id: str | None
    thread_id: str
    started_by_codex_turn_id: str | None
    execution: ExecutionWindow
    requester_code_cell_id: str | None  # None = requested by the model
    kind: ToolCallKind
    summary: ToolCallSummary
    raw_invocation_payload_id: str | None
    mcp_call_id: str | None = None
    started_code_cell_id: str | None = None
    model_visible_call_item_ids: list[str] = attrs.field(factory=list)
    model_visible_output_item_ids: list[str] = attrs.field(factory=list)
    terminal_operation_id: str | None = None
    raw_result_payload_id: str | None = None
    raw_runtime_payload_ids: list[str] = attrs.field(factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tool_call_id": self.tool_call_id,
            "mcp_call_id": self.mcp_call_id,
            "model_visible_call_id": self.model_visible_call_id,
            "code_mode_runtime_tool_id": self.code_mode_runtime_tool_id,
        }
        if self.started_code_cell_id is not None:
            out["started_code_cell_id"] = self.started_code_cell_id
        out["thread_id"] = self.thread_id
        out["started_by_codex_turn_id"] = self.started_by_codex_turn_id
        out["execution"] = self.execution.to_json()
        out["requester"] = (
            {"type": "model"}
            if self.requester_code_cell_id is None
            else {"type": "code_cell", "code_cell_id": self.requester_code_cell_id}
        )
        out["kind"] = codec.converter.unstructure(self.kind, ToolCallKind)
        out["model_visible_call_item_ids"] = self.model_visible_call_item_ids
        out["model_visible_output_item_ids"] = self.model_visible_output_item_ids
        out["terminal_operation_id"] = self.terminal_operation_id
        out["summary"] = codec.converter.unstructure(self.summary, self.summary.__class__)
        out["raw_invocation_payload_id"] = self.raw_invocation_payload_id
        out["raw_result_payload_id"] = self.raw_result_payload_id
        out["raw_runtime_payload_ids"] = self.raw_runtime_payload_ids
        return out


@attrs.define(slots=True)
class TerminalSession:
    terminal_id: str
    thread_id: str
    created_by_operation_id: str
    execution: ExecutionWindow
    operation_ids: list[str] = attrs.field(factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "terminal_id": self.terminal_id,
            "thread_id": self.thread_id,
            "created_by_operation_id": self.created_by_operation_id,
            "operation_ids": self.operation_ids,
            "execution": self.execution.to_json(),
        }


@attrs.define(slots=True)
class ExecCommandRequest:
    command: list[str]
    display_command: str
    cwd: str
    yield_time_ms: int | None = None
    max_output_tokens: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "exec_command",
            "command": self.command,
            "display_command": self.display_command,
            "cwd": self.cwd,
            "yield_time_ms": self.yield_time_ms,
            "max_output_tokens": self.max_output_tokens,
        }


@attrs.define(slots=True)
class WriteStdinRequest:
    stdin: str
    yield_time_ms: int | None = None
    max_output_tokens: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "write_stdin",
            "stdin": self.stdin,
            "yield_time_ms": self.yield_time_ms,
            "max_output_tokens": self.max_output_tokens,
        }


TerminalRequest: TypeAlias = ExecCommandRequest | WriteStdinRequest


@attrs.define(slots=True)
class TerminalResult:
    exit_code: int | None
    stdout: str
    stderr: str
    formatted_output: str | None = None
    original_token_count: int | None = None
    chunk_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "formatted_output": self.formatted_output,
            "original_token_count": self.original_token_count,
            "chunk_id": self.chunk_id,
        }


@attrs.define(slots=True)
class ModelObservation:
    call_item_ids: list[str]
    output_item_ids: list[str]
    source: Literal["direct_tool_call", "code_cell_output"] = "direct_tool_call"

    def to_json(self) -> dict[str, Any]:
        return {
            "call_item_ids": self.call_item_ids,
            "output_item_ids": self.output_item_ids,
            "source": self.source,
        }


@attrs.define(slots=True)
class TerminalOperation:
    operation_id: str
    terminal_id: str | None
    tool_call_id: str
    kind: Literal["exec_command", "write_stdin"]
    execution: ExecutionWindow
    request: TerminalRequest
    result: TerminalResult | None = None
    model_observations: list[ModelObservation] = attrs.field(factory=list)
    raw_payload_ids: list[str] = attrs.field(factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "operation_id": self.operation_id,
            "terminal_id": self.terminal_id,
            "tool_call_id": self.tool_call_id,
            "kind": self.kind,
            "execution": self.execution.to_json(),
            "request": self.request.to_json(),
            "result": None if self.result is None else self.result.to_json(),
            "model_observations": [obs.to_json() for obs in self.model_observations],
            "raw_payload_ids": self.raw_payload_ids,
        }


@attrs.define(slots=True)
class Compaction:
    compaction_id: str
    thread_id: str
    codex_turn_id: str
    installed_at_unix_ms: int
    marker_item_id: str
    request_ids: list[str]
    input_item_ids: list[str]
    replacement_item_ids: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "compaction_id": self.compaction_id,
            "thread_id": self.thread_id,
            "codex_turn_id": self.codex_turn_id,
            "installed_at_unix_ms": self.installed_at_unix_ms,
            "marker_item_id": self.marker_item_id,
            "request_ids": self.request_ids,
            "input_item_ids": self.input_item_ids,
            "replacement_item_ids": self.replacement_item_ids,
        }


@attrs.define(slots=True)
class CompactionRequest:
    compaction_request_id: str
    compaction_id: str
    thread_id: str
    codex_turn_id: str
    execution: ExecutionWindow
    model: str
    provider_name: str
    raw_request_payload_id: str
    raw_response_payload_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "compaction_request_id": self.compaction_request_id,
            "compaction_id": self.compaction_id,
            "thread_id": self.thread_id,
            "codex_turn_id": self.codex_turn_id,
            "execution": self.execution.to_json(),
            "model": self.model,
            "provider_name": self.provider_name,
            "raw_request_payload_id": self.raw_request_payload_id,
            "raw_response_payload_id": self.raw_response_payload_id,
        }


@attrs.define(slots=True)
class InteractionEdge:
    edge_id: str
    kind: InteractionEdgeKind
    source: TraceAnchor
    target: TraceAnchor
    started_at_unix_ms: int
    ended_at_unix_ms: int | None
    carried_item_ids: list[str] = attrs.field(factory=list)
    carried_raw_payload_ids: list[str] = attrs.field(factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "edge_id": self.edge_id,
            "kind": self.kind,
            "source": self.source.to_json(),
            "target": self.target.to_json(),
            "started_at_unix_ms": self.started_at_unix_ms,
            "ended_at_unix_ms": self.ended_at_unix_ms,
            "carried_item_ids": self.carried_item_ids,
            "carried_raw_payload_ids": self.carried_raw_payload_ids,
        }


@attrs.define(slots=True)
class RolloutTrace:
    trace_id: str
    rollout_id: str
    root_thread_id: str
    started_at_unix_ms: int
    schema_version: int = STATE_SCHEMA_VERSION
    ended_at_unix_ms: int | None = None
    status: RolloutStatus = "running"
    recording_complete: bool = False
    threads: dict[str, AgentThread] = attrs.field(factory=dict)
    codex_turns: dict[str, CodexTurn] = attrs.field(factory=dict)
    conversation_items: dict[str, ConversationItem] = attrs.field(factory=dict)
    inference_calls: dict[str, InferenceCall] = attrs.field(factory=dict)
    code_cells: dict[str, CodeCell] = attrs.field(factory=dict)
    tool_calls: dict[str, ToolCall] = attrs.field(factory=dict)
    terminal_sessions: dict[str, TerminalSession] = attrs.field(factory=dict)
    terminal_operations: dict[str, TerminalOperation] = attrs.field(factory=dict)
    compactions: dict[str, Compaction] = attrs.field(factory=dict)
    compaction_requests: dict[str, CompactionRequest] = attrs.field(factory=dict)
    interaction_edges: dict[str, InteractionEdge] = attrs.field(factory=dict)
    raw_payloads: dict[str, RawPayloadRef] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The state as plain JSON values in Codex's key order (maps sorted by key)."""
        return {
            "schema_version": self.schema_version,
            "trace_id": self.trace_id,
            "rollout_id": self.rollout_id,
            "started_at_unix_ms": self.started_at_unix_ms,
            "ended_at_unix_ms": self.ended_at_unix_ms,
            "status": self.status,
            "recording_complete": self.recording_complete,
            "root_thread_id": self.root_thread_id,
            "threads": _sorted_map(self.threads),
            "codex_turns": _sorted_map(self.codex_turns),
            "conversation_items": _sorted_map(self.conversation_items),
            "inference_calls": _sorted_map(self.inference_calls),
            "code_cells": _sorted_map(self.code_cells),
            "tool_calls": _sorted_map(self.tool_calls),
            "terminal_sessions": _sorted_map(self.terminal_sessions),
            "terminal_operations": _sorted_map(self.terminal_operations),
            "compactions": _sorted_map(self.compactions),
            "compaction_requests": _sorted_map(self.compaction_requests),
            "interaction_edges": _sorted_map(self.interaction_edges),
            "raw_payloads": {
                key: {
                    "raw_payload_id": ref.raw_payload_id,
                    "kind": {"type": ref.kind},
                    "path": ref.path,
                }
                for key, ref in sorted(self.raw_payloads.items())
            },
        }


def _sorted_map(objects: dict[str, Any]) -> dict[str, Any]:
    # Python's str ordering is by code point, which equals Rust's byte-wise BTreeMap order
    # for UTF-8 strings.
    return {key: objects[key].to_json() for key in sorted(objects)}


def state_bytes(trace: RolloutTrace) -> bytes:
    """Exactly the bytes ``codex debug trace-reduce`` writes: 2-space pretty JSON, raw UTF-8,
    no trailing newline."""
    return orjson.dumps(trace.to_json(), option=orjson.OPT_INDENT_2)
