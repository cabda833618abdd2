"""The bundle writer's back-pressure: how the awaitable recording calls wait for room, and
how long.

With ``overflow="wait"`` a call that would take the queue past ``max_queued_bytes`` (or a
crowded process budget) waits until the writer has written enough. A wait is bounded: one
that sees no progress for ``stall_s`` ends, notes once that the disk stalls, and from then on
nothing waits until the writer has written something again (what does not fit is dropped
and counted by the caller): an agent on a disk that stopped answering waited for ever.
Progress (:meth:`RoomWaits._notify`) wakes those waiters, a flush or close waiting for the
writer, and the writer task itself.
"""

from __future__ import annotations

import contextlib

import anyio

from ._reports import ClosingReports
from ._warnings import recorder_warning
from ._worker_threads import WriteHung


class RoomWaits(ClosingReports):
    """The waits for room of :class:`~.writer.BundleWriter` (which owns every attribute)."""

    __slots__ = ("_progress", "_stall_noted", "_stalled")
    #: set (and replaced) each time the writer makes progress; ``None`` while nobody waits
    _progress: anyio.Event | None
    #: a wait for room went ``stall_s`` without progress: no waiting until there is some
    _stalled: bool
    #: the stall was noted (reason and warning): once per writer
    _stall_noted: bool
    #: writer tasks running (``run``): without one, a wait for room drains the queue itself
    _running: int

    async def _room(self, size: int) -> None:
        """Wait until ``size`` more bytes fit (or the writer stops accepting anything). A wait
        that sees no progress for ``stall_s`` ends (the disk stalls: what does not fit is then
        dropped and counted), and none waits again until the writer has written something:
        an agent on a disk that stopped answering waited for ever."""
        while (
            self._queued
            and (self._queued + size > self._max or self._process_crowded())
            and not self._closing
            and self._failed is None
            and not self._stalled
        ):
            if not self._running:
                with contextlib.suppress(WriteHung):
                    await self._drain()
                continue
            with anyio.move_on_after(self.stall_s):
                await self._wait_progress()
                continue
            self._stalled = True
            if not self._stall_noted:
                self._stall_noted = True
                reason = f"the writer made no progress for {self.stall_s:g} s (the disk stalls)"
                self._reasons.append(reason)
                recorder_warning(
                    f"rollout trace: {reason}; {self.bundle_dir} takes what fits meanwhile "
                    "and counts the rest as lost",
                    kind="disk stalls",
                )

    async def _wait_progress(self) -> None:
        progress = self._progress
        if progress is None:
            progress = self._progress = anyio.Event()
        await progress.wait()

    def _notify(self) -> None:
        """Wake whoever waits for room, a flush or the close (the writer made progress)."""
        self._stalled = False
        progress, self._progress = self._progress, None
        if progress is not None:
            progress.set()
        wakeup, self._wakeup = self._wakeup, None
        if wakeup is not None:
            self._turn_wanted = True  # as ``_hurry`` says: woken, it wants its turn
            wakeup.set()
