"""Runs paused for an approval and resumed from their ``RunState`` (openai-agents, the real
``Runner`` against the scripted API on 127.0.0.1): the resumed run's tool call is the call
its paused run left waiting, resumed in the caller's own trace (one bundle: one tool call
from the model's request to the output; also a call of an agent run as a tool, in that
agent's thread) or in a bundle of its own (several runs paused under one trace id: each
resumed run runs its own), reduced the same by Codex and by ours."""

from __future__ import annotations

import asyncio
import io
import json
import warnings
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("agents")

from agents import (
    Agent,
    RunConfig,
    Runner,
    RunResult,
    RunResultStreaming,
    StopAtTools,
    function_tool,
)
from agents.items import ToolApprovalItem, ToolCallOutputItem
from agents.tool import FunctionToolResult
from agents.tracing import trace

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.export.query import run as query
from rollout_trace_sdk.integrations._agent_spans import _traced_result
from rollout_trace_sdk.integrations._agent_waits import awaits_approval
from rollout_trace_sdk.integrations.agents import RolloutTraceProcessor
from rollout_trace_sdk.record import RecorderWarning
from rollout_trace_sdk.view.load import load_state
from rollout_trace_sdk.view.show import transcript_lines
from rollout_trace_sdk.view.show_format import render_plain

from ...record.recorder_support import loss_report, of_type, payload
from ..fake_agents_api import REPORT, WEATHER, FakeAgentsAPI
from .scripted import (
    QUESTION,
    approval_agent,
    asking_triage,
    reduce_both,
    register,
    responses_model,
    trace_bundles,
    weather_tool,
)


async def _paused(agent: Agent[Any], **options: Any) -> Any:
    """``agent``'s run paused at its tool's call, the call approved: the state to resume."""
    paused = await Runner.run(agent, QUESTION, **options)
    [interruption] = paused.interruptions
    state = paused.to_state()
    state.approve(interruption)
    return state


@pytest.mark.parametrize("schema", [2, 3])
def test_a_run_resumed_in_the_callers_trace_runs_the_paused_call(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor], schema: int
) -> None:
    """Paused and resumed inside one ``with trace(...)``: the resumed run's tool call was
    ``call_<span id>`` with arguments ``{}``, its output answering no call of the model, the
    model's call recorded run and answered ``"None"`` in the paused run's turn. Now it is one
    tool call, the model's: started in the paused run's turn, ended in the resumed run's
    with the tool's result, which answers the model's call in the request that follows; no
    warning, nothing lost."""
    register(processors, tmp_path, schema_version=schema)
    agent = approval_agent(fake.base_url)

    async def run() -> Any:
        with trace("approval"):
            return await Runner.run(agent, await _paused(agent))

    with warnings.catch_warnings():
        warnings.simplefilter("error", RecorderWarning)
        assert asyncio.run(run()).final_output == REPORT
    [bundle] = trace_bundles(tmp_path)
    state = reduce_both(bundle)
    paused_turn, resumed_turn = sorted(
        state["codex_turns"], key=lambda t: state["codex_turns"][t]["execution"]["started_seq"]
    )
    [tool] = state["tool_calls"].values()
    assert tool["tool_call_id"] == tool["model_visible_call_id"] == "call_weather"
    assert tool["summary"]["input_preview"] == '{"city":"Oslo"}'
    assert tool["started_by_codex_turn_id"] == paused_turn
    assert tool["execution"]["status"] == "completed"
    [ended] = of_type(bundle, "tool_call_ended")
    assert ended["codex_turn_id"] == resumed_turn  # it ran in the resumed run
    [output] = tool["model_visible_output_item_ids"]
    assert state["conversation_items"][output]["body"]["parts"][0]["text"] == WEATHER
    [request] = [c for c in state["inference_calls"].values() if c["codex_turn_id"] == resumed_turn]
    assert output in request["request_item_ids"]
    assert tool["model_visible_call_item_ids"][0] in request["request_item_ids"]
    assert not loss_report(bundle)


def _annotated(bundle: Path) -> list[dict[str, Any]]:
    """The tool calls of ``bundle`` as the readers load them (with their ``approval``)."""
    return list(load_state(bundle)["tool_calls"].values())


def _shown(bundle: Path) -> str:
    """``show``'s transcript of ``bundle``, plain."""
    out = io.StringIO()
    render_plain(transcript_lines(load_state(bundle)), out)
    return out.getvalue()


async def _resume(root: Path, runs: list[tuple[Agent[Any], Any]], config: RunConfig) -> list[Path]:
    """Resume each (agent, state) in turn: the bundle each resumed run made, in that order
    (told by the bundles that appear, whatever the clock's resolution)."""
    made = []
    for agent, state in runs:
        before = set(trace_bundles(root))
        assert (await Runner.run(agent, state, run_config=config)).final_output == REPORT
        [bundle] = set(trace_bundles(root)) - before
        made.append(bundle)
    return made


def _call(bundle: Path) -> tuple[str, str]:
    """The one tool call of a resumed run's bundle: its id and arguments."""
    [tool] = reduce_both(bundle)["tool_calls"].values()
    return tool["tool_call_id"], tool["summary"]["input_preview"]


@pytest.mark.parametrize("schema", [2, 3])
def test_the_paused_runs_bundle_says_its_call_waits_and_the_resumed_runs_that_it_was_approved(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor], schema: int
) -> None:
    """Paused and resumed with ``Runner.run``'s own traces (two bundles, openai-agents 0.25:
    a user's report, agents50). The paused run's call, which never ran, read ``completed →
    None`` in show, summary and the page, and nothing said it waited for an approval (the
    SDK traces it as a tool that returned ``None``). Now it is left running (no end, no
    result: Codex leaves an exec waiting for approval so) with an ``agents_sdk_approval``
    event that show and the page read (``waiting for approval``), and the resumed run's
    bundle says the call was approved and ran."""
    register(processors, tmp_path, schema_version=schema)
    agent = approval_agent(fake.base_url)

    async def run() -> Any:
        return (await Runner.run(agent, await _paused(agent))).final_output

    with warnings.catch_warnings():
        warnings.simplefilter("error", RecorderWarning)
        assert asyncio.run(run()) == REPORT
    paused, resumed = sorted(
        trace_bundles(tmp_path), key=lambda b: reduce_both(b)["started_at_unix_ms"]
    )
    [waiting] = reduce_both(paused)["tool_calls"].values()
    assert waiting["tool_call_id"] == "call_weather"
    assert waiting["execution"]["status"] == "running"
    assert waiting["execution"]["ended_seq"] is None
    assert waiting["raw_result_payload_id"] is None
    assert not of_type(paused, "tool_call_ended")
    [tool] = load_state(paused)["tool_calls"].values()
    assert tool["approval"] == "pending"
    assert "get_weather call_weather · running · waiting for approval" in _shown(paused)
    [ran] = load_state(resumed)["tool_calls"].values()
    assert (ran["tool_call_id"], ran["execution"]["status"]) == ("call_weather", "completed")
    assert ran["approval"] == "approved"
    assert "call_weather · completed · approved" in _shown(resumed)
    out, err = tmp_path / "tables", io.StringIO()
    command = ["export", str(paused), str(resumed), "--to", str(out)]
    assert main(command, out=io.StringIO(), err=err) == 0, err.getvalue()
    _, rows = query(out, "SELECT status, approval FROM tool_calls ORDER BY started_at")
    assert rows == [("running", "pending"), ("completed", "approved")]
    for bundle, status in ((paused, "pending"), (resumed, "approved")):  # summary says it too
        said = io.StringIO()
        assert main(["summary", str(bundle), "--json"], out=said, err=io.StringIO()) == 0
        assert json.loads(said.getvalue())["totals"]["tool_calls"]["by_approval"] == {status: 1}
    assert not loss_report(paused)
    assert not loss_report(resumed)


@pytest.mark.parametrize(
    ("second", "order"),
    [
        # two agents, resumed the later first: only the later paused run's calls were kept,
        # and the earlier's resumed run ran them (``call_bergen``, Bergen, in Asker's run)
        pytest.param("Bergen", (1, 0), id="two agents, the later resumed first"),
        # one agent, resumed in the order they paused: the first resumed run ran the later
        # paused run's call
        pytest.param("Asker", (0, 1), id="one agent, resumed in order"),
    ],
)
def test_runs_paused_under_one_trace_id_each_resume_their_own_calls(
    tmp_path: Path,
    fake: FakeAgentsAPI,
    processors: list[RolloutTraceProcessor],
    second: str,
    order: tuple[int, int],
) -> None:
    """Two runs paused under one trace id (``trace_id=`` a conversation's), each at a call
    of the same tool, then resumed: each resumed run runs its own paused run's call. A
    resumed run takes the oldest paused run of its agent and tool not resumed yet."""
    register(processors, tmp_path)
    agents = [
        approval_agent(fake.base_url),
        approval_agent(fake.base_url, second, "You ask for Bergen."),
    ]
    config = RunConfig(trace_id="trace_0123456789abcdef0123456789abcdef")

    async def run() -> list[Path]:
        states = [await _paused(agent, run_config=config) for agent in agents]
        return await _resume(tmp_path, [(agents[n], states[n]) for n in order], config)

    asked = [("call_weather", '{"city":"Oslo"}'), ("call_bergen", '{"city":"Bergen"}')]
    assert [_call(bundle) for bundle in asyncio.run(run())] == [asked[n] for n in order]


def test_a_call_rejected_in_the_callers_trace_is_answered_by_the_rejection(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """A call the resumed run rejects has no function span (the SDK writes the rejection as
    its output): its tool call, kept open past the paused run's turn, ends with the trace,
    and its output is the rejection the resumed run's request carried (a guard: as before)."""
    register(processors, tmp_path)
    agent = approval_agent(fake.base_url)

    async def run() -> None:
        with trace("approval"):
            paused = await Runner.run(agent, QUESTION)
            state = paused.to_state()
            state.reject(paused.interruptions[0])
            await Runner.run(agent, state)

    asyncio.run(run())
    [bundle] = trace_bundles(tmp_path)
    state = reduce_both(bundle)
    [tool] = state["tool_calls"].values()
    assert tool["tool_call_id"] == "call_weather"
    [output] = tool["model_visible_output_item_ids"]
    assert "not approved" in state["conversation_items"][output]["body"]["parts"][0]["text"]
    assert not loss_report(bundle)


def test_a_call_rejected_in_the_callers_trace_is_kept_for_no_later_run(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """Paused and rejected inside one ``with trace(...)`` under a conversation's trace id,
    then a run of the same agent paused at the same tool under that id and resumed in a
    bundle of its own: the rejected run's call was kept at its trace's end (no function
    span ran it), and the later resumed run took it, recording ``call_weather`` (Oslo) for
    its own ``call_bergen``. Now the resumed run's request that answered it marks it."""
    register(processors, tmp_path)
    trace_id = "trace_0123456789abcdef0123456789abcdef"
    first = approval_agent(fake.base_url)
    second = approval_agent(fake.base_url, "Asker", "You ask for Bergen.")

    async def run() -> Path:
        with trace("approval", trace_id=trace_id):
            paused = await Runner.run(first, QUESTION)
            state = paused.to_state()
            state.reject(paused.interruptions[0])
            await Runner.run(first, state)
        config = RunConfig(trace_id=trace_id)
        state = await _paused(second, run_config=config)
        [resumed] = await _resume(tmp_path, [(second, state)], config)
        return resumed

    assert _call(asyncio.run(run())) == ("call_bergen", '{"city":"Bergen"}')


async def _run(agent: Agent[Any], start: Any, *, streamed: bool) -> RunResult | RunResultStreaming:
    if not streamed:
        return await Runner.run(agent, start)
    result = Runner.run_streamed(agent, start)
    async for _ in result.stream_events():
        pass
    return result


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize(
    ("decision", "streamed"),
    [("approve", False), ("approve", True), ("reject", False), ("never", False)],
)
def test_a_call_paused_inside_an_agent_run_as_a_tool_resumes_in_its_thread(
    tmp_path: Path,
    fake: FakeAgentsAPI,
    processors: list[RolloutTraceProcessor],
    schema: int,
    decision: str,
    streamed: bool,
) -> None:
    """The call waiting for approval is an agent run as a tool's (``translate``, whose agent
    Asker calls a tool that needs approval). The resumed run runs the ``translate`` call
    again, and in it Asker's run resumed from its state. Asker's call ended ``"None"`` with
    its run's thread, and the resumed run's was ``call_<span id>`` with ``{}`` in a thread of
    its own (``/root/asker_2``). Now Asker's thread stays open while its call waits, and the
    resumed run is a later turn of it, which runs (or rejects) the model's one call; never
    resumed, the calls are left running, waiting for approval (agents50: they ended
    completed, "None", as the SDK traced them), with no result reported."""
    register(processors, tmp_path, schema_version=schema)
    agent = asking_triage(fake.base_url)

    async def run() -> Any:
        with trace("approval"):
            paused = await _run(agent, QUESTION, streamed=streamed)
            [interruption] = paused.interruptions
            state = paused.to_state()
            if decision == "never":
                return None
            (state.approve if decision == "approve" else state.reject)(interruption)
            return (await _run(agent, state, streamed=streamed)).final_output

    with warnings.catch_warnings():
        warnings.simplefilter("error", RecorderWarning)
        assert asyncio.run(run()) == (None if decision == "never" else REPORT)
    [bundle] = trace_bundles(tmp_path)
    state = reduce_both(bundle)
    paths = {thread["agent_path"]: id_ for id_, thread in state["threads"].items()}
    assert sorted(paths) == [
        "/root",
        "/root/asker",
        *(["/root/writer"] if decision != "never" else []),
    ]
    asker = paths["/root/asker"]
    turns = sorted(
        (t for t in state["codex_turns"] if state["codex_turns"][t]["thread_id"] == asker),
        key=lambda t: state["codex_turns"][t]["execution"]["started_seq"],
    )
    tools = {tool["tool_call_id"]: tool for tool in state["tool_calls"].values()}
    expected = {"call_weather", "call_translate", "call_bergen"}
    assert set(tools) == (expected if decision == "never" else {*expected, "call_handoff"})
    bergen = tools["call_bergen"]
    assert bergen["summary"]["input_preview"] == '{"city":"Bergen"}'
    assert bergen["started_by_codex_turn_id"] == turns[0]
    assert state["threads"][asker]["execution"]["status"] == "completed"
    results = [e for e in state["interaction_edges"].values() if e["kind"] == "agent_result"]
    if decision == "never":  # left running, waiting for approval, no result reported
        assert len(turns) == 1
        for waiting in (bergen, tools["call_translate"]):
            assert waiting["execution"]["status"] == "running"
            assert not waiting["model_visible_output_item_ids"]
        assert not results
        approvals = {t["tool_call_id"]: t.get("approval") for t in _annotated(bundle)}
        assert approvals["call_bergen"] == approvals["call_translate"] == "pending"
    else:
        assert bergen["execution"]["status"] == "completed"
        decided = {t["tool_call_id"]: t.get("approval") for t in _annotated(bundle)}
        assert decided["call_bergen"] == ("approved" if decision == "approve" else "rejected")
        assert decided["call_translate"] is None  # ran again: no decision of its own
        paused_turn, resumed_turn = turns
        [output] = bergen["model_visible_output_item_ids"]
        text = state["conversation_items"][output]["body"]["parts"][0]["text"]
        assert text == (WEATHER if decision == "approve" else "Tool execution was not approved.")
        [request] = [
            call
            for call in state["inference_calls"].values()
            if call["codex_turn_id"] == resumed_turn
        ]
        assert output in request["request_item_ids"]
        assert bergen["model_visible_call_item_ids"][0] in request["request_item_ids"]
        [ended] = [
            e
            for e in of_type(bundle, "tool_call_ended")
            if e["payload"]["tool_call_id"] == "call_bergen"
        ]
        # run in the resumed turn; rejected, ended with the trace where it started
        assert ended["codex_turn_id"] == (resumed_turn if decision == "approve" else paused_turn)
        [result] = results  # reported by the resumed run's turn
        assert result["edge_id"].split(":")[3] == resumed_turn
        # answered with Asker's report (accepted, then carried by the requests after it)
        answers = tools["call_translate"]["model_visible_output_item_ids"]
        assert answers
        for answer in answers:
            assert state["conversation_items"][answer]["body"]["parts"][0]["text"] == REPORT
    assert not loss_report(bundle)


@pytest.mark.parametrize("schema", [2, 3])
def test_a_call_paused_inside_an_agent_run_as_a_tool_resumes_in_a_bundle_of_its_own(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor], schema: int
) -> None:
    """Paused and resumed with ``Runner.run``'s own traces (two bundles): the resumed run's
    inner call was ``call_<span id>`` with ``{}`` (only the caller's calls were kept). Now
    the calls of the agent run as a tool are kept with its caller's: the resumed inner run
    (a thread of its own in the new bundle) runs the model's call, answering it in its
    request."""
    register(processors, tmp_path, schema_version=schema)
    agent = asking_triage(fake.base_url)

    async def run() -> Any:
        paused = await Runner.run(agent, QUESTION)
        state = paused.to_state()
        state.approve(paused.interruptions[0])
        return (await Runner.run(agent, state)).final_output

    with warnings.catch_warnings():
        warnings.simplefilter("error", RecorderWarning)
        assert asyncio.run(run()) == REPORT
    first, resumed = sorted(
        trace_bundles(tmp_path), key=lambda b: reduce_both(b)["started_at_unix_ms"]
    )
    state = reduce_both(resumed)
    tools = {tool["tool_call_id"]: tool for tool in state["tool_calls"].values()}
    assert set(tools) == {"call_translate", "call_bergen", "call_handoff"}
    assert tools["call_translate"]["summary"]["input_preview"] == '{"input":"rain in Oslo"}'
    bergen = tools["call_bergen"]
    assert bergen["summary"]["input_preview"] == '{"city":"Bergen"}'
    [output] = bergen["model_visible_output_item_ids"]
    assert state["conversation_items"][output]["body"]["parts"][0]["text"] == WEATHER
    [request] = [
        call
        for call in state["inference_calls"].values()
        if call["codex_turn_id"] == bergen["started_by_codex_turn_id"]
    ]
    assert output in request["request_item_ids"]
    assert not loss_report(resumed)
    assert not loss_report(first)


def test_an_agent_run_as_a_tool_stopped_at_a_tool_returning_none_reports_when_the_caller_goes_on(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """An agent run as a tool whose tool returned ``None`` and stopped its run
    (``stop_on_first_tool``) is traced as a paused one; its call ends with its ``"None"``
    (its result only, as at the top level), the run's result is reported to the caller's
    turn and its thread ends (a guard: no warning, nothing lost, one report)."""
    register(processors, tmp_path)

    @function_tool
    def get_weather(city: str) -> None:
        """The weather in a city, never known."""

    asker = Agent(
        name="Asker",
        instructions="You ask for Bergen.",
        model=responses_model(fake.base_url),
        tools=[get_weather],
        tool_use_behavior="stop_on_first_tool",
    )
    agent = Agent(
        name="Triage",
        instructions="You triage.",
        model=responses_model(fake.base_url),
        tools=[weather_tool(), asker.as_tool("translate", "Translate to Norwegian")],
        handoffs=[
            Agent(name="Writer", instructions="You write.", model=responses_model(fake.base_url))
        ],
    )

    async def run() -> Any:
        with trace("stopped"):
            return (await Runner.run(agent, QUESTION)).final_output

    with warnings.catch_warnings():
        warnings.simplefilter("error", RecorderWarning)
        assert asyncio.run(run()) == REPORT
    [bundle] = trace_bundles(tmp_path)
    state = reduce_both(bundle)
    threads = {thread["agent_path"]: thread for thread in state["threads"].values()}
    assert sorted(threads) == ["/root", "/root/asker", "/root/writer"]
    assert threads["/root/asker"]["execution"]["status"] == "completed"
    tools = {tool["tool_call_id"]: tool for tool in state["tool_calls"].values()}
    assert tools["call_bergen"]["execution"]["status"] == "completed"
    assert not tools["call_bergen"]["model_visible_output_item_ids"]  # "None", in no turn
    results = [e for e in state["interaction_edges"].values() if e["kind"] == "agent_result"]
    assert len(results) == 1
    assert not loss_report(bundle)


@pytest.mark.parametrize(
    ("behavior", "schema", "streamed"),
    [("stop_on_first_tool", 2, False), ("stop_at_tools", 3, True)],
)
def test_a_tool_returning_none_that_stopped_its_run_ran_and_waits_for_no_approval(
    tmp_path: Path,
    fake: FakeAgentsAPI,
    processors: list[RolloutTraceProcessor],
    behavior: str,
    schema: int,
    streamed: bool,
) -> None:
    """A tool that returned ``None`` and stopped its run (``tool_use_behavior=
    "stop_on_first_tool"`` or ``StopAtTools``) is traced as a call waiting for approval
    (openai-agents >= 0.24: the same spans): it was recorded running, "waiting for
    approval", though it ran and the run ended on it (agents51). Now it completed, with its
    ``"None"``, and no approval is said anywhere; a real approval still waits (above)."""
    register(processors, tmp_path, schema_version=schema)

    @function_tool
    def get_weather(city: str) -> None:
        """The weather in a city, never known."""

    stops: Any = (
        StopAtTools(stop_at_tool_names=["get_weather"]) if behavior == "stop_at_tools" else behavior
    )
    agent = Agent(
        name="Asker",
        instructions="You ask.",
        model=responses_model(fake.base_url),
        tools=[get_weather],
        tool_use_behavior=stops,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecorderWarning)
        result = asyncio.run(_run(agent, QUESTION, streamed=streamed))
    assert result.final_output == "None" and not result.interruptions
    [bundle] = trace_bundles(tmp_path)
    state = reduce_both(bundle)
    [tool] = state["tool_calls"].values()
    assert tool["execution"]["status"] == "completed"
    [ended] = of_type(bundle, "tool_call_ended")
    sent = payload(bundle, ended["payload"]["result_payload"])
    assert sent.get("response_item", sent)["output"] == "None"
    [annotated] = _annotated(bundle)
    assert "approval" not in annotated
    assert "approval" not in _shown(bundle)
    assert not loss_report(bundle)


def test_a_call_traced_waiting_for_approval_as_0_19_traces_it_has_no_result() -> None:
    """openai-agents 0.19 ends a call waiting for approval with the SDK's own
    ``FunctionToolResult`` (``output`` None, ``run_item`` the ``ToolApprovalItem``): no
    result, where any other ``FunctionToolResult`` is the tool's value as it is (found by
    mutation audit mut48: the installed SDK traces ``None`` there, so with the test on the
    item's type flipped every test passed). Made with the installed SDK's classes."""
    agent = approval_agent("http://127.0.0.1:9")
    tool = weather_tool(needs_approval=True)
    call = {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"}
    waiting = ToolApprovalItem(agent=agent, raw_item=call)
    assert _traced_result(FunctionToolResult(tool=tool, output=None, run_item=waiting)) is None
    answer = {"type": "function_call_output", "call_id": "c1", "output": WEATHER}
    ran = FunctionToolResult(
        tool=tool, output=WEATHER, run_item=ToolCallOutputItem(agent, answer, WEATHER)
    )
    assert _traced_result(ran) is ran
    assert _traced_result(WEATHER) == WEATHER


def test_a_span_no_sdk_frame_ended_is_not_known_to_wait_or_to_have_run() -> None:
    """Outside the SDK's ``_run_single_tool`` (another SDK version, a span recorded after
    it ended) whether a call waits is unknown (``None``): it is recorded as before, open
    until its run goes on; only the SDK's own word ends it at once."""
    assert awaits_approval(object()) is None
