"""The Agents SDK run's first agent names the root thread (user49): the processor opened the
bundle when the SDK trace started, before any agent span, so the root thread's session
metadata had no ``nickname`` while every other agent's thread had its name, and Router,
Classifier, Orchestrator... all read ``/root`` in ``show``, the viewer, ``summary``, the
OTLP and Parquet exports. The bundle now opens when the first agent span starts (or the
first span ends, or the trace does), and the root thread carries that agent's name; a span
started before it (a custom span around the run) is recorded as before."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

pytest.importorskip("agents")

from agents import Runner
from agents.tracing import custom_span, trace

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.export.otlp import otlp_trace
from rollout_trace_sdk.integrations.agents import RolloutTraceProcessor

from ...codex_oracle import reduced_by_both
from ...record.recorder_support import of_type, payload
from ..fake_agents_api import REPORT, FakeAgentsAPI
from .scripted import QUESTION, register, trace_bundles, triage


def _nicknames(bundle: Path) -> dict[str, str | None]:
    state = reduced_by_both(bundle)
    return {t["agent_path"]: t["nickname"] for t in state["threads"].values()}


@pytest.mark.parametrize("schema", [2, 3])
def test_the_first_agent_names_the_root_thread(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor], schema: int
) -> None:
    register(processors, tmp_path, schema_version=schema)
    assert asyncio.run(Runner.run(triage(fake.base_url), QUESTION)).final_output == REPORT
    [bundle] = trace_bundles(tmp_path)
    assert _nicknames(bundle) == {
        "/root": "Triage",
        "/root/translator": "Translator",
        "/root/writer": "Writer",
    }
    # nothing else moved: the trace's own event is still the root thread's first
    observed = [e["payload"]["event_type"] for e in of_type(bundle, "protocol_event_observed")]
    assert observed[:2] == ["session_configured", "agents_sdk_trace"]
    # what the readers print for it: the agent's name
    out = io.StringIO()
    assert main(["show", str(bundle)], out=out, err=io.StringIO()) == 0
    assert "━━ /root (Triage)" in out.getvalue()
    agents = {s.name for s in otlp_trace(reduced_by_both(bundle)).spans}
    assert {"invoke_agent Triage", "invoke_agent Writer"} <= agents


@pytest.mark.parametrize("schema", [2, 3])
def test_a_custom_span_around_the_run_is_recorded_and_the_agent_still_names_the_root(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor], schema: int
) -> None:
    register(processors, tmp_path, schema_version=schema)

    async def run() -> object:
        with trace("workflow"), custom_span("around", {"n": 1}):
            return (await Runner.run(triage(fake.base_url), QUESTION)).final_output

    assert asyncio.run(run()) == REPORT
    [bundle] = trace_bundles(tmp_path)
    assert _nicknames(bundle)["/root"] == "Triage"
    observed = [e["payload"] for e in of_type(bundle, "protocol_event_observed")]
    [custom] = [p for p in observed if p["event_type"] == "agents_sdk_custom"]
    assert payload(bundle, custom["event_payload"])["name"] == "around"
    state = reduced_by_both(bundle)
    assert len(state["inference_calls"]) == 5 and len(state["tool_calls"]) == 3


def test_a_trace_of_spans_before_any_agent_keeps_the_root_unnamed(
    tmp_path: Path, processors: list[RolloutTraceProcessor]
) -> None:
    """A span that ends before any agent started opens the bundle (the spans before the
    first agent are never held longer than the first end: memory stays bounded): the root
    has no agent's name to carry, as before."""
    register(processors, tmp_path)
    with trace("no agents"):
        for n in range(3):
            with custom_span("step", {"n": n}):
                pass
        assert len(processors[0].bundles()) == 1
    [bundle] = trace_bundles(tmp_path)
    assert _nicknames(bundle) == {"/root": None}
    observed = [e["payload"] for e in of_type(bundle, "protocol_event_observed")]
    assert [p["event_type"] for p in observed].count("agents_sdk_custom") == 3


def test_the_traces_metadata_and_group_are_the_rollouts_metadata(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """``trace(..., metadata=, group_id=)``: what the run was given is the rollout's metadata
    (``Rollout.add_metadata``), which ``ls --meta``, ``summary``, the viewer and the exports
    read; a trace with neither records none."""
    from rollout_trace_sdk.view.rollout_metadata import read_metadata

    register(processors, tmp_path)

    async def run() -> None:
        with trace("support", group_id="chat-7", metadata={"episode": "17", "user": "u1"}):
            await Runner.run(triage(fake.base_url), QUESTION)
        await Runner.run(triage(fake.base_url), QUESTION)

    asyncio.run(run())
    found = [read_metadata(bundle) for bundle in trace_bundles(tmp_path)]
    assert sorted(found, key=len) == [{}, {"episode": "17", "user": "u1", "group_id": "chat-7"}]
    for bundle in trace_bundles(tmp_path):
        reduced_by_both(bundle)  # both Codex reducers skip the metadata's event
    out = io.StringIO()
    assert main(["ls", str(tmp_path), "-1", "--meta", "group_id=chat-7"], out=out) == 0
    assert len(out.getvalue().splitlines()) == 1
