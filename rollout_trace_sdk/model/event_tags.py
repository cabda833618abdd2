"""Each schema's tag table: which ``payload.type`` names which event class (``events``), in
the order Codex's "expected one of" message lists them. Schema 3's is schema 2's with two
classes widened (``HistoryItemAcceptedV3``, ``InferenceStartedV3``) and one variant added.
"""

from __future__ import annotations

from typing import Final

from . import events as ev

#: ``payload.type`` tag → class, in the order Codex's "expected one of" message lists them.
EVENT_TYPES: Final[dict[str, type[ev.EventPayload]]] = {
    "recording_completed": ev.RecordingCompleted,
    "rollout_started": ev.RolloutStarted,
    "rollout_ended": ev.RolloutEnded,
    "thread_started": ev.ThreadStarted,
    "thread_ended": ev.ThreadEnded,
    "thread_resumed": ev.ThreadResumed,
    "codex_turn_started": ev.CodexTurnStarted,
    "codex_turn_ended": ev.CodexTurnEnded,
    "history_item_accepted": ev.HistoryItemAccepted,
    "inference_started": ev.InferenceStarted,
    "inference_completed": ev.InferenceCompleted,
    "inference_failed": ev.InferenceFailed,
    "inference_cancelled": ev.InferenceCancelled,
    "tool_call_started": ev.ToolCallStarted,
    "mcp_tool_call_correlation_assigned": ev.McpToolCallCorrelationAssigned,
    "stdin_target_resolved": ev.StdinTargetResolved,
    "tool_call_runtime_started": ev.ToolCallRuntimeStarted,
    "tool_call_runtime_ended": ev.ToolCallRuntimeEnded,
    "tool_call_ended": ev.ToolCallEnded,
    "code_cell_started": ev.CodeCellStarted,
    "code_cell_initial_response": ev.CodeCellInitialResponse,
    "code_cell_ended": ev.CodeCellEnded,
    "compaction_request_started": ev.CompactionRequestStarted,
    "compaction_request_completed": ev.CompactionRequestCompleted,
    "compaction_request_failed": ev.CompactionRequestFailed,
    "compaction_installed": ev.CompactionInstalled,
    "agent_result_observed": ev.AgentResultObserved,
    "protocol_event_observed": ev.ProtocolEventObserved,
    "other": ev.Other,
}


def _v3_types() -> dict[str, type[ev.EventPayload]]:
    types: dict[str, type[ev.EventPayload]] = {}
    for tag, cls in EVENT_TYPES.items():
        types[tag] = {
            ev.HistoryItemAccepted: ev.HistoryItemAcceptedV3,
            ev.InferenceStarted: ev.InferenceStartedV3,
        }.get(cls, cls)
        if tag == "stdin_target_resolved":
            types["code_cell_wait_target_resolved"] = ev.CodeCellWaitTargetResolved
    return types


#: Schema 3's tag table: schema 2's, two classes widened, one variant added (Codex's order).
EVENT_TYPES_V3: Final[dict[str, type[ev.EventPayload]]] = _v3_types()


def event_types(schema: int) -> dict[str, type[ev.EventPayload]]:
    """The tag table of ``schema`` (2 or 3)."""
    return EVENT_TYPES_V3 if schema == ev.SCHEMA_VERSION_V3 else EVENT_TYPES
