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
from pathlib import Path

import pytest

from .damage import judge, mutate
from .mutation import check_reduced_alike

EXAMPLES = int(os.environ.get("DAMAGE_EXAMPLES", "40"))
SEED = os.environ.get("DAMAGE_SEED", "20261206")


@pytest.mark.codex
@pytest.mark.parametrize("schema", [2, 3])
def test_damaged_files_reduce_as_codex_reduces_them(tmp_path: Path, schema: int) -> None:
    check_reduced_alike(mutate, schema, EXAMPLES, SEED, tmp_path, judge)
