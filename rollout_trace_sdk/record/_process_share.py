"""A rollout's share of the process budget (``_budget``), on the queue's side: the queue
that reached its cap asks for more room, and the writer keeps reserved what it took off the
queue until it is written. Only a rollout opened under a process budget (``_limited``) asks;
the calls here are off the hot path (a full queue, a chunk taken or written). Split from
``_queue``.
"""

from __future__ import annotations

import threading
from typing import Any

from ..model import events as ev
from ._budget import PROCESS, SLACK
from ._deferred import LazyBody
from ._inbox import ThreadInbox
from ._queue_rules import HARD_CAP_FACTOR, KEPT_PAYLOAD_BYTES, PAYLOAD_OVERHEAD


class ProcessShare(ThreadInbox):
    """The process-budget part of :class:`~._queue.RecordQueue` (:class:`~.writer.BundleWriter`
    owns every attribute)."""

    __slots__ = ("_crowded", "_kept_size", "_limited", "_own_cap", "_taken")
    #: the largest record taken past the cap (0; a small payload's charge while
    #: :meth:`payload_kept` queues it): tested only past the cap, off the hot path
    _kept_size: int
    _loop_ident: int
    #: what this queue may hold before it looks again (its own hard cap, or under a process
    #: budget its share of the process's room: see ``_budget`` and :meth:`_recap`)
    _cap: int
    #: bytes its writer took off the queue under a process budget and has not yet written
    #: (still reserved: see ``_budget``)
    _taken: int
    #: this rollout's own hard cap (``max_queued_bytes``, × HARD_CAP_FACTOR for "wait")
    _own_cap: int
    #: the process's rollouts held more than its budget when last looked at ("wait" only):
    #: the next ``async with`` waits for this writer (``Runtime.room``)
    _crowded: bool
    #: a record was refused for the process budget (the loss report says which budget)
    _process_full: bool
    #: the rollout was opened under a process budget: its cap is what it reserved of it
    _limited: bool
    _overflow: str

    def _recap(self, size: int) -> bool:
        """The queue reached its cap: may ``size`` more bytes come in after all? Only under a
        process budget (``_budget``): there the cap is what this rollout reserved of it, and
        it asks for more (refused: the process's rollouts have reserved all of it)."""
        if not self._limited:
            return False
        wait = self._overflow == "wait"
        want = self._queued + self._inbox_bytes + size
        granted = PROCESS.grant(self, want, HARD_CAP_FACTOR if wait else 1)
        self._crowded = wait and PROCESS.crowded
        if not granted and want <= self._own_cap:
            self._process_full = True
        return granted

    def _process_crowded(self) -> bool:
        """Whether the process's rollouts still reserve more than its budget (looked at
        again: what ``_crowded`` remembers is stale once writers have caught up)."""
        if self._crowded:
            self._crowded = PROCESS.crowded
        return self._crowded

    def _hold_taken(self, nbytes: int) -> None:
        """The writer took ``nbytes`` off the queue: reserved until written (:meth:`_give_back`)."""
        if self._limited:
            PROCESS.take(self, nbytes)

    def _give_back(self) -> None:
        """A chunk is written: keep reserved what the queue holds and :data:`SLACK` more."""
        if self._limited:
            PROCESS.written(self, self._queued + self._inbox_bytes + SLACK)

    def payload_kept(self, kind: ev.PayloadKind, value: Any) -> ev.RawPayloadRef | None:
        """``payload_nowait`` for a payload kept past the budget (a rollout's or the
        process's) when no larger than :data:`KEPT_PAYLOAD_BYTES`, as a start or an end is:
        a model call's usage without its answer. Not past a closed or failed writer, nor a
        bundle's ceiling."""
        data = self._snapshot(kind, value)
        if data is None:
            return None
        if self._plan is not None:
            return self._put_kept(kind, data, ())
        if threading.get_ident() != self._loop_ident:
            return self._payload_from_thread(kind, data, kept=True)
        self._kept_size = KEPT_PAYLOAD_BYTES + PAYLOAD_OVERHEAD
        try:
            return self._put_payload(kind, data)
        finally:
            self._kept_size = 0

    def _put_kept(
        self, kind: ev.PayloadKind, data: bytes | LazyBody, parts: tuple[ev.RawPayloadRef, ...]
    ) -> ev.RawPayloadRef:
        """Schema 3: ``_put_body`` kept past the budget as :meth:`payload_kept` is (the item
        store's ``put_kept``: a response's template). From another OS thread it is queued as
        any body: ``_kept_size`` is the loop thread's, and must let no other thread's pass."""
        if threading.get_ident() != self._loop_ident:
            return self._put_body(kind, data, parts)
        self._kept_size = KEPT_PAYLOAD_BYTES + PAYLOAD_OVERHEAD
        try:
            return self._put_body(kind, data, parts)
        finally:
            self._kept_size = 0

    def _snapshot(self, kind: str, value: Any) -> bytes | LazyBody | None:
        raise NotImplementedError  # the queue's (RecordQueue)

    def _put_payload(self, kind: ev.PayloadKind, data: bytes | LazyBody) -> ev.RawPayloadRef | None:
        raise NotImplementedError  # the queue's (RecordQueue)

    def _put_body(
        self,
        kind: ev.PayloadKind,
        data: bytes | LazyBody,
        parts: tuple[ev.RawPayloadRef, ...] = (),
    ) -> ev.RawPayloadRef:
        raise NotImplementedError  # the queue's (RecordQueue)
