"""The datetimes and enums of :mod:`tests.record.exotic_values`: zones that raise, lie or
change the container their datetime sits in; enum members whose value JSON cannot hold, is the
member itself, or raises; and ``Boom``, what every odd hook of the catalogue raises."""

from __future__ import annotations

import datetime
import enum
from typing import Any


def empty(parent: Any) -> None:
    """What the values that change their container do to it: empty a dict or a list."""
    if isinstance(parent, dict | list):
        parent.clear()


class Boom(RuntimeError):
    """What the odd hooks below raise."""


def boom(*_: Any, **__: Any) -> Any:
    raise Boom("boom")


# --- datetimes -------------------------------------------------------------------------------


class RaisingTz(datetime.tzinfo):
    """A time zone whose every answer raises (a zone database gone)."""

    utcoffset = dst = tzname = boom


class GarbageTz(datetime.tzinfo):
    """A time zone answering an offset that is no ``timedelta``."""

    def utcoffset(self, dt: Any) -> Any:
        return "garbage"

    def dst(self, dt: Any) -> Any:
        return "garbage"

    def tzname(self, dt: Any) -> Any:
        return 5


class HugeTz(datetime.tzinfo):
    """A time zone 30 hours off UTC (Python refuses more than 24)."""

    tzname = boom

    def utcoffset(self, dt: Any) -> Any:
        return datetime.timedelta(hours=30)

    def dst(self, dt: Any) -> Any:
        return None


class ClearingTz(datetime.tzinfo):
    """A time zone that empties a container when asked its offset."""

    def __init__(self, parent: Any) -> None:
        self.parent = parent

    tzname = boom

    def utcoffset(self, dt: Any) -> Any:
        empty(self.parent)
        return datetime.timedelta(0)

    def dst(self, dt: Any) -> Any:
        return None


class DateSub(datetime.date):
    """A ``date`` that is not exactly one."""


class DateTimeSub(datetime.datetime):
    """A ``datetime`` that is not exactly one, whose ``isoformat`` raises."""

    isoformat = boom


# --- enums -----------------------------------------------------------------------------------


class OpaqueEnum(enum.Enum):
    """A member whose value JSON cannot hold."""

    A = object()


class SelfEnum(enum.Enum):
    """A member whose value is the member itself."""

    A = 1


SelfEnum.A._value_ = SelfEnum.A  # type: ignore[assignment]


class RaisingEnum(enum.Enum):
    """A member whose ``value`` raises."""

    A = 1

    @property
    def value(self) -> Any:
        raise Boom("value")


class BigIntEnum(enum.IntEnum):
    """An ``IntEnum`` beyond 64 bits."""

    A = 2**70


class SurrogateStrEnum(enum.StrEnum):
    """A ``StrEnum`` holding a lone surrogate."""

    A = "a\ud800b"


class BadReprIntEnum(enum.IntEnum):
    """An ``IntEnum`` whose ``str`` and ``repr`` raise."""

    A = 7
    __str__ = __repr__ = __format__ = boom
