"""serde's wording for errors in payloads Codex deserialises from a parsed JSON value.

Codex reads most payload fields by converting a ``serde_json::Value`` into a typed struct, so its
"invalid type" messages describe the value the way ``Value`` does (``number``, ``sequence``,
``map``; numbers carry no digits because Codex keeps arbitrary-precision number text).
"""

from __future__ import annotations

from typing import Any

from ..model import _serde_json


def describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return f'string "{value}"'
    if isinstance(value, list):
        return "sequence"
    return "map"


def invalid_type(value: Any, expected: str) -> str:
    return f"invalid type: {describe(value)}, expected {expected}"


def syntax_error(text: str) -> str:
    """serde's message for JSON text that does not parse."""
    return _serde_json.syntax_error(text.encode("utf-8")) or "invalid JSON"
