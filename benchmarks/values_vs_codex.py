"""The number differential, long: odd numbers (``tests/differential/numbers.py``) put in
place of a scalar of each of N conformance bundles per schema, each mutated bundle reduced by
ours and by the Codex of its schema, run through ``reduce --lenient``, ``validate``,
``summary`` and ``show``, and converted to the other schema when both accept it.

    python benchmarks/numbers_vs_codex.py [--count N] [--seed S] [--schema 2|3]...

Bases are the conformance corpora (``tests.conftest.CONFORMANCE``, ``CONFORMANCE_V3``).
Prints each divergence, then how many mutations went to each place and the outcomes.
CI runs a few (``tests/differential/test_numbers_vs_codex.py``).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import CONFORMANCE, CONFORMANCE_V3, conformance_bundles
from tests.differential.numbers import mutate, probe


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--schema", type=int, choices=(2, 3), action="append")
    args = parser.parse_args()
    places: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="numbers-") as tmp:
        for schema in args.schema or [2, 3]:
            sources = conformance_bundles(CONFORMANCE if schema == 2 else CONFORMANCE_V3)
            for number in range(args.count):
                rng = random.Random(f"{args.seed}-{schema}-{number}")
                source = rng.choice(sources)
                bundle = Path(tmp) / f"b{schema}-{number}"
                shutil.copytree(source, bundle)
                place, done = mutate(bundle, rng)
                places[f"s{schema} {place}"] += 1
                problem = probe(bundle, schema, outcomes)
                outcomes["diverged" if problem else "held"] += 1
                if problem is not None:
                    failures += 1
                    print(
                        f"--- schema {schema} #{number} {source.parent.name}: {done}\n{problem}\n"
                    )
                    sys.stdout.flush()
                shutil.rmtree(bundle)
                (Path(tmp) / "state.json").unlink(missing_ok=True)
    for place, count in sorted(places.items()):
        print(f"{count:5} {place}")
    print(dict(outcomes))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
