"""Odd numbers put in place of one scalar of a real bundle, for the number differential
(``test_numbers_vs_codex.py``; ``benchmarks/values_vs_codex.py`` for long runs).

The numbers are those serde_json reads one way and orjson or Python another: integers at and
past 2^53, 2^63, 2^64 and 2^128, beyond f64 and below its smallest, signed zeros, exponents
spelled ``1E5`` / ``1e5`` / ``1e+5``, ``1.50`` against ``1.5``. A place is an event line's
field, a payload's value (a schema-2 file, a schema-3 shard record) or a value inside a JSON
string a payload holds (arguments, outputs); half the time every scalar with the same text
after the same key in the bundle is replaced, so resent items stay alike.

The plumbing (the texts, the sites, the replacing, the probe) is ``mutation.py``'s.
"""

from __future__ import annotations

import random
from pathlib import Path

from .mutation import replace_scalar

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


def _number(original: bytes, kind: str, rng: random.Random) -> bytes:
    return rng.choice(NUMBERS).encode()


def mutate(bundle: Path, rng: random.Random) -> tuple[str, str]:
    """Put odd numbers in place of one scalar (or every scalar with the same text under the
    same key, so resent items stay alike); returns (place, what was done)."""
    weights = {"number": 4, "json-string": 3, "string": 3, "other": 1}
    return replace_scalar(bundle, rng, weights, _number)
