"""What a rollout's queue keeps, charges and drops, and how it says what it dropped.

The rules (which events are never dropped for want of room, what each record is charged)
and the notes a drop leaves for the bundle's loss report, shared by the recording side
(``_queue``, ``_inbox``) and the writing side (``_chunks``, ``_reports``). Split from
``_queue`` so that each module keeps one job.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Final

from ..model import events as ev
from ._budget import PROCESS
from ._line_cost import line_estimate
from ._shard_plan import ShardPlan

log = logging.getLogger("rollout_trace_sdk")

#: Seconds between two log lines saying the process's budget is full: each bundle that drops
#: for it says so in its own loss report, and a budget too small for the rollouts at once
#: logged a line for each of them (user50: 397 lines from one run of 400 rollouts).
PROCESS_FULL_LOG_EVERY: Final = 60.0


class _ProcessFullLog:
    """When the process-budget line was last logged, and how many bundles began dropping for
    that budget since without a line of their own (shared by every writer thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: float | None = None
        self._unsaid = 0

    def due(self) -> int | None:
        """``None``: not now (this bundle is counted for the next line); else how many
        bundles the line also stands for."""
        now = time.monotonic()
        with self._lock:
            if self._last is not None and now - self._last < PROCESS_FULL_LOG_EVERY:
                self._unsaid += 1
                return None
            self._last, unsaid, self._unsaid = now, self._unsaid, 0
            return unsaid


_PROCESS_FULL_LOG = _ProcessFullLog()

#: With ``overflow="wait"`` the ``*_nowait`` calls (which cannot wait) may overdraw the budget
#: up to this factor before anything is dropped; the awaitable points (``async with`` of a
#: handle) wait for the writer first. The queue's memory bound is therefore
#: ``HARD_CAP_FACTOR × max_queued_bytes`` (plus the :data:`KEPT_EVENTS` queued past it).
HARD_CAP_FACTOR: Final = 2
#: Events that end something: never dropped for want of room (only a failed or closed writer
#: loses them), so a reduced trace never shows a thread, turn or call still running because
#: its end was dropped. One per open handle at most, so the overdraw they cause is bounded.
CLOSING_EVENTS: Final[frozenset[type[Any]]] = frozenset(
    {
        ev.RolloutEnded,
        ev.ThreadEnded,
        ev.CodexTurnEnded,
        ev.ToolCallEnded,
        ev.InferenceCompleted,
        ev.InferenceFailed,
        ev.InferenceCancelled,
        ev.CodeCellEnded,
        ev.CompactionRequestCompleted,
        ev.CompactionRequestFailed,
        ev.ToolCallRuntimeEnded,
    }
)
#: Events that start something, kept like :data:`CLOSING_EVENTS` when the queue is out of
#: room (``overflow="drop"``, or past the hard cap): a dropped start lost all that came under
#: it (a turn's calls, a sub-agent's turns) without counting it, as nothing may refer to a
#: handle whose start is not in the bundle. With both kept, a full queue drops only point
#: events and payloads, each counted. At a schema-3 bundle's ceiling (``_full``) only the
#: closing events are written, as the ceiling is a bound on the bundle's size.
KEPT_EVENTS: Final[frozenset[type[Any]]] = CLOSING_EVENTS | {
    ev.ThreadStarted,
    ev.CodexTurnStarted,
    ev.ToolCallStarted,
    ev.InferenceStarted,
    ev.InferenceStartedV3,
    ev.CodeCellStarted,
    ev.CompactionRequestStarted,
    ev.ToolCallRuntimeStarted,
}
#: Bytes charged to the budget for one queued event (the tuple, the attrs object, its strings).
EVENT_COST: Final = 256
#: Bytes charged on top of a payload's JSON (the queue entry and the ref).
PAYLOAD_OVERHEAD: Final = 128
#: The largest payload queued past the budget when asked (``kept``), as a start or an end is:
#: a model call's usage without its answer (``InferenceCall.completed``), one per call end,
#: a few dozen bytes a user can always afford, so the tokens stay in every total (usage50).
KEPT_PAYLOAD_BYTES: Final = 512


class QueueRules:
    """The loss notes of :class:`~._queue.RecordQueue` (which owns every attribute)."""

    __slots__ = (
        "_closing",
        "_failed",
        "_full",
        "_lines_capped",
        "_max",
        "_plan",
        "_process_full",
        "_reasons",
        "_stats",
        "bundle_dir",
    )
    _stats: list[int]
    _reasons: list[str]
    _full: bool
    _plan: ShardPlan | None
    _lines_capped: bool
    _failed: Exception | None
    _closing: bool
    _process_full: bool
    _max: int
    bundle_dir: Path

    def _drop_event(self) -> None:
        self._stats[2] += 1
        self._note_overflow()

    def _drop_payload(self, nbytes: int) -> None:
        self._stats[3] += 1
        self._stats[4] += nbytes
        self._note_overflow()

    def _charge_line(self, payload: Any) -> None:
        """Charge the line of an event queued past ``event_nowait``'s check (``payload``) its
        estimate, as every queued line is (the writer corrects each chunk by it; see
        ``ShardPlan.charge``)."""
        if self._lines_capped:
            assert self._plan is not None
            if self._plan.charge(line_estimate(payload)):
                self._filled()

    def _filled(self) -> None:
        """The bundle has reached its ceiling (``CaptureLimits.ceiling_bytes``): from now on
        only the ends of what is running are written (and the closing records), so the
        bundle stays within it but for one line per open handle; the rest is counted."""
        if self._full:
            return
        self._full = True
        ceiling = self._plan.limits.ceiling_bytes if self._plan is not None else None
        self._reasons.append(
            f"the bundle reached {ceiling} bytes (its event lines may outgrow max_bundle_bytes "
            "that far): events after it were left out, the ends of what was running kept; "
            "what started after it counted with all it would have recorded, its payloads by "
            "number only (never serialised, so not in the bytes)"
        )
        log.warning(
            "rollout_trace_sdk: trace bundle %s reached %s bytes (max_bundle_bytes and the "
            "room its events may overdraw); only the ends of what is running are recorded "
            "from now on (the bundle will say how many events were left out)",
            self.bundle_dir,
            ceiling,
        )

    def _note_overflow(self) -> None:
        if self._full:
            return  # said once, when the bundle filled (see ``_filled``)
        if self._failed is None and not self._closing and not self._reasons:
            if self._process_full:
                self._reasons.append(
                    f"the {PROCESS.limit}-byte memory budget of the process's rollouts together "
                    "was full (set_process_budget)"
                )
                others = _PROCESS_FULL_LOG.due()
                if others is not None:
                    log.warning(
                        "rollout_trace_sdk: the process's rollouts hold their whole memory "
                        "budget (%s bytes, set_process_budget); dropping records for %s%s "
                        "(each bundle will say how many; this is said at most once a minute)",
                        PROCESS.limit,
                        self.bundle_dir,
                        f" and {others} other bundle{'s' if others != 1 else ''} since the "
                        "last time this was said"
                        if others
                        else "",
                    )
                return
            self._reasons.append(f"the writer's {self._max}-byte memory budget was full")
            log.warning(
                "rollout_trace_sdk: trace writer queue is full (%d bytes); dropping records "
                "for %s (the bundle will say how many)",
                self._max,
                self.bundle_dir,
            )

    def _unserialisable(self, kind: str, exc: Exception, *, event: bool = False) -> None:
        self._stats[2 if event else 3] += 1
        reason = f"{'an event' if event else 'a payload'} could not be serialised to JSON"
        if reason not in self._reasons:
            self._reasons.append(reason)
            what = "an event" if event else f"a {kind} payload"
            log.warning("rollout_trace_sdk: dropped %s that is not JSON: %s", what, exc)
