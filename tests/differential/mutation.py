"""The plumbing of the value differentials (``numbers.py``, ``strings.py``): a bundle's texts
(log, manifest, payload files, schema-3 shard records) read for editing and written back, the
scalar values in a text, one of them replaced (or every one with the same text after the same
key, so resent items stay alike), and :func:`probe`, which checks a mutated bundle against
the Codex of its schema. :func:`run` draws and probes a number of mutants (the tests and
``benchmarks/values_vs_codex.py``).

A mutation is a function ``(bundle, rng) -> (place, what was done)``: place is a short name
for the counts, what was done is shown with a divergence.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from rollout_trace_sdk.reduce.confined import BundleFileError
from rollout_trace_sdk.testing import reduce_and_compare
from tests.codex_oracle import codex_bin
from tests.conftest import CONFORMANCE, CONFORMANCE_V3, conformance_bundles
from tests.hostile import argv, run_in_process, verdict
from tests.killed_checks import agrees
from tests.reduce.v3_bundles import read_records, shard_bytes

from .convert_checks import check_convert

Key = tuple[str, str]
Site = tuple[int, int, str]
Mutation = Callable[[Path, random.Random], tuple[str, str]]
#: (mutated bundle, its schema, outcome counts) -> what diverged, or None (see :func:`probe`)
Judge = Callable[[Path, int, Counter[str]], "str | None"]
#: (original scalar's bytes, its kind, rng) -> its replacement, or None to draw again
Replace = Callable[[bytes, str, random.Random], bytes | None]

SCALAR = re.compile(rb'"(?:[^"\\\n]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null')
_NUMBER = re.compile(rb"-?\d")


def sites(data: bytes) -> list[Site]:
    """(start, end, what) of each scalar value (not a key): what is number, string, json-string
    (a string holding a JSON object or array) or other."""
    found = []
    for match in SCALAR.finditer(data):
        rest = data[match.end() : match.end() + 8].lstrip()
        if rest.startswith(b":"):
            continue
        text = match.group()
        if _NUMBER.match(text):
            what = "number"
        elif text.startswith(b'"'):
            what = "string"
            try:
                inner = json.loads(text)
            except ValueError:
                inner = None
            if isinstance(inner, str) and inner[:1] in ("{", "["):
                try:
                    json.loads(inner)
                    what = "json-string"
                except ValueError:
                    pass
        else:
            what = "other"
        found.append((match.start(), match.end(), what))
    return found


def in_json_string(text: bytes, rng: random.Random, replace: Replace) -> bytes | None:
    """A JSON string holding JSON text, with one scalar of that text replaced (numbers 70% of
    the time when it has some), written back as a JSON string."""
    encoded = json.loads(text).encode()
    inner = [s for s in sites(encoded) if s[2] != "json-string"]
    if not inner:
        return None
    numbers = [s for s in inner if s[2] == "number"]
    start, end, what = rng.choice(numbers if numbers and rng.random() < 0.7 else inner)
    replacement = replace(encoded[start:end], what, rng)
    if replacement is None:
        return None
    changed = encoded[:start] + replacement + encoded[end:]
    try:
        decoded = changed.decode()
    except UnicodeDecodeError:
        return None
    return json.dumps(decoded, ensure_ascii=False).encode()


class Files:
    """A bundle's texts that may be mutated: log lines' file, the manifest, payload files,
    shard records (read and written back whole)."""

    def __init__(self, bundle: Path) -> None:
        self.bundle = bundle
        self.texts: dict[Key, bytes] = {}
        for path in sorted(bundle.rglob("*")):
            if not path.is_file() or path.name == "expected_state.json":
                continue
            relative = str(path.relative_to(bundle))
            if path.suffix == ".zst":
                for pid, body in read_records(path).items():
                    self.texts[(relative, pid)] = body
            else:
                self.texts[(relative, "")] = path.read_bytes()

    def pick(self, rng: random.Random, log_share: float | None = None) -> Key:
        """A text: the log ``log_share`` of the time, else three times as likely as any other."""
        keys = list(self.texts)
        log = ("trace.jsonl", "")
        if log_share is not None and log in self.texts and rng.random() < log_share:
            return log
        return rng.choices(keys, [3 if k[0] == "trace.jsonl" else 1 for k in keys])[0]

    def write(self) -> None:
        shards: dict[str, dict[str, bytes]] = {}
        for (relative, pid), body in self.texts.items():
            if pid:
                shards.setdefault(relative, {})[pid] = body
            else:
                (self.bundle / relative).write_bytes(body)
        for relative, records in shards.items():
            (self.bundle / relative).write_bytes(shard_bytes(records))


def kind_of(key: Key) -> str:
    relative = key[0]
    return (
        "log" if relative == "trace.jsonl" else "manifest" if "manifest" in relative else "payload"
    )


def place(key: Key, data: bytes, start: int) -> str:
    """A short name of where a site is, for the counts: the file kind and the key before it."""
    before = data[max(0, start - 40) : start]
    keys = re.findall(rb'"([A-Za-z_]+)"\s*:\s*[\[{]?\s*$', before)
    return f"{kind_of(key)}:{keys[-1].decode() if keys else '?'}"


def shown(key: Key, start: int) -> str:
    return f"{key[0]}{'#' + key[1] if key[1] else ''} @{start}"


def replace_scalar(
    bundle: Path,
    rng: random.Random,
    weights: dict[str, int],
    replace: Replace,
    log_share: float | None = None,
) -> tuple[str, str]:
    """Put ``replace``'s value in place of one scalar of a kind drawn by ``weights`` (or of
    every scalar with the same text under the same key, so resent items stay alike); a
    json-string's replacement is made inside the JSON it holds."""
    files = Files(bundle)
    for _ in range(20):
        key = files.pick(rng, log_share)
        data = files.texts[key]
        by_kind: dict[str, list[Site]] = {}
        for site in sites(data):
            by_kind.setdefault(site[2], []).append(site)
        kind = rng.choices(list(weights), list(weights.values()))[0]
        if kind not in by_kind:
            continue
        start, end, _ = rng.choice(by_kind[kind])
        original = data[start:end]
        if kind == "json-string":
            replacement = in_json_string(original, rng, replace)
        else:
            replacement = replace(original, kind, rng)
        if replacement is None:
            continue
        everywhere = rng.random() < 0.5
        if everywhere:
            # the same text after the same key, in every text of the bundle
            head = data[max(0, start - 40) : start]
            context = re.search(rb'"[A-Za-z_]+"\s*:\s*$', head)
            needle = (context.group() if context else b"") + original
            for other, text in files.texts.items():
                files.texts[other] = text.replace(
                    needle, needle[: len(needle) - len(original)] + replacement
                )
        else:
            files.texts[key] = data[:start] + replacement + data[end:]
        files.write()
        new = replacement.decode(errors="replace")
        return (
            f"{place(key, data, start)}:{kind}",
            f"{shown(key, start)}: {original[:60]!r} -> {new[:80]!r}"
            f"{f' ({len(replacement)} bytes)' if len(new) > 80 else ''}"
            f"{' (everywhere)' if everywhere else ''}",
        )
    return "none", "no site"


def probe(bundle: Path, schema: int, outcomes: Counter[str]) -> str | None:
    """What diverged on ``bundle``, or None; counts whether both accepted it.

    Ours and the Codex of its schema reduce it to the same state or refuse it alike (unless
    our confinement refused a path Codex follows);
    ``reduce --lenient``, ``validate``, ``summary`` and ``show`` end cleanly; one both accept
    converts to the other schema and the copy reduces alike there."""
    codex = codex_bin(schema) or ""
    try:
        result = reduce_and_compare(bundle, codex, timeout=60)
    except Exception as exc:  # the probe reports everything
        return f"reduce raised {type(exc).__name__}: {exc}"
    if agrees(result):
        outcomes["refused by both" if result.error is not None else "accepted by both"] += 1
    elif isinstance(result.error, BundleFileError) and result.error.unsafe:
        # our confinement refuses what Codex follows (a payload path `../x`: docs/reducing.md),
        # counted apart as test_mutants_vs_codex does (found by the string differential)
        outcomes["refused by our confinement"] += 1
    else:
        return f"strict: {result.explain()[:2000]}"
    for command in (("reduce", "--lenient"), ("validate",), ("summary",), ("show",)):
        code, text = run_in_process(argv(command, bundle, bundle.parent / "state.json"), 60)
        broken = verdict(code, text)
        if broken is not None:
            return f"{' '.join(command)}: {broken}: {text[-1500:]}"
    if result.error is None:
        _, broken = check_convert(bundle, schema, result)
        if broken is not None:
            return f"convert: {broken[:2000]}"
    return None


def run(
    mutate: Mutation,
    schema: int,
    count: int,
    seed: str,
    tmp: Path,
    places: Counter[str] | None = None,
    outcomes: Counter[str] | None = None,
    report: Callable[[str], None] | None = None,
    judge: Judge | None = None,
    tally: Counter[tuple[str, str]] | None = None,
) -> list[str]:
    """Draw ``count`` mutants of the corpus of ``schema`` (fixed by ``seed``) and probe each
    (with ``judge``, :func:`probe` by default); returns the divergences (``report`` sees each
    as it is found). ``tally`` counts (place, outcome) pairs."""
    sources = conformance_bundles(CONFORMANCE if schema == 2 else CONFORMANCE_V3)
    places = Counter() if places is None else places
    outcomes = Counter() if outcomes is None else outcomes
    problems = []
    for number in range(count):
        rng = random.Random(f"{seed}-{schema}-{number}")
        source = rng.choice(sources)
        bundle = tmp / f"b{schema}-{number}"
        shutil.copytree(source, bundle)
        where, done = mutate(bundle, rng)
        places[f"s{schema} {where}"] += 1
        before = outcomes.copy()
        problem = (judge or probe)(bundle, schema, outcomes)
        outcomes["diverged" if problem else "held"] += 1
        if tally is not None:
            for outcome in outcomes - before:
                if outcome != "held":
                    tally[(f"s{schema} {where}", outcome)] += 1
        if problem is not None:
            text = f"schema {schema} #{number} {source.parent.name}, {done}: {problem}"
            problems.append(text)
            if report is not None:
                report(text)
        shutil.rmtree(bundle)
        (tmp / "state.json").unlink(missing_ok=True)
    return problems


def check_reduced_alike(
    mutate: Mutation, schema: int, count: int, seed: str, tmp: Path, judge: Judge | None = None
) -> None:
    """A value probe's CI check (``test_numbers_vs_codex``, ``test_strings_vs_codex``): skipped
    without the corpus of ``schema`` or either Codex (a mutant both accept is converted to the
    other schema); fails naming the first divergences :func:`run` finds. ``VALUES_REPORT=FILE``
    appends the outcome counts there."""
    import pytest

    if not (CONFORMANCE if schema == 2 else CONFORMANCE_V3).is_dir() or None in (
        codex_bin(2),
        codex_bin(3),
    ):
        pytest.skip("needs the conformance corpus and both Codex binaries")
    outcomes: Counter[str] = Counter()
    problems = run(mutate, schema, count, seed, tmp, outcomes=outcomes, judge=judge)
    report = os.environ.get("VALUES_REPORT")
    if report:  # a long run's counts (the outcomes of every mutant)
        with Path(report).open("a") as out:
            out.write(f"{mutate.__module__} schema {schema}: {count} examples, {dict(outcomes)}\n")
    shown = "\n".join(problems[:3])
    assert not problems, f"{len(problems)} of {count} differ; the first:\n{shown}"
