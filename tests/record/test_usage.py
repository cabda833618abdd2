"""Token usage normalisation: every usage shape a client hands out is recorded as Codex's six
counters."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from pydantic import BaseModel

from rollout_trace_sdk.record import TokenUsage
from rollout_trace_sdk.record._usage import normalize_usage


@dataclasses.dataclass
class _Details:
    cached_tokens: int = 0
    reasoning_tokens: int = 0


@dataclasses.dataclass
class _AgentsUsage:
    """The Agents SDK ``Usage`` dataclass, in its fields."""

    requests: int = 1
    input_tokens: int = 10
    input_tokens_details: _Details = dataclasses.field(default_factory=lambda: _Details(4, 0))
    output_tokens: int = 5
    output_tokens_details: _Details = dataclasses.field(default_factory=lambda: _Details(0, 2))
    total_tokens: int = 15


@pytest.mark.parametrize(
    "usage",
    [
        {
            "input_tokens": 10,
            "input_tokens_details": {"cached_tokens": 4},
            "output_tokens": 5,
            "output_tokens_details": {"reasoning_tokens": 2},
            "total_tokens": 15,
        },
        {
            "prompt_tokens": 10,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens": 5,
            "completion_tokens_details": {"reasoning_tokens": 2},
            "total_tokens": 15,
        },
        _AgentsUsage(),
        TokenUsage(
            input_tokens=10, cached_input_tokens=4, output_tokens=5, reasoning_output_tokens=2
        ),
    ],
    ids=["responses", "chat", "agents-dataclass", "token-usage"],
)
def test_usage_shapes(usage: Any) -> None:
    """Responses, Chat Completions and Agents SDK usage all give Codex's counters."""
    assert normalize_usage(usage) == {
        "input_tokens": 10,
        "cached_input_tokens": 4,
        "cache_write_input_tokens": 0,
        "output_tokens": 5,
        "reasoning_output_tokens": 2,
        "total_tokens": 15,
    }
    assert normalize_usage(None) is None and normalize_usage("x") is None


class _OldSdkUsage(BaseModel, extra="allow"):
    """openai 1.66's ``ResponseUsage``: no ``input_tokens_details`` field, so the API's
    cached-token count arrives as a pydantic extra."""

    input_tokens: int
    output_tokens: int
    total_tokens: int


def test_usage_details_an_older_sdk_keeps_as_extras_are_read() -> None:
    """A usage field the SDK's model does not declare still counts (found by review: the
    cached tokens of openai 1.66 responses were recorded 0)."""
    usage = _OldSdkUsage.model_validate(
        {
            "input_tokens": 10,
            "input_tokens_details": {"cached_tokens": 4},
            "output_tokens": 5,
            "output_tokens_details": {"reasoning_tokens": 2},
            "total_tokens": 15,
        }
    )
    assert usage.model_extra and "input_tokens_details" in usage.model_extra
    assert normalize_usage(usage) == {
        "input_tokens": 10,
        "cached_input_tokens": 4,
        "cache_write_input_tokens": 0,
        "output_tokens": 5,
        "reasoning_output_tokens": 2,
        "total_tokens": 15,
    }
