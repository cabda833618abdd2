"""Odd numbers put in place of one scalar of a real bundle, for the number differential
(``test_numbers_vs_codex.py``; ``benchmarks/numbers_vs_codex.py`` for long runs).

The numbers are those serde_json reads one way and orjson or Python another: integers at and
past 2^53, 2^63, 2^64 and 2^128, beyond f64 and below its smallest, signed zeros, exponents
spelled ``1E5`` / ``1e5`` / ``1e+5``, ``1.50`` against ``1.5``. A place is an event line's
field, a payload's value (a schema-2 file, a schema-3 shard record) or a value inside a JSON
string a payload holds (arguments, outputs); half the time every scalar with the same text
after the same key in the bundle is replaced, so resent items stay alike.

:func:`probe` checks one mutated bundle: ours and the Codex of its schema reduce it to the same
state or refuse it alike; ``reduce --lenient``, ``validate``, ``summary`` and ``show`` end
cleanly; one both accept converts to the other schema and the copy reduces alike there.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path

from rollout_trace_sdk.testing import reduce_and_compare
from tests.codex_oracle import codex_bin
from tests.hostile import argv, run_in_process, verdict
from tests.killed_checks import agrees
from tests.reduce.v3_bundles import read_records, shard_bytes

from .convert_checks import check_convert

#: The odd numbers, as the file spells them.
NUMBERS: tuple[str, ...] = (
    "9007199254740992",
    "9007199254740993",
    "-9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "340282366920938463463374607431768211455",
    "340282366920938463463374607431768211456",
    "-170141183460469231731687303715884105729",
    "1" + "0" * 400,
    "-0",
    "0.0",
    "-0.0",
    "1e400",
    "-1e400",
    "1e-400",
    "4.9e-324",
    "1.7976931348623157e308",
    "1E5",
    "1e5",
    "1e+5",
    "1.50",
    "1.5",
    "100000000000000000000.0",
    "0",
    "1",
    "-1",
)

_SCALAR = re.compile(rb'"(?:[^"\\\n]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null')
_NUMBER = re.compile(rb"-?\d")


def _sites(data: bytes) -> list[tuple[int, int, str]]:
    """(start, end, what) of each scalar value (not a key): what is number, string, json-string
    (a string holding a JSON object or array) or other."""
    found = []
    for match in _SCALAR.finditer(data):
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


def _number_in_string(text: bytes, rng: random.Random, number: str) -> bytes | None:
    inner: str = json.loads(text)
    encoded = inner.encode()
    sites = [s for s in _sites(encoded) if s[2] != "json-string"] or None
    if sites is None:
        return None
    numbers = [s for s in sites if s[2] == "number"]
    start, end, _ = rng.choice(numbers if numbers and rng.random() < 0.7 else sites)
    changed = encoded[:start] + number.encode() + encoded[end:]
    return json.dumps(changed.decode(), ensure_ascii=False).encode()


class Files:
    """A bundle's texts that may be mutated: log lines' file, the manifest, payload files,
    shard records (read and written back whole)."""

    def __init__(self, bundle: Path) -> None:
        self.bundle = bundle
        self.texts: dict[tuple[str, str], bytes] = {}
        for path in sorted(bundle.rglob("*")):
            if not path.is_file() or path.name == "expected_state.json":
                continue
            relative = str(path.relative_to(bundle))
            if path.suffix == ".zst":
                for pid, body in read_records(path).items():
                    self.texts[(relative, pid)] = body
            else:
                self.texts[(relative, "")] = path.read_bytes()

    def write(self) -> None:
        shards: dict[str, dict[str, bytes]] = {}
        for (relative, pid), body in self.texts.items():
            if pid:
                shards.setdefault(relative, {})[pid] = body
            else:
                (self.bundle / relative).write_bytes(body)
        for relative, records in shards.items():
            (self.bundle / relative).write_bytes(shard_bytes(records))


def _place(key: tuple[str, str], data: bytes, start: int) -> str:
    """A short name of where a site is, for the counts: the file kind and the key before it."""
    relative = key[0]
    kind = (
        "log" if relative == "trace.jsonl" else "manifest" if "manifest" in relative else "payload"
    )
    before = data[max(0, start - 40) : start]
    keys = re.findall(rb'"([A-Za-z_]+)"\s*:\s*[\[{]?\s*$', before)
    return f"{kind}:{keys[-1].decode() if keys else '?'}"


def mutate(bundle: Path, rng: random.Random) -> tuple[str, str]:
    """Put odd numbers in place of one scalar (or every scalar with the same text under the
    same key, so resent items stay alike); returns (place, what was done)."""
    files = Files(bundle)
    keys = list(files.texts)
    weights = [3 if k[0] == "trace.jsonl" else 1 for k in keys]
    for _ in range(20):
        key = rng.choices(keys, weights)[0]
        data = files.texts[key]
        sites = _sites(data)
        if not sites:
            continue
        by_kind: dict[str, list[tuple[int, int, str]]] = {}
        for site in sites:
            by_kind.setdefault(site[2], []).append(site)
        kind = rng.choices(["number", "json-string", "string", "other"], [4, 3, 3, 1])[0]
        if kind not in by_kind:
            continue
        start, end, _ = rng.choice(by_kind[kind])
        number = rng.choice(NUMBERS)
        original = data[start:end]
        if kind == "json-string":
            replacement = _number_in_string(original, rng, number)
            if replacement is None:
                continue
        else:
            replacement = number.encode()
        place = _place(key, data, start)
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
        shown = replacement.decode(errors="replace")[:80]
        return (
            f"{place}:{kind}",
            f"{key[0]}{'#' + key[1] if key[1] else ''} @{start}: "
            f"{original[:60]!r} -> {shown}{' (everywhere)' if everywhere else ''}",
        )
    return "none", "no site"


def probe(bundle: Path, schema: int, outcomes: Counter[str]) -> str | None:
    """What diverged on ``bundle``, or None; counts whether both accepted it."""
    codex = codex_bin(schema) or ""
    try:
        result = reduce_and_compare(bundle, codex, timeout=60)
    except Exception as exc:  # the probe reports everything
        return f"reduce raised {type(exc).__name__}: {exc}"
    if not agrees(result):
        return f"strict: {result.explain()[:2000]}"
    outcomes["refused by both" if result.error is not None else "accepted by both"] += 1
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
