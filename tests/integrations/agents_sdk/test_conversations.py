"""The Agents SDK on a conversation the server keeps (``Runner.run(..., conversation_id=)``):
the SDK sends each request's new items with ``conversation``; the response spans are recorded
with the conversation the response echoes, so each reduced request shows what the model saw
(the fake API's :attr:`~.fake_conversations.ConversationStore.seen`), the handoff's agent,
on a thread of its own, included; in both reducers. A conversation the trace did not see
begin is its input alone, said once. Found by clients22."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("agents")

from agents import Agent, OpenAIResponsesModel, Runner, set_trace_processors
from agents.tracing import trace
from openai import AsyncOpenAI

from rollout_trace_sdk.integrations.agents import RolloutTraceProcessor
from rollout_trace_sdk.integrations.openai import instrument
from rollout_trace_sdk.record import RecorderWarning

from ..fake_agents_api import REPORT, FakeAgentsAPI
from .scripted import QUESTION, reduce_both, triage


@pytest.fixture
def processor(tmp_path: Path) -> Iterator[RolloutTraceProcessor]:
    made = RolloutTraceProcessor(root=tmp_path)
    set_trace_processors([made])
    yield made
    set_trace_processors([])
    made.shutdown()


def _conversation(fake: FakeAgentsAPI, *, instrumented: bool) -> str:
    async def create() -> str:
        async with AsyncOpenAI(base_url=fake.base_url, api_key="test") as client:
            made = instrument(client) if instrumented else client
            return (await made.conversations.create()).id

    return asyncio.run(create())


def _check(bundle: Path, fake: FakeAgentsAPI) -> dict[str, Any]:
    """Every call on the conversation shows as many items as the model saw, ending with
    the same."""
    state = reduce_both(bundle)
    on_conversation = 0
    for call in state["inference_calls"].values():
        seen = fake.conversations.seen.get(call["response_id"])
        if seen is not None:
            on_conversation += 1
            assert len(call["request_item_ids"]) == len(seen), call["inference_call_id"]
    assert on_conversation >= 3
    return state


@pytest.mark.parametrize("schema", [2, 3])
def test_a_run_on_a_conversation_made_by_the_client_is_recorded_whole(
    tmp_path: Path, fake: FakeAgentsAPI, schema: int
) -> None:
    """A tool, an agent as a tool (a run of its own, not on the conversation) and a handoff
    (the writer's thread continues the conversation the triage thread answered on)."""
    processor = RolloutTraceProcessor(root=tmp_path, schema_version=schema)
    set_trace_processors([processor])
    try:
        conv = _conversation(fake, instrumented=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RecorderWarning)
            result = asyncio.run(Runner.run(triage(fake.base_url), QUESTION, conversation_id=conv))
    finally:
        set_trace_processors([])
        processor.shutdown()
    assert result.final_output == REPORT
    sent = [body for path, body, _ in fake.requests if path.endswith("/responses")]
    assert [body.get("conversation") for body in sent].count(conv) == 4
    [bundle] = [p for p in tmp_path.iterdir() if p.name.startswith("trace-")]
    state = _check(bundle, fake)
    writer = [t for t in state["threads"].values() if t["agent_path"].endswith("writer")]
    assert len(writer) == 1


def test_a_run_on_a_conversation_from_before_is_its_input_alone_said_once(
    tmp_path: Path, fake: FakeAgentsAPI, processor: RolloutTraceProcessor
) -> None:
    """Made by a client the recorder does not see (and so, as well, every run after the
    first of one conversation): the trace cannot show what the server held."""
    conv = _conversation(fake, instrumented=False)
    with pytest.warns(RecorderWarning, match=f"conversation '{conv}' holds items") as said:
        result = asyncio.run(Runner.run(triage(fake.base_url), QUESTION, conversation_id=conv))
        processor.force_flush()
    assert result.final_output == REPORT
    assert len([w for w in said if issubclass(w.category, RecorderWarning)]) == 1
    [bundle] = [p for p in tmp_path.iterdir() if p.name.startswith("trace-")]
    _check(bundle, fake)  # nothing was in the conversation before: whole all the same


def test_an_instrumented_client_under_the_agents_sdk_records_no_request_twice(
    tmp_path: Path, fake: FakeAgentsAPI, processor: RolloutTraceProcessor
) -> None:
    """The agent's client instrumented too: its calls (no turn current) are the response
    spans' requests, which the processor records, not requests the trace misses."""
    conv = _conversation(fake, instrumented=True)

    async def run() -> Any:
        async with instrument(AsyncOpenAI(base_url=fake.base_url, api_key="test")) as client:
            model = OpenAIResponsesModel("gpt-test", client)
            agent = Agent(name="Translator", instructions="You translate.", model=model)
            for question in ("rain?", "snow?"):
                await Runner.run(agent, question, conversation_id=conv)

    with warnings.catch_warnings():
        warnings.simplefilter("error", RecorderWarning)
        with trace("two runs"):
            asyncio.run(run())
        processor.force_flush()
    [bundle] = [p for p in tmp_path.iterdir() if p.name.startswith("trace-")]
    state = reduce_both(bundle)
    for call in state["inference_calls"].values():
        assert len(call["request_item_ids"]) == len(fake.conversations.seen[call["response_id"]])
