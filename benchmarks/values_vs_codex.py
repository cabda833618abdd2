"""The value differentials, long: odd numbers (``tests/differential/numbers.py``) or odd
strings and JSON text shapes (``tests/differential/strings.py``) put in each of N conformance
bundles per schema, or damage below the JSON (``tests/differential/damage.py``: shards,
payload files, the manifest's and the log's bytes), each mutated bundle reduced by ours and by the Codex of its schema, run
through ``reduce --lenient``, ``validate``, ``summary`` and ``show``, and converted to the
other schema when both accept it.

    python benchmarks/values_vs_codex.py [--values numbers|strings|damage] [--count N] [--seed S]
        [--schema 2|3]...

Bases are the conformance corpora (``tests.conftest.CONFORMANCE``, ``CONFORMANCE_V3``).
Prints each divergence, then how many mutations went to each place (with their outcomes)
and the outcomes.
CI runs a few (``tests/differential/test_numbers_vs_codex.py``, ``test_strings_vs_codex.py``,
``test_damage_vs_codex.py``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.differential import damage, numbers, strings
from tests.differential.mutation import run


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--values", choices=("numbers", "strings", "damage"), default="numbers")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--schema", type=int, choices=(2, 3), action="append")
    args = parser.parse_args()
    module = {"numbers": numbers, "strings": strings, "damage": damage}[args.values]
    judge = damage.judge if module is damage else None
    places: Counter[str] = Counter()
    tally: Counter[tuple[str, str]] = Counter()
    outcomes: Counter[str] = Counter()
    failures = 0

    def report(text: str) -> None:
        print(f"--- {text}\n", flush=True)

    with tempfile.TemporaryDirectory(prefix=f"{args.values}-") as tmp:
        for schema in args.schema or [2, 3]:
            found = run(
                module.mutate,
                schema,
                args.count,
                str(args.seed),
                Path(tmp),
                places,
                outcomes,
                report,
                judge,
                tally,
            )
            failures += len(found)
    for place, count in sorted(places.items()):
        split = ", ".join(f"{o} {n}" for (p, o), n in sorted(tally.items()) if p == place)
        print(f"{count:5} {place}: {split}")
    print(dict(outcomes))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
