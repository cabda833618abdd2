"""``view/_diff_align.py``: one agent's steps in two rollouts lined up, bounded on long agents."""

from __future__ import annotations

import difflib
import random
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest

from rollout_trace_sdk.view._diff_align import _EXACT_CELLS, Compare, aligned


class _Sized(difflib.SequenceMatcher[int]):
    """The real matcher, noting the sizes it was given and whether popular steps are junk."""

    given: ClassVar[list[tuple[int, int, bool]]] = []

    def __init__(self, isjunk: Any = None, a: Any = "", b: Any = "", autojunk: bool = True):
        _Sized.given.append((len(a), len(b), autojunk))
        super().__init__(isjunk, a, b, autojunk)


def _poll(n: int, name: str = "poll") -> dict[str, Any]:
    return {"kind": "tool", "name": name, "text": "{}", "status": "completed", "output": str(n)}


def _every_step_once(rows: Sequence[dict[str, Any]], a: int, b: int) -> bool:
    """Each step of each side in one row, in order."""
    seen_a = [row["a"] for row in rows if row["a"] is not None]
    seen_b = [row["b"] for row in rows if row["b"] is not None]
    return seen_a == list(range(a)) and seen_b == list(range(b))


def test_long_agents_are_aligned_in_bounded_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """An agent polling 15,000 times, B's with one step more halfway, was given whole to the
    exact alignment (quadratic on repeated steps: 34 s); the steps alike at both ends are set
    aside, and past ``_EXACT_CELLS`` what is left is aligned with popular steps as junk, the
    steps between its anchors walked in step."""
    _Sized.given = []
    monkeypatch.setattr(difflib, "SequenceMatcher", _Sized)
    compare = Compare([], results=False)
    a = [_poll(n) for n in range(15_000)]
    b = [*a[:7_500], _poll(0, "read_file"), *a[7_500:]]
    rows = aligned(a, b, compare)
    assert [row["op"] for row in rows] == ["same"] * 7_500 + ["only_b"] + ["same"] * 7_500
    a = [_poll(n, "poll" if n % 2 else "sleep") for n in range(6_000)]
    b = [*a[:100], _poll(0, "read_file"), *a[100:2_000], _poll(0), *a[2_000:3_000], *a[3_001:]]
    rows = aligned(a, b, compare)  # past _EXACT_CELLS: every step popular, walked in step
    ops = [row["op"] for row in rows]
    assert (ops.count("same"), ops.count("only_a"), ops.count("only_b")) == (5_999, 1, 2)
    assert [row["b"] for row in rows if row["op"] == "only_b"] == [100, 2_001]
    random.seed(345151)
    a = [_poll(0, random.choice("xy")) for _ in range(4_000)]
    b = [_poll(0, random.choice("xy")) for _ in range(4_000)]
    rows = aligned(a, b, compare)
    assert _every_step_once(rows, 4_000, 4_000)
    exact = [(n, m) for n, m, autojunk in _Sized.given if not autojunk]
    assert all(n * m <= _EXACT_CELLS for n, m in exact), _Sized.given
