"""The long hostile-bundle run: every crafted case at full size plus random mutations of real
bundles, each command of ``tests.hostile.COMMANDS`` (``reduce``, ``reduce --lenient``,
``validate``, ``summary``, ``view``, ``show``, ``export``, ``convert``, ``redact``) in its own
process with a timeout.

    python benchmarks/fuzz_bundles.py                      # scale 40 (a 200 MB line), 250 mutants
    python benchmarks/fuzz_bundles.py --scale 1 --mutants 50 --seed 7
    python benchmarks/fuzz_bundles.py --json               # last line: one JSON object

Prints cases run, failures (hang, traceback, "internal error", a bad exit code, a decoy's
content in the output), the slowest run and the largest peak RSS (``wait4`` of that one
child), and, as a baseline measured in the same run, the peak RSS of reducing a healthy small
bundle. The contract is in ``tests/hostile.py``; CI runs a small subset
(``tests/reduce/test_hostile_fuzz.py``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import conformance_bundles  # noqa: E402
from tests.hostile import COMMANDS, argv, crafted_cases, mutate, verdict  # noqa: E402
from tests.reduce.test_bundle import make_bundle  # noqa: E402


def run(args: list[str], timeout: float) -> tuple[int | None, str, float, int]:
    """One CLI run in a child: (exit code or None on timeout, output, seconds, peak RSS bytes)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "rollout_trace_sdk", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        deadline = started + timeout
        status = None
        rusage = None
        while status is None:
            pid, raw_status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                status, rusage = raw_status, usage
                break
            if time.perf_counter() > deadline:
                child.kill()
                _, raw_status, rusage = os.wait4(child.pid, 0)
                child.returncode = -9
                out.seek(0)
                text = out.read().decode(errors="replace")
                return None, text, time.perf_counter() - started, rusage.ru_maxrss * 1024
            time.sleep(0.01)
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    seconds = time.perf_counter() - started
    assert rusage is not None
    return child.returncode, text, seconds, rusage.ru_maxrss * 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=40, help="size multiplier (40: 200 MB line)")
    parser.add_argument("--mutants", type=int, default=250, help="random mutations to run")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--cases", type=int, help="run only the first N crafted cases")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="fuzz-bundles-"))
    failures: list[str] = []
    runs = 0
    slowest = (0.0, "")
    biggest = (0, "")

    def check(label: str, args: list[str]) -> None:
        nonlocal runs, slowest, biggest
        code, text, seconds, rss = run(args, options.timeout)
        runs += 1
        why = verdict(code, text)
        if why is not None:
            failures.append(f"{label}: {why}: {text[:400]!r}")
        slowest = max(slowest, (seconds, label))
        biggest = max(biggest, (rss, label))

    try:
        healthy = make_bundle(work / "healthy")
        _, _, _, baseline_rss = run(["reduce", str(healthy), "-o", str(work / "h.json")], 120)

        for index, (name, build) in enumerate(itertools.islice(crafted_cases(), options.cases)):
            case = work / f"case{index}"
            (case / "scratch").mkdir(parents=True)
            (case / "out").mkdir()
            bundle = build(case / "scratch", options.scale)
            for command in COMMANDS:
                check(
                    f"{name}: {' '.join(command)}", argv(command, bundle, case / "out" / "s.json")
                )
            shutil.rmtree(case)

        sources = conformance_bundles()
        rng = random.Random(options.seed)
        for index in range(options.mutants if sources else 0):
            source = rng.choice(sources)
            mutant = work / f"mutant{index}"
            shutil.copytree(source, mutant / "bundle")
            done = [mutate(mutant / "bundle", rng) for _ in range(rng.randint(1, 3))]
            label = f"mutant {index} of {source.parent.name} ({'; '.join(done)})"
            for command in COMMANDS:
                check(
                    f"{label}: {' '.join(command)}",
                    argv(command, mutant / "bundle", mutant / "s.json"),
                )
            shutil.rmtree(mutant)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    figures = {
        "runs": runs,
        "failures": len(failures),
        "max_seconds": round(slowest[0], 2),
        "max_seconds_run": slowest[1],
        "max_rss_mb": round(biggest[0] / 2**20, 1),
        "max_rss_run": biggest[1],
        "baseline_rss_mb": round(baseline_rss / 2**20, 1),
        "scale": options.scale,
        "huge_line_mb": 5 * options.scale,
    }
    for failure in failures:
        print(f"FAIL {failure}")
    print(f"runs {runs}, failures {len(failures)}")
    print(f"slowest {figures['max_seconds']} s ({slowest[1]})")
    print(
        f"peak RSS {figures['max_rss_mb']} MB ({biggest[1]}); "
        f"baseline (healthy small bundle) {figures['baseline_rss_mb']} MB"
    )
    if options.json:
        print(json.dumps(figures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
