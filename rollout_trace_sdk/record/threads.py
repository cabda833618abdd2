"""Agent threads: one agent's conversation (``/root`` or a spawned ``/root/<task>``).

A thread records its start when created and its end when its ``async with`` block exits (or
when ``end()`` is called, whichever comes first), so a loop can use it either as a context
manager or as a plain object. It makes the turns that work on it (``turns``) and the
threads it spawns.

Every class here has a null twin (``_Null…``) that the disabled recorder hands out: the same
methods, doing nothing, so agent code never asks whether tracing is on. The disabled turn
(``NULL_TURN``) is made here too: it belongs to the disabled thread, which ``turns`` cannot
import when it loads (a thread makes turns, so ``threads`` reads after ``turns``).
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from typing import Any, Final

from ..model import events as ev
from . import _codex_protocol as protocol
from ._fields import as_optional_text
from ._handle import Handle, started
from ._text import shown
from .items import ItemIds, plain
from .runtime import (
    ENDED_AS,
    NullLifecycle,
    Outcome,
    Runtime,
    ignore,
    returning,
    thread_id_text,
    uuid7,
    warn,
)
from .turns import Turn, _NullTurn

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
        # once its configuration is recorded, as before. Dropped because the bundle reached
        # its ceiling, it goes on counting what it would record (``_start_dropped``).
        if not self._emit(ev.ThreadStarted(thread_id, agent_path, ref)) and self._start_dropped():
            return
        rt = self._rt
        rt.thread_ids.add(thread_id)
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
            thread_id=_thread_id(thread_id, self._rt.thread_ids),
            agent_path=f"{self.agent_path.rstrip('/')}/{task_name}",
            parent=self,
            task_name=task_name,
            # payload fields Codex reads as strings (a bundle holding another type is refused)
            nickname=as_optional_text(nickname),
            role=as_optional_text(role),
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
            payload.update(plain(body))  # a model or a dataclass: the dict it holds
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


def _thread_id(requested: str | None, taken: set[str]) -> str:
    if requested is None:
        return uuid7()
    text = thread_id_text(requested)
    if text is None:
        warn(
            f"rollout trace: thread id {shown(requested)} is not a UUID; using a generated one",
            kind="thread id not a UUID",
        )
        return uuid7()
    if text in taken:  # both reducers refuse a bundle starting one thread twice
        warn(
            f"rollout trace: thread id {text} is already a thread's; using a generated one",
            kind="thread id used twice",
        )
        return uuid7()
    return text


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

#: the disabled thread's turn, what a disabled or ended thread hands out
NULL_TURN: Turn = _NullTurn(
    thread=NULL_THREAD, turn_id="", last_agent_message=None, _done=False, _live=False
)


def _agent_name(rt: Runtime, name: str) -> str:
    """``name`` as an agent path segment Codex reads: an invalid one is rewritten (and
    counted), never recorded to make the bundle unreadable."""
    text = rt.text(name)
    if _AGENT_NAME.fullmatch(text) and text != "root":
        return text
    rt.sink.values.note("agent name")
    fixed = _NOT_AGENT_NAME.sub("_", text.lower()).strip("_") or "agent"
    return "root_agent" if fixed == "root" else fixed
