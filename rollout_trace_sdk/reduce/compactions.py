"""Compactions: the requests that summarised a thread, and the installed replacement history."""

from __future__ import annotations

from typing import Any

from ..model import state as st
from ..model.events import (
    CompactionInstalled,
    CompactionRequestCompleted,
    CompactionRequestFailed,
    CompactionRequestStarted,
    RawPayloadRef,
    TraceEvent,
)
from . import conversation
from .context import ReplayContext, request_start
from .errors import ReduceError
from .normalize import NormItem, normalize_items


def _check_turn(replay: ReplayContext, what: str, thread_id: str, turn_id: str) -> None:
    replay.thread(thread_id)
    replay.turn_in_thread(what, thread_id, turn_id, codex="codex")


def request_started(
    replay: ReplayContext, event: TraceEvent, started: CompactionRequestStarted
) -> None:
    request_id = started.compaction_request_id
    requests = replay.trace.compaction_requests
    if request_id in requests:
        raise ReduceError(f"duplicate compaction request start for {request_id}")
    _check_turn(
        replay, f"compaction request {request_id}", started.thread_id, started.codex_turn_id
    )
    requests[request_id] = st.CompactionRequest(
        compaction_request_id=request_id,
        compaction_id=started.compaction_id,
        **request_start(event, started),
    )


def request_finished(
    replay: ReplayContext,
    event: TraceEvent,
    finished: CompactionRequestCompleted | CompactionRequestFailed,
) -> None:
    request_id = finished.compaction_request_id
    request = replay.trace.compaction_requests.get(request_id)
    if request is None:
        raise ReduceError(f"compaction request completion referenced unknown request {request_id}")
    if request.compaction_id != finished.compaction_id:
        raise ReduceError(
            f"compaction request {request_id} completion used compaction "
            f"{finished.compaction_id}, but start used {request.compaction_id}"
        )
    if isinstance(finished, CompactionRequestCompleted):
        request.execution.end(event.wall_time_unix_ms, event.seq, "completed")
        request.raw_response_payload_id = finished.response_payload.raw_payload_id
    else:
        request.execution.end(event.wall_time_unix_ms, event.seq, "failed")
        request.raw_response_payload_id = None


def installed(replay: ReplayContext, event: TraceEvent, done: CompactionInstalled) -> None:
    compaction_id = done.compaction_id
    thread_id = event.thread_id
    if thread_id is None:
        raise ReduceError(f"compaction installed event {compaction_id} did not include a thread id")
    turn_id = event.codex_turn_id
    if turn_id is None:
        raise ReduceError(
            f"compaction installed event {compaction_id} did not include a codex turn id"
        )
    if compaction_id in replay.trace.compactions:
        raise ReduceError(f"duplicate compaction install for {compaction_id}")
    _check_turn(replay, f"compaction install {compaction_id}", thread_id, turn_id)
    at = event.wall_time_unix_ms
    input_ids, marker_id, replacement_ids = _reduce_checkpoint(
        replay, compaction_id, thread_id, turn_id, at, done.checkpoint_payload
    )
    requests = replay.trace.compaction_requests
    replay.trace.compactions[compaction_id] = st.Compaction(
        compaction_id=compaction_id,
        thread_id=thread_id,
        codex_turn_id=turn_id,
        installed_at_unix_ms=at,
        marker_item_id=marker_id,
        request_ids=[
            rid for rid in sorted(requests) if requests[rid].compaction_id == compaction_id
        ],
        input_item_ids=input_ids,
        replacement_item_ids=replacement_ids,
    )


def _reduce_checkpoint(
    replay: ReplayContext,
    compaction_id: str,
    thread_id: str,
    codex_turn_id: str,
    at: int,
    ref: RawPayloadRef,
) -> tuple[list[str], str, list[str]]:
    """The checkpoint's items: its input history matched against the thread's snapshot, a
    new compaction marker, then its replacement history created fresh; the replacement
    waits (``pending_replacement``) for the next full request to be matched against it.

    Returns:
        (input item ids, marker id, replacement item ids).
    """
    pid = ref.raw_payload_id
    # schema 3: a checkpoint cut or omitted by a capture limit is read as two empty
    # histories (Codex 0.171): the marker is still made
    payload = (
        replay.load(ref) if ref.available else {"input_history": [], "replacement_history": []}
    )
    histories: dict[str, list[Any]] = {}
    for key in ("input_history", "replacement_history"):
        value = payload.get(key) if isinstance(payload, dict) else None
        if not isinstance(value, list):
            raise ReduceError(f"compaction checkpoint payload {pid} did not contain array {key}")
        histories[key] = value
    locate = conversation.raw_locator(replay, ref)
    unkept = ref.unkept_parts()
    input_items, replacement_items = (
        normalize_items(histories[key], pid, (key,), locate, v3=replay.v3, unkept=unkept)
        for key in ("input_history", "replacement_history")
    )
    del payload, histories
    producer = st.Producer("compaction", compaction_id)
    input_ids = conversation.reconcile_detached(
        replay,
        input_items,
        thread_id=thread_id,
        codex_turn_id=codex_turn_id,
        at=at,
        producers=(),
        candidates=replay.snapshots.get(thread_id, []),
        payload_id=pid,
        flush=False,
    )
    marker = NormItem("assistant", None, "compaction_marker", [])
    marker_id = conversation.create_item(replay, thread_id, codex_turn_id, at, marker, (producer,))
    replacement_ids = conversation.reconcile_detached(
        replay,
        replacement_items,
        thread_id=thread_id,
        codex_turn_id=codex_turn_id,
        at=at,
        producers=(producer,),
        candidates=(),
        payload_id=pid,
    )
    replay.history.update(input_ids)
    replay.history.add(marker_id)
    replay.history.update(replacement_ids)
    replay.pending_replacement[thread_id] = list(replacement_ids)
    return input_ids, marker_id, replacement_ids
