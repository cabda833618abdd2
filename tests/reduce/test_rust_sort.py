"""``rust_sort.sort_unstable_order`` leaves elements in the order Rust's
``slice::sort_unstable_by_key`` leaves 8-byte elements (references) in. The expected orders were
printed by ``sort_unstable_by_key`` on a ``Vec<&T>`` built with rustc 1.95 (the same as Codex
0.171's end-of-replay order, checked on real bundles); each case takes another path of the
algorithm."""

from __future__ import annotations

import random

import pytest

from rollout_trace_sdk.reduce.rust_sort import sort_unstable_order

CASES = {
    "insertion sort (at most 20)": ([2, 1, 2, 1, 0, 2, 1], [4, 1, 3, 6, 0, 2, 5]),
    "a descending run, reversed": (list(range(30, 0, -1)), list(range(29, -1, -1))),
    "small sort (networks, merge)": (
        [1, 1, 1, 2, 3, 3, 3, 3, 3, 3, 3, 1, 3, 3, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1],
        [0, 1, 2, 11, 25, 23, 22, 20, 21, 24, 26, 3, 4, 6, 7, 8, 9, 10, 5, 12, 17, 16, 19, 15,
         14, 18, 13],
    ),
    "quicksort": (
        [(i * 7 + i // 3) % 3 + 1 for i in range(100)],
        [50, 7, 9, 14, 16, 18, 23, 25, 27, 32, 34, 36, 41, 43, 45, 99, 5, 54, 59, 61, 63, 68,
         70, 72, 77, 79, 81, 86, 88, 90, 0, 95, 97, 52, 91, 35, 37, 39, 44, 46, 48, 17, 3, 53,
         19, 55, 57, 21, 62, 64, 66, 8, 71, 73, 75, 26, 10, 80, 28, 82, 84, 30, 89, 93, 1, 12,
         98, 33, 13, 69, 24, 38, 4, 6, 74, 40, 76, 56, 78, 47, 58, 20, 60, 83, 2, 85, 29, 87,
         49, 22, 31, 11, 92, 42, 94, 65, 96, 51, 67, 15],
    ),
    "pseudo-median pivots, equal pivots split off": (
        [(i * i + 3 * i) % 5 for i in range(200)],
        [100, 5, 7, 10, 12, 15, 17, 20, 22, 25, 27, 30, 32, 35, 37, 40, 42, 45, 47, 50, 52, 55,
         57, 60, 62, 65, 67, 70, 72, 75, 77, 80, 82, 85, 87, 90, 92, 95, 97, 0, 2, 105, 107,
         110, 112, 115, 117, 120, 122, 125, 127, 130, 132, 135, 137, 140, 142, 145, 147, 150,
         152, 155, 157, 160, 162, 165, 167, 170, 172, 175, 177, 180, 182, 185, 187, 190, 192,
         195, 197, 102, 118, 34, 83, 84, 88, 89, 38, 93, 94, 39, 8, 98, 99, 18, 103, 104, 43,
         44, 108, 109, 19, 113, 114, 9, 48, 119, 49, 123, 124, 3, 128, 129, 53, 54, 133, 134,
         23, 138, 139, 24, 58, 143, 144, 59, 148, 149, 153, 154, 63, 64, 158, 159, 163, 164, 28,
         68, 168, 169, 69, 29, 173, 174, 13, 178, 179, 73, 74, 183, 184, 188, 189, 14, 78, 193,
         194, 79, 33, 198, 199, 4, 146, 66, 96, 116, 91, 166, 136, 56, 1, 106, 171, 36, 141,
         121, 71, 176, 161, 81, 41, 6, 181, 11, 51, 126, 31, 186, 76, 61, 151, 26, 191, 101,
         111, 46, 156, 196, 86, 131, 16, 21],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_the_order_is_rust_s(case: str) -> None:
    keys, expected = CASES[case]
    assert sort_unstable_order(keys) == expected


@pytest.mark.parametrize("seed", range(20))
def test_the_order_sorts_by_key_and_keeps_every_element(seed: int) -> None:
    rng = random.Random(seed)
    keys = [rng.randrange(rng.choice([1, 3, 50])) for _ in range(rng.randrange(0, 3000))]
    order = sort_unstable_order(keys)
    assert sorted(order) == list(range(len(keys)))
    assert [keys[i] for i in order] == sorted(keys)
