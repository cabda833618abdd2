"""The base of every live recorder handle: where it writes, and how it starts and ends.

Each handle (thread, turn, inference call, tool call, code cell, terminal session, MCP call,
compaction request) has the same life: a start event, some point events, one end that the
first ending call decides (a second one is ignored, so a loop may call ``completed`` and
still leave the ``async with`` block by an exception without contradicting itself), and an
end chosen for it when the rollout closes first. That life is written once here; a handle
keeps only what differs: its events and how each way out of its block ends it (``_exit``).

:class:`Emitter` is the single door to the bundle writer: every payload and event a handle
records passes through :meth:`Emitter._payload` and :meth:`Emitter._emit`. Anything that
must see all recorded data (redaction, a thread-safe inbox, an integration's hook) goes
there, not into the handles.

A handle gets what it needs from its parent as constructor arguments (the runtime and the
envelope ids); no handle reads another one's private attributes. What runs under a tool call
is given the call itself: :class:`UnderToolCall`, part of this base, copies the call's envelope.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, ClassVar, Concatenate, Final, ParamSpec, Self, TypeVar

from ..model import events as ev
from ._guard import call_failed, guard_methods
from .runtime import NullLifecycle, Outcome, Runtime, outcome_of, why_ended

#: How a block left without an ending call ends a handle that has no better rule: as if the
#: rollout closed under it with this status.
_SHUTDOWN_STATUS: Final[dict[Outcome, ev.RolloutStatus]] = {
    "completed": "completed",
    "failed": "failed",
    "cancelled": "aborted",
}

H = TypeVar("H", bound="Handle")
P = ParamSpec("P")


class Emitter:
    """Records payloads and events for one place of the rollout (a thread, a turn's work).

    ``thread_id`` and ``turn_id`` are the envelope's context: ``None`` for the events Codex
    writes without one (a thread's start and end)."""

    __slots__ = ("_rt", "_thread_id", "_turn_id")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every live handle class has its public methods guarded (see ``_guard``): no
        recording call raises into the agent. The disabled twins need no guard."""
        super().__init_subclass__(**kwargs)
        if not issubclass(cls, NullLifecycle):
            guard_methods(cls)

    def __init__(self, rt: Runtime, thread_id: str | None, turn_id: str | None) -> None:
        self._rt = rt
        self._thread_id = thread_id
        self._turn_id = turn_id

    def _emit(
        self, payload: ev.EventPayload, *, in_turn: str | None = None, wall_ms: int | None = None
    ) -> bool:
        """Enqueue one event in this handle's envelope (in turn ``in_turn`` of its thread
        instead, when given: a code cell's end written in the turn of the wait that
        collected it; at ``wall_ms`` instead of now, when given); ``False`` when the writer
        dropped it."""
        turn_id = self._turn_id if in_turn is None else in_turn
        if wall_ms is not None:
            return self._rt.event(
                payload, thread_id=self._thread_id, codex_turn_id=turn_id, wall_ms=wall_ms
            )
        return self._rt.event(payload, thread_id=self._thread_id, codex_turn_id=turn_id)

    def _emit_flat(self, cls: type[Any], flat: tuple[Any, ...]) -> bool:
        """:meth:`_emit` for an event of class ``cls`` given flat, through the writer's hot
        path (``Runtime.flat``, which the caller has checked): see ``_encode.FLAT_BUILDERS``."""
        sink = self._rt.flat
        assert sink is not None
        return sink.event_flat(cls, flat, self._thread_id, self._turn_id)

    def _payload(self, kind: ev.PayloadKind, value: Any) -> ev.RawPayloadRef | None:
        """Store one payload; ``None`` when it could not be stored (Codex then writes no ref)."""
        return self._rt.payload(kind, value)

    def _emit_citing(
        self,
        kind: ev.PayloadKind,
        value: Any,
        event: Callable[[ev.RawPayloadRef], ev.EventPayload],
    ) -> bool:
        """Store a payload and enqueue ``event(ref)``, the event that must cite it; whether
        both were recorded. Without its payload there is no such event (schema 2 has no
        reference to a payload not stored; schema 3 cites it as omitted): it is counted as
        lost, so the loss report says what the bundle misses."""
        ref = self._payload(kind, value)
        if ref is None:
            self._rt.sink.lost_event()
            return False
        return self._emit(event(ref))


class Handle(Emitter):
    """A handle with a lifecycle: started once, ended once, ended for you if you forget.

    Subclasses record their start with :meth:`_start` (or :meth:`_register` when another
    handle's events stand for their start), guard every ending method with :meth:`_finish`,
    and say in :meth:`_close_at_shutdown` and :meth:`_exit` how they end when the rollout
    closes under them or their ``async with`` block is left without an ending call."""

    enabled: ClassVar[bool] = True
    __slots__ = ("_done", "_live")

    def __init__(self, rt: Runtime, thread_id: str | None, turn_id: str | None) -> None:
        super().__init__(rt, thread_id, turn_id)
        self._done = False
        self._live = True

    # --- start and end ---------------------------------------------------------------------

    def _start(
        self,
        started: ev.EventPayload | None,
        owner: object | None = None,
        *,
        wall_ms: int | None = None,
    ) -> bool:
        """Record the start event and register the handle as open.

        A start that could not be recorded (``started`` is ``None`` because its payload was
        not stored, or the writer dropped the event) leaves the handle ended and not live:
        nothing may refer to it later, so its parent hands out the null twin instead.

        Args:
            started: the start event, or ``None`` when it cannot be recorded.
            owner: the handle whose end must end this one first (see :meth:`_opened`).
            wall_ms: when it started, if not now (see :meth:`_emit`).

        Returns:
            Whether the start was recorded.
        """
        if started is None:
            self._rt.sink.lost_event()  # the start, which could not even be made
            return self._opened(False, owner)
        return self._opened(self._emit(started, wall_ms=wall_ms), owner)

    def _start_flat(self, cls: type[Any], flat: tuple[Any, ...], owner: object | None) -> bool:
        """:meth:`_start` for a start event given flat (see :meth:`_emit_flat`)."""
        return self._opened(self._emit_flat(cls, flat), owner)

    def _opened(self, recorded: bool, owner: object | None) -> bool:
        """What follows a start offered to the writer (``recorded``: whether it kept it),
        for :meth:`_start` and for a start queued another way (``_tool_fast``); whether the
        handle is open.

        Recorded, the handle is open until ended (:meth:`_finish`): the rollout ends it
        when it closes first, and so does ``owner`` (a turn for the calls in it, a thread
        for its turns) when it ends first. Not recorded, it is ended and not live, and the
        end it will never have is counted, so that the loss report says what the bundle
        misses (what the null twin handed out instead is asked to record is not seen).

        Refused because the bundle reached its ceiling or its writer stopped (a disk
        failure), the handle stays open on a runtime that counts instead of writing
        (``Runtime.counted_only``): what it and all it starts would have recorded is
        counted, where a null twin would have hidden it."""
        rt = self._rt
        if recorded:
            rt._open[id(self)] = (self._close_at_shutdown, owner)
            return True
        if self._counting():
            self._rt._open[id(self)] = (self._close_at_shutdown, owner)
            return True
        rt.sink.lost_event()
        self._live = False
        self._done = True
        return False

    def _start_dropped(self) -> bool:
        """The start event this handle offered itself (a thread's, a turn's) was dropped:
        whether the handle must stop here, ended and not live (its parent hands out the null
        twin). Dropped because the bundle reached its ceiling or its writer stopped, it goes
        on instead on the runtime that counts (see :meth:`_opened`): ``False``, and
        ``self._rt`` is that one."""
        if self._counting():
            return False
        self._live = False
        self._done = True
        return True

    def _counting(self) -> bool:
        """Whether a start just dropped was dropped because the bundle reached its ceiling
        or its writer stopped (``refuses_work``); if so the handle goes on on the runtime
        that counts (``Runtime.counted_only``), for :meth:`_opened` and
        :meth:`_start_dropped` alike."""
        rt = self._rt
        if not rt.sink.refuses_work():
            return False
        self._rt = rt.counted_only()
        return True

    def _register(self, owner: object | None = None) -> None:
        """Open, its start stood for by other events (a thread's protocol events): as
        after a recorded start (see :meth:`_opened`)."""
        self._opened(True, owner)

    def _finish(self, *, idempotent: bool = False) -> bool:
        """The first ending call wins: ``True`` for it (the handle is now closed), ``False``
        for every later one, which must record nothing.

        A later ending call on a live handle carries what the trace will not hold (a
        response that came after its turn was interrupted, a second result, an exit code),
        so it is counted (``late end``) and warned about, unless the ending is
        ``idempotent`` (a turn's or thread's ``end``, documented as such)."""
        if self._done:
            if self._live and not idempotent:
                self._rt.sink.values.note("late end")
            return False
        self._done = True
        self._rt._open.pop(id(self), None)  # open no more (see _opened)
        return True

    @property
    def ended(self) -> bool:
        """Whether the handle's end has been recorded (or it can record nothing)."""
        return self._done

    def _over(self) -> bool:
        """Whether this live handle has ended, so that work started on it now is not
        recorded (and is counted): the bundle must never show a thread, turn, tool call or
        code cell at work after its end. Endings are not work: what outlives its owner (a
        process after its tool call) still ends, as Codex writes it."""
        if self._done and self._live:
            self._rt.sink.values.note("after end")
            return True
        return False

    def _child(
        self,
        null: H,
        make: Callable[Concatenate[Runtime, P], H],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> H:
        """A handle made under this one (``make(runtime, *args, **kwargs)``), or its null
        twin ``null`` when this one is not live or the child's start was dropped (see
        :func:`started`). The tool calls of a turn or a cell, made per call, do not come
        through here: they skip the packing of their arguments."""
        if not self._live:
            return null
        return started(make(self._rt, *args, **kwargs), null)

    def _close_at_shutdown(self, status: ev.RolloutStatus) -> None:
        """End the handle because the rollout (or its owner) ends first with ``status``."""
        raise NotImplementedError

    def _exit(self, outcome: Outcome, error: str | None) -> None:
        """End the handle because its block was left without an ending call: normally,
        by an exception (``error`` is its text) or by cancellation (``error`` is what caused
        it, ``runtime.why_ended``; None: the event loop does not say). By default, as when
        the rollout closes under it."""
        self._close_at_shutdown(_SHUTDOWN_STATUS[outcome])

    # --- async with ------------------------------------------------------------------------

    # ``async with`` is guarded here, inline, not by a wrapper: a wrapper coroutine awaited
    # on every enter and exit cost ~3 µs a tool call (measured), the guard's whole budget
    async def __aenter__(self) -> Self:
        # the single place a producer waits for the writer (``overflow="wait"``)
        try:
            need = self._rt.room_needed()
            if need:
                await self._rt.room(need)
        except Exception as exc:
            call_failed(self, "__aenter__", exc)
        return self

    # the async-with protocol's signature, as RolloutScope's; the bodies share nothing
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._done:
            try:
                outcome = outcome_of(exc)
                self._exit(outcome, None if exc is None else why_ended(outcome, exc))
            except Exception as failure:
                call_failed(self, "__aexit__", failure)


class ModelRequest(Handle):
    """A request to the model (an inference call, a compaction request): it ends answered,
    failed with an error, or unanswered with a reason (:meth:`_unanswered`)."""

    __slots__ = ()

    def failed(self, error: str) -> None:
        """The request failed with ``error``."""
        raise NotImplementedError

    def _unanswered(self, reason: str) -> None:
        """End the request with no response, for ``reason``."""
        raise NotImplementedError

    def _exit(self, outcome: Outcome, error: str | None) -> None:
        if error is not None and outcome == "failed":
            self.failed(error)
        else:
            reason = "cancelled" if outcome == "cancelled" else "closed without a recorded response"
            self._unanswered(f"{reason}: {error}" if error is not None else reason)


def started(handle: H, null: H) -> H:
    """A handle just made, when its start was recorded, else its null twin ``null`` (a
    handle is ended at birth only when its start was dropped)."""
    return null if handle.ended else handle


class ToolWork(Handle):
    """A tool call, or what runs under one (a terminal session, an MCP call): each records
    runtime events under the call's id, in the tool call's envelope."""

    __slots__ = ("tool_call_id",)
    _thread_id: str
    _turn_id: str

    def __init__(self, rt: Runtime, thread_id: str, turn_id: str, tool_call_id: str) -> None:
        # Handle's and Emitter's fields set here, in one call: a tool call is made per call
        # of the agent's tools, and each layer of __init__ cost ~0.1 us of it
        self._rt = rt
        self._thread_id = thread_id
        self._turn_id = turn_id
        self._done = False
        self._live = True
        self.tool_call_id = tool_call_id

    def _runtime_started(self, payload: Any, kind: ev.ToolCallKind) -> bool:
        """A ``tool_runtime_event`` payload + ``tool_call_runtime_started``; whether both
        were recorded."""
        call = self.tool_call_id
        return self._emit_citing(
            "tool_runtime_event", payload, lambda ref: ev.ToolCallRuntimeStarted(call, kind, ref)
        )

    def _runtime_ended(self, payload: Any, status: ev.ExecutionStatus) -> None:
        """A ``tool_runtime_event`` payload + ``tool_call_runtime_ended``."""
        call = self.tool_call_id
        self._emit_citing(
            "tool_runtime_event", payload, lambda ref: ev.ToolCallRuntimeEnded(call, status, ref)
        )


class UnderToolCall(ToolWork):
    """What runs under a tool call (a terminal session, an MCP call): made from the call
    itself, it records in the call's envelope and under its id."""

    __slots__ = ()

    def __init__(self, call: ToolWork) -> None:
        super().__init__(call._rt, call._thread_id, call._turn_id, call.tool_call_id)
