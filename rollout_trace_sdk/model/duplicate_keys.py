"""Keys given twice in a bundle's JSON. The JSON parsers here keep the last value; serde's
derived visitors refuse a known field met a second time (``duplicate field `seq```) and skip
unknown ones, so a line with a repeated key must not take the fast path. Found by a second
parse that keeps pairs, only when the cheap test (the line is not what its parsed value
encodes back to) fails."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import attrs
import orjson

from . import events as ev
from .serde_read import SUMMARY_CLASSES


def _repeats(data: bytes | str) -> list[tuple[str, bool]] | None:
    """Every repeated key, each with whether its object is the document's top level (objects
    close inner first, so the top level is the last one built); None if the text is not
    JSON a parser here can read."""
    found: list[tuple[str, int]] = []
    built = 0

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal built
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj:
                found.append((key, built))
            obj[key] = value
        built += 1
        return obj

    try:
        json.loads(data, object_pairs_hook=hook)
    except (ValueError, RecursionError):
        return None
    return [(key, index == built - 1) for key, index in found]


def may_repeat_keys(line: bytes, value: Any) -> bool:
    """Whether an event line parsed to ``value`` may hold a key twice. The cheap test: a
    line Codex or our writer wrote encodes back to itself; only another line is parsed again,
    keeping pairs."""
    try:
        encoded = orjson.dumps(value)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes: parse again
        return bool(_repeats(line))
    # compared in place: a stripped copy of a 100 MB line would hold 100 MB more
    if line.startswith(encoded) and not line[len(encoded) :].strip(b"\r\n"):
        return False
    return bool(_repeats(line))


def manifest_repeat(data: bytes) -> str | None:
    """The first field of the manifest's struct that ``manifest.json`` gives twice, if any
    (the manifest is small: always parsed again)."""
    known = {field.name for field in attrs.fields(ev.Manifest)}
    for key, top in _repeats(data) or ():
        if top and key in known:
            return key
    return None


@cache
def _nested_fields() -> frozenset[str]:
    """The keys of the structs an event payload nests (refs, kinds, captures, summaries,
    requesters): a key among these given twice in a nested object is refused too."""
    names = {"type", "server", "tool", "name", "runtime_cell_id"}
    names |= {"raw_payload_id", "kind", "path", "shard", "capture", "parts"}
    names |= {"status", "original_bytes", "retained_bytes"}
    for cls in SUMMARY_CLASSES.values():
        names |= {field.name for field in attrs.fields(cls)}
    return frozenset(names)


class _Pairs(list[tuple[str, Any]]):
    """An object as its members, in order, a key given twice kept twice."""


def payload_as_met(body: bytes, cls: type[Any]) -> tuple[str, Any] | None:
    """The first field an event payload of class ``cls`` gives twice that serde refuses (a
    field of the payload's struct, or of a struct nested in it), with the payload as serde
    has read it when it meets that key: members in document order, each repeated key's first
    value, nothing after (serde refuses the key as soon as it is read, before its value, so a
    wrong type in an earlier member is refused first, one in a later member or in the
    repeated value never). None if no key serde refuses is given twice."""
    from .structure import int_or_float  # structure imports this module

    try:
        document = json.loads(body, object_pairs_hook=_Pairs, parse_int=int_or_float)
    except (ValueError, RecursionError):
        return None
    known = {"type"} | {field.name for field in attrs.fields(cls)}
    nested = _nested_fields()
    found: list[str] = []

    def read(value: Any, fields: frozenset[str] | set[str]) -> Any:
        if isinstance(value, _Pairs):
            obj: dict[str, Any] = {}
            for key, item in value:
                if key in obj and key in fields:
                    found.append(key)
                    return obj
                obj[key] = read(item, nested)
                if found:
                    return obj
            return obj
        if isinstance(value, list):
            items = []
            for item in value:
                items.append(read(item, nested))
                if found:
                    break
            return items
        return value

    met = read(document, known)
    return (found[0], met) if found else None
