"""History acceptance: the acceptance map, items created at acceptance, and their claiming.

Codex records when an item entered a thread's history. Schema 2 creates an item at acceptance
only for an agent message that carries its payload (a receipt); schema 3 also for every tool
output carrying ``tool_output_payload``. Such an item is *unclaimed* until a later request,
response or compaction checkpoint of the same thread brings the same id: that batch item
becomes it (``claim_receipt``). The history lists are filled at the end from the acceptance map.
"""

from __future__ import annotations

from typing import Any

from ..model import state as st
from ..model.events import HistoryItemAccepted, HistoryItemAcceptedV3, TraceEvent
from . import conversation, edges
from .context import ReplayContext, in_list_order, list_key
from .errors import ReduceError
from .normalize import NormItem, normalize_one

#: Schema 3: the normalised kinds of items an acceptance may create (with agent messages).
_ACCEPTED_OUTPUT_KINDS = frozenset({"function_call_output", "custom_tool_call_output"})
#: Schema 3: the tool outputs an acceptance payload may hold (0.169 takes none: ``convert``).
ACCEPTED_TOOL_OUTPUTS = frozenset(
    {
        "function_call_output",
        "custom_tool_call_output",
        "tool_search_output",
        "mcp_tool_call_output",
    }
)
#: Schema 3: the Responses item types an acceptance payload may hold.
_ACCEPTED_TYPES = ACCEPTED_TOOL_OUTPUTS | {"agent_message"}


def place_before_claimed(
    replay: ReplayContext, created: list[tuple[int, str]], claimed: list[tuple[int, str]]
) -> None:
    """Schema 3: an item a batch creates goes into the thread's history list just before the
    first tool output that follows it in the batch and that the batch claimed (an output
    created at its acceptance, hence earlier in the list), keeping batch order."""
    for offset, item_id in created:
        anchor = next((claim for at, claim in claimed if at > offset), None)
        if anchor is not None:
            base = list_key(replay, anchor)
            replay.list_position[item_id] = (*base[:1], -1, offset)


def claim_receipt(
    replay: ReplayContext, thread_id: str, norm: NormItem, payload_id: str
) -> str | None:
    """The first agent message (schema 3: or tool output) carrying an unclaimed receipt's id,
    in a request, a response or a checkpoint, becomes that receipt item; the receipt takes its
    body and keeps everything else."""
    if norm.responses_item_id is None or not replay.receipts:
        return None
    if norm.agent_message is None and not (replay.v3 and norm.kind in _ACCEPTED_OUTPUT_KINDS):
        return None
    item_id = replay.receipts.pop((thread_id, norm.responses_item_id), None)
    if item_id is not None:
        receipt = replay.trace.conversation_items[item_id]
        receipt.body = norm.body_for(payload_id)
        conversation.rekey(replay, receipt)
    return item_id


def claim_for_batch(
    replay: ReplayContext,
    thread_id: str,
    norm: NormItem,
    payload_id: str,
    offset: int,
    claimed: list[tuple[int, str]],
    matched: str | None,
) -> str | None:
    """``claim_receipt`` for the item at ``offset`` of a reconciled batch when the batch's
    own matching (by position, then by content among its candidates) found nothing: that
    comes first in Codex 0.169 and 0.171, so an id-less item matched there takes the id and
    the receipt stays unclaimed. In schema 3 an unclaimed item matched that way is claimed by
    it (0.171); in schema 2 it stays unclaimed (0.169). Claimed items other than agent
    messages are noted in ``claimed`` (see ``place_before_claimed``); returns the item the
    batch item becomes, if any."""
    if matched is None:
        item_id = claim_receipt(replay, thread_id, norm, payload_id)
    elif replay.v3 and replay.receipts.get((thread_id, norm.responses_item_id or "")) == matched:
        item_id = claim_receipt(replay, thread_id, norm, payload_id)  # takes this body
    else:
        return matched
    if item_id is not None and norm.agent_message is None:
        claimed.append((offset, item_id))
    return item_id


def accept_history_item(
    replay: ReplayContext, event: TraceEvent, accepted: HistoryItemAccepted
) -> None:
    thread_id = event.thread_id
    if thread_id is None:
        raise ReduceError("history acceptance has no thread")
    replay.thread(thread_id)
    key = (thread_id, accepted.item_id)
    if isinstance(accepted, HistoryItemAcceptedV3):
        _accept_v3(replay, event, accepted, thread_id)
    else:
        _accept_v2(replay, event, accepted, thread_id)
    # Stamped only once the acceptance is reduced (strict replay stops at a failure anyway):
    # one lenient replay skips, its receipt not whole, stamps no item a later request brings,
    # as if the event were not in the log (what ``convert --lenient`` writes: it leaves the
    # event out). Found by the killed-recorder test: a receipt cut at 16 of 283 bytes.
    replay.acceptance.setdefault(key, (event.wall_time_unix_ms, event.seq))


def _accept_v2(
    replay: ReplayContext, event: TraceEvent, accepted: HistoryItemAccepted, thread_id: str
) -> None:
    """Schema 2: a receipt (an agent message carried by its acceptance) the thread does not
    hold yet becomes a conversation item now, unclaimed until a later batch brings its id."""
    key = (thread_id, accepted.item_id)
    ref = accepted.agent_message_payload
    if ref is None or _already_present(replay, key):
        return
    payload = replay.load(ref)
    norm = normalize_one(payload, ref.raw_payload_id, conversation.raw_locator(replay, ref))
    is_agent_message = isinstance(payload, dict) and payload.get("type") == "agent_message"
    if not is_agent_message or norm.responses_item_id != accepted.item_id:
        raise ReduceError(f"accepted agent message does not match receipt {accepted.item_id}")
    item_id = conversation.create_item(
        replay, thread_id, event.codex_turn_id, event.wall_time_unix_ms, norm, ()
    )
    replay.history.add(item_id)
    replay.receipts[key] = item_id
    edges.resolve_pending_for_item(replay, item_id)


def _already_present(replay: ReplayContext, key: tuple[str, str]) -> bool:
    """Whether the thread already holds the item an acceptance carries: then Codex neither reads
    nor compares the payload (a bad or mismatched one passes, and is read only with every other
    payload after the last event). Codex 0.169 asks for any item with that responses id;
    0.171 only for one an acceptance could have made (an agent message or a tool output), so
    a user message or a call with that id still has the payload read and compared."""
    found = replay.items_by_rid.get(key)
    if not found or not replay.v3:
        return bool(found)
    items = replay.trace.conversation_items
    return any(
        items[item_id].agent_message is not None or items[item_id].kind in _ACCEPTED_OUTPUT_KINDS
        for item_id in found
    )


def _accept_v3(
    replay: ReplayContext, event: TraceEvent, accepted: HistoryItemAcceptedV3, thread_id: str
) -> None:
    """Schema 3: an acceptance carrying its item creates the conversation item now, unclaimed
    until a later request or checkpoint of the thread brings the same id (see
    ``_claim_receipt``). It is produced by the tool whose call it answers, if that tool has
    started, but not linked to it: linking happens when a batch claims it. An item of the
    thread with that id that no acceptance could have made (a user message, a call) does not
    stop it: the accepted item is made beside it."""
    # With both payloads Codex 0.171 reads the agent message's (even one cut or left out)
    ref = accepted.agent_message_payload or accepted.tool_output_payload
    if ref is None or not ref.available:
        return
    item_id = accepted.item_id
    key = (thread_id, item_id)
    if _already_present(replay, key):
        return
    payload = replay.load(ref)
    norm = normalize_one(
        payload,
        ref.raw_payload_id,
        conversation.raw_locator(replay, ref),
        v3=True,
        unkept=ref.unkept_parts(),
    )
    kind = payload.get("type") if isinstance(payload, dict) else None
    if kind not in _ACCEPTED_TYPES or norm.responses_item_id != item_id:
        raise ReduceError(f"accepted item payload does not match {item_id}")
    producers: list[st.Producer] = []
    if norm.call_id is not None:
        tool = replay.single_tool_for_call(norm.call_id)
        if tool is not None:
            producers.append(st.Producer("tool", tool))
    created = conversation.create_item(
        replay, thread_id, event.codex_turn_id, event.wall_time_unix_ms, norm, producers
    )
    replay.history.add(created)
    replay.receipts[key] = created
    if norm.agent_message is not None:
        edges.resolve_pending_for_item(replay, created)


def finalize_history(replay: ReplayContext) -> None:
    """Fill accepted_* and each thread's history list (creation order)."""
    threads = replay.trace.threads
    acceptance = replay.acceptance
    history = replay.history
    items = replay.trace.conversation_items
    order: Any = items
    if replay.list_position:
        # schema 3: items placed before a claimed output (else creation order)
        order = in_list_order(replay, items)
    for item_id in order:
        item = items[item_id]
        accepted = None
        if item.responses_item_id is not None:
            accepted = acceptance.get((item.thread_id, item.responses_item_id))
        if accepted is not None:
            item.accepted_at_unix_ms, item.accepted_seq = accepted
        if accepted is not None or item_id in history:
            thread = threads.get(item.thread_id)
            if thread is not None:
                thread.conversation_item_ids.append(item_id)
