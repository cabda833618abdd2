"""Bundles the real Codex CLI records now, for scenarios the corpora do not hold (see
:mod:`tests.live.scenarios`), reduce with our reducer exactly as with that Codex: Codex 0.169
records and reduces schema 2, Codex 0.171 schema 3."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout_trace_sdk.testing import reduce_and_compare
from tests.codex_oracle import codex_bin
from tests.live.recording import record
from tests.live.scenarios import SCENARIOS

CASES = [(scenario, schema) for scenario in SCENARIOS for schema in scenario.schemas]


@pytest.mark.codex
@pytest.mark.parametrize(
    ("scenario", "schema"), CASES, ids=[f"{s.name}-v{schema}" for s, schema in CASES]
)
def test_a_bundle_codex_records_reduces_as_codex_reduces_it(
    scenario: object, schema: int, tmp_path: Path
) -> None:
    codex = codex_bin(schema)
    if codex is None:
        pytest.skip(f"no Codex binary for schema {schema}")
    bundles = record(codex, scenario, tmp_path)  # type: ignore[arg-type]
    assert bundles, "Codex wrote no bundle"
    for bundle in bundles:
        result = reduce_and_compare(bundle, codex, timeout=60)
        assert result.same_text, result.explain()
