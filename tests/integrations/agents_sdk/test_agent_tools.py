"""An agent run as a tool (``Agent.as_tool``) hangs under the tool call that ran it in the
OTLP export, as a Codex sub-agent hangs under its ``spawn_agent`` call: ``invoke_agent
Summarizer`` sat under ``invoke_agent /root`` instead of ``execute_tool summarize`` (user49).
Codex's state links a spawned thread to its call through its spawn edge, which only a
``spawn_agent`` call may record (both reducers refuse the bundle otherwise); the reduced
state of an agent run as a tool says only which thread it reported to, and two such calls
run at once (the SDK runs a response's tools concurrently) cannot be told apart there. The
processor records the link as the protocol event ``agents_sdk_agent_tool``, which both
reducers skip: each bundle here still reduces alike with Codex 0.169 and 0.171."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("agents")

from agents import Agent, Runner

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.export.otlp import otlp_trace
from rollout_trace_sdk.export.perfetto import chrome_trace
from rollout_trace_sdk.export.query import run
from rollout_trace_sdk.integrations.agents import RolloutTraceProcessor
from rollout_trace_sdk.view.load import load_state

from ..fake_agents_api import REPORT, TRANSLATION, FakeAgentsAPI
from .scripted import QUESTION, reduce_both, register, responses_model, trace_bundles


def _fan_out(base_url: str) -> Agent[Any]:
    """An agent whose one response calls two agents run as tools (``You fan out.``)."""
    model = responses_model(base_url)
    translator = Agent(name="Translator", instructions="You translate.", model=model)
    summarizer = Agent(name="Summarizer", instructions="You summarize.", model=model)
    return Agent(
        name="Planner",
        instructions="You fan out.",
        model=model,
        tools=[
            translator.as_tool("translate", "Translate to Norwegian"),
            summarizer.as_tool("summarize", "Summarize the weather"),
        ],
    )


@pytest.mark.parametrize("schema", [2, 3])
def test_an_agent_run_as_a_tool_hangs_under_its_call(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor], schema: int
) -> None:
    register(processors, tmp_path, schema_version=schema)
    result = asyncio.run(Runner.run(_fan_out(fake.base_url), QUESTION))
    assert result.final_output == REPORT
    [bundle] = trace_bundles(tmp_path)
    state = reduce_both(bundle)  # Codex: the same state, the link's event skipped
    assert TRANSLATION in str(state)

    trace = otlp_trace(load_state(bundle))
    spans = {s.span_id: s for s in trace.spans}
    parents = {
        s.name: spans[s.parent_id].name
        for s in trace.spans
        if s.name.startswith("invoke_agent ") and s.parent_id in spans
    }
    assert parents["invoke_agent Translator"] == "execute_tool translate"
    assert parents["invoke_agent Summarizer"] == "execute_tool summarize"


def test_an_agent_run_as_a_tool_names_its_call_in_parquet_and_perfetto(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """The link reached only the OTLP tree: the Parquet ``threads`` table and the Perfetto
    trace had no way to say which call ran which agent (agents50). Now
    ``threads.spawned_by_tool_call_id`` names it (a handoff's thread its spawn edge's call),
    and Perfetto draws an ``agent_tool`` arrow from each call to its agent's first turn."""
    register(processors, tmp_path / "traces")
    assert asyncio.run(Runner.run(_fan_out(fake.base_url), QUESTION)).final_output == REPORT
    [bundle] = trace_bundles(tmp_path / "traces")
    out, err = tmp_path / "tables", io.StringIO()
    assert main(["export", str(bundle), "--to", str(out)], out=io.StringIO(), err=err) == 0, (
        err.getvalue()
    )
    _, rows = run(out, "SELECT agent_path, spawned_by_tool_call_id FROM threads ORDER BY 1")
    assert rows == [
        ("/root", None),
        ("/root/summarizer", "call_summarize"),
        ("/root/translator", "call_translate"),
    ]
    state = load_state(bundle)
    trace = chrome_trace(state)
    flows = [e for e in trace["traceEvents"] if e.get("name") == "agent_tool"]
    starts = {e["args"]["tool_call_id"]: e for e in flows if e["ph"] == "s"}
    assert set(starts) == {"call_translate", "call_summarize"}
    names = {
        e["tid"]: e["args"]["name"]
        for e in trace["traceEvents"]
        if e.get("ph") == "M" and e.get("name") == "thread_name"
    }
    for call, path in (("call_translate", "translator"), ("call_summarize", "summarizer")):
        [end] = [e for e in flows if e["ph"] == "f" and e["id"] == starts[call]["id"]]
        assert names[starts[call]["tid"]].startswith("/root (Planner) · tools")
        assert names[end["tid"]].startswith(f"/root/{path}") and " · turns" in names[end["tid"]]
        assert end["ts"] >= starts[call]["ts"]
