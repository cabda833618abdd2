"""Stored payloads' references, kept out of the garbage collector's way.

The item store remembers a reference for every item and content value it stored, for as long
as the recording runs, and the latest tool outputs for the next request. Kept as
:class:`~..model.events.RawPayloadRef` objects (attrs instances, always tracked), they would be
scanned by every full collection and make those more frequent as the recording grows. Kept as
one flat tuple of strings and numbers each (:func:`freeze`), they leave the collector's view
at its first look; :func:`thaw` makes the reference again on the rare hit.
"""

from __future__ import annotations

from typing import Any

from ..model.events import RawPayloadRef


class KnownRefs:
    """Stored payloads' references by content key, each kept frozen (:func:`freeze`). A
    capture (limits only) stays an object inside: its retained size is settled later."""

    __slots__ = ("_refs",)

    def __init__(self) -> None:
        self._refs: dict[bytes, tuple[Any, ...]] = {}

    def get(self, key: bytes) -> RawPayloadRef | None:
        fields = self._refs.get(key)
        return None if fields is None else thaw(fields)

    def add(self, key: bytes, ref: RawPayloadRef) -> RawPayloadRef:
        self._refs[key] = freeze(ref)
        return ref

    def frozen(self, key: bytes) -> tuple[Any, ...] | None:
        """The reference stored under ``key`` as kept (:func:`freeze`'s tuple), or None."""
        return self._refs.get(key)

    def add_frozen(self, key: bytes, fields: tuple[Any, ...]) -> None:
        """Keep a reference already frozen (the hot path makes them so, see ``RecordQueue``)."""
        self._refs[key] = fields


def freeze(ref: RawPayloadRef) -> tuple[Any, ...]:
    """``ref`` as one flat tuple (its fields and part count, then its parts', depth first):
    flat, so the collector untracks it at its first look (nested tuples take one look per
    level, and may be moved to the oldest generation meanwhile)."""
    out: list[Any] = []
    stack = [ref]
    while stack:
        node = stack.pop()
        out += (node.raw_payload_id, node.kind, node.path, node.shard, node.capture)
        out.append(len(node.parts))
        stack.extend(reversed(node.parts))
    return tuple(out)


def thaw(fields: tuple[Any, ...]) -> RawPayloadRef:
    """The reference :func:`freeze` made ``fields`` of."""
    return _thawed(fields, 0)[0]


def _thawed(fields: tuple[Any, ...], at: int) -> tuple[RawPayloadRef, int]:
    payload_id, kind, path, shard, capture, count = fields[at : at + 6]
    at += 6
    parts: list[RawPayloadRef] = []
    for _ in range(count):
        part, at = _thawed(fields, at)
        parts.append(part)
    return RawPayloadRef(payload_id, kind, path, shard, capture, tuple(parts)), at
