"""Fixtures of the Agents SDK tests: the scripted API on 127.0.0.1 (instead of the OpenAI
SDK tests' ``fake``), the processors a test registers, and the clients the runs leave behind
collected before the next test's loop runs."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from ..fake_agents_api import FakeAgentsAPI

if TYPE_CHECKING:  # the tests skip without the Agents SDK; its imports wait for them
    from rollout_trace_sdk.integrations.agents import RolloutTraceProcessor


@pytest.fixture(autouse=True)
def _clients_collected_outside_a_loop() -> Iterator[None]:
    """These tests run their agents in loops of their own (``asyncio.run``, ``run_sync``), so
    the AsyncOpenAI clients outlive them. A client collected later, while another test's loop
    runs, closes its connections on that loop (openai's ``__del__`` schedules ``aclose``) and
    fails that test with "Event loop is closed"; collected here, with no loop running, it
    does nothing."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def _no_agent_tool_results_left_from_another_test() -> Iterator[None]:
    """openai-agents 0.19 keeps an agent-as-tool's run result in module globals
    (``agents.agent_tool_state``) keyed by the tool call object and, as a fallback, by the
    call's (call id, name, arguments, id, status) with no run scope for a fresh run. A run
    paused inside a tool agent and never resumed leaves its result there for good (it holds
    the call, so the weak reference meant to drop it never fires), and the scripted API
    reuses call ids: a later test's tool agent call with that signature is handed the stale
    result and its run stops early. The real API never reuses a call id. 0.21 keys every
    result by (run scope, object) and has no ``_tool_call_obj_matches_scope``: it is left
    alone."""
    yield
    try:
        import agents.agent_tool_state as state
    except ImportError:
        return
    if getattr(state, "_tool_call_obj_matches_scope", None) is None:
        return
    for name in (
        "_agent_tool_run_results_by_obj",
        "_agent_tool_run_results_by_signature",
        "_agent_tool_run_result_signature_by_obj",
        "_agent_tool_call_refs_by_obj",
    ):
        kept = getattr(state, name, None)
        if isinstance(kept, dict):
            kept.clear()


@pytest.fixture
def fake() -> Iterator[FakeAgentsAPI]:
    server = FakeAgentsAPI()
    with server:
        yield server


@pytest.fixture
def processors() -> Iterator[list[RolloutTraceProcessor]]:
    """Registers the processors a test makes (instead of the SDK's exporter), and puts the
    SDK back to no processors afterwards."""
    from agents import set_trace_processors

    made: list[RolloutTraceProcessor] = []
    yield made
    set_trace_processors([])
    for processor in made:
        processor.shutdown()
