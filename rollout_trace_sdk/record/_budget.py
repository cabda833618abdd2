"""One memory budget for all the rollouts of a process together (:func:`set_process_budget`).

Each rollout's queue has its own budget (``max_queued_bytes``, 64 MiB by default), which is
what one agent needs. An RL loop running a thousand rollouts at once in one process has a
thousand such budgets: if the disk stalls, they may queue far more than the machine holds.
The process budget bounds their sum.

The hot path does not pay for it. A rollout's queue compares what it holds with its *cap*
(one attribute, as before); under a process budget the cap is what the queue has *reserved*
of the process's budget. Only when the cap is reached does the queue ask for more
(:meth:`ProcessBudget.grant`: a lock and a few integers, never a walk over the rollouts), a
share of what no rollout has reserved (at most :data:`STEP`). A chunk its writer takes off
the queue stays reserved until it is written (:meth:`ProcessBudget.take`: it is still in
memory, and on a stalled disk it stays there); then the queue hands back all but
:data:`SLACK` of what it no longer holds (:meth:`ProcessBudget.written`). So the rollouts
together hold at most what they reserved, which is at most the budget (plus one record per
rollout: an empty queue takes any record, however large). With no process budget set, the
cap is the rollout's own budget: nothing changes.
"""

from __future__ import annotations

import os
import threading
from typing import Final, Protocol

#: What a rollout's queue reserves of the process's budget at a time, at most.
STEP: Final = 256 << 10
#: What it keeps reserved beyond what it holds once a chunk is written.
SLACK: Final = 16 << 10
#: All rollouts of a process together, unless :func:`set_process_budget` says otherwise.
DEFAULT_PROCESS_BUDGET: Final = 1 << 30


class Reserving(Protocol):
    """A rollout's queue as the budget sees it (its attributes, changed under the lock)."""

    _cap: int
    _own_cap: int
    _taken: int


class ProcessBudget:
    """The process's budget and what its rollouts have reserved of it."""

    __slots__ = ("_lock", "limit", "reserved")

    def __init__(self, limit: int | None) -> None:
        #: bytes all rollouts may hold at once before an ``async with`` waits for its writer
        #: (``overflow="wait"``) or a record is dropped (``"drop"``); ``None``: no limit
        self.limit = limit
        #: the caps of every rollout's queue and the chunks their writers took and have not
        #: yet written, summed (see :meth:`grant` and :meth:`take`)
        self.reserved = 0
        self._lock = threading.Lock()

    def grant(self, queue: Reserving, want: int, factor: int) -> bool:
        """``queue`` needs a cap of ``want`` (more than it has): whether it got it. It gets a
        share of what no rollout has reserved (at least ``want``, up to :data:`STEP` more,
        never past its own budget), unless that is less than it needs. The rollouts may
        reserve up to ``factor`` × the limit (a queue that lets calls which cannot wait
        overdraw its own budget may overdraw the process's as far)."""
        limit = self.limit
        with self._lock:
            cap = queue._cap
            most = queue._own_cap
            free = (1 << 62) if limit is None else limit * factor - self.reserved
            if want > most or want - cap > free:
                return False
            new = min(most, max(want, cap + min(STEP, free // 4)))
            self.reserved += new - cap
            queue._cap = new
            return True

    def take(self, queue: Reserving, nbytes: int) -> None:
        """``queue``'s writer took ``nbytes`` off it to write them: they stay reserved (in
        memory until written) but are no longer room for the queue, whose cap goes down as
        far. Handed back by :meth:`written`. (Handed back here, a stalled disk let every
        rollout hold a chunk outside the budget and the queue refill: 20 rollouts under a
        1 MiB budget held 16 MB.)"""
        with self._lock:
            moved = min(nbytes, max(queue._cap, 0))
            queue._cap -= moved
            queue._taken += moved

    def written(self, queue: Reserving, keep: int) -> None:
        """``queue``'s writer has written (or lost) the chunk it took: hand back what the chunk
        held and whatever of the cap is beyond ``keep``."""
        with self._lock:
            freed, queue._taken = queue._taken, 0
            self.reserved = max(0, self.reserved - freed - _lowered(queue, keep))

    def shrink(self, queue: Reserving, keep: int) -> None:
        """Hand back what ``queue`` reserved beyond ``keep`` (all of its cap once the rollout
        is closed: ``keep`` 0; a chunk still being written is handed back by
        :meth:`written`)."""
        with self._lock:
            self.reserved = max(0, self.reserved - _lowered(queue, keep))

    @property
    def crowded(self) -> bool:
        """The rollouts have reserved more than the limit: awaitable calls should wait."""
        limit = self.limit
        return limit is not None and self.reserved > limit

    def after_fork_in_child(self) -> None:
        """A forked child records nothing of its parent's: a fresh lock (a thread of the
        parent may have held it), nothing reserved."""
        self._lock = threading.Lock()
        self.reserved = 0


def _lowered(queue: Reserving, keep: int) -> int:
    """Under the budget's lock: ``queue``'s cap down to ``keep`` if above it; what it freed."""
    cap = queue._cap
    if cap <= keep:
        return 0
    queue._cap = keep
    return cap - keep


PROCESS: Final = ProcessBudget(DEFAULT_PROCESS_BUDGET)

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=PROCESS.after_fork_in_child)


def set_process_budget(max_bytes: int | None) -> None:
    """Bound the bytes all rollouts of this process queue together (1 GiB by default).

    Each rollout keeps its own ``max_queued_bytes`` too; this bounds their sum, for a
    process running many rollouts at once. When the rollouts together hold more than
    ``max_bytes``, an ``async with`` of a rollout with ``overflow="wait"`` waits for its
    writer, as it does at its own budget, and calls that cannot wait may fill up to twice
    ``max_bytes`` before records are dropped (counted in each bundle's loss report); with
    ``overflow="drop"``, records are dropped (and counted) past ``max_bytes``. It applies to
    rollouts opened after the call.

    Args:
        max_bytes: the process-wide budget in bytes, or ``None`` for none (each rollout
            then has only its own).

    Raises:
        ValueError: ``max_bytes`` is not a positive number of bytes.
    """
    if max_bytes is not None and (
        isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0
    ):
        raise ValueError(f"max_bytes must be a positive int or None, not {max_bytes!r}")
    PROCESS.limit = max_bytes
