"""Scanning helpers for :mod:`.redact`: finding markers, pausing for the GIL, checking JSON.

Kept apart so the redactor reads as rules and decisions; these are the mechanics.

Markers are found by :class:`GateScanner`: one Hyperscan pass over the data for every gate of
:mod:`._redact_rules` at once (~0.3-0.6 ns a byte here, with the GIL released), which
reports only markers whose rule could match there. Clean data usually has no such marker, so
redacting it costs that one pass and nothing in Python. :func:`exhaustive_sites` is the
same answer the slow way (every marker occurrence, one ``bytes.find`` pass per marker): it
serves when Hyperscan cannot be imported, and the tests check the two agree.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Final

import orjson

from . import _redact_rules as rules

try:
    import hyperscan
except ImportError:  # pragma: no cover - a core dependency; kept working without it
    hyperscan = None  # type: ignore[assignment]

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


#: Where rules may apply, in the order the redactor must try them: ``tokens`` lists each token
#: marker with its offsets; ``names`` each keyword marker with ``(offset, header, name)``:
#: whether its header rule (``Authorization``, ``Cookie``, PEM block) and its name rule may
#: apply there. The order matters: spans found first win ties, and a name is read once.
class Sites:
    __slots__ = ("names", "tokens")

    def __init__(
        self,
        tokens: list[tuple[bytes, list[int]]],
        names: list[tuple[bytes, list[tuple[int, bool, bool]]]],
    ) -> None:
        self.tokens = tokens
        self.names = names


NO_SITES: Final = Sites([], [])


def exhaustive_sites(data: bytes, name_markers: Sequence[bytes], pause: Pause | None) -> Sites:
    """Every marker occurrence (the reference the gates must agree with)."""
    big = len(data) >= rules.ANCHOR_MIN_BYTES
    find_all = occurrences if big else finds
    tokens = []
    for marker in rules.TOKEN_RULES:
        if pause is not None:
            pause()
        tokens.append((marker, list(find_all(data, marker))))
    low = data.lower()
    names = []
    for marker in name_markers:
        if pause is not None:
            pause()
        names.append((marker, [(at, True, True) for at in find_all(low, marker)]))
    return Sites(tokens, names)


_TOKEN, _HEADER, _NAME = 0, 1, 2


#: compiled databases by keyword markers and suffixes (read-only: threads share them)
_DATABASES: dict[tuple[tuple[bytes, ...], tuple[bytes, ...]], hyperscan.Database] = {}
_COMPILING = threading.Lock()


def _fresh_lock_in_child() -> None:
    """A fork while a parent's thread compiled a database copied the lock held, with no
    thread left to release it: a rollout the child opened then hung for good (found by
    review). The child gets a free one (and compiles again if it needs to)."""
    global _COMPILING
    _COMPILING = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_lock_in_child)


def _collect(gate: int, _start: int, end: int, _flags: int, hits: object) -> None:
    hits.append((gate, end))  # type: ignore[attr-defined]  # the list given as context


class GateScanner:
    """One Hyperscan database for every gate, and a scratch space for one thread.

    Compiling takes ~0.1 s, so it is done once per set of keyword markers and suffixes (the
    built-in ones plus :attr:`RedactionConfig.keys`), on first use, by whichever thread needs
    it first (the GIL is released meanwhile).

    Args:
        name_markers: the keyword markers, built-in and configured (lowercase).
        suffixes: the normalised name endings that make a name secret.
    """

    def __init__(self, name_markers: Sequence[bytes], suffixes: Sequence[bytes]) -> None:
        self._name_markers = tuple(name_markers)
        self._suffixes = tuple(suffixes)
        # gate id -> (kind, marker); kind _TOKEN / _HEADER / _NAME
        self._gates: list[tuple[int, bytes]] = []
        for marker in rules.TOKEN_RULES:
            self._gates.append((_TOKEN, marker))
        for marker in rules.HEADER_GATES:
            self._gates.append((_HEADER, marker))
        for marker in self._name_markers:
            self._gates.append((_NAME, marker))
        self._database: hyperscan.Database | None = None
        self._scratch: hyperscan.Scratch | None = None

    @classmethod
    def create(cls, name_markers: Sequence[bytes], suffixes: Sequence[bytes]) -> GateScanner | None:
        """A scanner, or ``None`` without Hyperscan (then :func:`exhaustive_sites` serves)."""
        return cls(name_markers, suffixes) if hyperscan is not None else None

    def _prepare(self) -> None:
        assert hyperscan is not None
        key = (self._name_markers, self._suffixes)
        with _COMPILING:
            database = _DATABASES.get(key)
            if database is None:
                database = _DATABASES[key] = self._compile()
        self._scratch = hyperscan.Scratch(database)  # one per thread: a scan writes to it
        self._database = database

    def _compile(self) -> hyperscan.Database:
        assert hyperscan is not None
        expressions: list[bytes] = []
        flags: list[int] = []
        for kind, marker in self._gates:
            if kind == _TOKEN:
                expressions.append(_literal(marker) + rules.TOKEN_GATES[marker])
                flags.append(0)
            elif kind == _HEADER:
                before, after = rules.HEADER_GATES[marker]
                expressions.append(_literal(before + marker + after))
                flags.append(hyperscan.HS_FLAG_CASELESS)
            else:
                expressions.append(self._name_gate(marker))
                flags.append(hyperscan.HS_FLAG_CASELESS)
        database = hyperscan.Database()
        database.compile(
            expressions=expressions,
            ids=list(range(len(expressions))),
            elements=len(expressions),
            flags=flags,
        )
        return database

    def _name_gate(self, marker: bytes) -> bytes:
        """A keyword marker whose name may end like a secret name. Either the name ends
        with the marker (and separators): then a suffix ends with the marker (``api`` and
        ``key``) or the marker with a suffix; or the name goes on: then its last letter is
        some suffix's last letter. Separators (``_-.``) may sit between any two letters."""
        sep = rules.NAME_GATE_SEPARATORS
        before = {b"" for s in self._suffixes if marker.endswith(s)}
        for s in self._suffixes:
            if s.endswith(marker) and len(s) > len(marker):
                before.add(
                    b"".join(_literal(s[i : i + 1]) + sep for i in range(len(s) - len(marker)))
                )
        lasts = b"".join(sorted({_literal(s[-1:]) for s in self._suffixes}))
        ends = [_literal(marker) + rules.NAME_GATE_CHARS + b"*[" + lasts + b"]"]
        if before:
            ends.append(b"(?:" + b"|".join(sorted(before)) + b")" + _literal(marker))
        return b"(?:" + b"|".join(ends) + b")" + sep + rules.NAME_GATE_AFTER

    def sites(self, data: bytes | bytearray) -> Sites:
        """Where rules may apply in ``data`` (:data:`NO_SITES` for clean data)."""
        if self._database is None:
            self._prepare()
        assert self._database is not None
        hits: list[tuple[int, int]] = []
        buffer: bytes = data  # type: ignore[assignment]  # any buffer will do (a bytearray)
        self._database.scan(
            buffer, match_event_handler=_collect, context=hits, scratch=self._scratch
        )
        if not hits:
            return NO_SITES
        token: dict[bytes, set[int]] = {}
        header: dict[bytes, set[int]] = {}
        windows: list[tuple[int, int]] = []
        for gate, end in hits:
            kind, marker = self._gates[gate]
            if kind == _TOKEN:
                found = token.setdefault(marker, set())
                at = data.find(marker, max(0, end - rules.TOKEN_GATE_SPAN), end)
                while at >= 0:
                    found.add(at)
                    at = data.find(marker, at + 1, end)
            elif kind == _HEADER:
                after = len(rules.HEADER_GATES[marker][1])
                header.setdefault(marker, set()).add(end - after - len(marker))
            else:
                stop = _name_end(data, end - 1)
                start = max(0, stop - 2 * rules.NAME_GATE_REACH)
                # a name is secret by its ending: `max_tokens =` needs no window at all
                if normalise(data[start:stop]).endswith(self._suffixes):
                    windows.append((start, stop))
        name = _in_windows(data, self._name_markers, windows)
        tokens = [(m, sorted(token[m])) for m in rules.TOKEN_RULES if m in token]
        names = []
        for marker in self._name_markers:
            heads = header.get(marker, set())
            named = name.get(marker, set())
            if heads or named:
                names.append(
                    (marker, [(at, at in heads, at in named) for at in sorted(heads | named)])
                )
        return Sites(tokens, names)


def normalise(name: bytes | bytearray) -> bytes:
    """A name as the suffixes are written: lowercase, without ``_-. ``."""
    return bytes(name).lower().translate(None, b"_-. ")


def _literal(text: bytes) -> bytes:
    return b"".join(b"\\x%02x" % byte for byte in text)


def _name_end(data: bytes | bytearray, at: int) -> int:
    """Where the name before a name gate's ``:``/``=`` at ``at`` ends: back over blanks, a
    quote and the backslashes escaping it (the name itself is made of none of these)."""
    while at > 0 and data[at - 1] in b" \t\"'\\":
        at -= 1
    return at


def _in_windows(
    data: bytes | bytearray, markers: Sequence[bytes], windows: list[tuple[int, int]]
) -> dict[bytes, set[int]]:
    """Every keyword marker inside the windows. A window runs from two reaches before a
    name's end to its end: the name's markers and every other marker whose name could start
    where this one does (the redactor reads a name once, at the first marker naming it)."""
    found: dict[bytes, set[int]] = {}
    for lo, hi in _merged(windows):
        low = data[lo:hi].lower()
        for marker in markers:
            at = low.find(marker)
            while at >= 0:
                found.setdefault(marker, set()).add(lo + at)
                at = low.find(marker, at + 1)
    return found


def _merged(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(windows):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out
