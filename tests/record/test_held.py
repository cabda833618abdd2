"""The bounded reading of containers the agent holds in types of its own (``record._held``):
a lazy or broken sequence or mapping is read with work bounded by what it claims, never
whole when it claims more than ``MAX_HELD_ITEMS``, never past one item more than it claims."""

from __future__ import annotations

from collections import UserDict, UserList, deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from rollout_trace_sdk.record._held import MAX_HELD_ITEMS, held_dict, held_list


class _Counted(Sequence[Any]):
    """A sequence that makes its items as they are read, counting the reads; ``endless``:
    its ``__getitem__`` never raises ``IndexError``, so its iteration never ends."""

    def __init__(self, size: int, *, endless: bool = False) -> None:
        self.size = size
        self.endless = endless
        self.reads = 0

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: Any) -> Any:
        self.reads += 1
        if self.reads > 10 * MAX_HELD_ITEMS:  # what the test stops at, not the code
            raise RuntimeError("read without end")
        if not self.endless and index >= self.size:
            raise IndexError(index)
        return int(index)


class _CountedMap(Mapping[int, int]):
    """A mapping whose keys never end, whatever its ``len`` says."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.reads = 0

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        while self.reads <= 10 * MAX_HELD_ITEMS:
            self.reads += 1
            yield self.reads

    def __getitem__(self, key: int) -> int:
        return key


@pytest.mark.parametrize(
    "value", [UserList([1, [2]]), deque([1, 2]), range(3), _Counted(3), _Counted(0)]
)
def test_a_sequence_is_the_list_it_holds(value: Sequence[Any]) -> None:
    """What it holds, in its order."""
    assert held_list(value) == list(value)


def test_a_mapping_is_the_dict_it_holds() -> None:
    """What ``dict`` reads from it."""
    assert held_dict(UserDict({"a": 1, 2: [3]})) == {"a": 1, 2: [3]}


def test_a_sequence_claiming_more_than_the_bound_is_not_read() -> None:
    """A ``range(10**12)`` was read whole (a MemoryError at best; ``range(10**8)`` took
    seconds and gigabytes): past :data:`MAX_HELD_ITEMS` nothing is read."""
    lazy = _Counted(MAX_HELD_ITEMS + 1)
    assert held_list(lazy) is None
    assert lazy.reads == 0
    assert held_list(range(10**12)) is None
    assert held_list(_Counted(MAX_HELD_ITEMS)) == list(range(MAX_HELD_ITEMS))


def test_a_sequence_that_never_ends_is_read_one_item_past_its_length() -> None:
    """One whose ``__getitem__`` never raises ``IndexError`` was read until memory ran out."""
    endless = _Counted(3, endless=True)
    assert held_list(endless) is None
    assert endless.reads == 4


def test_a_mapping_whose_keys_never_end_is_read_one_key_past_its_length() -> None:
    """As a sequence's."""
    endless = _CountedMap(2)
    assert held_dict(endless) is None
    assert endless.reads == 3
    assert held_dict(_CountedMap(MAX_HELD_ITEMS + 1)) is None


class _Raising(Sequence[Any]):
    def __init__(self, where: str) -> None:
        self.where = where

    def __len__(self) -> int:
        if self.where == "len":
            raise RuntimeError("len")
        return -1 if self.where == "negative" else 2

    def __getitem__(self, index: Any) -> Any:
        raise MemoryError("items")


@pytest.mark.parametrize("where", ["len", "negative", "items"])
def test_a_sequence_whose_hooks_raise_is_none(where: str) -> None:
    """Nothing raises out (``len`` refuses a negative length itself)."""
    assert held_list(_Raising(where)) is None
