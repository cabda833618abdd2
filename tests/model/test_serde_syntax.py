"""serde_errors._syntax.recursion_error: the happy-path check of serde's 128-level limit."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollout_trace_sdk.model.serde_errors._syntax import recursion_error, syntax_error

DEEP = "recursion limit exceeded at line 1 column 128"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"[" * 127 + b"]" * 127, None),
        (b"[" * 128 + b"]" * 128, DEEP),
        (b"[" * 127 + b'{"a":1}' + b"]" * 127, DEEP),
        # brackets inside strings do not nest, whatever the escapes around them
        (b"[" * 127 + b'"[{"' + b"]" * 127, None),
        (b"[" * 127 + b'"\\"[\\\\"' + b"]" * 127, None),
        (b"[" * 127 + b'"\\\\",[' + b"]" * 128, "recursion limit exceeded at line 1 column 133"),
        (b'["\\\\\\"[[["' + b",[]" * 200 + b"]", None),
        (b'{"k":"' + b"[" * 300 + b'"}', None),
        # many brackets, shallow: strings that hold brackets and strings that do not
        (b"[" + b'"x",["[",{}],' * 200 + b"1]", None),
        # every escape letter, around quotes and brackets (the letters the first pass keeps)
        (b"[" * 127 + b'"\\b\\f\\n\\r\\t\\/\\u005b\\"]"' + b"]" * 127, None),
        (b"[" * 127 + b'"\\n\\\\",[' + b"]" * 128, "recursion limit exceeded at line 1 column 135"),
        # an escaped backslash before each closing quote: the deepest pair is no string's
        (
            b"[" * 127 + b'"\\\\",[],"\\\\"' + b"]" * 127,
            "recursion limit exceeded at line 1 column 133",
        ),
        # a letter escape before each closing quote: no escaped quote
        (
            b"[" * 127 + b'"\\n",[],"\\t"' + b"]" * 127,
            "recursion limit exceeded at line 1 column 133",
        ),
    ],
)
def test_recursion_error(data: bytes, expected: str | None) -> None:
    assert recursion_error(data) == expected


#: Text where escapes, quotes and brackets meet: what the skeleton must get right.
_TRICKY = st.text(alphabet='[]{}"\\/bfnrtux \n', max_size=12)
_LEAVES = st.none() | st.integers(-(2**63), 2**63 - 1) | _TRICKY
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TRICKY, inner, max_size=3),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(value=_VALUES, depth=st.integers(0, 130), pretty=st.booleans())
def test_recursion_error_agrees_with_the_scanner(value: object, depth: int, pretty: bool) -> None:
    """On any JSON document, the fast check says what serde's scanner says: nothing below 128
    levels, the scanner's own message from 128 on (values wrapped near the limit, strings of
    brackets, quotes and escapes)."""
    option = orjson.OPT_INDENT_2 if pretty else 0
    data = orjson.dumps([value], option=option)
    data = b"[" * depth + data + b"]" * depth
    assert recursion_error(data) == syntax_error(data)
