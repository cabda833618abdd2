"""Bundles the real Codex left when it was killed (SIGKILL, SIGTERM or SIGINT at a random moment
of a paced scenario: mid-stream, mid-tool, mid-compaction, a sub-agent running; see
:mod:`tests.live.killed_scenarios`) reduce with our reducer exactly as with that Codex: the same
state bytes, or the same refusal (Codex's text inside ours). So does each bundle torn further
the way a crash tears files (the log cut inside its last line, in schema 3 the last shard cut
short). On each, ``reduce --lenient`` succeeds and says what it skipped when the strict
reduction refused, ``validate`` explains the damage, and no command tracebacks or hangs. CI runs
a few fixed seeds; ``KILLED_EXAMPLES`` (and ``KILLED_SEED``) run more."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest

from rollout_trace_sdk.testing import reduce_and_compare
from tests.codex_oracle import codex_bin
from tests.hostile import argv, run_in_process, verdict
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
        _check(bundle, codex, kill.describe())
        torn, how = _tear(bundle, tmp_path / f"torn-{bundle.name}", rng)
        _check(torn, codex, f"{kill.describe()}, then {how}")


def _tear(bundle: Path, target: Path, rng: random.Random) -> tuple[Path, str]:
    """A copy of ``bundle`` as a crash mid-write leaves it: the log cut inside its last line
    and, if it has shards, the last one cut short."""
    shutil.copytree(bundle, target)
    log = target / "trace.jsonl"
    data = log.read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    cut = rng.randrange(start, len(data) + 1)
    log.write_bytes(data[:cut])
    how = f"log cut at {cut} of {len(data)}"
    shards = sorted((target / "payloads").glob("*.zst"))
    if shards and rng.random() < 0.5:
        shard = shards[-1]
        raw = shard.read_bytes()
        at = rng.randrange(len(raw) + 1)
        shard.write_bytes(raw[:at])
        how += f", {shard.name} cut at {at} of {len(raw)}"
    return target, how


def _check(bundle: Path, codex: str, described: str) -> None:
    result = reduce_and_compare(bundle, codex, timeout=60)
    refused = result.codex_stderr.strip().removeprefix("Error: ")
    same_refusal = (
        result.error is not None and result.codex is None and refused in result.error.codex_text()
    )
    assert result.same_text or same_refusal, f"{result.explain()}\n{described}"
    outputs = {}
    for command in (("reduce", "--lenient"), ("validate",), ("summary",)):
        code, text = run_in_process(argv(command, bundle, bundle.parent / "state.json"), 60)
        broken = verdict(code, text)
        assert broken is None, f"{command}: {broken}\n{text[-2000:]}\n{described}"
        outputs[command] = (code, text)
    code, text = outputs[("reduce", "--lenient")]
    assert code == 0, f"lenient reduction failed: {text[-2000:]}\n{described}"
    if result.error is not None:
        assert "lenient: skipped" in text, f"{text[-2000:]}\n{described}"
        code, text = outputs[("validate",)]
        assert code != 0 and result.error.message in text, f"{text[-2000:]}\n{described}"
