"""The reduced state graph (``state.json``): what ``codex debug trace-reduce`` writes.

This is the module everything imports (``from ..model import state as st``). The nodes live in
three modules by area and are re-exported here: ``state_conversation`` (items, their parts and
producers), ``state_execution`` (threads, turns, inference calls, compactions, interaction
edges, execution windows) and ``state_tools`` (tool calls, code cells, terminals). The root,
``RolloutTrace``, and its bytes (``state_bytes``) stay here.

The classes are mutable because replay grows them event by event; they are slotted because a
long rollout holds many thousands of conversation items. Serialisation is hand-written rather
than derived: Codex's key order, the keys it omits (``responses_item_id``, ``accepted_*``,
``agent_message``, ``started_code_cell_id``, ``content_sha256``) and its sorted maps are part of
the byte format, and spelling them out per class keeps that visible in one place.
"""

from __future__ import annotations

from typing import Any, Final, Literal, TypeAlias

import attrs

from .payload_refs import RawPayloadRef
from .state_conversation import (
    AgentMessageMeta,
    CodePart,
    ConversationChannel,
    ConversationItem,
    ConversationItemKind,
    ConversationPart,
    ConversationRole,
    EncodedPart,
    JsonPart,
    PayloadRefPart,
    Producer,
    ProducerType,
    SummaryPart,
    TextPart,
)
from .state_execution import (
    AgentThread,
    AnchorType,
    CodexTurn,
    Compaction,
    CompactionRequest,
    ExecutionWindow,
    InferenceCall,
    InteractionEdge,
    InteractionEdgeKind,
    SpawnedOrigin,
    TokenUsage,
    TraceAnchor,
)
from .state_tools import (
    CodeCell,
    ExecCommandRequest,
    ModelObservation,
    TerminalOperation,
    TerminalRequest,
    TerminalResult,
    TerminalSession,
    ToolCall,
    WriteStdinRequest,
)
from .thread_events import RolloutStatus

__all__ = [
    "STATE_SCHEMA_VERSION",
    "AgentMessageMeta",
    "AgentThread",
    "AnchorType",
    "CodeCell",
    "CodePart",
    "CodexTurn",
    "Compaction",
    "CompactionRequest",
    "ConversationChannel",
    "ConversationItem",
    "ConversationItemKind",
    "ConversationPart",
    "ConversationRole",
    "EncodedPart",
    "ExecCommandRequest",
    "ExecutionWindow",
    "InferenceCall",
    "InteractionEdge",
    "InteractionEdgeKind",
    "JsonPart",
    "ModelObservation",
    "PayloadRefPart",
    "Producer",
    "ProducerType",
    "RecordingStatus",
    "RolloutTrace",
    "SpawnedOrigin",
    "SummaryPart",
    "TerminalOperation",
    "TerminalRequest",
    "TerminalResult",
    "TerminalSession",
    "TextPart",
    "TokenUsage",
    "ToolCall",
    "TraceAnchor",
    "WriteStdinRequest",
    "state_bytes",
]

STATE_SCHEMA_VERSION: Final = 2
RecordingStatus: TypeAlias = Literal["complete", "unclosed", "closed_with_partial_payloads"]


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
