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

import orjson

from ..model import events as ev
from . import tool_kinds
from ._call_ids import CALL_OUTPUT_TYPES
from ._held import TO_HOOK
from ._tool_events import _STARTED
from .tools import ToolCall, _NullToolCall

if TYPE_CHECKING:
    from ._queue import RecordQueue
    from .runtime import Runtime
    from .turns import Turn

_TOOL_CALL: Final = "tool call"  # Runtime.unused_id's kind for tool call ids
_get_ident = threading.get_ident
_new_call = ToolCall.__new__
_dumps = orjson.dumps


class FastTools:
    """The common tool call's start and output for one rollout (see the module docstring)."""

    __slots__ = ("_memo", "_queue", "_rt", "_used")

    def __init__(self, rt: Runtime, queue: RecordQueue) -> None:
        self._rt = rt
        self._queue = queue
        #: the rollout's tool call ids (``Runtime.unused_id``'s names of that kind)
        self._used = rt._ids_used.setdefault(_TOOL_CALL, {})
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
        used = self._used
        if call_id in used:  # an id used again is renamed: the general path
            return None
        thread = turn.thread
        thread_id = thread.thread_id
        turn_id = turn.turn_id
        visible = thread._ids.calls.claim(call_id, arguments)
        used[call_id] = None
        # the invocation's snapshot (tool_kinds.invocation, then the writer's _snapshot)
        memo = self._memo
        if kind is str:
            if memo is not None and memo[1] is arguments and memo[0] == name:
                data: Any = memo[2]
                source: str | None = memo[3]
            else:
                data, source = self._invocation(name, arguments, arguments)
        else:
            values = queue.values
            try:  # rt.compact's text, not yet copied to its own size: compared, then dropped
                text = _dumps(arguments, values.default, TO_HOOK)
            except (TypeError, RecursionError, ValueError) as exc:
                values.interrupted(exc)
                # rt.compact's own next step, which counts what it repairs (not rt.compact:
                # its orjson pass would count the hook's conversions a second time)
                text = values.refused_compact(arguments)
            else:
                if values.noted:  # what the hook converted (a set, bytes): as compact counts
                    values.note_pending()
            if memo is not None and memo[1] == text and memo[0] == name:
                data = memo[2]
                source = memo[3]
            else:
                data, source = self._invocation(name, text.decode(), text)
        call = _new_call(ToolCall)
        call._fields(rt, turn, thread_id, call_id, name, visible, None, arguments)
        head = (_STARTED, call_id, visible, None, None, name, None, source)
        if data is None:  # not serialisable (counted): a start without its invocation
            call._invocation = False
            started = queue.event_flat(ev.ToolCallStarted, (*head, None), thread_id, turn_id)
        else:
            started = (
                queue.start_flat(
                    "tool_invocation", data, ev.ToolCallStarted, head, thread_id, turn_id
                )
                is not None
            )
        return call if call._opened(started, turn) else _NullToolCall.INSTANCE

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
        try:
            if (
                call._done
                or call._turn._done  # it outlived its turn (ToolCall.outlive_turn)
                or call._waits_on is not None
                or call.requesting_cell is not None
                or output.get("type") not in CALL_OUTPUT_TYPES
                or output.get("id").__class__ is str
                or _get_ident() != self._queue._loop_ident
            ):
                return None
        except TypeError:  # an unhashable type (an object, a list): the general path says
            return None
        call._finish()
        # ItemIds.for_history of an output without an id
        item, item_id = call._turn.thread._ids._output_for_history(
            output, call.model_visible_call_id
        )
        store = self._rt.items
        assert store is not None
        return call._output_recorded(status, item, item_id, store)
