"""One Agents SDK trace's bundle, for :class:`~.agents.RolloutTraceProcessor`: the rollout
held open in the processor's loop thread until the trace ends, the span map, and what the
agent spans record on the threads (which thread an agent's turn runs in, handoffs, the runs
that paused with calls waiting). The processor finds a span's recording and calls in here;
its callbacks come from any thread, so they hold the recording's ``lock``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import threading
from typing import TYPE_CHECKING, Any, Final

from ..model.layout import AGENT_TOOL_EVENT
from ..record.items import task_message
from ..record.runtime import ENDED_AS, Outcome, warn
from ..record.threads import AgentThread
from ..record.turns import Turn
from ._agent_early import EarlySpans
from ._agent_paused import PausedRuns, outlive
from ._agent_spans import PausedAgentRun, SpanScope, error_text, settle, take_call

if TYPE_CHECKING:  # the SDK's trace and the processor, named in annotations only
    from agents.tracing import Trace

    from ..record.rollout import Rollout
    from .agents import RolloutTraceProcessor

__all__ = ["TraceRecording"]

_NAME_CHARS: Final = re.compile(r"[^a-z0-9_]+")
#: The span map's key for the root-thread turn of spans outside every agent.
_OUTSIDE: Final = "__outside_agents__"
#: What the rollout's exit is handed for how the run ended (see ``hold``).
_ENDINGS: Final[dict[Outcome, BaseException | None]] = {
    "completed": None,
    "failed": RuntimeError("the Agents SDK run failed"),
    "cancelled": asyncio.CancelledError(),
}


class TraceRecording:
    """One trace's bundle: the rollout held open in the loop thread, and the span map."""

    def __init__(
        self, processor: RolloutTraceProcessor, trace: Trace, *, resumed: bool = False
    ) -> None:
        self.processor = processor
        self.lock = threading.Lock()
        self.ready = threading.Event()
        #: whether the bundle was asked to open (see ``RolloutTraceProcessor._ready``)
        self.opened = False
        #: the root agent's name, given to ``open_rollout`` (the first agent span's)
        self.nickname: str | None = None
        #: the spans that started before the bundle opened, in order (no more than are
        #: open at once: the first span to end opens the bundle)
        self.before: list[Any] = []
        #: a run resumed from a ``RunState`` (see ``RolloutTraceProcessor._resumed``)
        self.resumed = resumed
        self.rollout: Rollout | None = None
        self.done: asyncio.Event | None = None
        self.spans: dict[str, SpanScope] = {}
        self.threads: dict[str, AgentThread] = {}  # top-level agents by name (the latest)
        #: agent paths of the threads whose agent runs now (a turn open): an agent that
        #: starts while its thread is busy (two runs of it at once in one trace) gets a thread
        #: of its own, since a thread's turns follow one another
        self.busy: set[str] = set()
        #: a handoff's note to an agent that has a thread already (sender's path, text):
        #: delivered into that agent's next turn, where the send_message edge lands
        self.notes: dict[str, tuple[str, str]] = {}
        self.paths: set[str] = {"/root"}
        self.root_used = False
        self.trace = trace
        self.future: concurrent.futures.Future[Any] | None = None
        #: each top-level agent thread, by agent path, with how its latest turn ended; and
        #: how the run ended (the last one's)
        self.outcomes: dict[str, tuple[AgentThread, Outcome]] = {}
        self.outcome: Outcome = "completed"
        #: a resumed run's outermost span (see ``_resumed``): its end ends the bundle
        self.resumed_by: str | None = None
        #: the trace's first model call is yet to come: a resumed run's (its trace started
        #: anew in another process, or reattached here), its request may answer calls the
        #: paused run left waiting that were rejected (see ``PausedCalls.answered``)
        self.rejections_unseen = True
        #: the runs of this trace that ended with calls waiting (for approval)
        self.paused = PausedRuns()
        #: the spans a resumed run starts before its agent span, held for it (SDKs < 0.24)
        self.early = EarlySpans()

    async def hold(self) -> None:
        """In the loop thread: open the rollout and keep it open until the trace ends; then
        end the agents' threads as their latest turns ended, and the rollout as the run did
        (the ``async with`` protocol spelled out: the run's failure or cancellation is
        handed to the rollout's exit as the exception it would have been)."""
        self.done = asyncio.Event()
        scope = self.processor._open_rollout(nickname=self.nickname)
        try:
            self.rollout = await scope.__aenter__()
            self.ready.set()
            try:
                await self.done.wait()
                self.end_threads()
            except BaseException as exc:
                await scope.__aexit__(type(exc), exc, exc.__traceback__)
                raise
            ending = _ENDINGS[self.outcome]
            await scope.__aexit__(type(ending) if ending else None, ending, None)
        finally:
            self.ready.set()

    def end_threads(self) -> None:
        """End the turn opened for spans outside every agent, and each agent's thread
        (the root's ends with the rollout) as its latest turn ended."""
        rollout = self.rollout
        self.end_outside()
        for thread, outcome in self.outcomes.values():
            if rollout is not None and thread is not rollout.root:
                thread.end(ENDED_AS[outcome])

    def end_outside(self) -> None:
        """End the root-thread turn opened for spans outside every agent (``_root_turn``),
        if one is open."""
        outside = self.spans.pop(_OUTSIDE, None)
        if outside is not None:
            outside.turn.end()

    def root_turn(self) -> Turn:
        """A span outside every agent span (a custom span before, around or after the run): a
        turn of the root thread opened for such spans, ended when an agent's turn begins on the
        root thread or when the trace ends."""
        rollout = self.rollout
        assert rollout is not None
        ctx = self.spans.get(_OUTSIDE)
        if ctx is None or ctx.turn.ended:
            ctx = SpanScope(rollout.root.turn(), "")
            self.spans[_OUTSIDE] = ctx
        return ctx.turn

    def close(self) -> None:
        done, future = self.done, self.future
        if done is not None:
            self.processor.loop().loop.call_soon_threadsafe(done.set)
        if future is not None:
            try:
                future.result(timeout=self.processor.close_timeout + self.processor.write_timeout)
            except Exception as exc:
                warn(
                    f"rollout trace: closing the Agents SDK trace's bundle failed: {exc!r}",
                    kind="closing an Agents SDK bundle failed",
                )

    # --- waiting for the writer ------------------------------------------------------------

    def room(self) -> None:
        """Block this (non-loop) thread while the writer holds more than half its budget."""
        rollout = self.rollout
        if rollout is None or not rollout.backlogged:
            return
        loop = self.processor.loop()
        if threading.current_thread() is loop.thread:
            return
        try:
            loop.submit(rollout.flush()).result(timeout=self.processor.close_timeout)
        except Exception as exc:
            warn(
                f"rollout trace: waiting for the bundle writer failed: {exc!r}",
                kind="waiting for the writer failed",
            )

    # --- threads ---------------------------------------------------------------------------

    def task_name(self, parent: AgentThread, agent: str) -> str:
        """An agent path segment for ``agent`` under ``parent``, unique in the bundle."""
        base = _NAME_CHARS.sub("_", agent.lower()).strip("_") or "agent"
        name, n = base, 1
        while f"{parent.agent_path.rstrip('/')}/{name}" in self.paths:
            n += 1
            name = f"{base}_{n}"
        self.paths.add(f"{parent.agent_path.rstrip('/')}/{name}")
        return name

    def agent_started(self, span: Any, parent: SpanScope | None) -> SpanScope:
        data = span.span_data
        name = str(getattr(data, "name", None) or "agent")
        rollout = self.rollout
        assert rollout is not None
        as_tool = parent is not None and parent.tool is not None
        resumed = parent.inner if parent is not None and as_tool else None
        if resumed is not None and parent is not None:
            parent.inner = None
        if resumed is not None and resumed.turn is not None:
            # its paused run, resumed in its call run again: its thread
            thread = resumed.turn.thread
        elif as_tool:
            assert parent is not None
            caller = parent.turn.thread
            thread = caller.spawn(self.task_name(caller, name), nickname=name)
            if parent.tool is not None:  # which call runs it (a skipped event: view/agent_tools)
                link = {"tool_call_id": parent.tool.tool_call_id, "thread_id": thread.thread_id}
                caller.protocol_event(AGENT_TOOL_EVENT, link)
        elif name in self.threads and self.threads[name].agent_path not in self.busy:
            thread = self.threads[name]
        elif not self.root_used:
            thread = rollout.root
        else:  # reached without a handoff span we saw: a child of the root
            thread = rollout.root.spawn(self.task_name(rollout.root, name), nickname=name)
        if not as_tool:
            self.threads[name] = thread
            self.busy.add(thread.agent_path)
        if thread is rollout.root:
            # the turn spans outside every agent were recorded in ends where the agent's begins
            self.end_outside()
        self.root_used = True
        ctx = SpanScope(thread.turn(), name, tuple(getattr(data, "tools", None) or ()))
        if as_tool:
            assert parent is not None
            # its calls that waited, else none: a run resumed from a state starts at its
            # top-level agent, and runs an agent as a tool's calls in that agent's call
            ctx.resuming = resumed.calls if resumed is not None else []
            ctx.as_tool = True
            ctx.caller = parent
        note = self.notes.pop(name, None) if not as_tool else None
        if note is not None:
            sender, text = note
            ctx.turn.accept_agent_message(task_message(sender, thread.agent_path, text))
        return ctx

    def agent_ended(self, span: Any, ctx: SpanScope) -> None:
        error = error_text(span) or ctx.error
        turn = ctx.turn
        settle(ctx.resuming)  # calls of the run it resumed that it did not run (rejected)
        caller = ctx.caller
        if ctx.as_tool and caller is not None:
            if ctx.unanswered and not error:  # perhaps paused: its caller's call tells
                waiting = list(ctx.unanswered)
                outlive(ctx.unanswered)
                turn.end("completed")
                caller.inner = PausedAgentRun(turn, waiting, caller.turn)
                return
            settle(ctx.unanswered)  # its run goes on in the caller's
            delivery = turn.report_result(status="errored" if error else "completed")
            turn.end("failed" if error else "completed", error=error)
            caller.turn.accept_agent_message(delivery)
            turn.thread.end("failed" if error else "completed")
            return
        # the SDK names the agent's tools on its span after the span has started
        ctx.tools = tuple(getattr(span.span_data, "tools", None) or ctx.tools)
        outcome: Outcome = "failed" if error else "cancelled" if ctx.stopped() else "completed"
        self.outcome = outcome
        self.outcomes[turn.thread.agent_path] = (turn.thread, outcome)
        self.busy.discard(turn.thread.agent_path)
        if outcome != "completed":  # (the agent span of a run that paused ends completed)
            settle(ctx.unanswered)
        if ctx.unanswered:  # the run may have paused there, its tools to approve
            self.paused.paused(ctx)
        turn.end(outcome, error=error)

    def handoff(self, span: Any, ctx: SpanScope) -> None:
        data = span.span_data
        target = str(getattr(data, "to_agent", None) or "")
        source = str(getattr(data, "from_agent", None) or ctx.agent)
        error = error_text(span)
        if not target:
            ctx.turn.thread.protocol_event("agents_sdk_handoff", {"from_agent": source})
            if error:
                self.failed_handoff(ctx, error)
            return
        call = take_call(
            ctx,
            lambda item: item.get("type") == "function_call" and item.get("name") not in ctx.tools,
        )
        call_id = str(call.get("call_id")) if call else f"handoff_{span.span_id}"
        message = f"Handoff from {source} to {target}"
        existing = self.threads.get(target)
        turn = ctx.turn
        if existing is None:
            caller = turn.thread
            task = self.task_name(caller, target)
            tool = turn.tool_call(
                call_id,
                "spawn_agent",
                namespace="handoff",
                arguments={"task_name": task, "message": message},
            )
            self.threads[target] = tool.spawn_agent(task, nickname=target)
        else:
            tool = turn.tool_call(
                call_id,
                "send_message",
                namespace="handoff",
                arguments={"target": existing.agent_path, "message": message},
            )
            tool.agent_interacted(existing)
            self.notes[target] = (turn.thread.agent_path, message)
        if error:
            tool.failed(error)
        else:
            tool.completed(None)

    @staticmethod
    def failed_handoff(ctx: SpanScope, error: str) -> None:
        """A handoff whose invocation failed and was answered (openai-agents 0.25's
        ``Handoff.failure_error_function``: the span ends with an error and no target agent,
        the model reads the error as the call's output and its agent goes on): the model's
        call is a failed tool call, as a function tool's that failed is, not lost."""
        call = take_call(
            ctx,
            lambda item: item.get("type") == "function_call" and item.get("name") not in ctx.tools,
        )
        if call is None:
            return
        ctx.turn.tool_call(
            str(call.get("call_id")),
            str(call.get("name")),
            namespace="handoff",
            arguments=call.get("arguments"),
        ).failed(error)
