"""Random scenarios (:mod:`tests.live.random_scenarios`) recorded by the real Codex CLI reduce
with our reducer exactly as with that Codex. CI runs a few fixed seeds; ``LIVE_EXAMPLES`` (and
``LIVE_SEED``) run more."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rollout_trace_sdk.testing import reduce_and_compare
from tests.codex_oracle import codex_bin
from tests.live.random_scenarios import describe, random_scenario
from tests.live.recording import record

EXAMPLES = int(os.environ.get("LIVE_EXAMPLES", "6"))
SEED = int(os.environ.get("LIVE_SEED", "20261203"))


@pytest.mark.codex
@pytest.mark.parametrize("seed", range(SEED, SEED + EXAMPLES))
def test_a_random_scenario_reduces_as_codex_reduces_it(seed: int, tmp_path: Path) -> None:
    scenario = random_scenario(seed)
    for schema in scenario.schemas:
        codex = codex_bin(schema)
        if codex is None:
            pytest.skip(f"no Codex binary for schema {schema}")
        bundles = record(codex, scenario, tmp_path / f"v{schema}")
        assert bundles, f"Codex wrote no bundle for {describe(scenario)}"
        for bundle in bundles:
            result = reduce_and_compare(bundle, codex, timeout=60)
            assert result.same_text, f"{result.explain()}\n{describe(scenario)}"
