"""Scenarios of the kinds :mod:`tests.live.random_gaps` scripts (those the corpora hold or a user
hits beside them, which the random live scenarios never make) recorded by the real Codex CLI:
each bundle reduces with our reducer exactly as with that Codex, ``reduce --lenient``,
``validate``, ``summary``, ``show``, ``view``, ``export`` (perfetto, otlp) and ``redact`` end
cleanly, and one both accept converts to the other schema as ``docs/reducing.md`` says
(:func:`tests.differential.mutation.probe`). CI runs one of each app-server kind and two exec
kinds; ``GAPS_EXAMPLES`` / ``GAPS_APP_EXAMPLES`` (and ``GAPS_SEED``) run more, a seed's kind
being ``seed % len(KINDS)``; ``GAPS_REPORT=FILE`` keeps each bundle's outcome."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from tests.codex_oracle import codex_bin
from tests.differential.mutation import probe
from tests.hostile import argv, run_in_process, verdict
from tests.live.random_gaps import gap_app_scenario, gap_scenario
from tests.live.random_scenarios import describe
from tests.live.recording import record
from tests.live.scenarios import Scenario

EXAMPLES = int(os.environ.get("GAPS_EXAMPLES", "2"))
APP_EXAMPLES = int(os.environ.get("GAPS_APP_EXAMPLES", "2"))
SEED = int(os.environ.get("GAPS_SEED", "20261208"))

#: the commands beside probe's that must end cleanly on every recording
_MORE = (("view",), ("export", "--format", "perfetto"), ("export", "--format", "otlp"), ("redact",))


@pytest.mark.codex
@pytest.mark.parametrize("seed", range(SEED, SEED + EXAMPLES))
def test_a_scenario_of_a_new_kind_reduces_as_codex_reduces_it(seed: int, tmp_path: Path) -> None:
    _check(gap_scenario(seed), tmp_path)


@pytest.mark.codex
@pytest.mark.parametrize("seed", range(SEED, SEED + APP_EXAMPLES))
def test_an_app_server_session_of_a_new_kind_reduces_as_codex_reduces_it(
    seed: int, tmp_path: Path
) -> None:
    _check(gap_app_scenario(seed), tmp_path)


def _check(scenario: Scenario, tmp_path: Path) -> None:
    if None in (codex_bin(2), codex_bin(3)):
        pytest.skip("needs both Codex binaries (a recording is converted to the other schema)")
    problems, lines = [], []
    for schema in scenario.schemas:
        bundles = record(codex_bin(schema) or "", scenario, tmp_path / f"v{schema}")
        assert bundles, f"Codex wrote no bundle for {describe(scenario)}"
        for number, bundle in enumerate(bundles):
            outcomes: Counter[str] = Counter()
            problem = probe(bundle, schema, outcomes)
            for command in _MORE:
                if problem is None:
                    code, text = run_in_process(argv(command, bundle, bundle / "state.json"), 60)
                    broken = verdict(code, text)
                    if broken is not None:
                        problem = f"{' '.join(command)}: {broken}: {text[-1500:]}"
            verdicts = ",".join(outcomes) or "-"
            lines.append(f"{scenario.name} v{schema} #{number}: {verdicts} | {problem or 'held'}\n")
            if problem is not None:
                problems.append(f"schema {schema} bundle {number}: {problem}")
    report = os.environ.get("GAPS_REPORT")
    if report:
        with Path(report).open("a") as out:
            out.write("".join(lines))
    assert not problems, "\n".join(problems) + f"\n{describe(scenario)}"
