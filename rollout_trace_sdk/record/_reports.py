"""The bundle writer's closing reports: what was lost, approximated or redacted, in words.

On close, before ``recording_completed``, :class:`~.writer.BundleWriter` appends a
``warning`` protocol event when anything was dropped or recorded approximately (the loss
report), and another with the count of secrets redacted by kind (the redaction report),
so that nothing is lost silently. Both are forced into the queue (no budget applies), like
the closing line itself (:meth:`ClosingReports._force_event`).
"""

from __future__ import annotations

import time
from typing import Final

import orjson

from ..model import events as ev
from ..model import layout
from . import _files
from ._chunks import ChunkWriter
from ._queue_rules import EVENT_COST, PAYLOAD_OVERHEAD
from .redact import HOOK_ERROR, Redactor

_PRETTY: Final = orjson.OPT_INDENT_2


class ClosingReports(ChunkWriter):
    """The closing reports of :class:`~.writer.BundleWriter` (which owns every attribute)."""

    __slots__ = ()
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
                f"{layout.LOSS_REPORT_PREFIX}{s[2]} events and {s[3]} payloads ({s[4]} bytes) "
                f"while recording this trace: {reasons}"
            )
            if approximated:
                message += f"; recorded approximately: {approximated}"
            self._append_warning(message)
            self._report_seq = self._seq

    async def _release_reserve(self) -> None:
        """Free the bundle's space reserve (in a worker thread, as every touch of the disk):
        for the last attempt after a failure, or at close. Once."""
        if self._reserved:
            self._reserved = False
            await self._in_thread(_files.release_reserve, str(self.bundle_dir))
            self._raise_held()

    def _append_redaction_report(self) -> None:
        """Queue how many secrets of each kind were redacted (when any were), the way the
        loss report is recorded: a ``warning`` protocol event before ``recording_completed``."""
        if self.redactor is None or not self.redactor.counts or self._failed is not None:
            return
        counts = dict(self.redactor.counts)
        # a hook's failure is no secret redacted: the report said "redacted 1 secrets
        # (hook_error 1)" of a body the user's detector never looked at
        failed = counts.pop(HOOK_ERROR, 0)
        detail = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))
        message = f"{layout.REDACTION_REPORT_PREFIX}{sum(counts.values())} secrets in this trace"
        if detail:
            message += f" ({detail})"
        if failed:
            message += (
                f"; the redaction hook raised on {failed} texts, written without its spans "
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
