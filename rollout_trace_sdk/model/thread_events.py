"""Events of the rollout, its threads and turns, and of what a turn does besides tools: model
calls (inference), history acceptance, compaction, agent results, protocol events
(../shared/spec/format.md 2.2; v2.md 2.2; v3.md 7.1-7.2). Declared in the order Codex's reducer
lists them.
"""

from __future__ import annotations

from typing import Any, Final, Literal, TypeAlias

import attrs

from .payload_refs import RawPayloadRef

ExecutionStatus: TypeAlias = Literal["running", "completed", "failed", "cancelled", "aborted"]
EXECUTION_STATUSES: Final[tuple[str, ...]] = ExecutionStatus.__args__  # type: ignore[attr-defined]

RolloutStatus: TypeAlias = Literal["running", "completed", "failed", "aborted"]
ROLLOUT_STATUSES: Final[tuple[str, ...]] = RolloutStatus.__args__  # type: ignore[attr-defined]


@attrs.frozen
class RecordingCompleted:
    """Last line of a finished bundle: everything the recorder had is on disk."""


@attrs.frozen
class RolloutStarted:
    trace_id: str
    root_thread_id: str


@attrs.frozen
class RolloutEnded:
    status: RolloutStatus


@attrs.frozen
class ThreadStarted:
    thread_id: str
    agent_path: str
    metadata_payload: RawPayloadRef | None


@attrs.frozen
class ThreadEnded:
    thread_id: str
    status: RolloutStatus


@attrs.frozen
class ThreadResumed:
    thread_id: str


@attrs.frozen
class CodexTurnStarted:
    codex_turn_id: str
    thread_id: str


@attrs.frozen
class CodexTurnEnded:
    codex_turn_id: str
    status: ExecutionStatus


@attrs.frozen
class HistoryItemAccepted:
    """A model item entered the thread's history; omitted payload key when absent."""

    item_id: str
    agent_message_payload: RawPayloadRef | None = None


@attrs.frozen
class HistoryItemAcceptedV3(HistoryItemAccepted):
    """Schema 3: a tool output accepted into history carries its item, which creates the
    conversation item at acceptance rather than at the next request."""

    tool_output_payload: RawPayloadRef | None = None


@attrs.frozen
class InferenceStarted:
    inference_call_id: str
    thread_id: str
    codex_turn_id: str
    model: str
    provider_name: str
    request_payload: RawPayloadRef


@attrs.frozen
class InferenceStartedV3(InferenceStarted):
    """Schema 3: the prompt as Codex prepared it (a template of model items, never read by the
    reducer), an optional warm-up context reduced instead of the request, and tool-output ids
    the request stripped (``[input index, output id]``)."""

    prepared_prompt_payload: RawPayloadRef
    warmup_context_payload: RawPayloadRef | None = None
    stripped_tool_output_ids: tuple[tuple[int, str], ...] | None = None


def without_prepared_prompt(started: InferenceStartedV3) -> InferenceStarted:
    """A schema-3 ``inference_started`` as schema 2 writes it: its schema-2 fields (what a
    converter keeps; whether the others may be dropped is the converter's to decide)."""
    return InferenceStarted(
        *(getattr(started, field.name) for field in attrs.fields(InferenceStarted))
    )


def with_prepared_prompt(started: InferenceStarted, prompt: RawPayloadRef) -> InferenceStartedV3:
    """A schema-2 ``inference_started`` as schema 3 writes it: the same fields plus the
    prepared prompt (what converters and test writers need when they upgrade a start)."""
    return InferenceStartedV3(
        started.inference_call_id,
        started.thread_id,
        started.codex_turn_id,
        started.model,
        started.provider_name,
        started.request_payload,
        prompt,
    )


@attrs.frozen
class InferenceCompleted:
    inference_call_id: str
    response_id: str | None
    upstream_request_id: str | None
    response_payload: RawPayloadRef


@attrs.frozen
class InferenceFailed:
    inference_call_id: str
    upstream_request_id: str | None
    error: str
    partial_response_payload: RawPayloadRef | None


@attrs.frozen
class InferenceCancelled:
    inference_call_id: str
    upstream_request_id: str | None
    reason: str
    partial_response_payload: RawPayloadRef | None


# Shares InferenceStarted's fields, but is another Codex event whose keys come in its own
# order (serialised as declared): two declarations, not one type.
@attrs.frozen
class CompactionRequestStarted:
    compaction_id: str
    compaction_request_id: str
    thread_id: str
    codex_turn_id: str
    model: str
    provider_name: str
    request_payload: RawPayloadRef


@attrs.frozen
class CompactionRequestCompleted:
    compaction_id: str
    compaction_request_id: str
    response_payload: RawPayloadRef


@attrs.frozen
class CompactionRequestFailed:
    compaction_id: str
    compaction_request_id: str
    error: str


@attrs.frozen
class CompactionInstalled:
    compaction_id: str
    checkpoint_payload: RawPayloadRef


@attrs.frozen
class AgentResultObserved:
    edge_id: str
    child_thread_id: str
    child_codex_turn_id: str
    parent_thread_id: str
    message: str
    carried_payload: RawPayloadRef | None


@attrs.frozen
class ProtocolEventObserved:
    event_type: str
    event_payload: RawPayloadRef


@attrs.frozen
class Other:
    """Declared by Codex, produced by nothing; its reducer refuses it."""

    kind: str
    summary: str
    payloads: list[RawPayloadRef]
    metadata: Any
