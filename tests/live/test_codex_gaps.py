"""Scenarios of the kinds :mod:`tests.live.random_gaps` and :mod:`tests.live.random_gaps_app` script (those the corpora hold or a user
hits beside them, which the random live scenarios never make) recorded by the real Codex CLI:
each bundle reduces with our reducer exactly as with that Codex, ``reduce --lenient``,
``validate``, ``summary``, ``show``, ``view``, ``export`` (perfetto, otlp) and ``redact`` end
cleanly, and one both accept converts to the other schema as ``docs/reducing.md`` says
(:func:`tests.differential.mutation.probe`). CI runs one of each app-server kind and two exec
kinds; ``GAPS_EXAMPLES`` / ``GAPS_APP_EXAMPLES`` (and ``GAPS_SEED``) run more, a seed's kind
being ``seed % len(KINDS)``; ``GAPS_REPORT=FILE`` keeps each bundle's outcome. A Codex run
that hangs (times out) is counted apart and skipped: nothing of ours runs while it records. Opt-in, each
drawn apart from the scenario: ``GAPS_LIMITS=1`` puts tight capture limits on some sessions
(:mod:`tests.live.random_limits`; schema 3 only then), ``GAPS_CUTS=N`` cuts each bundle that
reaches a state at up to N line ends and N/2 torn places (:mod:`tests.differential.crash_cuts`),
``GAPS_KILLED=N`` (default 1) records N ``codex exec`` sessions killed at a random moment (SIGINT as a
user's Ctrl-C, SIGTERM, SIGKILL; judged as :mod:`tests.live.test_codex_killed` judges; with
``GAPS_KILLED_RESUMED=1`` half of them resumed after, a bundle judged alike), and
``GAPS_MORE_EXAMPLES=N`` / ``GAPS_MORE_APP_EXAMPLES=N`` (default 1 each) N sessions of
:mod:`tests.live.random_gaps_more`'s kinds (``codex exec fork``, cells calling goals and MCP
resources, workers running cells, odd answers mid-turn, an MCP server that never comes up,
workers whose turns overlap; a
goal's own turns in ``codex app-server``), and ``GAPS_USER_EXAMPLES=N`` / ``GAPS_USER_APP_EXAMPLES=N`` (default 1 each) N of
:mod:`tests.live.random_gaps_user`'s (``codex exec review``, the context a user sets up,
escalations under each approval policy and the auto-reviewer, features under development;
turns a client starts with its own settings, tool outputs and reviews; ``GAPS_KILLED_USER=N``
(default 1) kills N of the ``codex exec`` ones as ``GAPS_KILLED`` kills its own), and
``GAPS_EDITS_EXAMPLES=N`` (default 1) N of :mod:`tests.live.random_gaps_edits`'s (patches of
every shape outside a cell, several and large ``-i`` images, a third party's MCP server,
sessions resumed by the other Codex version, skills; ``GAPS_EDITS_APP_EXAMPLES=N``, default 1,
app-server turns whose input holds images with a detail, audio, skills and mentions;
``GAPS_KILLED_EDITS=N``, default 0, kills N of the exec ones as ``GAPS_KILLED`` does), and
``GAPS_WEB_EXAMPLES=N`` (default 1) N of :mod:`tests.live.random_gaps_web`'s (an MCP server over
streamable HTTP; ``GAPS_KILLED_WEB=N``, default 0, kills N of them; ``GAPS_WEB_APP_EXAMPLES=N``,
default 1, ``codex app-server`` threads using it)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
from collections import Counter
from pathlib import Path

import attrs
import pytest

from tests.codex_oracle import bundle_schema, codex_bin
from tests.differential.crash_cuts import check_some_cuts
from tests.differential.mutation import probe
from tests.hostile import argv, run_in_process, verdict
from tests.killed_checks import check_converted, check_killed
from tests.live.random_gaps import gap_scenario
from tests.live.random_gaps_app import gap_app_scenario
from tests.live.random_gaps_edits import edit_gap_app_scenario, edit_gap_scenario
from tests.live.random_gaps_more import more_gap_app_scenario, more_gap_scenario
from tests.live.random_gaps_user import user_gap_app_scenario, user_gap_scenario
from tests.live.random_gaps_web import web_gap_app_scenario, web_gap_scenario
from tests.live.random_limits import draw_limits
from tests.live.random_scenarios import describe
from tests.live.recording import record, record_killed
from tests.live.scenarios import Scenario
from tests.live.script import after, call, message

EXAMPLES = int(os.environ.get("GAPS_EXAMPLES", "2"))
APP_EXAMPLES = int(os.environ.get("GAPS_APP_EXAMPLES", "2"))
SEED = int(os.environ.get("GAPS_SEED", "20261208"))
LIMITS = os.environ.get("GAPS_LIMITS", "") == "1"
CUTS = int(os.environ.get("GAPS_CUTS", "0"))
KILLED = int(os.environ.get("GAPS_KILLED", "1"))
MORE = int(os.environ.get("GAPS_MORE_EXAMPLES", "1"))
MORE_APP = int(os.environ.get("GAPS_MORE_APP_EXAMPLES", "1"))
USER = int(os.environ.get("GAPS_USER_EXAMPLES", "1"))
USER_APP = int(os.environ.get("GAPS_USER_APP_EXAMPLES", "1"))
KILLED_USER = int(os.environ.get("GAPS_KILLED_USER", "1"))
KILLED_RESUMED = os.environ.get("GAPS_KILLED_RESUMED", "") == "1"
EDITS = int(os.environ.get("GAPS_EDITS_EXAMPLES", "1"))
KILLED_EDITS = int(os.environ.get("GAPS_KILLED_EDITS", "0"))
EDITS_APP = int(os.environ.get("GAPS_EDITS_APP_EXAMPLES", "1"))
WEB = int(os.environ.get("GAPS_WEB_EXAMPLES", "1"))
KILLED_WEB = int(os.environ.get("GAPS_KILLED_WEB", "0"))
WEB_APP = int(os.environ.get("GAPS_WEB_APP_EXAMPLES", "1"))
#: the turn of a session resumed after it was killed: a command, then an answer (first among
#: the rules: the scenario's own may match its request too)
_GO_ON = [
    {
        "name": "go_on",
        "match": {"last_user": "Go on", "lacks_call_id": "go_on_c"},
        "items": [call("exec_command", {"cmd": "echo went on"}, "go_on_c")],
    },
    after("go_on_c", message("Went on.")),
]

#: the commands beside probe's that must end cleanly on every recording
_MORE = (("view",), ("export", "--format", "perfetto"), ("export", "--format", "otlp"), ("redact",))


@pytest.mark.codex
@pytest.mark.parametrize("seed", range(SEED, SEED + EXAMPLES))
def test_a_scenario_of_a_new_kind_reduces_as_codex_reduces_it(seed: int, tmp_path: Path) -> None:
    _check(_limited(gap_scenario(seed), seed), tmp_path, seed)


@pytest.mark.codex
@pytest.mark.parametrize("seed", range(SEED, SEED + APP_EXAMPLES))
def test_an_app_server_session_of_a_new_kind_reduces_as_codex_reduces_it(
    seed: int, tmp_path: Path
) -> None:
    _check(_limited(gap_app_scenario(seed), seed), tmp_path, seed)


@pytest.mark.codex
@pytest.mark.parametrize("seed", range(SEED, SEED + MORE))
def test_a_scenario_of_one_more_kind_reduces_as_codex_reduces_it(seed: int, tmp_path: Path) -> None:
    _check(_limited(more_gap_scenario(seed), seed), tmp_path, seed)


@pytest.mark.codex
@pytest.mark.parametrize("seed", range(SEED, SEED + MORE_APP))
def test_an_app_server_session_of_one_more_kind_reduces_as_codex_reduces_it(
    seed: int, tmp_path: Path
) -> None:
    _check(_limited(more_gap_app_scenario(seed), seed), tmp_path, seed)


@pytest.mark.codex
@pytest.mark.parametrize("seed", range(SEED, SEED + USER))
def test_a_scenario_a_user_sets_up_reduces_as_codex_reduces_it(seed: int, tmp_path: Path) -> None:
    _check(_limited(user_gap_scenario(seed), seed), tmp_path, seed)


@pytest.mark.codex
@pytest.mark.parametrize("seed", range(SEED, SEED + USER_APP))
def test_an_app_server_session_a_user_sets_up_reduces_as_codex_reduces_it(
    seed: int, tmp_path: Path
) -> None:
    _check(_limited(user_gap_app_scenario(seed), seed), tmp_path, seed)


@pytest.mark.codex
@pytest.mark.parametrize("seed", range(SEED, SEED + EDITS))
def test_a_scenario_of_an_edit_kind_reduces_as_codex_reduces_it(seed: int, tmp_path: Path) -> None:
    _check(_limited(edit_gap_scenario(seed), seed), tmp_path, seed)


@pytest.mark.codex
@pytest.mark.parametrize("seed", range(SEED, SEED + KILLED))
def test_a_killed_scenario_of_a_new_kind_reduces_as_codex_reduces_it(
    seed: int, tmp_path: Path
) -> None:
    _check_killed(_limited(gap_scenario(seed), seed), tmp_path, seed)


@pytest.mark.codex
@pytest.mark.parametrize("seed", range(SEED, SEED + KILLED_USER))
def test_a_killed_scenario_a_user_sets_up_reduces_as_codex_reduces_it(
    seed: int, tmp_path: Path
) -> None:
    _check_killed(_limited(user_gap_scenario(seed), seed), tmp_path, seed)


@pytest.mark.codex
@pytest.mark.parametrize("seed", range(SEED, SEED + EDITS_APP))
def test_an_app_server_session_of_an_edit_kind_reduces_as_codex_reduces_it(
    seed: int, tmp_path: Path
) -> None:
    _check(_limited(edit_gap_app_scenario(seed), seed), tmp_path, seed)


@pytest.mark.codex
@pytest.mark.parametrize("seed", range(SEED, SEED + KILLED_EDITS))
def test_a_killed_scenario_of_an_edit_kind_reduces_as_codex_reduces_it(
    seed: int, tmp_path: Path
) -> None:
    _check_killed(_limited(edit_gap_scenario(seed), seed), tmp_path, seed)


@pytest.mark.codex
@pytest.mark.parametrize("seed", range(SEED, SEED + WEB))
def test_a_scenario_of_a_remote_mcp_server_reduces_as_codex_reduces_it(
    seed: int, tmp_path: Path
) -> None:
    _check(_limited(web_gap_scenario(seed), seed), tmp_path, seed)


@pytest.mark.codex
@pytest.mark.parametrize("seed", range(SEED, SEED + WEB_APP))
def test_an_app_server_session_of_a_remote_mcp_server_reduces_as_codex_reduces_it(
    seed: int, tmp_path: Path
) -> None:
    _check(_limited(web_gap_app_scenario(seed), seed), tmp_path, seed)


@pytest.mark.codex
@pytest.mark.parametrize("seed", range(SEED, SEED + KILLED_WEB))
def test_a_killed_scenario_of_a_remote_mcp_server_reduces_as_codex_reduces_it(
    seed: int, tmp_path: Path
) -> None:
    _check_killed(_limited(web_gap_scenario(seed), seed), tmp_path, seed)


def _check_killed(scenario: Scenario, tmp_path: Path, seed: int) -> None:
    """``scenario`` run by ``codex exec`` and killed at a moment drawn from ``seed``: each
    bundle left judged as :mod:`tests.live.test_codex_killed` judges (resumed after now and
    then, with ``GAPS_KILLED_RESUMED=1``)."""
    rng = random.Random(f"killed-{seed}")
    schema = rng.choice(scenario.schemas)
    codex = codex_bin(schema)
    if None in (codex_bin(2), codex_bin(3)) or codex is None:
        pytest.skip("needs both Codex binaries")
    after = rng.uniform(0.2, 4.0)
    signum = rng.choice([signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
    resumed = KILLED_RESUMED and rng.random() < 0.5
    if resumed:  # as a user goes on after Ctrl-C (or a crash): the session resumed
        scenario = attrs.evolve(scenario, rules=[*_GO_ON, *scenario.rules], then=("Go on.",))
    told = f"{signum.name} after {after:.2f} s, schema {schema}; {describe(scenario)}"
    lines = []
    bundles = record_killed(
        codex, scenario, tmp_path / "run", after=after, signum=signum, resume=resumed
    )
    for bundle in bundles:
        if scenario.alternate_codex:  # resumed by the other version: its own Codex
            codex = codex_bin(bundle_schema(bundle)) or codex
        result = check_killed(bundle, codex, told)
        check_converted(bundle, tmp_path, told)
        verdicts = "refused alike" if result.error is not None else "reached alike"
        then = " then resumed" if resumed else ""
        lines.append(f"killed{then} {scenario.name} v{schema} {signum.name}: {verdicts} | held\n")
    _report(lines)


def _limited(scenario: Scenario, seed: int) -> Scenario:
    """``scenario`` under tight capture limits now and then, with ``GAPS_LIMITS=1``."""
    if not LIMITS:
        return scenario
    limits = draw_limits(random.Random(f"limits-{seed}"), [*scenario.rules], scenario.extra)
    if not limits:
        return scenario
    name = f"{scenario.name}_limited"
    return attrs.evolve(scenario, name=name, extra=(*scenario.extra, *limits), schemas=(3,))


def _report(lines: list[str]) -> None:
    report = os.environ.get("GAPS_REPORT")
    if report:
        with Path(report).open("a") as out:
            out.write("".join(lines))


def _check(scenario: Scenario, tmp_path: Path, seed: int) -> None:
    if None in (codex_bin(2), codex_bin(3)):
        pytest.skip("needs both Codex binaries (a recording is converted to the other schema)")
    problems, lines = [], []
    for recorded in scenario.schemas:
        try:
            bundles = record(codex_bin(recorded) or "", scenario, tmp_path / f"v{recorded}")
        except subprocess.TimeoutExpired:  # Codex's own hang (none of ours runs): counted apart
            _report([f"{scenario.name} v{recorded}: Codex hung | counted apart\n"])
            pytest.skip(f"Codex {recorded} hung recording {scenario.name}")
        assert bundles, f"Codex wrote no bundle for {describe(scenario)}"
        for number, bundle in enumerate(bundles):
            outcomes: Counter[str] = Counter()
            # a session resumed by the other version: that bundle is of the other schema
            schema = bundle_schema(bundle) if scenario.alternate_codex else recorded
            problem = probe(bundle, schema, outcomes)
            for command in _MORE:
                if problem is None:
                    code, text = run_in_process(argv(command, bundle, bundle / "state.json"), 60)
                    broken = verdict(code, text)
                    if broken is not None:
                        problem = f"{' '.join(command)}: {broken}: {text[-1500:]}"
            if problem is None and CUTS and outcomes["accepted by both"]:
                rng = random.Random(f"cuts-{seed}-{schema}-{number}")
                cut = check_some_cuts(
                    bundle, codex_bin(schema) or "", rng, tmp_path, CUTS, CUTS // 2
                )
                problem = "; ".join(cut[:3]) or None
                outcomes["cut"] += 1
            verdicts = ",".join(outcomes) or "-"
            lines.append(f"{scenario.name} v{schema} #{number}: {verdicts} | {problem or 'held'}\n")
            if problem is not None:
                problems.append(f"schema {schema} bundle {number}: {problem}")
    _report(lines)
    assert not problems, "\n".join(problems) + f"\n{describe(scenario)}"
