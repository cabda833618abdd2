"""The Agents SDK on ``OpenAIChatCompletionsModel`` (the Chat Completions fake of
``fake_openai``): ``generation`` spans recorded as inference calls in the Responses shape, a
tool call matched to the model's call and the server's reasoning kept, streamed or not."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

pytest.importorskip("agents")

from agents import Agent, Runner
from openai import AsyncOpenAI

from rollout_trace_sdk.integrations.agents import RolloutTraceProcessor

from ...record.recorder_support import of_type, payload
from ..fake_agents_api import WEATHER
from .scripted import final_output, reduce_both, register, trace_bundles, weather_tool


def test_chat_completions_model_is_a_generation_span(
    tmp_path: Path, processors: list[RolloutTraceProcessor]
) -> None:
    """``OpenAIChatCompletionsModel`` traces ``generation`` spans (messages in, messages out,
    a usage dict): recorded as inference calls in the Responses shape."""
    from agents import OpenAIChatCompletionsModel

    from ..fake_openai import FakeOpenAI

    register(processors, tmp_path)
    with FakeOpenAI() as fake:
        client = AsyncOpenAI(base_url=fake.base_url, api_key="test")
        agent = Agent(
            name="Echo",
            instructions="Repeat.",
            model=OpenAIChatCompletionsModel("gpt-test", client),
        )
        result = asyncio.run(Runner.run(agent, "hello there"))
    assert result.final_output == "echo: hello there"
    [bundle] = trace_bundles(tmp_path)
    [started] = [e["payload"] for e in of_type(bundle, "inference_started")]
    state = reduce_both(bundle)
    [call] = state["inference_calls"].values()
    assert call["execution"]["status"] == "completed" and call["usage"]["input_tokens"] == 12
    text = json.dumps(state)
    assert "Repeat." in text and "hello there" in text and "echo: hello there" in text
    assert started["model"] == "gpt-test"


def _weather_on_a_chat_model(prompt: str, *, streamed: bool) -> None:
    """One run of a weather agent on ``OpenAIChatCompletionsModel`` against the Chat fake,
    streamed or not, that stops at its first tool's answer."""
    from agents import OpenAIChatCompletionsModel

    from ..fake_openai import FakeOpenAI

    with FakeOpenAI() as fake:
        client = AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0)
        agent = Agent(
            name="Weather",
            instructions="Look it up.",
            model=OpenAIChatCompletionsModel("gpt-test", client),
            tools=[weather_tool()],
            tool_use_behavior="stop_on_first_tool",
        )
        assert final_output(agent, prompt, streamed=streamed) == WEATHER


@pytest.mark.parametrize("streamed", [False, True])
def test_a_chat_completions_models_tool_call_is_matched_streamed_or_not(
    tmp_path: Path, processors: list[RolloutTraceProcessor], streamed: bool
) -> None:
    """Streamed, ``OpenAIChatCompletionsModel`` traces its answer as a Responses ``Response``
    dumped into the generation span's output (not as chat messages): the output was dropped
    as "no string type and no role", and the tool call lost its model call id and its
    place in the history (found by review clients19)."""
    from ..fake_openai import ARGUMENTS

    register(processors, tmp_path)
    _weather_on_a_chat_model("weather? use a tool", streamed=streamed)
    [bundle] = trace_bundles(tmp_path)
    assert not [e for e in of_type(bundle, "protocol_event_observed") if "dropped" in str(e)]
    # the answer as the SDK sends it back next (no "__fake_id__", status, provider_data)
    [end] = [e["payload"] for e in of_type(bundle, "inference_completed")]
    [item] = payload(bundle, end["response_payload"])["output_items"]
    assert set(item) == {"type", "call_id", "name", "arguments", "id"}
    assert item["id"].startswith("fc_")
    state = reduce_both(bundle)
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
    from ..fake_openai import REASONING

    register(processors, tmp_path)
    _weather_on_a_chat_model("think: weather? use a tool", streamed=streamed)
    [bundle] = trace_bundles(tmp_path)
    [end] = [e["payload"] for e in of_type(bundle, "inference_completed")]
    thought, called = payload(bundle, end["response_payload"])["output_items"]
    assert thought["type"] == "reasoning" and called["type"] == "function_call"
    assert thought["content"] == [{"type": "reasoning_text", "text": REASONING}]
    state = reduce_both(bundle)
    [call] = state["inference_calls"].values()
    assert call["tool_call_ids_started_by_response"] == ["call_1"]
    assert REASONING in json.dumps(state)


@pytest.mark.parametrize("streamed", [False, True])
def test_a_chat_completions_models_tools_are_in_its_request(
    tmp_path: Path, processors: list[RolloutTraceProcessor], streamed: bool
) -> None:
    """openai-agents 0.25 traces the tools a Chat Completions call offered (``tools`` on the
    generation span, as the SDK converted them): the request recorded them not, where a
    Responses call's request has its tools (found by review clients47). The request is
    recorded in the Responses shape, its tools too."""
    from agents.tracing.span_data import GenerationSpanData

    if "tools" not in GenerationSpanData.__slots__:
        pytest.skip("an openai-agents before 0.25 traces no generation tools")
    register(processors, tmp_path)
    _weather_on_a_chat_model("weather? use a tool", streamed=streamed)
    [bundle] = trace_bundles(tmp_path)
    [started] = [e["payload"] for e in of_type(bundle, "inference_started")]
    request = payload(bundle, started["request_payload"])
    # recorded in the Responses shape, as the request's messages are
    [tool] = request["tools"]
    assert tool["type"] == "function" and tool["name"] == "get_weather"
    assert "city" in json.dumps(tool["parameters"])
    [call] = reduce_both(bundle)["inference_calls"].values()
    assert call["execution"]["status"] == "completed"
