"""Stored payloads' references, kept out of the garbage collector's way.

The item store remembers a reference for every item and content value it stored, for as long
as the recording runs, and the latest tool outputs for the next request. Kept as
:class:`~..model.events.RawPayloadRef` objects (attrs instances, always tracked), they would be
scanned by every full collection and make those more frequent as the recording grows. Kept as
one flat tuple of strings and numbers each (:func:`freeze`), they leave the collector's view
at its first look; :func:`thaw` makes the reference again on the rare hit.

The dict that keeps them must leave it too. A dict holding only untracked values is not
tracked; a tuple is tracked until the collector first looks at it, and putting one into the
dict tracks the dict again: every full collection then walked all of its entries (two
referents each), a cost growing with the recording while the number of objects, which sets
how often full collections run, stayed the same (200,000 tool calls: 100,000 entries walked
~7 times per 50,000 calls). So a new reference waits in a small dict of its own until the
collector has looked at it, and only then joins the big one, which stays untracked.
"""

from __future__ import annotations

import gc
from typing import Any, Final

from ..model.events import RawPayloadRef

#: New references kept apart until the collector has looked at them (see the module docstring).
_YOUNG_MAX: Final = 1024
_is_tracked = gc.is_tracked


class KnownRefs:
    """Stored payloads' references by content key, each kept frozen (:func:`freeze`). A
    capture (limits only) stays an object inside: its retained size is settled later."""

    __slots__ = ("_refs", "_young")

    def __init__(self) -> None:
        #: references the collector no longer tracks: the dict is not tracked either
        self._refs: dict[bytes, tuple[Any, ...]] = {}
        #: the latest references, some of them still tracked
        self._young: dict[bytes, tuple[Any, ...]] = {}

    def get(self, key: bytes) -> RawPayloadRef | None:
        fields = self.frozen(key)
        return None if fields is None else thaw(fields)

    def add(self, key: bytes, ref: RawPayloadRef) -> RawPayloadRef:
        self.add_frozen(key, freeze(ref))
        return ref

    def frozen(self, key: bytes) -> tuple[Any, ...] | None:
        """The reference stored under ``key`` as kept (:func:`freeze`'s tuple), or None."""
        fields = self._refs.get(key)
        return self._young.get(key) if fields is None else fields

    def add_frozen(self, key: bytes, fields: tuple[Any, ...]) -> None:
        """Keep a reference already frozen (the hot path makes them so, see ``RecordQueue``)."""
        young = self._young
        young[key] = fields
        if len(young) >= _YOUNG_MAX:
            self._settle()

    def _settle(self) -> None:
        """Move the young references the collector untracked to the big dict. When most are
        still tracked (collection disabled, or a capture object inside), all of them move:
        the young dict must stay small, and the big one is then tracked as it always was."""
        young = self._young
        still = {key: fields for key, fields in young.items() if _is_tracked(fields)}
        if len(still) * 2 > len(young):
            still = {}
        refs = self._refs
        for key, fields in young.items():
            if key not in still:
                refs[key] = fields
        self._young = still


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
