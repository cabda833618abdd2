"""The spans a run resumed from a ``RunState`` starts before its agent span, on SDKs that
trace them so (openai-agents before 0.24), held until that agent span starts.

openai-agents 0.24 and later trace a resumed run as ``task`` > ``agent`` > ``function``: the
calls the paused run left waiting run inside the agent's span, where the processor finds
which paused run they are (``PausedRuns.resume`` matches by trace id and agent name, so two
runs paused under one trace id each get their own calls). openai-agents 0.19.4 and 0.21.1
run those calls first, in ``function`` spans that are children of the ``task`` span, and
start the ``agent`` span after they end (the run's first model call follows, as on 0.24).
Recorded as they came, such a call had no agent: no paused run could be named for it, and
it was recorded ``call_<span id>`` with ``{}`` in a turn of the root thread, with a warning
that no paused run's calls were found.

So a ``function`` span whose parent is a ``task`` span no agent span has started under yet
is held, with every span under it (start and end, in order), until the first ``agent`` span
of that task starts: then they are handed back (:meth:`EarlySpans.released`) and recorded
as 0.24's order would have them, under that agent, before its first turn. A task that ends
with no agent span under it gets its held spans back at its end, recorded as they were
before (outside every agent). On 0.24 and later no ``function`` span starts directly under a
``task`` span: nothing is held.
"""

from __future__ import annotations

from typing import Any

__all__ = ["EarlySpans"]


class EarlySpans:
    """The ``task`` spans with no ``agent`` span under them yet, and the spans held under
    each (see the module's docstring). Used under the trace's recording lock."""

    __slots__ = ("_held", "_tasks")

    def __init__(self) -> None:
        #: task span id -> the spans held under it, as (started, span), in order
        self._tasks: dict[str, list[tuple[bool, Any]]] = {}
        #: a held span's id -> the task span id it is held under
        self._held: dict[str, str] = {}

    def task_started(self, span_id: str) -> None:
        """A ``task`` span started (recorded, not held): its agent span is yet to come."""
        self._tasks[span_id] = []

    def hold(self, span: Any, *, started: bool) -> bool:
        """Whether ``span`` starting (``started``) or ending is held: a ``function`` span
        starting under a task with no agent yet, or a span under a held one. A held span is
        kept, for :meth:`released` to hand back."""
        parent = getattr(span, "parent_id", None) or ""
        if started and span.span_data.type == "function" and parent in self._tasks:
            task: str | None = parent
        else:  # its own start was held; or (a model call's end) its parent's was
            task = self._held.get(span.span_id) or self._held.get(parent)
        if task is None:
            return False
        if started:
            self._held[span.span_id] = task
        self._tasks[task].append((started, span))
        return True

    def released(self, task_id: str | None) -> list[tuple[bool, Any]]:
        """The spans held under the task ``task_id``, in order, when its first agent span
        starts (or the task ends): from now on none is held under it."""
        if task_id is None:
            return []
        held = self._tasks.pop(task_id, None) or []
        if held:
            self._held = {span: task for span, task in self._held.items() if task != task_id}
        return held
