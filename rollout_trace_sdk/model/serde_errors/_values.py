"""serde's wording for errors in payloads Codex deserialises from a parsed JSON value.

Codex reads most payload fields by converting a ``serde_json::Value`` into a typed struct, so its
"invalid type" messages describe the value the way ``Value`` does (``number``, ``sequence``,
``map``; numbers carry no digits because Codex keeps arbitrary-precision number text).
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from .. import serde_read
from ._syntax import syntax_error as _syntax_error
from ._typed import string_struct_error

#: serde's wording for a value buffered by an internally tagged enum, or read straight from
#: bytes into a typed field: numbers keep their value there (``integer `5```). One definition,
#: the codec's, which words its own decode errors the same way.
describe_content = serde_read.describe


def describe(value: Any) -> str:
    """serde's wording for a ``serde_json::Value`` that does not fit: numbers carry no digits
    (Codex keeps arbitrary-precision number text), everything else as :data:`describe_content`."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "number"
    return describe_content(value)


def invalid_type(value: Any, expected: str) -> str:
    return f"invalid type: {describe(value)}, expected {expected}"


def integer_error(value: Any, bits: int) -> str | None:
    """serde's complaint about a ``serde_json::Value`` read into a signed integer field of
    ``bits`` bits (``i32``, ``i64``), or None when it fits. A float, or an integer out of
    range, is "invalid number" (arbitrary-precision number text)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return invalid_type(value, f"i{bits}")
    if isinstance(value, float) or not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
        return "invalid number"
    return None


def wide_integer(value: Any) -> str | None:
    """How serde names an integer serde_json hands over as a u128 (past u64) or an i128
    (below i64): ``integer `N` as u128``; None for any other value."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if _U64_END <= value < _U128_END:
        return f"integer `{value}` as u128"
    if _I128_MIN <= value < _I64_MIN:
        return f"integer `{value}` as i128"
    return None


def buffered_number_error(value: Any) -> str | None:
    """serde's complaint when ``value`` (a payload Codex parsed into a ``Value``) is buffered
    as ``Content``, as an internally tagged enum is: serde_json hands over an integer past
    u64 as a u128 and one below i64 as an i128, for which ``Content`` has no place. The first
    such integer in document order; wider ones stay text (a map) and pass, as do floats."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        wide = wide_integer(value)
        return None if wide is None else f"invalid type: {wide}, expected any value"
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, list):
        return None
    for item in value:
        problem = buffered_number_error(item)
        if problem is not None:
            return problem
    return None


_U64_END: Final = 2**64
_U128_END: Final = 2**128
_I64_MIN: Final = -(2**63)
_I128_MIN: Final = -(2**127)


def struct_error(value: Any, name: str, fields: int, first: str = "a string") -> str | None:
    """serde's complaint when a payload that should be struct ``name`` is not a map, or None
    for a map. A sequence is read field by field (the first field expects ``first``)."""
    if isinstance(value, dict):
        return None
    if isinstance(value, list):
        if not value:
            return f"invalid length 0, expected struct {name} with {fields} elements"
        if first == "a string" and not isinstance(value[0], str):
            return invalid_type(value[0], first)
        return f"invalid length {len(value)}, expected struct {name} with {fields} elements"
    return invalid_type(value, f"struct {name}")


def typed_text_error(text: str, name: str, required: tuple[str, ...]) -> str | None:
    """serde's message (with position) for JSON ``text`` read as a struct whose ``required``
    fields are strings, or None when it reads."""
    return string_struct_error(text.encode("utf-8"), name, required)


def text_syntax_error(text: str) -> str:
    """serde's message for JSON text that does not parse."""
    return _syntax_error(text.encode("utf-8")) or "invalid JSON"


_HEX = frozenset("0123456789abcdefABCDEF")
_GROUPS = (8, 4, 4, 4, 12)


def uuid_error(text: str) -> str | None:
    """The uuid crate's complaint about a thread id, or None when it parses."""
    body, offset, simple = text, 0, True
    if len(text) >= 2 and text[0] == "{" and text[-1] == "}":
        body, offset, simple = text[1:-1], 1, False
    elif text.startswith("urn:uuid:"):
        body, offset, simple = text[9:], 9, False
    groups = body.split("-")
    if (len(body) == 32 and simple and set(body) <= _HEX) or (
        len(groups) == 5
        and all(len(g) == n and set(g) <= _HEX for g, n in zip(groups, _GROUPS, strict=True))
    ):
        return None
    for index, char in enumerate(body):
        if char != "-" and char not in _HEX:
            return (
                "invalid character: expected an optional prefix of `urn:uuid:` followed by "
                f"[0-9a-fA-F-], found `{char}` at {index + offset + 1}"
            )
    hyphens = body.count("-")
    if hyphens == 0 and simple:
        return f"invalid length: expected length 32 for simple format, found {len(body)}"
    if hyphens != 4:
        return f"invalid group count: expected 5, found {hyphens + 1}"
    start = 0
    for number, (group, wanted) in enumerate(zip(groups, _GROUPS, strict=True)):
        if len(group) != wanted:
            # the uuid crate measures the last group to the end of the whole text, a braced
            # id's `}` and a urn's prefix counted in (`{…-` + 11 digits + `}`: found 13)
            found = len(text) - start if number == len(_GROUPS) - 1 else len(group)
            return f"invalid group length in group {number}: expected {wanted}, found {found}"
        start += len(group) + 1
    return "invalid UUID"


def canonical_thread_id(text: str) -> str:
    """A valid thread id as Codex prints it after parsing (lowercase, hyphenated)."""
    return str(uuid.UUID(text))


_AGENT_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def agent_path_error(path: str) -> str | None:
    """Codex's complaint about an agent path (``/root``, ``/root/a/b`` or ``/morpheus``)."""
    if path in ("/root", "/morpheus"):
        return None
    if not path.startswith("/root/"):
        return "absolute agent paths must start with `/root` or be `/morpheus`"
    if path.endswith("/"):
        return "absolute agent path must not end with `/`"
    for name in path[len("/root/") :].split("/"):
        if not name:
            return "agent_name must not be empty"
        if name in (".", "..", "root"):
            return f"agent_name `{name}` is reserved"
        if not set(name) <= _AGENT_NAME_CHARS:
            return "agent_name must use only lowercase letters, digits, and underscores"
    return None
