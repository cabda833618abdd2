"""Canonical JSON and content hashes (content_sha256) as Codex computes them."""

from __future__ import annotations

import hashlib

import orjson
from hypothesis import given
from hypothesis import strategies as st

from rollout_trace_sdk.reduce.canonical import canonical_json, content_sha256, parse_keeping_numbers


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
