"""The recording side of the bundle writer: the calls that enqueue, and the budget.

:class:`RecordQueue` holds the methods every recording call goes through (the hot path:
snapshot, seq, enqueue, and the thread-safe inbox for calls from other OS threads);
:class:`~.writer.BundleWriter` adds the writing side (the writer task, chunks, disk errors,
close). One object, several modules: the contract is in ``writer``'s docstring; a rollout's
share of the process budget is asked for in ``_process_share``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from ..model import events as ev
from ..model.layout import payload_path, raw_payload_id
from . import _files
from ._deferred import LazyBody, defer_big_strings
from ._encode import MUTABLE_PAYLOADS, QueuedEvent, payload_dict
from ._item_store import ItemStore
from ._known_refs import freeze, thaw
from ._line_cost import line_estimate
from ._process_share import ProcessShare
from ._queue_rules import (
    CLOSING_EVENTS,
    EVENT_COST,
    KEPT_EVENTS,
    PAYLOAD_OVERHEAD,
)
from ._shard_plan import ShardPlan
from ._values import ValueEncoder

_NEVER: Final = 1 << 62
_get_ident = threading.get_ident
_QueuedPayload = _files.QueuedPayload


class RecordQueue(ProcessShare):
    """The enqueueing half of :class:`~.writer.BundleWriter` (which owns every attribute)."""

    __slots__ = (
        "_batch_bytes",
        "_body_dumps",
        "_body_repair",
        "_body_unchecked",
        "_durable",
        "_eager",
        "_eager_slow",
        "_loop_ident",
        "_overflow",
        "_sync_at",
        "_turn_wanted",
        "_wakeup",
        "flat",
        "items",
    )
    values: ValueEncoder
    _closing: bool
    _enqueued: int
    #: encodes an event payload's JSON at enqueue (``None``: kept as an object until its
    #: line is written, which a truncated reference's size needs: it is settled later)
    _eager: dict[type[Any], Callable[[Any], bytes]] | None
    _eager_slow: Callable[[Any], bytes]
    #: how a payload value becomes its body (schema 3 compact, schema 2 pretty)
    _body_dumps: Callable[[Any], bytes]
    _failed: Exception | None
    #: schema 3: the event lines have used the rest of ``max_bundle_bytes``: from now on
    #: only :data:`CLOSING_EVENTS` are written (the ends of what is running), the rest counted
    _full: bool
    #: schema 3 with ``max_bundle_bytes``: each queued event is charged to it (see ``_full``)
    _lines_capped: bool
    _hurry_at: int
    _inbox: deque[tuple[Any, ...]]
    _inbox_bytes: int
    _inbox_lock: threading.Lock
    _loop_ident: int
    _max: int
    _ordinals: Any
    _overflow: str
    _poke: Callable[[Callable[[], None]], Any] | None
    _queue: deque[Any]
    _queued: int
    _reasons: list[str]
    _seq: int
    _stats: list[int]
    _sync_at: int
    _durable: bool
    _thread_drops: list[int]
    #: the writer task has work it cannot start until the loop runs it (woken, or its
    #: worker-thread call is done); set from the worker thread too (a plain flag)
    _turn_wanted: bool
    #: what the writer lets gather before it writes (unless it lingered long enough)
    _batch_bytes: int
    #: schema 3: shard placement and the item store (``None`` in schema 2)
    _plan: ShardPlan | None
    #: schema 3: a body's text and whether its depth check is left to the worker, and that
    #: check (the encoder's bound methods, made once)
    _body_unchecked: Callable[[Any], tuple[bytes, bool]]
    _body_repair: Callable[[bytes], bytes]
    items: ItemStore | None
    #: schema 3 without limits: :meth:`put_frozen` and :meth:`event_flat` may be used (a
    #: payload's reference is then decided by its id and shard alone, and an event's line
    #: can wait for the writer)
    flat: bool
    _wakeup: Any
    bundle_dir: Path

    async def _room(self, size: int) -> None:
        raise NotImplementedError  # the writer waits for its own progress (``_room``)

    # --- recording calls (hot path) ------------------------------------------------------

    def payload_nowait(self, kind: ev.PayloadKind, value: Any) -> ev.RawPayloadRef | None:
        """Snapshot ``value`` as ``payloads/N.json``; ``None`` if it was dropped (budget full,
        writer failed or closed). A value JSON cannot hold is recorded approximately (see
        ``_values``) and counted, never refused."""
        data = self._snapshot(kind, value)
        if data is None:
            return None
        if _get_ident() != self._loop_ident:
            return self._payload_from_thread(kind, data)
        return self._put_payload(kind, data)

    def _snapshot(self, kind: str, value: Any) -> bytes | LazyBody | None:
        try:
            plan = self._plan
            # schema 3: compact bodies, as Codex; schema 2: pretty payload files (one bound
            # method, kept: a long string's lazy body holds it)
            dumps = self._body_dumps
            if plan is None or not plan.limited:
                if value.__class__ is dict:
                    lazy = defer_big_strings(value, dumps)  # long strings: the worker escapes
                    if lazy is not None:
                        return lazy
                if plan is not None:  # schema 3: the depth check of long text, in the worker
                    data, check = self._body_unchecked(value)
                    return LazyBody(data, (), dumps, self._body_repair) if check else data
            return dumps(value)
        except Exception as exc:  # a bug in a value's own hooks: drop it, count it, go on
            self._unserialisable(kind, exc)
            return None

    async def payload(self, kind: ev.PayloadKind, value: Any) -> ev.RawPayloadRef | None:
        """Like :meth:`payload_nowait`, but with ``overflow="wait"`` waits for room first."""
        data = self._snapshot(kind, value)
        if data is None:
            return None
        if self._overflow == "wait":
            await self._room(len(data) + PAYLOAD_OVERHEAD)
        return self._put_payload(kind, data)

    def event_nowait(
        self,
        payload: ev.EventPayload,
        *,
        thread_id: str | None = None,
        codex_turn_id: str | None = None,
        wall_ms: int | None = None,
    ) -> bool:
        """Append an event (seq and wall time assigned now); ``False`` if it was dropped.

        From another OS thread the event goes through the inbox (its seq is drawn when the
        loop thread takes it; its wall time is now). ``wall_ms`` is a wall time given instead
        of now (a call recorded after it started: ``Turn.inference(started_at=)``); the seq
        is drawn now all the same, so lines stay in seq order."""
        if _get_ident() != self._loop_ident:
            return self._event_from_thread(payload, thread_id, codex_turn_id, wall_ms=wall_ms)
        queued = self._queued
        if (
            self._closing
            or self._failed is not None
            or (
                queued
                and queued + EVENT_COST > self._cap
                and payload.__class__ not in KEPT_EVENTS
                and not self._recap(EVENT_COST)
            )
            or (self._full and payload.__class__ not in CLOSING_EVENTS)
        ):
            self._drop_event()
            return False
        eager = self._eager
        if eager is not None:
            # the payload's JSON now: a queued tuple of strings, numbers and bytes is one the
            # garbage collector stops tracking at once, while a queued attrs object would
            # survive into the oldest generation and make full collections more frequent
            try:
                payload = eager[payload.__class__](payload)  # type: ignore[assignment]
            except Exception:  # a value orjson refuses (a huge int, ...): the slow path
                try:
                    payload = self._eager_slow(payload)  # type: ignore[assignment]
                except Exception as exc:
                    self._unserialisable("event", exc, event=True)
                    return False
        elif payload.__class__ in MUTABLE_PAYLOADS:
            try:
                payload = self.values.compact(payload_dict(payload))  # type: ignore[assignment]
            except Exception as exc:
                self._unserialisable("event", exc, event=True)
                return False
        if self._lines_capped:
            assert self._plan is not None
            full = self._plan.charge(line_estimate(payload))
            if full and payload.__class__ not in CLOSING_EVENTS:
                self._filled()
                self._drop_event()
                return False
        # the clock before the seq, and nothing that can run Python between the seq and the
        # append: an exception a signal handler raises (sys.exit, KeyboardInterrupt) at a call
        # in between left a seq without its line, and both reducers refuse a log with a gap
        wall = time.time_ns() // 1_000_000 if wall_ms is None else wall_ms
        seq = self._seq = self._seq + 1
        self._queue.append((seq, wall, thread_id, codex_turn_id, payload))
        # this bookkeeping is spelled again below, on purpose (see _put_body)
        queued += EVENT_COST
        self._queued = queued
        self._enqueued += 1
        if queued >= self._hurry_at:
            self._hurry()
        return True

    def event_flat(
        self,
        cls: type[Any],
        flat: tuple[Any, ...],
        thread_id: str | None,
        codex_turn_id: str | None,
    ) -> bool:
        """:meth:`event_nowait` for an event of class ``cls`` given flat (see
        ``_encode.FLAT_BUILDERS``: its builder's index, then its values, a reference's
        items last), when :attr:`flat`: the same decision to keep or drop it, its seq and
        wall time now, its line made by the writer. The hot path: the bookkeeping is
        event_nowait's, inlined."""
        if _get_ident() != self._loop_ident:
            return self._event_from_thread(flat, thread_id, codex_turn_id, cls)
        queued = self._queued
        if (
            self._closing
            or self._failed is not None
            or (
                queued
                and queued + EVENT_COST > self._cap
                and cls not in KEPT_EVENTS
                and not self._recap(EVENT_COST)
            )
            or (self._full and cls not in CLOSING_EVENTS)
        ):
            self._drop_event()
            return False
        wall = time.time_ns() // 1_000_000  # before the seq (see event_nowait)
        seq = self._seq = self._seq + 1
        # one tuple (see _encode.FLAT_BUILDERS); concatenated: half the time of unpacking
        self._queue.append((seq, wall, thread_id, codex_turn_id) + flat)  # noqa: RUF005
        queued += EVENT_COST
        self._queued = queued
        self._enqueued += 1
        if queued >= self._hurry_at:
            self._hurry()
        return True

    def start_flat(
        self,
        kind: ev.PayloadKind,
        data: bytes | LazyBody,
        cls: type[Any],
        head: tuple[Any, ...],
        thread_id: str | None,
        codex_turn_id: str | None,
    ) -> tuple[Any, ...] | None:
        """:meth:`put_frozen` of ``data``, then :meth:`event_flat` of ``(*head, *its
        reference)`` (a tool call's invocation and start), in one step when both fit; else
        one by one, each decided as ever. The reference, or ``None`` when the event was
        dropped."""
        plan = self._plan
        assert plan is not None
        queued = self._queued + len(data) + PAYLOAD_OVERHEAD + EVENT_COST
        if _get_ident() == self._loop_ident and queued <= self._cap and not self._full:
            with self._inbox_lock:  # the plan is shared with calls from other threads
                placed = (
                    None if self._closing or self._failed is not None else plan.place_whole(data)
                )
            if placed is not None:
                payload_id, shard, record = placed
                ref = (payload_id, kind, "", shard, None, 0)
                wall = time.time_ns() // 1_000_000
                append = self._queue.append
                append(record)
                seq = self._seq = self._seq + 1  # after the record's append (see event_nowait)
                append((seq, wall, thread_id, codex_turn_id) + head + ref)  # noqa: RUF005
                self._queued = queued
                self._enqueued += 2
                if queued >= self._hurry_at:
                    self._hurry()
                return ref
        ref = self.put_frozen(kind, data)
        return ref if self.event_flat(cls, head + ref, thread_id, codex_turn_id) else None

    def events_flat(
        self,
        cls: type[Any],
        flat: tuple[Any, ...],
        then: type[Any],
        then_flat: tuple[Any, ...],
        thread_id: str | None,
        codex_turn_id: str | None,
    ) -> None:
        """:meth:`event_flat` of two events in a row (a tool call's end and its output's
        acceptance), in one step when both fit; else one by one, each decided as ever."""
        queued = self._queued + 2 * EVENT_COST
        if (
            _get_ident() != self._loop_ident
            or self._closing
            or self._failed is not None
            or self._full
            or queued > self._cap
        ):
            self.event_flat(cls, flat, thread_id, codex_turn_id)
            self.event_flat(then, then_flat, thread_id, codex_turn_id)
            return
        wall = time.time_ns() // 1_000_000
        seq = self._seq + 1
        append = self._queue.append
        # each seq taken just before its own append (see event_nowait)
        self._seq = seq
        append((seq, wall, thread_id, codex_turn_id) + flat)  # noqa: RUF005
        self._seq = seq + 1
        append((seq + 1, wall, thread_id, codex_turn_id) + then_flat)  # noqa: RUF005
        self._queued = queued
        self._enqueued += 2
        if queued >= self._hurry_at:
            self._hurry()

    def payload_frozen(self, kind: ev.PayloadKind, value: Any) -> tuple[Any, ...] | None:
        """:meth:`payload_nowait` when :attr:`flat`, the reference flat (see
        :meth:`put_frozen`); ``None`` for a value that could not be serialised (counted)."""
        data = self._snapshot(kind, value)
        return None if data is None else self.put_frozen(kind, data)

    def put_frozen(
        self, kind: ev.PayloadKind, data: bytes | LazyBody, parts: tuple[tuple[Any, ...], ...] = ()
    ) -> tuple[Any, ...]:
        """Schema 3 without limits (:attr:`flat`): :meth:`_put_body`, the reference made
        flat (``_known_refs.freeze``, ``parts`` flat too) rather than an object: the item
        store keeps it so, and an event queued flat carries it so."""
        plan = self._plan
        assert plan is not None
        size = len(data) + PAYLOAD_OVERHEAD
        queued = self._queued
        if _get_ident() != self._loop_ident:  # the item store called from a worker thread
            return freeze(self._put_body(kind, data, tuple(thaw(part) for part in parts)))
        with self._inbox_lock:  # the plan is shared with calls from other threads
            if (
                self._closing
                or self._failed is not None
                or (queued and queued + size > self._cap and not self._recap(size))
            ):
                self._drop_payload(len(data))
                omitted = plan.omit(kind, len(data), tuple(thaw(part) for part in parts))
                return freeze(omitted)
            payload_id, shard, record = plan.place_whole(data)
        # event_nowait's bookkeeping, inlined (see _put_body)
        self._queue.append(record)
        queued += size
        self._queued = queued
        self._enqueued += 1
        if queued >= self._hurry_at:
            self._hurry()
        if not parts:
            return (payload_id, kind, "", shard, None, 0)
        out: list[Any] = [payload_id, kind, "", shard, None, len(parts)]
        for part in parts:
            out += part
        return tuple(out)

    def put_output_frozen(
        self, data: bytes | LazyBody, result: bytes
    ) -> tuple[tuple[Any, ...], tuple[Any, ...] | None]:
        """:meth:`put_frozen` of a ``model_item``, then of a ``tool_result`` with it as its
        one part: a tool's output stored once and the result over it
        (``ItemStore.tool_output``), both placed under one lock. Anything but the plain
        case (another thread, a closing or failed writer, a queue without room for both)
        puts the item alone (:meth:`put_frozen`, which decides as it always does) and gives
        no result: the caller stores it as it would have."""
        plan = self._plan
        assert plan is not None
        size = len(data) + len(result) + 2 * PAYLOAD_OVERHEAD
        queued = self._queued
        if _get_ident() == self._loop_ident and queued + size <= self._cap:
            with self._inbox_lock:
                if self._closing or self._failed is not None:
                    placed = None
                else:
                    placed = plan.place_whole(data), plan.place_whole(result)
            if placed is not None:
                (item_id, item_shard, item_record), (result_id, shard, result_record) = placed
                self._queue.append(item_record)
                self._queue.append(result_record)
                queued += size
                self._queued = queued
                self._enqueued += 2
                if queued >= self._hurry_at:
                    self._hurry()
                item = (item_id, "model_item", "", item_shard, None, 0)
                return item, (result_id, "tool_result", "", shard, None, 1, *item)
        return self.put_frozen("model_item", data), None

    def lost_event(self) -> None:
        """Count an event that will not be written though nothing offered it to the queue:
        one that could not be made because its payload was dropped (schema 2 has no
        reference to an omitted payload), or the end of a handle whose start was lost."""
        if _get_ident() != self._loop_ident:
            with self._inbox_lock:
                self._thread_drops[0] += 1
            return
        self._drop_event()

    def lost_payload(self) -> None:
        """Count a payload that will not be written though nothing offered it to the queue
        (work not started past the bundle's ceiling, see :meth:`refuses_work`): its bytes
        are not known, as it was never serialised."""
        if _get_ident() != self._loop_ident:
            with self._inbox_lock:
                self._thread_drops[1] += 1
            return
        self._drop_payload(0)

    def refuses_work(self) -> bool:
        """Whether a start refused now is work the bundle will never hold, whose events are
        counted instead: the bundle has reached its ceiling (schema 3 with
        ``max_bundle_bytes``), or the writer has stopped (a disk failure, a hung write).
        Without the second, a turn started after a disk failure handed back its null twin
        and all it did went uncounted: the loss report said 9 events of 33 (live43)."""
        return self._full or self._failed is not None

    async def event(
        self,
        payload: ev.EventPayload,
        *,
        thread_id: str | None = None,
        codex_turn_id: str | None = None,
    ) -> bool:
        """Like :meth:`event_nowait`, but with ``overflow="wait"`` waits for room first."""
        if self._overflow == "wait":
            await self._room(EVENT_COST)
        return self.event_nowait(payload, thread_id=thread_id, codex_turn_id=codex_turn_id)

    def sync_point(self) -> None:
        """A checkpoint (a turn ended): in durable mode, everything recorded so far is
        fsynced once written (and on close). Does nothing otherwise."""
        if self._durable:
            self._sync_at = self._enqueued

    @property
    def queued_bytes(self) -> int:
        """Bytes held by the queue right now (cheap: the recorder polls it)."""
        return self._queued

    @property
    def held_bytes(self) -> int:
        """Bytes held in memory: the queue and the other threads' inbox (not yet queued)."""
        return self._queued + self._inbox_bytes

    @property
    def max_queued_bytes(self) -> int:
        return self._max

    def room_wanted(self, threshold: int, wait: bool) -> int:
        """``recorder._room_probe``'s answer, asked before every ``async with`` of a handle
        (one call reading the attributes):

        * 2: more than ``threshold`` bytes are queued, or producers ``wait`` and the process's
          rollouts together held more than its budget when this queue last looked: the next
          ``async with`` waits for this writer;
        * 1: the writer task is ready to run and a batch's worth of records is waiting: an
          agent that never awaits anything should give it a turn (``Runtime.room``), or the
          queue grows until the budget stops it (not at every chance: each turn hands the
          worker thread a chunk, and the fewer, larger chunks the less the two threads
          contend for the GIL);
        * 0: neither."""
        queued = self._queued
        if queued > threshold or (wait and self._crowded):
            return 2
        return 1 if self._turn_wanted and queued >= self._batch_bytes else 0

    def _hurry(self) -> None:
        self._hurry_at = _NEVER
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            self._turn_wanted = True
            wakeup.set()

    # --- queueing internals --------------------------------------------------------------

    def _put_body(
        self,
        kind: ev.PayloadKind,
        data: bytes | LazyBody,
        parts: tuple[ev.RawPayloadRef, ...] = (),
    ) -> ev.RawPayloadRef:
        """Schema 3 (loop thread): place ``data`` in a shard and queue its record. A payload
        the queue cannot take is ``omitted`` (counted as dropped): the event citing it is
        still written, and the bundle says what is missing."""
        plan = self._plan
        assert plan is not None
        size = len(data) + PAYLOAD_OVERHEAD
        if _get_ident() != self._loop_ident:  # the item store called from a worker thread
            with self._inbox_lock:
                if not self._admit_from_thread(size):
                    drops = self._thread_drops
                    drops[1] += 1
                    drops[2] += len(data)
                    return plan.omit(kind, len(data), parts)
                ref, record = plan.place(kind, data, parts)
                if record is not None:
                    self._inbox_put(record, size)
            return ref
        queued = self._queued
        with self._inbox_lock:  # the plan is shared with calls from other threads
            if (
                self._closing
                or self._failed is not None
                or (
                    queued
                    and queued + size > self._cap
                    and size > self._kept_size  # (0 but in ``payload_kept``)
                    and not self._recap(size)
                )
            ):
                self._drop_payload(len(data))
                return plan.omit(kind, len(data), parts)
            ref, record = plan.place(kind, data, parts)
        if record is not None:
            # the same bookkeeping as event_nowait, inlined on purpose: this is the hot path,
            # and a shared method call would cost more than these lines (one, folded into
            # all eight copies, measured +20-30 ns an event: run.py --quick event p50 1.237 ->
            # 1.257 us, recorder event p50 1.452 -> 1.482 us, medians of 4 alternating runs)
            self._queue.append(record)
            queued += size
            self._queued = queued
            self._enqueued += 1
            if queued >= self._hurry_at:
                self._hurry()
        return ref

    def _put_payload(self, kind: ev.PayloadKind, data: bytes | LazyBody) -> ev.RawPayloadRef | None:
        if self._plan is not None:
            return self._put_body(kind, data)
        size = len(data) + PAYLOAD_OVERHEAD
        queued = self._queued
        if (
            self._closing
            or self._failed is not None
            or (
                queued
                and queued + size > self._cap
                and size > self._kept_size  # (0 but in ``payload_kept``)
                and not self._recap(size)
            )
        ):
            self._drop_payload(size - PAYLOAD_OVERHEAD)
            return None
        n = next(self._ordinals)
        self._queue.append((n, data))
        queued += size
        self._queued = queued
        self._enqueued += 1
        if queued >= self._hurry_at:
            self._hurry()
        return ev.RawPayloadRef(raw_payload_id(n), kind, payload_path(n))

    def _force(self, item: QueuedEvent | _QueuedPayload, size: int) -> None:
        """Queue an item past the budget and the closing flag (the final lines)."""
        if len(item) != 2:
            self._charge_line(item[4])
        self._queue.append(item)
        self._queued += size
        self._enqueued += 1
