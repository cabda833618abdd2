"""Every corpus bundle reduces to Codex's ``expected_state.json``, byte for byte: the schema-2
corpus (Codex 0.169) and the schema-3 corpus (Codex 0.171)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.reduce import reduce_bundle, state_bytes
from tests.conftest import (
    CONFORMANCE,
    CONFORMANCE_V3,
    conformance_bundles,
    needs_conformance,
    needs_conformance_v3,
)

BUNDLES = conformance_bundles()
BUNDLES_V3 = conformance_bundles(CONFORMANCE_V3)


def first_difference(ours: Any, expected: Any, path: str = "") -> str | None:
    """The JSON path where two values first differ (key order included), or None."""
    if type(ours) is not type(expected):
        return f"{path or '/'}: ours {ours!r:.200} != expected {expected!r:.200}"
    if isinstance(ours, dict):
        if list(ours) != list(expected):
            missing = [k for k in expected if k not in ours]
            extra = [k for k in ours if k not in expected]
            return f"{path or '/'}: keys differ (missing {missing}, extra {extra}, or order)"
        for key in ours:
            found = first_difference(ours[key], expected[key], f"{path}/{key}")
            if found:
                return found
        return None
    if isinstance(ours, list):
        for index, (a, b) in enumerate(zip(ours, expected, strict=False)):
            found = first_difference(a, b, f"{path}[{index}]")
            if found:
                return found
        if len(ours) != len(expected):
            return f"{path}: length {len(ours)} != {len(expected)}"
        return None
    if ours != expected:
        return f"{path or '/'}: ours {ours!r:.200} != expected {expected!r:.200}"
    return None


def test_first_difference_names_the_path() -> None:
    assert (
        first_difference({"a": [1, {"b": 2}]}, {"a": [1, {"b": 3}]})
        == "/a[1]/b: ours 2 != expected 3"
    )
    assert first_difference({"a": 1, "b": 2}, {"b": 2, "a": 1}) is not None
    assert first_difference([1], [1, 2]) == ": length 1 != 2"
    assert first_difference({"x": [1]}, {"x": [1]}) is None


@pytest.mark.conformance
@pytest.mark.skipif(not BUNDLES + BUNDLES_V3, reason="no ../shared conformance corpus")
@pytest.mark.parametrize(
    "bundle",
    BUNDLES + BUNDLES_V3,
    ids=[f"{b.parents[1].name}/{b.parent.name}/{b.name[-12:]}" for b in BUNDLES + BUNDLES_V3],
)
def test_bundle_reduces_to_codex_state(bundle: Path) -> None:
    ours = state_bytes(reduce_bundle(bundle))
    expected = (bundle / "expected_state.json").read_bytes()
    if ours != expected:
        where = first_difference(orjson.loads(ours), orjson.loads(expected))
        pytest.fail(f"state differs from Codex's at {where or 'whitespace/escaping only'}")


@needs_conformance
def test_corpus_is_not_empty() -> None:
    assert CONFORMANCE.is_dir()
    assert len(BUNDLES) >= 30


@needs_conformance_v3
def test_v3_corpus_is_not_empty() -> None:
    assert len(BUNDLES_V3) >= 37
