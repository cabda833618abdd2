"""A thread's last request payload as text: where the items the next request resends lie in
it, so that request need not parse, depth-check nor serialise them again.

Each request resends the thread's whole history, so over a rollout of N requests the history's
items are parsed, checked for serde's nesting limit and serialised for the item memo
(``normalize.normalize_items``) about N²/2 times: for the 100-step benchmark loop (3.3 MB)
~10,000 items, a third of the replay. The next request usually starts with the very same bytes
up to the end of the last item this one sent. Those items are then the same values at the same
depth (a text that passed the check), and their normalised forms are the item memo's entries
for those bytes, as the memo would have found them; what is left to read is the text without
them: the envelope and the new items.

Only text laid out as ``orjson.dumps`` writes it is known: pretty with two-space indents (as
Codex's serde_json writes payload files; a top-level value may be compact, as Codex writes the
``tools`` it passes through) or compact. An item is where the dump of the parsed item says it
is, and a shortened text is used only when all of it is where the dump of what it parses to
says (no other whitespace, no top-level key given twice, numbers written as orjson writes
them), so that putting the known items back where they were gives the whole text's value.
Anything else is read whole, as before.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice
from typing import Any, Final

import orjson

_PRETTY: Final = orjson.OPT_INDENT_2
#: The threads whose last request text is kept, those that asked last: each text is about as
#: large as the item memo of its thread, and a rollout of many threads asking in turn would
#: keep them all (200 threads of 1 MB requests: 191 MB more). A thread asking again after
#: more others have is read whole, as a text laid out otherwise is.
KEPT_THREADS: Final = 8


class KnownText:
    """A request's text and where its first items lie: ``head`` is the offset just past the
    ``[`` of its ``input``, ``ends[i]`` just past item ``i``, whose memo key (its compact
    bytes) is ``blobs[i]``; ``pretty``: laid out with two-space indents; ``tail``: what
    followed the ``input`` array in the last text :func:`item_ends` read whole (the same
    bytes again need not be walked). Replay keeps the last one of the :data:`KEPT_THREADS`
    threads that asked last (schema 2)."""

    __slots__ = ("blobs", "ends", "head", "pretty", "tail", "text")

    def __init__(self, text: bytes, head: int, pretty: bool) -> None:
        self.text = text
        self.head = head
        self.pretty = pretty
        self.ends: list[int] = []
        self.blobs: list[bytes] = []
        self.tail: bytes | None = None


def shortened(text: bytes, known: KnownText) -> bytes | None:
    """``text`` without the items ``known`` holds, when it starts with the same bytes up to the
    end of the last of them and more items follow (else None). What it parses to is
    ``text``'s value with those items left out of ``input`` only if it is all where
    :func:`item_ends` finds it."""
    end = known.ends[-1]
    if len(text) <= end or text[end] != 0x2C or not text.startswith(memoryview(known.text)[:end]):
        return None
    return text[: known.head] + text[end + 1 :]


def item_ends(short: bytes, value: Any, known: KnownText) -> list[int] | None:
    """Where each item of ``value``'s ``input`` ends in ``text`` (the :func:`shortened` text
    it parsed to), in the whole text's offsets, when every byte of ``short`` is where a dump of
    ``value`` laid out as ``known``'s text puts it; else None. What follows the items is kept
    in ``known.tail``."""
    if value.__class__ is not dict or value.get("input").__class__ is not list:
        return None
    pretty = known.pretty
    ends: list[int] = []
    position: int | None = known.head
    for item in value["input"]:
        position = _item_at(short, position, item, pretty, first=not ends)
        if position is None:
            return None
        ends.append(position)
    close = b"\n  ]" if pretty else b"]"
    if position is None or not ends or not short.startswith(close, position):
        return None
    tail = known.tail
    if tail is None or len(short) - position != len(tail) or not short.endswith(tail):
        # not the last text's tail (a tail read once is the same keys and values again)
        rest = islice(value.items(), list(value).index("input") + 1, None)
        after = _entries(short, position + len(close), rest, pretty, first=False)
        end = b"\n}" if pretty else b"}"
        if after is None or after + len(end) != len(short) or not short.endswith(end):
            return None
        known.tail = short[position:]
    shift = known.ends[-1] + 1 - known.head  # the bytes left out: the items and a comma
    return [each + shift for each in ends]


def learn(
    text: bytes,
    value: Any,
    blobs: list[bytes | None],
    known: KnownText | None,
    ends: list[int] | None,
) -> KnownText | None:
    """Where ``text``'s ``input`` items lie, as far as they can be found (None when not even
    the first one can).

    Args:
        text: the request's whole text.
        value: what it parsed to (``input`` without the known items if ``known`` is given).
        blobs: the memo key of each item of ``value``'s ``input`` in order (None for one the
            memo does not keep: nothing is known from there on).
        known: what was known of the text's start, when it was used to shorten it (taken over:
            its lists grow in place).
        ends: with ``known``, where :func:`item_ends` found ``value``'s items.

    Returns:
        What the thread's next request may be read with.
    """
    if known is not None and ends is not None:
        known.text = text
        for end, blob in zip(ends, blobs, strict=True):
            if blob is None:
                break
            known.ends.append(end)
            known.blobs.append(blob)
        return known
    known = _head(text, value)
    if known is None:
        return None
    position: int | None = known.head
    for item, blob in zip(value["input"], blobs, strict=True):
        position = _item_at(text, position, item, known.pretty, first=not known.ends)
        if blob is None or position is None:
            break
        # whole only if a comma or the array's end follows (a number could go on)
        if text[position : position + 1] != b"," and not text.startswith(
            b"\n  ]" if known.pretty else b"]", position
        ):
            break
        known.ends.append(position)
        known.blobs.append(blob)
    return known if known.ends else None


def _item_at(text: bytes, position: int | None, item: Any, pretty: bool, first: bool) -> int | None:
    """The end of ``item``'s text when it is the next item of the array at ``position``."""
    if position is None:
        return None
    try:
        dumped = orjson.dumps(item, option=_PRETTY if pretty else None)
    except orjson.JSONEncodeError:
        return None
    if pretty:  # two levels down: every line of it indented by four more
        dumped = dumped.replace(b"\n", b"\n    ")
        lead = b"\n    " if first else b",\n    "
    else:
        lead = b"" if first else b","
    start = position + len(lead)
    if not (text.startswith(lead, position) and text.startswith(dumped, start)):
        return None
    return start + len(dumped)


def _entries(
    text: bytes, position: int | None, pairs: Iterable[tuple[str, Any]], pretty: bool, first: bool
) -> int | None:
    """The end of the top-level entries ``pairs`` when they come next at ``position``, each
    value pretty or compact (a value Codex passes through as it came)."""
    for key, value in pairs:
        if position is None:
            return None
        try:
            name = orjson.dumps(key)
            dumps = [orjson.dumps(value)]
            if pretty:
                dumps.insert(0, orjson.dumps(value, option=_PRETTY).replace(b"\n", b"\n  "))
        except orjson.JSONEncodeError:
            return None
        lead = (b"\n  " if first else b",\n  ") if pretty else (b"" if first else b",")
        entry = lead + name + (b": " if pretty else b":")
        first = False
        if not text.startswith(entry, position):
            return None
        start = position + len(entry)
        position = next((start + len(d) for d in dumps if text.startswith(d, start)), None)
    return position


def _head(text: bytes, value: Any) -> KnownText | None:
    """Where ``text``'s ``input`` array starts, when ``text`` starts as ``orjson.dumps`` of
    ``value``'s keys before it (pretty or compact) would write them."""
    if value.__class__ is not dict or value.get("input").__class__ is not list:
        return None
    before = list(islice(value.items(), list(value).index("input")))
    for pretty in (True, False):
        if not text.startswith(b"{"):
            return None
        position = _entries(text, 1, before, pretty, first=True)
        if position is None:
            continue
        lead = (b"\n  " if not before else b",\n  ") if pretty else (b"" if not before else b",")
        opening = lead + (b'"input": [' if pretty else b'"input":[')
        if text.startswith(opening, position):
            return KnownText(text, position + len(opening), pretty)
    return None
