"""Scanning helpers for :mod:`.redact`: finding markers, pausing for the GIL, checking JSON.

Kept apart so the redactor reads as rules and decisions; these are the mechanics.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Final

import orjson

from . import _redact_rules as rules

#: How much scanning (ns) runs between two pauses for the GIL.
PAUSE_NS: Final = 200_000


class Pause:
    """Lets other threads have the GIL every ~200 µs of scanning.

    ``bytes.find`` holds the GIL, and a thread waiting for it (the event loop's) gets it
    only when the holder blocks or after ``sys.getswitchinterval()`` (5 ms): without these
    pauses a loop waking up while a large payload is scanned waits ~5-10 ms. ``sleep(0)``
    releases the GIL for a moment (~2 µs per pause on an idle machine; under load it may also cost a wait for a core).
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last = time.perf_counter_ns()

    def __call__(self) -> None:
        now = time.perf_counter_ns()
        if now - self._last >= PAUSE_NS:
            time.sleep(0)
            self._last = time.perf_counter_ns()


def occurrences(hay: bytes, marker: bytes) -> Iterator[int]:
    """Every offset of ``marker`` in ``hay``. A marker with a rare byte (see
    ``rules.ANCHORS``) is found through a memchr scan for that byte, until the byte turns out
    not to be rare in this text."""
    anchor = rules.ANCHORS.get(marker)
    if anchor is not None:
        byte = marker[anchor : anchor + 1]
        seen = 0
        hit = hay.find(byte, anchor)
        while hit >= 0:
            seen += 1
            if seen > rules.ANCHOR_LIMIT:
                yield from finds(hay, marker, hit - anchor)
                return
            if hay.startswith(marker, hit - anchor):
                yield hit - anchor
            hit = hay.find(byte, hit + 1)
        return
    yield from finds(hay, marker, 0)


def finds(hay: bytes, marker: bytes, start: int = 0) -> Iterator[int]:
    at = hay.find(marker, start)
    while at >= 0:
        yield at
        at = hay.find(marker, at + 1)


def canonical(secret: bytes) -> bytes:
    """The secret as text: JSON escapes undone (up to four levels of nesting), so the copy
    inside an escaped string hashes like the plain one."""
    for _ in range(4):
        if b"\\" not in secret:
            break
        try:
            secret = json.loads(b'"' + secret + b'"').encode("utf-8", "surrogatepass")
        except (ValueError, UnicodeError):
            break
    return secret


def parses(doc: bytes) -> bool:
    try:
        orjson.loads(doc)
    except orjson.JSONDecodeError:
        try:  # orjson refuses integers past 64 bits, which JSON (and Codex) allow
            json.loads(doc)
        except ValueError:
            return False
    return True
