"""Grammar differential: random scenarios (``tests.differential.grammar``: several threads,
turns in odd orders, inferences, acceptances with and without their item, tools, terminals,
code cells, compactions, collab events; ids from small pools so they collide) reduce with our
reducer exactly as with the Codex of their schema: the same state bytes, or the same refusal
(Codex's text inside ours). The mutation differential damages real bundles one place at a
time; this one combines events, which is where rules such as "an acceptance whose item the
thread already holds is not read" live.

CI runs a fixed seed and a few examples per schema; set GRAMMAR_EXAMPLES (per schema) and
GRAMMAR_SEED for a long run, GRAMMAR_REPORT=FILE to keep every difference and the share of
bundles each side refused (with the distinct refusals).

The convert differential (``convert_checks``) converts each bundle both reducers accept, and
every fifth one both refuse, to the other schema: a clear refusal, or a copy the other Codex
reduces as we do. CI runs GRAMMAR_CONVERT (default 100) per schema, seeds after the first
test's; GRAMMAR_REPORT counts its outcomes too."""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from rollout_trace_sdk.testing import reduce_and_compare
from tests.codex_oracle import codex_bin
from tests.killed_checks import agrees

from .convert_checks import check_convert
from .grammar import Grammar

EXAMPLES = int(os.environ.get("GRAMMAR_EXAMPLES", "500"))
SEED = int(os.environ.get("GRAMMAR_SEED", "20261204"))
CONVERT = int(os.environ.get("GRAMMAR_CONVERT", "100"))


def _refusal(text: str) -> str:
    """A refusal's headline with its ids and numbers blanked, to count distinct rules."""
    return re.sub(r"(raw_payload:|line |event )?\d+|[0-9a-f-]{36}|\b(m|c|t|r)\d\b", "#", text)


@pytest.mark.codex
@pytest.mark.parametrize("schema", [2, 3])
def test_grammar_scenarios_reduce_as_codex_reduces_them(tmp_path: Path, schema: int) -> None:
    codex = codex_bin(schema)
    if codex is None:
        pytest.skip(f"no Codex binary for schema {schema}")
    differences = []
    refusals: Counter[str] = Counter()
    for number in range(EXAMPLES):
        bundle = Grammar(tmp_path / f"g{number}", schema, SEED + number).run()
        result = reduce_and_compare(bundle, codex, timeout=60)
        if not agrees(result):
            differences.append(f"seed {SEED + number}: {result.explain()}")
        elif result.error is not None:
            refusals[_refusal(result.error.message)] += 1
        shutil.rmtree(bundle)
    report = os.environ.get("GRAMMAR_REPORT")
    if report:
        refused = sum(refusals.values())
        lines = [f"schema {schema}: {EXAMPLES} examples, {refused} refused by both\n"]
        lines += [f"  {count:5} {text}\n" for text, count in refusals.most_common()]
        lines += [f"{d}\n" for d in differences]
        with Path(report).open("a") as out:
            out.write("".join(lines))
    shown = "\n".join(differences[:5])
    assert not differences, f"{len(differences)} of {EXAMPLES} differ; the first:\n{shown}"


@pytest.mark.codex
@pytest.mark.parametrize("schema", [2, 3])
def test_grammar_scenarios_convert_to_the_other_schema(tmp_path: Path, schema: int) -> None:
    codexes = codex_bin(schema), codex_bin(5 - schema)
    if None in codexes:
        pytest.skip("convert is checked with both Codex binaries")
    problems = []
    outcomes: Counter[str] = Counter()
    number = 0
    while sum(outcomes.values()) < CONVERT:
        seed = SEED + EXAMPLES + number  # scenarios the first test has not reduced
        number += 1
        bundle = Grammar(tmp_path / f"g{seed}", schema, seed).run()
        original = reduce_and_compare(bundle, codexes[0] or "", timeout=60)
        if agrees(original) and (original.error is None or seed % 5 == 0):
            source = "accepted" if original.error is None else "refused"
            outcome, broken = check_convert(bundle, schema, original)
            outcomes[f"{source}, {outcome}"] += 1
            if broken is not None:
                problems.append(f"seed {seed}: {broken}")
        shutil.rmtree(bundle)
    report = os.environ.get("GRAMMAR_REPORT")
    if report:
        lines = [f"convert {schema} -> {5 - schema}: {CONVERT} converted of {number}\n"]
        lines += [f"  {count:5} {text}\n" for text, count in outcomes.most_common()]
        lines += [f"{p}\n" for p in problems]
        with Path(report).open("a") as out:
            out.write("".join(lines))
    shown = "\n".join(problems[:5])
    assert not problems, f"{len(problems)} of {CONVERT} conversions broke; the first:\n{shown}"
