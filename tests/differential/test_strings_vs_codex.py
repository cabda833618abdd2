"""String differential: odd strings and JSON text shapes (``tests/differential/strings.py``:
escapes that decode to the same text, lone surrogates, NUL and control characters, invalid and
overlong UTF-8, BOMs, 1 MB and empty strings, odd ids, another type in place of a value, keys
given twice or in another case, shuffled keys, whitespace, ``\\r\\n`` and blank lines in the
log) put in a conformance bundle, each reduced by ours as by the Codex of its schema (the same
state or the same refusal), ``reduce --lenient``, ``validate``, ``summary`` and ``show``
ending cleanly, and one both accept converted to the other schema and reduced alike there.

CI runs a fixed seed and a few examples per schema; set STRINGS_EXAMPLES and STRINGS_SEED for
a long run (or ``benchmarks/values_vs_codex.py --values strings``, which also counts the
places)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .mutation import check_reduced_alike
from .strings import mutate

EXAMPLES = int(os.environ.get("STRINGS_EXAMPLES", "25"))
SEED = os.environ.get("STRINGS_SEED", "20261205")


@pytest.mark.codex
@pytest.mark.parametrize("schema", [2, 3])
def test_odd_strings_reduce_as_codex_reduces_them(tmp_path: Path, schema: int) -> None:
    check_reduced_alike(mutate, schema, EXAMPLES, SEED, tmp_path)
