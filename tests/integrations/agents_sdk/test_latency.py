"""A model call's recorded duration is the model's latency (user49): the processor records a
``response``/``generation`` span whole at its end (the SDK sets the request input only
then), so ``inference_started`` and ``inference_completed`` carried the same wall time (74
SDK response spans summed 8,992 ms, the recorded calls 16 ms). The call's start is now the
span's own ``started_at``."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("agents")

from agents import Runner, set_trace_processors
from agents.tracing import Span, Trace, TracingProcessor

from rollout_trace_sdk.integrations.agents import RolloutTraceProcessor

from ...codex_oracle import reduced_by_both
from ..fake_agents_api import REPORT, FakeAgentsAPI
from .scripted import QUESTION, register, trace_bundles, triage

#: how far the recorded duration may be from the SDK span's: both are read to the
#: millisecond, and the end is recorded when the span ends (not timed: a loaded machine)
_SLACK_MS = 25


class _Spans(TracingProcessor):
    """The SDK's model-call spans, as they ended."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def on_trace_start(self, trace: Trace) -> None:
        pass

    def on_trace_end(self, trace: Trace) -> None:
        pass

    def on_span_start(self, span: Span[Any]) -> None:
        pass

    def on_span_end(self, span: Span[Any]) -> None:
        if span.span_data.type in ("response", "generation"):
            self.calls.append(span)

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass


def _ms(iso: str) -> int:
    return (datetime.fromisoformat(iso) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
        milliseconds=1
    )


@pytest.mark.parametrize("schema", [2, 3])
def test_a_model_calls_duration_is_its_spans(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor], schema: int
) -> None:
    register(processors, tmp_path, schema_version=schema)
    spans = _Spans()
    set_trace_processors([processors[0], spans])
    fake.delay = 0.2
    assert asyncio.run(Runner.run(triage(fake.base_url), QUESTION)).final_output == REPORT
    [bundle] = trace_bundles(tmp_path)
    state = reduced_by_both(bundle)
    recorded = sorted(
        (c["execution"]["started_at_unix_ms"], c["execution"]["ended_at_unix_ms"])
        for c in state["inference_calls"].values()
    )
    sdk = sorted((_ms(s.started_at), _ms(s.ended_at)) for s in spans.calls)
    assert len(recorded) == len(sdk) == 5
    for (start, end), (sdk_start, sdk_end) in zip(recorded, sdk, strict=True):
        assert start == sdk_start
        assert sdk_end - sdk_start >= 200
        assert abs((end - start) - (sdk_end - sdk_start)) <= _SLACK_MS


@pytest.mark.parametrize("schema", [2, 3])
def test_a_model_call_outside_every_agent_starts_in_its_turn(
    tmp_path: Path, processors: list[RolloutTraceProcessor], schema: int
) -> None:
    """A model call traced outside every agent span (an agent's own LLM call in a
    ``generation_span``) ends before any agent span started: the bundle opens at its end, and
    its ``started_at`` came before the rollout's start. Taken as given, the call began before
    its rollout and its turn: ``summary`` said 414 ms in model calls of a 9 ms rollout, the
    Perfetto trace drew it at -405 ms (review49). It starts at its turn's start."""
    from agents.tracing import generation_span, trace

    register(processors, tmp_path, schema_version=schema)
    with trace("own calls"), generation_span(input=[{"role": "user", "content": "hi"}]) as g:
        time.sleep(0.05)  # the model's latency: the bundle opens after the span started
        g.span_data.output = [{"role": "assistant", "content": "hello"}]
        g.span_data.model = "gpt-test"
    [bundle] = trace_bundles(tmp_path)
    state = reduced_by_both(bundle)
    [call] = state["inference_calls"].values()
    [turn] = state["codex_turns"].values()
    assert state["started_at_unix_ms"] <= turn["execution"]["started_at_unix_ms"]
    assert turn["execution"]["started_at_unix_ms"] <= call["execution"]["started_at_unix_ms"]
