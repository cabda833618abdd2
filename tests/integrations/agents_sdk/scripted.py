"""What the Agents SDK tests share: the scripted triage agent (a function tool, an agent as a
tool and a handoff) against the fake API, a processor registered for a test, the bundles it
leaves, reduced by ours and by Codex, and a run's final output, streamed or not."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
from agents import Agent, OpenAIResponsesModel, Runner, function_tool, set_trace_processors
from openai import AsyncOpenAI

from rollout_trace_sdk.integrations.agents import RolloutTraceProcessor

from ...codex_oracle import bundle_schema, codex_bin, codex_reduce
from ...record.recorder_support import our_reduce
from ..fake_agents_api import WEATHER

QUESTION = "What is the weather in Oslo?"


def register(made: list[RolloutTraceProcessor], root: Path, **options: Any) -> None:
    processor = RolloutTraceProcessor(root=root, **options)
    made.append(processor)
    set_trace_processors([processor])


def responses_model(base_url: str) -> OpenAIResponsesModel:
    """``gpt-test`` on the Responses API of the fake at ``base_url``, without retries (a
    failed call fails the run)."""
    return OpenAIResponsesModel(
        "gpt-test", AsyncOpenAI(base_url=base_url, api_key="test", max_retries=0)
    )


def weather_tool(*, needs_approval: bool = False) -> Any:
    """A function tool ``get_weather`` answering :data:`WEATHER` (a new one each call); with
    ``needs_approval``, a run that calls it pauses until the call is approved."""

    @function_tool(needs_approval=needs_approval)
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return WEATHER

    return get_weather


def approval_agent(base_url: str, name: str = "Asker", instructions: str = "You ask.") -> Agent:
    """``Asker``, whose one tool (:func:`weather_tool`) needs approval: its run pauses at the
    model's call, and a run resumed from its state with the call approved goes on (``You ask
    for Bergen.``: another call)."""
    return Agent(
        name=name,
        instructions=instructions,
        model=responses_model(base_url),
        tools=[weather_tool(needs_approval=True)],
    )


def asking_triage(base_url: str) -> Agent[Any]:
    """The triage agent whose ``translate`` tool is an agent run as a tool (``Asker``) whose
    own tool needs approval: the run pauses at Asker's call (``call_bergen``), inside the
    ``translate`` call."""
    asker = approval_agent(base_url, "Asker", "You ask for Bergen.")
    return Agent(
        name="Triage",
        instructions="You triage.",
        model=responses_model(base_url),
        tools=[weather_tool(), asker.as_tool("translate", "Translate to Norwegian")],
        handoffs=[Agent(name="Writer", instructions="You write.", model=responses_model(base_url))],
    )


def triage(
    base_url: str,
    instructions: str = "You triage.",
    *,
    writer: str = "You write.",
    weather: Any = WEATHER,
    weather_running: asyncio.Event | None = None,
    writer_model: str = "gpt-test",
    translator: str = "You translate.",
    translator_raises: bool = False,
) -> Agent[Any]:
    """The scripted triage agent: ``writer`` and ``translator`` are the writer's and the
    translator's instructions, ``weather`` what the weather tool returns. Given
    ``weather_running``, the tool sets it and then runs until it is cancelled (a run stopped
    while its tool runs, whatever the machine's load). The writer asks for ``writer_model``
    (the fake answers with the model it was asked for). A translator run that fails tells
    the model the error (the SDK's default), or with ``translator_raises`` fails the run."""
    client = AsyncOpenAI(base_url=base_url, api_key="test", max_retries=0)
    model = OpenAIResponsesModel("gpt-test", client)

    @function_tool
    async def get_weather(city: str) -> Any:
        """The weather in a city."""
        if weather_running is not None:
            weather_running.set()
            await asyncio.Event().wait()
        return weather

    translator_agent = Agent(name="Translator", instructions=translator, model=model)
    errors: dict[str, Any] = {"failure_error_function": None} if translator_raises else {}
    writer_agent = Agent(
        name="Writer", instructions=writer, model=OpenAIResponsesModel(writer_model, client)
    )
    return Agent(
        name="Triage",
        instructions=instructions,
        model=model,
        tools=[
            get_weather,
            translator_agent.as_tool("translate", "Translate to Norwegian", **errors),
        ],
        handoffs=[writer_agent],
    )


def trace_bundles(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.name.startswith("trace-"))


def reduce_both(bundle: Path) -> dict[str, Any]:
    """Our reducer's state, checked equal to Codex's when the oracle for the bundle's schema
    is here."""
    mine: dict[str, Any] = orjson.loads(our_reduce(bundle))
    if codex_bin(bundle_schema(bundle)) is not None:
        ok, stderr, theirs = codex_reduce(bundle)
        assert ok, f"codex rejected {bundle}:\n{stderr}"
        assert mine == theirs, f"our reducer disagrees with Codex on {bundle}"
    return mine


def final_output(agent: Agent[Any], prompt: str, *, streamed: bool) -> Any:
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
