"""serde_errors._syntax.recursion_error: the happy-path check of serde's 128-level limit."""

from __future__ import annotations

import pytest

from rollout_trace_sdk.model.serde_errors._syntax import recursion_error

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
    ],
)
def test_recursion_error(data: bytes, expected: str | None) -> None:
    assert recursion_error(data) == expected
