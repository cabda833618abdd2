"""Token usage, in the one shape Codex records: ``token_usage``'s six counters.

Clients report usage in their own shapes (the Responses API's ``input_tokens_details``, Chat
Completions' ``prompt_tokens``, the Agents SDK's ``Usage`` dataclass, an older SDK's pydantic
extras); the recorder writes Codex's field names whatever it is given. Fields are read in
place (a pydantic model is never dumped whole for six integers): an inference call's end is
on the hot path. Pure functions: no I/O.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping
from typing import Any

from ._plain import SCALARS, to_plain
from ._values import Mistyped

__all__ = ["normalize_usage"]

#: A counter: Codex's integer, or what stood in for one that was none (see :func:`_count`).
Count = int | Mistyped


def _count(value: Any) -> Count | None:
    """A counter as Codex holds it (an integer): ``None`` when absent. A whole number of
    another type (``10.0``, an ``int`` subclass or an ``IntEnum``, a ``Decimal``, a
    ``Fraction``, a numpy integer) is that integer; a value that is no whole number
    (``True``, ``10.5``, ``"10"``) is 0, held in a :class:`Mistyped` so that the encoder
    counts it (``mistyped``). Both were recorded as 0 without a word before."""
    if value is None or value.__class__ is int:
        return value
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        try:
            whole = int(value)  # type: ignore[call-overload]
        except (TypeError, ValueError, OverflowError):
            pass
        else:
            if whole == value:
                return whole  # type: ignore[no-any-return]
    return Mistyped(0)


def _number(count: Count) -> int:
    return int(count.value) if isinstance(count, Mistyped) else count


def _field(value: Any, key: str) -> Any:
    """A field of a mapping, or an attribute of an object (pydantic model, dataclass): read
    directly, without dumping the whole object. A field the model does not declare is in
    pydantic's extras: an SDK older than the API keeps it there (openai 1.66's
    ``ResponseUsage`` has no ``input_tokens_details``, and the cached tokens were lost)."""
    if value.__class__ is dict or isinstance(value, Mapping):
        return value.get(key)
    fields = getattr(value, "__dict__", None)  # pydantic v2 models and dataclasses keep them here
    if fields is not None:
        found = fields.get(key)
        if found is None:
            extra = getattr(value, "__pydantic_extra__", None)
            if isinstance(extra, dict):
                return extra.get(key)
        return found
    return getattr(value, key, None)


def _detail(usage: Any, key: str, field: str) -> Count | None:
    details = _field(usage, key)
    return None if details is None else _count(_field(details, field))


def _first(*values: Count | None) -> Count:
    """The first counter given as a whole number, else the first given, else 0."""
    for value in values:
        if value.__class__ is int:
            return value
    return next((value for value in values if value is not None), 0)


def normalize_usage(usage: Any) -> dict[str, Count] | None:
    """Codex's ``token_usage`` object from any usage shape a client hands out.

    Accepted: Codex's own field names (and the recorder's ``TokenUsage``), the Responses
    ``usage`` (``input_tokens``, ``input_tokens_details.cached_tokens``,
    ``output_tokens_details.reasoning_tokens``), the Chat Completions ``usage``
    (``prompt_tokens``, ``completion_tokens``, ``prompt_tokens_details``,
    ``completion_tokens_details``) and the Agents SDK ``Usage`` dataclass; as dicts,
    pydantic models or dataclasses.

    Args:
        usage: the usage object, or ``None``.

    Returns:
        The six Codex counters (``total_tokens`` defaults to input + output; each read by
        :func:`_count`), or ``None`` when there is no usage or it is a plain value (a
        string, a number, a list).
    """
    if usage is None or usage.__class__ in SCALARS or isinstance(usage, list | tuple):
        return None
    if usage.__class__ is dict:
        return _usage_of(usage)
    to_payload = getattr(
        type(usage), "to_payload", None
    )  # on the class: pydantic's misses are slow
    if callable(to_payload):
        result = to_payload(usage)  # (read again: a TokenUsage(10.0, ...) is 10, not 10.0)
        return _usage_of(result) if isinstance(result, dict) else None
    if not (
        usage.__class__ is dict
        or isinstance(usage, Mapping)
        or hasattr(type(usage), "model_fields")  # pydantic v2: fields read in place
        or dataclasses.is_dataclass(usage)
    ):
        usage = to_plain(usage)  # anything else with a model_dump
        if not isinstance(usage, Mapping):
            return None
    return _usage_of(usage)


def _usage_of(usage: Any) -> dict[str, Count]:
    """The six counters from a mapping or an object with the fields as attributes."""
    input_tokens = _first(
        _count(_field(usage, "input_tokens")), _count(_field(usage, "prompt_tokens"))
    )
    output_tokens = _first(
        _count(_field(usage, "output_tokens")), _count(_field(usage, "completion_tokens"))
    )
    total = _count(_field(usage, "total_tokens"))
    return {
        "input_tokens": input_tokens,
        "cached_input_tokens": _first(
            _count(_field(usage, "cached_input_tokens")),
            _detail(usage, "input_tokens_details", "cached_tokens"),
            _detail(usage, "prompt_tokens_details", "cached_tokens"),
        ),
        "cache_write_input_tokens": _first(_count(_field(usage, "cache_write_input_tokens"))),
        "output_tokens": output_tokens,
        "reasoning_output_tokens": _first(
            _count(_field(usage, "reasoning_output_tokens")),
            _detail(usage, "output_tokens_details", "reasoning_tokens"),
            _detail(usage, "completion_tokens_details", "reasoning_tokens"),
        ),
        "total_tokens": (
            total if total is not None else _number(input_tokens) + _number(output_tokens)
        ),
    }
