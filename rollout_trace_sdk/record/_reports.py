"""The bundle writer's last steps: the closing reports (what was lost, approximated or
redacted, in words), the room held for them, and the close of a rollout nobody closes.

On close, before ``recording_completed``, :class:`~.writer.BundleWriter` appends a
``warning`` protocol event when anything was dropped or recorded approximately (the loss
report), and another with the count of secrets redacted by kind (the redaction report),
so that nothing is lost silently. Both are forced into the queue (no budget applies), like
the closing line itself (:meth:`ClosingReports._force_event`). A rollout the event loop
ended under is closed here too (:meth:`ClosingReports._orphaned`), left unclosed.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Final

import anyio
import orjson

from ..model import events as ev
from ..model import layout
from . import _files
from ._async_lib import WRITER_TASK, others_running
from ._budget import PROCESS
from ._chunks import ChunkWriter
from ._queue_rules import EVENT_COST, PAYLOAD_OVERHEAD
from ._shards import ShardSink
from ._warnings import recorder_warning
from ._worker_threads import WriteHung
from .redact import HOOK_ERROR, Redactor

_PRETTY: Final = orjson.OPT_INDENT_2


#: How long a writer cancelled under an open rollout waits for another task to close it.
_ORPHAN_GRACE_S: Final = 1.0


class ClosingReports(ChunkWriter):
    """The last steps of :class:`~.writer.BundleWriter` (which owns every other attribute)."""

    __slots__ = ("_closed",)
    redactor: Redactor | None

    def _append_loss_report(self) -> None:
        """Queue the loss report (if anything was lost or approximated); ``aclose`` appends
        ``recording_completed`` once it is written. After a disk failure both continue right
        after the last complete line, in one last attempt each."""
        if self._failed is not None:
            self._salvage = True
            self._seq = self._written_seq
        with self._inbox_lock:
            t, self._thread_drops = self._thread_drops, [0, 0, 0]
        s = self._stats
        for i in range(3):
            s[2 + i] += t[i]
        if t[0] or t[1]:
            self._reasons.append("calls from other threads found the budget full or came late")
        approximated = self.values.lost_text()
        if s[2] or s[3] or approximated:
            reasons = "; ".join(self._reasons) or "nothing was dropped"
            message = (
                f"{layout.loss_report(s[2], s[3], s[4])} while recording this trace: {reasons}"
            )
            if approximated:
                message += f"; recorded approximately: {approximated}"
            self._append_warning(message)
            self._report_seq = self._seq

    async def _release_reserve(self) -> None:
        """Free the bundle's space reserve (in a worker thread, as every touch of the disk):
        for the close's reports, seals and last line (after a failure: its last attempt).
        Once."""
        if self._reserved:
            self._reserved = False
            await self._in_thread(_files.release_reserve, str(self.bundle_dir), self._payloads_dir)
            self._raise_held()

    def _begin_closing(self, timeout: float | None) -> float:
        """Start closing: the inbox taken in, calls from other threads from now on dropped
        and counted. Returns the deadline ``timeout`` seconds from now (``inf``: none)."""
        self._take_inbox()
        with self._inbox_lock:
            self._closing = True
        return math.inf if timeout is None else anyio.current_time() + timeout

    async def _orphaned(self, timeout: float | None) -> None:
        """Cancelled under an open rollout: asyncio's runner cancels the tasks left when its
        main one returns (a rollout never exited). Nobody will close it: what is queued is
        written (within ``timeout``), the bundle left unclosed, and a warning says so.
        Before, what was not yet written was lost without a word (the bundle read empty).
        While other tasks run, one of them may still close it: it gets ``_ORPHAN_GRACE_S``."""
        with anyio.CancelScope(shield=True), anyio.move_on_after(_ORPHAN_GRACE_S):
            while not self._closing and others_running(WRITER_TASK):
                await anyio.sleep(0.001)
        if self._closing:
            return  # that close drains the queue itself
        deadline = self._begin_closing(timeout)
        held: list[BaseException] = []
        with anyio.CancelScope(shield=True), contextlib.suppress(WriteHung, OSError):
            try:
                await self._closing_step(held, self._drain, deadline)
                if self._sink is not None:
                    await self._closing_step(held, self._seal, deadline)
                await self._closing_step(held, self._release_reserve)
            finally:
                if self._queue:
                    self._abandon_queue("the event loop ended")
                self._finish()
        recorder_warning(
            "rollout trace: the event loop ended with this rollout still open (never closed); "
            f"what it recorded is written, the bundle left unclosed: {self.bundle_dir}",
            kind="rollout never closed",
        )

    def _count_discarded(self) -> None:
        """Schema 3: records handed to the sink that never reached the disk whole (a cut, a
        failed seal: ``ShardSink.discarded``) move from written to lost. They were counted
        written when handed; an unclosed bundle's stats said so."""
        if self._sink is not None:
            records, size = self._sink.discarded
            self._sink.discarded = [0, 0]
            self._stats[1] -= records
            self._stats[3] += records
            self._stats[4] += size

    def _finish(self) -> None:
        self._count_discarded()
        self._closed = True
        if self._limited:  # what it reserved of the process's budget goes back
            PROCESS.shrink(self, 0)
        if self._chunk_scope is None:  # else that chunk's end closes it, not under it
            self._close_log()
        self._notify()

    def _abandon_queue(self, reason: str) -> None:
        """Count everything still queued as lost (the close ran out of time). The closing
        lines then take the seqs of the first events left: the log keeps no seq gap. (Not
        the seqs after the last line on disk: the writer task's chunk may still be in the
        worker thread, its lines to come, and the log repeated their seqs.)"""
        queue = self._queue
        payloads = [item for item in queue if len(item) == 2]
        first_left = next((item[0] for item in queue if len(item) != 2), None)
        events = len(queue) - len(payloads)
        queue.clear()
        self._done = self._enqueued
        self._queued = 0
        self._lose(payloads, events, b"")
        self._reasons.append(reason)
        if first_left is not None:
            self._seq = first_left - 1

    async def _cut_shards(self) -> None:
        """Schema 3, after a failure: the frames it left open ended where their last whole
        batch did (``ShardSink.cut``) and the next record put in a new shard, so that the
        loss report and ``recording_completed`` can follow. Before, such a bundle stayed
        unclosed and its report went nowhere. The records cut off are counted lost."""
        sink, plan = self._sink, self._plan
        if sink is None or plan is None:
            return
        cut: list[bool] = []
        await self._in_thread(_cut_frames, sink, cut)
        self._raise_held()
        self._count_discarded()  # (before the loss report, which says how many)
        if cut:
            with self._inbox_lock:
                plan.move_past(plan.current_shard)

    def _append_redaction_report(self) -> None:
        """Queue how many secrets of each kind were redacted (when any were), the way the
        loss report is recorded: a ``warning`` protocol event before ``recording_completed``."""
        if self.redactor is None or not self.redactor.counts or self._failed is not None:
            return
        counts = dict(self.redactor.counts)
        # a hook's failure is no secret redacted: the report said "redacted 1 secrets
        # (hook_error 1)" of a body the user's detector never looked at
        failed = counts.pop(HOOK_ERROR, 0)
        message = layout.redaction_report(counts)
        if failed:
            message += (
                f"; the redaction hook raised on {failed} text{'' if failed == 1 else 's'}, "
                "written without its spans "
                f"({HOOK_ERROR} {failed})"
            )
        self._append_warning(message)
        # Nothing else is queued now (closing): the report and the closing line are written
        # as they are; a user's pattern or hook could match its kind names.
        self._redact_lines = None
        self._redact_payload = self.values.cut_too_deep
        if self._sink is not None:
            self._sink.stop_filtering()

    def _append_warning(self, message: str) -> None:
        report = {"type": "warning", "message": message}
        if self._plan is not None:
            body = orjson.dumps(report)
            with self._inbox_lock:
                ref, record = self._plan.place("protocol_event", body, closing=True)
            if record is not None:
                self._force(record, len(body) + PAYLOAD_OVERHEAD)
        else:
            data = orjson.dumps(report, option=_PRETTY)
            n = next(self._ordinals)
            self._force((n, data), len(data) + PAYLOAD_OVERHEAD)
            ref = ev.RawPayloadRef(
                layout.raw_payload_id(n), "protocol_event", layout.payload_path(n)
            )
        self._force_event(ev.ProtocolEventObserved("warning", ref))

    def _force_event(self, payload: ev.EventPayload) -> None:
        wall = now_ms()  # before the seq (see RecordQueue.event_nowait)
        seq = self._seq = self._seq + 1
        self._force((seq, wall, None, None, payload), EVENT_COST)


def now_ms() -> int:
    """The wall clock in Unix milliseconds (never negative), as the closing lines take it."""
    return max(time.time_ns() // 1_000_000, 0)


def _cut_frames(sink: ShardSink, cut: list[bool]) -> None:
    """In the worker thread: :meth:`ShardSink.cut`; ``cut`` gets ``True`` when it ended a
    frame (nothing when none was left behind, or the cut failed: the bundle then stays
    unclosed). What it cut off is in ``sink.discarded``."""
    with contextlib.suppress(OSError):
        if sink.cut() is not None:
            cut.append(True)
