"""Ways an agent may hold the JSON it hands the recorder, other than dicts, lists and strs
(the tests that the recorder reads each as the JSON it holds: test_items, test_requests,
test_recorder_held_values), and ways such a holder may refuse to be read."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any


class OtherMapping(Mapping[str, Any]):
    """A mapping that is no dict."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


class OtherSequence(Sequence[Any]):
    """A sequence that is no list nor tuple."""

    def __init__(self, data: list[Any]) -> None:
        self._data = data

    def __getitem__(self, index: Any) -> Any:
        return self._data[index]

    def __len__(self) -> int:
        return len(self._data)


class StrSubclass(str):
    """A ``str`` that is not exactly one."""


class UnreadableMapping(Mapping[str, Any]):
    """A mapping whose own hooks raise (a lazy view over something gone)."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("gone")

    def __iter__(self) -> Any:
        raise RuntimeError("gone")

    def __len__(self) -> int:
        return 1


class UnreadableSequence(Sequence[Any]):
    """A sequence whose own hooks raise."""

    def __getitem__(self, index: Any) -> Any:
        raise RuntimeError("gone")

    def __iter__(self) -> Any:
        raise RuntimeError("gone")

    def __len__(self) -> int:
        return 1


def tupled(value: Any) -> Any:
    """``value`` with every list held as a tuple, at any depth (an agent keeping its history
    in tuples)."""
    if isinstance(value, dict):
        return {key: tupled(entry) for key, entry in value.items()}
    if isinstance(value, list):
        return tuple(tupled(entry) for entry in value)
    return value


class LazyTree(Sequence[Any]):
    """A node making ``width`` new children at each reading, without end; counts them, and
    past ``limit`` refuses to make more (the test's stop: without a bound, the walk goes on)."""

    def __init__(self, made: list[int], width: int = 2, limit: int = 1_000_000) -> None:
        self.made, self.width, self.limit = made, width, limit

    def __len__(self) -> int:
        return self.width

    def __getitem__(self, index: Any) -> Any:
        if index >= self.width:
            raise IndexError(index)
        self.made[0] += 1
        if self.made[0] > self.limit:
            raise RuntimeError("made without end")
        return LazyTree(self.made, self.width, self.limit)
