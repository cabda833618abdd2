"""The raw trace vocabulary: one attrs class per event variant of schema 2 (Codex 0.169) and of
schema 3 (Codex 0.171), and the envelope and manifest that carry them.

This is the module everything imports (``from ..model import events as ev``). The classes live
in three modules along the format's own seams and are re-exported here: ``payload_refs``
(payload references and capture metadata), ``thread_events`` (rollout, thread, turn, inference,
history, compaction, agent-result and protocol events) and ``tool_events`` (tool calls and code
cells, with their kinds, requesters and summaries). What needs every variant at once stays
here: the ``EventPayload`` union, ``TraceEvent`` and ``Manifest``.

Schema 3 keeps every schema-2 variant and adds fields to two of them; those are subclasses
(``InferenceStartedV3``, ``HistoryItemAcceptedV3``) so that handlers written for the schema-2
class apply unchanged, and schema-2 code (the recorder's encoders) never sees the new fields.
Each schema's tag table (which ``payload.type`` names which class) is ``event_tags``.

Classes are frozen and slotted because the recorder builds one per event on the hot path and
nothing may mutate an event after it was snapshotted. Field order is serialisation order: the
codec writes fields exactly as declared, so reordering a field here changes the bytes on disk.

Enumerations that Codex writes as plain strings are ``Literal`` aliases (free at run time);
tagged unions (``ToolCallKind``, ``ToolCallSummary``, ``ToolCallRequester``) are small classes.
"""

from __future__ import annotations

from typing import TypeAlias

import attrs

from . import layout
from .payload_refs import (
    CAPTURE_STATUSES,
    PAYLOAD_KINDS,
    PAYLOAD_KINDS_V3,
    SCHEMA_VERSION,
    SCHEMA_VERSION_V3,
    CaptureStatus,
    PayloadCapture,
    PayloadKind,
    RawPayloadRef,
    payload_kinds,
)
from .thread_events import (
    EXECUTION_STATUSES,
    ROLLOUT_STATUSES,
    AgentResultObserved,
    CodexTurnEnded,
    CodexTurnStarted,
    CompactionInstalled,
    CompactionRequestCompleted,
    CompactionRequestFailed,
    CompactionRequestStarted,
    ExecutionStatus,
    HistoryItemAccepted,
    HistoryItemAcceptedV3,
    InferenceCancelled,
    InferenceCompleted,
    InferenceFailed,
    InferenceStarted,
    InferenceStartedV3,
    Other,
    ProtocolEventObserved,
    RecordingCompleted,
    RolloutEnded,
    RolloutStarted,
    RolloutStatus,
    ThreadEnded,
    ThreadResumed,
    ThreadStarted,
    with_prepared_prompt,
    without_prepared_prompt,
)
from .tool_events import (
    CODE_CELL_RUNTIME_STATUSES,
    SUMMARY_TYPES,
    TOOL_CALL_KIND_TYPES,
    AgentSummary,
    CodeCellEnded,
    CodeCellInitialResponse,
    CodeCellRequester,
    CodeCellRuntimeStatus,
    CodeCellStarted,
    CodeCellWaitTargetResolved,
    GenericSummary,
    McpToolCallCorrelationAssigned,
    ModelRequester,
    StdinTargetResolved,
    TerminalSummary,
    ToolCallEnded,
    ToolCallKind,
    ToolCallKindType,
    ToolCallRequester,
    ToolCallRuntimeEnded,
    ToolCallRuntimeStarted,
    ToolCallStarted,
    ToolCallSummary,
    WaitAgentSummary,
)

__all__ = [
    "CAPTURE_STATUSES",
    "CODE_CELL_RUNTIME_STATUSES",
    "EXECUTION_STATUSES",
    "PAYLOAD_KINDS",
    "PAYLOAD_KINDS_V3",
    "ROLLOUT_STATUSES",
    "SCHEMA_VERSION",
    "SCHEMA_VERSION_V3",
    "SUMMARY_TYPES",
    "TOOL_CALL_KIND_TYPES",
    "AgentResultObserved",
    "AgentSummary",
    "CaptureStatus",
    "CodeCellEnded",
    "CodeCellInitialResponse",
    "CodeCellRequester",
    "CodeCellRuntimeStatus",
    "CodeCellStarted",
    "CodeCellWaitTargetResolved",
    "CodexTurnEnded",
    "CodexTurnStarted",
    "CompactionInstalled",
    "CompactionRequestCompleted",
    "CompactionRequestFailed",
    "CompactionRequestStarted",
    "EventPayload",
    "ExecutionStatus",
    "GenericSummary",
    "HistoryItemAccepted",
    "HistoryItemAcceptedV3",
    "InferenceCancelled",
    "InferenceCompleted",
    "InferenceFailed",
    "InferenceStarted",
    "InferenceStartedV3",
    "Manifest",
    "McpToolCallCorrelationAssigned",
    "ModelRequester",
    "Other",
    "PayloadCapture",
    "PayloadKind",
    "ProtocolEventObserved",
    "RawPayloadRef",
    "RecordingCompleted",
    "RolloutEnded",
    "RolloutStarted",
    "RolloutStatus",
    "StdinTargetResolved",
    "TerminalSummary",
    "ThreadEnded",
    "ThreadResumed",
    "ThreadStarted",
    "ToolCallEnded",
    "ToolCallKind",
    "ToolCallKindType",
    "ToolCallRequester",
    "ToolCallRuntimeEnded",
    "ToolCallRuntimeStarted",
    "ToolCallStarted",
    "ToolCallSummary",
    "TraceEvent",
    "WaitAgentSummary",
    "payload_kinds",
    "with_prepared_prompt",
    "without_prepared_prompt",
]

EventPayload: TypeAlias = (
    RecordingCompleted
    | RolloutStarted
    | RolloutEnded
    | ThreadStarted
    | ThreadEnded
    | ThreadResumed
    | CodexTurnStarted
    | CodexTurnEnded
    | HistoryItemAccepted
    | HistoryItemAcceptedV3
    | InferenceStarted
    | InferenceStartedV3
    | InferenceCompleted
    | InferenceFailed
    | InferenceCancelled
    | ToolCallStarted
    | McpToolCallCorrelationAssigned
    | StdinTargetResolved
    | CodeCellWaitTargetResolved
    | ToolCallRuntimeStarted
    | ToolCallRuntimeEnded
    | ToolCallEnded
    | CodeCellStarted
    | CodeCellInitialResponse
    | CodeCellEnded
    | CompactionRequestStarted
    | CompactionRequestCompleted
    | CompactionRequestFailed
    | CompactionInstalled
    | AgentResultObserved
    | ProtocolEventObserved
    | Other
)


@attrs.frozen
class TraceEvent:
    """One ``trace.jsonl`` line: the envelope and its payload variant."""

    schema_version: int
    seq: int
    wall_time_unix_ms: int
    rollout_id: str
    thread_id: str | None
    codex_turn_id: str | None
    payload: EventPayload


@attrs.frozen
class Manifest:
    """``manifest.json``. ``rollout_id`` equals the root thread id in bundles Codex writes."""

    schema_version: int
    trace_id: str
    rollout_id: str
    root_thread_id: str
    started_at_unix_ms: int
    raw_event_log: str = layout.EVENT_LOG
    payloads_dir: str = layout.PAYLOADS_DIR
