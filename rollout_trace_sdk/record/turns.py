"""Turns: one unit of work on an agent thread (see ``threads``).

A turn records its start when created and its end when its ``async with`` block exits (or
when ``end()`` is called, whichever comes first). It makes the calls that run in it
(inference, tool calls, compactions) and records what enters the thread's history; the
thread that makes turns is in ``threads``, which also builds the disabled turn
(``NULL_TURN``) beside the disabled thread it belongs to.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, Self

import orjson

from ..model import events as ev
from ..model.layout import CANCEL_CAUSE_EVENT
from . import _codex_protocol as protocol
from . import current
from ._call_ids import is_call_output
from ._guard import call_failed, guard_failure, guards_itself
from ._handle import Handle, started
from ._problems import AGENT_MESSAGE_REFUSED, Problem, agent_message_problem
from ._values import canonical_bytes
from .compactions import Compaction, _NullCompaction
from .inference import InferenceCall, _NullInferenceCall, report_dropped
from .items import agent_message, final_answer_text, plain
from .requests import normalize_output_items
from .runtime import (
    ENDED_AS,
    NullLifecycle,
    Outcome,
    Runtime,
    error_of,
    ignore,
    now_ms,
    returning,
    uuid7,
    warn,
)
from .tools import ToolCall, _NullToolCall

if TYPE_CHECKING:
    from datetime import datetime

    from .threads import AgentThread

AgentResultStatus = Literal["completed", "errored"]

_TURN_STATUS: dict[Outcome, ev.ExecutionStatus] = {
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}
#: what ``Turn.end`` takes (another word is read as the nearest)
_OUTCOMES: Final = tuple(_TURN_STATUS)


class Turn(Handle):
    """One Codex turn on a thread: its inference calls, tool calls and accepted history."""

    __slots__ = ("_started_ms", "_started_s", "last_agent_message", "thread", "turn_id")

    #: a turn the rollout finds open when it closes normally was never ended: counted and
    #: warned about (``Runtime.close_all``)
    _LEFT_OPEN_COUNTED: ClassVar[bool] = True

    def __init__(self, rt: Runtime, thread: AgentThread, turn_id: str) -> None:
        turn_id, _ = rt.unused_id("turn", turn_id)
        super().__init__(rt, thread.thread_id, turn_id)
        self.thread = thread
        self.turn_id = turn_id
        self.last_agent_message: str | None = None
        self._started_s = now_ms() // 1000
        started = self._emit(ev.CodexTurnStarted(turn_id, thread.thread_id))
        #: no earlier than its start line's wall time: a call starts no earlier (``inference``)
        self._started_ms = now_ms()
        if not started and self._start_dropped():  # the caller hands out NULL_TURN instead
            return
        rt = self._rt  # the runtime that counts, past the bundle's ceiling
        parent = thread.parent
        initiator = None if parent is None else parent.agent_path
        rt.protocol_event(
            "turn_started", protocol.task_started(turn_id, initiator, self._started_s)
        )
        self._register(thread)  # a thread that ends first ends its open turns

    # --- history ---------------------------------------------------------------------------

    def accept_item_id(self, item_id: str) -> None:
        """``history_item_accepted`` for an item whose id you already know.

        Refused in a turn that has ended (``_over``): both reducers would credit the item to
        the turn after its end, and Codex never accepts one there.

        Args:
            item_id: the id the item got when it was recorded (an output item's id, say).
        """
        if self._over():
            return
        self._emit(ev.HistoryItemAccepted(item_id))

    def accept(self, *items: Any) -> list[Any]:
        """Items enter the thread's history (user input, tool outputs the loop made up, ...).

        Args:
            *items: Responses-API input items, in the order they enter the history.

        Returns:
            The items with their ids (copies where an id had to be added); send these (or
            copies) in the next request so the reducer can tell them apart from new ones;
            as given when the turn has ended (nothing recorded: :meth:`accept_item_id`).
        """
        if self._over():
            return list(items)
        self._remember_server_items(items)
        return self._accept_items(items, None)

    def _remember_server_items(self, items: Sequence[Any]) -> None:
        """Keep the items that came with an id (the server's) for the item references of
        later requests (see ``_item_refs``), typed as a request would send them."""
        with_ids = [
            plain(item)
            for item in items
            if (
                item.get("id") if isinstance(item, Mapping) else getattr(item, "id", None)
            ).__class__
            is str
        ]
        if with_ids:
            self._rt.known_items.remember(normalize_output_items(with_ids)[0])

    def _accept_items(self, items: Sequence[Any], call: str | None) -> list[Any]:
        """:meth:`accept`; a tool's output names ``call`` (see ``ItemIds.for_history``)."""
        out: list[Any] = []
        ids = self.thread._ids
        store = self._rt.items
        for item in items:
            recorded, item_id = ids.for_history(item, call=call)
            if item_id is not None:
                if store is not None and is_call_output(recorded):
                    # schema 3: the output item rides along (Codex: function and custom tool
                    # outputs), stored once and referenced again by the next request
                    self._emit(ev.HistoryItemAcceptedV3(item_id, None, store.item(recorded)))
                else:
                    self.accept_item_id(item_id)
            elif not isinstance(recorded, Mapping):
                # ``turn.accept("hi")``: no item, so nothing the history could hold (a
                # message is a dict: ``{"role": "user", "content": "hi"}`` will do)
                self._rt.sink.values.note("not an item")
            out.append(recorded)
        return ids.calls.unrenamed(out)

    def accept_agent_message(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """An ``agent_message`` delivered to this thread (see :func:`task_message`): its item
        is stored as a payload and accepted, which is what interaction edges land on.

        An item of another type is accepted as :meth:`accept` takes it. An ``agent_message``
        the reducers cannot parse (no string ``author`` or ``recipient``, no content list, an
        entry other than ``input_text`` / ``encrypted_content``) is not recorded: a warning
        says so and a ``rollout_trace_input_dropped`` protocol event records it (one such
        message made both reducers refuse the whole bundle).

        Args:
            item: the message item, as :func:`task_message` or :meth:`report_result` made it.

        Returns:
            The item with its id (a copy of ``item`` unchanged when it gets no id or the
            turn has ended).
        """
        if self._over():
            return dict(item)
        held = plain(item)
        if isinstance(held, Mapping) and _written(held.get("type")) != "agent_message":
            return dict(self.accept(item)[0])  # another kind of item: as :meth:`accept` takes it
        recorded, item_id = self.thread._ids.for_history(item)
        if item_id is None:
            return dict(item)
        # both reducers parse a delivered message strictly: one they cannot parse failed the
        # whole bundle, so it is left out, said and recorded as requests' items are
        written = _written(recorded)
        problem = agent_message_problem(written) if isinstance(written, dict) else "is no object"
        if problem is not None:
            dropped = Problem(AGENT_MESSAGE_REFUSED, f"it {problem}")
            report_dropped(self, {"item_id": item_id}, "agent message", [dropped])
            return dict(recorded)
        ref = self._payload("protocol_event", self._rt.for_parsed_item(recorded))
        self._emit(ev.HistoryItemAccepted(item_id, ref))
        return dict(recorded)

    # --- work in the turn ------------------------------------------------------------------

    def inference(
        self,
        request: Mapping[str, Any] | Sequence[Any] | object,
        *,
        model: str | None = None,
        provider_name: str | None = None,
        started_at: datetime | str | None = None,
    ) -> InferenceCall:
        """Start an inference attempt with the request as sent (Responses-API shape, or just
        its ``input`` list).

        Args:
            request: the request body, its ``input`` list, or an SDK request object.
            model: the model asked; the request's ``model``, else the thread's.
            provider_name: the provider; the thread's when not given.
            started_at: when the request was sent, for a call recorded after it ran (an
                aware ``datetime`` or ISO-8601 text, as an Agents SDK span's
                ``started_at``): ``inference_started`` carries it as its wall time, so the
                call's duration is the model's latency. Now when not given (a time later
                than now is now, one before the turn started is the turn's start; one that
                is no time is warned about and now).

        Returns:
            The inference call, to end with :meth:`InferenceCall.completed` (or ``failed``
            or ``cancelled``); a null call when this turn has ended or is not live (an
            ended call when only its start could not be recorded).
        """
        if self._over():
            return _NullInferenceCall.INSTANCE
        return InferenceCall(
            self._rt, self, request, model=model, provider_name=provider_name, started_at=started_at
        )

    @guards_itself
    def tool_call(
        self,
        tool_call_id: str,
        name: str,
        *,
        arguments: str | Mapping[str, Any] | None = None,
        input: str | None = None,
        search: Mapping[str, Any] | None = None,
        command: Sequence[str] | None = None,
        namespace: str | None = None,
    ) -> ToolCall:
        """Start a tool call the model requested (``tool_call_id`` = its ``call_id``).

        Args:
            tool_call_id: the model's ``call_id`` for the call.
            name: the tool's name; it decides the call's kind (exec_command, spawn_agent, ...).
            arguments: a function tool's arguments (the JSON text, or its parsed object).
            input: a custom (freeform) tool's input, such as code mode's ``exec`` source.
            search: a ``tool_search`` call's arguments.
            command: a ``local_shell`` call's argv.
            namespace: the namespace an MCP-style tool name lives in, if any.

        Returns:
            The tool call, or a null call when this turn is not live, has ended, or the
            call's start was dropped.
        """
        try:  # guarded inline (see _guard.guards_itself)
            if self._done and self._over():  # (_over's own test first: a call saved per call)
                return _NullToolCall.INSTANCE
            fast = self._rt.fast_tools
            if (
                fast is not None
                and arguments is not None
                and input is None
                and search is None
                and command is None
                and namespace is None
            ):
                call = fast.start(self, tool_call_id, name, arguments)  # the common case
                if call is not None:
                    return call
            # as in CodeCell.tool_call, but the model requests this one: a model-visible id
            tool = ToolCall(
                self._rt,
                self,
                tool_call_id,
                name,
                namespace=namespace,
                arguments=arguments,
                custom_input=input,
                search=search,
                command=command,
                model_visible_call_id=tool_call_id,
            )
            return started(tool, _NullToolCall.INSTANCE)
        except Exception as exc:
            kwargs: dict[str, Any] = {"arguments": arguments, "input": input, "search": search}
            kwargs |= {"command": command, "namespace": namespace}
            answer: ToolCall = guard_failure(self, "tool_call", exc, (tool_call_id, name), kwargs)
            return answer

    def compaction(self, compaction_id: str | None = None) -> Compaction:
        """A compaction of this thread's history: its requests and the installed checkpoint.

        Args:
            compaction_id: shared by every request of the compaction (retries included); a
                fresh UUID when not given.

        Returns:
            The compaction, which records nothing until a request starts or it is installed.
        """
        if self._over():
            return _NullCompaction.INSTANCE
        # its text, once: each event naming it wrote the value's text again, and a value
        # whose text changed as it was read (a repr with effects) named another compaction
        text = None if compaction_id is None else self._rt.text(compaction_id)
        return Compaction(self._rt, self, text or uuid7())

    def report_result(
        self, answer: str | None = None, *, status: AgentResultStatus = "completed"
    ) -> dict[str, Any]:
        """A spawned agent's turn reports back to its parent (``agent_result_observed``).

        A root thread has no parent: a warning, and nothing is recorded. An ended turn
        still reports (Codex writes the result after the child's turn ends).

        Args:
            answer: the final answer; the turn's last agent message when not given.
            status: whether the agent completed its task or errored.

        Returns:
            The ``agent_message`` to deliver to the parent thread with
            :meth:`Turn.accept_agent_message`; the agent-result edge lands on it.
        """
        thread = self.thread
        parent = thread.parent
        text = answer if answer is not None else (self.last_agent_message or "")
        parent_path = parent.agent_path if parent is not None else "/root"
        message = final_answer_text(thread.agent_path, parent_path, text)
        delivery = agent_message(thread.agent_path, parent_path, message)
        if parent is None:
            warn(
                "rollout trace: report_result on a root thread has no parent to report to",
                kind="report_result on a root thread",
            )
            return delivery
        ref = self._payload(
            "agent_result",
            {"child_agent_path": thread.agent_path, "message": message, "status": {status: text}},
        )
        # a second report from one turn (progress, then the final answer) is its own edge
        edge_id, _ = self._rt.unused_id(
            "edge",
            f"edge:agent_result:{thread.thread_id}:{self.turn_id}:{parent.thread_id}",
            counted=False,
        )
        self._emit(
            ev.AgentResultObserved(
                edge_id,
                thread.thread_id,
                self.turn_id,
                parent.thread_id,
                message,
                ref,
            )
        )
        return delivery

    # --- ending ----------------------------------------------------------------------------

    def end(
        self, outcome: Outcome = "completed", *, error: str | BaseException | None = None
    ) -> None:
        """End the turn: completed, failed (with ``error``) or cancelled. Idempotent.

        Calls still running in the turn are ended first; then come the turn's end event and
        Codex's closing protocol event (``task_complete`` or ``turn_aborted``).

        Args:
            outcome: how the turn ended.
            error: what went wrong, for a failed turn ("turn failed" when not given; an
                exception: ``Type: message``).
        """
        if not self._finish(idempotent=True):
            return
        error = None if error is None else error_of(error)
        rt = self._rt
        outcome = rt.known_status(outcome, _OUTCOMES)
        rt.close_owned_by(self, ENDED_AS[outcome])
        if outcome == "failed":
            rt.protocol_event("error", protocol.error(error or "turn failed"))
        self._emit(ev.CodexTurnEnded(self.turn_id, _TURN_STATUS[outcome]))
        done_s = now_ms() // 1000
        if outcome == "cancelled":
            body = protocol.turn_aborted(self.turn_id, self._started_s, done_s)
            rt.protocol_event("turn_aborted", body)
        else:
            failure = (error or "turn failed") if outcome == "failed" else None
            body = protocol.task_complete(
                self.turn_id, self.last_agent_message, failure, self._started_s, done_s
            )
            rt.protocol_event("turn_complete", body)
        rt.sink.sync_point()

    def _close_at_shutdown(self, status: ev.RolloutStatus) -> None:
        self.end(
            "failed" if status == "failed" else "cancelled", error="closed before the turn ended"
        )

    def _exit(self, outcome: Outcome, error: str | None) -> None:
        if outcome == "cancelled" and error is not None:  # what cancelled it
            body = {"thread_id": self._thread_id, "turn_id": self.turn_id, "cause": error}
            self._rt.protocol_event(CANCEL_CAUSE_EVENT, body)
        self.end(outcome, error=error)

    # the turn is current inside its block (see ``current``), for instrumented clients
    async def __aenter__(self) -> Self:
        await super().__aenter__()
        try:
            current.entered(self)
        except Exception as exc:
            call_failed(self, "__aenter__", exc)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        try:
            current.left(self)
        except Exception as exc:
            call_failed(self, "__aexit__", exc)
        await super().__aexit__(*exc_info)


class _NullTurn(NullLifecycle, Turn):
    """The disabled twin of :class:`Turn` (the disabled turn itself, ``NULL_TURN``, is made
    in ``threads`` with the disabled thread it belongs to)."""

    __slots__ = ()

    accept_item_id = end = ignore
    inference = returning(lambda: _NullInferenceCall.INSTANCE)
    tool_call = returning(lambda: _NullToolCall.INSTANCE)
    compaction = returning(lambda: _NullCompaction.INSTANCE)

    def accept(self, *items: Any) -> list[Any]:
        return list(items)

    def accept_agent_message(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return dict(item)

    def report_result(
        self, answer: str | None = None, *, status: AgentResultStatus = "completed"
    ) -> dict[str, Any]:
        return agent_message("", "", answer or "")

    @property
    def ended(self) -> bool:
        return False


def _written(value: Any) -> Any:
    """``value`` as the JSON the recorder writes of it, which is what both reducers parse:
    an attrs entry as its fields, an enum member as its value, a list subclass as what it
    holds (orjson reads its storage, not its own ``__iter__``). Read from the agent's
    objects instead, a well-formed message was taken for one the reducers refuse and left
    out. (An integer beyond 64 bits reads back as a float: still no string.)"""
    if value.__class__ is str:
        return value
    text = canonical_bytes(value)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # an integer orjson cannot read (10**5000): only its type counts
        return json.loads(text, parse_int=_an_int)


def _an_int(digits: str) -> int:
    return 0
