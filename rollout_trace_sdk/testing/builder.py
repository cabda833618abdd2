"""Bundles written event by event, with every seq and wall time chosen by the caller.

The recorder decides ids, clocks and ordering for you, which is what an agent loop wants and
exactly what a test of the reducer (or an importer of someone else's logs) does not: those
need a bundle that says precisely what they mean, including what no well-behaved recorder
would write. :class:`BundleBuilder` writes through the codec and ``model/layout`` only, so
it stays independent of the recorder, and it writes both Codex layouts.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any, Final

from ..model import codec, layout
from ..model import events as ev
from ._payloads import Capture, V2Store, V3Store

#: The root thread id a builder uses unless told otherwise.
ROOT_THREAD: Final = "thread-root"
#: Pending trace lines above this many bytes are written out even without ``autoflush``.
_LINE_BUFFER_BYTES: Final = 1 << 20


class BundleBuilder:
    """Write a Codex rollout-trace bundle (schema 2 or 3) one event at a time.

    Each :meth:`event` gets the next seq (1, 2, …) and a wall time ``clock_step`` after the
    previous one, unless the call names its own ``seq`` or ``at``; :attr:`clock` and
    :attr:`next_seq` are plain attributes a caller may set. Payloads are numbered
    ``raw_payload:1, 2, …`` in the order they are added.

    In schema 3 the builder does what Codex 0.171 does on its own: a plain
    ``InferenceStarted`` gets the prepared prompt of the last inference request stored, and a
    plain ``HistoryItemAccepted`` becomes its V3 variant; pass the V3 classes yourself to
    choose otherwise.

    Example::

        with BundleBuilder(tmp / "bundle", schema=3) as b:
            b.event(ev.RolloutStarted("trace-1", b.root_thread_id))
            meta = b.payload("session_metadata", {"thread_id": b.root_thread_id})
            b.event(ev.ThreadStarted(b.root_thread_id, "/root", meta))

    Args:
        root: the bundle directory to create (its parents too).
        schema: 2 (Codex 0.169 layout) or 3 (Codex 0.171 layout).
        trace_id: the manifest's ``trace_id``.
        rollout_id: the rollout id of the manifest and of every event (Codex uses the root
            thread id; that is the default).
        root_thread_id: the manifest's ``root_thread_id``.
        started_at: the manifest's start time (ms); the clock starts there.
        clock_step: milliseconds between consecutive events.
        autoflush: write each event (and schema-3 shards) to disk at once, so the bundle can
            be reduced at any point; off, call :meth:`flush` or :meth:`close`.
        split_images: schema 3: store image data URLs as ``content_value`` parts (as Codex).
    """

    def __init__(
        self,
        root: str | Path,
        *,
        schema: int = layout.SCHEMA_2,
        trace_id: str = "trace-1",
        rollout_id: str | None = None,
        root_thread_id: str = ROOT_THREAD,
        started_at: int = 1000,
        clock_step: int = 1,
        autoflush: bool = True,
        split_images: bool = True,
    ) -> None:
        if schema not in layout.SUPPORTED_SCHEMAS:
            raise ValueError(f"schema {schema} is not written; use 2 or 3")
        self.root = Path(root)
        self.schema = schema
        self.rollout_id = root_thread_id if rollout_id is None else rollout_id
        self.root_thread_id = root_thread_id
        #: the wall time (ms) of the last event; the next one gets ``clock + clock_step``
        self.clock = started_at
        self.clock_step = clock_step
        #: the seq the next event gets unless it names one
        self.next_seq = 1
        self.autoflush = autoflush
        self._payloads = 0
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._store: V2Store | V3Store
        if schema == layout.SCHEMA_3:
            self._store = V3Store(self.root, self._number, split_images=split_images)
        else:
            self._store = V2Store(self.root)
        manifest = ev.Manifest(schema, trace_id, self.rollout_id, root_thread_id, started_at)
        (self.root / layout.MANIFEST).write_bytes(codec.manifest_bytes(manifest))
        (self.root / layout.EVENT_LOG).touch()

    def __enter__(self) -> BundleBuilder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- payloads -----------------------------------------------------------------------------

    def _number(self) -> int:
        self._payloads += 1
        return self._payloads

    def payload(
        self, kind: ev.PayloadKind, value: Any, *, capture: Capture | None = None
    ) -> ev.RawPayloadRef:
        """Store ``value`` as Codex stores a payload of ``kind`` and return its reference.

        Args:
            kind: the payload kind (``"inference_request"``, ``"tool_result"``, …).
            value: any JSON value; schema 2 writes it pretty-printed, schema 3 compact.
            capture: schema 3 only: ``"truncated"`` keeps the first third of the body,
                ``"omitted"`` stores none of it (the reference says so, as a recorder with
                size limits would).

        Returns:
            The reference an event carries. In schema 3 an inference request also gets a
            prepared prompt, which the next plain ``InferenceStarted`` picks up.
        """
        if isinstance(self._store, V2Store):
            return self._store.add(self._number(), kind, self._store.encode(value), capture)
        body, parts = self._store.template(value)
        ref = self._store.add(self._number(), kind, body, capture, parts)
        if kind == "inference_request":
            self._store.prompt(value)
        return ref

    def raw_payload(
        self,
        kind: ev.PayloadKind,
        body: bytes | str,
        *,
        capture: Capture | None = None,
        parts: tuple[ev.RawPayloadRef, ...] = (),
    ) -> ev.RawPayloadRef:
        """Store ``body`` verbatim (number spellings, invalid JSON, odd bytes …).

        Args:
            kind: the payload kind.
            body: the exact file content (schema 2) or record body (schema 3).
            capture: as for :meth:`payload`.
            parts: schema 3 only: ``body`` is a template (a JSON array of text fragments)
                whose gaps these payloads fill, in order (Codex splices a part it did not keep
                as ``{"$trace_unavailable": id}``).

        Returns:
            The reference an event carries (no prepared prompt is made for it).
        """
        data = body.encode("utf-8") if isinstance(body, str) else body
        if isinstance(self._store, V2Store):
            if parts:
                raise ValueError("schema 2 has no templates; use schema=3")
            return self._store.add(self._number(), kind, data, capture)
        return self._store.add(self._number(), kind, data, capture, parts)

    @property
    def last_prompt(self) -> ev.RawPayloadRef | None:
        """Schema 3: the prepared prompt of the last inference request stored (else None)."""
        return self._store.last_prompt if isinstance(self._store, V3Store) else None

    # --- events -------------------------------------------------------------------------------

    def event(
        self,
        payload: ev.EventPayload,
        *,
        thread: str | None = None,
        turn: str | None = None,
        seq: int | None = None,
        at: int | None = None,
    ) -> int:
        """Append one event line.

        Args:
            payload: the event variant (``ev.ThreadStarted(...)`` …).
            thread: the envelope's ``thread_id``.
            turn: the envelope's ``codex_turn_id``.
            seq: this event's seq (default :attr:`next_seq`); later events count on from it.
            at: this event's wall time in ms (default :attr:`clock` + ``clock_step``); the
                clock moves to it.

        Returns:
            The seq written.
        """
        self.clock = self.clock + self.clock_step if at is None else at
        number = self.next_seq if seq is None else seq
        self.next_seq = number + 1
        if self.schema == layout.SCHEMA_3:
            payload = self._upgrade(payload)
        event = ev.TraceEvent(
            self.schema, number, self.clock, self.rollout_id, thread, turn, payload
        )
        self.raw_line(codec.event_line(event, self.schema))
        return number

    def raw_line(self, line: bytes) -> None:
        """Append ``line`` to ``trace.jsonl`` as it is (a test's broken or foreign line).

        Args:
            line: the bytes to append, newline included if one is wanted.
        """
        self._pending.append(line)
        self._pending_bytes += len(line)
        if self.autoflush or self._pending_bytes > _LINE_BUFFER_BYTES:
            self.flush()

    def _upgrade(self, payload: ev.EventPayload) -> ev.EventPayload:
        if type(payload) is ev.InferenceStarted:
            prompt = self.last_prompt
            if prompt is None:
                raise ValueError("schema 3: store the inference request before its start event")
            return ev.with_prepared_prompt(payload, prompt)
        if type(payload) is ev.HistoryItemAccepted:
            return ev.HistoryItemAcceptedV3(payload.item_id, payload.agent_message_payload)
        return payload

    # --- disk ---------------------------------------------------------------------------------

    def flush(self) -> Path:
        """Put everything added so far on disk: payloads first, then the lines citing them.

        Returns:
            The bundle directory (ready to reduce).
        """
        self._store.flush()
        if self._pending:
            with (self.root / layout.EVENT_LOG).open("ab") as log:
                log.write(b"".join(self._pending))
            self._pending.clear()
            self._pending_bytes = 0
        return self.root

    def close(self) -> Path:
        """Flush; the builder may still be used afterwards (it holds no open files).

        Returns:
            The bundle directory.
        """
        return self.flush()
