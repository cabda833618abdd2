"""Random scenarios (:mod:`tests.live.random_scenarios`) recorded by the real Codex CLI reduce
with our reducer exactly as with that Codex. CI runs a few fixed seeds; ``LIVE_EXAMPLES`` (and
``LIVE_SEED``) run more, ``LIVE_APP_EXAMPLES`` more ``codex app-server`` sessions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rollout_trace_sdk.testing import reduce_and_compare
from tests.codex_oracle import codex_bin
from tests.live.random_scenarios import describe, random_app_scenario, random_scenario
from tests.live.recording import record
from tests.live.scenarios import Scenario

EXAMPLES = int(os.environ.get("LIVE_EXAMPLES", "6"))
APP_EXAMPLES = int(os.environ.get("LIVE_APP_EXAMPLES", "4"))
SEED = int(os.environ.get("LIVE_SEED", "20261203"))


@pytest.mark.codex
@pytest.mark.parametrize("seed", range(SEED, SEED + EXAMPLES))
def test_a_random_scenario_reduces_as_codex_reduces_it(seed: int, tmp_path: Path) -> None:
    _check(random_scenario(seed), tmp_path)


@pytest.mark.codex
@pytest.mark.parametrize("seed", range(SEED, SEED + APP_EXAMPLES))
def test_a_random_app_server_session_reduces_as_codex_reduces_it(seed: int, tmp_path: Path) -> None:
    _check(random_app_scenario(seed), tmp_path)


def _check(scenario: Scenario, tmp_path: Path) -> None:
    for schema in scenario.schemas:
        codex = codex_bin(schema)
        if codex is None:
            pytest.skip(f"no Codex binary for schema {schema}")
        bundles = record(codex, scenario, tmp_path / f"v{schema}")
        assert bundles, f"Codex wrote no bundle for {describe(scenario)}"
        for bundle in bundles:
            result = reduce_and_compare(bundle, codex, timeout=60)
            assert result.same_text, f"{result.explain()}\n{describe(scenario)}"
