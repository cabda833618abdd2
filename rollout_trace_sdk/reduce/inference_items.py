"""An inference call's request and response as batches of its thread's items.

A request is a whole history (a full snapshot, reconciled against the thread's last
snapshot or a pending compaction replacement) or, after ``previous_response_id``, the
previous call's items followed by a delta. A response's output follows its own call's
request items and becomes the thread's snapshot, unless a later request has overtaken it or
a compaction replacement is pending. The matching itself (which item is which
``conversation_item:N``) is ``conversation.reconcile``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any, cast

from ..model import state as st
from ..model.events import RawPayloadRef
from . import resent_text
from .context import ReplayContext
from .conversation import Mode, raw_locator, reconcile
from .errors import ReduceError
from .normalize import ItemMemo, NormItem, normalize_items
from .resent_text import KnownText


def reduce_request(
    replay: ReplayContext,
    inference_call_id: str,
    thread_id: str,
    codex_turn_id: str,
    at: int,
    ref: RawPayloadRef,
    prepare: Callable[[list[Any]], None] | None = None,
) -> list[str]:
    pid = ref.raw_payload_id
    seen = replay.norm_cache.get(thread_id)
    remember: ItemMemo = {}
    known = replay.request_texts.pop(thread_id, None) if prepare is None else None
    payload, text, ends, items = _load_request(replay, ref, known, seen, remember)
    if not isinstance(payload, dict) or "input" not in payload:
        raise ReduceError(f"inference request payload {pid} did not contain input")
    raw_items = payload["input"]
    if not isinstance(raw_items, list):
        raise ReduceError(f"inference request payload {pid} had non-array input")
    if prepare is not None:
        prepare(raw_items)  # schema 3: stripped tool-output ids given back before matching
    previous = payload.get("previous_response_id")
    learned: list[bytes | None] | None = None if text is None else []
    items += normalize_items(
        raw_items,
        pid,
        ("input",),
        raw_locator(replay, ref),
        seen=seen,
        remember=remember,
        v3=replay.v3,
        unkept=ref.unkept_parts(),
        first=len(items),
        learned=learned,
    )
    replay.norm_cache[thread_id] = remember
    if text is not None and learned is not None:
        now = resent_text.learn(text, payload, learned, known, ends)
        if now is not None:
            texts = replay.request_texts  # the threads that asked last, the oldest first
            texts[thread_id] = now
            if len(texts) > resent_text.KEPT_THREADS:
                del texts[next(iter(texts))]
    del payload, raw_items
    snapshot = replay.snapshots.get(thread_id, [])
    if isinstance(previous, str):
        prefix = _traced_response_snapshot(replay, thread_id, previous)
        if prefix is None:
            raise ReduceError(
                f"incremental inference request {inference_call_id} referenced unknown "
                f"previous_response_id {previous}"
            )
        if _blind_response(replay, thread_id, previous):
            snapshot = prefix  # schema 3: that call kept no request or no response items
        delta = reconcile(
            replay,
            items,
            thread_id=thread_id,
            codex_turn_id=codex_turn_id,
            at=at,
            producers=(),
            start=len(prefix),
            mode=Mode.APPEND_ONLY,
            baseline=snapshot,
            payload_id=pid,
            claim_receipts=True,
            resent=replay.snapshot_norms.get(thread_id, ()),
            prefix=prefix,
        )
        result = prefix + delta
        norms: list[NormItem | None] = [None] * len(prefix)
        norms.extend(_exact(replay, items, delta))
    else:
        replacement = replay.pending_replacement.get(thread_id)
        result = reconcile(
            replay,
            items,
            thread_id=thread_id,
            codex_turn_id=codex_turn_id,
            at=at,
            producers=(),
            start=0,
            mode=Mode.FULL_SNAPSHOT,
            baseline=snapshot if replacement is None else replacement,
            payload_id=pid,
            claim_receipts=True,
            resent=replay.snapshot_norms.get(thread_id, ()) if replacement is None else (),
        )
        norms = _exact(replay, items, result)
        if replacement is not None:
            del replay.pending_replacement[thread_id]
    replay.history.update(result)
    replay.snapshots[thread_id] = list(result)
    replay.snapshot_owner[thread_id] = inference_call_id
    replay.snapshot_norms[thread_id] = norms
    return result


def _load_request(
    replay: ReplayContext,
    ref: RawPayloadRef,
    known: KnownText | None,
    seen: ItemMemo | None,
    remember: ItemMemo,
) -> tuple[Any, bytes | None, list[int] | None, list[NormItem]]:
    """The request's value, its text (schema 2), where its ``input`` items end in the text
    when ``known``'s items were left out of it (``resent_text``) and, then, their normalised
    forms: the memo's entries for their bytes, as ``normalize_items`` finds them, carried
    over to ``remember``."""
    payload, text, ends = replay.payloads.load_request(ref, known)
    if ends is None or known is None:
        return payload, text, None, []
    entries = list(map(seen.get, known.blobs)) if seen is not None else [None]
    if not all(entries):  # not one the memo kept: read the whole text after all
        return replay.load(ref), None, None, []
    found = cast("list[tuple[bytes, NormItem, bool]]", entries)
    remember.update(zip(map(itemgetter(0), found), found, strict=True))
    return payload, text, ends, list(map(itemgetter(1), found))


def _exact(replay: ReplayContext, items: list[NormItem], ids: list[str]) -> list[NormItem | None]:
    """The normalised items that still match the item they were reconciled with: seeing the
    same item there again changes nothing, so those may take the resent-history fast path
    next time (a claimed receipt that kept other metadata no longer matches; a merged
    reasoning item still does, by its encrypted identity, and merging again is a no-op)."""
    keys = replay.item_key
    identities = replay.item_identity
    return [
        norm
        if keys[item_id] == norm.key
        or (norm.identity is not None and identities.get(item_id) == norm.identity)
        else None
        for norm, item_id in zip(items, ids, strict=True)
    ]


def _traced_response_snapshot(
    replay: ReplayContext, thread_id: str, response_id: str
) -> list[str] | None:
    holders = replay.calls_by_response.get((thread_id, response_id))
    if not holders:
        return None
    call = replay.trace.inference_calls[min(holders)]  # the first in map order
    return [*call.request_item_ids, *call.response_item_ids]


def _blind_response(replay: ReplayContext, thread_id: str, response_id: str) -> bool:
    """Whether the call an incremental request follows had its request or its response cut or
    left out (schema 3; a template over a part cut or left out, at any depth, too; a request
    whose warm-up context was reduced instead too, but not a kept request whose warm-up
    context was cut): Codex then matches the request's new items
    against that call's items alone, not the thread's later snapshot (0.171), so they are
    all new."""
    holders = replay.calls_by_response.get((thread_id, response_id))
    if not holders:
        return False
    first = min(holders)
    return first in replay.unkept_requests or first in replay.unkept_responses


def reduce_response(
    replay: ReplayContext,
    inference_call_id: str,
    thread_id: str,
    codex_turn_id: str,
    at: int,
    ref: RawPayloadRef,
    payload: Any,
) -> list[str]:
    """Reconcile a response's output and append it to the thread's snapshot, except (as Codex
    0.169 and 0.171 do) while a compaction replacement is pending for the thread: then the
    snapshot stays as it is, so a later checkpoint does not find these items among its
    candidates. Otherwise the snapshot becomes the call's request items followed by the
    output (Codex 0.169 and 0.171): after a blind request, whose items none are known, the
    output alone; after an earlier response of the same call, this one in its place."""
    pid = ref.raw_payload_id
    output = payload.get("output_items") if isinstance(payload, dict) else None
    if not isinstance(output, list):
        raise ReduceError(f"inference response payload {pid} did not contain output_items")
    items = normalize_items(
        output,
        pid,
        ("output_items",),
        raw_locator(replay, ref),
        remember=replay.norm_cache.setdefault(thread_id, {}),
        v3=replay.v3,
        unkept=ref.unkept_parts(),
    )
    owner = replay.snapshot_owner.get(thread_id)
    # a call that completes after the thread's next request (calls interleaved) answers
    # its own request: its output follows those items, and the thread's snapshot, now the
    # later request's, stays as it is (Codex 0.169 and 0.171)
    overtaken = owner is not None and owner != inference_call_id
    baseline = replay.trace.inference_calls[inference_call_id].request_item_ids
    result = reconcile(
        replay,
        items,
        thread_id=thread_id,
        codex_turn_id=codex_turn_id,
        at=at,
        producers=(st.Producer("inference", inference_call_id),),
        start=len(baseline),
        mode=Mode.RESPONSE,
        baseline=baseline,
        payload_id=pid,
        claim_receipts=True,
    )
    if overtaken or thread_id in replay.pending_replacement:
        return result
    # The snapshot is the call's request followed by this response: a second response of
    # the call (a completion after a failure) replaces the first one's items.
    snapshot = replay.snapshots.setdefault(thread_id, [])
    snapshot[:] = [*baseline, *result]
    norms = replay.snapshot_norms.setdefault(thread_id, [])
    del norms[len(baseline) :]
    norms.extend([None] * (len(snapshot) - len(norms)))
    return result
