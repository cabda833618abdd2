"""Agent threads and their turns.

A thread is one agent's conversation (``/root`` or a spawned ``/root/<task>``); a turn is one
unit of work on it. Both record their start when created and their end when their
``async with`` block exits (or when ``end()`` is called, whichever comes first), so a loop can
use them either as context managers or as plain objects.

Every class here has a null twin (``_Null…``) that the disabled recorder hands out: the same
methods, doing nothing, so agent code never asks whether tracing is on.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, Self

from ..model import events as ev
from . import _codex_protocol as protocol
from . import current
from ._call_ids import CALL_OUTPUT_TYPES
from ._guard import call_failed
from ._handle import Handle, started
from .compactions import Compaction, _NullCompaction
from .inference import InferenceCall, _NullInferenceCall
from .items import ItemIds, agent_message, final_answer_text
from .runtime import (
    ENDED_AS,
    NullLifecycle,
    Outcome,
    Runtime,
    ignore,
    is_uuid,
    now_ms,
    returning,
    uuid7,
    warn,
)
from .tools import ToolCall, _NullToolCall

AgentResultStatus = Literal["completed", "errored"]

_TURN_STATUS: dict[Outcome, ev.ExecutionStatus] = {
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}
#: what ``Turn.end`` and ``AgentThread.end`` take (another word is read as the nearest)
_OUTCOMES: Final = tuple(_TURN_STATUS)
_ROLLOUT_STATUSES: Final = typing.get_args(ev.RolloutStatus)
#: What Codex takes as an agent name (a path segment), and what it does not.
_AGENT_NAME: Final = re.compile(r"[a-z0-9_]+")
_NOT_AGENT_NAME: Final = re.compile(r"[^a-z0-9_]+")


class AgentThread(Handle):
    """One agent's thread in the rollout. Threads spawned from it share its bundle."""

    __slots__ = (
        "_ids",
        "agent_path",
        "depth",
        "model",
        "nickname",
        "parent",
        "provider_name",
        "role",
        "task_name",
        "thread_id",
    )
    thread_id: str
    agent_path: str
    parent: AgentThread | None
    depth: int
    task_name: str | None
    nickname: str | None
    role: str | None
    model: str
    provider_name: str
    _ids: ItemIds

    # spawn's keywords again, with defaults for the root thread, which has no parent or task
    def __init__(
        self,
        rt: Runtime,
        *,
        thread_id: str,
        agent_path: str,
        parent: AgentThread | None = None,
        task_name: str | None = None,
        nickname: str | None = None,
        role: str | None = None,
        model: str | None = None,
        provider_name: str | None = None,
        session_source: Any = protocol.EXEC_SESSION,
    ) -> None:
        # a thread's own events (start, end) have no envelope context, as in Codex
        super().__init__(rt, None, None)
        self.thread_id = thread_id
        self.agent_path = agent_path
        self.parent = parent
        self.depth = 0 if parent is None else parent.depth + 1
        self.task_name = task_name
        self.nickname = nickname
        self.role = role
        self.model = model or rt.model
        self.provider_name = provider_name or rt.provider_name
        self._ids = ItemIds(rt.sink.values.note, rt.call_names)
        if parent is not None:
            session_source = protocol.spawned_session(
                parent.thread_id, self.depth, agent_path, nickname, role
            )
        metadata = protocol.session_metadata(
            thread_id=thread_id,
            agent_path=agent_path,
            task_name=task_name,
            nickname=nickname,
            role=role,
            session_source=session_source,
            cwd=rt.cwd,
            model=self.model,
            provider_name=self.provider_name,
            approval_policy=rt.approval_policy,
            sandbox_policy=rt.sandbox_policy,
        )
        ref = self._payload("session_metadata", metadata)
        # a thread whose start was dropped (writer full) must record nothing more: every
        # later event would name a thread the reducer never saw. Registered (below) only
        # once its configuration is recorded, as before.
        if not self._emit(ev.ThreadStarted(thread_id, agent_path, ref)):
            self._live = False
            self._done = True
            return
        configured = protocol.session_configured(
            session_id=rt.rollout_id,
            thread_id=thread_id,
            parent_thread_id=None if parent is None else parent.thread_id,
            model=self.model,
            provider_name=self.provider_name,
            approval_policy=rt.approval_policy,
            cwd=rt.cwd,
        )
        rt.protocol_event("session_configured", configured)
        self._register()

    # --- work on the thread ----------------------------------------------------------------

    def turn(self, turn_id: str | None = None) -> Turn:
        """Start a turn (``codex_turn_started``); end it with ``async with`` or :meth:`Turn.end`.

        Args:
            turn_id: the turn's id; a fresh time-ordered UUID when not given.

        Returns:
            The live turn, or a null turn (records nothing) when this thread is not live,
            has ended, or the writer dropped the turn's start.
        """
        if self._over():
            return NULL_TURN
        return self._child(NULL_TURN, Turn, self, turn_id or uuid7())

    # public keywords, also in __init__ and ToolCall.spawn_agent: each signature shows its callers
    def spawn(
        self,
        task_name: str,
        *,
        nickname: str | None = None,
        role: str | None = None,
        thread_id: str | None = None,
        model: str | None = None,
        provider_name: str | None = None,
    ) -> AgentThread:
        """Start a child thread at ``<this path>/<task_name>`` in the same bundle.

        Prefer :meth:`ToolCall.spawn_agent` when a ``spawn_agent`` tool call did the spawning:
        it also records what links the child to that call.

        Args:
            task_name: the last segment of the child's agent path: lowercase letters,
                digits and ``_``, not ``root`` (both reducers refuse the whole bundle
                otherwise); another name is recorded in that alphabet (``Code-Reviewer``
                as ``code_reviewer``, ``root`` as ``root_agent``) and counted.
            nickname: the agent's display name, as Codex's ``agent_nickname``.
            role: the agent's role, as Codex's ``agent_role``.
            thread_id: the child's thread id; a fresh UUID when not given or not a UUID
                (the latter with a warning).
            model: the child's model; this thread's when not given.
            provider_name: the child's provider; this thread's when not given.

        Returns:
            The child thread, or a null thread when this one is not live or the child's
            start was dropped.
        """
        if not self._live or self._over():
            return NULL_THREAD
        task_name = _agent_name(self._rt, task_name)
        child = AgentThread(
            self._rt,
            thread_id=_thread_id(thread_id),
            agent_path=f"{self.agent_path.rstrip('/')}/{task_name}",
            parent=self,
            task_name=task_name,
            nickname=nickname,
            role=role,
            model=model or self.model,
            provider_name=provider_name or self.provider_name,
        )
        return started(child, NULL_THREAD)

    def protocol_event(self, event_type: str, body: Mapping[str, Any] | None = None) -> None:
        """Record a protocol event (``protocol_event_observed``): an event Codex would have
        seen on its event stream that the recorder has no handle for.

        Args:
            event_type: the event's type; written into the payload as ``type``.
            body: the rest of the event's fields (a ``type`` in it is overwritten).
        """
        payload = {"type": event_type}
        if body:
            payload.update(body)
        self._rt.protocol_event(event_type, payload)

    def end(self, status: ev.RolloutStatus = "completed") -> None:
        """End the thread: ``shutdown_complete`` then ``thread_ended``. Idempotent.

        Turns and calls still open on the thread are ended first, so the bundle never shows
        work running on a thread that has ended.

        Args:
            status: the thread's final status.
        """
        if not self._finish(idempotent=True):
            return
        status = self._rt.known_status(status, _ROLLOUT_STATUSES)
        self._rt.close_owned_by(self, status)
        self._rt.protocol_event("shutdown_complete", protocol.shutdown_complete())
        self._emit(ev.ThreadEnded(self.thread_id, status))

    def _close_at_shutdown(self, status: ev.RolloutStatus) -> None:
        self.end(status)

    def _exit(self, outcome: Outcome, error: str | None) -> None:
        self.end(ENDED_AS[outcome])


def _thread_id(requested: str | None) -> str:
    if requested is None:
        return uuid7()
    if not is_uuid(requested):
        warn(f"rollout trace: thread id {requested!r} is not a UUID; using a generated one")
        return uuid7()
    return requested


class Turn(Handle):
    """One Codex turn on a thread: its inference calls, tool calls and accepted history."""

    __slots__ = ("_started_s", "last_agent_message", "thread", "turn_id")

    def __init__(self, rt: Runtime, thread: AgentThread, turn_id: str) -> None:
        turn_id, _ = rt.unused_id("turn", turn_id)
        super().__init__(rt, thread.thread_id, turn_id)
        self.thread = thread
        self.turn_id = turn_id
        self.last_agent_message: str | None = None
        self._started_s = now_ms() // 1000
        if not self._emit(ev.CodexTurnStarted(turn_id, thread.thread_id)):
            self._live = False  # the caller hands out NULL_TURN instead
            self._done = True
            return
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
        return self._accept_items(items, None)

    def _accept_items(self, items: Sequence[Any], call: str | None) -> list[Any]:
        """:meth:`accept`; a tool's output names ``call`` (see ``ItemIds.for_history``)."""
        out: list[Any] = []
        ids = self.thread._ids
        store = self._rt.items
        for item in items:
            recorded, item_id = ids.for_history(item, call=call)
            if item_id is not None:
                if store is not None and _is_tool_output(recorded):
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

        Args:
            item: the message item, as :func:`task_message` or :meth:`report_result` made it.

        Returns:
            The item with its id (a copy of ``item`` unchanged when it gets no id or the
            turn has ended).
        """
        if self._over():
            return dict(item)
        recorded, item_id = self.thread._ids.for_history(item)
        if item_id is None:
            return dict(item)
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
    ) -> InferenceCall:
        """Start an inference attempt with the request as sent (Responses-API shape, or just
        its ``input`` list).

        Args:
            request: the request body, its ``input`` list, or an SDK request object.
            model: the model asked; the request's ``model``, else the thread's.
            provider_name: the provider; the thread's when not given.

        Returns:
            The inference call, to end with :meth:`InferenceCall.completed` (or ``failed``
            or ``cancelled``); a null call when this turn has ended or is not live (an
            ended call when only its start could not be recorded).
        """
        if self._over():
            return _NullInferenceCall.INSTANCE
        return InferenceCall(self._rt, self, request, model=model, provider_name=provider_name)

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
        if self._over():
            return _NullToolCall.INSTANCE
        # as in CodeCell.tool_call, but the model requests this one: a model-visible call id
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
        return Compaction(self._rt, self, compaction_id or uuid7())

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
            warn("rollout trace: report_result on a root thread has no parent to report to")
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

    def end(self, outcome: Outcome = "completed", *, error: str | None = None) -> None:
        """End the turn: completed, failed (with ``error``) or cancelled. Idempotent.

        Calls still running in the turn are ended first; then come the turn's end event and
        Codex's closing protocol event (``task_complete`` or ``turn_aborted``).

        Args:
            outcome: how the turn ended.
            error: what went wrong, for a failed turn ("turn failed" when not given).
        """
        if not self._finish(idempotent=True):
            return
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


# --- null twins --------------------------------------------------------------------------------


class _NullAgentThread(NullLifecycle, AgentThread):
    """The disabled twin of :class:`AgentThread`: accepts every call, records nothing."""

    __slots__ = ()

    turn = returning(lambda: NULL_TURN)
    spawn = returning(lambda: NULL_THREAD)
    protocol_event = end = ignore

    @property
    def ended(self) -> bool:
        return False


NULL_THREAD: AgentThread = _NullAgentThread(
    thread_id="",
    agent_path="",
    parent=None,
    depth=0,
    task_name=None,
    nickname=None,
    role=None,
    model="",
    provider_name="",
    _done=False,
    _live=False,
)


class _NullTurn(NullLifecycle, Turn):
    """The disabled twin of :class:`Turn`."""

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


NULL_TURN: Turn = _NullTurn(
    thread=NULL_THREAD, turn_id="", last_agent_message=None, _done=False, _live=False
)


def _is_tool_output(item: Any) -> bool:
    return isinstance(item, Mapping) and item.get("type") in CALL_OUTPUT_TYPES


def _agent_name(rt: Runtime, name: str) -> str:
    """``name`` as an agent path segment Codex reads: an invalid one is rewritten (and
    counted), never recorded to make the bundle unreadable."""
    text = rt.text(name)
    if _AGENT_NAME.fullmatch(text) and text != "root":
        return text
    rt.sink.values.note("agent name")
    fixed = _NOT_AGENT_NAME.sub("_", text.lower()).strip("_") or "agent"
    return "root_agent" if fixed == "root" else fixed
