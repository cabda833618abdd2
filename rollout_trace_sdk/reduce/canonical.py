"""``content_sha256``: the identity of one content element (an image, an unknown part).

Codex hashes the element's canonical JSON: compact, keys sorted at every depth, strings escaped
the serde way, numbers spelled as in the payload file except for a normalised exponent. The
number rule is why floats need their original text: a parsed float cannot say whether the file
wrote ``1.50`` or ``1.5``. Payloads are parsed by orjson for speed; only when an element holds a
float (orjson also turns integers beyond 64 bits into floats) do we re-read it with the standard
library, keeping number text verbatim. The JSON summaries of conversation parts follow the same
number rule (Codex's serde_json keeps arbitrary-precision number text), in payload key order.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any, Final

from ..model.serde_read import TextNumber, rust_float

_EXPONENT: Final = re.compile(r"[eE]([+-]?)(\d+)$")


class RawNumber(str):
    """A JSON number kept as the text the file used."""

    __slots__ = ()


def _raw_float(text: str) -> RawNumber:
    return RawNumber(text)


def _raw_int(text: str) -> RawNumber:
    return RawNumber(text)


def parse_keeping_numbers(raw: bytes) -> Any:
    """Parse JSON with every number left as its source text (a :class:`RawNumber`)."""
    return json.loads(
        raw, parse_float=_raw_float, parse_int=_raw_int, parse_constant=_reject_constant
    )


#: Integer text past 128 bits is read as an f64 by serde_json: no need to make such an int.
_WIDEST_INTEGER_DIGITS: Final = 40


def visited_numbers(value: Any) -> Any:
    """``value`` (parsed with :func:`parse_keeping_numbers`) with each number as serde_json
    (arbitrary precision) hands it from a ``Value`` to a visitor: an integer while it fits
    u128 / i128 (exact, where orjson gave a float past 64 bits); an f64 when the text is
    that f64's own spelling (ryu's, or Rust's ``Display``: ``1.5``, ``12.0``, ``1e16``); any
    other number as its text (a :class:`~..model.serde_read.TextNumber`: ``1.50``, ``1e5``,
    ``1e400``, an integer past 128 bits)."""
    if isinstance(value, RawNumber):
        digits = value.lstrip("-")
        if digits.isdigit() and len(digits) <= _WIDEST_INTEGER_DIGITS:
            number = int(value)
            if -(2**127) <= number < 2**128:
                return number
        parsed = float(value)
        if math.isfinite(parsed) and value in (_ryu(parsed), _display(parsed)):
            return parsed
        return TextNumber(parsed)
    if isinstance(value, list):
        return [visited_numbers(item) for item in value]
    if isinstance(value, dict):
        return {key: visited_numbers(item) for key, item in value.items()}
    return value


def _ryu(value: float) -> str:
    """A finite f64 as the ryu crate writes it (serde_json's messages add ``+`` to a positive
    exponent)."""
    return rust_float(value).replace("e+", "e")


def _display(value: float) -> str:
    """A finite f64 as Rust's ``Display`` writes it: every digit, no exponent, no ``.0``.
    (``decimal`` imported here: 1.4 ms of every reduce's start-up for a float's spelling.)"""
    from decimal import Decimal

    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def holds_inexact_numbers(value: Any) -> bool:
    """Whether ``value`` (parsed by orjson, or by the lenient parse of a payload orjson
    refused) may not say what serde_json's ``Value`` holds: a float (its text is gone: ``1.50``
    and ``1.5`` are one float; orjson reads an integer past 64 bits as one) or an integer past
    64 bits (kept exact by the lenient parse; orjson cannot write it)."""
    if value.__class__ is float:
        return True
    if value.__class__ is int:
        return not -(2**63) <= value < 2**64
    if isinstance(value, dict):
        return any(holds_inexact_numbers(v) for v in value.values())
    if isinstance(value, list):
        return any(holds_inexact_numbers(v) for v in value)
    return isinstance(value, float)


def has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(has_float(v) for v in value)
    return False


def _number_text(text: str) -> str:
    match = _EXPONENT.search(text)
    if match is None:
        return text
    sign = match.group(1) or "+"
    return f"{text[: match.start()]}e{sign}{match.group(2)}"


def _write(value: Any, out: list[str], sort_keys: bool = True) -> None:
    if isinstance(value, RawNumber):
        out.append(_number_text(value))
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_number_text(repr(value)))
    elif isinstance(value, list):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out, sort_keys)
        out.append("]")
    elif isinstance(value, dict):
        out.append("{")
        keys = sorted(value, key=lambda k: k.encode("utf-8")) if sort_keys else list(value)
        for index, key in enumerate(keys):
            if index:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _write(value[key], out, sort_keys)
        out.append("}")
    else:  # pragma: no cover - JSON has no other types
        raise TypeError(f"not a JSON value: {type(value).__name__}")


def compact_json(value: Any) -> str:
    """serde_json's compact form of a value parsed with number text kept (key order kept)."""
    out: list[str] = []
    _write(value, out, sort_keys=False)
    return "".join(out)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_text_keeping_numbers(text: str) -> Any:
    """Like :func:`parse_keeping_numbers` for a JSON document held in a string."""
    return json.loads(
        text, parse_float=_raw_float, parse_int=_raw_int, parse_constant=_reject_constant
    )


def canonical_json(value: Any) -> str:
    out: list[str] = []
    _write(value, out)
    return "".join(out)


def content_sha256(value: Any, raw_element: Callable[[], Any] | None = None) -> str:
    """Hash of one content element. ``raw_element`` re-reads the element with number text
    kept; it is only called when the parsed element holds a float."""
    import hashlib  # here: loading OpenSSL's hashes cost every `reduce` 3.5 ms, few parts need it

    if raw_element is not None and has_float(value):
        value = raw_element()
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
