"""The raw trace vocabulary: one attrs class per event variant of schema 2 (Codex 0.169) and of
schema 3 (Codex 0.171).

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

from collections.abc import Iterator
from typing import Any, Final, Literal, TypeAlias

import attrs

from . import layout

SCHEMA_VERSION: Final = 2
SCHEMA_VERSION_V3: Final = 3

PayloadKind: TypeAlias = Literal[
    "inference_request",
    "prepared_prompt",
    "model_item",
    "content_value",
    "warmup_context",
    "inference_response",
    "compaction_request",
    "compaction_checkpoint",
    "compaction_response",
    "tool_invocation",
    "tool_result",
    "tool_runtime_event",
    "terminal_runtime_event",
    "protocol_event",
    "session_metadata",
    "agent_result",
]
#: Schema 3's kinds, in its parser's order.
PAYLOAD_KINDS_V3: Final[tuple[str, ...]] = PayloadKind.__args__  # type: ignore[attr-defined]
_NEW_IN_V3: Final = frozenset({"prepared_prompt", "model_item", "content_value", "warmup_context"})
#: Schema 2's kinds, in its parser's order.
PAYLOAD_KINDS: Final[tuple[str, ...]] = tuple(k for k in PAYLOAD_KINDS_V3 if k not in _NEW_IN_V3)

CaptureStatus: TypeAlias = Literal["complete", "truncated", "omitted"]
CAPTURE_STATUSES: Final[tuple[str, ...]] = CaptureStatus.__args__  # type: ignore[attr-defined]

ExecutionStatus: TypeAlias = Literal["running", "completed", "failed", "cancelled", "aborted"]
EXECUTION_STATUSES: Final[tuple[str, ...]] = ExecutionStatus.__args__  # type: ignore[attr-defined]

RolloutStatus: TypeAlias = Literal["running", "completed", "failed", "aborted"]
ROLLOUT_STATUSES: Final[tuple[str, ...]] = RolloutStatus.__args__  # type: ignore[attr-defined]

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
class PayloadCapture:
    """Schema 3: how much of a payload was kept when the recorder had size limits.

    Only partial captures are represented; a complete capture is ``None`` on the reference
    (Codex omits it when writing and drops an explicit ``complete`` when reducing)."""

    status: Literal["truncated", "omitted"]
    original_bytes: int
    #: only for ``truncated``: the stored body is the first ``retained_bytes`` bytes
    retained_bytes: int | None = None


@attrs.frozen
class RawPayloadRef:
    """Where an event's payload is stored.

    Schema 2: ``path`` names ``payloads/N.json`` (on disk before the event is). Schema 3:
    ``shard`` names the zstd shard holding the record (None = not stored, see ``capture``),
    ``capture`` says whether the body was cut, and ``parts`` makes the body a template whose
    gaps are filled with these payloads' texts. ``path`` is empty in schema 3; the schema is
    the bundle's, so a reference never needs to say which one it follows."""

    raw_payload_id: str
    kind: PayloadKind
    path: str = ""
    shard: int | None = None
    capture: PayloadCapture | None = None
    parts: tuple[RawPayloadRef, ...] = ()

    @property
    def available(self) -> bool:
        """Schema 3: the full body is stored (not truncated, not omitted)."""
        return self.capture is None

    def walk(self) -> Iterator[RawPayloadRef]:
        """This reference and its template parts, depth first (each is registered)."""
        yield self
        for part in self.parts:
            yield from part.walk()

    def unkept_parts(self) -> frozenset[str]:
        """Schema 3: the ids of this template's parts, at any depth, whose body the recorder
        cut or left out: where the spliced body holds ``{"$trace_unavailable": id}`` for them.
        Codex 0.171 reads that placeholder as such only for these ids (elsewhere it is
        ordinary JSON)."""
        return frozenset(
            part.raw_payload_id for top in self.parts for part in top.walk() if not part.available
        )


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


# --- event payload variants, in the order Codex's reducer lists them -----------------------------


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


def payload_kinds(schema: int) -> tuple[str, ...]:
    """The payload kinds ``schema`` accepts, in its parser's order."""
    return PAYLOAD_KINDS_V3 if schema == SCHEMA_VERSION_V3 else PAYLOAD_KINDS


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
