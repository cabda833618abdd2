"""The bounded reading of containers the agent holds in types of its own (``record._held``):
a lazy or broken sequence or mapping is read with work bounded by what it claims, never
whole when it claims more than ``MAX_HELD_ITEMS``, never past one item more than it claims."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections import UserDict, UserList, deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.record._held import (
    MAX_HELD_ITEMS,
    TO_HOOK,
    held_dict,
    held_fields,
    held_list,
    known_hook,
    model_dumped,
)


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


@dataclasses.dataclass
class _Plain:
    name: str = "n"
    _cache: list[int] = dataclasses.field(default_factory=lambda: [1])
    late: int = dataclasses.field(default=4, init=False)  # a class attribute, not in __dict__
    made: int = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.made = 5


@dataclasses.dataclass(slots=True)
class _Slots:
    name: str = "n"
    _cache: int = 1
    late: int = dataclasses.field(default=4, init=False)


@dataclasses.dataclass(slots=True)
class _Unfinished:
    """A ``slots`` dataclass whose field has no value yet (set later, or never)."""

    name: str = "n"
    late: int = dataclasses.field(init=False)


def _with_extra() -> _Plain:
    value = _Plain()
    value.extra = [2]  # type: ignore[attr-defined]  # an attribute set after __init__
    return value


@pytest.mark.parametrize(
    "value", [_Plain(), _with_extra(), _Slots()], ids=["dict", "extra", "slots"]
)
def test_a_dataclass_is_the_dict_orjson_writes(value: Any) -> None:
    """The payloads are orjson's text: an instance's ``__dict__`` (attributes set later
    included, class defaults not), or a ``slots`` class's declared fields, without the
    names starting with ``_``. Before, every declared field was read (``_cache`` and
    ``late`` included, ``extra`` left out): an item held so got the id of other JSON than
    the JSON recorded."""
    assert held_fields(value) == orjson.loads(orjson.dumps(value))
    assert orjson.dumps(value, known_hook, TO_HOOK) == orjson.dumps(value)


def test_an_unreadable_dataclass_is_none_and_refused_by_the_hook() -> None:
    """A ``slots`` dataclass with a field that has no value: no dict (the caller records an
    unserialisable object), and the hook refuses it and what is no dataclass as orjson
    refuses anything it does not know, with a ``TypeError``."""
    assert held_fields(_Unfinished()) is None
    assert held_fields(_Plain) is None  # the class, no instance
    for value in (_Unfinished(), object()):
        with pytest.raises(TypeError):
            known_hook(value)


def test_orjson_never_writes_a_dataclass_itself() -> None:
    """Why :data:`TO_HOOK` is passed wherever the agent's values are encoded:
    orjson's own writer kills the process on a ``slots`` dataclass whose field has no value
    yet (a segmentation fault, orjson 3.13.0). Run apart, the hook's way returns; if this
    orjson writes it itself and returns, the option is only a precaution."""
    script = (
        "import dataclasses, orjson\n"
        "from rollout_trace_sdk.record._held import TO_HOOK, known_hook\n"
        "@dataclasses.dataclass(slots=True)\n"
        "class U:\n"
        "    late: int = dataclasses.field(init=False)\n"
        "try:\n"
        "    orjson.dumps([U()], known_hook, TO_HOOK)\n"
        "except TypeError:\n"
        "    print('refused')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout.strip()) == (0, "refused"), done.stderr


def test_a_pydantic_model_is_dumped_by_its_aliases() -> None:
    """A field is named as the model's JSON names it: the OpenAI SDK's models hold a
    function call's ``async`` as ``async_`` (an alias), and it was recorded ``async_``, a
    name the server never sent and the SDK never sends back (found by review clients47)."""
    import pydantic

    class Call(pydantic.BaseModel):
        call_id: str
        async_: bool | None = pydantic.Field(alias="async", default=None)

    call = Call.model_validate({"call_id": "c", "async": True})
    assert model_dumped(call.model_dump) == {"call_id": "c", "async": True}
    assert model_dumped(Call(call_id="c").model_dump, exclude_none=True) == {"call_id": "c"}
