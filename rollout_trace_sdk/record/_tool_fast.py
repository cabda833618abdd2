"""The common tool call in few Python steps (issue 8's hot path).

Most tool calls an agent records are alike: the model asked for them (a call id), their name
is text other than ``wait``, their arguments are JSON text or a dict, and their output is a
dict of a call-output type (``function_call_output``) that enters the history. Through the
general path (``ToolCall.__init__``, ``ToolCall._answered``) such a call passes through ~25
small functions, each deciding a case this one does not have; what is left is Python's call
overhead. :class:`FastTools` does the same for that case in a few steps, and hands anything
else back to the general path before it has recorded anything (``None``).

Only in schema 3 without limits (``Runtime.flat``), on the event loop's thread (a call from
another OS thread takes the general path, which goes through the thread inbox; the memo
below is touched by the loop's thread alone). The bundle is the same byte for byte as the general path
makes it (``tests/record/test_flat_events.py`` records the same calls both ways): the same
payloads, events and counts, in the same order; the format's facts stay where they are
(``tool_kinds`` for the invocation, the writer's snapshot, ``ItemIds`` and ``CallIds`` for the
ids, ``ItemStore.tool_output`` for the output, ``_tool_events`` for the events).

One thing is kept between calls: the invocation's snapshot, for arguments that provably give
the same bytes as the last call's (the same ``str`` object, or a dict whose JSON is the same
bytes) under the same tool name; its text is then not made again. It is kept only when making
it counted nothing in the loss report (a lone surrogate repaired is counted on every call).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Final

from ..model import events as ev
from . import tool_kinds
from ._call_ids import CALL_OUTPUT_TYPES
from ._tool_events import _ACCEPTED, _ENDED, _STARTED
from .tools import ToolCall, _NullToolCall

if TYPE_CHECKING:
    from ._queue import RecordQueue
    from .runtime import Runtime
    from .turns import Turn

_TOOL_CALL: Final = "tool call"  # Runtime.unused_id's kind for tool call ids
_get_ident = threading.get_ident
_new_call = ToolCall.__new__


class FastTools:
    """The common tool call's start and output for one rollout (see the module docstring)."""

    __slots__ = ("_memo", "_queue", "_rt")

    def __init__(self, rt: Runtime, queue: RecordQueue) -> None:
        self._rt = rt
        self._queue = queue
        #: the last invocation made: (tool name, arguments as given or their JSON bytes,
        #: snapshot bytes, preview source)
        self._memo: tuple[str, Any, bytes, str] | None = None

    def start(self, turn: Turn, call_id: Any, name: Any, arguments: Any) -> ToolCall | None:
        """``turn.tool_call(call_id, name, arguments=arguments)``, or ``None`` (nothing
        recorded) when the call is not the common case."""
        queue = self._queue
        kind = arguments.__class__
        if (
            name.__class__ is not str
            or call_id.__class__ is not str
            or name == "wait"
            or (kind is not str and kind is not dict)
            or _get_ident() != queue._loop_ident
        ):
            return None
        rt = self._rt
        used = rt._ids_used
        key = (_TOOL_CALL, call_id)
        if key in used:  # an id used again is renamed: the general path
            return None
        thread = turn.thread
        visible = thread._ids.calls.claim(call_id, arguments)
        used.add(key)
        # the invocation's snapshot (tool_kinds.invocation, then the writer's _snapshot)
        memo = self._memo
        if kind is str:
            if memo is not None and memo[1] is arguments and memo[0] == name:
                data: Any = memo[2]
                source: str | None = memo[3]
            else:
                data, source = self._invocation(name, arguments, arguments)
        else:
            text = rt.compact(arguments)
            if memo is not None and memo[1] == text and memo[0] == name:
                data = memo[2]
                source = memo[3]
            else:
                data, source = self._invocation(name, text.decode(), text)
        # ToolCall.__init__'s fields, for this case
        call = _new_call(ToolCall)
        call._rt = rt
        call._thread_id = thread_id = thread.thread_id
        call._turn_id = turn_id = turn.turn_id
        call._done = False
        call._live = True
        call.tool_call_id = call_id
        call._work = None
        call._turn = turn
        call.name = name
        call.model_visible_call_id = visible
        call.requesting_cell = None
        call.kind = tool_kinds.tool_kind(name)
        call._waits_on = None
        call._invocation = data is not None
        call._arguments = arguments
        call._custom = False
        head = (_STARTED, call_id, visible, None, None, name, None, source)
        if data is None:  # not serialisable (counted): a start without its invocation
            started = queue.event_flat(ev.ToolCallStarted, (*head, None), thread_id, turn_id)
        else:
            started = (
                queue.start_flat(
                    "tool_invocation", data, ev.ToolCallStarted, head, thread_id, turn_id
                )
                is not None
            )
        if not started:
            queue.lost_event()  # the end it will never have (Handle._start_flat)
            return _NullToolCall.INSTANCE
        rt._open[id(call)] = (call._close_at_shutdown, turn)  # Handle._register
        return call

    def _invocation(self, name: str, arguments: str, given: Any) -> tuple[Any, str | None]:
        """The invocation's snapshot and preview source, made as the general path makes
        them; kept for the next call when it is bytes and counted nothing."""
        counts = self._queue.values.counts
        before = dict(counts)
        body, source = tool_kinds.invocation(
            name,
            None,
            arguments=arguments,
            custom_input=None,
            search=None,
            command=None,
            encode=self._rt.compact,
        )
        data = self._queue._snapshot("tool_invocation", body)
        if data.__class__ is bytes and source is not None and counts == before:
            self._memo = (name, given, data, source)
        else:
            self._memo = None
        return data, source

    def completed(self, call: ToolCall, status: ev.ExecutionStatus, output: Any) -> Any:
        """``call.completed(output)`` (``status`` ``completed``) or ``failed(output_item=
        output)``, the output a dict: the item with its id, or ``None`` (nothing recorded)
        when it is not the common case."""
        if (
            call._done
            or call._waits_on is not None
            or call.requesting_cell is not None
            or output.get("type") not in CALL_OUTPUT_TYPES
            or output.get("id").__class__ is str
            or _get_ident() != self._queue._loop_ident
        ):
            return None
        call._done = True  # Handle._finish
        rt = self._rt
        rt._open.pop(id(call), None)
        ids = call._turn.thread._ids
        # ItemIds.for_history of an output without an id
        item, item_id = ids._output_for_history(output, call.model_visible_call_id)
        store = rt.items
        assert store is not None
        refs = store.tool_output(item)
        if refs is None:  # not a dict of short scalars: stored as the general path does
            call._output_stored(status, item, item_id, store)
        else:
            self._queue.events_flat(
                ev.ToolCallEnded,
                (_ENDED, call.tool_call_id, status, refs[1]),
                ev.HistoryItemAcceptedV3,
                (_ACCEPTED, item_id, refs[0]),
                call._thread_id,
                call._turn_id,
            )
        return ids.calls.unrenamed_item(item)
