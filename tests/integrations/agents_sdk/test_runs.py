"""The real OpenAI Agents SDK ``Runner`` with the real ``OpenAIResponsesModel`` against a scripted
API on 127.0.0.1, recorded by :class:`RolloutTraceProcessor`: one bundle per trace, with a
function tool, an agent run as a tool and a handoff, that reduces the same with our reducer and
with Codex (schema 2 and 3), streamed or not; how a run that fails, is cancelled or trips a
guardrail ends; spans outside the agents, a handoff back, two runs in one trace, an answer
named by reference."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import warnings
from pathlib import Path
from typing import Any

import pydantic
import pytest

pytest.importorskip("agents")

from agents import Agent, OpenAIResponsesModel, Runner
from agents.tracing import custom_span, trace
from openai import AsyncOpenAI

from rollout_trace_sdk.integrations.agents import RolloutTraceProcessor
from rollout_trace_sdk.record import RecorderWarning
from rollout_trace_sdk.view.load import load_state
from rollout_trace_sdk.view.summary import build_summary

from ...codex_oracle import bundle_schema
from ...record.recorder_support import of_type, payload
from ..fake_agents_api import REPORT, TRANSLATION, WEATHER, FakeAgentsAPI
from .scripted import (
    QUESTION,
    approval_agent,
    reduce_both,
    register,
    responses_model,
    trace_bundles,
    triage,
    weather_tool,
)


@pytest.mark.parametrize("schema", [2, 3])
def test_runner_with_tool_agent_tool_and_handoff(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor], schema: int
) -> None:
    register(processors, tmp_path, schema_version=schema)
    result = asyncio.run(Runner.run(triage(fake.base_url), QUESTION))
    assert result.final_output == REPORT
    [bundle] = trace_bundles(tmp_path)  # complete once the run returned
    assert bundle_schema(bundle) == schema
    state = reduce_both(bundle)

    threads = {t["agent_path"]: t for t in state["threads"].values()}
    assert set(threads) == {"/root", "/root/translator", "/root/writer"}
    assert threads["/root/writer"]["nickname"] == "Writer"
    assert len(state["codex_turns"]) == 3  # one per agent span
    calls = state["inference_calls"].values()
    assert len(calls) == 5 and all(c["execution"]["status"] == "completed" for c in calls)
    assert all(c["usage"]["input_tokens"] == 12 for c in calls)

    tools = state["tool_calls"]
    assert set(tools) == {"call_weather", "call_translate", "call_handoff"}
    assert tools["call_weather"]["summary"]["input_preview"] == '{"city":"Oslo"}'
    assert tools["call_handoff"]["kind"] == {"type": "spawn_agent"}
    edges = {e["kind"]: e for e in state["interaction_edges"].values()}
    assert set(edges) == {"spawn_agent", "agent_result"}
    assert edges["spawn_agent"]["source"] == {"type": "tool_call", "tool_call_id": "call_handoff"}
    assert edges["spawn_agent"]["target"]["thread_id"] == threads["/root/writer"]["thread_id"]

    text = json.dumps(state)
    for seen in (QUESTION, WEATHER, TRANSLATION, REPORT):
        assert seen in text
    # the tools' results entered the history as the function_call_outputs the model was sent
    outputs = json.dumps(
        [
            item["body"]
            for item in state["conversation_items"].values()
            if item["kind"] == "function_call_output" and "accepted_at_unix_ms" in item
        ]
    )
    assert WEATHER in outputs and TRANSLATION in outputs


def test_streamed_run_is_recorded_the_same(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """``Runner.run_streamed`` (server-sent events from the fake): the same bundle shape."""
    register(processors, tmp_path)

    async def streamed() -> Any:
        result = Runner.run_streamed(triage(fake.base_url), QUESTION)
        async for _ in result.stream_events():
            pass
        return result.final_output

    assert asyncio.run(streamed()) == REPORT
    # the agent run as a tool runs unstreamed inside the streamed run
    streams = [body.get("stream") is True for _, body, _ in fake.requests]
    assert streams.count(True) == 4 and len(streams) == 5
    [bundle] = trace_bundles(tmp_path)
    state = reduce_both(bundle)
    assert len(state["threads"]) == 3 and len(state["inference_calls"]) == 5
    assert set(state["tool_calls"]) == {"call_weather", "call_translate", "call_handoff"}
    assert {e["kind"] for e in state["interaction_edges"].values()} == {
        "spawn_agent",
        "agent_result",
    }
    assert REPORT in json.dumps(state)


def test_failed_model_call_keeps_the_error_text(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    register(processors, tmp_path)
    with pytest.raises(Exception, match="overloaded"):
        asyncio.run(Runner.run(triage(fake.base_url, "You fail."), QUESTION))
    [bundle] = trace_bundles(tmp_path)
    [failed] = [e["payload"] for e in of_type(bundle, "inference_failed")]
    assert "Error getting response" in failed["error"] and "model overloaded" in failed["error"]
    state = reduce_both(bundle)
    [call] = state["inference_calls"].values()
    assert call["execution"]["status"] == "failed"
    [turn] = state["codex_turns"].values()
    assert turn["execution"]["status"] == "failed"


def test_a_failed_model_calls_usage_is_in_the_totals(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """A response the SDK cannot use (``incomplete``: it ran out of output tokens) was billed
    all the same: openai-agents 0.25 raises ``ModelBehaviorError`` with the response's usage
    and sets it on the failed span. The call was recorded failed with no usage, its tokens
    missing from summary's and the exports' totals (agents50). Now the partial response
    payload carries it, read as the call's usage by both Codex reducers."""
    register(processors, tmp_path)
    agent = Agent(name="Short", instructions="You run out.", model=responses_model(fake.base_url))
    with pytest.raises(Exception, match="incomplete"):
        asyncio.run(Runner.run(agent, QUESTION))
    [bundle] = trace_bundles(tmp_path)
    [call] = reduce_both(bundle)["inference_calls"].values()
    assert call["execution"]["status"] == "failed"
    assert call["usage"] == {
        "input_tokens": 12,
        "cached_input_tokens": 2,
        "cache_write_input_tokens": 0,
        "output_tokens": 7,
        "reasoning_output_tokens": 1,
    }
    tokens = build_summary(load_state(bundle))["totals"]["tokens"]
    assert (tokens["input_tokens"], tokens["output_tokens"]) == (12, 7)


def _stalled(base_url: str, **options: Any) -> Agent[Any]:
    model = responses_model(base_url)
    return Agent(name="Staller", instructions="You stall.", model=model, **options)


def _statuses(bundle: Path) -> tuple[list[str], list[str]]:
    state = reduce_both(bundle)
    calls = [c["execution"]["status"] for c in state["inference_calls"].values()]
    turns = [t["execution"]["status"] for t in state["codex_turns"].values()]
    return calls, turns


def test_a_run_cancelled_while_the_model_thinks_is_not_completed(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """The SDK ends the response span with no response and no error: the call was recorded
    completed (no output, no usage), and so was the turn (found by review)."""
    register(processors, tmp_path)

    async def run() -> None:
        task = asyncio.ensure_future(Runner.run(_stalled(fake.base_url), QUESTION))
        await _in_flight(fake)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    processors[0].shutdown()
    [bundle] = trace_bundles(tmp_path)
    assert _statuses(bundle) == (["cancelled"], ["cancelled"])


async def _in_flight(fake: FakeAgentsAPI) -> None:
    """Returns once the fake holds a ``stall`` request: the model call is in flight."""
    while not fake.stalled.is_set():
        await asyncio.sleep(0.01)


def _ended(state: dict[str, Any]) -> tuple[str, dict[str, str], list[str]]:
    """The rollout's status, each thread's by agent path, and the turns' statuses."""
    threads = {t["agent_path"]: t["execution"]["status"] for t in state["threads"].values()}
    turns = [t["execution"]["status"] for t in state["codex_turns"].values()]
    return state["status"], threads, turns


@pytest.mark.parametrize("how", ["task cancelled during the tool", "streamed run cancelled"])
def test_a_run_stopped_after_the_model_answered_is_not_completed(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor], how: str
) -> None:
    """Stopped while its tool ran, or before the tool the model asked for ran, the run
    left a completed turn and a completed rollout (found by review)."""
    register(processors, tmp_path)

    async def run() -> None:
        running = asyncio.Event()
        agent = triage(fake.base_url, weather_running=running)
        if how.startswith("task"):
            task = asyncio.ensure_future(Runner.run(agent, QUESTION))
            await running.wait()  # the model asked for the weather; the tool runs
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return
        result = Runner.run_streamed(agent, QUESTION)
        async for event in result.stream_events():
            if event.type == "run_item_stream_event" and event.item.type == "tool_call_item":
                result.cancel()

    asyncio.run(run())
    processors[0].shutdown()
    [bundle] = trace_bundles(tmp_path)
    assert _ended(reduce_both(bundle)) == ("aborted", {"/root": "aborted"}, ["cancelled"])


def test_a_failed_run_fails_its_agents_thread_and_the_rollout(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """The writer's model call fails after the handoff: its turn failed, but its thread and
    the rollout were completed (found by review)."""
    register(processors, tmp_path)
    with pytest.raises(Exception, match="overloaded"):
        asyncio.run(Runner.run(triage(fake.base_url, writer="You write, then fail."), QUESTION))
    [bundle] = trace_bundles(tmp_path)
    status, threads, turns = _ended(reduce_both(bundle))
    assert status == "failed" and turns == ["completed", "completed", "failed"]
    assert threads == {"/root": "failed", "/root/translator": "completed", "/root/writer": "failed"}


@pytest.mark.parametrize("raises", [False, True], ids=["told to the model", "raised"])
def test_an_agent_run_as_a_tool_that_fails_is_recorded_failed(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor], raises: bool
) -> None:
    """The translator (an agent run as a tool) fails on its model call: its turn and thread
    fail with the error, the result it delivers is ``errored``, and its tool call fails; the
    run goes on when the SDK tells the model the error, and fails when it raises. No test
    covered it (an agent-as-tool always ended "completed" passed every test: mut27)."""
    register(processors, tmp_path)
    agent = triage(fake.base_url, translator="You translate, then fail.", translator_raises=raises)
    if raises:
        with pytest.raises(Exception, match="overloaded"):
            asyncio.run(Runner.run(agent, QUESTION))
    else:
        assert asyncio.run(Runner.run(agent, QUESTION)).final_output == REPORT
    processors[0].shutdown()
    [bundle] = trace_bundles(tmp_path)
    state = reduce_both(bundle)
    status, threads, _ = _ended(state)
    assert threads["/root/translator"] == "failed"
    assert (status, threads["/root"]) == (("failed", "failed") if raises else ("completed",) * 2)
    assert state["tool_calls"]["call_translate"]["execution"]["status"] == "failed"
    [result] = of_type(bundle, "agent_result_observed")
    [translator] = [t for t in state["threads"].values() if t["nickname"] == "Translator"]
    assert result["thread_id"] == translator["thread_id"]
    assert list(payload(bundle, result["payload"]["carried_payload"])["status"]) == ["errored"]
    [turn] = [
        t
        for t in load_state(bundle)["codex_turns"].values()
        if t["thread_id"] == translator["thread_id"]
    ]
    assert turn["execution"]["status"] == "failed" and "model overloaded" in turn["error_text"]


def test_spans_outside_the_agents_leave_no_turn_running(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """A custom span before and after the run, in one trace: the root-thread turn opened for
    it was never ended, and the state showed a cancelled turn that never happened."""
    register(processors, tmp_path)

    async def run() -> None:
        with trace("around"):
            with custom_span("before", {"n": 1}):
                pass
            await Runner.run(triage(fake.base_url), QUESTION)
            with custom_span("after", {"n": 2}):
                pass

    asyncio.run(run())
    [bundle] = trace_bundles(tmp_path)
    status, _, turns = _ended(reduce_both(bundle))
    assert status == "completed" and set(turns) == {"completed"} and len(turns) == 5
    assert len(of_type(bundle, "protocol_event_observed")) >= 2


def test_structured_tool_outputs_are_recorded_as_sent(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """A tool returning an image is sent to the model as content parts; it was recorded as
    the Python repr of the SDK's object (found by review)."""
    from agents import ToolOutputImage

    image = "data:image/png;base64,iVBORw0KGgo="
    register(processors, tmp_path)
    asyncio.run(
        Runner.run(triage(fake.base_url, weather=ToolOutputImage(image_url=image)), QUESTION)
    )
    [bundle] = trace_bundles(tmp_path)
    assert _weather_output(bundle) == [{"type": "input_image", "image_url": image}]
    reduce_both(bundle)


def _weather_output(bundle: Path) -> Any:
    """The output recorded as the weather tool's result (``call_weather``)."""
    [ended] = [
        e["payload"]
        for e in of_type(bundle, "tool_call_ended")
        if e["payload"]["tool_call_id"] == "call_weather"
    ]
    result = payload(bundle, ended["result_payload"])
    return result.get("response_item", result)["output"]


@dataclasses.dataclass
class _Sky:
    city: str
    sky: str


class _Weather(pydantic.BaseModel):
    city: str
    sky: str
    low: float | None = None


@pytest.mark.parametrize(
    "weather",
    [None, _Weather(city="Oslo", sky="rain"), _Sky("Oslo", "rain"), b"rain \xc3\xa6", ("rain", 7)],
    ids=["None", "model", "dataclass", "bytes", "tuple"],
)
def test_a_tools_result_is_recorded_as_the_sdk_sent_it(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor], weather: Any
) -> None:
    """Whatever the tool returns, its recorded output is the text the SDK sent the model in
    the next request (its ``str``): a tool returning ``None`` sends ``"None"``, recorded as
    ``""`` before (as for a run that traces no sensitive data, where the result is unknown)."""
    register(processors, tmp_path)
    asyncio.run(Runner.run(triage(fake.base_url, weather=weather), QUESTION))
    [sent] = {
        json.dumps(item["output"])
        for _, body, _ in fake.requests
        for item in body.get("input") or []
        if item.get("call_id") == "call_weather" and item.get("type") == "function_call_output"
    }
    [bundle] = trace_bundles(tmp_path)
    assert json.dumps(_weather_output(bundle)) == sent == json.dumps(str(weather))
    reduce_both(bundle)


def test_a_tools_result_untraced_is_recorded_empty(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """A run that traces no sensitive data leaves the tool's result out of its span: the
    output is recorded empty, not as the ``"None"`` a tool returning ``None`` sends."""
    from agents import RunConfig

    register(processors, tmp_path)
    config = RunConfig(trace_include_sensitive_data=False)
    asyncio.run(Runner.run(triage(fake.base_url), QUESTION, run_config=config))
    [bundle] = trace_bundles(tmp_path)
    # (the untraced output names no call: the tool calls are named by their spans)
    results = [
        payload(bundle, e["payload"]["result_payload"])
        for e in of_type(bundle, "tool_call_ended")
        if e["payload"].get("result_payload")
    ]
    outputs = [r.get("response_item", r).get("output") for r in results]
    assert outputs and all(output == "" for output in outputs), outputs
    reduce_both(bundle)


def test_a_tripped_guardrail_fails_the_turn(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """The tripwire's error is on the SDK's turn span, not the agent's: the turn was recorded
    completed, and the request it cut short completed too (found by review)."""
    from agents import GuardrailFunctionOutput, InputGuardrailTripwireTriggered, input_guardrail

    @input_guardrail
    async def refuse(ctx: Any, agent: Any, text: Any) -> GuardrailFunctionOutput:
        await _in_flight(fake)
        return GuardrailFunctionOutput(output_info={}, tripwire_triggered=True)

    register(processors, tmp_path)
    with pytest.raises(InputGuardrailTripwireTriggered):
        asyncio.run(Runner.run(_stalled(fake.base_url, input_guardrails=[refuse]), QUESTION))
    processors[0].shutdown()
    [bundle] = trace_bundles(tmp_path)
    assert _statuses(bundle) == (["cancelled"], ["failed"])


def test_a_handoff_back_is_an_interaction_edge(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """A handoff to an agent that has a thread already is a ``send_message`` call, whose edge
    lands where its message is delivered: it never was, so the edge was missing (found by
    review). The note now opens the agent's next turn."""
    model = OpenAIResponsesModel("gpt-test", AsyncOpenAI(base_url=fake.base_url, api_key="test"))
    ping = Agent(name="Ping", instructions="You ping.", model=model)
    pong = Agent(name="Pong", instructions="You pong.", model=model, handoffs=[ping])
    ping.handoffs = [pong]
    register(processors, tmp_path)
    result = asyncio.run(Runner.run(ping, QUESTION))
    assert result.final_output == "ping done"
    processors[0].shutdown()
    [bundle] = trace_bundles(tmp_path)
    state = reduce_both(bundle)
    edges = sorted(e["kind"] for e in state["interaction_edges"].values())
    assert edges == ["send_message", "spawn_agent"]


def test_a_call_the_server_marks_async_is_recorded_as_the_server_sent_it(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """A function call the server marks ``"async": true`` (the OpenAI SDK's ``async_``
    field, which openai-agents 0.25 sends back by its alias) was recorded with ``async_``:
    the answer's item was not the one the next request sent (found by review clients47)."""
    register(processors, tmp_path)
    agent = Agent(
        name="Later",
        instructions="You ask later.",
        model=responses_model(fake.base_url),
        tools=[weather_tool()],
    )
    assert asyncio.run(Runner.run(agent, QUESTION)).final_output == REPORT
    [bundle] = trace_bundles(tmp_path)
    first, _ = [e["payload"] for e in of_type(bundle, "inference_completed")]
    [item] = payload(bundle, first["response_payload"])["output_items"]
    assert item["async"] is True and "async_" not in item
    state = reduce_both(bundle)
    [tool] = state["tool_calls"].values()
    assert tool["tool_call_id"] == "call_weather"
    assert tool["execution"]["status"] == "completed"


def test_a_handoff_that_fails_and_is_answered_is_a_failed_tool_call(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """openai-agents 0.25's ``failure_error_function`` on a handoff: its invocation fails,
    the model reads the error as the call's output and its agent goes on (its span ends with
    an error and no target). The model's call was recorded as no tool call at all (found by
    review clients47); now a failed one, answered by the output the next request sent."""
    import inspect

    from agents import default_tool_error_function, handoff

    if "failure_error_function" not in inspect.signature(handoff).parameters:
        pytest.skip("an openai-agents before 0.25 has no handoff failure_error_function")

    def closed(context: Any) -> None:
        raise RuntimeError("Pong is closed")

    # (a keyword the SDKs before 0.25 do not type)
    answered: dict[str, Any] = {"failure_error_function": default_tool_error_function}
    pong = Agent(name="Pong", instructions="You pong.", model=responses_model(fake.base_url))
    ping = Agent(
        name="Ping",
        instructions="You ping.",
        model=responses_model(fake.base_url),
        handoffs=[handoff(pong, on_handoff=closed, **answered)],
    )
    register(processors, tmp_path)
    assert asyncio.run(Runner.run(ping, QUESTION)).final_output == "ping done"
    [bundle] = trace_bundles(tmp_path)
    state = reduce_both(bundle)
    assert [t["agent_path"] for t in state["threads"].values()] == ["/root"]
    [tool] = state["tool_calls"].values()
    assert tool["tool_call_id"] == tool["model_visible_call_id"] == "call_ping"
    assert tool["execution"]["status"] == "failed"
    assert tool["summary"]["label"] == "handoff.transfer_to_pong"
    [output] = tool["model_visible_output_item_ids"]
    assert "An error occurred" in json.dumps(state["conversation_items"][output])
    assert not state["interaction_edges"]


@pytest.mark.parametrize("schema", [2, 3])
def test_two_runs_of_one_agent_at_once_in_one_trace_get_a_thread_each(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor], schema: int
) -> None:
    """Two ``Runner.run`` of the same agent gathered inside one ``trace(...)``: both agent
    spans were turns of the root thread at once, their histories interleaved (a thread's
    turns follow one another); the second now gets a thread of its own, a child of the
    root, and each ends as its run did (found by review clients19)."""
    register(processors, tmp_path, schema_version=schema)

    async def run() -> tuple[Any, Any]:
        agent = triage(fake.base_url, "You translate.")
        with trace("two at once"):
            first, second = await asyncio.gather(Runner.run(agent, "one"), Runner.run(agent, "two"))
        return first.final_output, second.final_output

    assert asyncio.run(run()) == (TRANSLATION, TRANSLATION)
    [bundle] = trace_bundles(tmp_path)
    state = reduce_both(bundle)
    threads = {t["thread_id"]: t for t in state["threads"].values()}
    assert sorted(t["agent_path"] for t in threads.values()) == ["/root", "/root/triage"]
    assert all(t["execution"]["status"] == "completed" for t in threads.values())
    # one turn and one model call on each thread
    assert sorted(t["thread_id"] for t in state["codex_turns"].values()) == sorted(threads)
    assert sorted(c["thread_id"] for c in state["inference_calls"].values()) == sorted(threads)


@pytest.mark.parametrize("schema", [2, 3])
def test_a_run_naming_an_earlier_runs_answer_by_reference(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor], schema: int
) -> None:
    """A second run in the trace whose input names the first run's answer by its id (an
    ``item_reference``, which the SDK sends on as it is): the recorded request holds that
    answer, the same conversation item as the first response's, where it was dropped."""
    register(processors, tmp_path, schema_version=schema)

    async def run() -> Any:
        agent = triage(fake.base_url, "You translate.")
        with trace("continued by reference"):
            first = await Runner.run(agent, "rain in Oslo")
            answer = first.raw_responses[0].output[0].id
            again: list[Any] = [
                {"role": "user", "content": "rain in Oslo"},
                {"type": "item_reference", "id": answer},
                {"role": "user", "content": "again"},
            ]
            return (await Runner.run(agent, again)).final_output

    with warnings.catch_warnings():
        warnings.simplefilter("error", RecorderWarning)
        assert asyncio.run(run()) == TRANSLATION
    assert fake.requests[1][1]["input"][1]["type"] == "item_reference"  # sent as it was
    [bundle] = trace_bundles(tmp_path)
    state = reduce_both(bundle)
    first, second = sorted(
        state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"]
    )
    assert second["request_item_ids"][1] == first["response_item_ids"][0]
    assert len(state["conversation_items"]) == 4  # question, answer, again, answer


def test_a_run_resumed_after_an_approval_is_recorded(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """A tool that needs approval pauses the run; the run resumed from its state (the tool
    approved) reattaches the paused run's trace without telling processors (openai-agents
    0.24): its model call and tool call were dropped (one bundle, one inference call). Now
    its outermost span opens a bundle of its own."""
    register(processors, tmp_path)

    agent = approval_agent(fake.base_url)

    async def run() -> Any:
        paused = await Runner.run(agent, QUESTION)
        assert len(paused.interruptions) == 1
        state = paused.to_state()
        state.approve(paused.interruptions[0])
        return await Runner.run(agent, state)

    assert asyncio.run(run()).final_output == REPORT
    first, resumed = sorted(
        trace_bundles(tmp_path), key=lambda b: reduce_both(b)["started_at_unix_ms"]
    )
    assert len(reduce_both(first)["inference_calls"]) == 1
    state = reduce_both(resumed)
    assert state["status"] == "completed"
    [call] = state["inference_calls"].values()
    assert call["execution"]["status"] == "completed"
    [tool] = state["tool_calls"].values()
    assert tool["execution"]["status"] == "completed"
    [event] = [
        payload(resumed, e["payload"]["event_payload"])
        for e in of_type(resumed, "protocol_event_observed")
        if e["payload"]["event_type"] == "agents_sdk_trace"
    ]
    assert event["resumed"] is True
    assert not processors[0].bundles()  # the resumed run's bundle closed at its end


def test_a_resumed_run_runs_the_call_its_paused_run_saw(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """The run resumed after an approval runs a call the model made in the paused run (its
    function span comes before any model call of its own): it was recorded as
    ``call_<span id>`` with arguments ``{}``, its output answering no call the next request
    carried. Now the paused run's waiting call (id, arguments) is carried to it."""
    register(processors, tmp_path, schema_version=3)

    agent = approval_agent(fake.base_url)

    async def run() -> Any:
        paused = await Runner.run(agent, QUESTION)
        state = paused.to_state()
        state.approve(paused.interruptions[0])
        return await Runner.run(agent, state)

    asyncio.run(run())
    _, resumed = sorted(trace_bundles(tmp_path), key=lambda b: reduce_both(b)["started_at_unix_ms"])
    state = reduce_both(resumed)
    [tool] = state["tool_calls"].values()
    assert tool["tool_call_id"] == "call_weather"
    assert tool["summary"]["input_preview"] == '{"city":"Oslo"}'
    assert tool["execution"]["status"] == "completed"
    # its output is the one the next request sent the model, after the model's call
    [output] = tool["model_visible_output_item_ids"]
    [call] = state["inference_calls"].values()
    assert output in call["request_item_ids"]
    assert tool["model_visible_call_item_ids"][0] in call["request_item_ids"]
    assert WEATHER in json.dumps(state["conversation_items"][output]["body"])
