"""Hostile bundles: every command ends with our clean error or a result, never a hang, a
traceback or "internal error", and never opens a file outside the bundle.

The fast subset runs here; ``benchmarks/fuzz_bundles.py`` runs the same cases at full size
(a 200 MB line) plus thousands of random mutations, each command in its own process, and
prints times and peak memory.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import CONFORMANCE_V3, REPO, conformance_bundles
from tests.hostile import (
    COMMANDS,
    FAST_SCALE,
    argv,
    crafted_cases,
    mutate,
    outside_opens,
    run_in_process,
    verdict,
)

#: Per command. A hang is what is looked for; nothing here comes near it when healthy.
TIMEOUT = 60.0
CASES = list(crafted_cases())


def _lay_out(root: Path) -> list[tuple[str, Path, Path]]:
    """Every crafted case under ``root``: (name, bundle, output directory)."""
    laid = []
    for index, (name, build) in enumerate(CASES):
        case = root / f"case{index}"
        (case / "scratch").mkdir(parents=True)
        (case / "out").mkdir()
        laid.append((name, build(case / "scratch", FAST_SCALE), case / "out"))
    return laid


def _driver(jobs: list[dict[str, Any]], work: Path) -> tuple[list[dict[str, Any]], str]:
    """Run the jobs in one child process, under strace when it is installed (else with an
    audit hook); returns the results and the trace (strace's log or the audited paths)."""
    (work / "jobs.json").write_text(json.dumps(jobs))
    command = [sys.executable, "-m", "tests.fuzz_driver", str(work / "jobs.json")]
    command.append(str(work / "results.json"))
    strace = shutil.which("strace")
    if strace:
        log = work / "strace.log"
        command = [strace, "-f", "-y", "-qq", "-e", "trace=open,openat,openat2", "-o", str(log)]
        command += [sys.executable, "-m", "tests.fuzz_driver", str(work / "jobs.json")]
        command.append(str(work / "results.json"))
    else:
        command.append(str(work / "opened.json"))
    budget = TIMEOUT * len(jobs) + 120
    subprocess.run(command, cwd=REPO, check=True, timeout=budget, capture_output=True)
    results = json.loads((work / "results.json").read_text())
    trace = (work / "strace.log").read_text() if strace else ""
    if not strace:
        trace = "\n".join(json.loads((work / "opened.json").read_text()))
    return results, trace


def test_crafted_cases_end_cleanly_and_read_nothing_outside(tmp_path: Path) -> None:
    laid = _lay_out(tmp_path / "cases")
    jobs: list[dict[str, Any]] = []
    names = []
    for name, bundle, out in laid:
        for command in COMMANDS:
            jobs.append({"argv": argv(command, bundle, out / "state.json"), "timeout": TIMEOUT})
            names.append(f"{name}: {' '.join(command)}")
    results, trace = _driver(jobs, tmp_path)
    broken = [
        f"{who}: {why}: {result['text'][:300]}"
        for who, result in zip(names, results, strict=True)
        if (why := verdict(result["code"], result["text"])) is not None
    ]
    assert not broken, "\n".join(broken)
    by_case = [results[i : i + len(COMMANDS)] for i in range(0, len(results), len(COMMANDS))]
    validate, reduce = COMMANDS.index(("validate",)), COMMANDS.index(("reduce",))
    for (name, _, _), runs in zip(laid, by_case, strict=True):
        if runs[validate]["code"] == 0:  # a bundle validate calls OK reduces
            assert runs[reduce]["code"] == 0, name
    assert len(results) == len(CASES) * len(COMMANDS) >= 200
    if shutil.which("strace"):
        bad = []
        for _, bundle, out in laid:
            bad += outside_opens(trace, bundle, [out])
        assert not bad, sorted(set(bad))
    else:
        for _, bundle, _ in laid:
            outside = str(bundle.parent / "outside")
            assert not [p for p in trace.splitlines() if p.startswith(outside)]


def test_the_strace_reader_sees_a_read_outside(tmp_path: Path) -> None:
    """The check above can fail: a plain ``cat`` of a decoy beside the bundle is caught."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed (scripts/test.sh installs it when it can)")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (tmp_path / "secret").write_text("x")
    log = tmp_path / "log"
    command = [strace, "-f", "-y", "-qq", "-e", "trace=open,openat", "-o", str(log), "cat"]
    subprocess.run([*command, str(tmp_path / "secret"), "/dev/null"], check=True, timeout=60)
    assert outside_opens(log.read_text(), bundle, []) == [str(tmp_path / "secret")]


_SMALL = [b for b in conformance_bundles() if sum(1 for _ in b.rglob("*")) < 60][:12]
_SMALL += conformance_bundles(CONFORMANCE_V3)[:12]  # schema 3: shards, templates, captures


@pytest.mark.skipif(not _SMALL, reason="../shared/conformance is not present")
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    source=st.sampled_from(_SMALL or [Path()]),
    rng=st.randoms(use_true_random=False),
    damage=st.integers(1, 3),
)
def test_mutated_real_bundles_end_cleanly(
    tmp_path_factory: pytest.TempPathFactory, source: Path, rng: random.Random, damage: int
) -> None:
    root = tmp_path_factory.mktemp("mutant")
    bundle = root / "bundle"
    shutil.copytree(source, bundle)
    done = [mutate(bundle, rng) for _ in range(damage)]
    codes = {}
    for command in COMMANDS:
        code, text = run_in_process(argv(command, bundle, root / "state.json"), TIMEOUT)
        why = verdict(code, text)
        assert why is None, f"{source.parent.name} after {done}: {' '.join(command)}: {why}\n{text}"
        codes[command] = code
    if codes[("validate",)] == 0:  # a bundle validate calls OK reduces
        assert codes[("reduce",)] == 0, f"{source.parent.name} after {done}"
