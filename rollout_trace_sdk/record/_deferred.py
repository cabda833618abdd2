"""Large strings of a payload are escaped in the writer's worker thread, not on the event loop
(and a body's depth check is done there too: see :class:`LazyBody`'s ``repair``).

A recording call must snapshot its value before it returns (the caller may change its dicts
right after), and serialising a 100 MB tool output takes the loop ~0.3 s. Strings cannot
change, though: only the containers around them can. So a payload dict whose top-level values
include very long strings (:data:`BIG_STRING` characters or more) is serialised on the loop
*without* them, each replaced by a hole (a string no caller sends: a NUL, a per-process
nonce, a number, a NUL), and the strings themselves are kept by reference. The worker thread
escapes them (``orjson`` on slices of :data:`SLICE` characters, letting go of the GIL
between slices so the loop never waits long for it) and splices them into the holes
(:meth:`LazyBody.render`). The bytes are the ones ``orjson`` would have written for the
whole value: a JSON string is the concatenation of its slices' escapes.

Only top-level values are looked at (one C-speed pass over the dict's values: a tool output
``{"type": ..., "call_id": ..., "output": <text>}`` is the common large payload), and
only when the bundle has no size limits (the limits' decisions need exact sizes at once).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import orjson

#: Top-level strings this long (characters) are escaped in the worker thread (a 100 KB
#: command output costs the loop ~50 µs to escape; taking it out and back costs ~2 µs).
BIG_STRING: Final = 64 << 10
#: The worker escapes this many characters at a time, then yields the GIL.
SLICE: Final = 256 << 10
_NONCE: Final = secrets.token_hex(8)


def _hole(index: int) -> str:
    return f"\x00rtbig{_NONCE}:{index}\x00"


def hole_json(index: int) -> bytes:
    """The JSON text of hole ``index``: a template that is this alone renders as string
    ``index`` of a :class:`LazyBody` (a body that is one long string)."""
    return orjson.dumps(_hole(index))


class LazyBody:
    """A payload body whose long strings are still to be escaped (in the worker thread).

    ``len()`` is an estimate (the template's bytes plus the strings' characters) for the
    queue's byte budget; :meth:`render` gives the exact bytes."""

    __slots__ = (
        "_fallback",
        "_repair",
        "_size",
        "_strings",
        "_template",
        "digest_key",
        "digest_map",
    )

    def __init__(
        self,
        template: bytes,
        strings: Sequence[str],
        fallback: Callable[[Any], bytes],
        repair: Callable[[bytes], bytes] | None = None,
    ) -> None:
        """
        Args:
            template: the body's text with a hole for each long string.
            strings: the long strings, in hole order.
            fallback: serialises a slice ``orjson`` refuses (a lone surrogate).
            repair: what the worker does to the rendered bytes last (the depth check a
                body's text still needs, see ``_values.ValueEncoder.compact_body``).
        """
        self._template = template
        self._repair = repair
        # a tuple of strings, which the collector stops tracking (the body may wait in the
        # queue long enough to reach the oldest generation); ``fallback`` is the writer's
        # own long-lived function, not a new bound method per body
        self._strings = tuple(strings)
        self._fallback = fallback
        self._size = len(template) + sum(len(s) for s in strings)
        #: when set, :meth:`render` puts the first string's :func:`string_digest` in
        #: ``digest_map[digest_key]`` (the item store learns a stored string's digest off
        #: the loop)
        self.digest_map: dict[str, bytes] | None = None
        self.digest_key = ""

    def __len__(self) -> int:
        return self._size

    def render(self) -> bytes:
        """The body's bytes: each hole replaced by its string, escaped in slices."""
        out: list[bytes] = []
        template = self._template
        done = 0
        for index, text in enumerate(self._strings):
            hole = hole_json(index)
            at = template.find(hole, done)
            if at < 0:  # cannot happen: the hole was serialised into the template
                continue
            out.append(template[done:at])
            out.append(self._escape(text))
            done = at + len(hole)
        out.append(template[done:])
        if self.digest_map is not None and self._strings:
            self.digest_map[self.digest_key] = string_digest(self._strings[0])
        body = b"".join(out) if len(out) > 1 else template
        return body if self._repair is None else self._repair(body)

    def _escape(self, text: str) -> bytes:
        parts = [b'"']
        for start in range(0, len(text), SLICE):
            piece = text[start : start + SLICE]
            try:
                parts.append(orjson.dumps(piece)[1:-1])
            except TypeError:  # a lone surrogate: the lenient encoder's rules (and count)
                parts.append(self._fallback(piece)[1:-1])
            time.sleep(0)  # let the loop's thread have the GIL between slices
        parts.append(b'"')
        return b"".join(parts)


def string_digest(text: str) -> bytes:
    """What tells a long string's content: the SHA-256 of its UTF-8 (lone surrogates as
    they are), cut to 16 bytes. hashlib lets go of the GIL while it hashes."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:16]


#: How much of a long string's start and end :func:`string_sketch` looks at (characters).
SKETCH_CHARS: Final = 4096


def string_sketch(text: str) -> tuple[int, int, int]:
    """A cheap key that equal strings share and different ones rarely do: the length and
    the hashes of the first and last :data:`SKETCH_CHARS` characters. Equal sketches only say
    "maybe equal": :func:`string_digest` decides. Python's own string hash, not hashlib: it
    keeps the GIL (hashlib lets go of it for 2 KB or more, and on a busy process the loop's
    thread may then wait for the writer thread's next switch to get it back)."""
    return len(text), hash(text[:SKETCH_CHARS]), hash(text[-SKETCH_CHARS:])


def defer_big_strings(value: Any, dumps: Callable[[Any], bytes]) -> LazyBody | None:
    """A :class:`LazyBody` for ``value`` when it is a dict holding a string of
    :data:`BIG_STRING` characters or more as a value, or as a value of a dict value (a tool
    result's ``{"response_item": {"output": ...}}``); ``None`` otherwise (serialise it now).

    Args:
        value: the payload value.
        dumps: serialises the rest (the writer's lenient encoder, compact or pretty); also
            the fallback for a slice ``orjson`` refuses.
    """
    if value.__class__ is not dict or not _holds_big(value, 1):
        return None
    strings: list[str] = []
    return LazyBody(dumps(_with_holes(value, 1, strings)), strings, dumps)


def _holds_big(value: dict[Any, Any], depth: int) -> bool:
    for item in value.values():
        kind = item.__class__
        if kind is str:
            if len(item) >= BIG_STRING:
                return True
        elif kind is dict and depth and _holds_big(item, depth - 1):
            return True
    return False


def _with_holes(value: dict[Any, Any], depth: int, strings: list[str]) -> dict[Any, Any]:
    """A copy of the dicts on the way to the long strings (the rest is shared: it is
    serialised right away), each long string replaced by a hole."""
    copy = dict(value)
    for key, item in value.items():
        kind = item.__class__
        if kind is str and len(item) >= BIG_STRING:
            copy[key] = _hole(len(strings))
            strings.append(item)
        elif kind is dict and depth and _holds_big(item, depth - 1):
            copy[key] = _with_holes(item, depth - 1, strings)
    return copy


def render(body: bytes | LazyBody) -> bytes:
    """``body``'s bytes (rendering a :class:`LazyBody`; in the worker thread)."""
    return body if isinstance(body, bytes) else body.render()
