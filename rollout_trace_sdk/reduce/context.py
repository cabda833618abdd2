"""The replay's working state: the growing ``RolloutTrace`` plus the indexes replay needs.

Every handler module works on one :class:`ReplayContext`. The indexes exist so that replay stays
near-linear in the size of the bundle: a long rollout resends its whole history with every
inference request, so anything that scans all items or all calls per event would go quadratic.
Handlers keep them up to date; nothing else reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

import attrs

from ..model import state as st
from ..model.events import (
    SCHEMA_VERSION_V3,
    CompactionRequestStarted,
    InferenceStarted,
    RawPayloadRef,
    ToolCallKind,
    TraceEvent,
)
from .errors import MissingPayload, ReduceError
from .normalize import ItemMemo, NormItem
from .resent_text import KnownText

T = TypeVar("T")


class PayloadSource(Protocol):
    """What replay needs from a bundle (``bundle.Bundle`` satisfies it)."""

    def load_payload(self, ref: RawPayloadRef) -> Any: ...

    def read_payload_bytes(self, ref: RawPayloadRef) -> bytes: ...

    def load_request(
        self, ref: RawPayloadRef, known: KnownText | None
    ) -> tuple[Any, bytes | None, list[int] | None]: ...


@attrs.define(slots=True)
class PendingCellStart:
    """A ``code_cell_started`` whose ``exec`` call item has not been reduced yet."""

    code_cell_id: str
    seq: int
    wall_time_unix_ms: int
    thread_id: str
    codex_turn_id: str | None
    runtime_cell_id: str
    model_visible_call_id: str
    source_js: str
    #: schema 3: wait tools resolved to this start while it waited, in order (they are this
    #: start's: another thread's start of the same cell id does not take them, Codex 0.171)
    waits: list[str] = attrs.field(factory=list)


@attrs.define(slots=True)
class PendingCellEvent:
    """An initial response or end that arrived while its cell start was queued."""

    kind: str  # "initial_response" | "ended"
    seq: int
    wall_time_unix_ms: int
    runtime_cell_id: str
    status: str
    payload_id: str | None


@attrs.define(slots=True)
class PendingEdge:
    """An agent delivery waiting for the recipient-side conversation item."""

    edge_id: str
    kind: str
    source: Any  # TraceAnchor
    #: the thread whose agent must be the delivery's author
    sender_thread_id: str
    target_thread_id: str
    content: str
    spawn_fallback_thread_id: str | None
    started_at_unix_ms: int
    ended_at_unix_ms: int | None
    carried_raw_payload_ids: list[str]


@attrs.define(slots=True)
class ReplayContext:
    payloads: PayloadSource
    trace: st.RolloutTrace
    next_item: int = 1
    next_operation: int = 1
    #: item id → normalised content key / reasoning identity (for matching)
    item_key: dict[str, tuple[Any, ...]] = attrs.field(factory=dict)
    item_identity: dict[str, tuple[str, str] | None] = attrs.field(factory=dict)
    #: thread → last model-visible snapshot (item ids)
    snapshots: dict[str, list[str]] = attrs.field(factory=dict)
    #: thread → the inference call whose request set its snapshot (only that call's
    #: response extends it: one that completes after a later request does not)
    snapshot_owner: dict[str, str] = attrs.field(factory=dict)
    #: thread → installed compaction replacement not yet seen by a full request
    pending_replacement: dict[str, list[str]] = attrs.field(factory=dict)
    #: (thread, responses id) → (wall time, seq) of the first acceptance
    acceptance: dict[tuple[str, str], tuple[int, int]] = attrs.field(factory=dict)
    #: items that belong to history (requests, compactions, receipts); acceptance adds more
    history: set[str] = attrs.field(factory=set)
    items_by_call: dict[tuple[str, str], list[str]] = attrs.field(factory=dict)
    items_by_rid: dict[tuple[str, str], list[str]] = attrs.field(factory=dict)
    #: (thread, responses id) → receipt item not yet claimed by a request
    receipts: dict[tuple[str, str], str] = attrs.field(factory=dict)
    #: item id → inference calls whose response_item_ids contain it
    response_owners: dict[str, list[str]] = attrs.field(factory=dict)
    tools_by_call: dict[str, list[str]] = attrs.field(factory=dict)
    #: item → the tools listing it among their model-visible call items
    call_item_tools: dict[str, list[str]] = attrs.field(factory=dict)
    #: item → the normalised item whose resend linked nothing new and will link nothing new
    #: until a response owning one of its tool's call items changes
    #: (``tools.link_resent_item``): reconcile skips the call for it (``unsettle_links``)
    links_settled: dict[str, NormItem] = attrs.field(factory=dict)
    runtime_cells: dict[tuple[str, str], str] = attrs.field(factory=dict)
    pending_cell_starts: dict[str, PendingCellStart] = attrs.field(factory=dict)
    pending_cell_events: dict[str, list[PendingCellEvent]] = attrs.field(factory=dict)
    pending_edges: list[PendingEdge] = attrs.field(factory=list)
    edge_target_items: set[str] = attrs.field(factory=set)
    #: thread → assistant message items (delivery candidates), creation order
    assistant_messages: dict[str, list[str]] = attrs.field(factory=dict)
    #: item id → (thread, delivered content) or None; dropped when the item's body changes
    deliveries: dict[str, tuple[str, str, str] | None] = attrs.field(factory=dict)
    #: thread → process id → terminal session
    process_sessions: dict[str, dict[str, str]] = attrs.field(factory=dict)
    #: terminal session → the process id it was opened for
    session_process: dict[str, str] = attrs.field(factory=dict)
    #: codex turn → inference calls started in it
    calls_by_turn: dict[str, list[str]] = attrs.field(factory=dict)
    #: (thread, response id) → inference calls currently carrying that response id
    calls_by_response: dict[tuple[str, str], set[str]] = attrs.field(factory=dict)
    #: thread → per snapshot position, the normalised request item reconciled there (None for
    #: response items, which still need their first request sighting)
    snapshot_norms: dict[str, list[NormItem | None]] = attrs.field(factory=dict)
    #: thread → normalisations of its last request and response, by exact item bytes
    norm_cache: dict[str, ItemMemo] = attrs.field(factory=dict)
    #: thread → where its last request's items lie in the text (schema 2: ``resent_text``)
    request_texts: dict[str, KnownText] = attrs.field(factory=dict)

    #: schema 3: inference calls whose request payload (even with a warm-up context reduced
    #: instead), or whose latest response payload, was cut or left out: an incremental
    #: request following one is matched against that call's items alone
    unkept_requests: set[str] = attrs.field(factory=set)
    unkept_responses: set[str] = attrs.field(factory=set)
    #: schema 3: item → sort key in its thread's history list, for items not in creation order
    list_position: dict[str, tuple[int, ...]] = attrs.field(factory=dict)

    #: lenient replay: optional payloads that are missing are passed over (and noted)
    lenient: bool = False
    notes: list[str] | None = None
    #: lenient replay: the line and seq of the event being applied, for its notes
    at: tuple[int, int] = (0, 0)

    # --- small shared helpers ---------------------------------------------------------------

    @property
    def v3(self) -> bool:
        """Replaying a schema-3 bundle (Codex 0.171's rules where they differ)."""
        return self.trace.schema_version == SCHEMA_VERSION_V3

    def load(self, ref: RawPayloadRef) -> Any:
        return self.payloads.load_payload(ref)

    def load_whole(self, ref: RawPayloadRef) -> Any:
        """A payload Codex 0.171 reads into a typed struct (thread metadata, the invocation,
        runtime and result payloads of terminals and agent tools): it wants such a payload
        whole, so a template over a part cut or left out (at any depth) is refused, where the
        readers of model items splice the part's placeholder in and go on."""
        if ref.parts and ref.unkept_parts():
            raise ReduceError(f"partial payload {ref.raw_payload_id}")
        return self.payloads.load_payload(ref)

    def load_optional(self, ref: RawPayloadRef) -> tuple[bool, Any]:
        """(found, value) for an optional payload (thread metadata): lenient replay goes on
        without it when the file is missing, as if the event carried none."""
        if not ref.available:
            return False, None  # schema 3: cut or omitted, as if the event carried none
        try:
            return True, self.load_whole(ref)
        except MissingPayload as exc:
            if not self.lenient:
                raise
            if self.notes is not None:
                line, seq = self.at  # worded as convert --lenient words it
                self.notes.append(
                    f"line {line} (seq {seq}): went on without payload {ref.raw_payload_id} ({exc})"
                )
            return False, None

    def thread(self, thread_id: str) -> st.AgentThread:
        thread = self.trace.threads.get(thread_id)
        if thread is None:
            raise ReduceError(f"trace event referenced unknown thread {thread_id}")
        return thread

    def turn(self, codex_turn_id: str) -> st.CodexTurn | None:
        return self.trace.codex_turns.get(codex_turn_id)

    def turn_in_thread(
        self, what: str, thread_id: str, codex_turn_id: str, *, codex: str = "Codex"
    ) -> st.CodexTurn:
        """The turn an event names, which must exist and belong to ``thread_id``; otherwise
        Codex's refusal, ``what`` naming the event (Codex spells "codex turn" in some)."""
        turn = self.turn(codex_turn_id)
        if turn is None:
            raise ReduceError(f"{what} referenced unknown {codex} turn {codex_turn_id}")
        if turn.thread_id != thread_id:
            raise ReduceError(
                f"{what} used thread {thread_id}, but {codex} turn {codex_turn_id} "
                f"belongs to {turn.thread_id}"
            )
        return turn

    def new_item_id(self) -> str:
        item_id = f"conversation_item:{self.next_item}"
        self.next_item += 1
        return item_id

    def new_operation_id(self) -> str:
        operation_id = f"terminal_operation:{self.next_operation}"
        self.next_operation += 1
        return operation_id

    def single_tool_for_call(self, call_id: str) -> str | None:
        tools = self.tools_by_call.get(call_id)
        if not tools:
            return None
        if len(tools) > 1:
            raise ReduceError(f"multiple tool calls matched model-visible call id {call_id}")
        return tools[0]

    def unsettle_links(self, tool: st.ToolCall) -> None:
        """``tool``'s call items link again when next resent: the responses owning one of
        them changed. (Its output items stay settled: what their resend does depends on the
        tool alone, and a call id names one tool for good, ``tools.start``.)"""
        settled = self.links_settled
        for item_id in tool.model_visible_call_item_ids:
            settled.pop(item_id, None)

    def tool_kind(self, tool_call_id: str) -> ToolCallKind:
        return self.trace.tool_calls[tool_call_id].kind

    def remember_key(self, item_id: str, norm: NormItem) -> None:
        self.item_key[item_id] = norm.key
        self.item_identity[item_id] = norm.identity


def ordinal(item_id: str) -> int:
    """N of ``conversation_item:N`` (creation order)."""
    return int(item_id.rsplit(":", 1)[1])


def list_key(replay: ReplayContext, item_id: str) -> tuple[int, ...]:
    """An item's place in its thread's item list: creation order, except that schema 3
    puts an item a batch made just before the claimed output it precedes in the batch
    (``acceptance.place_before_claimed``). Codex keeps each thread's items in this order,
    in its history or not, and walks it to find a call's items (0.171)."""
    return replay.list_position.get(item_id, (ordinal(item_id), 0))


def in_list_order(replay: ReplayContext, item_ids: Iterable[str]) -> list[str]:
    """``item_ids`` (in creation order) in their thread's list order (see ``list_key``)."""
    if not replay.list_position:
        return list(item_ids)
    return sorted(item_ids, key=lambda item_id: list_key(replay, item_id))


def push_unique(items: list[T], value: T) -> None:
    """Append ``value`` unless it is there already (Codex's lists keep first-seen order)."""
    if value not in items:
        items.append(value)


def request_start(
    event: TraceEvent, started: InferenceStarted | CompactionRequestStarted
) -> dict[str, Any]:
    """The fields a model request's record (an inference call or a compaction request) takes
    from its start event: one place, as the two start events carry the same facts.

    Args:
        event: the start event's envelope (its time and seq open the execution window).
        started: the start payload.

    Returns:
        Keyword arguments for ``st.InferenceCall`` or ``st.CompactionRequest``.
    """
    return {
        "thread_id": started.thread_id,
        "codex_turn_id": started.codex_turn_id,
        "execution": st.ExecutionWindow(event.wall_time_unix_ms, event.seq),
        "model": started.model,
        "provider_name": started.provider_name,
        "raw_request_payload_id": started.request_payload.raw_payload_id,
    }
