"""The multi-agent tools' effects on other threads: a spawn, a message delivered, an agent
stopped, a wait on agents (a base of :class:`~.tools.ToolCall`, which has the rest, under
``_tool_runtime``'s).

Both reducers read these as ``SubAgentActivity`` and wait runtime payloads and build
interaction edges from them; an activity they cannot read (a kind that does not fit the
tool, a thread never recorded, a message they cannot find) makes them refuse the whole
bundle, so each is checked here and left out, with a warning, rather than written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

from ..model import events as ev
from . import tool_kinds
from ._handle import ToolWork
from .runtime import now_ms, warn

if TYPE_CHECKING:
    from .threads import AgentThread
    from .turns import Turn

ActivityKind = Literal["started", "interacted", "interrupted"]

#: Which tool kinds may report which SubAgentActivity (anything else fails the reduction).
_ACTIVITY_KINDS: Final[dict[str, frozenset[str]]] = {
    "started": frozenset({"spawn_agent"}),
    "interacted": frozenset({"send_message", "assign_agent_task"}),
    "interrupted": frozenset({"close_agent"}),
}
#: Each activity in words, for the warning.
_ACTIVITY_WORDS: Final[dict[str, str]] = {
    "started": "a spawn",
    "interacted": "a message to an agent",
    "interrupted": "an agent stopped",
}
#: Activities whose message both reducers read from the call's invocation (a spawn's task, a
#: message sent): without the invocation they refuse the whole bundle.
_DELIVERS_MESSAGE: Final = frozenset({"started", "interacted"})


class AgentToolWork(ToolWork):
    """A tool call's multi-agent side; see :class:`~.tools.ToolCall` for the call itself."""

    __slots__ = ("_work",)
    #: the runtime work the call records (see ``_claim``)
    _work: str | None
    # set by ToolCall.__init__ (its slots)
    _turn: Turn
    _invocation: bool
    _arguments: Any
    kind: ev.ToolCallKind
    name: str

    def _claim(self, work: str) -> bool:
        """Whether this call may record ``work`` now: the first runtime work of a call is
        recorded, and any other after it is refused (the caller warns)."""
        if self._work is not None:
            return False
        self._work = work
        return True

    def _activity(
        self,
        kind: ActivityKind,
        target: AgentThread,
        model: str | None = None,
        reasoning_effort: str | None = None,
    ) -> None:
        if self._over():  # the call has ended: the edge would be made after its end
            return
        if self.kind.type not in _ACTIVITY_KINDS[kind]:
            # the reducer fails on an activity that does not fit the tool's kind
            warn(self._misfit(kind), kind="agent activity on another tool")
            return
        if not self._live:
            return
        # past the bundle's ceiling (``Runtime.counted_only``) a call counts what it would
        # record: the same checks as a recorded one, so that what the uncapped run refuses
        # (a second activity, a message without text) is refused, warned about, not counted
        counted = self._rt.counts_only
        if not target.enabled:
            # a null thread (its start was dropped by a full queue with overflow="drop", or
            # it belongs to a disabled rollout): its id is empty, no UUID, and both reducers
            # refuse the whole bundle for an activity naming it
            warn(
                f"rollout trace: tool call {self.tool_call_id} names an agent thread that was "
                f"not recorded; its {kind} activity is left out",
                kind="agent activity naming an unrecorded thread",
            )
            return
        if kind in _DELIVERS_MESSAGE and not self._invocation and not counted:
            self._rt.sink.lost_event()  # lost with the invocation, counted with it
            warn(
                f"rollout trace: tool call {self.tool_call_id} lost its invocation (the queue "
                f"was full); its {kind} activity is left out",
                kind="agent activity without its invocation",
            )
            return
        if kind in _DELIVERS_MESSAGE and not tool_kinds.holds_message(self._arguments):
            warn(
                f"rollout trace: tool call {self.tool_call_id}'s arguments hold no message "
                f"text; its {kind} activity is left out (both reducers read what the agent "
                f'was told from its "message" argument: arguments={{..., "message": task}})',
                kind="agent message without message text",
            )
            return
        if kind in _DELIVERS_MESSAGE and target.ended:
            # recorded (it is what the tool did), but no turn of the target can accept the
            # message now, and an undelivered message lands no edge: say so
            warn(
                f"rollout trace: tool call {self.tool_call_id} sends a message to "
                f"{target.agent_path}, whose thread had ended: it cannot be delivered, so no "
                f"{self.kind.type} edge will land (keep the agent open across its turns)",
                kind="agent message to an ended thread",
            )
        if not self._claim("activity"):
            # the edge's id is the call's: a second activity (one message to two agents)
            # would give two edges one id, which both reducers refuse
            warn(
                f"rollout trace: tool call {self.tool_call_id} recorded its agent activity already",
                kind="second agent activity",
            )
            return
        if target._rt.counts_only and not counted:
            # started past the bundle's ceiling: the activity would name a thread the bundle
            # does not hold; counted with what it holds not
            self._rt.sink.lost_event()
            return
        self._runtime_ended(
            {
                "model": model,
                "reasoning_effort": reasoning_effort,
                "event_id": self.tool_call_id,
                "occurred_at_ms": now_ms(),
                "agent_thread_id": target.thread_id,
                "agent_path": target.agent_path,
                "kind": kind,
            },
            "completed",
        )

    def _misfit(self, kind: ActivityKind) -> str:
        """Why an activity that does not fit this tool's kind is left out, and what to do: a
        loop's own sub-agent tool (``delegate``, ``ask_expert``) is the natural case."""
        what = _ACTIVITY_WORDS[kind]
        names = tool_kinds.names_of(_ACTIVITY_KINDS[kind])
        arguments = '{..., "message": task}' if kind in _DELIVERS_MESSAGE else "..."
        return (
            f"rollout trace: tool call {self.tool_call_id} ({self.name}) cannot record agent "
            f"activity ({what}): both reducers take {what} only from a "
            f"{' or '.join(names)} call and would refuse the whole bundle, so it "
            f"is left out and no edge links the agents. Record the call as "
            f"turn.tool_call(call_id, {names[0]!r}, arguments={arguments}) "
            f"(docs/recording.md, Sub-agents)"
        )

    # AgentThread.spawn's keywords (no provider_name, plus reasoning_effort): a signature callers read
    def spawn_agent(
        self,
        task_name: str,
        *,
        nickname: str | None = None,
        role: str | None = None,
        thread_id: str | None = None,
        model: str | None = None,
        reasoning_effort: str | None = None,
    ) -> AgentThread:
        """This spawn_agent call started a child thread. The spawn edge lands on the task
        message delivered to the child (:func:`task_message` with the call's ``message``).

        A call whose tool is not ``spawn_agent`` still spawns the child but records no
        activity (with a warning): the reducer would refuse it.

        Args:
            task_name: the last segment of the child's agent path.
            nickname: the agent's display name.
            role: the agent's role.
            thread_id: the child's thread id; a fresh UUID when not given.
            model: the child's model; the parent thread's when not given.
            reasoning_effort: the reasoning effort the child was asked to use.

        Returns:
            The child thread (a null thread when the parent is not live or this call has
            ended: a spawn after the call's end is refused, as a turn's after its end).
        """
        if self._over():
            return null_thread()
        parent = self._turn.thread
        child = parent.spawn(
            task_name, nickname=nickname, role=role, thread_id=thread_id, model=model
        )
        self._activity("started", child, child.model, reasoning_effort)
        return child

    def agent_interacted(self, target: AgentThread) -> None:
        """This send_message / followup_task call delivered to ``target``.

        Args:
            target: the thread the message went to.
        """
        self._activity("interacted", target)

    def agent_interrupted(self, target: AgentThread) -> None:
        """This interrupt_agent / close_agent call stopped ``target``.

        Args:
            target: the thread that was stopped.
        """
        self._activity("interrupted", target)

    def wait_started(self, targets: Sequence[AgentThread] = ()) -> None:
        """This wait_agent call starts waiting on ``targets`` (all agents when empty).

        Args:
            targets: the threads waited on; null threads (never recorded) are left out.
        """
        if not self._live or self._over():
            return
        self._runtime_started(
            {
                "started_at_ms": now_ms(),
                "sender_thread_id": self._turn.thread.thread_id,
                "receiver_thread_ids": [t.thread_id for t in targets if t.enabled],
                "call_id": self.tool_call_id,
            },
            self.kind,
        )

    def wait_ended(self, statuses: Mapping[str, Any] | None = None) -> None:
        """This wait_agent call stopped waiting.

        Args:
            statuses: each waited-on agent's status, by thread id, as the tool reported it.
        """
        if not self._live:
            return
        self._runtime_ended(
            {
                "sender_thread_id": self._turn.thread.thread_id,
                "call_id": self.tool_call_id,
                "completed_at_ms": now_ms(),
                "statuses": dict(statuses or {}),
            },
            "completed",
        )


def null_thread() -> AgentThread:
    """The null thread a refused spawn hands out (``threads`` comes after this module: it
    makes tool calls, so it is imported on first use)."""
    from .threads import NULL_THREAD

    return NULL_THREAD
