"""Payloads Codex reads into typed structs, checked as serde reads them: a map field by field
(each checked field's type, then the first missing required one), or a sequence element by
element in declaration order (too short at the first field without a default, too long past
the last), with serde's words for every refusal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..model.serde_errors import integer_error, invalid_type, missing_field_text, struct_error


def struct_fields_error(
    value: Any,
    struct: str,
    checks: dict[str, Callable[[Any], str | None]],
    required: tuple[str, ...],
    *,
    fields: int = 3,
    defaults: tuple[str, ...] = (),
) -> str | None:
    """serde's first complaint about a typed struct of ``fields`` fields: not a map, then each
    checked field's type in document order, then the first missing required field. A
    sequence is read field by field, in ``checks``' (declaration) order; one of exactly
    ``fields`` elements that pass is the struct (see :func:`as_fields`), and so is a shorter
    one whose missing fields all have defaults (``defaults``, ``#[serde(default)]``)."""
    if isinstance(value, list):
        for field_check, element in zip(checks.values(), value, strict=False):
            problem = field_check(element)
            if problem is not None:
                return problem
        if len(checks) == fields:
            count = len(value)
            missing = [i for i, name in enumerate(checks) if i >= count and name not in defaults]
            if missing:
                # serde names the first field it could not default: its index
                return (
                    f"invalid length {missing[0]}, expected struct {struct} with {fields} elements"
                )
            # every field read; serde's Value deserializer then refuses what is left over
            return (
                f"invalid length {count}, expected fewer elements in array"
                if count > fields
                else None
            )
    problem = struct_error(value, struct, fields)
    if problem is not None:
        return problem
    for key, item in value.items():
        check = checks.get(key)
        problem = None if check is None else check(item)
        if problem is not None:
            return problem
    for name in required:
        if name not in value:
            return missing_field_text(name)
    return None


def as_fields(value: Any, names: tuple[str, ...]) -> Any:
    """A struct payload :func:`struct_fields_error` accepted, as a map: serde reads one given
    as a sequence field by field, in declaration order (``names``; defaulted ones it lacks are
    left out)."""
    return dict(zip(names, value, strict=False)) if isinstance(value, list) else value


def string(value: Any) -> str | None:
    """A ``String`` field's check."""
    return None if isinstance(value, str) else invalid_type(value, "a string")


def optional_string(value: Any) -> str | None:
    """An ``Option<String>`` field's check."""
    return None if value is None else string(value)


def strings(value: Any) -> str | None:
    """A ``Vec<String>`` field's check."""
    if not isinstance(value, list):
        return invalid_type(value, "a sequence")
    return next((invalid_type(v, "a string") for v in value if not isinstance(v, str)), None)


def i32(value: Any) -> str | None:
    """An ``i32`` field's check."""
    return integer_error(value, 32)
