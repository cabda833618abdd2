"""Replay: the one place that maps each event type to its handler, then finalises.

Order per event (as Codex): register every payload ref the event carries, then apply the
typed handler. After the last event every registered payload is checked (sorted by id), then
the leftovers are settled: spawn edges fall back to their child thread, and the history lists
and acceptance stamps are filled from the final acceptance map.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import attrs

from ..model import event_tags
from ..model import events as ev
from ..model import state as st
from . import (
    acceptance,
    code_cells,
    compactions,
    edges,
    inference,
    terminals,
    threads,
    tools,
)
from .bundle import Bundle, Progress
from .confined import BundleFileError
from .context import ReplayContext
from .errors import MissingPayload, ReduceError
from .resent_text import KnownText


class ReplaySource(Protocol):
    """What replay reads: ``bundle.Bundle`` or a test double with the same methods."""

    manifest: ev.Manifest

    def events(self) -> Iterator[Any]: ...

    def load_payload(self, ref: ev.RawPayloadRef) -> Any: ...

    def read_payload_bytes(self, ref: ev.RawPayloadRef) -> bytes: ...

    def load_request(
        self, ref: ev.RawPayloadRef, known: KnownText | None
    ) -> tuple[Any, bytes | None, list[int] | None]: ...

    def check_registered(self, refs: dict[str, ev.RawPayloadRef], completed: bool) -> None: ...


_REF_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in attrs.fields(cls) if "RawPayloadRef" in str(f.type))
    for cls in {*event_tags.EVENT_TYPES.values(), *event_tags.EVENT_TYPES_V3.values()}
}


def payload_refs(payload: ev.EventPayload) -> list[ev.RawPayloadRef]:
    """Every payload ref an event carries, in field order."""
    if isinstance(payload, ev.Other):
        return list(payload.payloads)
    refs: list[ev.RawPayloadRef] = []
    for name in _REF_FIELDS[type(payload)]:
        value = getattr(payload, name)
        if value is not None:
            refs.append(value)
    return refs


def _unsupported(replay: ReplayContext, event: ev.TraceEvent, payload: Any) -> None:
    raise ReduceError("raw trace event has no reducer implementation")


def _ignore(replay: ReplayContext, event: ev.TraceEvent, payload: Any) -> None:
    return None


def _recording_completed(replay: ReplayContext, event: ev.TraceEvent, payload: Any) -> None:
    replay.trace.recording_complete = True


Handler = Callable[[ReplayContext, ev.TraceEvent, Any], None]

_HANDLERS: dict[type, Handler] = {
    ev.RecordingCompleted: _recording_completed,
    ev.RolloutStarted: lambda r, e, p: threads.rollout_started(r, p),
    ev.RolloutEnded: threads.rollout_ended,
    ev.ThreadStarted: threads.thread_started,
    ev.ThreadEnded: threads.thread_ended,
    ev.ThreadResumed: lambda r, e, p: threads.thread_resumed(r, p),
    ev.CodexTurnStarted: threads.turn_started,
    ev.CodexTurnEnded: threads.turn_ended,
    ev.HistoryItemAccepted: acceptance.accept_history_item,
    ev.HistoryItemAcceptedV3: acceptance.accept_history_item,
    ev.InferenceStarted: inference.start,
    ev.InferenceStartedV3: inference.start,
    ev.InferenceCompleted: inference.finish,
    ev.InferenceFailed: inference.finish,
    ev.InferenceCancelled: inference.finish,
    ev.ToolCallStarted: tools.start,
    ev.McpToolCallCorrelationAssigned: lambda r, e, p: tools.mcp_correlation(r, p),
    ev.StdinTargetResolved: lambda r, e, p: terminals.resolve_stdin_target(r, p),
    ev.CodeCellWaitTargetResolved: code_cells.wait_target_resolved,
    ev.ToolCallRuntimeStarted: tools.runtime_started,
    ev.ToolCallRuntimeEnded: tools.runtime_ended,
    ev.ToolCallEnded: tools.ended,
    ev.CodeCellStarted: code_cells.started,
    ev.CodeCellInitialResponse: code_cells.lifecycle,
    ev.CodeCellEnded: code_cells.lifecycle,
    ev.CompactionRequestStarted: compactions.request_started,
    ev.CompactionRequestCompleted: compactions.request_finished,
    ev.CompactionRequestFailed: compactions.request_finished,
    ev.CompactionInstalled: compactions.installed,
    ev.AgentResultObserved: edges.agent_result,
    ev.ProtocolEventObserved: _ignore,
    ev.Other: _unsupported,
}


def _register_v3(raw_payloads: dict[str, ev.RawPayloadRef], ref: ev.RawPayloadRef) -> None:
    """Schema 3: every reference, its template parts included, is registered; all references
    to one id must be identical, and an omitted payload has no shard. (A stored one that names
    no shard is refused when it is read, or by the end-of-replay check: see ``ShardReader``.)
    Codex walks a reference with a stack, a template before its parts and its last part first:
    which of two conflicting references is named follows that order."""
    stack = [ref]
    while stack:
        each = stack.pop()
        stack.extend(each.parts)
        known = raw_payloads.get(each.raw_payload_id)
        if known is not None and known != each:
            raise ReduceError(f"conflicting references for payload {each.raw_payload_id}")
        omitted = each.capture is not None and each.capture.status == "omitted"
        if omitted and each.shard is not None:
            raise ReduceError("omitted payload has a shard")
        raw_payloads[each.raw_payload_id] = each


def apply_event(replay: ReplayContext, event: ev.TraceEvent) -> None:
    payload = event.payload
    raw_payloads = replay.trace.raw_payloads
    if replay.trace.schema_version == ev.SCHEMA_VERSION_V3:
        for ref in payload_refs(payload):
            _register_v3(raw_payloads, ref)
    else:
        for ref in payload_refs(payload):
            raw_payloads[ref.raw_payload_id] = ref
    _HANDLERS[type(payload)](replay, event, payload)


def replay_source(source: ReplaySource) -> st.RolloutTrace:
    """Replay events from any source shaped like a bundle (an importer's own reader, say).

    Args:
        source: a manifest, an ``events()`` iterator of located events, and payload reads
            (:class:`ReplaySource`); optional ``lenient``, ``skipped`` and
            ``event_log_display`` attributes act as :func:`reduce_bundle`'s options.

    Returns:
        The reduced state, as :func:`reduce_bundle` returns it.

    Raises:
        ReduceError: what Codex would refuse (strict), located by line and seq.
    """
    lenient = bool(getattr(source, "lenient", False))
    log: str | None = getattr(source, "event_log_display", None)
    skipped: list[str] | None = getattr(source, "skipped", None)
    replay = new_context(source, lenient=lenient, notes=skipped)
    for located in source.events():
        apply_located(replay, located, log)
    finalize(source, replay)
    return replay.trace


def new_context(source: ReplaySource, *, lenient: bool, notes: list[str] | None) -> ReplayContext:
    """A replay of ``source`` before its first event: the trace holds the manifest's facts."""
    manifest = source.manifest
    trace = st.RolloutTrace(
        schema_version=manifest.schema_version,
        trace_id=manifest.trace_id,
        rollout_id=manifest.rollout_id,
        root_thread_id=manifest.root_thread_id,
        started_at_unix_ms=manifest.started_at_unix_ms,
    )
    return ReplayContext(payloads=source, trace=trace, lenient=lenient, notes=notes)


def apply_located(replay: ReplayContext, located: Any, log: str | None) -> None:
    """Apply one event of the log (a :class:`~.bundle.LocatedEvent`): strict, its failure
    raised located by ``log``'s line and seq; lenient, passed over with a note in
    ``replay.notes``."""
    event = located.event
    lenient = replay.lenient
    if lenient:
        replay.at = (located.line, event.seq)
    try:
        apply_event(replay, event)
    except ReduceError as exc:
        if not lenient:
            _locate(exc, log, located.line, event.seq)
            # lenient replay passes over this event (below); a payload path the confined
            # reader refuses it refuses again at the end checks (check_payload)
            exc.lenient_skips = not (isinstance(exc, BundleFileError) and exc.os_error is None)
            raise
        # A killed recorder leaves events whose payload never reached the disk, and later
        # events that refer to what those would have created: lenient replay passes over
        # each such event and says so.
        skipped = replay.notes
        if skipped is not None:
            what = "payload missing" if isinstance(exc, MissingPayload) else "not reducible"
            skipped.append(
                f"line {located.line} (seq {event.seq}): skipped {what}: {exc.message}"
                + (f" ({exc.cause})" if exc.cause else "")
            )


def finalize(source: ReplaySource, replay: ReplayContext) -> None:
    """After the last event: check every registered payload, then settle what is left (spawn
    edges, exec tools' code cells, history lists and acceptance stamps). It changes the
    trace in place, for good: ``incremental.Replay`` finalises a live replay and undoes it."""
    trace = replay.trace
    source.check_registered(trace.raw_payloads, trace.recording_complete)
    edges.finalize(replay)
    tools.finalize(replay)
    acceptance.finalize_history(replay)
    skipped = replay.notes
    if replay.lenient and skipped:
        # what was passed over is missing from the state: it must not read as whole once
        # the notes are gone (schema 2: not complete; schema 3: partial payloads)
        trace.lenient_gaps = True
        if trace.schema_version != ev.SCHEMA_VERSION_V3:
            trace.recording_complete = False


def _locate(exc: ReduceError, log: str | None, line: int, seq: int) -> None:
    """Say where an event failed (Codex does not; a person needs it). An error that already
    names a payload file keeps that file; the seq still says which event read it."""
    if exc.seq is None:
        exc.seq = seq
    if exc.file is None:
        exc.file = log
        exc.line = line
    elif exc.line is None:  # a payload's file: the line that cited it
        exc.log_line = line


def reduce_bundle(
    path: str | Path,
    *,
    lenient: bool = False,
    skipped: list[str] | None = None,
    progress: Progress | None = None,
) -> st.RolloutTrace:
    """Replay the bundle at ``path`` into the reduced state (``codex debug trace-reduce``).

    Args:
        path: a bundle directory (schema 2 or 3; the manifest says which).
        lenient: pass over what cannot be reduced (a killed recorder's missing payloads, and
            the events that depend on them) instead of refusing the bundle.
        skipped: with ``lenient``, a list that receives one sentence per thing passed over.
        progress: called now and then with (bytes of trace.jsonl read, its size), for a
            progress bar; None costs nothing.

    Returns:
        The :class:`~rollout_trace_sdk.model.state.RolloutTrace`; :func:`state_bytes` turns
        it into the exact bytes Codex writes.

    Raises:
        ReduceError: the bundle is refused, with Codex's message and the file, line and seq.
    """
    with Bundle.open(path, lenient=lenient, skipped=skipped, progress=progress) as bundle:
        return replay_source(bundle)
