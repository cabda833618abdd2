"""The real OpenAI Agents SDK ``Runner`` with the real ``OpenAIResponsesModel`` against a scripted
API on 127.0.0.1, recorded by :class:`RolloutTraceProcessor`: one bundle per trace, with a
function tool, an agent run as a tool and a handoff, that reduces the same with our reducer and
with Codex (schema 2 and 3); callbacks from several OS threads at once; back-pressure instead
of loss when the writer's budget is small; the error text of a failed model call."""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

pytest.importorskip("agents")

from agents import Agent, OpenAIResponsesModel, Runner, function_tool, set_trace_processors
from agents.tracing import custom_span, guardrail_span, trace
from openai import AsyncOpenAI

from rollout_trace_sdk.integrations.agents import RolloutTraceProcessor
from rollout_trace_sdk.record import RecorderWarning

from ..codex_oracle import bundle_schema, codex_bin, codex_reduce
from ..record.recorder_support import events, of_type, our_reduce, payload
from .fake_agents_api import REPORT, TRANSLATION, WEATHER, FakeAgentsAPI

QUESTION = "What is the weather in Oslo?"


@pytest.fixture(autouse=True)
def _clients_collected_outside_a_loop() -> Iterator[None]:
    """These tests run their agents in loops of their own (``asyncio.run``, ``run_sync``), so
    the AsyncOpenAI clients outlive them. A client collected later, while another test's loop
    runs, closes its connections on that loop (openai's ``__del__`` schedules ``aclose``) and
    fails that test with "Event loop is closed"; collected here, with no loop running, it
    does nothing."""
    yield
    gc.collect()


@pytest.fixture
def fake() -> Iterator[FakeAgentsAPI]:
    server = FakeAgentsAPI()
    with server:
        yield server


@pytest.fixture
def processors() -> Iterator[list[RolloutTraceProcessor]]:
    """Registers the processors a test makes (instead of the SDK's exporter), and puts the
    SDK back to no processors afterwards."""
    made: list[RolloutTraceProcessor] = []
    yield made
    set_trace_processors([])
    for processor in made:
        processor.shutdown()


def _register(made: list[RolloutTraceProcessor], root: Path, **options: Any) -> None:
    processor = RolloutTraceProcessor(root=root, **options)
    made.append(processor)
    set_trace_processors([processor])


def _triage(
    base_url: str,
    instructions: str = "You triage.",
    *,
    writer: str = "You write.",
    weather: Any = WEATHER,
    weather_running: asyncio.Event | None = None,
) -> Agent[Any]:
    """The scripted triage agent: ``writer`` is the writer's instructions, ``weather`` what
    the weather tool returns. Given ``weather_running``, the tool sets it and then runs until
    it is cancelled (a run stopped while its tool runs, whatever the machine's load)."""
    model = OpenAIResponsesModel(
        "gpt-test", AsyncOpenAI(base_url=base_url, api_key="test", max_retries=0)
    )

    @function_tool
    async def get_weather(city: str) -> Any:
        """The weather in a city."""
        if weather_running is not None:
            weather_running.set()
            await asyncio.Event().wait()
        return weather

    translator = Agent(name="Translator", instructions="You translate.", model=model)
    writer_agent = Agent(name="Writer", instructions=writer, model=model)
    return Agent(
        name="Triage",
        instructions=instructions,
        model=model,
        tools=[get_weather, translator.as_tool("translate", "Translate to Norwegian")],
        handoffs=[writer_agent],
    )


def state_text(call: dict[str, Any], state: dict[str, Any]) -> str:
    """The texts of a call's request items."""
    items = state["conversation_items"]
    return json.dumps([items[item]["body"] for item in call["request_item_ids"]])


def _bundles(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.name.startswith("trace-"))


def _reduce_both(bundle: Path) -> dict[str, Any]:
    """Our reducer's state, checked equal to Codex's when the oracle for the bundle's schema
    is here."""
    mine: dict[str, Any] = orjson.loads(our_reduce(bundle))
    if codex_bin(bundle_schema(bundle)) is not None:
        ok, stderr, theirs = codex_reduce(bundle)
        assert ok, f"codex rejected {bundle}:\n{stderr}"
        assert mine == theirs, f"our reducer disagrees with Codex on {bundle}"
    return mine


@pytest.mark.parametrize("schema", [2, 3])
def test_runner_with_tool_agent_tool_and_handoff(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor], schema: int
) -> None:
    _register(processors, tmp_path, schema_version=schema)
    result = asyncio.run(Runner.run(_triage(fake.base_url), QUESTION))
    assert result.final_output == REPORT
    [bundle] = _bundles(tmp_path)  # complete once the run returned
    assert bundle_schema(bundle) == schema
    state = _reduce_both(bundle)

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
    _register(processors, tmp_path)

    async def streamed() -> Any:
        result = Runner.run_streamed(_triage(fake.base_url), QUESTION)
        async for _ in result.stream_events():
            pass
        return result.final_output

    assert asyncio.run(streamed()) == REPORT
    # the agent run as a tool runs unstreamed inside the streamed run
    streams = [body.get("stream") is True for _, body, _ in fake.requests]
    assert streams.count(True) == 4 and len(streams) == 5
    [bundle] = _bundles(tmp_path)
    state = _reduce_both(bundle)
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
    _register(processors, tmp_path)
    with pytest.raises(Exception, match="overloaded"):
        asyncio.run(Runner.run(_triage(fake.base_url, "You fail."), QUESTION))
    [bundle] = _bundles(tmp_path)
    [failed] = [e["payload"] for e in of_type(bundle, "inference_failed")]
    assert "Error getting response" in failed["error"] and "model overloaded" in failed["error"]
    state = _reduce_both(bundle)
    [call] = state["inference_calls"].values()
    assert call["execution"]["status"] == "failed"
    [turn] = state["codex_turns"].values()
    assert turn["execution"]["status"] == "failed"


def _stalled(base_url: str, **options: Any) -> Agent[Any]:
    model = OpenAIResponsesModel(
        "gpt-test", AsyncOpenAI(base_url=base_url, api_key="test", max_retries=0)
    )
    return Agent(name="Staller", instructions="You stall.", model=model, **options)


def _statuses(bundle: Path) -> tuple[list[str], list[str]]:
    state = _reduce_both(bundle)
    calls = [c["execution"]["status"] for c in state["inference_calls"].values()]
    turns = [t["execution"]["status"] for t in state["codex_turns"].values()]
    return calls, turns


def test_a_run_cancelled_while_the_model_thinks_is_not_completed(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """The SDK ends the response span with no response and no error: the call was recorded
    completed (no output, no usage), and so was the turn (found by review)."""
    _register(processors, tmp_path)

    async def run() -> None:
        task = asyncio.ensure_future(Runner.run(_stalled(fake.base_url), QUESTION))
        await _in_flight(fake)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    processors[0].shutdown()
    [bundle] = _bundles(tmp_path)
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
    _register(processors, tmp_path)

    async def run() -> None:
        running = asyncio.Event()
        agent = _triage(fake.base_url, weather_running=running)
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
    [bundle] = _bundles(tmp_path)
    assert _ended(_reduce_both(bundle)) == ("aborted", {"/root": "aborted"}, ["cancelled"])


def test_a_failed_run_fails_its_agents_thread_and_the_rollout(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """The writer's model call fails after the handoff: its turn failed, but its thread and
    the rollout were completed (found by review)."""
    _register(processors, tmp_path)
    with pytest.raises(Exception, match="overloaded"):
        asyncio.run(Runner.run(_triage(fake.base_url, writer="You write, then fail."), QUESTION))
    [bundle] = _bundles(tmp_path)
    status, threads, turns = _ended(_reduce_both(bundle))
    assert status == "failed" and turns == ["completed", "completed", "failed"]
    assert threads == {"/root": "failed", "/root/translator": "completed", "/root/writer": "failed"}


def test_spans_outside_the_agents_leave_no_turn_running(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """A custom span before and after the run, in one trace: the root-thread turn opened for
    it was never ended, and the state showed a cancelled turn that never happened."""
    _register(processors, tmp_path)

    async def run() -> None:
        with trace("around"):
            with custom_span("before", {"n": 1}):
                pass
            await Runner.run(_triage(fake.base_url), QUESTION)
            with custom_span("after", {"n": 2}):
                pass

    asyncio.run(run())
    [bundle] = _bundles(tmp_path)
    status, _, turns = _ended(_reduce_both(bundle))
    assert status == "completed" and set(turns) == {"completed"} and len(turns) == 5
    assert len(of_type(bundle, "protocol_event_observed")) >= 2


def test_structured_tool_outputs_are_recorded_as_sent(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """A tool returning an image is sent to the model as content parts; it was recorded as
    the Python repr of the SDK's object (found by review)."""
    from agents import ToolOutputImage

    image = "data:image/png;base64,iVBORw0KGgo="
    _register(processors, tmp_path)
    asyncio.run(
        Runner.run(_triage(fake.base_url, weather=ToolOutputImage(image_url=image)), QUESTION)
    )
    [bundle] = _bundles(tmp_path)
    [ended] = [
        e["payload"]
        for e in of_type(bundle, "tool_call_ended")
        if e["payload"]["tool_call_id"] == "call_weather"
    ]
    result = payload(bundle, ended["result_payload"])
    sent = result.get("response_item", result)["output"]
    assert sent == [{"type": "input_image", "image_url": image}]
    _reduce_both(bundle)


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

    _register(processors, tmp_path)
    with pytest.raises(InputGuardrailTripwireTriggered):
        asyncio.run(Runner.run(_stalled(fake.base_url, input_guardrails=[refuse]), QUESTION))
    processors[0].shutdown()
    [bundle] = _bundles(tmp_path)
    assert _statuses(bundle) == (["cancelled"], ["failed"])


def test_shutdown_closes_the_processors_loop(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """Each processor's loop kept its selector and self-pipe open after ``shutdown`` (three
    file descriptors, and a ResourceWarning when collected; found by review)."""
    _register(processors, tmp_path)
    asyncio.run(Runner.run(_triage(fake.base_url), QUESTION))
    loop = processors[0]._loop
    assert loop is not None
    processors[0].shutdown()
    assert loop.loop.is_closed()


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
    _register(processors, tmp_path)
    result = asyncio.run(Runner.run(ping, QUESTION))
    assert result.final_output == "ping done"
    processors[0].shutdown()
    [bundle] = _bundles(tmp_path)
    state = _reduce_both(bundle)
    edges = sorted(e["kind"] for e in state["interaction_edges"].values())
    assert edges == ["send_message", "spawn_agent"]


@pytest.mark.parametrize("schema", [2, 3])
def test_two_runs_of_one_agent_at_once_in_one_trace_get_a_thread_each(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor], schema: int
) -> None:
    """Two ``Runner.run`` of the same agent gathered inside one ``trace(...)``: both agent
    spans were turns of the root thread at once, their histories interleaved (a thread's
    turns follow one another); the second now gets a thread of its own, a child of the
    root, and each ends as its run did (found by review clients19)."""
    _register(processors, tmp_path, schema_version=schema)

    async def run() -> tuple[Any, Any]:
        agent = _triage(fake.base_url, "You translate.")
        with trace("two at once"):
            first, second = await asyncio.gather(Runner.run(agent, "one"), Runner.run(agent, "two"))
        return first.final_output, second.final_output

    assert asyncio.run(run()) == (TRANSLATION, TRANSLATION)
    [bundle] = _bundles(tmp_path)
    state = _reduce_both(bundle)
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
    _register(processors, tmp_path, schema_version=schema)

    async def run() -> Any:
        agent = _triage(fake.base_url, "You translate.")
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
    [bundle] = _bundles(tmp_path)
    state = _reduce_both(bundle)
    first, second = sorted(
        state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"]
    )
    assert second["request_item_ids"][1] == first["response_item_ids"][0]
    assert len(state["conversation_items"]) == 4  # question, answer, again, answer


def test_runs_in_several_os_threads_at_once(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """``Runner.run_sync`` in four threads: the callbacks arrive from four OS threads (none of
    them the processor's loop thread), concurrently; each trace is its own complete bundle."""
    _register(processors, tmp_path)
    outputs: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            outputs.append(Runner.run_sync(_triage(fake.base_url), QUESTION).final_output)
        except BaseException as exc:  # pragma: no cover - the failure the test looks for
            errors.append(exc)

    workers = [threading.Thread(target=run) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == [] and outputs == [REPORT] * 4
    bundles = _bundles(tmp_path)
    assert len(bundles) == 4
    for bundle in bundles:
        seqs = [e["seq"] for e in events(bundle)]
        assert seqs == list(range(1, len(seqs) + 1))
        state = _reduce_both(bundle)
        assert len(state["inference_calls"]) == 5 and len(state["tool_calls"]) == 3


def test_small_budget_waits_instead_of_dropping(
    tmp_path: Path, processors: list[RolloutTraceProcessor]
) -> None:
    """300 spans of 20 KB each through a 64 KiB budget: the callbacks wait for the writer
    (memory stays bounded) and nothing is dropped. Without the wait, the thread path drops
    whatever goes past twice the budget."""
    _register(processors, tmp_path, max_queued_bytes=64 << 10)
    blob = "x" * 20_000
    with trace("bulk"):
        for n in range(300):
            with custom_span("blob", {"n": n, "data": blob}):
                pass
        with guardrail_span("no_secrets", triggered=True):
            pass
    [bundle] = _bundles(tmp_path)
    observed = [e["payload"] for e in of_type(bundle, "protocol_event_observed")]
    customs = [p for p in observed if p["event_type"] == "agents_sdk_custom"]
    assert len(customs) == 300
    [guard] = [p for p in observed if p["event_type"] == "agents_sdk_guardrail"]
    body = payload(bundle, guard["event_payload"])
    assert body["name"] == "no_secrets" and body["triggered"] is True
    assert events(bundle)[-1]["payload"]["type"] == "recording_completed"
    _reduce_both(bundle)


def test_without_a_root_nothing_is_recorded(
    tmp_path: Path,
    fake: FakeAgentsAPI,
    processors: list[RolloutTraceProcessor],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ROLLOUT_TRACE_ROOT", raising=False)
    monkeypatch.delenv("CODEX_ROLLOUT_TRACE_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    processor = RolloutTraceProcessor()
    processors.append(processor)
    set_trace_processors([processor])
    result = asyncio.run(Runner.run(_triage(fake.base_url), QUESTION))
    assert result.final_output == REPORT
    assert list(tmp_path.iterdir()) == []


def test_chat_completions_model_is_a_generation_span(
    tmp_path: Path, processors: list[RolloutTraceProcessor]
) -> None:
    """``OpenAIChatCompletionsModel`` traces ``generation`` spans (messages in, messages out,
    a usage dict): recorded as inference calls in the Responses shape."""
    from agents import OpenAIChatCompletionsModel

    from .fake_openai import FakeOpenAI

    _register(processors, tmp_path)
    with FakeOpenAI() as fake:
        client = AsyncOpenAI(base_url=fake.base_url, api_key="test")
        agent = Agent(
            name="Echo",
            instructions="Repeat.",
            model=OpenAIChatCompletionsModel("gpt-test", client),
        )
        result = asyncio.run(Runner.run(agent, "hello there"))
    assert result.final_output == "echo: hello there"
    [bundle] = _bundles(tmp_path)
    [started] = [e["payload"] for e in of_type(bundle, "inference_started")]
    state = _reduce_both(bundle)
    [call] = state["inference_calls"].values()
    assert call["execution"]["status"] == "completed" and call["usage"]["input_tokens"] == 12
    text = json.dumps(state)
    assert "Repeat." in text and "hello there" in text and "echo: hello there" in text
    assert started["model"] == "gpt-test"


def _weather_on_a_chat_model(prompt: str, *, streamed: bool) -> None:
    """One run of a weather agent on ``OpenAIChatCompletionsModel`` against the Chat fake,
    streamed or not, that stops at its first tool's answer."""
    from agents import OpenAIChatCompletionsModel

    from .fake_openai import FakeOpenAI

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return WEATHER

    with FakeOpenAI() as fake:
        client = AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0)
        agent = Agent(
            name="Weather",
            instructions="Look it up.",
            model=OpenAIChatCompletionsModel("gpt-test", client),
            tools=[get_weather],
            tool_use_behavior="stop_on_first_tool",
        )
        assert _final_output(agent, prompt, streamed=streamed) == WEATHER


def _final_output(agent: Agent[Any], prompt: str, *, streamed: bool) -> Any:
    """``agent``'s final output for ``prompt``, run with ``Runner.run`` or streamed (every
    event read)."""

    async def run() -> Any:
        if not streamed:
            return (await Runner.run(agent, prompt)).final_output
        result = Runner.run_streamed(agent, prompt)
        async for _ in result.stream_events():
            pass
        return result.final_output

    return asyncio.run(run())


@pytest.mark.parametrize("streamed", [False, True])
def test_a_chat_completions_models_tool_call_is_matched_streamed_or_not(
    tmp_path: Path, processors: list[RolloutTraceProcessor], streamed: bool
) -> None:
    """Streamed, ``OpenAIChatCompletionsModel`` traces its answer as a Responses ``Response``
    dumped into the generation span's output (not as chat messages): the output was dropped
    as "no string type and no role", and the tool call lost its model call id and its
    place in the history (found by review clients19)."""
    from .fake_openai import ARGUMENTS

    _register(processors, tmp_path)
    _weather_on_a_chat_model("weather? use a tool", streamed=streamed)
    [bundle] = _bundles(tmp_path)
    assert not [e for e in of_type(bundle, "protocol_event_observed") if "dropped" in str(e)]
    # the answer as the SDK sends it back next (no "__fake_id__", status, provider_data)
    [end] = [e["payload"] for e in of_type(bundle, "inference_completed")]
    [item] = payload(bundle, end["response_payload"])["output_items"]
    assert set(item) == {"type", "call_id", "name", "arguments", "id"}
    assert item["id"].startswith("fc_")
    state = _reduce_both(bundle)
    [call] = state["inference_calls"].values()
    assert call["tool_call_ids_started_by_response"] == ["call_1"]
    [tool] = state["tool_calls"].values()
    assert tool["model_visible_call_id"] == "call_1"
    assert tool["summary"]["input_preview"] == ARGUMENTS


@pytest.mark.parametrize("streamed", [False, True])
def test_a_chat_completions_models_reasoning_is_recorded_streamed_or_not(
    tmp_path: Path, processors: list[RolloutTraceProcessor], streamed: bool
) -> None:
    """A server's reasoning on a Chat answer (``reasoning_content``, as vLLM and DeepSeek
    send it) is recorded as a ``reasoning`` item before the answer, streamed or not.
    Streamed, the SDK traces a ``Response`` whose reasoning item its own conversion back
    to messages leaves out for models it does not replay reasoning to: it was lost."""
    from .fake_openai import REASONING

    _register(processors, tmp_path)
    _weather_on_a_chat_model("think: weather? use a tool", streamed=streamed)
    [bundle] = _bundles(tmp_path)
    [end] = [e["payload"] for e in of_type(bundle, "inference_completed")]
    thought, called = payload(bundle, end["response_payload"])["output_items"]
    assert thought["type"] == "reasoning" and called["type"] == "function_call"
    assert thought["content"] == [{"type": "reasoning_text", "text": REASONING}]
    state = _reduce_both(bundle)
    [call] = state["inference_calls"].values()
    assert call["tool_call_ids_started_by_response"] == ["call_1"]
    assert REASONING in json.dumps(state)


@pytest.mark.parametrize(("schema", "streamed"), [(2, False), (3, True)])
def test_hosted_tools_answered_with_a_function_call_are_the_same_items_next_request(
    tmp_path: Path,
    fake: FakeAgentsAPI,
    processors: list[RolloutTraceProcessor],
    schema: int,
    streamed: bool,
) -> None:
    """A response holding hosted tools' calls (file search, code interpreter, MCP) and a
    function call: the SDK sends the hosted calls back in the next request as it dumped
    them (the server's null fields kept), while the answer was recorded without them. Each
    custom call's id was then "reused with different content" and both reducers refused the
    whole bundle (found by review clients20)."""
    from agents import CodeInterpreterTool, FileSearchTool, HostedMCPTool

    _register(processors, tmp_path, schema_version=schema)
    model = OpenAIResponsesModel(
        "gpt-test", AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0)
    )

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return WEATHER

    mcp: Any = {"type": "mcp", "server_label": "docs", "server_url": "http://docs"}
    agent = Agent(
        name="Searcher",
        instructions="You search.",
        model=model,
        tools=[
            get_weather,
            FileSearchTool(vector_store_ids=["vs_1"]),
            CodeInterpreterTool(tool_config={"type": "code_interpreter", "container": "cntr_1"}),
            HostedMCPTool(tool_config=mcp),
        ],
    )

    assert _final_output(agent, QUESTION, streamed=streamed) == REPORT
    [bundle] = _bundles(tmp_path)
    state = _reduce_both(bundle)
    first, second = sorted(
        state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"]
    )
    assert len(first["response_item_ids"]) == 4
    assert set(first["response_item_ids"]) <= set(second["request_item_ids"])
    kinds = sorted(item["kind"] for item in state["conversation_items"].values())
    assert kinds.count("custom_tool_call") == 3


@pytest.mark.parametrize("schema", [2, 3])
def test_a_run_continuing_the_servers_history_keeps_its_previous_response_id(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor], schema: int
) -> None:
    """``auto_previous_response_id``: the SDK sends only the new items with the response
    they continue. The request was recorded as those items alone, so the second call's
    history lost everything before them (found by review clients20); it is recorded with
    its ``previous_response_id``, and the history is the whole conversation."""
    _register(processors, tmp_path, schema_version=schema)
    model = OpenAIResponsesModel(
        "gpt-test", AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0)
    )

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return WEATHER

    agent = Agent(name="Searcher", instructions="You search.", model=model, tools=[get_weather])
    result = asyncio.run(Runner.run(agent, QUESTION, auto_previous_response_id=True))
    assert result.final_output == REPORT
    assert fake.requests[1][1]["previous_response_id"] == "resp_1"
    [bundle] = _bundles(tmp_path)
    state = _reduce_both(bundle)
    first, second = sorted(
        state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"]
    )
    assert (
        first["request_item_ids"] + first["response_item_ids"] == (second["request_item_ids"][:-1])
    )
    assert QUESTION in state_text(second, state)


@pytest.mark.parametrize(("schema", "streamed"), [(2, True), (3, False)])
def test_tools_run_for_calls_that_are_no_function_call_answer_the_models_call(
    tmp_path: Path,
    fake: FakeAgentsAPI,
    processors: list[RolloutTraceProcessor],
    schema: int,
    streamed: bool,
) -> None:
    """A custom tool, ``ApplyPatchTool`` and ``ShellTool`` run under function spans for calls
    that are no ``function_call`` items: each span's tool call is the model's call (its
    call id, its call item, its output item). They were recorded under made-up ids
    (``call_<span id>``) linked to nothing, and in schema 3 each left a second answer in the
    history: a ``function_call_output`` of that made-up id (found by review clients20)."""
    from agents import ApplyPatchTool, CustomTool, ShellTool

    _register(processors, tmp_path, schema_version=schema)
    model = OpenAIResponsesModel(
        "gpt-test", AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0)
    )

    class Editor:
        def create_file(self, operation: Any) -> str:
            return "created"

        def update_file(self, operation: Any) -> str:
            return "updated"

        def delete_file(self, operation: Any) -> str:
            return "deleted"

    agent = Agent(
        name="Actor",
        instructions="You act.",
        model=model,
        tools=[
            CustomTool(
                name="grep", description="Search.", on_invoke_tool=lambda ctx, text: WEATHER
            ),
            ApplyPatchTool(editor=Editor()),
            ShellTool(executor=lambda request: "notes.txt\n", environment={"type": "local"}),
        ],
    )

    assert _final_output(agent, QUESTION, streamed=streamed) == REPORT
    [bundle] = _bundles(tmp_path)
    state = _reduce_both(bundle)
    tools = {tool["model_visible_call_id"]: tool for tool in state["tool_calls"].values()}
    assert set(tools) == {"call_grep", "call_patch", "call_shell"}
    items = state["conversation_items"]
    for call_id, tool in tools.items():
        assert tool["execution"]["status"] == "completed"
        [call_item] = tool["model_visible_call_item_ids"]
        [output_item] = tool["model_visible_output_item_ids"]
        assert items[call_item]["call_id"] == items[output_item]["call_id"] == call_id
    kinds = sorted(item["kind"] for item in items.values())
    assert kinds == ["custom_tool_call"] * 3 + ["custom_tool_call_output"] * 3 + ["message"] * 2


def test_example_runs_offline(tmp_path: Path) -> None:
    """examples/agents_sdk.py runs against its own fake API and leaves a bundle that reduces,
    with the writer as a child thread."""
    example = Path(__file__).resolve().parents[2] / "examples" / "agents_sdk.py"
    result = subprocess.run(
        [sys.executable, str(example), str(tmp_path)], capture_output=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
    assert b"Report: Oslo: rain, 7 C" in result.stdout
    [bundle] = _bundles(tmp_path)
    state = _reduce_both(bundle)
    paths = {t["agent_path"] for t in state["threads"].values()}
    assert paths == {"/root", "/root/writer"}


def test_the_processor_takes_the_capture_limits_and_checks_its_options(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """The processor had no capture limits, redaction or durability options: an Agents SDK
    user could not bound a bundle (found by review). They are open_rollout's, checked when
    the processor is made."""
    with pytest.raises(ValueError, match="need schema_version=3"):
        RolloutTraceProcessor(root=tmp_path, schema_version=2, max_payload_bytes=100)
    with pytest.raises(TypeError, match="max_bundle_bytes"):
        # schema 3 named: a cap with $ROLLOUT_TRACE_SCHEMA=2 (the suite's) would also warn
        RolloutTraceProcessor(root=tmp_path, schema_version=3, max_bundle_bytes="1MB")  # type: ignore[arg-type]
    _register(processors, tmp_path, schema_version=3, max_payload_bytes=40, durable=True)
    result = asyncio.run(Runner.run(_triage(fake.base_url), QUESTION))
    assert result.final_output == REPORT
    [bundle] = _bundles(tmp_path)
    state = _reduce_both(bundle)
    assert state["recording_status"] == "closed_with_partial_payloads"
    cut = [p for p in state["raw_payloads"].values() if p.get("capture")]
    assert cut and {p["capture"]["status"] for p in cut} <= {"truncated", "omitted"}
