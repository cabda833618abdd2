"""Which recording an Agents SDK trace id's spans go to, and where ended traces' bundles went.

The SDK calls its processors from any thread and names spans' traces by id only, and it lets
the caller choose the id (``trace(..., trace_id=...)``: one id for a conversation's runs, two
of them at once when two requests of that conversation overlap). A map from id to recording
alone lost a trace: the second trace's start replaced the first's recording, which was never
closed (its bundle listed as still recording after ``shutdown``; found by review34). Here each
trace is closed at its own end, found by the trace object; while several traces share an id,
its spans go to the latest opened of them still open.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Final, Generic, Protocol, TypeVar

#: ended traces remembered for ``finished_bundles`` (a processor lives as long as its process)
FINISHED_KEPT: Final = 1000


class _Recording(Protocol):
    @property
    def trace(self) -> Any: ...


R = TypeVar("R", bound=_Recording)


class OpenTraces(Generic[R]):
    """The recordings of the traces open now, by trace id, and the bundles of ended ones.

    Thread-safe: every method takes the one lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, R] = {}
        #: recordings whose id a later trace took while they were open, oldest first
        self._shadowed: dict[str, list[R]] = {}
        self._finished: dict[str, Path] = {}  # trace id -> bundle, oldest first

    def opened(self, trace_id: str, recording: R) -> None:
        """A trace started: its id's spans go to ``recording`` until it ends."""
        with self._lock:
            earlier = self._latest.get(trace_id)
            if earlier is not None:
                self._shadowed.setdefault(trace_id, []).append(earlier)
            self._latest[trace_id] = recording

    def current(self, trace_id: str) -> R | None:
        """The recording the id's spans go to (``None``: no trace of that id is open)."""
        return self._latest.get(trace_id)

    def ended(self, trace_id: str, trace: object) -> R | None:
        """Take ``trace``'s recording out (the object's, not the id's latest): the caller
        closes it. ``None`` when the trace was never recorded."""
        with self._lock:
            recording = self._latest.get(trace_id)
            stack = self._shadowed.get(trace_id, [])
            if recording is not None and recording.trace is trace:
                del self._latest[trace_id]
                if stack:  # the id's spans go to the latest trace still open again
                    self._latest[trace_id] = stack.pop()
            else:
                recording = next((r for r in stack if r.trace is trace), None)
                if recording is not None:
                    stack.remove(recording)
            if not stack:
                self._shadowed.pop(trace_id, None)
            return recording

    def all(self) -> list[R]:
        """Every recording open now, those whose id a later trace took too."""
        with self._lock:
            shadowed = [r for stack in self._shadowed.values() for r in stack]
            return shadowed + list(self._latest.values())

    def drain(self) -> list[tuple[str, R]]:
        """Take every open recording out, with its trace id (the processor shuts down)."""
        with self._lock:
            taken = [(i, r) for i, stack in self._shadowed.items() for r in stack]
            taken += self._latest.items()
            self._latest.clear()
            self._shadowed.clear()
            return taken

    def finished(self, trace_id: str, bundle: Path) -> None:
        """Remember where an ended trace's bundle went (the newest end; the latest
        ``FINISHED_KEPT`` kept)."""
        with self._lock:
            self._finished.pop(trace_id, None)
            self._finished[trace_id] = bundle
            while len(self._finished) > FINISHED_KEPT:
                del self._finished[next(iter(self._finished))]

    def finished_bundles(self) -> dict[str, Path]:
        """A copy of the ended traces' bundles by trace id, oldest first."""
        with self._lock:
            return dict(self._finished)


def resumed_trace(span: Any) -> Any:
    """The trace a span with no open trace runs in when the SDK resumed it: a run resumed from
    a ``RunState`` reattaches its paused run's trace (same id) without telling processors.
    ``None`` for a span with a parent (only the run's outermost span opens its bundle) or
    when no current trace of the span's id is there to say so."""
    if getattr(span, "parent_id", None) is not None:
        return None
    from agents.tracing import get_current_trace

    trace = get_current_trace()
    if trace is None or getattr(trace, "trace_id", None) != getattr(span, "trace_id", None):
        return None
    return trace
