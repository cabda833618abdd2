"""Codex 0.171 recordings under a sweep of capture limits (:mod:`tests.live.limit_sweep`) reduce
with our reducer exactly as with that Codex, and convert to schema 2 as documented. CI sweeps
one scenario at three limits; ``LIMIT_SWEEP=all`` (or a comma-separated list of scenario
names) sweeps the catalogue's, ``LIMIT_SWEEP_REPORT=FILE`` keeps each value's outcome."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.codex_oracle import codex_bin
from tests.live.limit_sweep import SWEPT, check_limited, limited, limits_for, scenario
from tests.live.random_scenarios import describe
from tests.live.recording import record

_ASKED = os.environ.get("LIMIT_SWEEP", "")
NAMES = SWEPT if _ASKED == "all" else tuple(n for n in _ASKED.split(",") if n)


@pytest.mark.codex
@pytest.mark.parametrize("name", NAMES or ("terminal_session_with_stdin",))
def test_a_scenario_under_swept_limits_reduces_as_codex_reduces_it(
    name: str, tmp_path: Path
) -> None:
    codex = codex_bin(3)
    if codex is None:
        pytest.skip("no Codex binary for schema 3")
    base = scenario(name)
    whole = record(codex, base, tmp_path / "whole")
    assert whole, f"Codex wrote no bundle for {describe(base)}"
    sweep = limits_for(whole[0])
    if not NAMES:  # CI: a payload limit below any body, one just under the largest, a budget
        sweep = [sweep[1], sweep[len(sweep) // 3], sweep[-1]]
    lines = []
    for number, (setting, value) in enumerate(sweep):
        run = limited(base, setting, value)
        root = tmp_path / f"run{number}"
        bundles = record(codex, run, root)
        assert bundles, f"Codex wrote no bundle for {describe(run)}"
        for bundle in bundles:
            outcome = check_limited(bundle, codex, describe(run))
            lines.append(f"{name} {setting}={value}: {outcome.reduced} | {outcome.converted}\n")
        shutil.rmtree(root)
    report = os.environ.get("LIMIT_SWEEP_REPORT")
    if report:
        with Path(report).open("a") as out:
            out.write("".join(lines))
