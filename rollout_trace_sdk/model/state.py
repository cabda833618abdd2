"""The reduced state graph (``state.json``): what ``codex debug trace-reduce`` writes.

The classes are mutable because replay grows them event by event; they are slotted because a
long rollout holds many thousands of conversation items. Serialisation is hand-written rather
than derived: Codex's key order, the keys it omits (``responses_item_id``, ``accepted_*``,
``agent_message``, ``started_code_cell_id``, ``content_sha256``) and its sorted maps are part of
the byte format, and spelling them out per class keeps that visible in one place.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final, Literal, TypeAlias

import attrs

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
RecordingStatus: TypeAlias = Literal["complete", "unclosed", "closed_with_partial_payloads"]
InteractionEdgeKind: TypeAlias = Literal[
    "spawn_agent", "assign_agent_task", "send_message", "agent_result", "close_agent"
]


# --- serialisation -------------------------------------------------------------------------------
#
# Field order is Codex's key order: ``_record`` writes attrs fields as declared (the big classes
# are ``kw_only`` so their order can follow Codex rather than Python's defaults-last rule). Keys
# named in a class's ``_OMIT_NONE`` are left out when unset, as Codex does; any other None is null.

_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES[cls] = tuple(f.name for f in attrs.fields(cls))
    return names


def _record(obj: Any) -> dict[str, Any]:
    cls = type(obj)
    names = _FIELD_NAMES.get(cls) or _field_names(cls)
    omit: frozenset[str] = getattr(cls, "_OMIT_NONE", frozenset())
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(obj, name)
        if value is None:
            if name not in omit:
                out[name] = None
        elif isinstance(value, list):
            objects = value and hasattr(value[0], "to_json")
            out[name] = [v.to_json() for v in value] if objects else value
        elif hasattr(value, "to_json"):
            out[name] = value.to_json()
        else:
            out[name] = value
    return out


class _Record:
    """Serialises as its fields, in declaration order."""

    __slots__ = ()

    def to_json(self) -> dict[str, Any]:
        return _record(self)


class _Tagged:
    """A variant of one of Codex's tagged enums: serialises as ``{"type": TYPE}`` followed by
    its fields, which are plain JSON values (a leaner loop than ``_record``'s: a request has
    a part or two per item)."""

    __slots__ = ()
    TYPE: ClassVar[str]
    _OMIT_NONE: ClassVar[frozenset[str]] = frozenset()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.TYPE}
        omit = self._OMIT_NONE
        for name in _FIELD_NAMES.get(type(self)) or _field_names(type(self)):
            value = getattr(self, name)
            if value is not None or name not in omit:
                out[name] = value
        return out


# --- conversation parts --------------------------------------------------------------------------


@attrs.frozen
class TextPart(_Tagged):
    TYPE: ClassVar[str] = "text"
    text: str


@attrs.frozen
class SummaryPart(_Tagged):
    TYPE: ClassVar[str] = "summary"
    text: str


@attrs.frozen
class EncodedPart(_Tagged):
    TYPE: ClassVar[str] = "encoded"
    label: str
    value: str


@attrs.frozen
class JsonPart(_Tagged):
    """A JSON value shown as a cut-down summary; the payload holds the full value."""

    TYPE: ClassVar[str] = "json"
    summary: str
    raw_payload_id: str


@attrs.frozen
class CodePart(_Tagged):
    TYPE: ClassVar[str] = "code"
    language: str
    source: str


@attrs.frozen
class PayloadRefPart(_Tagged):
    """Content we do not inline (images, unknown element types); the hash, when present,
    is what makes one image in two request payloads the same part."""

    TYPE: ClassVar[str] = "payload_ref"
    _OMIT_NONE: ClassVar[frozenset[str]] = frozenset({"content_sha256"})
    label: str
    raw_payload_id: str
    content_sha256: str | None = None


ConversationPart: TypeAlias = (
    TextPart | SummaryPart | EncodedPart | JsonPart | CodePart | PayloadRefPart
)


@attrs.frozen
class AgentMessageMeta:
    author: str
    recipient: str

    def to_json(self) -> dict[str, Any]:
        return {"author": self.author, "recipient": self.recipient}


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


@attrs.define(slots=True)
class ExecutionWindow(_Record):
    started_at_unix_ms: int
    started_seq: int
    ended_at_unix_ms: int | None = None
    ended_seq: int | None = None
    status: ExecutionStatus = "running"

    def end(self, at: int, seq: int, status: ExecutionStatus) -> None:
        self.ended_at_unix_ms = at
        self.ended_seq = seq
        self.status = status


@attrs.frozen
class SpawnedOrigin(_Tagged):
    TYPE: ClassVar[str] = "spawned"
    parent_thread_id: str
    spawn_edge_id: str
    task_name: str
    agent_role: str


@attrs.define(slots=True, kw_only=True)
class AgentThread(_Record):
    thread_id: str
    agent_path: str
    nickname: str | None
    #: None = a root thread; ``"unknown"``: schema 3, its metadata payload was omitted
    #: (Codex 0.171 then cannot tell; a thread started with no metadata at all is a root)
    origin: SpawnedOrigin | Literal["unknown"] | None
    execution: ExecutionWindow
    default_model: str | None
    conversation_item_ids: list[str] = attrs.field(factory=list)

    def to_json(self) -> dict[str, Any]:
        out = _record(self)
        if self.origin is None:
            out["origin"] = {"type": "root"}
        elif self.origin == "unknown":
            out["origin"] = {"type": "unknown"}
        return out


@attrs.define(slots=True, kw_only=True)
class CodexTurn(_Record):
    """One turn of one thread, and the items accepted as its input."""

    codex_turn_id: str
    thread_id: str
    execution: ExecutionWindow
    input_item_ids: list[str] = attrs.field(factory=list)


@attrs.define(slots=True, kw_only=True)
class ConversationItem:
    _OMIT_NONE: ClassVar[frozenset[str]] = frozenset(
        {"responses_item_id", "accepted_at_unix_ms", "accepted_seq", "agent_message"}
    )

    item_id: str
    responses_item_id: str | None = None
    accepted_at_unix_ms: int | None = None
    accepted_seq: int | None = None
    thread_id: str
    codex_turn_id: str | None
    first_seen_at_unix_ms: int
    role: ConversationRole
    channel: ConversationChannel | None
    kind: ConversationItemKind
    agent_message: AgentMessageMeta | None = None
    body: list[ConversationPart]
    call_id: str | None
    produced_by: list[Producer] = attrs.field(factory=list)

    def to_json(self) -> dict[str, Any]:
        out = _record(self)
        out["body"] = {"parts": out["body"]}
        return out


@attrs.define(slots=True)
class TokenUsage(_Record):
    input_tokens: int
    cached_input_tokens: int
    cache_write_input_tokens: int
    output_tokens: int
    reasoning_output_tokens: int


@attrs.define(slots=True, kw_only=True)
class InferenceCall(_Record):
    #: schema 3 always sets the prompt id; schema 2 has no such key
    _OMIT_NONE: ClassVar[frozenset[str]] = frozenset({"prepared_prompt_payload_id"})

    inference_call_id: str
    thread_id: str
    codex_turn_id: str
    execution: ExecutionWindow
    model: str
    provider_name: str
    response_id: str | None = None
    upstream_request_id: str | None = None
    request_item_ids: list[str] = attrs.field(factory=list)
    response_item_ids: list[str] = attrs.field(factory=list)
    tool_call_ids_started_by_response: list[str] = attrs.field(factory=list)
    usage: TokenUsage | None = None
    raw_request_payload_id: str
    prepared_prompt_payload_id: str | None = None
    raw_response_payload_id: str | None = None


@attrs.define(slots=True, kw_only=True)
class CodeCell(_Record):
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
        out["kind"] = codec.converter.unstructure(self.kind, ToolCallKind)
        out["model_visible_call_item_ids"] = self.model_visible_call_item_ids
        out["model_visible_output_item_ids"] = self.model_visible_output_item_ids
        out["terminal_operation_id"] = self.terminal_operation_id
        out["summary"] = codec.converter.unstructure(self.summary, self.summary.__class__)
        out["raw_invocation_payload_id"] = self.raw_invocation_payload_id
        out["raw_result_payload_id"] = self.raw_result_payload_id
        out["raw_runtime_payload_ids"] = self.raw_runtime_payload_ids
        return out


# Alike in shape to CodexTurn and its neighbours (a to_json ending, then fields), but each
# class is one of Codex's state types spelling out its own keys in order: not one thing.
@attrs.define(slots=True, kw_only=True)
class TerminalSession(_Record):
    """A terminal process, from the ``exec_command`` that started it to its last operation."""

    terminal_id: str
    thread_id: str
    created_by_operation_id: str
    operation_ids: list[str] = attrs.field(factory=list)
    execution: ExecutionWindow


@attrs.define(slots=True)
class ExecCommandRequest(_Tagged):
    TYPE: ClassVar[str] = "exec_command"
    command: list[str]
    display_command: str
    cwd: str
    yield_time_ms: int | None = None
    max_output_tokens: int | None = None


@attrs.define(slots=True)
class WriteStdinRequest(_Tagged):
    TYPE: ClassVar[str] = "write_stdin"
    stdin: str
    yield_time_ms: int | None = None
    max_output_tokens: int | None = None


TerminalRequest: TypeAlias = ExecCommandRequest | WriteStdinRequest


@attrs.define(slots=True)
class TerminalResult(_Record):
    exit_code: int | None
    stdout: str
    stderr: str
    formatted_output: str | None = None
    original_token_count: int | None = None
    chunk_id: str | None = None


@attrs.define(slots=True)
class ModelObservation(_Record):
    call_item_ids: list[str]
    output_item_ids: list[str]
    source: Literal["direct_tool_call", "code_cell_output"] = "direct_tool_call"


@attrs.define(slots=True, kw_only=True)
class TerminalOperation(_Record):
    operation_id: str
    terminal_id: str | None
    tool_call_id: str
    kind: Literal["exec_command", "write_stdin"]
    execution: ExecutionWindow
    request: TerminalRequest
    result: TerminalResult | None = None
    model_observations: list[ModelObservation] = attrs.field(factory=list)
    raw_payload_ids: list[str] = attrs.field(factory=list)


@attrs.define(slots=True, kw_only=True)
class Compaction(_Record):
    compaction_id: str
    thread_id: str
    codex_turn_id: str
    installed_at_unix_ms: int
    marker_item_id: str
    request_ids: list[str]
    input_item_ids: list[str]
    replacement_item_ids: list[str]


@attrs.define(slots=True, kw_only=True)
class CompactionRequest(_Record):
    compaction_request_id: str
    compaction_id: str
    thread_id: str
    codex_turn_id: str
    execution: ExecutionWindow
    model: str
    provider_name: str
    raw_request_payload_id: str
    raw_response_payload_id: str | None = None


@attrs.define(slots=True, kw_only=True)
class InteractionEdge(_Record):
    edge_id: str
    kind: InteractionEdgeKind
    source: TraceAnchor
    target: TraceAnchor
    started_at_unix_ms: int
    ended_at_unix_ms: int | None
    carried_item_ids: list[str] = attrs.field(factory=list)
    carried_raw_payload_ids: list[str] = attrs.field(factory=list)


@attrs.define(slots=True, kw_only=True)
class RolloutTrace:
    """The reduced state of one rollout: every object ``codex debug trace-reduce`` writes,
    keyed by id (threads, turns, conversation items, inference and tool calls, code cells,
    terminals, compactions, interaction edges, raw payload references).

    :func:`state_bytes` gives its exact bytes; ``to_json`` the same as plain values.
    """

    schema_version: int = STATE_SCHEMA_VERSION
    trace_id: str
    rollout_id: str
    started_at_unix_ms: int
    ended_at_unix_ms: int | None = None
    status: RolloutStatus = "running"
    recording_complete: bool = False
    root_thread_id: str
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
    #: A lenient replay passed over something (an event, a payload, a shard): the state then
    #: never says the recording is whole. Not a key of the state.
    lenient_gaps: bool = attrs.field(default=False, metadata={"written": False})

    @property
    def recording_status(self) -> RecordingStatus:
        """Schema 3: ``unclosed`` until ``recording_completed``; then whether every registered
        payload (template parts included) was captured whole (and, after a lenient replay
        that passed over something, reached the reducer)."""
        if not self.recording_complete:
            return "unclosed"
        if self.lenient_gaps:
            return "closed_with_partial_payloads"
        for ref in self.raw_payloads.values():
            if any(not r.available for r in ref.walk()):
                return "closed_with_partial_payloads"
        return "complete"

    def to_json(self) -> dict[str, Any]:
        """The state as plain JSON values in Codex's key order (maps sorted by key).

        Returns:
            A dict ready for any JSON encoder (``state_bytes`` uses Codex's formatting).
        """
        from .state_json import state_fields

        return {
            name: value if entries is None else dict(entries)
            for name, value, entries in state_fields(self)
        }


def state_bytes(trace: RolloutTrace) -> bytes:
    """Exactly the bytes ``codex debug trace-reduce`` writes: 2-space pretty JSON, raw UTF-8,
    no trailing newline.

    Args:
        trace: a reduced state (from :func:`~rollout_trace_sdk.reduce.reduce_bundle`).

    Returns:
        The ``state.json`` bytes.
    """
    from .state_json import state_chunks

    return b"".join(state_chunks(trace))
