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
    """``rollout_started``: the first line of a bundle, naming the trace and its root thread
    (../shared/spec/format.md 2.2, 4.1). The reducer takes both ids from it (reducer.md 2)."""

    trace_id: str
    root_thread_id: str


@attrs.frozen
class RolloutEnded:
    """``rollout_ended``: the root thread ended with ``status``, which becomes the state's
    ``status`` and ``ended_at_unix_ms``. A child thread ending never closes the rollout
    (format.md 4.3)."""

    status: RolloutStatus


@attrs.frozen
class ThreadStarted:
    """``thread_started``: a thread began, the root agent's or a sub-agent's. ``metadata_payload``
    (``session_metadata``) is where the reducer finds its model, nickname and, for a spawned
    thread, its parent, task and role (reducer.md 2). A thread started twice is refused."""

    thread_id: str
    agent_path: str
    metadata_payload: RawPayloadRef | None


@attrs.frozen
class ThreadEnded:
    """``thread_ended``: a thread stopped; its rollout status becomes the thread's execution status
    by name. The rollout's own status is left alone (reducer.md 2)."""

    thread_id: str
    status: RolloutStatus


@attrs.frozen
class ThreadResumed:
    """``thread_resumed``: a thread that ended earlier in this trace runs again (its end is
    cleared). Declared by Codex, written by none of the releases we recorded; the reducer's rule
    comes from probes (v2.md 2.5)."""

    thread_id: str


@attrs.frozen
class CodexTurnStarted:
    """``codex_turn_started``: a turn of ``thread_id`` began. Inference, tool, code-cell and
    compaction events name their turn; a turn started twice is refused (reducer.md 2)."""

    codex_turn_id: str
    thread_id: str


@attrs.frozen
class CodexTurnEnded:
    """``codex_turn_ended``: the turn ended with ``status``, which also closes what it left
    running: its inference calls and, unless it completed, its code cells. Tool calls and
    terminal operations stay as they are (reducer.md 2)."""

    codex_turn_id: str
    status: ExecutionStatus


@attrs.frozen
class HistoryItemAccepted:
    """``history_item_accepted``: Codex put the model item whose ``id`` is ``item_id`` into the
    thread's history; the thread's items with that id get ``accepted_*`` (v2.md 6). An agent
    message delivered to the thread comes with it (``agent_message_payload``, a key omitted when
    absent) and makes its receipt item."""

    item_id: str
    agent_message_payload: RawPayloadRef | None = None


@attrs.frozen
class HistoryItemAcceptedV3(HistoryItemAccepted):
    """Schema 3: a tool output accepted into history carries its item, which creates the
    conversation item at acceptance rather than at the next request."""

    tool_output_payload: RawPayloadRef | None = None


@attrs.frozen
class InferenceStarted:
    """``inference_started``: one attempt at a model call began. ``request_payload``
    (``inference_request``) is the request as sent; the reducer reconciles its ``input`` with the
    thread's conversation, so an item sent again is the same conversation item (reducer.md 5.3,
    6). Schema 3 writes ``InferenceStartedV3``."""

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
    """``inference_completed``: the model answered. ``response_payload`` holds the output items (new
    conversation items this call produced) and the token usage; ``response_id`` is what a later
    incremental request names as its ``previous_response_id`` (reducer.md 5.5, 6)."""

    inference_call_id: str
    response_id: str | None
    upstream_request_id: str | None
    response_payload: RawPayloadRef


@attrs.frozen
class InferenceFailed:
    """``inference_failed``: the call ended with ``error``. What had streamed before, if anything,
    is in ``partial_response_payload`` and is reduced as a response is (reducer.md 6)."""

    inference_call_id: str
    upstream_request_id: str | None
    error: str
    partial_response_payload: RawPayloadRef | None


@attrs.frozen
class InferenceCancelled:
    """``inference_cancelled``: the call was abandoned (``reason`` says why), with what had streamed
    before, as ``InferenceFailed``."""

    inference_call_id: str
    upstream_request_id: str | None
    reason: str
    partial_response_payload: RawPayloadRef | None


# Shares InferenceStarted's fields, but is another Codex event whose keys come in its own
# order (serialised as declared): two declarations, not one type.
@attrs.frozen
class CompactionRequestStarted:
    """``compaction_request_started``: one attempt at a remote compaction (the model summarising a
    thread's history) began; the attempts of one compaction share its ``compaction_id``
    (format.md 4.4; reducer.md 5.6)."""

    compaction_id: str
    compaction_request_id: str
    thread_id: str
    codex_turn_id: str
    model: str
    provider_name: str
    request_payload: RawPayloadRef


@attrs.frozen
class CompactionRequestCompleted:
    """``compaction_request_completed``: the attempt answered with ``response_payload``
    (``compaction_response``: its output items)."""

    compaction_id: str
    compaction_request_id: str
    response_payload: RawPayloadRef


@attrs.frozen
class CompactionRequestFailed:
    """``compaction_request_failed``: the attempt ended with ``error`` and no response."""

    compaction_id: str
    compaction_request_id: str
    error: str


@attrs.frozen
class CompactionInstalled:
    """``compaction_installed``: a compacted history replaced the thread's. ``checkpoint_payload``
    (``compaction_checkpoint``) holds the history before and its replacement; the reducer adds a
    compaction marker item and reconciles the thread's next full request against the replacement
    (reducer.md 5.6). Needs the envelope's thread and turn."""

    compaction_id: str
    checkpoint_payload: RawPayloadRef


@attrs.frozen
class AgentResultObserved:
    """``agent_result_observed``: a child thread's turn finished and its result reached the parent.
    The reducer draws an ``agent_result`` interaction edge from the child's last assistant
    message (or the child thread) to the parent thread (reducer.md 10.5); ``carried_payload``
    (``agent_result``) holds the message and status."""

    edge_id: str
    child_thread_id: str
    child_codex_turn_id: str
    parent_thread_id: str
    message: str
    carried_payload: RawPayloadRef | None


@attrs.frozen
class ProtocolEventObserved:
    """``protocol_event_observed``: one of Codex's protocol events (``event_type``:
    ``turn_started``, ``error``, ``shutdown_complete``, ...) kept whole in ``event_payload``. The
    reducer only registers the payload (reducer.md 2); the viewer reads why a turn failed from
    it."""

    event_type: str
    event_payload: RawPayloadRef


@attrs.frozen
class Other:
    """Declared by Codex, produced by nothing; its reducer refuses it."""

    kind: str
    summary: str
    payloads: list[RawPayloadRef]
    metadata: Any
