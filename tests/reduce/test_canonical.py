"""Canonical JSON and content hashes (content_sha256) as Codex computes them."""

from __future__ import annotations

import hashlib
import math

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollout_trace_sdk.model.serde_read import TextNumber
from rollout_trace_sdk.reduce.canonical import (
    canonical_json,
    content_sha256,
    parse_keeping_numbers,
    visited_numbers,
)
from tests.reduce.builder import Scenario


def test_canonical_json_sorts_keys_and_keeps_number_text() -> None:
    raw = parse_keeping_numbers(
        b'{"b": 1.50, "a": [1E20, -0.0, "\\u0001\\n\xc3\xa9"], "c": 123456789012345678901}'
    )
    assert (
        canonical_json(raw) == '{"a":[1e+20,-0.0,"\\u0001\\né"],"b":1.50,"c":123456789012345678901}'
    )


def test_content_sha256_of_the_corpus_image_shape() -> None:
    element = {"type": "input_image", "image_url": "data:x", "detail": "original"}
    expected = hashlib.sha256(
        b'{"detail":"original","image_url":"data:x","type":"input_image"}'
    ).hexdigest()
    assert content_sha256(element) == expected


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=10,
    )
)
def test_canonical_json_is_valid_sorted_json(value: object) -> None:
    text = canonical_json(value)
    assert orjson.loads(text) == value
    assert canonical_json(orjson.loads(text)) == text


#: An agent message's author given as a number, and Codex 0.169's words for it: serde_json
#: hands a ``Value``'s float to a visitor as an f64 only when the text is that f64's own
#: spelling (ryu's or Rust's ``Display``), else as its text (a map); an f64 is written as
#: serde_json writes it (``0.00001``, ``1e-7``, ``1e+16``).
AUTHORS = {
    "1.5": "floating point `1.5`",
    "1.50": "map",
    "1e5": "map",
    "1E5": "map",
    "100000.0": "floating point `100000.0`",
    "0.00001": "floating point `0.00001`",
    "0.0000001": "floating point `1e-7`",
    "1e-7": "floating point `1e-7`",
    "1e16": "floating point `1e+16`",
    "1e15": "map",
    "4.9e-324": "map",
    "1e-400": "map",
    "100000000000000000000.0": "map",
    "340282366920938463463374607431768211456": "map",
    "-170141183460469231731687303715884105729": "map",
    "1" + "0" * 400: "map",
}


@pytest.mark.parametrize("number", sorted(AUTHORS))
def test_a_value_s_number_is_visited_as_serde_json_visits_it(bundle: Scenario, number: str) -> None:
    """Ours named every float by its value (``floating point `1.5``` for ``1.50``) and an
    integer past 128 bits as a float; Python spells ``1e-07``. Found by numbers23's probe."""
    bundle.begin()
    bundle.infer_raw(
        "inf-1",
        '{"input": [{"type": "agent_message", "author": ' + number + ', "recipient": "/root/w", '
        '"content": [{"type": "input_text", "text": "x"}]}]}',
    )
    error = bundle.reduce_error()
    assert error.cause == f"invalid type: {AUTHORS[number]}, expected a string"


def test_visited_numbers() -> None:
    visited = visited_numbers(parse_keeping_numbers(b"[1.5, 1.50, 12.0, 2e400, -0, 1e16]"))
    assert visited == [1.5, 1.5, 12.0, math.inf, 0, 1e16]
    assert [type(v) for v in visited] == [float, TextNumber, float, TextNumber, int, float]
