"""Damage differential: a conformance bundle damaged below its JSON, in its files
(``tests/differential/damage.py``: schema-3 shards cut, flipped, swapped, renumbered, missing,
extra, empty, reframed, records duplicated, renamed, their bodies broken; schema-2 payload
files missing, empty, cut, not UTF-8, with a BOM or trailing bytes, a directory or symlink in
their place; the manifest and the log cut, with a BOM, CRLF, NUL bytes, blank lines), reduced
by ours as by the Codex of its schema (the same state or the same refusal, cause included),
``reduce --lenient``, ``validate``, ``summary`` and ``show`` ending cleanly. A symlink where a
file belongs is refused by our confinement (Codex follows it), naming the symlink.

CI runs a fixed seed and a few examples per schema; set DAMAGE_EXAMPLES and DAMAGE_SEED for
a long run (or ``benchmarks/values_vs_codex.py --values damage``, which counts the outcomes
of each kind of damage)."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from rollout_trace_sdk.reduce import reduce_bundle
from rollout_trace_sdk.reduce.confined import BundleFileError
from tests.conftest import CONFORMANCE_V3, conformance_bundles, needs_conformance_v3

from . import damage
from .damage import judge, mutate
from .mutation import check_reduced_alike

EXAMPLES = int(os.environ.get("DAMAGE_EXAMPLES", "40"))
SEED = os.environ.get("DAMAGE_SEED", "20261206")


@pytest.mark.codex
@pytest.mark.parametrize("schema", [2, 3])
def test_damaged_files_reduce_as_codex_reduces_them(tmp_path: Path, schema: int) -> None:
    check_reduced_alike(mutate, schema, EXAMPLES, SEED, tmp_path, judge)


@needs_conformance_v3
def test_the_judge_wants_the_symlink_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A refusal for a symlink must name the one the damage made: one naming another file (a
    stand-in reducer, as ours never does so) is a divergence; ours, refusing the symlinked
    shard by its path, is not."""
    bundle = tmp_path / "b"
    shutil.copytree(conformance_bundles(CONFORMANCE_V3)[0], bundle)
    shard = bundle / "payloads" / "000001.zst"
    shutil.move(shard, tmp_path / "copy.zst")
    shard.symlink_to("../../copy.zst")
    with pytest.raises(BundleFileError) as refused:
        reduce_bundle(bundle)
    assert refused.value.relpath == "payloads/000001.zst"

    def elsewhere(path: Path) -> None:
        raise BundleFileError(
            "open shard", cause="it is a symlink", file="x", relpath="payloads/000002.zst"
        )

    monkeypatch.setattr(damage, "reduce_bundle", elsewhere)
    verdict = damage.judge(bundle, 3, Counter())
    assert verdict is not None and "another file" in verdict
