"""The GenAI semantic conventions' names and well-known values, as the OTLP export sends them.

Found by review (export24): Codex names its built-in provider ``OpenAI`` (the conformance
corpora's remote-compaction bundles record ``provider_name: "OpenAI"``), and the export sent it
as it stood, where the conventions' registry spells the provider ``openai``: a receiver that
keys on the well-known values did not know the provider.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollout_trace_sdk.export.otlp import otlp_trace
from rollout_trace_sdk.export.otlp_names import PROVIDER, WELL_KNOWN_PROVIDERS, provider_value


@pytest.mark.parametrize(
    ("recorded", "sent"),
    [
        ("OpenAI", "openai"),
        ("openai", "openai"),
        ("Anthropic", "anthropic"),
        ("AWS.Bedrock", "aws.bedrock"),
        ("Mistral_AI", "mistral_ai"),
        ("scripted", "scripted"),  # not a well-known provider: as recorded
        ("Ollama", "Ollama"),
        (" openai", " openai"),  # only the letters' case is forgiven
    ],
)
def test_a_well_known_provider_is_spelled_as_the_conventions_spell_it(
    recorded: str, sent: str
) -> None:
    assert provider_value(recorded) == sent


@given(st.sampled_from(sorted(WELL_KNOWN_PROVIDERS)), st.data())
def test_any_casing_of_a_well_known_provider_maps_to_it(name: str, data: st.DataObject) -> None:
    cased = "".join(data.draw(st.sampled_from([c.lower(), c.upper()])) for c in name)
    assert provider_value(cased) == name


def test_chat_and_agent_spans_send_the_well_known_spelling(demo_state: Any) -> None:
    state = copy.deepcopy(demo_state)
    for table in ("inference_calls", "compaction_requests"):
        for call in state[table].values():
            call["provider_name"] = "OpenAI"
    trace = otlp_trace(state)
    providers = {
        (s.attributes["gen_ai.operation.name"], s.attributes[PROVIDER])
        for s in trace.spans
        if PROVIDER in s.attributes
    }
    assert providers == {("chat", "openai"), ("invoke_agent", "openai")}
