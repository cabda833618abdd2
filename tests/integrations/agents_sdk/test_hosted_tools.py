"""The Agents SDK's tools that are no function tool, and a history the server keeps: hosted
tools' calls sent back as the same items, ``auto_previous_response_id`` runs recorded with the
whole history, and a custom tool, ``apply_patch`` and ``shell`` run for the model's own
calls (schema 2 and 3, streamed or not)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("agents")

from agents import Agent, Runner

from rollout_trace_sdk.integrations.agents import RolloutTraceProcessor

from ..fake_agents_api import REPORT, WEATHER, FakeAgentsAPI
from .scripted import (
    QUESTION,
    final_output,
    reduce_both,
    register,
    responses_model,
    trace_bundles,
    weather_tool,
)


def state_text(call: dict[str, Any], state: dict[str, Any]) -> str:
    """The texts of a call's request items."""
    items = state["conversation_items"]
    return json.dumps([items[item]["body"] for item in call["request_item_ids"]])


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

    register(processors, tmp_path, schema_version=schema)
    model = responses_model(fake.base_url)

    mcp: Any = {"type": "mcp", "server_label": "docs", "server_url": "http://docs"}
    agent = Agent(
        name="Searcher",
        instructions="You search.",
        model=model,
        tools=[
            weather_tool(),
            FileSearchTool(vector_store_ids=["vs_1"]),
            CodeInterpreterTool(tool_config={"type": "code_interpreter", "container": "cntr_1"}),
            HostedMCPTool(tool_config=mcp),
        ],
    )

    assert final_output(agent, QUESTION, streamed=streamed) == REPORT
    [bundle] = trace_bundles(tmp_path)
    state = reduce_both(bundle)
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
    register(processors, tmp_path, schema_version=schema)
    model = responses_model(fake.base_url)

    agent = Agent(name="Searcher", instructions="You search.", model=model, tools=[weather_tool()])
    result = asyncio.run(Runner.run(agent, QUESTION, auto_previous_response_id=True))
    assert result.final_output == REPORT
    assert fake.requests[1][1]["previous_response_id"] == "resp_1"
    [bundle] = trace_bundles(tmp_path)
    state = reduce_both(bundle)
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

    register(processors, tmp_path, schema_version=schema)
    model = responses_model(fake.base_url)

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

    assert final_output(agent, QUESTION, streamed=streamed) == REPORT
    [bundle] = trace_bundles(tmp_path)
    state = reduce_both(bundle)
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
