"""Conversation reconstruction: which model-facing item is which ``conversation_item:N``.

Codex sends the model whole histories (full snapshots) or deltas after a previous response;
responses append new items; compaction installs replacement history. Each batch of normalised
items is reconciled against a baseline (the thread's last snapshot, or a pending compaction
replacement): reuse by position, else (full snapshots only) by the first unused matching
baseline item, else create. Items match on content and on compatible ``responses_item_id``s.

Thread histories are decided at the end (``finalize_history``): an item belongs to history if a
request carried it, a compaction touched it, or its responses id was accepted in its thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any

from ..model import state as st
from ..model.events import RawPayloadRef
from . import acceptance, code_cells, edges, tools
from .canonical import parse_keeping_numbers
from .context import ReplayContext, in_list_order, ordinal, push_unique
from .errors import ReduceError
from .normalize import NormItem, RawLocator, content_key

_CALL_KINDS = frozenset({"function_call", "custom_tool_call"})


class Mode(Enum):
    #: a full request: reuse by position, else the first unused matching baseline item
    FULL_SNAPSHOT = "full_snapshot"
    #: an incremental delta: the baseline positions it covers must match
    APPEND_ONLY = "append_only"
    #: response output: lands after the snapshot, reusing only items its responses ids name
    RESPONSE = "response"


def raw_locator(replay: ReplayContext, ref: RawPayloadRef) -> RawLocator:
    """Lazily re-read a payload with number text kept, for content hashes of float elements."""
    cache: list[Any] = []

    def locate(path: Sequence[str | int]) -> Any:
        if not cache:
            cache.append(parse_keeping_numbers(replay.payloads.read_payload_bytes(ref)))
        value = cache[0]
        for step in path:
            value = value[step]
        return value

    return locate


# --- items -----------------------------------------------------------------------------------------


def create_item(
    replay: ReplayContext,
    thread_id: str,
    codex_turn_id: str | None,
    at: int,
    norm: NormItem,
    producers: Sequence[st.Producer],
    payload_id: str | None = None,
) -> str:
    item_id = replay.new_item_id()
    replay.trace.conversation_items[item_id] = st.ConversationItem(
        item_id=item_id,
        thread_id=thread_id,
        codex_turn_id=codex_turn_id,
        first_seen_at_unix_ms=at,
        role=norm.role,
        channel=norm.channel,
        kind=norm.kind,
        body=list(norm.body) if payload_id is None else norm.body_for(payload_id),
        call_id=norm.call_id,
        produced_by=list(producers),
        agent_message=norm.agent_message,
        responses_item_id=norm.responses_item_id,
    )
    replay.remember_key(item_id, norm)
    if norm.call_id is not None:
        replay.items_by_call.setdefault((thread_id, norm.call_id), []).append(item_id)
    if norm.responses_item_id is not None:
        replay.items_by_rid.setdefault((thread_id, norm.responses_item_id), []).append(item_id)
    if norm.role == "assistant" and norm.kind == "message":
        replay.assistant_messages.setdefault(thread_id, []).append(item_id)
    return item_id


def _content_matches(replay: ReplayContext, item_id: str, norm: NormItem) -> bool:
    if replay.item_key[item_id] == norm.key:
        return True
    if norm.identity is None:
        return False
    return replay.item_identity.get(item_id) == norm.identity


def _ids_compatible(item: st.ConversationItem, norm: NormItem) -> bool:
    rid = item.responses_item_id
    return rid is None or norm.responses_item_id is None or rid == norm.responses_item_id


def matches(replay: ReplayContext, item_id: str, norm: NormItem) -> bool:
    item = replay.trace.conversation_items.get(item_id)
    if item is None:
        return False
    return _ids_compatible(item, norm) and _content_matches(replay, item_id, norm)


def _check_call_id(replay: ReplayContext, thread_id: str, norm: NormItem) -> None:
    """A call id names one call: the same id and call kind with other content is corrupt
    input. Outputs are exempt (a code cell answers one call with several outputs)."""
    call_id = norm.call_id
    if call_id is None or norm.kind not in _CALL_KINDS:
        return
    items = replay.trace.conversation_items
    for item_id in replay.items_by_call.get((thread_id, call_id), ()):
        if items[item_id].kind == norm.kind and not _content_matches(replay, item_id, norm):
            raise ReduceError(f"model-visible call id {call_id} was reused with different content")


def _merge_reasoning(replay: ReplayContext, item: st.ConversationItem, norm: NormItem) -> None:
    """Readable reasoning arrives in some payloads and not others; keep the most we saw, but
    never let one text overwrite another."""
    existing = item.body
    incoming = norm.body
    if replay.item_key[item.item_id][5] == norm.key[5]:
        return
    texts = [p for p in existing if isinstance(p, st.TextPart)]
    summaries = [p for p in existing if isinstance(p, st.SummaryPart)]
    if texts and summaries:
        return
    if not texts:
        texts = [p for p in incoming if isinstance(p, st.TextPart)]
    if not summaries:
        summaries = [p for p in incoming if isinstance(p, st.SummaryPart)]
    encoded = [p for p in existing if isinstance(p, st.EncodedPart)]
    item.body = [*texts, *summaries, *encoded]
    rekey(replay, item)


def rekey(replay: ReplayContext, item: st.ConversationItem) -> None:
    """The item's body changed: recompute what matching and delivery checks use."""
    replay.deliveries.pop(item.item_id, None)
    replay.item_key[item.item_id] = content_key(
        item.role, item.channel, item.kind, item.call_id, item.agent_message, item.body
    )
    if item.kind == "reasoning":
        for part in item.body:
            if isinstance(part, st.EncodedPart):
                replay.item_identity[item.item_id] = (part.label, part.value)
                break


def _sighting(
    replay: ReplayContext, item_id: str, norm: NormItem, producers: Sequence[st.Producer]
) -> None:
    item = replay.trace.conversation_items[item_id]
    if item.kind == "reasoning":
        _merge_reasoning(replay, item, norm)
    for producer in producers:
        push_unique(item.produced_by, producer)
    if item.responses_item_id is None and norm.responses_item_id is not None:
        item.responses_item_id = norm.responses_item_id
        replay.items_by_rid.setdefault((item.thread_id, norm.responses_item_id), []).append(item_id)


def _link(replay: ReplayContext, item_id: str, norm: NormItem) -> None:
    if norm.call_id is not None:
        tools.link_conversation_item(replay, item_id, norm.call_id, norm.kind)
        code_cells.link_conversation_item(replay, item_id, norm.call_id, norm.kind)
    if replay.pending_edges:
        edges.resolve_pending_for_item(replay, item_id)


class _Baseline:
    """The batch's baseline with a lazily built content index for the out-of-position search."""

    __slots__ = ("by_identity", "by_key", "candidates", "ids")

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = ids
        self.candidates: list[str] = []
        self.by_key: dict[tuple[Any, ...], list[str]] | None = None
        self.by_identity: dict[tuple[str, str], list[str]] = {}

    def collect_by_id(self, replay: ReplayContext, thread_id: str, items: list[NormItem]) -> None:
        """Response output: the candidates are the thread's items carrying any responses id
        the output carries, in the thread's list order (creation order, but for the items a
        schema-3 batch placed before an output it claimed: Codex 0.171 walks that list), so
        even an id-less output item can be one."""
        found: set[str] = set()
        for norm in items:
            if norm.responses_item_id is not None:
                found.update(replay.items_by_rid.get((thread_id, norm.responses_item_id), ()))
        self.candidates = in_list_order(replay, sorted(found, key=ordinal))

    def search_candidates(
        self, replay: ReplayContext, norm: NormItem, used: set[str]
    ) -> str | None:
        items = replay.trace.conversation_items
        for item_id in self.candidates:
            if (
                item_id not in used
                and _ids_compatible(items[item_id], norm)
                and _content_matches(replay, item_id, norm)
            ):
                return item_id
        return None

    def search(self, replay: ReplayContext, norm: NormItem, used: set[str]) -> str | None:
        if self.by_key is None:
            self.by_key = {}
            # Usually every baseline item was reused by position already: then there is
            # nothing to search, and no index to build over a long history.
            unused = set(self.ids).difference(used)
            for item_id in self.ids if unused else ():
                if item_id not in unused:
                    continue
                self.by_key.setdefault(replay.item_key[item_id], []).append(item_id)
                identity = replay.item_identity.get(item_id)
                if identity is not None:
                    self.by_identity.setdefault(identity, []).append(item_id)
        if norm.identity is not None:
            candidates = self.by_identity.get(norm.identity, ())
        else:
            candidates = self.by_key.get(norm.key, ())
        items = replay.trace.conversation_items
        for item_id in candidates:
            if item_id not in used and _ids_compatible(items[item_id], norm):
                return item_id
        return None


def reconcile(
    replay: ReplayContext,
    items: list[NormItem],
    *,
    thread_id: str,
    codex_turn_id: str,
    at: int,
    producers: Sequence[st.Producer],
    start: int,
    mode: Mode,
    baseline: Sequence[str],
    payload_id: str,
    claim_receipts: bool = False,
    resent: Sequence[NormItem | None] = (),
    prefix: Sequence[str] = (),
) -> list[str]:
    """Reconcile one batch (``prefix``: the items an incremental request carries over, which
    come before the batch in the request). This loop runs once per item per request (whole histories are
    resent), so the common case is kept to a few operations: ``resent[i]`` is the normalised
    item the previous request reconciled at baseline position ``i``; the very same item there
    again is that baseline item, and every link it could make was made the first time."""
    result: list[str] = []
    used: set[str] = set()
    index = _Baseline(baseline)
    if mode is Mode.RESPONSE:
        index.collect_by_id(replay, thread_id, items)
    conversation_items = replay.trace.conversation_items
    item_key = replay.item_key
    receipts = replay.receipts if claim_receipts else None
    settled = replay.links_settled
    #: schema 3: (batch offset, item) of items this batch created and of outputs it claimed
    created: list[tuple[int, str]] | None = [] if receipts is not None and replay.v3 else None
    claimed: list[tuple[int, str]] = []
    limit = len(baseline)
    fast_limit = min(len(resent), limit)
    for offset, norm in enumerate(items):
        position = start + offset
        item_id: str | None = None
        if position < fast_limit and resent[position] is norm and baseline[position] not in used:
            reused = baseline[position]
            if norm.call_id is not None:
                # Tools link call-id items from any thread, and a tool may have started in
                # another thread since this item was last seen.
                if settled.get(reused) is not norm:
                    tools.link_resent_item(replay, reused, norm)
                if norm.kind == code_cells.LINKED_KIND:  # no call for the others: ~10k a run
                    code_cells.link_conversation_item(replay, reused, norm.call_id, norm.kind)
            if replay.pending_edges:
                edges.resolve_pending_for_item(replay, reused)
            result.append(reused)
            used.add(reused)
            continue
        if norm.call_id is not None:
            _check_call_id(replay, thread_id, norm)
        if position < limit:
            previous = baseline[position]
            existing = conversation_items.get(previous)
            if (
                existing is not None
                and previous not in used
                and (
                    item_key[previous] == norm.key
                    or (
                        norm.identity is not None
                        and replay.item_identity.get(previous) == norm.identity
                    )
                )
                and _ids_compatible(existing, norm)
            ):
                item_id = previous
            elif mode is Mode.APPEND_ONLY:
                raise ReduceError(
                    f"model conversation mismatch while reducing turn {codex_turn_id} for "
                    f"thread {thread_id} at item index {position}: existing item {previous} "
                    "does not match the current model payload item"
                )
        if item_id is None and mode is Mode.FULL_SNAPSHOT:
            item_id = index.search(replay, norm, used)
        elif item_id is None and mode is Mode.RESPONSE:
            item_id = index.search_candidates(replay, norm, used)
        if receipts:
            item_id = acceptance.claim_for_batch(
                replay, thread_id, norm, payload_id, offset, claimed, item_id
            )
        if item_id is None:
            item_id = create_item(replay, thread_id, codex_turn_id, at, norm, producers, payload_id)
            _note_created(created, offset, item_id)
        existing = conversation_items[item_id]
        if (
            producers
            or existing.kind == "reasoning"
            or (existing.responses_item_id is None and norm.responses_item_id is not None)
        ):
            _sighting(replay, item_id, norm, producers)
        _link(replay, item_id, norm)
        result.append(item_id)
        used.add(item_id)
    _finish_batch(replay, result, created, claimed, prefix=prefix)
    return result


def _note_created(created: list[tuple[int, str]] | None, offset: int, item_id: str) -> None:
    """Schema 3 keeps (batch offset, new item) so that claimed receipts can be placed after."""
    if created is not None:
        created.append((offset, item_id))


def _finish_batch(
    replay: ReplayContext,
    result: list[str],
    created: list[tuple[int, str]] | None,
    claimed: list[tuple[int, str]],
    *,
    flush: bool = True,
    prefix: Sequence[str] = (),
) -> None:
    """After a batch: new items go before the receipts it claimed (schema 3), and code-cell
    starts that waited for this batch's ``exec`` items are reduced (unless ``flush`` is off). A claimed item counts
    where it first appears in the batch: one an earlier batch item matched (an id-less copy)
    and a later one claimed anchors no new item between the two (Codex 0.171); so does one
    already in an incremental request's carried-over ``prefix`` (Codex 0.171 looks at the
    whole request, prefix included)."""
    if created and claimed:
        first: dict[str, int] = {}
        for offset, item_id in enumerate((*prefix, *result)):
            first.setdefault(item_id, offset)
        anchors = [(first[item_id], item_id) for _, item_id in claimed]
        shifted = [(len(prefix) + offset, item_id) for offset, item_id in created]
        acceptance.place_before_claimed(replay, shifted, anchors)
    if flush:
        code_cells.flush_pending_starts(replay)


# Not a mode of ``reconcile``: no baseline positions, every item claims and is sighted.
def reconcile_detached(
    replay: ReplayContext,
    items: list[NormItem],
    *,
    thread_id: str,
    codex_turn_id: str,
    at: int,
    producers: Sequence[st.Producer],
    candidates: Sequence[str],
    payload_id: str,
    flush: bool = True,
) -> list[str]:
    """A compaction checkpoint's history (``flush=False`` for its input history: Codex
    materialises waiting code-cell starts once, after the whole checkpoint, 0.171)."""
    result: list[str] = []
    used: set[str] = set()
    index = _Baseline(candidates)
    created: list[tuple[int, str]] | None = [] if replay.v3 else None
    claimed: list[tuple[int, str]] = []
    for offset, norm in enumerate(items):
        _check_call_id(replay, thread_id, norm)
        item_id = index.search(replay, norm, used) if candidates else None
        # A checkpoint claims an unclaimed receipt as a request does.
        item_id = acceptance.claim_for_batch(
            replay, thread_id, norm, payload_id, offset, claimed, item_id
        )
        if item_id is None:
            item_id = create_item(replay, thread_id, codex_turn_id, at, norm, producers, payload_id)
            _note_created(created, offset, item_id)
        _sighting(replay, item_id, norm, producers)
        _link(replay, item_id, norm)
        result.append(item_id)
        used.add(item_id)
    _finish_batch(replay, result, created, claimed, flush=flush)
    return result
