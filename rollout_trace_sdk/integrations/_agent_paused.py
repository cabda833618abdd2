"""The calls an Agents SDK run left waiting for an approval, for the run resumed from its
``RunState``.

The SDK traces a call waiting for approval as a ``function`` span ending with no result, as
it traces a tool that returned ``None`` (the SDK's frame ending the span tells them apart,
``_agent_waits``: one that ran ends then), and ends the run's spans as usual; the run resumed
from the state runs the call in a ``function`` span that comes before any model call of its
own, naming no ``call_id``. So a call whose span ended with no result keeps its tool call
open (:class:`~._agent_spans.WaitingCall`) until its run goes on to a model call (the tool
returned ``None``: it ends then, with ``"None"``), and past the run's end: a run resumed in
the same trace runs it, and the one tool call ends with what it answered, in the resumed
run's turn, as Codex records an exec waiting for approval (one call from the model's request
to the output). What no run resumed in the trace ran ends with the trace, and is kept
(:class:`PausedCalls`) for a run resumed in another bundle under that trace id: in a file
under the trace root (``_agent_kept.py``), for a run resumed in another process too, else
(no root, or the file could not be written) in memory.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from ._agent_kept import PausedFiles
from ._agent_spans import SpanScope, WaitingCall, approval, settle, span_call

#: paused runs whose waiting calls are kept for a run resumed from their state
PAUSED_KEPT: Final = 64


class _PausedRun:
    __slots__ = ("agent", "calls", "resumed", "trace_id")

    def __init__(self, trace_id: str, agent: str, calls: list[WaitingCall]) -> None:
        self.trace_id = trace_id
        self.agent = agent
        self.calls = calls
        self.resumed = False


class PausedCalls:
    """The tool calls each paused run left waiting, for the run resumed from its
    ``RunState`` in another bundle: that run's function spans come before any model call of
    theirs, so only the paused run saw the model's calls (their ``call_id`` and arguments).

    Several runs may pause under one trace id (``trace_id=`` a conversation's id, for each
    run): each is kept, and a resumed run takes the one paused under its id by its agent
    with a call of its tool, the oldest not resumed yet (in order), else the latest resumed
    (one state may be resumed more than once).

    Each is kept in a file under the trace root its bundle went to (``files``), where a
    processor of another process finds it too (the root it looks under is ``root()``); a
    run whose file could not be written (or whose trace recorded no bundle) is kept in
    memory, the latest ``PAUSED_KEPT`` of them: one never resumed is forgotten once that
    many later ones paused.

    Thread-safe: every method takes the one lock (the files' own I/O runs outside it).
    """

    def __init__(self, files: PausedFiles, root: Callable[[], Path | None]) -> None:
        self._lock = threading.Lock()
        self._runs: deque[_PausedRun] = deque()  # oldest first
        self._files = files
        self._root = root

    def paused(
        self, trace_id: str, agent: str, calls: list[WaitingCall], root: Path | None
    ) -> None:
        """A run of ``agent`` under ``trace_id`` ended with ``calls`` waiting (as
        :meth:`WaitingCall.kept` gives them: with an agent run as a tool's calls under it),
        its bundle under ``root`` (``None``: it recorded none)."""
        if root is not None and self._files.write(root, trace_id, agent, calls):
            return
        with self._lock:
            self._runs.append(_PausedRun(trace_id, agent, [call.kept() for call in calls]))
            while len(self._runs) > PAUSED_KEPT:
                self._runs.popleft()

    def resumed(
        self, trace_id: str, agent: str, runs: Callable[[list[dict[str, Any]]], bool]
    ) -> list[WaitingCall]:
        """A copy of the calls of the paused run a run of ``agent`` resumed under
        ``trace_id`` runs: one whose calls ``runs`` (the resumed function span's tool is
        among them); ``[]`` when none is kept. Those kept in memory are looked at first,
        then the files under the root."""
        with self._lock:
            fits = [
                run
                for run in self._runs
                if run.trace_id == trace_id
                and run.agent == agent
                and runs([waiting.call for waiting in run.calls])
            ]
            fresh = [run for run in fits if not run.resumed]
            chosen = fresh[0] if fresh else fits[-1] if fits else None
            if chosen is not None:
                chosen.resumed = True
                return [call.kept() for call in chosen.calls]
        return self._files.resumed(self._root(), trace_id, agent, runs)

    def answered(self, trace_id: str, call_ids: set[str]) -> None:
        """A run resumed under ``trace_id`` answered ``call_ids`` without running them (they
        were rejected): the paused runs holding one of them count as resumed, so that no
        later resumed run of that agent and tool takes their calls for its own."""
        with self._lock:
            for run in self._runs:
                if run.trace_id == trace_id and _holds(run.calls, call_ids):
                    run.resumed = True
        self._files.answered(self._root(), trace_id, call_ids)


class PausedRuns:
    """The runs of one trace that ended with calls waiting, by agent name, their tool calls
    still open (see the module's docstring). Used under the trace's recording lock."""

    __slots__ = ("_answered", "_runs")

    def __init__(self) -> None:
        self._runs: list[tuple[str, list[WaitingCall]]] = []
        #: runs whose calls a later request of the trace answered without running them
        #: (rejected): their tool calls end with the trace, and they are kept for no run
        self._answered: list[list[WaitingCall]] = []

    def waiting(self) -> bool:
        """Whether a run of this trace ended with calls waiting that no run took yet."""
        return bool(self._runs)

    def answered(self, call_ids: set[str]) -> None:
        """A request of the trace answered ``call_ids`` without running them (a run
        resumed in the trace rejected them: no function span ran them): the paused runs
        holding one of them are resumed by no later run, here or in another bundle."""
        for entry in [entry for entry in self._runs if _holds(entry[1], call_ids)]:
            self._runs.remove(entry)
            self._answered.append(entry[1])
            for waiting in entry[1]:
                if waiting.tool is not None and waiting.thread is not None:
                    approval(waiting.thread, waiting.tool, waiting.call, "rejected")

    def paused(self, ctx: SpanScope) -> None:
        """The agent ``ctx``'s run ended with calls waiting (``ctx.unanswered``): their
        tool calls stay open past its turn, for a run resumed in this trace."""
        self._runs.append((ctx.agent, list(ctx.unanswered)))
        outlive(ctx.unanswered)

    def resume(
        self, ctx: SpanScope, name: str, trace_id: str, kept: PausedCalls
    ) -> WaitingCall | None:
        """The call a paused run left waiting that the function span ``name`` runs, in the
        agent ``ctx`` before any model call of its own (a run resumed from a ``RunState``).
        The paused run is chosen at its first such span: the oldest of this trace by that
        agent with a call of that tool (its tool call open here, moved into ``ctx``'s turn),
        else one ``kept`` from another bundle; its later spans take that run's calls."""
        if ctx.resuming is None:
            fits = functools.partial(_runs_tool, name)
            chosen = next(
                (
                    index
                    for index, (agent, calls) in enumerate(self._runs)
                    if agent == ctx.agent and fits([waiting.call for waiting in calls])
                ),
                None,
            )
            if chosen is not None:
                ctx.resuming = self._runs.pop(chosen)[1]
            else:
                ctx.resuming = kept.resumed(trace_id, ctx.agent, fits)
        index = span_call([waiting.call for waiting in ctx.resuming], name)
        if index is None:
            return None
        waiting = ctx.resuming.pop(index)
        if waiting.tool is not None:
            waiting.tool.resume_in(ctx.turn)
        return waiting

    def ended(self) -> list[tuple[str, list[WaitingCall]]]:
        """The trace ends: the calls no run resumed in it ran are left running, waiting for
        an approval (:meth:`WaitingCall.left_waiting`; they ended ``"None"``, completed, as
        if the tool had run), those a resumed run rejected end as the SDK traced them.
        Returns each paused run's agent and calls (:meth:`WaitingCall.kept`), for a run
        resumed in a later bundle."""
        runs = [(agent, [waiting.kept() for waiting in calls]) for agent, calls in self._runs]
        for _, calls in self._runs:
            for waiting in calls:
                waiting.left_waiting()
        for calls in self._answered:
            settle(calls)
        self._runs.clear()
        self._answered.clear()
        return runs


def outlive(waiting: list[WaitingCall]) -> None:
    """The calls ``waiting`` stay open past their turn (for a resumed run to run them), and
    the list is emptied."""
    for call in waiting:
        if call.tool is not None:
            call.tool.outlive_turn()
    waiting.clear()


def answered_ids(request: Any) -> set[str]:
    """The call ids a model call's request (a response span's input items, a generation
    span's messages) answers: its ``function_call_output`` items' and tool messages'."""
    ids = set()
    for item in request if isinstance(request, list) else ():
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call_output":
            call_id = item.get("call_id")
        elif item.get("role") == "tool":
            call_id = item.get("tool_call_id")
        else:
            continue
        if isinstance(call_id, str):
            ids.add(call_id)
    return ids


def _holds(calls: list[WaitingCall], call_ids: set[str]) -> bool:
    return any(waiting.call.get("call_id") in call_ids for waiting in calls)


def _runs_tool(name: str, calls: list[dict[str, Any]]) -> bool:
    """Whether the function span ``name`` runs one of ``calls``."""
    return span_call(calls, name) is not None
