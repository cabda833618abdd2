"""Number differential: odd numbers (``tests/differential/numbers.py``: past 2^53, 2^63, 2^64
and 2^128, beyond f64 and below its smallest, signed zeros, exponent and trailing-zero
spellings) put in place of a scalar of a conformance bundle (an event line's field, a payload's
value, a value in a payload's JSON string), each bundle reduced by ours as by the Codex of its
schema (the same state or the same refusal), ``reduce --lenient``, ``validate``, ``summary``
and ``show`` ending cleanly, and one both accept converted to the other schema and reduced
alike there.

CI runs a fixed seed and a few examples per schema; set NUMBERS_EXAMPLES and NUMBERS_SEED for
a long run (or ``benchmarks/values_vs_codex.py``, which also counts the places)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .mutation import check_reduced_alike
from .numbers import mutate

EXAMPLES = int(os.environ.get("NUMBERS_EXAMPLES", "25"))
SEED = os.environ.get("NUMBERS_SEED", "20261205")


@pytest.mark.codex
@pytest.mark.parametrize("schema", [2, 3])
def test_odd_numbers_reduce_as_codex_reduces_them(tmp_path: Path, schema: int) -> None:
    check_reduced_alike(mutate, schema, EXAMPLES, SEED, tmp_path)
