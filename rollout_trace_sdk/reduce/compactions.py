"""Compactions: the requests that summarised a thread, and the installed replacement history."""

from __future__ import annotations

from ..model import state as st
from ..model.events import (
    CompactionInstalled,
    CompactionRequestCompleted,
    CompactionRequestFailed,
    CompactionRequestStarted,
    TraceEvent,
)
from . import conversation
from .context import ReplayContext, request_start
from .errors import ReduceError


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
    input_ids, marker_id, replacement_ids = conversation.reduce_checkpoint(
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
