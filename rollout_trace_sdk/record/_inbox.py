"""Recording calls made from other OS threads: the inbox.

A handle used from a worker thread (``to_thread``, a thread pool) cannot touch the queue,
whose seqs are drawn in the event loop's thread: its records go into a lock-guarded inbox
under the same memory budget, and the first one wakes the loop thread, which moves them
into the queue in order (:meth:`ThreadInbox._take_inbox`). Split from ``_queue``.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..model import events as ev
from ..model.layout import payload_path, raw_payload_id
from ._async_lib import current_async_library
from ._deferred import LazyBody
from ._encode import MUTABLE_PAYLOADS, payload_dict
from ._queue_rules import (
    CLOSING_EVENTS,
    EVENT_COST,
    KEPT_EVENTS,
    KEPT_PAYLOAD_BYTES,
    PAYLOAD_OVERHEAD,
    QueueRules,
    log,
)
from ._values import ValueEncoder


class ThreadInbox(QueueRules):
    """The other-threads part of :class:`~._queue.RecordQueue` (which owns every attribute)."""

    __slots__ = (
        "_cap",
        "_enqueued",
        "_hurry_at",
        "_inbox",
        "_inbox_bytes",
        "_inbox_lock",
        "_ordinals",
        "_poke",
        "_queue",
        "_queued",
        "_seq",
        "_thread_drops",
        "values",
    )
    values: ValueEncoder
    _cap: int
    _enqueued: int
    _hurry_at: int
    _inbox: deque[tuple[Any, ...]]
    _inbox_bytes: int
    _inbox_lock: threading.Lock
    _ordinals: itertools.count[int]
    _poke: Callable[[Callable[[], None]], Any] | None
    _queue: deque[Any]
    _queued: int
    _seq: int
    _thread_drops: list[int]

    def _recap(self, size: int) -> bool:
        raise NotImplementedError  # the queue asks the process budget (ProcessShare)

    def _hurry(self) -> None:
        raise NotImplementedError  # the queue wakes its writer (RecordQueue)

    def _admit_from_thread(self, size: int, kept: bool = False) -> bool:
        """Under the inbox lock: may a thread call add ``size`` bytes? Same budget as the
        loop's calls (queue and inbox together), so memory stays bounded; a ``kept`` event
        (:data:`KEPT_EVENTS`) is admitted past it, as on the loop."""
        return (
            not self._closing
            and self._failed is None
            and (kept or self._queued + self._inbox_bytes + size <= self._cap or self._recap(size))
        )

    def _payload_from_thread(
        self, kind: ev.PayloadKind, data: bytes | LazyBody, *, kept: bool = False
    ) -> ev.RawPayloadRef | None:
        """A payload from another OS thread (``kept``: past the budget when small, as
        ``RecordQueue.payload_kept``)."""
        size = len(data) + PAYLOAD_OVERHEAD
        with self._inbox_lock:
            plan = self._plan
            if not self._admit_from_thread(size, kept and len(data) <= KEPT_PAYLOAD_BYTES):
                drops = self._thread_drops
                drops[1] += 1
                drops[2] += len(data)
                return None if plan is None else plan.omit(kind, len(data))
            if plan is not None:
                ref, record = plan.place(kind, data)
                if record is not None:
                    self._inbox_put(record, size)
                return ref
            n = next(self._ordinals)
            self._inbox_put((n, data), size)
        return ev.RawPayloadRef(raw_payload_id(n), kind, payload_path(n))

    def _event_from_thread(
        self,
        payload: ev.EventPayload | tuple[Any, ...],
        thread_id: str | None,
        codex_turn_id: str | None,
        cls: type[Any] | None = None,
        *,
        wall_ms: int | None = None,
    ) -> bool:
        """An event recorded from another OS thread, into the inbox (``cls``: the class of
        an event given flat, see :meth:`event_flat`; ``wall_ms``: its wall time, when given
        instead of now)."""
        if cls is None:
            cls = payload.__class__
        if cls in MUTABLE_PAYLOADS:  # never given flat
            try:
                payload = self.values.compact(payload_dict(payload))  # type: ignore[arg-type,assignment]
            except Exception as exc:
                with self._inbox_lock:
                    self._thread_drops[0] += 1
                log.warning("rollout_trace_sdk: dropped an event that is not JSON: %s", exc)
                return False
        with self._inbox_lock:
            full = self._full and cls not in CLOSING_EVENTS
            if full or not self._admit_from_thread(EVENT_COST, cls in KEPT_EVENTS):
                self._thread_drops[0] += 1
                return False
            wall = time.time_ns() // 1_000_000 if wall_ms is None else wall_ms
            if isinstance(payload, tuple):  # given flat: one tuple, as event_flat queues it
                self._inbox_put((wall, thread_id, codex_turn_id, *payload), EVENT_COST)
            else:
                self._inbox_put((wall, thread_id, codex_turn_id, payload), EVENT_COST)
        return True

    def _inbox_put(self, item: tuple[Any, ...], size: int) -> None:
        """Under the inbox lock: add ``item``; wake the loop thread if it is the first."""
        first = not self._inbox
        self._inbox.append(item)
        self._inbox_bytes += size
        poke = self._poke
        if first and poke is not None:
            # the loop may be gone: then the next flush or the close takes the inbox
            with contextlib.suppress(Exception):
                poke(self._take_inbox)

    def _take_inbox(self) -> None:
        """In the loop thread: move what other threads recorded into the queue, in order."""
        if not self._inbox:
            return
        with self._inbox_lock:
            items = list(self._inbox)
            self._inbox.clear()
            self._inbox_bytes = 0
        queue = self._queue
        capped = self._lines_capped
        added = 0
        for item in items:
            if len(item) == 2:
                queue.append(item)
                added += len(item[1]) + PAYLOAD_OVERHEAD
            else:
                seq = self._seq = self._seq + 1
                queue.append((seq, *item))
                added += EVENT_COST
                if capped:  # admitted: the ceiling only stops what follows
                    self._charge_line(item[3])
        self._queued += added
        self._enqueued += len(items)
        if self._queued >= self._hurry_at:
            self._hurry()


def loop_poker() -> Callable[[Callable[[], None]], Any] | None:
    """How another OS thread schedules a call in this event loop (``None`` outside one)."""
    library = current_async_library()
    if library == "trio":
        import trio

        return trio.lowlevel.current_trio_token().run_sync_soon
    if library == "asyncio":
        import asyncio

        return asyncio.get_running_loop().call_soon_threadsafe
    return None
