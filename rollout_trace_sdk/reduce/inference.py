"""Inference calls: one model request/response attempt, with the conversation it saw and made."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..model import state as st
from ..model.events import (
    ExecutionStatus,
    InferenceCancelled,
    InferenceCompleted,
    InferenceFailed,
    InferenceStarted,
    InferenceStartedV3,
    RawPayloadRef,
    TraceEvent,
)
from . import inference_items
from .context import ReplayContext, request_start
from .errors import ReduceError

_USAGE_FIELDS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens")
_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1


def _i64(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if not _I64_MIN <= value <= _I64_MAX:
        return None
    return max(value, 0)


def token_usage(value: Any) -> st.TokenUsage | None:
    """Usage only when all four counters are integers (Codex keeps the earlier usage otherwise)."""
    if not isinstance(value, dict):
        return None
    counts = [_i64(value.get(name)) for name in _USAGE_FIELDS]
    if any(count is None for count in counts):
        return None
    cache_write = _i64(value.get("cache_write_input_tokens")) or 0
    input_tokens, cached, output, reasoning = (c or 0 for c in counts)
    return st.TokenUsage(input_tokens, cached, cache_write, output, reasoning)


def start(replay: ReplayContext, event: TraceEvent, started: InferenceStarted) -> None:
    call_id = started.inference_call_id
    trace = replay.trace
    if call_id in trace.inference_calls:
        raise ReduceError(f"duplicate inference start for {call_id}")
    turn = replay.turn(started.codex_turn_id)
    if turn is None:
        raise ReduceError(
            f"inference start {call_id} referenced unknown codex turn {started.codex_turn_id}"
        )
    if turn.thread_id != started.thread_id:
        raise ReduceError(
            f"inference start {call_id} used thread {started.thread_id}, but codex turn "
            f"{started.codex_turn_id} belongs to {turn.thread_id}"
        )
    prompt_id: str | None = None
    request = started.request_payload
    stripped: tuple[tuple[int, str], ...] = ()
    if isinstance(started, InferenceStartedV3):
        _check_evidence_kinds(started)
        prompt_id = started.prepared_prompt_payload.raw_payload_id
        if not request.available or request.unkept_parts():
            # a template over a part cut or left out counts as cut here (Codex 0.171): an
            # incremental request following this call matches against its items alone
            replay.unkept_requests.add(call_id)
        # A warm-up context is what the model saw; it is reduced instead of the request.
        request = started.warmup_context_payload or request
        stripped = started.stripped_tool_output_ids or ()
    request_ids: list[str] = []
    if request.available:
        request_ids = inference_items.reduce_request(
            replay,
            call_id,
            started.thread_id,
            started.codex_turn_id,
            event.wall_time_unix_ms,
            request,
            (lambda items: _restore_stripped_ids(items, stripped)) if stripped else None,
        )
    else:
        # A cut or omitted request names no items and leaves the thread's snapshot alone;
        # its response, if kept, then follows no request items (see ``finish``). It is still
        # the thread's latest request: an earlier call's late response does not extend the
        # snapshot (Codex 0.171).
        replay.snapshot_owner[started.thread_id] = call_id
    trace.inference_calls[call_id] = st.InferenceCall(
        inference_call_id=call_id,
        **request_start(event, started),
        prepared_prompt_payload_id=prompt_id,
        request_item_ids=request_ids,
    )
    replay.calls_by_turn.setdefault(started.codex_turn_id, []).append(call_id)


#: the outputs whose stripped id Codex 0.171 gives back (not tool search or MCP outputs)
_STRIPPABLE = frozenset({"function_call_output", "custom_tool_call_output"})


def _restore_stripped_ids(raw_items: list[Any], stripped: Sequence[tuple[int, str]]) -> None:
    """Schema 3: give back the ids the request stripped from tool outputs, before matching."""
    for index, output_id in stripped:
        if index >= len(raw_items):
            raise ReduceError("stripped tool output index outside request")
        item = raw_items[index]
        kind = item.get("type") if isinstance(item, dict) else None
        # (a type that is no string, a cut part's placeholder: no output either)
        if not isinstance(kind, str) or kind not in _STRIPPABLE or "id" in item:
            raise ReduceError(
                f"stripped tool output ID does not refer to an ID-less output at input {index}"
            )
        item["id"] = output_id


_EVIDENCE_KINDS = (
    ("request_payload", "inference_request"),
    ("prepared_prompt_payload", "prepared_prompt"),
    ("warmup_context_payload", "warmup_context"),
)


def _check_evidence_kinds(started: InferenceStartedV3) -> None:
    """Schema 3: the request, prompt and warm-up references must carry their own kinds."""
    for field, kind in _EVIDENCE_KINDS:
        ref: RawPayloadRef | None = getattr(started, field)
        if ref is not None and ref.kind != kind:
            raise ReduceError(
                f"inference {started.inference_call_id} has mislabeled request evidence"
            )


def finish(
    replay: ReplayContext,
    event: TraceEvent,
    ended: InferenceCompleted | InferenceFailed | InferenceCancelled,
) -> None:
    status: ExecutionStatus
    response_id: str | None = None
    payload_ref: RawPayloadRef | None
    if isinstance(ended, InferenceCompleted):
        status, response_id, payload_ref = "completed", ended.response_id, ended.response_payload
    elif isinstance(ended, InferenceFailed):
        status, payload_ref = "failed", ended.partial_response_payload
    else:
        status, payload_ref = "cancelled", ended.partial_response_payload
    call = replay.trace.inference_calls.get(ended.inference_call_id)
    if call is None:
        raise ReduceError(f"inference completion referenced unknown call {ended.inference_call_id}")
    response_ids: list[str] | None = None
    usage: st.TokenUsage | None = None
    if payload_ref is not None and not payload_ref.available:
        response_ids = []  # schema 3: a cut or omitted response names no items
        replay.unkept_responses.add(call.inference_call_id)
    elif payload_ref is not None:
        payload = replay.load(payload_ref)
        # a later response kept whole replaces a cut one (Codex 0.171); once read: a payload
        # lenient replay cannot read skips the event, which then changes nothing. A template
        # over a part cut or left out is read, but counts as cut for what follows it
        if payload_ref.unkept_parts():
            replay.unkept_responses.add(call.inference_call_id)
        else:
            replay.unkept_responses.discard(call.inference_call_id)
        response_ids = inference_items.reduce_response(
            replay,
            call.inference_call_id,
            call.thread_id,
            call.codex_turn_id,
            event.wall_time_unix_ms,
            payload_ref,
            payload,
        )
        usage = token_usage(payload.get("token_usage"))
        del payload
        if usage is not None:
            call.usage = usage
    _set_response_id(replay, call, response_id)
    if call.execution.status == "running":
        call.execution.end(event.wall_time_unix_ms, event.seq, status)
    if ended.upstream_request_id is not None:
        call.upstream_request_id = ended.upstream_request_id
    if payload_ref is not None and response_ids is not None:
        call.raw_response_payload_id = payload_ref.raw_payload_id
        _replace_response_items(replay, call, response_ids)


def _set_response_id(
    replay: ReplayContext, call: st.InferenceCall, response_id: str | None
) -> None:
    """Keep the (thread, response id) index in step: incremental requests look calls up by it,
    and a late failed or cancelled event wipes it."""
    index = replay.calls_by_response
    if call.response_id is not None:
        holders = index.get((call.thread_id, call.response_id))
        if holders is not None:
            holders.discard(call.inference_call_id)
    call.response_id = response_id
    if response_id is not None:
        index.setdefault((call.thread_id, response_id), set()).add(call.inference_call_id)


def _replace_response_items(
    replay: ReplayContext, call: st.InferenceCall, item_ids: list[str]
) -> None:
    owners = replay.response_owners
    for item_id in call.response_item_ids:
        listed = owners.get(item_id)
        if listed and call.inference_call_id in listed:
            listed.remove(call.inference_call_id)
            _owners_changed(replay, item_id)
    call.response_item_ids = item_ids
    for item_id in item_ids:
        owners.setdefault(item_id, []).append(call.inference_call_id)
        _owners_changed(replay, item_id)


def _owners_changed(replay: ReplayContext, item_id: str) -> None:
    """The tools ``item_id`` is a call item of link to their owning responses again on the
    next resend (``tools.link_resent_item``)."""
    tools = replay.call_item_tools.get(item_id)
    if tools:
        for tool_call_id in tools:
            replay.unsettle_links(replay.trace.tool_calls[tool_call_id])


def close_for_turn_end(
    replay: ReplayContext, codex_turn_id: str, turn_status: str, at: int, seq: int
) -> None:
    """A turn that ends closes its still-running calls (cancelled, failed or aborted)."""
    closing: ExecutionStatus
    if turn_status in ("completed", "cancelled"):
        closing = "cancelled"
    elif turn_status == "failed":
        closing = "failed"
    elif turn_status == "aborted":
        closing = "aborted"
    else:
        return
    calls = replay.trace.inference_calls
    for call_id in replay.calls_by_turn.get(codex_turn_id, ()):
        call = calls[call_id]
        if call.execution.status == "running":
            call.execution.end(at, seq, closing)
