"""What the Agents SDK processor records into, and the spans that record calls: a
``response`` or ``generation`` span is one inference call, a ``function`` span one tool call
(its model call id taken from the function calls of its agent's latest response)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..model.layout import APPROVAL_EVENT
from ..record._plain import to_plain
from ..record.threads import AgentThread
from ..record.tools import ToolCall
from ..record.turns import Turn
from ._agent_waits import awaits_approval


class SpanScope:
    """What a span records into: its agent's thread and turn, and for a function span its
    tool call."""

    __slots__ = (
        "agent",
        "answers_paused",
        "as_tool",
        "call",
        "call_id",
        "caller",
        "calls",
        "error",
        "inner",
        "interrupted",
        "output_type",
        "resuming",
        "running",
        "tool",
        "tools",
        "turn",
        "unanswered",
    )

    def __init__(self, turn: Turn, agent: str, tools: Sequence[str] = ()) -> None:
        self.turn = turn
        self.agent = agent
        self.tools = tools
        self.tool: ToolCall | None = None
        #: the model's call id of that tool call (its output answers it), and the call
        self.call_id = ""
        self.call: dict[str, Any] | None = None
        #: the type of the item that answers it (``None``: the tool's own, see SPAN_CALLS)
        self.output_type: str | None = "function_call_output"
        #: the function calls of this agent's latest response not yet matched to a span
        self.calls: list[dict[str, Any]] = []
        self.as_tool = False
        #: an agent run as a tool's: the function span that runs it
        self.caller: SpanScope | None = None
        #: a function span's: the agent run as a tool under it that ended with calls
        #: waiting (perhaps paused), or the one its resumed call continues
        self.inner: PausedAgentRun | None = None
        #: the first error of a task or turn span under this agent (a guardrail's tripwire is
        #: set there, not on the agent's span): the agent's turn then fails
        self.error = ""
        #: its latest model call ended before the model answered (the run was cancelled)
        self.interrupted = False
        #: the agent's function spans started and not ended (shared with its children)
        self.running: set[str] = set()
        #: the model's calls whose function span ended without a result and no model call
        #: since (shared), their tool calls still open: calls left waiting for approval if
        #: the run ends here, else tools that returned ``None``
        self.unanswered: list[WaitingCall] = []
        #: an agent's: the calls of the paused run it resumes (see ``resume``), while its
        #: function spans come before any model call of its own; ``None``: none chosen yet
        #: (``[]`` once its run makes a model call: it resumes none from then on)
        self.resuming: list[WaitingCall] | None = None
        #: an agent's, in a run resumed in a bundle of its own whose first model call came
        #: before any function span: that call's request answers the calls rejected
        self.answers_paused = False

    def inherit(self) -> SpanScope:
        child = SpanScope(self.turn, self.agent, self.tools)
        child.calls = self.calls  # shared: a function span takes its call from its agent's list
        child.running = self.running
        child.unanswered = self.unanswered
        return child

    def stopped(self) -> bool:
        """Whether the agent's run was stopped (cancelled) in the middle of its work: its
        latest model call never answered, a tool it started never ended, or the model asked
        for tools that never ran (a handoff the SDK skipped is not a tool of the agent's)."""
        return (
            self.interrupted
            or bool(self.running)
            or any(call.get("name") in self.tools for call in self.calls)
        )


def error_text(span: Any) -> str | None:
    """The span's error as one line: its message and, when the SDK kept it, the detail (a
    tripped guardrail's name is in the data only: without it the turn's error would not say
    which guardrail stopped the run)."""
    error = getattr(span, "error", None)
    if not error:
        return None
    message = str(error.get("message") or "error")
    data = error.get("data")
    detail = (data.get("error") or data.get("guardrail")) if isinstance(data, Mapping) else None
    return f"{message}: {detail}" if detail else message


class WaitingCall:
    """A model's call whose ``function`` span ended with no result: the tool returned
    ``None``, or the call waits for an approval (the SDK traces both alike; what it says
    when the span ends keeps only a call waiting here, ``_agent_waits``). ``tool`` is its
    tool call, still open in this bundle (``None``: ended, or a call a paused run of another
    bundle left), ended with ``answer`` (the ``"None"`` the SDK traced) by :meth:`settle`
    unless a resumed run runs it."""

    __slots__ = ("answer", "call", "inner", "thread", "tool")

    def __init__(
        self,
        call: dict[str, Any],
        tool: ToolCall | None = None,
        answer: dict[str, Any] | None = None,
        inner: PausedAgentRun | None = None,
        thread: AgentThread | None = None,
    ) -> None:
        self.call = call
        self.tool = tool
        #: the thread of ``tool``
        self.thread = thread
        self.answer = answer
        #: the call is an agent run as a tool's, which ended with calls of its own waiting
        self.inner = inner

    def runs_in(self, ctx: SpanScope) -> bool:
        """The function span ``ctx`` (of a resumed run) runs this call: whether its tool
        call is still open in this bundle, now ``ctx``'s to end."""
        if self.tool is None:
            return False
        call = self.call
        ctx.call_id, ctx.call, ctx.tool = str(call.get("call_id")), call, self.tool
        ctx.output_type = SPAN_CALLS.get(str(call.get("type")))
        ctx.inner, self.inner = self.inner, None  # the agent run as a tool it resumes
        self.tool = None
        return True

    def kept(self) -> WaitingCall:
        """The call, and those of the agent run as a tool under it, with no tool call of
        this bundle: for a run resumed in another bundle."""
        inner = self.inner
        calls = [call.kept() for call in inner.calls] if inner is not None else None
        return WaitingCall(dict(self.call), inner=PausedAgentRun(None, calls) if calls else None)

    def left_waiting(self) -> None:
        """Its run ended with it waiting and no run resumed in the trace ran it: it was
        waiting for an approval (a tool that returned ``None`` and stopped the run is traced
        alike: one the SDK did not say ran, ``_agent_waits``, is recorded so too), so it is
        left running, with its agent run as a tool's
        calls, and an ``agents_sdk_approval`` event (``pending``) says why; a run resumed
        in another bundle runs it there (:func:`approval`)."""
        tool, self.tool = self.tool, None
        inner, self.inner = self.inner, None
        if inner is not None:
            inner.left_waiting()
        if tool is not None and self.thread is not None:
            approval(self.thread, tool, self.call, "pending")
        if tool is not None:
            tool.left_open()

    def settle(self) -> None:
        """End the call as the SDK traced it: what runs next is no resumed run of it."""
        tool, self.tool = self.tool, None
        inner, self.inner = self.inner, None
        if inner is not None:
            inner.finish()
        if tool is not None:
            tool.completed(self.answer)


class PausedAgentRun:
    """An agent run as a tool that ended with calls waiting (``calls``): paused for an
    approval, the SDK's pending result making its caller's ``function`` span end with no
    result, or its tools returned ``None`` and it stopped there (traced alike, when the SDK
    did not say they ran: ``_agent_waits``). Its thread
    stays open, its calls too, while its caller's call waits: a resumed run runs that call
    again, and in it this agent's run resumed from its state, recorded as a later turn of
    this thread (one thread per call, its calls run there). Else :meth:`finish` ends it.
    With no ``turn``: one a paused run of another bundle left (:meth:`WaitingCall.kept`),
    whose resumed run is a thread of its own here that runs its calls."""

    __slots__ = ("caller", "calls", "turn")

    def __init__(
        self, turn: Turn | None, calls: list[WaitingCall], caller: Turn | None = None
    ) -> None:
        self.turn = turn
        self.calls = calls
        self.caller = caller

    def left_waiting(self) -> None:
        """Its caller's call was left waiting (:meth:`WaitingCall.left_waiting`): so are
        its calls; its thread ends (the run paused)."""
        for call in self.calls:
            call.left_waiting()
        self.calls.clear()
        if self.turn is not None:
            self.turn.thread.end("completed")

    def finish(self) -> None:
        """No resumed run goes on with it: its calls end as the SDK traced them, and its
        thread. Its caller's turn still running (the run went on: the tools returned
        ``None``), the run's result is reported there; ended (the trace ended with the run
        paused), the run gave its caller no result, and none is reported."""
        settle(self.calls)
        turn, caller = self.turn, self.caller
        if turn is None:
            return
        if caller is not None and not caller.ended:
            caller.accept_agent_message(turn.report_result(status="completed"))
        turn.thread.end("completed")


def approval(
    thread: AgentThread, tool: ToolCall, call: Mapping[str, Any] | None, status: str
) -> None:
    """Record that the tool call ``tool`` of ``thread`` (the model's ``call``) waits for an
    approval (``pending``), or was ``approved`` (a resumed run runs it) or ``rejected``: a
    protocol event both Codex reducers skip (its envelope names no thread: the body does),
    read by ``view/approvals.py`` for ``show``, the page and the exports."""
    body = {
        "tool_call_id": tool.tool_call_id,
        "call_id": (call or {}).get("call_id"),
        "thread_id": thread.thread_id,
        "status": status,
    }
    thread.protocol_event(APPROVAL_EVENT, body)


def rejected(waiting: list[WaitingCall] | None) -> None:
    """The calls of ``waiting`` a resumed run did not run before its model call were
    rejected (its request answers them with the rejection): said for those of this bundle
    (:func:`approval`), before they end (:func:`settle`)."""
    for call in waiting or ():
        if call.tool is not None and call.thread is not None and call.inner is None:
            approval(call.thread, call.tool, call.call, "rejected")


def settle(waiting: list[WaitingCall] | None) -> None:
    """End each call of ``waiting`` as the SDK traced it (:meth:`WaitingCall.settle`), and
    empty the list."""
    for call in waiting or ():
        call.settle()
    if waiting:
        waiting.clear()


def take_call(ctx: SpanScope, fits: Any) -> dict[str, Any] | None:
    """Take the first pending function call of the agent's latest response that ``fits``."""
    index = _first(ctx.calls, fits)
    return None if index is None else ctx.calls.pop(index)


def _first(calls: Sequence[dict[str, Any]], fits: Any) -> int | None:
    return next((index for index, item in enumerate(calls) if fits(item)), None)


#: The model's calls a ``function`` span runs, by item type, with the type of the item the
#: SDK answers each with. ``None``: the client-run tools' outputs (``computer_call_output``,
#: ``shell_call_output``, ``apply_patch_call_output``) are items of their own the span's
#: output does not give whole; the next request carries them, and the call ends with none.
SPAN_CALLS: Final[dict[str, str | None]] = {
    "function_call": "function_call_output",
    "custom_tool_call": "custom_tool_call_output",
    "computer_call": None,
    "shell_call": None,
    "apply_patch_call": None,
}
#: The client-run tools' call types by the name of the span the SDK runs them under (the
#: tool's default name; a tool named otherwise takes the first client-run call waiting).
_CLIENT_RUN: Final = {
    "computer": "computer_call",
    "shell": "shell_call",
    "apply_patch": "apply_patch_call",
}


def take_span_call(ctx: SpanScope, name: str) -> dict[str, Any] | None:
    """The call of the agent's latest response that the function span ``name`` runs (see
    :func:`span_call`)."""
    index = span_call(ctx.calls, name)
    return None if index is None else ctx.calls.pop(index)


def span_call(calls: Sequence[dict[str, Any]], name: str) -> int | None:
    """Where among ``calls`` is the one the function span ``name`` runs: a function or
    custom tool call of that name, else a client-run tool's call (which has no name)."""
    index = _first(
        calls,
        lambda item: (
            item.get("name") == name and item.get("type") in ("function_call", "custom_tool_call")
        ),
    )
    kind = _CLIENT_RUN.get(name)
    if index is None and kind:
        index = _first(calls, lambda item: item.get("type") == kind)
    if index is None:
        index = _first(calls, lambda item: item.get("type") in _CLIENT_RUN.values())
    return index


def function_calls(items: Any) -> list[dict[str, Any]]:
    """The calls among a response's output that function spans run (:data:`SPAN_CALLS`), as
    dicts (the type is looked at first: turning every message into a dict would cost more
    than recording it)."""
    calls = []
    for item in items or ():
        kind = item.get("type") if type(item) is dict else getattr(item, "type", None)
        try:
            wanted = kind in SPAN_CALLS
        except TypeError:  # an unhashable type (an object, a list), as the SDK's models allow
            continue
        if wanted:
            plain = to_plain(item)
            if isinstance(plain, dict):
                calls.append(plain)
    return calls


# --- spans that record calls -------------------------------------------------------------------


def record_response(ctx: SpanScope, span: Any) -> None:
    """A Responses API call: the request is the span's input plus the response's settings
    (model, instructions, tools, the response or the conversation it continues: the run's
    ``previous_response_id`` / ``conversation_id``, which the response echoes), which is what
    was sent."""
    data = span.span_data
    response = data.response
    request: dict[str, Any] = {}
    if response is not None:
        request["model"] = response.model
        if response.instructions:
            request["instructions"] = response.instructions
    request["input"] = data.input if data.input is not None else []
    previous = getattr(response, "previous_response_id", None)
    if isinstance(previous, str):  # a run continuing the server's history (the input is new)
        request["previous_response_id"] = previous
    conversation = getattr(getattr(response, "conversation", None), "id", None)
    if isinstance(conversation, str):  # ``conversation_id=``: the server keeps the history
        request["conversation"] = conversation
    if response is not None and response.tools:
        request["tools"] = response.tools
    model = getattr(response, "model", None)
    settle(ctx.unanswered)  # the tools' results were sent (or never will be)
    call = ctx.turn.inference(
        request, model=model if isinstance(model, str) else None, started_at=_started(span)
    )
    error = error_text(span)
    if error:
        # a response the SDK could not use (``ModelBehaviorError``) was billed all the same:
        # openai-agents 0.25 sets its usage on the failed span (agents50)
        call.failed(error, token_usage=data.usage)
        return
    if response is None:
        response_id = getattr(data, "_response_id", None)
        if response_id is None and data.usage is None:
            # the span ended with nothing from the model and no error: the run was cancelled
            # (or a guardrail tripped) while the request was in flight
            call.cancelled("ended before the response")
            ctx.interrupted = True
            return
        call.completed(response_id=response_id, token_usage=data.usage)
        return
    ctx.interrupted = False
    call.completed(
        response_id=response.id,
        output_items=response.output,
        token_usage=response.usage if response.usage is not None else data.usage,
        upstream_request_id=getattr(response, "_request_id", None),
    )
    ctx.calls[:] = function_calls(response.output)


def record_generation(ctx: SpanScope, span: Any) -> None:
    """A Chat Completions (or other model's) call: ``input`` is the messages sent, ``output``
    the message(s) received; streamed, the SDK traces the answer as the Responses
    ``Response`` it built from the chunks, dumped (its output items are the answer). The
    tools offered (Chat Completions definitions, handoffs among them) are on the span from
    openai-agents 0.25 (``GenerationSpanData.tools``, when the run traces data): recorded
    as sent, as a response span's are."""
    data = span.span_data
    request: dict[str, Any] = {"messages": list(data.input or ())}
    if data.model:
        request = {"model": data.model, **request}
    tools = getattr(data, "tools", None)
    if tools:
        request["tools"] = to_plain(list(tools))
    settle(ctx.unanswered)
    model = data.model if isinstance(data.model, str) else None
    call = ctx.turn.inference(request, model=model, started_at=_started(span))
    error = error_text(span)
    if error:
        call.failed(error, token_usage=data.usage)  # billed all the same, when the SDK says
        return
    if data.output is None and data.usage is None:  # ended before the model answered
        call.cancelled("ended before the response")
        ctx.interrupted = True
        return
    ctx.interrupted = False
    output = _generated(data.output, data.model if isinstance(data.model, str) else None)
    call.completed(output_items=output, token_usage=data.usage)
    calls = function_calls(output)
    for message in output:
        for tool_call in (message.get("tool_calls") or ()) if isinstance(message, dict) else ():
            function = tool_call.get("function") or {}
            calls.append(
                {
                    "type": "function_call",
                    "call_id": tool_call.get("id"),
                    "name": function.get("name"),
                    "arguments": function.get("arguments"),
                }
            )
    ctx.calls[:] = calls


def _started(span: Any) -> str | None:
    """When a model call's span started (ISO-8601): the call's start. Its span is recorded
    whole at its end, where the SDK has set the request; recorded then, the call took no
    time (user49: 74 response spans summed 8,992 ms, the recorded calls 16 ms)."""
    started = getattr(span, "started_at", None)
    return started if isinstance(started, str) else None


def _generated(output: Any, model: str | None) -> list[Any]:
    """A generation span's output as the chat messages it holds. A dumped ``Response`` in it
    (what a streamed Chat Completions call traces) gives its output items as the messages
    the SDK sends back next (by the SDK's own rule), so that the next request's history
    is the same items; as they are when that rule is not there (another SDK version).

    The model's reasoning (a server's ``reasoning_content`` or ``reasoning``, which the
    SDK's stream handler made a ``reasoning`` item) is kept on the message as the server
    sent it, as an unstreamed answer has it: the SDK's rule puts it back only for the
    models it replays reasoning to, and the rollout lost it for every other."""
    answer: list[Any] = []
    for element in output or ():
        items = element.get("output") if isinstance(element, dict) else None
        if not isinstance(items, list) or element.get("object") != "response":
            answer.append(element)
            continue
        try:
            from agents.models.chatcmpl_converter import Converter

            try:
                messages = Converter.items_to_messages(
                    items, model=model, should_replay_reasoning_content=_replayed
                )
            except TypeError:  # an SDK without reasoning replay
                messages = Converter.items_to_messages(items)
            answer.extend(to_plain(messages))
        except Exception:
            answer.extend(items)
    return answer


def _replayed(context: Any) -> bool:
    """The SDK's reasoning replay rule, answered "always": see :func:`_generated`."""
    return True


def record_function(ctx: SpanScope, span: Any) -> None:
    tool = ctx.tool
    data = span.span_data
    error = error_text(span)
    result = _traced_result(data.output)
    inner, ctx.inner = ctx.inner, None
    waits = (  # perhaps waiting for approval (see below)
        tool is not None
        and not error
        and ctx.output_type is not None
        and result is None
        and ctx.call is not None
        # the SDK says its tool ran (it returned None): it waits for nothing, though it
        # may have stopped its run as a paused run stops (``_agent_waits``); an agent run
        # as a tool's call waits on its agent's calls
        and (inner is not None or awaits_approval(span) is not False)
    )
    if inner is not None and not waits:  # the agent run as a tool under it is over
        inner.finish()
        inner = None
    if tool is None:
        return
    if error:
        tool.failed(error)
        return
    if ctx.output_type is None:  # the next request carries its answer, an item of its own
        tool.completed()
        return
    # no result and no arguments: a run that traces no sensitive data (the result unknown);
    # no result but the arguments: the tool returned None
    unknown = result is None and data.input is None
    output = "" if unknown else _sent_output(result)
    answer = {"type": ctx.output_type, "call_id": ctx.call_id, "output": output}
    if waits:
        # open until the run goes on (the tool returned None) or a resumed run runs it
        assert ctx.call is not None
        ctx.unanswered.append(WaitingCall(ctx.call, tool, answer, inner, ctx.turn.thread))
        return
    tool.completed(answer)


def _traced_result(output: Any) -> Any:
    """A function span's output as the tool's result. openai-agents 0.19 traces a call
    waiting for approval with the SDK's ``FunctionToolResult`` (its ``output`` None, its
    ``run_item`` the ``ToolApprovalItem``) where 0.24 traces ``None``: it is no result (it
    was recorded as the call's answer, the object's repr, and the call as completed). A
    tool's own value is read no further than its ``run_item`` (what it raises, it is)."""
    if output is None or type(output) is str:
        return output
    try:
        run_item = getattr(output, "run_item", None)
        if run_item is not None and getattr(run_item, "type", None) == "tool_approval_item":
            return getattr(output, "output", None)
    except Exception:
        pass
    return output


def _sent_output(output: Any) -> Any:
    """A tool's return value as the SDK sends it to the model: text, or content parts for
    its structured outputs (``ToolOutputText``, ``ToolOutputImage``, ``ToolOutputFileContent``
    and lists of them), converted by the SDK's own rule; ``str`` when that rule is not there
    (another SDK version). A tool returning ``None`` sends ``"None"``, as any other value
    its ``str``."""
    if isinstance(output, str):
        return output
    try:
        from agents.items import ItemHelpers

        return to_plain(ItemHelpers._convert_tool_output(output))
    except Exception:
        return str(output)
