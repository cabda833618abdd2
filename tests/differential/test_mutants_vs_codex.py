"""Mutation differential: real bundles of both corpora, each damaged once (its bytes, see
``tests.hostile.mutate``, or what its JSON says, see ``tests.mutants``), reduce with our
reducer exactly as with the matching Codex (the one of the schema the mutated manifest names):
the same state bytes, or the same refusal, cause and position included. Mutants our confinement refuses (Codex follows the path) and those
Codex hangs on (a path to /dev/zero) are counted apart. CI runs a fixed seed and a bounded
number; set MUTANT_EXAMPLES (and MUTANT_SEED) for more, MUTANT_REPORT=FILE to keep every
difference. Each difference found this way became a case of
``tests/reduce/test_serde_edges.py``."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import orjson
import pytest

from rollout_trace_sdk.reduce.confined import BundleFileError
from rollout_trace_sdk.testing import reduce_and_compare
from tests.codex_oracle import codex_bin
from tests.conftest import CONFORMANCE, CONFORMANCE_V3, conformance_bundles
from tests.hostile import mutate
from tests.mutants import json_mutate

EXAMPLES = int(os.environ.get("MUTANT_EXAMPLES", "400"))
SEED = int(os.environ.get("MUTANT_SEED", "20261202"))
BUNDLES = [(b, 2) for b in conformance_bundles(CONFORMANCE)]
BUNDLES += [(b, 3) for b in conformance_bundles(CONFORMANCE_V3)]


@pytest.mark.codex
@pytest.mark.skipif(not BUNDLES, reason="the conformance corpora are not present")
@pytest.mark.skipif(
    codex_bin(2) is None or codex_bin(3) is None, reason="needs both Codex binaries"
)
def test_mutated_bundles_reduce_as_codex_reduces_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # both reducers are given the same relative path
    differences = []
    hung = refused = 0
    alike: Counter[str] = Counter()
    for number in range(EXAMPLES):
        rng = random.Random(SEED + number)
        source, schema = BUNDLES[rng.randrange(len(BUNDLES))]
        bundle = Path(f"m{number}")
        shutil.copytree(source, bundle, ignore=shutil.ignore_patterns("expected_state.json"))
        done = (json_mutate if rng.random() < 0.6 else mutate)(bundle, rng)
        codex = codex_bin(_oracle_schema(bundle, schema))
        assert codex is not None
        try:
            result = reduce_and_compare(bundle, codex, timeout=60)
        except subprocess.TimeoutExpired:
            hung += 1  # a FIFO-like path (/dev/zero): Codex reads forever, we refused at once
            shutil.rmtree(bundle)
            continue
        if isinstance(result.error, BundleFileError) and result.error.unsafe:
            refused += 1  # our confinement refuses what Codex follows (docs/reducing.md)
        elif result.same_text:
            alike["refused alike" if result.error is not None else "accepted alike"] += 1
        else:
            differences.append(
                f"seed {SEED + number}, {source.parent.name} ({done}): {result.explain()}"
            )
        shutil.rmtree(bundle)
    report = os.environ.get("MUTANT_REPORT")
    if report:  # the counts, then every difference, one per line, for a long run
        counts = f"{EXAMPLES} examples: {dict(alike)}, {len(differences)} differ,"
        counts += f" {refused} refused by our confinement, {hung} where Codex hung\n"
        Path(report).write_text(counts + "".join(f"{d}\n" for d in differences))
    shown = "\n".join(differences[:5])
    assert not differences, (
        f"{len(differences)} of {EXAMPLES} differ ({refused} refused by our confinement,"
        f" {hung} where Codex hung); the first:\n{shown}"
    )


def _oracle_schema(bundle: Path, schema: int) -> int:
    """The Codex to ask: the one of the schema the (mutated) manifest names, when it names 2
    or 3 (we read a bundle as its manifest says, as that Codex does; the other Codex would
    refuse the manifest's version outright), else the one of the bundle's own schema."""
    try:
        named = orjson.loads((bundle / "manifest.json").read_bytes()).get("schema_version")
    except (OSError, ValueError, AttributeError):
        return schema
    return named if named in (2, 3) and named.__class__ is int else schema
