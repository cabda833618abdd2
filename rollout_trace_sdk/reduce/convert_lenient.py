"""Which events ``convert --lenient`` carries over from a bundle a crash cut short.

The other schema's Codex has no lenient mode: the copy must be one it reduces strictly. So an
event is kept only when ``reduce --lenient`` would reduce it (it is replayed here, leniently,
as it goes) and every payload it cites is whole (the file, or the shard record, exists and is
JSON): the other schema cannot cite a payload that is not there, and its Codex may read one
this schema's Codex never reads. An event left out is not replayed either, so no later event
that depends on it is kept (a call's end without its start). Nothing is invented:

* a thread's metadata payload that never reached the disk is left off its ``thread_started``
  (lenient replay goes on without it, as if the event carried none);
* ``recording_completed`` is kept only when nothing before it was left out (and, schema 3,
  every shard the kept events cite is sealed): a copy that lost something never reads as
  whole (schema 2 ``recording_complete: false``, schema 3 ``recording_status: unclosed``).

Each thing left out is one sentence in ``notes``, worded as ``reduce --lenient`` words its
own, with the line and seq of the event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import attrs

from ..model import events as ev
from ..model import state as st
from .bundle import Bundle, LocatedEvent, end_check_error
from .context import ReplayContext
from .errors import MissingPayload, ReduceError
from .replay import apply_event, payload_refs

#: An event's payload as the other schema writes it (None: that schema has no such event).
Carried = Callable[[ev.EventPayload], ev.EventPayload | None]


class KeptEvents:
    """The events of ``bundle`` (opened leniently) that a strict reader of the other schema
    can be given, in order; what was left out is appended to ``notes`` (the bundle's own
    notes, a torn last line, go there too when the bundle was opened with that list)."""

    def __init__(self, bundle: Bundle, notes: list[str], carried: Carried | None) -> None:
        self._bundle = bundle
        self._carried = carried
        self.notes = notes
        trace = st.RolloutTrace(
            schema_version=bundle.manifest.schema_version,
            trace_id=bundle.manifest.trace_id,
            rollout_id=bundle.manifest.rollout_id,
            root_thread_id=bundle.manifest.root_thread_id,
            started_at_unix_ms=bundle.manifest.started_at_unix_ms,
        )
        self._replay = ReplayContext(payloads=bundle, trace=trace, lenient=True, notes=notes)
        #: payload id -> why it is not whole (None: it is), each payload judged once
        self._verdicts: dict[str, ReduceError | None] = {}
        #: the references of the kept events, whose shards must be sealed (schema 3)
        self.cited: list[ev.RawPayloadRef] = []
        self.left_out = 0
        self._notes_before = len(notes)

    def __iter__(self) -> Iterator[LocatedEvent]:
        completed = False
        for located in self._bundle.events():
            if isinstance(located.event.payload, ev.RecordingCompleted):
                completed = self._closing_kept(located)
                if completed:
                    yield located
                continue
            kept = self._kept(located)
            if kept is not None:
                yield kept
        self._note_unsealed(completed)

    def _kept(self, located: LocatedEvent) -> LocatedEvent | None:
        event = located.event
        where = f"line {located.line} (seq {event.seq})"
        payload = event.payload
        if isinstance(payload, ev.ThreadStarted) and payload.metadata_payload is not None:
            metadata = payload.metadata_payload
            missing = self._why_not_whole(metadata)
            if isinstance(missing, MissingPayload):
                # threads._metadata reads it with load_optional: replay goes on without it
                self.notes.append(
                    f"{where}: went on without payload {metadata.raw_payload_id} ({missing})"
                )
                payload = attrs.evolve(payload, metadata_payload=None)
                event = attrs.evolve(event, payload=payload)
                located = LocatedEvent(located.line, event)
        for ref in self._cited(payload):
            error = self._why_not_whole(ref)
            if error is not None:
                self._leave_out(where, "payload not whole", str(error))
                return None
        try:
            apply_event(self._replay, event)
        except ReduceError as exc:
            what = "payload missing" if isinstance(exc, MissingPayload) else "not reducible"
            self._leave_out(where, what, exc.message + (f" ({exc.cause})" if exc.cause else ""))
            return None
        self.cited.extend(payload_refs(payload))
        return located

    def _cited(self, payload: ev.EventPayload) -> list[ev.RawPayloadRef]:
        """The references the copy will cite: 3 → 2 drops the schema-3 only ones (a
        prompt), which 0.171 never reads, so their loss costs no event."""
        if self._carried is None:
            return payload_refs(payload)
        try:
            carried = self._carried(payload)
        except ReduceError:
            return []  # what schema 2 cannot say: the writer refuses it, naming its line
        return [] if carried is None else payload_refs(carried)

    def _leave_out(self, where: str, what: str, why: str) -> None:
        self.left_out += 1
        self.notes.append(f"{where}: left out ({what}): {why}")

    def _why_not_whole(self, ref: ev.RawPayloadRef) -> ReduceError | None:
        """The error reading ``ref`` (and its template's parts) whole, or None. A payload
        the recorder cut or left out is no damage (0.171 never reads it): the writer says
        whether the other schema can hold it (schema 2 cannot, as for a strict conversion)."""
        for part in ref.walk():
            if not part.available:
                continue
            if part.raw_payload_id not in self._verdicts:
                self._verdicts[part.raw_payload_id] = self._read_whole(part)
            error = self._verdicts[part.raw_payload_id]
            if error is not None:
                return error
        return None

    def _read_whole(self, ref: ev.RawPayloadRef) -> ReduceError | None:
        bundle = self._bundle
        try:
            if bundle.shards is not None:
                bundle.shards.check(ref)  # the record, its text as JSON
                bundle.read_payload_bytes(ref)  # and a template's splice
                return None
            raw = bundle.read_payload_bytes(ref)
        except ReduceError as exc:
            return exc
        problem = end_check_error(raw)
        if problem is not None:
            verb, cause = problem
            return ReduceError(f"{verb} payload {ref.raw_payload_id}", cause=cause)
        return None

    def _closing_kept(self, located: LocatedEvent) -> bool:
        """Whether ``recording_completed`` goes into the copy: not after something was left
        out, nor (schema 3) over a shard left unsealed, which 0.171 refuses."""
        where = f"line {located.line} (seq {located.event.seq})"
        if len(self.notes) > self._notes_before:
            self.notes.append(
                f"{where}: left out recording_completed: something before it was left out, "
                "so the copy does not say the recording is whole"
            )
            return False
        shards = self._bundle.shards
        unsealed = [] if shards is None else list(shards.footer_errors(self.cited, True))
        if unsealed:
            for error in unsealed:
                self.notes.append(f"{error}; the recording said it was complete")
            self.notes.append(f"{where}: left out recording_completed over an unsealed shard")
            return False
        return True

    def _note_unsealed(self, completed: bool) -> None:
        """A log cut short may leave only its last shard unsealed; any other is noted (its
        records before the cut were read), as ``reduce --lenient`` notes it."""
        shards = self._bundle.shards
        if shards is None or completed:
            return
        for error in shards.footer_errors(self.cited, False):
            self.notes.append(f"{error}; not the last shard")
