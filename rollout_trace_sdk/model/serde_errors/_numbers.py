"""How serde_json's number visitors read a number in a typed document (an event's envelope,
the manifest) and word a wrong one: the rules :mod:`._typed`'s scan checks each numeric field
by, apart from the scan itself."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final

from .. import serde_read
from ..serde_read import DecodeError

_describe = serde_read.describe

#: A field's check: the value as read, or :class:`~..serde_read.DecodeError` with serde's words.
_Check = Callable[[Any], object]


def _unsigned(bits: int) -> _Check:
    def check(value: Any) -> object:
        kind = f"u{bits}"
        if isinstance(value, bool) or not isinstance(value, int):
            raise DecodeError(f"invalid type: {_unexpected(value, kind)}, expected {kind}")
        if not 0 <= value < 2**bits:
            raise DecodeError(f"invalid value: integer `{value}`, expected {kind}")
        return value

    return check


#: What serde's number visitors expect: a wrong number there is shown with its value.
_NUMERIC: frozenset[str] = frozenset(
    {"u8", "u16", "u32", "u64", "usize", "i8", "i16", "i32", "i64", "isize", "f32", "f64"}
)


def _unexpected(value: Any, expected: str = "") -> str:
    """serde_json's wording for a value of the wrong type in a field read straight from the
    text (an event's envelope, the manifest). Any other visitor meets a float or an integer
    beyond u64/i64 as serde_json's ``arbitrary_precision`` text: "number"."""
    if isinstance(value, list):
        return "sequence"
    if isinstance(value, dict):
        return "map"
    if expected not in _NUMERIC and serde_read.is_wide_number(value):
        return "number"
    return _describe(value)


def _stream_number(value: Any) -> Any:
    """An integer read straight from the text beyond u64 and i64 is parsed as an f64 by
    serde_json's number visitors (infinite past f64's range)."""
    if value.__class__ is int and not -(2**63) <= value < 2**64:
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return value


#: serde_json's ``POW10``: each power of ten as Rust's literal, the nearest f64.
_POW10: Final = tuple(float(f"1e{n}") for n in range(309))
_U64_MAX: Final = 2**64 - 1
_I32_MAX: Final = 2**31 - 1


class _OutOfRange(Exception):
    """serde_json's "number out of range", with where its reader stood (an offset into the
    number's text)."""

    def __init__(self, end: int) -> None:
        self.end = end


def _number_visitor_reads(text: bytes) -> int | float:
    """The number ``text`` (valid JSON) as serde_json's typed parse hands it to a number
    visitor (``parse_integer``; Codex's serde_json is built without ``float_roundtrip``): an
    integer within u64 / i64, else an f64 made from at most 19 or 20 significant digits and a
    power of ten, rounded at each step (not Python's correctly rounded float: 1.7976931348623158e308
    is out of range there, 2.2250738585072011e-308 is 2.2250738585072014e-308), ``-0`` -0.0.
    Raises :class:`_OutOfRange` where serde does: an exponent past i32 (at its digit that
    overflowed) or an infinite product (at the number's end)."""
    negative = text[:1] == b"-"
    i = 1 if negative else 0
    size = len(text)
    significand = 0
    exponent = 0
    while i < size and 0x30 <= text[i] <= 0x39:
        digit = text[i] - 0x30
        if significand * 10 + digit > _U64_MAX:
            # parse_long_integer: later digits only count as powers of ten
            start = i
            while i < size and 0x30 <= text[i] <= 0x39:
                i += 1
            exponent = i - start
            break
        significand = significand * 10 + digit
        i += 1
    else:
        if i == size:  # an integer: within u64 / i64, else an f64 (-0 and below i64 too)
            if not negative:
                return significand
            if significand <= 2**63 and significand != 0:
                return -significand
            return -float(significand)
    if i < size and text[i] == 0x2E:  # .
        i += 1
        while i < size and 0x30 <= text[i] <= 0x39:
            digit = text[i] - 0x30
            if significand * 10 + digit > _U64_MAX:
                while i < size and 0x30 <= text[i] <= 0x39:  # parse_decimal_overflow
                    i += 1
                break
            significand = significand * 10 + digit
            exponent -= 1
            i += 1
    if i < size and text[i] in b"eE":
        i += 1
        positive_exp = text[i] != 0x2D
        if text[i] in b"+-":
            i += 1
        exp = text[i] - 0x30
        i += 1
        while i < size:
            exp = exp * 10 + text[i] - 0x30
            i += 1
            if exp > _I32_MAX:  # parse_exponent_overflow
                if significand and positive_exp:
                    raise _OutOfRange(i)
                return -0.0 if negative else 0.0
        exponent = exponent + exp if positive_exp else exponent - exp
    value = float(significand)
    while True:  # f64_from_parts
        if abs(exponent) < len(_POW10):
            if exponent >= 0:
                value *= _POW10[exponent]
                if math.isinf(value):
                    raise _OutOfRange(size)
            else:
                value /= _POW10[-exponent]
            break
        if value == 0.0:
            break
        if exponent >= 0:
            raise _OutOfRange(size)
        value /= 1e308
        exponent += 308
    return -value if negative else value
