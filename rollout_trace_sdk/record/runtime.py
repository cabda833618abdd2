"""What every live handle of one rollout shares: the writer, the open-handle registry and a few
counters.

Handles reach the writer's ``*_nowait`` methods (bound once, in ``__init__``) through their
base, ``_handle.Emitter``, so a point event costs one attrs construction and one enqueue. Nothing here awaits except
:meth:`Runtime.room`, which is the single place a producer slows down when the writer's
budget is exhausted and the rollout was opened with ``overflow="wait"``.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, Protocol, Self

import anyio
import anyio.lowlevel

from ..model import events as ev
from ._call_ids import RolloutCallNames
from ._cancel_cause import cancel_cause
from ._cell_ids import CellNames
from ._conversations import Conversations
from ._counted_items import CountedItems
from ._fields import as_status
from ._guard import TWINS
from ._item_refs import KnownItems
from ._item_store import ItemStore
from ._renaming import Names, unique_name
from ._request_memo import RequestMemo
from ._text import group_leaves, text_of
from ._values import ValueEncoder
from ._warnings import RecorderWarning, recorder_warning

if TYPE_CHECKING:
    from ._tool_fast import FastTools

__all__ = ["RecorderWarning"]  # re-exported: warnings are issued from here too

Outcome = Literal["completed", "failed", "cancelled"]
#: How a block's outcome ends a thread or the rollout, whose statuses say ``aborted``
#: where a call's say ``cancelled``.
ENDED_AS: Final[dict[Outcome, ev.RolloutStatus]] = {
    "completed": "completed",
    "failed": "failed",
    "cancelled": "aborted",
}


def warn(message: str, *, kind: str | tuple[str, ...]) -> None:
    """A :class:`RecorderWarning` of ``kind`` (or of several kinds): the first of each kind
    shown per process (see ``record/_warnings.py``)."""
    recorder_warning(message, kind=kind)


class BundleSink(Protocol):
    """The part of the bundle writer the handles use."""

    values: ValueEncoder

    def payload_nowait(self, kind: ev.PayloadKind, value: Any) -> ev.RawPayloadRef | None: ...

    def payload_kept(self, kind: ev.PayloadKind, value: Any) -> ev.RawPayloadRef | None: ...

    def event_nowait(
        self,
        payload: ev.EventPayload,
        *,
        thread_id: str | None = None,
        codex_turn_id: str | None = None,
        wall_ms: int | None = None,
    ) -> bool: ...

    def lost_event(self) -> None: ...

    def lost_payload(self) -> None: ...

    def refuses_work(self) -> bool: ...

    async def flush(self) -> None: ...

    def sync_point(self) -> None: ...


class FlatSink(BundleSink, Protocol):
    """The writer's hot path, for a rollout it allows (schema 3 without limits): references
    and events kept flat until written (see ``RecordQueue.event_flat``)."""

    def payload_frozen(self, kind: ev.PayloadKind, value: Any) -> tuple[Any, ...] | None: ...

    def event_flat(
        self,
        cls: type[Any],
        flat: tuple[Any, ...],
        thread_id: str | None,
        codex_turn_id: str | None,
    ) -> bool: ...

    def events_flat(
        self,
        cls: type[Any],
        flat: tuple[Any, ...],
        then: type[Any],
        then_flat: tuple[Any, ...],
        thread_id: str | None,
        codex_turn_id: str | None,
    ) -> None: ...


class NullLifecycle:
    """What every disabled twin shares: it is not enabled, counts as ended (threads and turns
    say otherwise, so agent code keeps using them), and entering, leaving and shutdown do
    nothing.

    Listed first among a twin's bases so these win over the live handle's methods."""

    enabled: ClassVar[bool] = False
    __slots__ = ()

    def __init__(self, **blank: object) -> None:
        """Make the twin's one instance.

        No twin writes out an ``__init__`` of its own, and none calls the live one: there is
        nothing to record into.

        Args:
            **blank: the live class's attributes, blank (those the twin may be asked for).
        """
        for name, value in blank.items():
            setattr(self, name, value)
        # the live class's guard answers a failed call as this twin would (see ``_guard``)
        live = type(self).__bases__[type(self).__bases__.index(NullLifecycle) + 1]
        TWINS[live] = self

    @property
    def ended(self) -> bool:
        return True

    def _close_at_shutdown(self, status: ev.RolloutStatus) -> None:
        return None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None


# A twin's methods are made by these two rather than written out: a twin that repeated each
# live method's signature only to return a constant would be a second copy of every signature
# to keep in step. A twin still writes out the few methods whose answer depends on their
# arguments (an item handed back with its id, say).


def ignore(self: object, *args: object, **kwargs: object) -> None:
    """A null twin's method that takes whatever the live method takes and records nothing."""
    return None


def listed(items: Any) -> list[Any]:
    """A null twin's answer of the items it was given, as a list; empty when they cannot be
    read (a twin is what the guard answers with: nothing guards it)."""
    try:
        return list(items)
    except Exception:
        return []


def returning(make: Callable[[], Any]) -> Callable[..., Any]:
    """A null twin's method that takes any arguments, records nothing and returns ``make()``.

    Args:
        make: gives the answer, on each call: usually another twin, looked up late because
            the twins refer to each other across modules.

    Returns:
        The method, to assign in the twin's class body.
    """

    def method(self: object, *args: object, **kwargs: object) -> Any:
        return make()

    return method


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def uuid7() -> str:
    """A time-ordered UUID (version 7), like the thread and turn ids Codex draws."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & (2**48 - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & (2**62 - 1)
    return str(uuid.UUID(int=value))


def uuid4() -> str:
    return str(uuid.uuid4())


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except Exception:  # (ValueError, TypeError; a str subclass's own methods that raise)
        return False
    return True


def names_a_thread(value: object) -> bool:
    """Whether the agent gave a thread id (``None`` and the empty string give none), asked
    without running its code."""
    if value is None:
        return False
    return not (issubclass(type(value), str) and not str.__len__(value))  # type: ignore[arg-type]


def thread_id_text(value: object) -> str | None:
    """A thread id the agent gave, as the string recorded: a ``uuid.UUID`` as its text (it
    was refused as "not a UUID" and another id drawn), a ``str`` subclass as its string;
    ``None`` for what names no UUID."""
    try:
        if isinstance(value, uuid.UUID):
            return str(uuid.UUID(int=value.int))  # (a subclass's own str may say anything)
        if isinstance(value, str) and is_uuid(str.__str__(value)):
            return str.__str__(value)
    except Exception:  # a UUID whose number is no UUID's, an object whose __class__ raises
        pass
    return None


def outcome_of(exc: BaseException | None) -> Outcome:
    """How a handle's ``async with`` block ended: normally, by cancellation, or by an error."""
    if exc is None:
        return "completed"
    if _is_cancellation(exc):
        return "cancelled"
    return "failed"


def _is_cancellation(exc: BaseException) -> bool:
    if isinstance(exc, KeyboardInterrupt):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_cancellation(e) for e in exc.exceptions)
    try:
        return isinstance(exc, anyio.get_cancelled_exc_class())
    except Exception:  # no async library running: not a cancellation we can know about
        return False


def error_text(exc: BaseException) -> str:
    """``Type: message``; a group's followed by its leaves' (not their cancellations), as a
    task group's own text names nothing that failed (a sub-agent that raised)."""
    text = text_of(exc)
    head = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if isinstance(exc, BaseExceptionGroup):
        leaves = [leaf for leaf in group_leaves(exc) if not _is_cancellation(leaf)]
        shown = [error_text(leaf) for leaf in leaves[:3]]
        if len(leaves) > 3:
            shown.append(f"{len(leaves) - 3} more")
        return ": ".join((head, "; ".join(shown))) if shown else head
    return head


def why_ended(outcome: Outcome, exc: BaseException) -> str | None:
    """What a block left by ``exc`` says of how it ended: the error's text (``Type:
    message``), or for a cancellation what caused it as the event loop says it (a deadline, a
    sibling task's failure, ``cancel(reason)``, Ctrl-C: ``_cancel_cause``), None when it says
    nothing."""
    return cancel_cause(exc) if outcome == "cancelled" else error_text(exc)


def error_of(error: str | BaseException) -> str:
    """An ending call's ``error``: an exception given as it is (``except Exception as exc:
    tool.failed(exc)``, what a loop writes) is its ``Type: message``, as a block it leaves
    records it; it was its bare text in an event and an unserialisable object in a payload."""
    return error_text(error) if isinstance(error, BaseException) else error


def _no_room_needed() -> int:
    return 0


def _snapshot(opened: dict[int, Any]) -> list[tuple[int, Any]]:
    """The open handles now. Handles used from worker threads open and close while the loop
    thread ends their turn: copying the dict can still meet a change (the copy allocates, and
    a collection it starts may let another thread run), so it is tried again; a change is
    one handle's start or end, so a few tries get a copy. Iterating the live dict raised."""
    while True:
        try:
            return list(opened.items())
        except RuntimeError:  # "dictionary changed size during iteration"
            continue


def _close(close: Callable[[ev.RolloutStatus], None], status: ev.RolloutStatus) -> None:
    try:
        close(status)
    except Exception as exc:  # a bug here must not keep the bundle from closing
        owner = getattr(close, "__self__", close)
        warn(
            f"rollout trace: closing {type(owner).__name__} failed: {exc!r}",
            kind="closing a handle failed",
        )


class Runtime:
    """Shared state of one enabled rollout."""

    __slots__ = (
        "_compactions",
        "_counted",
        "_ids_used",
        "_memos",
        "_open",
        "_waits",
        "approval_policy",
        "call_names",
        "cell_names",
        "compact",
        "conversations",
        "cwd",
        "event",
        "fast_tools",
        "flat",
        "for_parsed_item",
        "items",
        "known_items",
        "model",
        "payload",
        "payload_kept",
        "provider_name",
        "rollout_id",
        "room_needed",
        "sandbox_policy",
        "sink",
        "thread_ids",
        "trace_id",
    )

    def __init__(
        self,
        sink: BundleSink,
        *,
        trace_id: str,
        rollout_id: str,
        model: str,
        provider_name: str,
        cwd: str,
        approval_policy: str,
        sandbox_policy: str,
        wait_for_room: Callable[[], int] | None = None,
    ) -> None:
        self.sink = sink
        self.event = sink.event_nowait
        self.payload = sink.payload_nowait
        #: a small payload kept past the budget, as the starts and ends (a dropped answer's usage)
        self.payload_kept = sink.payload_kept
        #: schema 3: the writer's item store (each conversation item written once); None in 2
        self.items: ItemStore | None = getattr(sink, "items", None)
        #: the writer's hot path when it allows it (schema 3 without limits), else None
        self.flat: FlatSink | None = sink if getattr(sink, "flat", False) else None  # type: ignore[assignment]
        #: the common tool call in few steps, with the hot path (``_tool_fast``; the
        #: recorder sets it: it makes tool calls, which come after this module)
        self.fast_tools: FastTools | None = None
        #: one-line JSON of an agent value that never raises (see ``_values``)
        self.compact = sink.values.compact
        #: an item Codex parses strictly (agent messages), made parseable (see ``_values``)
        self.for_parsed_item = sink.values.for_parsed_item
        self.trace_id = trace_id
        self.rollout_id = rollout_id
        self.model = model
        self.provider_name = provider_name
        self.cwd = cwd
        self.approval_policy = approval_policy
        self.sandbox_policy = sandbox_policy
        #: what the next ``async with`` must do for the writer (``room``'s ``need``): a
        #: handle awaits :meth:`room` only when it is not 0 (no coroutine per enter)
        self.room_needed: Callable[[], int] = wait_for_room or _no_room_needed
        #: id(handle) -> (how to end it, its owner), in the order they opened: written by
        #: ``Handle._opened`` and ``Handle._finish`` alone (no call between, on every call)
        self._open: dict[int, tuple[Callable[[ev.RolloutStatus], None], object | None]] = {}
        self._compactions = 0
        #: thread id -> its last request, so the next costs only its new items
        self._memos: dict[str, RequestMemo] = {}
        #: open ``wait`` calls by (thread id, runtime cell id) -> how each records that its
        #: cell resolved (schema 3: ``code_cell_wait_target_resolved``), returning its turn
        self._waits: dict[tuple[str, str], list[Callable[[str], str | None]]] = {}
        #: (kind, id) of the turn and tool call ids used so far: Codex's reducer refuses a
        #: second start of either anywhere in the rollout
        self._ids_used: dict[str, Names] = {}
        #: the ids of the threads started in this bundle (Codex refuses a bundle that starts
        #: one twice)
        self.thread_ids: set[str] = set()
        #: the items recorded with the server's ids, which an item reference names
        self.known_items = KnownItems()
        #: the conversations the server keeps that requests continued (see ``_conversations``)
        self.conversations = Conversations(self.known_items)
        #: the model-visible call ids recorded, over all threads (see ``_call_ids``)
        self.call_names = RolloutCallNames()
        #: the runtime cell ids of each thread, as given and as recorded (see ``_cell_ids``)
        self.cell_names = CellNames()
        #: this runtime for work the bundle will not hold (see :meth:`counted_only`)
        self._counted: Runtime | None = None

    @property
    def counts_only(self) -> bool:
        """Whether this is the runtime that counts instead of writing (:meth:`counted_only`):
        nothing recorded through it reaches the bundle, so no reference it makes can break
        the bundle either."""
        return self._counted is self

    def counted_only(self) -> Runtime:
        """This rollout's runtime for work whose start the bundle will not hold, because the
        bundle reached its ceiling (schema 3 with ``max_bundle_bytes``) or its writer had
        stopped (a disk failure: review45, live43) when it started: its events and payloads, and
        those of all it starts, are counted as dropped instead of offered to the writer. A
        refused start handed back the null twin before, so that a sub-agent started past
        the ceiling lost its turns, calls and their events uncounted (the loss report said
        55 events where 2,400 were missing: user39). The ids, open handles and names stay
        this runtime's, so the work still ends in order and is counted when the rollout
        closes. Its hot paths (``flat``, ``fast_tools``) are None: they offer to the
        writer, and a writer stopped by a disk failure may have them (a ceiling needs
        limits, and those paths are for bundles without any: ``RecordQueue.flat``)."""
        counted = self._counted
        if counted is None:
            counted = Runtime.__new__(Runtime)
            for name in Runtime.__slots__:
                setattr(counted, name, getattr(self, name))
            sink = self.sink

            def _event(
                payload: ev.EventPayload,
                *,
                thread_id: str | None = None,
                codex_turn_id: str | None = None,
                wall_ms: int | None = None,
            ) -> bool:
                sink.lost_event()
                return False

            def _payload(kind: ev.PayloadKind, value: Any) -> ev.RawPayloadRef | None:
                sink.lost_payload()
                return None

            counted.event = _event
            counted.payload = _payload
            counted.payload_kept = _payload
            counted.flat = None
            counted.fast_tools = None
            # its items neither stored nor remembered, only counted (see ``_counted_items``)
            counted.items = None if self.items is None else CountedItems(sink.lost_payload)
            counted._counted = counted
            self._counted = counted
        return counted

    # --- open handles ----------------------------------------------------------------------

    def close_owned_by(self, owner: object, status: ev.RolloutStatus) -> None:
        """End what ``owner`` left running, newest first: a turn's calls (inference, tools,
        compaction requests, MCP), so nothing of the turn is recorded after its end; a
        thread's turns (each ends its own calls first) and code cells; a code cell's calls.
        A code cell outlives its turn (and its calls with it: Codex records them in the
        cell's turn after its end). Terminal sessions may outlive a turn, and child threads
        their parent: they have no owner."""
        entries = _snapshot(self._open)
        owned = [key for key, (_, of) in reversed(entries) if of is owner]
        for key in owned:
            entry = self._open.pop(key, None)
            if entry is not None:
                _close(entry[0], status)

    def close_all(self, status: ev.RolloutStatus) -> None:
        """End everything still open, newest first (so inner handles end before outer ones:
        an inference before its turn, a child thread before the root).

        A rollout left normally (``status`` completed) with a turn still open means a turn
        the agent never ended (made without ``async with``, no ``turn.end()``): it is ended
        cancelled, as the format has no other end for it, and counted and warned about
        (``left open``) so the author learns why the bundle shows it interrupted."""
        if status == "completed":
            for _, (close, _owner) in _snapshot(self._open):  # (a copy already)
                if getattr(getattr(close, "__self__", None), "_LEFT_OPEN_COUNTED", False):
                    self.sink.values.note("left open")
        while self._open:
            try:
                _, (close, _owner) = self._open.popitem()  # the newest
            except KeyError:  # another thread closed the last one first
                break
            _close(close, status)

    # --- waits on code cells --------------------------------------------------------------------

    def wait_opened(
        self, thread_id: str, cell_id: str, resolved: Callable[[str], str | None]
    ) -> None:
        """A ``wait`` call on cell ``cell_id`` is running; ``resolved`` records that it got
        the cell's result."""
        self._waits.setdefault((thread_id, cell_id), []).append(resolved)

    def wait_closed(
        self, thread_id: str, cell_id: str, resolved: Callable[[str], str | None]
    ) -> None:
        waiting = self._waits.get((thread_id, cell_id))
        if waiting is not None and resolved in waiting:
            waiting.remove(resolved)
            if not waiting:
                del self._waits[(thread_id, cell_id)]

    def cell_ended(self, thread_id: str, cell_id: str) -> str | None:
        """Cell ``cell_id`` ended: every ``wait`` call running on it resolves to it (Codex
        0.171 records this just before ``code_cell_ended``). Returns the turn of the first
        of them, None if none runs: the wait collects the cell, and Codex (0.169 too)
        writes the cell's end in the wait's turn, a later one than the cell's if it yielded."""
        turns = [resolved(cell_id) for resolved in self._waits.pop((thread_id, cell_id), ())]
        # a wait the bundle does not hold (``counted_only``) gives no turn: none of its is there
        return next((turn for turn in turns if turn is not None), None)

    # --- ids and payload helpers -----------------------------------------------------------

    def request_memo(self, thread_id: str) -> RequestMemo:
        """The thread's request memo (see ``_request_memo``)."""
        memo = self._memos.get(thread_id)
        if memo is None:
            memo = self._memos[thread_id] = RequestMemo(self.known_items)
        return memo

    def text(self, value: Any) -> str:
        """A text argument as text: a string subclass's string (an enum member's value, not
        its name); another value's text, counted (``mistyped``): the call still records."""
        if value.__class__ is str:  # the common case, without the subclass check
            return value
        if isinstance(value, str):
            return str.__str__(value)
        self.sink.values.note("mistyped")
        return text_of(value)

    def unused_id(self, kind: str, wanted: Any, *, counted: bool = True) -> tuple[str, bool]:
        """``wanted`` as the id of a new ``kind`` ("turn", "tool call") when no other has
        had it in this rollout, else ``wanted#2`` (``#3``, ...), counted: a bundle that
        starts one twice is refused whole by both reducers (an agent numbering its own turns
        per thread, a server numbering tool calls from zero in each response). Returns the
        id (text, whatever ``wanted`` was) and whether it was renamed. ``counted=False``:
        an id the recorder makes itself, whose renaming changes nothing the caller gave."""
        candidate, renamed = unique_name(self._ids_used, kind, self.text(wanted))
        if renamed and counted:
            self.sink.values.note("renamed")
        return candidate, renamed

    def known_status(self, value: Any, allowed: tuple[str, ...]) -> Any:
        """``value`` when it is one of ``allowed``, else the nearest of them (see
        ``_fields.as_status``), counted: for calls that decide by the status, before the
        encoder would correct it."""
        if value.__class__ is str and value in allowed:
            return value
        status = as_status(value, allowed)
        if status.__class__ is str:  # an enum member naming a status: that status
            return status
        self.sink.values.note("mistyped")
        return status.value

    def next_compaction_request_id(self) -> str:
        self._compactions += 1
        return f"compaction_request:{self._compactions}"

    def protocol_event(self, event_type: str, body: dict[str, Any]) -> None:
        """A ``protocol_event`` payload + ``protocol_event_observed`` (no envelope context);
        nothing when the payload could not be stored, as Codex does (the event is counted
        as lost)."""
        ref = self.payload("protocol_event", body)
        if ref is None:
            self.sink.lost_event()
        else:
            self.event(ev.ProtocolEventObserved(event_type, ref))

    async def room(self, need: int | None = None) -> None:
        """Give the writer task its turn when it has work waiting, and let it catch up when
        it is over budget (``overflow="wait"`` only); see ``recorder._room_probe``. ``need``:
        what :attr:`room_needed` just answered, when the caller asked it."""
        if need is None:
            need = self.room_needed()
        if need == 1:
            # one trip through the scheduler, never a cancellation point: the handle is
            # already started, and an ``async with`` whose enter raised would never end it
            await anyio.lowlevel.cancel_shielded_checkpoint()
        elif need:
            try:
                await self.sink.flush()
            except anyio.get_cancelled_exc_class():
                raise
            except Exception as exc:
                warn(f"rollout trace: flush failed: {exc!r}", kind="flush failed")
