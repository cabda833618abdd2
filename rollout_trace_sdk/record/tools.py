"""Tool calls. What runs under a tool call has its own module: terminal sessions, MCP calls,
code cells, and the multi-agent tools' effects on other threads (``_agent_tools``); the
methods that start them are ``_tool_runtime``'s (the call's base class).

A tool call is requested by the model (it has a model-visible call id) or by a code cell
(it has the cell's runtime tool id). Its runtime events are recorded in the shapes Codex's
protocol uses, because the reducer parses them: exec begin/end payloads build terminal
operations, SubAgentActivity payloads build interaction edges.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ..model import events as ev
from ..model.layout import CANCEL_CAUSE_EVENT
from . import tool_kinds
from ._agent_tools import null_thread
from ._call_ids import is_call_output
from ._cell_ids import renamed_wait, wait_target
from ._guard import guard_failure, guards_itself
from ._handle import ToolWork
from ._text import bytes_text, text_of
from ._tool_events import _ACCEPTED, _ENDED, _STARTED, _started
from ._tool_runtime import ToolRuntime
from .items import plain
from .mcp import _NullMcpCall
from .runtime import NullLifecycle, Outcome, Runtime, error_of, ignore, returning
from .terminals import _NullTerminalSession

if TYPE_CHECKING:  # the classes that make tool calls, imported by this module's users
    from ._item_store import ItemStore
    from .code_cells import CodeCell
    from .turns import Turn


class ToolCall(ToolRuntime):
    """One tool call, from ``tool_call_started`` to ``tool_call_ended``."""

    __slots__ = (
        "_arguments",
        "_custom",
        "_invocation",
        "_turn",
        "_waits_on",
        "kind",
        "model_visible_call_id",
        "name",
        "requesting_cell",
    )

    def __init__(
        self,
        rt: Runtime,
        turn: Turn,
        tool_call_id: str,
        name: str,
        *,
        namespace: str | None = None,
        arguments: str | Mapping[str, Any] | None = None,
        custom_input: str | None = None,
        search: Mapping[str, Any] | None = None,
        command: Sequence[str] | None = None,
        model_visible_call_id: str | None = None,
        code_cell: CodeCell | None = None,
        runtime_tool_id: str | None = None,
    ) -> None:
        # the tool's name decides its kind, and a custom input is its preview's text
        name = rt.text(name)
        if custom_input is not None:
            custom_input = rt.text(custom_input)
        if model_visible_call_id is not None:
            # the model's call as the trace names it (see _call_ids); a call one tool call
            # already ran links no other
            given = (
                arguments
                if arguments is not None
                else custom_input
                if custom_input is not None
                else command
            )
            model_visible_call_id = turn.thread._ids.calls.claim(
                rt.text(model_visible_call_id), given
            )
        tool_call_id, _ = rt.unused_id("tool call", tool_call_id)
        thread_id = turn.thread.thread_id
        waits_on = wait_target(name, arguments)
        if waits_on is not None and arguments is not None:
            # the latest cell given that id, under the id it was recorded with (_cell_ids)
            recorded = rt.cell_names.named(thread_id, waits_on)
            if recorded != waits_on:
                arguments, waits_on = renamed_wait(arguments, recorded), recorded
        self._fields(
            rt, turn, thread_id, tool_call_id, name, model_visible_call_id, code_cell, arguments
        )
        self._custom = custom_input is not None
        body, source = tool_kinds.invocation(
            name,
            namespace,
            arguments=arguments,
            custom_input=custom_input,
            search=search,
            command=command,
            encode=rt.compact,
        )
        # schema 3 without limits: the invocation's reference and the start event stay flat
        # until written (see _encode.FLAT_BUILDERS), when the start holds only text
        flat = rt.flat
        if flat is not None and not (
            (namespace is None or namespace.__class__ is str)
            and (runtime_tool_id is None or runtime_tool_id.__class__ is str)
        ):
            flat = None
        ref = frozen = None
        if rt.items is not None or name != "wait" or waits_on is not None:
            if flat is not None:
                frozen = flat.payload_frozen("tool_invocation", body)
            else:
                ref = self._payload("tool_invocation", body)
        else:
            # Codex 0.169's reducer reads every tool named ``wait`` as code mode's, whose
            # arguments must name a cell: an agent's own ``wait`` would make the bundle
            # unreadable, so its invocation is left out (and counted)
            rt.sink.values.note("wait")
        self._invocation = ref is not None or frozen is not None
        cell_id = None if code_cell is None else code_cell.runtime_cell_id
        # a dropped start leaves the call dead: nothing may refer to it (null twin instead)
        started = (
            tool_call_id,
            model_visible_call_id,
            runtime_tool_id,
            cell_id,
            name,
            namespace,
            source,
        )
        if flat is not None:
            frozen_items = (None,) if frozen is None else frozen
            self._start_flat(ev.ToolCallStarted, (_STARTED, *started, *frozen_items), self._owner())
        else:
            self._start(_started(started, self.kind, ref), self._owner())
        self._waits_on = waits_on
        if waits_on is not None and self._live:
            rt.wait_opened(thread_id, waits_on, self._wait_resolved)

    def _fields(
        self,
        rt: Runtime,
        turn: Turn,
        thread_id: str,
        tool_call_id: str,
        name: str,
        visible: str | None,
        cell: CodeCell | None,
        arguments: Any,
    ) -> None:
        """Every field of the call, set here for both ways one is made: :meth:`__init__`
        and the common case's (``_tool_fast``, which skips ``__init__``'s decisions; a
        parity test compares the two). ``_custom``, ``_invocation`` and ``_waits_on`` start
        as the common case has them (no custom input, its invocation in the bundle, waiting
        on no cell): the caller changes what its case decides otherwise."""
        ToolWork.__init__(self, rt, thread_id, turn.turn_id, tool_call_id)
        self._turn = turn
        self.name = name
        #: the call it runs, as the trace names it (``call_0#2`` for the model's second call
        #: ``call_0``, see ``_call_ids``): what the provider knows is the model's own id
        self.model_visible_call_id = visible
        self.requesting_cell = cell
        self.kind = tool_kinds.tool_kind(name)
        #: the runtime work this call records ("exec", "mcp", "cell", an agent activity):
        #: one per call, as the reducers read it (a second start, or a second activity,
        #: makes them refuse the whole bundle)
        self._work = None
        #: as given: an agent activity delivering a message is read from them (``_activity``)
        self._arguments = arguments
        #: a custom tool (``input=``) is answered by a ``custom_tool_call_output``
        self._custom = False
        #: whether the invocation is in the bundle (a full queue under overflow="drop" may
        #: drop it): the reducers read a delivered message from it (see ``_activity``)
        self._invocation = True
        #: the code cell a running ``wait`` call waits on: the cell's end is written in this
        #: call's turn, and in schema 3 resolves it (the schema-2 reducer reads the
        #: arguments; 0.171's needs ``code_cell_wait_target_resolved``)
        self._waits_on = None

    def _end(self, status: ev.ExecutionStatus, result: Any) -> bool:
        if not self._finish():
            return False
        ref = None if result is None else self._payload("tool_result", result)
        self._ended(status, ref)
        return True

    def _ended(self, status: ev.ExecutionStatus, ref: ev.RawPayloadRef | None) -> None:
        if self._waits_on is not None:
            self._rt.wait_closed(self._turn.thread.thread_id, self._waits_on, self._wait_resolved)
        self._emit(ev.ToolCallEnded(self.tool_call_id, status, ref))

    def _wait_resolved(self, runtime_cell_id: str) -> str | None:
        """The cell this wait waits on ended; the turn the cell's end is written in (None
        when the bundle does not hold this wait: see ``Runtime.counted_only``)."""
        self._waits_on = None
        if self._rt.items is not None:  # schema 3
            self._emit(ev.CodeCellWaitTargetResolved(self.tool_call_id, runtime_cell_id))
        return None if self._rt.counts_only else self._turn_id

    # --- results ---------------------------------------------------------------------------

    @guards_itself
    def completed(self, output_item: Mapping[str, Any] | None = None) -> Any:
        """The tool answered the model with ``output_item`` (e.g. a ``function_call_output``).

        For a model-requested call the item then enters the thread history. Only the first
        ending call records anything.

        Args:
            output_item: the item the model will see; ``None`` ends the call with no result.

        Returns:
            The item with its id (send it in the next request), the item as given for a call
            a code cell made, or ``None`` when no item was given.
        """
        try:  # guarded inline (see _guard.guards_itself)
            return self._answered("completed", output_item)
        except Exception as exc:
            return guard_failure(self, "completed", exc, (output_item,), {})

    def _answered(self, status: ev.ExecutionStatus, output_item: Mapping[str, Any] | None) -> Any:
        """End the call with ``status`` and ``output_item`` as its result (see
        :meth:`completed`; :meth:`failed` with an item)."""
        if output_item.__class__ is dict:
            fast = self._rt.fast_tools  # the common case in few steps (``_tool_fast``)
            done = None if fast is None else fast.completed(self, status, output_item)
            if done is not None:
                return done
        elif output_item is None:
            self._end(status, None)
            return None
        output_item = plain(output_item)
        if not isinstance(output_item, Mapping):
            output_item = self._answer_of(output_item)
            if self.requesting_cell is not None:  # a cell reads a value (completed_value)
                self._end(status, {"type": "code_mode_response", "value": output_item})
                return output_item
        if not self._done and self._turn._done and self.requesting_cell is None:
            # it outlived its turn (outlive_turn): no turn to accept its output into
            self._end(status, {"type": "direct_response", "response_item": output_item})
            return output_item
        store = self._rt.items
        if (
            store is not None
            and self.requesting_cell is None
            and not self._done
            and output_item.__class__ is dict
            and is_call_output(output_item)
        ):
            self._finish()
            recorded, item_id = self._turn.thread._ids.for_history(
                output_item, call=self.model_visible_call_id
            )
            assert item_id is not None  # a dict always gets one
            return self._output_recorded(status, recorded, item_id, store)
        ended = self._end(status, {"type": "direct_response", "response_item": output_item})
        if self.requesting_cell is not None:
            return output_item
        if ended:
            return self._turn._accept_items([output_item], self.model_visible_call_id)[0]
        ids = self._turn.thread._ids
        return ids.calls.unrenamed(ids.for_snapshot([output_item]))[0]

    def _output_recorded(
        self, status: ev.ExecutionStatus, recorded: Any, item_id: str, store: ItemStore
    ) -> Any:
        """Schema 3, the call just ended: its output ``recorded`` (with its id ``item_id``)
        stored once, as the item the history accepts, the result referring to it, and the
        events in the usual order (end, then acceptance); the item handed back with the
        model's call id. For :meth:`_answered` and the common case's (``_tool_fast``)."""
        refs = store.tool_output(recorded)  # the hot path (Runtime.flat), when it applies
        if refs is None:
            item_ref = store.item(recorded)
            self._ended(status, store.tool_result(item_ref, recorded))
            self._emit(ev.HistoryItemAcceptedV3(item_id, None, item_ref))
        else:
            if self._waits_on is not None:
                self._rt.wait_closed(self._thread_id, self._waits_on, self._wait_resolved)
            flat = self._rt.flat
            assert flat is not None
            flat.events_flat(
                ev.ToolCallEnded,
                (_ENDED, self.tool_call_id, status) + refs[1],
                ev.HistoryItemAcceptedV3,
                (_ACCEPTED, item_id) + refs[0],
                self._thread_id,
                self._turn_id,
            )
        return self._turn.thread._ids.calls.unrenamed_item(recorded)

    def _answer_of(self, value: Any) -> Any:
        """What a tool answered with a bare value instead of an item (``completed("a b c")``):
        for the model, the output item of this call with the value's text as its output; for
        a code cell, the value (see :meth:`completed_value`). Counted (``mistyped``): recorded
        as the output the call gave, not dropped (the result was missing, and the text never
        entered the history)."""
        kind = "custom_tool_call_output" if self._custom else "function_call_output"
        if self.requesting_cell is not None:
            self._rt.sink.values.note("mistyped")
            return value
        self._rt.sink.values.note(
            "mistyped",
            says=f"a tool call answered with a bare {type(value).__name__} value instead of an output "
            f'item ({{"type": "{kind}", "call_id": ..., "output": ...}}): recorded, and '
            "returned for the history, as the call's output item with its text",
        )
        if isinstance(value, bytes | bytearray | memoryview):
            text = bytes_text(value)  # as run_function_call sends a tool's bytes
        else:
            text = value if isinstance(value, str) else text_of(value)
        # the model's id (``call_0``), as an agent's own item has it: the history renames it
        # to the call this tool call runs (``call_0#2``) and hands the model's back
        calls = self._turn.thread._ids.calls
        (item,) = calls.unrenamed([{"call_id": self.model_visible_call_id}])
        return {"type": kind, "call_id": item["call_id"], "output": text}

    def completed_value(self, value: Any) -> None:
        """The tool answered a code cell with a JSON value (``code_mode_response``).

        Args:
            value: the JSON value the cell's JavaScript receives.
        """
        self._end("completed", {"type": "code_mode_response", "value": value})

    def failed(
        self, error: str | BaseException = "", *, output_item: Mapping[str, Any] | None = None
    ) -> Any:
        """The tool failed: the call ends ``failed``.

        A tool that fails and still answers the model (a code-mode ``exec`` whose script
        threw: Codex ends the call failed and the model reads "Script failed ...") gives
        that answer as ``output_item``: it is the result and enters the history, as with
        :meth:`completed`. Otherwise ``error`` is the result.

        Args:
            error: what went wrong, as the tool reported it (the result without an item); an
                exception is recorded as ``Type: message``.
            output_item: the item the model sees about the failure, if it sees one.

        Returns:
            As :meth:`completed` for ``output_item``; ``None`` without one.
        """
        if output_item is not None:
            return self._answered("failed", output_item)
        self._end("failed", {"type": "error", "error": error_of(error)})
        return None

    def cancelled(self) -> None:
        """The call was abandoned before the tool answered: it ends ``cancelled``."""
        self._end("cancelled", None)

    def outlive_turn(self) -> None:
        """Keep the call running when its turn ends: a run that stops with the call waiting
        (an Agents SDK run paused for an approval) may run it in a later turn (:meth:`resume_in`):
        one call, as Codex records an exec waiting for approval. Its thread's end ends it
        if nothing else does. Ended after its turn, its output is its result only (no turn
        accepts it into the history; a request carrying it does)."""
        if not self._done:
            self._rt._open[id(self)] = (self._close_at_shutdown, self._turn.thread)

    def left_open(self) -> None:
        """Leave the call running in this bundle: it waits for something outside the rollout
        (an Agents SDK run paused for an approval, ended with the call waiting; a run
        resumed from its state runs it in a bundle of its own, if ever). Nothing ends it
        here, not its turn's, its thread's or the rollout's end, which would record it cut
        off: the reducers show it ``running``, never ended, as Codex leaves an exec waiting
        for approval when its session ends. Only the first ending call counts: one that
        ended already is left as it is, and a later end records nothing."""
        self._finish()

    def resume_in(self, turn: Turn) -> None:
        """The call, kept past its turn (:meth:`outlive_turn`), goes on in ``turn``, a later
        turn of its thread: its end and its output are recorded there, and ``turn``'s end
        ends it if nothing else does. A turn of another thread changes nothing.

        Args:
            turn: the turn that runs the call now.
        """
        if not self._done and turn.thread is self._turn.thread:
            self._turn, self._turn_id = turn, turn.turn_id
            self._rt._open[id(self)] = (self._close_at_shutdown, turn)

    # --- lifecycle -------------------------------------------------------------------------

    def _close_at_shutdown(self, status: ev.RolloutStatus) -> None:
        if status == "failed":
            self.failed("ended before the tool call")
        else:
            self._cut_off()

    def _cut_off(self) -> None:
        """The tool was interrupted (its block cancelled, or the rollout closed under it).
        Schema 3 says ``aborted``, as Codex 0.171 does; schema 2 keeps ``cancelled``."""
        self._end("aborted" if self._rt.items is not None else "cancelled", None)

    def _exit(self, outcome: Outcome, error: str | None) -> None:
        if error is not None and outcome == "failed":
            self.failed(error)
        elif outcome == "cancelled":
            if error is not None:  # what cancelled it
                body = {
                    "thread_id": self._thread_id,
                    "turn_id": self._turn_id,
                    "tool_call_id": self.tool_call_id,
                    "cause": error,
                }
                self._rt.protocol_event(CANCEL_CAUSE_EVENT, body)
            self._cut_off()
        else:
            self.completed()


# --- null twins --------------------------------------------------------------------------------


class _NullToolCall(NullLifecycle, ToolCall):
    __slots__ = ()
    INSTANCE: ClassVar[ToolCall]

    completed_value = cancelled = stdin_target = outlive_turn = resume_in = left_open = ignore
    runtime_started = runtime_ended = ignore
    agent_interacted = agent_interrupted = wait_started = wait_ended = ignore
    exec_started = returning(lambda: _NullTerminalSession.INSTANCE)
    mcp = returning(lambda: _NullMcpCall.INSTANCE)
    code_cell = returning(lambda: _null_code_cell())
    spawn_agent = returning(null_thread)

    def completed(self, output_item: Mapping[str, Any] | None = None) -> Any:
        return output_item

    def failed(
        self, error: str | BaseException = "", *, output_item: Mapping[str, Any] | None = None
    ) -> Any:
        return output_item


def _null_code_cell() -> CodeCell:
    from .code_cells import _NullCodeCell  # see ToolCall.code_cell

    return _NullCodeCell.INSTANCE


_NullToolCall.INSTANCE = _NullToolCall(
    tool_call_id="",
    name="",
    model_visible_call_id=None,
    requesting_cell=None,
    kind=ev.ToolCallKind.other(""),
    _waits_on=None,
    _done=True,
    _work="null",
    _live=False,
)
