"""The order Rust's ``slice::sort_unstable_by_key`` leaves a slice of references in.

Codex 0.171 checks the registered payloads after the last event in this order: the references
in id order (a ``BTreeMap``), then sorted by shard with ``sort_unstable_by_key``. An unstable
sort moves references of one shard out of id order, and which missing or broken payload Codex
names first (a shard cut short loses several) follows that order, so we replay the sort itself
(found by review: the same shard with two records lost, we named one and Codex the other).

This is the standard library's ipnsort (Rust 1.81 and later) as it runs for an 8-byte ``Copy``
element (a reference) compared by an integer key: insertion sort up to 20 elements; else an
existing sorted run is kept, and otherwise a quicksort whose pivot is a median of three (a
recursive pseudo-median from 64 elements), whose partition is a branchless Lomuto partition
with a cyclic permutation, whose slices of at most 32 elements go to sorting networks (9 and 13
elements) with insertion sort and a bidirectional merge, and which falls back to heapsort after
too many unbalanced partitions. Only the permutation matters here, so each step is written for
what it does to the order, not for speed; elements are positions in ``keys``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

#: Slices up to this length are insertion-sorted outright.
_ALWAYS_INSERTION: Final = 20
#: Slices up to this length go to the small sort (sorting networks) inside the quicksort.
_SMALL_SORT: Final = 32
#: The small sort merges two sorted halves from this length.
_SMALL_MERGE: Final = 18
#: The pivot is a recursive pseudo-median from this length.
_PSEUDO_MEDIAN: Final = 64
#: Optimal sorting networks, as (i, j) pairs swapped when ``v[j] < v[i]``.
_NETWORK_9: Final = (
    (0, 3), (1, 7), (2, 5), (4, 8), (0, 7), (2, 4), (3, 8), (5, 6), (0, 2), (1, 3), (4, 5),
    (7, 8), (1, 4), (3, 6), (5, 7), (0, 1), (2, 4), (3, 5), (6, 8), (2, 3), (4, 5), (6, 7),
    (1, 2), (3, 4), (5, 6),
)  # fmt: skip
_NETWORK_13: Final = (
    (0, 12), (1, 10), (2, 9), (3, 7), (5, 11), (6, 8), (1, 6), (2, 3), (4, 11), (7, 9),
    (8, 10), (0, 4), (1, 2), (3, 6), (7, 8), (9, 10), (11, 12), (4, 6), (5, 9), (8, 11),
    (10, 12), (0, 5), (3, 8), (4, 7), (6, 11), (9, 10), (0, 1), (2, 5), (6, 9), (7, 8),
    (10, 11), (1, 3), (2, 4), (5, 6), (9, 10), (1, 2), (3, 4), (5, 7), (6, 8), (2, 3), (4, 5),
    (6, 7), (8, 9), (3, 4), (5, 6),
)  # fmt: skip


def sort_unstable_order(keys: Sequence[int]) -> list[int]:
    """The positions ``0..len(keys)`` in the order ``sort_unstable_by_key`` leaves elements
    with these keys in (the element at position ``i`` has key ``keys[i]``)."""
    return _Sort(keys).run()


class _Sort:
    def __init__(self, keys: Sequence[int]) -> None:
        self.keys = keys
        self.v = list(range(len(keys)))

    def less(self, a: int, b: int) -> bool:
        return self.keys[a] < self.keys[b]

    def run(self) -> list[int]:
        n = len(self.v)
        if n < 2:
            return self.v
        if n <= _ALWAYS_INSERTION:
            self.insertion(0, n, 1)
            return self.v
        run, descending = self.existing_run(n)
        if run == n:
            if descending:
                self.v.reverse()
            return self.v
        self.quicksort(0, n, None, 2 * ((n | 1).bit_length() - 1))
        return self.v

    def existing_run(self, n: int) -> tuple[int, bool]:
        v, run = self.v, 2
        descending = self.less(v[1], v[0])
        while run < n and self.less(v[run], v[run - 1]) == descending:
            run += 1
        return run, descending

    # --- insertion sort --------------------------------------------------------------------

    def insertion(self, lo: int, hi: int, sorted_len: int) -> None:
        """Sort ``v[lo:hi]`` whose first ``sorted_len`` elements are sorted: each next one
        moves left past the elements greater than it."""
        v = self.v
        for tail in range(lo + sorted_len, hi):
            value = v[tail]
            if not self.less(value, v[tail - 1]):
                continue
            gap = tail
            while True:
                v[gap] = v[gap - 1]
                gap -= 1
                if gap == lo or not self.less(value, v[gap - 1]):
                    break
            v[gap] = value

    # --- quicksort ---------------------------------------------------------------------------

    def quicksort(self, lo: int, hi: int, ancestor: int | None, limit: int) -> None:
        while True:
            if hi - lo <= _SMALL_SORT:
                self.small_sort(lo, hi)
                return
            if limit == 0:
                self.heapsort(lo, hi)
                return
            limit -= 1
            pivot = self.choose_pivot(lo, hi)
            if ancestor is not None and not self.less(ancestor, self.v[pivot]):
                # the pivot equals its predecessor: split off the elements equal to it
                lo += self.partition(lo, hi, pivot, equal_left=True) + 1
                ancestor = None
                continue
            num_lt = self.partition(lo, hi, pivot, equal_left=False)
            self.quicksort(lo, lo + num_lt, ancestor, limit)
            ancestor = self.v[lo + num_lt]
            lo += num_lt + 1

    def choose_pivot(self, lo: int, hi: int) -> int:
        eighth = (hi - lo) // 8
        a, b, c = lo, lo + eighth * 4, lo + eighth * 7
        if hi - lo < _PSEUDO_MEDIAN:
            return self.median3(a, b, c)
        return self.median3_rec(a, b, c, eighth)

    def median3_rec(self, a: int, b: int, c: int, n: int) -> int:
        if n * 8 >= _PSEUDO_MEDIAN:
            n8 = n // 8
            a = self.median3_rec(a, a + n8 * 4, a + n8 * 7, n8)
            b = self.median3_rec(b, b + n8 * 4, b + n8 * 7, n8)
            c = self.median3_rec(c, c + n8 * 4, c + n8 * 7, n8)
        return self.median3(a, b, c)

    def median3(self, a: int, b: int, c: int) -> int:
        v = self.v
        x = self.less(v[a], v[b])
        if x == self.less(v[a], v[c]):
            return c if self.less(v[b], v[c]) != x else b
        return a

    def partition(self, lo: int, hi: int, pivot: int, *, equal_left: bool) -> int:
        """Move the pivot to ``lo``, partition the rest around it (Lomuto, branchless, as a
        cyclic permutation), put the pivot between both sides; the count of the left side.
        ``equal_left``: the left side takes the elements not greater than the pivot."""
        v = self.v
        v[lo], v[pivot] = v[pivot], v[lo]
        p = v[lo]
        base = lo + 1
        num_lt = 0
        if base < hi:
            saved = v[base]
            gap = base
            for right in range(base + 1, hi):
                value = v[right]
                left = base + num_lt
                v[gap] = v[left]
                v[left] = value
                gap = right
                num_lt += self.goes_left(value, p, equal_left)
            left = base + num_lt
            v[gap] = v[left]
            v[left] = saved
            num_lt += self.goes_left(saved, p, equal_left)
        v[lo], v[lo + num_lt] = v[lo + num_lt], v[lo]
        return num_lt

    def goes_left(self, x: int, pivot: int, equal_left: bool) -> bool:
        return not self.less(pivot, x) if equal_left else self.less(x, pivot)

    # --- small sort --------------------------------------------------------------------------

    def small_sort(self, lo: int, hi: int) -> None:
        n = hi - lo
        if n < 2:
            return
        half = n // 2
        regions = [(lo, hi)] if n < _SMALL_MERGE else [(lo, lo + half), (lo + half, hi)]
        for start, end in regions:
            size = end - start
            if size >= 13:
                self.network(start, _NETWORK_13)
                presorted = 13
            elif size >= 9:
                self.network(start, _NETWORK_9)
                presorted = 9
            else:
                presorted = 1
            self.insertion(start, end, presorted)
        if n >= _SMALL_MERGE:
            self.v[lo:hi] = self.bidirectional_merge(self.v[lo:hi])

    def network(self, base: int, pairs: tuple[tuple[int, int], ...]) -> None:
        v = self.v
        for i, j in pairs:
            if self.less(v[base + j], v[base + i]):
                v[base + i], v[base + j] = v[base + j], v[base + i]

    def bidirectional_merge(self, src: list[int]) -> list[int]:
        """Merge two sorted halves from both ends at once: each step writes the lesser head
        at the front (the left one on ties) and the greater tail at the back (the right one
        on ties)."""
        n = len(src)
        half = n // 2
        out = [0] * n
        left, right, front = 0, half, 0
        left_rev, right_rev, back = half - 1, n - 1, n - 1
        for _ in range(half):
            take_left = not self.less(src[right], src[left])
            out[front] = src[left] if take_left else src[right]
            left += take_left
            right += not take_left
            front += 1
            take_right = not self.less(src[right_rev], src[left_rev])
            out[back] = src[right_rev] if take_right else src[left_rev]
            right_rev -= take_right
            left_rev -= not take_right
            back -= 1
        if n % 2:
            out[front] = src[left] if left <= left_rev else src[right]
        return out

    # --- heapsort ----------------------------------------------------------------------------

    def heapsort(self, lo: int, hi: int) -> None:
        v, n = self.v, hi - lo
        for i in reversed(range(n + n // 2)):
            if i >= n:
                node = i - n
            else:
                v[lo], v[lo + i] = v[lo + i], v[lo]
                node = 0
            end = min(i, n)
            while True:
                child = 2 * node + 1
                if child >= end:
                    break
                if child + 1 < end and self.less(v[lo + child], v[lo + child + 1]):
                    child += 1
                if not self.less(v[lo + node], v[lo + child]):
                    break
                v[lo + node], v[lo + child] = v[lo + child], v[lo + node]
                node = child
