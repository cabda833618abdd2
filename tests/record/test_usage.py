"""Token usage normalisation: every usage shape a client hands out is recorded as Codex's six
counters."""

from __future__ import annotations

import dataclasses
import decimal
import enum
import fractions
from typing import Any

import orjson
import pytest
from pydantic import BaseModel

from rollout_trace_sdk.record import RecorderWarning, TokenUsage
from rollout_trace_sdk.record._usage import normalize_usage
from rollout_trace_sdk.record._values import Mistyped, ValueEncoder

#: Codex's six counters for the usage the tests below give in each shape (10 in, 4 of them
#: cached, 5 out, 2 of them reasoning).
COUNTERS = {
    "input_tokens": 10,
    "cached_input_tokens": 4,
    "cache_write_input_tokens": 0,
    "output_tokens": 5,
    "reasoning_output_tokens": 2,
    "total_tokens": 15,
}


class _Tokens(enum.IntEnum):
    TEN = 10


class _Int(int):
    pass


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
    assert normalize_usage(usage) == COUNTERS
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
    assert normalize_usage(usage) == COUNTERS


@pytest.mark.parametrize(
    "count",
    [10.0, decimal.Decimal("10"), fractions.Fraction(10), _Tokens.TEN, _Int(10)],
    ids=["float", "decimal", "fraction", "int-enum", "int-subclass"],
)
def test_a_whole_number_of_another_type_is_its_count(count: Any) -> None:
    """A counter held as ``10.0`` (a computed or JSON-parsed usage), a ``Decimal``, a
    ``Fraction`` or an ``int`` subclass is the integer it stands for: floats, decimals and
    fractions were recorded as 0, and a ``TokenUsage`` of floats wrote ``10.0`` where Codex
    writes an integer."""
    usage = normalize_usage({"input_tokens": count, "output_tokens": 5})
    assert usage is not None
    assert usage["input_tokens"] == 10 and usage["input_tokens"].__class__ is int
    assert usage["total_tokens"] == 15
    assert normalize_usage(TokenUsage(input_tokens=count, output_tokens=5)) == usage


@pytest.mark.parametrize("count", [True, 10.5, "10", [10]], ids=["bool", "half", "str", "list"])
def test_a_counter_that_is_no_whole_number_is_zero_and_counted(count: Any) -> None:
    """``True`` is not 1 and ``10.5`` no count: 0, held as mistyped so that the encoder
    counts it in the loss report (it was 0 without a word); the other counters stand."""
    usage = normalize_usage({"input_tokens": count, "prompt_tokens": 7, "output_tokens": 5})
    assert usage is not None
    assert usage["input_tokens"] == 7  # a whole count of another field still wins
    usage = normalize_usage({"input_tokens": count, "output_tokens": 5})
    assert usage is not None
    mistyped = usage["input_tokens"]
    assert isinstance(mistyped, Mistyped) and mistyped.value == 0
    assert usage["total_tokens"] == 5
    encoder = ValueEncoder()
    with pytest.warns(RecorderWarning, match="another type"):
        assert orjson.loads(encoder.compact(usage))["input_tokens"] == 0
    assert encoder.counts == {"mistyped": 1}
