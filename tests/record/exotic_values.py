"""Values an agent may hand the recorder whose reading runs the agent's own code, and that
code raises, lies, never ends or changes the value being written (the sweep of
``tests/record/exotic_sweep.py`` and the regression tests of the defects it found).

Each value is made by a factory ``make(original, parent)``: ``original`` is the value it
stands in for (a dict, a list, a string, an integer of a recording call's arguments; a
factory that wraps one reads it as what it holds), ``parent`` the container it is put in
when it is a new item of one (else ``None``): values that change the container they sit in
need it. Each class is small and does one odd thing.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import functools
import itertools
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
import pydantic

from .exotic_dates import (
    BadReprIntEnum,
    BigIntEnum,
    Boom,
    ClearingTz,
    DateSub,
    DateTimeSub,
    GarbageTz,
    HugeTz,
    OpaqueEnum,
    RaisingEnum,
    RaisingTz,
    SelfEnum,
    SurrogateStrEnum,
    boom,
    empty,
)

Make = Callable[[Any, Any], Any]


# --- subclasses of the JSON types ------------------------------------------------------------


class LyingStr(str):
    """A ``str`` whose every Python-level hook raises."""

    __str__ = __repr__ = __iter__ = __len__ = __getitem__ = __eq__ = __hash__ = boom
    __bool__ = encode = strip = lower = startswith = boom


class LyingInt(int):
    """An ``int`` whose hooks raise."""

    __str__ = __repr__ = __index__ = __int__ = __eq__ = __hash__ = __bool__ = boom
    __float__ = __lt__ = __le__ = __gt__ = __ge__ = __format__ = boom


class NanFloat(float):
    """A ``float`` subclass holding NaN, its ``repr`` raising."""

    __repr__ = __str__ = boom


class LyingDict(dict[Any, Any]):
    """A dict whose Python-level reading hooks raise (C reads its items directly)."""

    __iter__ = __len__ = __getitem__ = keys = items = values = get = boom
    __eq__ = __bool__ = __contains__ = __repr__ = boom
    __hash__ = None


class FibbingDict(dict[Any, Any]):
    """A dict whose Python-level hooks tell of other items than it holds."""

    def keys(self) -> Any:
        return ["fib"]

    def items(self) -> Any:
        return [("fib", "fib")]

    def __iter__(self) -> Iterator[Any]:
        return iter(["fib"])

    def __len__(self) -> int:
        return 10**12

    def __getitem__(self, key: Any) -> Any:
        return "fib"


class LyingList(list[Any]):
    """A list whose Python-level reading hooks raise."""

    __iter__ = __len__ = __getitem__ = __eq__ = __bool__ = __repr__ = __contains__ = boom


class LyingTuple(tuple[Any, ...]):
    """A tuple whose Python-level reading hooks raise."""

    __iter__ = __len__ = __getitem__ = __eq__ = __bool__ = __repr__ = __hash__ = boom


class SizeLies(dict[Any, Any]):
    """A dict whose ``__sizeof__`` raises and whose ``__len__`` is negative."""

    __sizeof__ = boom

    def __len__(self) -> int:
        return -1


class SecondHash:
    """A key hashable once: its second ``hash`` raises."""

    def __init__(self) -> None:
        self.hashed = 0

    def __hash__(self) -> int:
        self.hashed += 1
        if self.hashed > 1:
            raise Boom("hash")
        return 1

    def __eq__(self, other: object) -> bool:
        return self is other

    __str__ = __repr__ = boom


class BadBool:
    """A value whose comparison answers something that refuses to be a bool."""

    def __eq__(self, other: object) -> Any:
        return self

    __ne__ = __eq__
    __bool__ = __repr__ = boom
    __hash__ = object.__hash__


# --- attribute lookups -----------------------------------------------------------------------


class ClassProperty:
    """An object whose ``__class__`` is a property that raises."""

    @property  # type: ignore[misc]
    def __class__(self) -> Any:
        raise Boom("__class__")


class ClassLies:
    """An object whose ``__class__`` says it is a dict."""

    @property  # type: ignore[misc]
    def __class__(self) -> Any:
        return dict


class RaisingGetattr:
    """An object whose every missing attribute (``model_dump``, ``__dataclass_fields__``,
    ``__attrs_attrs__``...) raises."""

    def __getattr__(self, name: str) -> Any:
        raise Boom(name)

    __repr__ = boom


class RaisingGetattribute:
    """An object whose every attribute lookup raises, ``__dict__`` and ``__class__``
    too."""

    def __getattribute__(self, name: str) -> Any:
        raise Boom(name)


class AgentInterrupt(BaseException):
    """An exception no ``except Exception`` catches."""


class InterruptingRepr:
    """An object whose ``repr`` raises a ``BaseException`` of the agent's own."""

    def __repr__(self) -> str:
        raise AgentInterrupt("repr")


# --- models, attrs classes, dataclasses ------------------------------------------------------


class DumpRaises(pydantic.BaseModel):
    """A model whose ``model_dump`` raises."""

    x: int = 1

    def model_dump(self, *a: Any, **k: Any) -> Any:
        raise Boom("dump")


class DumpNotDict(pydantic.BaseModel):
    """A model whose ``model_dump`` returns a set of bytes."""

    def model_dump(self, *a: Any, **k: Any) -> Any:
        return {b"x", b"y"}


class DumpItself(pydantic.BaseModel):
    """A model whose ``model_dump`` returns the model."""

    def model_dump(self, *a: Any, **k: Any) -> Any:
        return self


class DumpGenerator(pydantic.BaseModel):
    """A model whose ``model_dump`` returns a generator."""

    def model_dump(self, *a: Any, **k: Any) -> Any:
        return (n for n in range(3))


class ModelDumpAttr:
    """No model: a ``model_dump`` that is no method."""

    model_dump = 5


@attrs.define(slots=True)
class AttrsUnset:
    """An attrs ``slots`` class whose attribute was never set."""

    a: int = 1
    late: int = attrs.field(init=False)


@dataclasses.dataclass
class PropertyField:
    """A dataclass whose field is a property that raises."""

    name: str = "n"

    @property
    def late(self) -> Any:
        raise Boom("late")


PropertyField.__dataclass_fields__["late"] = dataclasses.field()
PropertyField.__dataclass_fields__["late"].name = "late"
PropertyField.__dataclass_fields__["late"]._field_type = dataclasses._FIELD  # type: ignore[attr-defined]


@dataclasses.dataclass
class OddKeyDataclass:
    """A dataclass whose ``__dict__`` holds a key that is no string."""

    name: str = "n"


# --- other stdlib values ---------------------------------------------------------------------


class UUIDSub(uuid.UUID):
    """A ``UUID`` that is not exactly one."""


def _torn_uuid() -> uuid.UUID:
    value = uuid.UUID(int=5)
    object.__setattr__(value, "int", -(2**200))
    return value


def _released() -> memoryview:
    view = memoryview(b"abc")
    view.release()
    return view


# --- values that change the container they sit in --------------------------------------------


class ClearsParent:
    """An object whose every reading (``repr``, attributes, ``len``) empties its
    container."""

    def __init__(self, parent: Any) -> None:
        object.__setattr__(self, "_parent", parent)

    def __getattr__(self, name: str) -> Any:
        empty(object.__getattribute__(self, "_parent"))
        raise AttributeError(name)

    def __repr__(self) -> str:
        empty(object.__getattribute__(self, "_parent"))
        return "ClearsParent()"


class GrowsParent:
    """An object whose every ``repr`` adds 1,000 items to its list (or keys to its
    dict)."""

    def __init__(self, parent: Any) -> None:
        self.parent = parent

    def __repr__(self) -> str:
        if isinstance(self.parent, list):
            self.parent.extend(GrowsParent(self.parent) for _ in range(1000))
        elif isinstance(self.parent, dict):
            for _ in range(1000):
                self.parent[f"g{len(self.parent)}"] = GrowsParent(self.parent)
        return "GrowsParent()"


class ClearingModel(pydantic.BaseModel):
    """A model whose ``model_dump`` empties its container first."""

    model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)
    parent: Any = None

    def model_dump(self, *a: Any, **k: Any) -> Any:
        empty(self.parent)
        return {"x": 1}


class ClearingMapping(Mapping[str, Any]):
    """A mapping whose ``__len__`` empties its container."""

    def __init__(self, parent: Any) -> None:
        self.parent = parent

    def __len__(self) -> int:
        empty(self.parent)
        return 1

    def __iter__(self) -> Iterator[str]:
        return iter(["k"])

    def __getitem__(self, key: str) -> Any:
        return "v"


class ClearingEnum(enum.Enum):
    """A member whose ``value`` empties the container named in :data:`CLEARED`."""

    A = 1

    @property
    def value(self) -> Any:
        empty(CLEARED.get("parent"))
        return 1


CLEARED: dict[str, Any] = {}


def _clearing_enum(original: Any, parent: Any) -> Any:
    CLEARED["parent"] = parent
    return ClearingEnum.A


class ResizesBytes:
    """An object whose ``repr`` resizes a ``bytearray`` next to it."""

    def __init__(self, data: bytearray) -> None:
        self.data = data

    def __repr__(self) -> str:
        self.data.extend(b"x" * 100_000)
        return "ResizesBytes()"


# --- chains ----------------------------------------------------------------------------------


class Link(Mapping[str, Any]):
    """A mapping holding the next link (a chain of them, as deep as asked)."""

    def __init__(self, nxt: Any) -> None:
        self.nxt = nxt

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[str]:
        return iter(["next"])

    def __getitem__(self, key: str) -> Any:
        return self.nxt


@dataclasses.dataclass
class DataLink:
    """A dataclass holding the next link."""

    nxt: Any = None


@functools.cache
def _chain(make: Callable[[Any], Any], depth: int = 10_000) -> Any:
    value: Any = "end"
    for _ in range(depth):
        value = make(value)
    return value


@functools.cache
def _enum_chain() -> Any:
    """Members of 2,000 enums, each one's value the next one."""
    members = [enum.Enum(f"C{n}", {"A": n}).A for n in range(2000)]  # type: ignore[attr-defined]
    for here, there in itertools.pairwise(members):
        here._value_ = there
    return members[0]


@functools.cache
def _lying_repr_chain() -> Any:
    value: Any = RaisingGetattr()
    for _ in range(10_000):
        value = [value]
    return value


def _wrap(kind: type, original: Any, fallback: Any) -> Any:
    return kind(original if isinstance(original, type(fallback)) else fallback)


#: name -> factory(original, parent)
EXOTIC: dict[str, Make] = {
    # datetimes
    "dt-tz-raises": lambda o, p: datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=RaisingTz()),
    "dt-tz-garbage": lambda o, p: datetime.datetime(2024, 1, 2, tzinfo=GarbageTz()),
    "dt-tz-huge": lambda o, p: datetime.datetime(2024, 1, 2, tzinfo=HugeTz()),
    "dt-tz-clears": lambda o, p: datetime.datetime(2024, 1, 2, tzinfo=ClearingTz(p)),
    "time-tz-raises": lambda o, p: datetime.time(1, 2, tzinfo=RaisingTz()),
    "date-sub": lambda o, p: DateSub(2024, 1, 2),
    "dt-sub": lambda o, p: DateTimeSub(2024, 1, 2, tzinfo=RaisingTz()),
    # enums
    "enum-opaque": lambda o, p: OpaqueEnum.A,
    "enum-self": lambda o, p: SelfEnum.A,
    "enum-raises": lambda o, p: RaisingEnum.A,
    "enum-clears": _clearing_enum,
    "intenum-big": lambda o, p: BigIntEnum.A,
    "strenum-surrogate": lambda o, p: SurrogateStrEnum.A,
    "intenum-badrepr": lambda o, p: BadReprIntEnum.A,
    # subclasses of the JSON types
    "str-lies": lambda o, p: LyingStr(o if isinstance(o, str) else "text"),
    "int-lies": lambda o, p: LyingInt(o if isinstance(o, int) else 3),
    "float-nan-sub": lambda o, p: NanFloat("nan"),
    "float-extremes": lambda o, p: [1e308, -0.0, 5e-324, -1e308],
    "dict-lies": lambda o, p: _wrap(LyingDict, o, {"k": "v"}),
    "dict-fibs": lambda o, p: _wrap(FibbingDict, o, {"k": "v"}),
    "list-lies": lambda o, p: _wrap(LyingList, o, ["v"]),
    "tuple-lies": lambda o, p: _wrap(LyingTuple, o, ["v"]),
    "dict-size-lies": lambda o, p: _wrap(SizeLies, o, {"k": "v"}),
    "key-hash-once": lambda o, p: {SecondHash(): "v", "k": "w"},
    "eq-not-bool": lambda o, p: BadBool(),
    # attribute lookups
    "class-property": lambda o, p: ClassProperty(),
    "class-lies": lambda o, p: ClassLies(),
    "getattr-raises": lambda o, p: RaisingGetattr(),
    "getattribute-raises": lambda o, p: RaisingGetattribute(),
    "repr-interrupts": lambda o, p: InterruptingRepr(),
    # models, attrs, dataclasses
    "dump-raises": lambda o, p: DumpRaises(),
    "dump-not-dict": lambda o, p: DumpNotDict(),
    "dump-itself": lambda o, p: DumpItself(),
    "dump-generator": lambda o, p: DumpGenerator(),
    "dump-not-method": lambda o, p: ModelDumpAttr(),
    "attrs-unset": lambda o, p: AttrsUnset(),
    "dc-property-raises": lambda o, p: PropertyField(),
    "dc-odd-key": lambda o, p: _odd_key(),
    # other stdlib values
    "uuid-sub": lambda o, p: UUIDSub(int=5),
    "uuid-torn": lambda o, p: _torn_uuid(),
    "mv-strided": lambda o, p: memoryview(b"abcdef")[::2],
    "mv-released": lambda o, p: _released(),
    "decimal-nan": lambda o, p: [decimal.Decimal("NaN"), decimal.Decimal("sNaN")],
    # values changing the container they sit in
    "clears-parent": lambda o, p: ClearsParent(p),
    "grows-parent": lambda o, p: GrowsParent(p),
    "model-clears": lambda o, p: ClearingModel(parent=p),
    "mapping-clears": lambda o, p: ClearingMapping(p),
    "bytes-resized": lambda o, p: _resized(),
    # chains 10,000 deep
    "chain-mapping": lambda o, p: _chain(Link),
    "chain-dataclass": lambda o, p: _chain(DataLink),
    "chain-dict-sub": lambda o, p: _chain(_fibbing),
    "chain-model": lambda o, p: _chain(_holder, 3000),
    "chain-odd-list": lambda o, p: _lying_repr_chain(),
    "chain-enum": lambda o, p: _enum_chain(),
}


class _Holder(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)
    v: Any = None


def _odd_key() -> OddKeyDataclass:
    value = OddKeyDataclass()
    value.__dict__[5] = "five"  # type: ignore[index]
    return value


def _resized() -> list[Any]:
    data = bytearray(b"abc")
    return [data, ResizesBytes(data), data]


def _fibbing(value: Any) -> FibbingDict:
    return FibbingDict(n=value)


def _holder(value: Any) -> _Holder:
    return _Holder(v=value)
