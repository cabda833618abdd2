"""Bundles the real Codex left when it was killed (SIGKILL, SIGTERM or SIGINT at a random moment
of a paced scenario: mid-stream, mid-tool, mid-compaction, a sub-agent running; see
:mod:`tests.live.killed_scenarios`) reduce with our reducer exactly as with that Codex: the same
state bytes, or the same refusal (Codex's text inside ours). So does each bundle torn further
the way a crash tears files (the log cut inside its last line, or a power cut: lines and the
last shard or payload files cut short). On each, ``reduce --lenient`` succeeds and says what it
skipped when the strict reduction refused, ``validate`` explains the damage, no command
tracebacks or hangs, and ``convert`` to each schema refuses clearly or writes a bundle that
Codex of that schema reduces as we do (:mod:`tests.killed_checks`), and ``convert --lenient``
writes what lenient reduction keeps (:mod:`tests.lenient_convert_checks`). CI runs a few fixed seeds;
``KILLED_EXAMPLES`` (and ``KILLED_SEED``) run more."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.codex_oracle import codex_bin
from tests.killed_checks import check_converted, check_killed, tear
from tests.lenient_convert_checks import check_lenient_converted
from tests.live.killed_scenarios import kill_of
from tests.live.recording import record_killed

EXAMPLES = int(os.environ.get("KILLED_EXAMPLES", "6"))
SEED = int(os.environ.get("KILLED_SEED", "20261204"))


@pytest.mark.codex
@pytest.mark.parametrize("seed", range(SEED, SEED + EXAMPLES))
def test_a_killed_codex_bundle_reduces_as_codex_reduces_it(seed: int, tmp_path: Path) -> None:
    kill = kill_of(seed)
    codex = codex_bin(kill.schema)
    if codex is None:
        pytest.skip(f"no Codex binary for schema {kill.schema}")
    bundles = record_killed(
        codex, kill.scenario, tmp_path / "run", after=kill.after, signum=kill.signum
    )
    rng = random.Random(seed)
    for bundle in bundles:
        check_killed(bundle, codex, kill.describe())
        check_converted(bundle, tmp_path, kill.describe())
        check_lenient_converted(bundle, tmp_path, kill.describe())
        torn, how = tear(bundle, tmp_path / f"torn-{bundle.name}", rng)
        check_killed(torn, codex, f"{kill.describe()}, then {how}")
        check_converted(torn, tmp_path, f"{kill.describe()}, then {how}")
        check_lenient_converted(torn, tmp_path, f"{kill.describe()}, then {how}")
