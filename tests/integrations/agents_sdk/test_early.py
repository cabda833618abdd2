"""A run resumed from a ``RunState`` as openai-agents before 0.24 traces it (the paused
calls' ``function`` spans under the ``task`` span, before the ``agent`` span): the runs
paused with the real ``Runner`` against the scripted API on 127.0.0.1, the resumed run's
spans made with the SDK's own ``task_span`` / ``function_span`` / ``agent_span`` in that
order, so these run on whatever SDK is installed (on 0.19.4 and 0.21.1 the real resumed
runs of ``test_paused.py``, ``test_kept.py`` and ``test_runs.py`` come in that order too)."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("agents")

from agents import Runner
from agents.tracing import agent_span, function_span, task_span, trace

from rollout_trace_sdk.integrations.agents import RolloutTraceProcessor
from rollout_trace_sdk.record import RecorderWarning

from ...record.recorder_support import loss_report, of_type, payload_text
from ..fake_agents_api import WEATHER, FakeAgentsAPI
from .scripted import QUESTION, approval_agent, reduce_both, register, trace_bundles


def _resumed_early(agent: str, arguments: str) -> None:
    """A resumed run of ``agent`` as 0.19 traces it: its ``get_weather`` call runs under the
    task span, and only then does the agent span start."""
    with task_span("Agent workflow"):
        with function_span("get_weather", input=arguments, output=WEATHER):
            pass
        with agent_span(agent, tools=["get_weather"]):
            pass


def _turns(state: dict[str, Any]) -> list[str]:
    turns = state["codex_turns"]
    return sorted(turns, key=lambda t: turns[t]["execution"]["started_seq"])


def _run_warning_free(
    run: Callable[[], Coroutine[Any, Any, None]], root: Path
) -> tuple[Path, dict[str, Any]]:
    """Run ``run`` with any recorder warning an error; its one bundle under ``root``, and the
    state both reducers agree on."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecorderWarning)
        asyncio.run(run())
    [bundle] = trace_bundles(root)
    return bundle, reduce_both(bundle)


def test_a_call_traced_before_its_agent_span_is_the_paused_runs(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """Paused and resumed in one trace, the resumed call's span before its agent's: it was
    ``call_<span id>`` in a turn of its own outside every agent, with a warning that no
    paused run's calls were found, and the model's call ended ``"None"``. Now it is the
    model's call, ended in the resumed agent's turn with the tool's result; no warning."""
    register(processors, tmp_path, schema_version=3)
    agent = approval_agent(fake.base_url)

    async def run() -> None:
        with trace("approval"):
            paused = await Runner.run(agent, QUESTION)
            assert paused.interruptions
            _resumed_early("Asker", '{"city":"Oslo"}')

    bundle, state = _run_warning_free(run, tmp_path)
    paused_turn, resumed_turn = _turns(state)
    turns = state["codex_turns"]
    assert turns[resumed_turn]["thread_id"] == turns[paused_turn]["thread_id"]
    [tool] = state["tool_calls"].values()
    assert tool["tool_call_id"] == "call_weather"
    assert tool["started_by_codex_turn_id"] == paused_turn
    assert tool["execution"]["status"] == "completed"
    [ended] = of_type(bundle, "tool_call_ended")
    assert ended["codex_turn_id"] == resumed_turn
    assert WEATHER.encode() in payload_text(bundle, ended["payload"]["result_payload"])
    assert not loss_report(bundle)


def test_runs_paused_under_one_trace_each_resume_their_own_calls_traced_early(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """Two agents paused at a call of the same tool in one trace, the later one resumed
    first with its call traced before its agent span: it runs Bergen's call, not the oldest
    paused run's (Asker's, Oslo), which a match by tool name alone would take; Asker's
    stays waiting and ends with the trace."""
    register(processors, tmp_path, schema_version=3)
    agents = [
        approval_agent(fake.base_url),
        approval_agent(fake.base_url, "Bergen", "You ask for Bergen."),
    ]

    async def run() -> None:
        with trace("approval"):
            for agent in agents:
                assert (await Runner.run(agent, QUESTION)).interruptions
            _resumed_early("Bergen", '{"city":"Bergen"}')

    bundle, state = _run_warning_free(run, tmp_path)
    tools = {tool["tool_call_id"]: tool for tool in state["tool_calls"].values()}
    assert set(tools) == {"call_weather", "call_bergen"}
    bergen_thread = next(
        thread_id
        for thread_id, thread in state["threads"].items()
        if thread.get("nickname") == "Bergen"
    )
    resumed_turn = _turns(state)[-1]
    assert state["codex_turns"][resumed_turn]["thread_id"] == bergen_thread
    ended = {e["payload"]["tool_call_id"]: e for e in of_type(bundle, "tool_call_ended")}
    assert ended["call_bergen"]["codex_turn_id"] == resumed_turn
    assert WEATHER.encode() in payload_text(
        bundle, ended["call_bergen"]["payload"]["result_payload"]
    )
    # Asker's call ran in no resumed run: it is left running, waiting for approval
    assert "call_weather" not in ended
    assert tools["call_weather"]["execution"]["status"] == "running"


def test_a_call_under_a_task_no_agent_span_follows_is_recorded_at_the_tasks_end(
    tmp_path: Path, processors: list[RolloutTraceProcessor]
) -> None:
    """A ``function`` span under a task span no agent span ever starts under is held for
    nothing: it is recorded at the task's end, where it was before (a tool call outside
    every agent, in a root-thread turn), with its result and the warning it had (no paused
    run's calls for it); nothing lost."""
    register(processors, tmp_path, schema_version=3)
    with (
        pytest.warns(RecorderWarning, match="no paused run's calls"),
        trace("tools only"),
        task_span("Agent workflow"),
        function_span("get_weather", input='{"city":"Oslo"}', output=WEATHER),
    ):
        pass
    [bundle] = trace_bundles(tmp_path)
    state = reduce_both(bundle)
    [tool] = state["tool_calls"].values()
    assert tool["tool_call_id"].startswith("call_span_")
    assert tool["summary"]["input_preview"] == '{"city":"Oslo"}'
    assert tool["execution"]["status"] == "completed"
    [ended] = of_type(bundle, "tool_call_ended")
    assert WEATHER.encode() in payload_text(bundle, ended["payload"]["result_payload"])
    assert not loss_report(bundle)
