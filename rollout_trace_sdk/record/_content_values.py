"""Schema 3: large values stored once per distinct content, and the templates that cite them.

A *template* (v3.md §4) is a JSON array of text fragments with ``parts`` (references to
other payloads) spliced between them. The item store (``_item_store``) writes conversation
items, requests and prompts as templates; this module holds what it splices in: image data
URLs and very long strings cut out of items, and a request's large top-level values
(``tools``, instructions, which every request repeats), each a ``content_value`` payload
stored once per distinct content. A long string may be stored *lazily*: hashed cheaply on
the loop, escaped to JSON by the writer's worker thread.

Not locked: the item store calls it under its own lock.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import orjson

from ..model.events import PayloadKind, RawPayloadRef
from ..model.layout import right_sized
from ._deferred import LazyBody, hole_json, string_digest, string_sketch
from ._known_refs import KnownRefs, freeze, thaw

#: Serialises a value to compact JSON (the writer passes its lenient encoder, which never
#: raises on an odd value).
Dumps = Callable[[Any], bytes]
#: Stores one payload: (kind, body, template parts) -> its reference.
Put = Callable[[PayloadKind, "bytes | LazyBody", tuple[RawPayloadRef, ...]], RawPayloadRef]
#: The same, with the parts and the reference flat (``_known_refs.freeze``).
PutFrozen = Callable[
    [PayloadKind, "bytes | LazyBody", tuple[tuple[Any, ...], ...]], tuple[Any, ...]
]
#: A model item's body and a tool result's over it (its one part), both stored: the two
#: references, flat (the result's ``None`` when only the item was).
PutOutput = Callable[["bytes | LazyBody", bytes], tuple[tuple[Any, ...], tuple[Any, ...] | None]]

#: Strings at least this long become content values (stored once per distinct content).
CONTENT_VALUE_MIN_CHARS: Final = 64 * 1024
#: ``data:`` URLs (images) at least this long become content values.
DATA_URL_MIN_CHARS: Final = 64
#: Under ``max_payload_bytes``, an oversized item's strings from this length on are cut out
#: (and truncated on their own), so the item's structure survives the limit.
SPLIT_MIN_CHARS: Final = 256
#: Top-level request values this large (``tools``, instructions) are stored once.
SHARED_VALUE_MIN_BYTES: Final = 2048
#: Bytes of a SHA-256 digest kept as a content key.
DIGEST: Final = 16
#: With lazy strings, strings this long are escaped by the worker thread, not on the loop.
LAZY_MIN_CHARS: Final = CONTENT_VALUE_MIN_CHARS
#: Fields never cut out into a content value: both reducers read them as strings and refuse
#: a whole bundle where a cut one (a ``$trace_unavailable`` object) stands, so an item over
#: ``max_payload_bytes`` keeps them whole (a reasoning item's or a compaction's encrypted
#: state, an agent message's encrypted part).
_KEPT_WHOLE: Final = frozenset({"encrypted_content"})

# A string no caller sends: orjson writes it as "\u0000rt<hex>\u0000"; the fragments of a
# template are the serialised value split at those holes.
_TOKEN: Final = secrets.token_hex(8)
HOLE: Final = f"\x00rt{_TOKEN}\x00"
_HOLE_BYTES: Final = orjson.dumps(HOLE)
_HOLE_RE: Final = re.compile(re.escape(_HOLE_BYTES))
#: A content value that is one long string: the string itself fills the one hole.
_STRING_TEMPLATE: Final = hole_json(0)


def template_body(value: Any, parts: Sequence[RawPayloadRef], dumps: Dumps = orjson.dumps) -> bytes:
    """The template body of ``value`` whose holes (``HOLE`` strings, in serialisation
    order) are filled by ``parts``: a JSON array of ``len(parts) + 1`` strings."""
    text = dumps(value)
    fragments = _HOLE_RE.split(text)
    if len(fragments) != len(parts) + 1:  # a caller's string equal to the hole token
        raise ValueError("template hole count does not match its parts")
    return right_sized(orjson.dumps([f.decode() for f in fragments]))


class ContentValues:
    """``content_value`` payloads, one per distinct content."""

    __slots__ = (
        "_by_content",
        "_digests",
        "_dumps",
        "_lazy",
        "_long",
        "_long_more",
        "_put",
    )

    def __init__(self, put: Put, dumps: Dumps, *, lazy: bool) -> None:
        """
        Args:
            put: stores one payload and returns its reference.
            dumps: the JSON serialiser for values.
            lazy: ``put`` takes :class:`~._deferred.LazyBody` bodies (see ``ItemStore``).
        """
        self._put = put
        self._dumps = dumps
        self._lazy = lazy
        self._by_content = KnownRefs()
        #: long strings (lazy): sketch -> the first one's frozen reference (the others with
        #: that sketch, rare, in ``_long_more``), and payload id -> digest (set by the worker
        #: thread for the first ones): flat values the collector does not keep scanning
        self._long: dict[tuple[int, int, int], tuple[Any, ...]] = {}
        self._long_more: dict[tuple[int, int, int], list[tuple[Any, ...]]] = {}
        self._digests: dict[str, bytes] = {}

    def cut(self, value: Any, minimum: int, holes: list[RawPayloadRef]) -> Any:
        """``value`` with its large strings replaced by holes (their content values appended
        to ``holes`` in serialisation order); the caller's containers are never modified."""
        if value.__class__ is str:
            size = len(value)
            if size >= minimum or (size >= DATA_URL_MIN_CHARS and value.startswith("data:")):
                holes.append(self.value(value))
                return HOLE
            return value
        if isinstance(value, Mapping):
            before = len(holes)
            out = {
                k: v if k in _KEPT_WHOLE else self.cut(v, minimum, holes) for k, v in value.items()
            }
            return out if len(holes) != before else value
        if isinstance(value, list | tuple):
            before = len(holes)
            seq = [self.cut(v, minimum, holes) for v in value]
            return seq if len(holes) != before else value
        return value

    def value(self, value: Any) -> RawPayloadRef:
        """A ``content_value`` payload for ``value``, one per distinct content."""
        if self._lazy and value.__class__ is str and len(value) >= LAZY_MIN_CHARS:
            return self._string_ref(value)
        return self.of_bytes(self._dumps(value))

    def _string_ref(self, text: str) -> RawPayloadRef:
        """A long string's content value, one per distinct content, with its JSON written
        by the worker thread. New content is told cheaply: by its length and its first and
        last few KB (:func:`~._deferred.string_sketch`). Only a string that matches one
        already stored that way is digested here in full (a probable duplicate, which the
        digest then saves storing again); the stored one's digest is taken by the worker
        thread as it writes it. A duplicate that arrives before that is stored again."""
        sketch = string_sketch(text)
        first = self._long.get(sketch)
        digest = None
        if first is not None:
            digest = string_digest(text)
            digests = self._digests
            for frozen in (first, *self._long_more.get(sketch, ())):
                if digests.get(frozen[0]) == digest:
                    return thaw(frozen)
        body = LazyBody(_STRING_TEMPLATE, (text,), self._dumps)
        ref = self._put("content_value", body, ())
        if digest is None:  # the first with this sketch: the worker digests it
            body.digest_map = self._digests
            body.digest_key = ref.raw_payload_id
            self._long[sketch] = freeze(ref)
        else:
            self._digests[ref.raw_payload_id] = digest
            self._long_more.setdefault(sketch, []).append(freeze(ref))
        return ref

    def of_bytes(self, data: bytes) -> RawPayloadRef:
        """The content value whose body is ``data`` (serialised already)."""
        key = hashlib.sha256(data).digest()[:DIGEST]
        ref = self._by_content.get(key)
        if ref is None:
            ref = self._by_content.add(key, self._put("content_value", data, ()))
        return ref

    def shared(self, value: Any) -> RawPayloadRef | None:
        """A content value for a large top-level request value, else ``None``."""
        if value.__class__ is str:
            if len(value) < SHARED_VALUE_MIN_BYTES:
                return None
        elif not isinstance(value, list | tuple | dict):  # (a tuple of tools is an array)
            return None
        data = self._dumps(value)
        if len(data) < SHARED_VALUE_MIN_BYTES:
            return None
        return self.of_bytes(data)


def holds_long_string(value: Any, minimum: int, depth: int) -> bool:
    """Whether ``value`` holds, within ``depth`` levels, a string that becomes a content value
    (``minimum`` characters, or a ``data:`` URL): the cheap look before an item is
    serialised. An item's long text sits near its top (an output, a message's content
    parts); one deeper down is still found, by the serialised item's size."""
    kind = value.__class__
    if kind is str:
        size = len(value)
        return size >= minimum or (size >= DATA_URL_MIN_CHARS and value.startswith("data:"))
    if not depth:
        return False
    if kind is dict:
        values: Any = value.values()
    elif kind is list or kind is tuple:
        values = value
    else:
        return False
    for item in values:
        if item.__class__ is str:  # the string's own test, inline (no call per string)
            size = len(item)
            if size >= DATA_URL_MIN_CHARS and (size >= minimum or item.startswith("data:")):
                return True
        elif holds_long_string(item, minimum, depth - 1):
            return True
    return False
