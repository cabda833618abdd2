"""The end-of-replay check of a payload nobody reads (``model/json_check.py`` and the serde
walk behind it): certain when it accepts, memory near the document's size whatever its shape,
and the walk's errors where Codex puts them, also past long runs of simple array elements."""

from __future__ import annotations

import os
import shutil
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollout_trace_sdk.model.json_check import LOW_MEMORY_FROM, surely_ignorable
from rollout_trace_sdk.model.serde_errors import ignored_error
from rollout_trace_sdk.testing import reduce_and_compare
from tests.codex_oracle import codex_bin
from tests.conftest import CONFORMANCE

_PAD = b" " * LOW_MEMORY_FROM  # whitespace serde skips: makes a document take the large path


@pytest.mark.parametrize("large", [False, True])
def test_what_it_accepts_serde_accepts(large: bool) -> None:
    pad = _PAD if large else b""
    for ok in (b'{"a": [1, -2.5e3, true, null, "x"]}', b'"\\ud800"', b"[1e400]"):
        assert ignored_error(ok) is None
        assert surely_ignorable(ok + pad) or ok in (b'"\\ud800"', b"[1e400]")  # orjson: no
    for bad in (b"[NaN]", b"[1,]", b"{", b'"\x01"', "[1]".encode("utf-16")):
        assert not surely_ignorable(bad + pad), bad


def test_a_large_document_is_checked_near_its_own_size() -> None:
    """30 MB of ``[{},{},...]`` took ~1 GB to check (orjson builds every value; found by
    review): a large document is checked without keeping its values."""
    data = b"[" + b"{}," * 1_400_000 + b"{}]"
    tracemalloc.start()
    try:
        assert surely_ignorable(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 6 * len(data), f"{peak / len(data):.1f} x the document"


_SIMPLE = ["0", "-1.5e3", "12", "true", "null", '"x"', "[]", "{ }", ' "y" ']
_OTHER = ['"a\\nb"', '{"k": 1}', "[1, [2]]", '"\\u00e9"', "1E+2"]
_DEFECTS = ["", "01", "1.", "-", "tru", '"\\q"', '"\x01"', ",]", "]", "[", "{", '{"k" 1}', "x"]


@st.composite
def _documents(draw: st.DrawFn) -> bytes:
    """An array of simple and other elements (with long runs of simple ones), one defect
    somewhere among them, and an end that may or may not close it."""
    elements = draw(st.lists(st.sampled_from(_SIMPLE + _OTHER), max_size=30))
    elements[draw(st.integers(0, len(elements))) : 0] = _SIMPLE * 300 * draw(st.integers(0, 2))
    elements.insert(draw(st.integers(0, len(elements))), draw(st.sampled_from(_DEFECTS)))
    tail = draw(st.sampled_from(["", ",", "]", "], 1", ",0]"]))
    return f"[{','.join(elements)}{tail}".encode()


def _mcp_bundle(tmp_path: Path) -> Path | None:
    """A schema-2 corpus bundle whose ``payloads/24.json`` no handler reads (Codex only
    checks it at the end of replay)."""
    found = sorted((CONFORMANCE / "mcp_tool_call").glob("trace-*"))
    if not found:
        return None
    bundle = tmp_path / "bundle"
    shutil.copytree(found[0], bundle, ignore=shutil.ignore_patterns("expected_state.json"))
    return bundle


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=_documents())
def test_errors_after_long_runs_are_where_codex_puts_them(
    document: bytes, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk passes over runs of simple array elements in one match (a 30 MB ``[0,0,...``
    cut off at its end took 15 s; found by review): Codex 0.169 prints the same error (or
    accepts) for documents mixing such runs with everything else and a defect."""
    codex = codex_bin(2)
    tmp_path = tmp_path_factory.mktemp("doc")
    bundle = _mcp_bundle(tmp_path)
    if codex is None or bundle is None or os.environ.get("SERDE_EDGES_WITHOUT_CODEX"):
        pytest.skip("needs Codex 0.169 and the conformance corpus")
    (bundle / "payloads" / "24.json").write_bytes(document)
    monkeypatch.chdir(tmp_path)
    result = reduce_and_compare(Path("bundle"), codex)
    assert result.same_text, result.explain()
