"""The crash-cut differential (``crash_cuts.py``): bundles of both corpora and grammar bundles
that reach a state, cut at line boundaries, torn inside a line, a shard or payload file cut at
a random byte; each cut reduced by us and by the Codex of its schema (the same bytes or
refusal), and ``reduce --lenient`` ends cleanly with a prefix of the whole bundle's state.

CI cuts a few bases at a few places; ``CUT_BASES`` (corpus bundles per schema, ``all`` for
every one), ``CUT_GRAMMAR`` (grammar bundles per schema), ``CUT_LINES`` (line boundaries per
base at most), ``CUT_TORN`` (torn lines, and cut payload files, per base) and ``CUT_SEED`` for
a long run; ``CUT_REPORT=FILE`` keeps the counts."""

from __future__ import annotations

import os
import random
import shutil
from collections import Counter
from pathlib import Path

import orjson
import pytest

from rollout_trace_sdk.reduce import reduce_bundle, state_bytes
from rollout_trace_sdk.reduce.errors import ReduceError
from tests.codex_oracle import codex_bin
from tests.conftest import CONFORMANCE, CONFORMANCE_V3, conformance_bundles

from .crash_cuts import check_cut, cuts
from .grammar import Grammar

BASES = os.environ.get("CUT_BASES", "2")
GRAMMAR = int(os.environ.get("CUT_GRAMMAR", "2"))
LINES = int(os.environ.get("CUT_LINES", "12"))
TORN = int(os.environ.get("CUT_TORN", "3"))
SEED = int(os.environ.get("CUT_SEED", "20261207"))


def _bases(schema: int, rng: random.Random, scratch: Path) -> list[Path]:
    corpus = conformance_bundles(CONFORMANCE if schema == 2 else CONFORMANCE_V3)
    chosen = corpus if BASES == "all" else rng.sample(corpus, min(int(BASES), len(corpus)))
    bases = list(chosen)
    number = 0
    while len(bases) < len(chosen) + GRAMMAR and number < 20 * GRAMMAR:
        bundle = Grammar(scratch / f"g{number}", schema, SEED + number).run()
        number += 1
        try:
            reduce_bundle(bundle)
        except ReduceError:
            continue
        bases.append(bundle)
    return bases


@pytest.mark.codex
@pytest.mark.parametrize("schema", [2, 3])
def test_crash_cut_bundles_reduce_as_codex_and_leniently_to_a_prefix(
    tmp_path: Path, schema: int
) -> None:
    codex = codex_bin(schema)
    if codex is None:
        pytest.skip(f"no Codex binary for schema {schema}")
    rng = random.Random(f"{SEED}-{schema}")
    problems = []
    tally: Counter[str] = Counter()
    counts: dict[str, int] = {}
    for number, base in enumerate(_bases(schema, rng, tmp_path / "bases")):
        whole = orjson.loads(state_bytes(reduce_bundle(base)))
        for kind, shown, cutter in cuts(base, rng, LINES, TORN):
            tally[kind] += 1
            cut = cutter.lay_out(tmp_path / f"cut{number}")
            problem = check_cut(cut, codex, whole, counts)
            if problem is not None:
                problems.append(f"{base.name}: {kind}, {shown}: {problem}")
            shutil.rmtree(cut)
    report = os.environ.get("CUT_REPORT")
    if report:
        with Path(report).open("a") as out:
            out.write(f"schema {schema}: cuts {dict(tally)}, outcomes {counts}\n")
            out.writelines(f"{p}\n" for p in problems)
    shown = "\n".join(problems[:5])
    assert not problems, f"{len(problems)} of {sum(tally.values())} cuts differ:\n{shown}"
