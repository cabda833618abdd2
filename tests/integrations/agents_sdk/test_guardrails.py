"""An Agents SDK guardrail that runs without tripping was only a protocol event, which both
reducers skip: nothing a user reads showed it (newuser25). The event now names the agent's
thread and turn, and ``show`` and the viewer's details list each guardrail a turn ran, passed
or tripped, read from the bundle as a turn's error text is; Codex reduces the bundle to the
same state as before."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("agents")

from agents import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrailTripwireTriggered,
    OutputGuardrailTripwireTriggered,
    Runner,
    input_guardrail,
    output_guardrail,
)

from rollout_trace_sdk import error_texts
from rollout_trace_sdk.cli import main
from rollout_trace_sdk.integrations.agents import RolloutTraceProcessor
from rollout_trace_sdk.view.load import load_state
from rollout_trace_sdk.view.model import build_view_model

from ...record.recorder_support import of_type, payload
from ..fake_agents_api import FakeAgentsAPI
from .scripted import QUESTION, reduce_both, register, responses_model, trace_bundles


@input_guardrail
async def no_secrets(ctx: Any, agent: Any, text: Any) -> GuardrailFunctionOutput:
    return GuardrailFunctionOutput(output_info={"checked": True}, tripwire_triggered=False)


@output_guardrail
async def polite(ctx: Any, agent: Any, output: Any) -> GuardrailFunctionOutput:
    return GuardrailFunctionOutput(output_info={}, tripwire_triggered=False)


@input_guardrail
async def no_card_numbers(ctx: Any, agent: Any, text: Any) -> GuardrailFunctionOutput:
    return GuardrailFunctionOutput(output_info={}, tripwire_triggered=True)


@output_guardrail
async def rude(ctx: Any, agent: Any, output: Any) -> GuardrailFunctionOutput:
    return GuardrailFunctionOutput(output_info={}, tripwire_triggered=True)


@pytest.mark.parametrize("where", ["input", "output"])
def test_a_tripped_guardrails_turn_error_names_the_guardrail(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor], where: str
) -> None:
    """The SDK names the guardrail that tripped in the span error's data, not its message
    (``{"message": "Guardrail tripwire triggered", "data": {"guardrail": NAME}}``): the turn's
    error said only that some guardrail tripped, so ``summary``, the ``turns.error_text``
    column, the OTLP status and the Perfetto error could not say which one (user49)."""
    guardrails: dict[str, Any] = (
        {"input_guardrails": [no_card_numbers]}
        if where == "input"
        else {"output_guardrails": [rude]}
    )
    agent = Agent(
        name="Translator",
        instructions="You translate.",
        model=responses_model(fake.base_url),
        **guardrails,
    )
    register(processors, tmp_path)
    tripped = (
        InputGuardrailTripwireTriggered if where == "input" else OutputGuardrailTripwireTriggered
    )
    with pytest.raises(tripped):
        asyncio.run(Runner.run(agent, QUESTION))
    [bundle] = trace_bundles(tmp_path)
    name = "no_card_numbers" if where == "input" else "rude"
    assert list(error_texts(bundle).turns.values()) == [f"Guardrail tripwire triggered: {name}"]


@pytest.mark.parametrize("schema", [2, 3])
def test_a_guardrail_that_passed_is_shown_in_its_turn(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor], schema: int
) -> None:
    model = responses_model(fake.base_url)
    agent = Agent(
        name="Translator",
        instructions="You translate.",
        model=model,
        input_guardrails=[no_secrets],
        output_guardrails=[polite],
    )
    register(processors, tmp_path, schema_version=schema)
    asyncio.run(Runner.run(agent, QUESTION))
    [bundle] = trace_bundles(tmp_path)
    state = reduce_both(bundle)  # Codex: the same state, the events registered and skipped
    [turn_id] = state["codex_turns"]
    [thread_id] = state["threads"]

    observed = [e["payload"] for e in of_type(bundle, "protocol_event_observed")]
    bodies = [
        payload(bundle, p["event_payload"])
        for p in observed
        if p["event_type"] == "agents_sdk_guardrail"
    ]
    assert sorted(b["name"] for b in bodies) == ["no_secrets", "polite"]
    assert all(b["codex_turn_id"] == turn_id and b["thread_id"] == thread_id for b in bodies)

    annotated = load_state(bundle)["codex_turns"][turn_id]["guardrails"]
    assert sorted((g["name"], g["triggered"]) for g in annotated) == [
        ("no_secrets", False),
        ("polite", False),
    ]
    [turn] = build_view_model(load_state(bundle))["turns"]
    assert sorted((g[0], g[1]) for g in turn["g"]) == [("no_secrets", False), ("polite", False)]

    out, err = io.StringIO(), io.StringIO()
    assert main(["show", str(bundle)], out=out, err=err) == 0, err.getvalue()
    lines = [line.strip() for line in out.getvalue().splitlines()]
    assert "✓ guardrail no_secrets passed" in lines and "✓ guardrail polite passed" in lines
    # both in the agent's turn, below its heading (the output guardrail may end in the same
    # millisecond as the call it checked, so its order against that call is not asserted)
    heading = next(n for n, line in enumerate(lines) if line.startswith("━━ /root"))
    assert lines.index("✓ guardrail polite passed") > heading, out.getvalue()
    assert lines.index("✓ guardrail no_secrets passed") > heading, out.getvalue()


def test_the_exports_carry_each_guardrail(
    tmp_path: Path, fake: FakeAgentsAPI, processors: list[RolloutTraceProcessor]
) -> None:
    """user49's run: an input guardrail that passed and an output guardrail that tripped. The
    Parquet export has a ``guardrails`` row for each (the passed one could not be queried,
    the tripped one only by its turn's error text), and the OTLP export a ``guardrail`` span
    for each under the agent's turn, the tripped one ERROR (Phoenix showed neither)."""
    from rollout_trace_sdk.export.otlp import otlp_trace
    from rollout_trace_sdk.export.query import run

    agent = Agent(
        name="Translator",
        instructions="You translate.",
        model=responses_model(fake.base_url),
        input_guardrails=[no_secrets],
        output_guardrails=[rude],
    )
    register(processors, tmp_path / "traces")
    with pytest.raises(OutputGuardrailTripwireTriggered):
        asyncio.run(Runner.run(agent, QUESTION))
    [bundle] = trace_bundles(tmp_path / "traces")
    state = reduce_both(bundle)
    [turn_id] = state["codex_turns"]

    out = io.StringIO()
    assert main(["export", str(bundle), "--to", str(tmp_path / "t")], out=out, err=out) == 0
    _, rows = run(
        tmp_path / "t",
        "SELECT name, triggered, error_text, codex_turn_id FROM guardrails ORDER BY seq",
    )
    tripped = "Guardrail tripwire triggered"
    assert [r[:2] for r in rows] == [("no_secrets", False), ("rude", True)]
    assert rows[0][2] is None and str(rows[1][2]).startswith(tripped)
    assert {r[3] for r in rows} == {turn_id}

    trace = otlp_trace(load_state(bundle))
    turn = next(s for s in trace.spans if s.name == "turn")
    guards = {s.name: s for s in trace.spans if s.name.startswith("guardrail ")}
    assert set(guards) == {"guardrail no_secrets", "guardrail rude"}
    assert all(s.parent_id == turn.span_id for s in guards.values())
    assert guards["guardrail no_secrets"].error is None
    assert str(guards["guardrail rude"].error).startswith(tripped)
