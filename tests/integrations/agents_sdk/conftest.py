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
