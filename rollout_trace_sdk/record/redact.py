"""Secret redaction on serialised JSON bytes, before they reach the disk.

The writer serialises on the event loop and writes in a worker thread; redaction runs there,
on the bytes of each payload file and each chunk of log lines::

    redactor = Redactor(RedactionConfig())         # on by default
    data = redactor.redact(data)                   # one payload file (one JSON document)
    lines = redactor.redact(lines, lines=True)     # log lines (one JSON document per line)
    redactor.counts                                # {"sk_key": 2, "password": 1, ...}

Why it works on bytes, and how it stays cheap:

* **Off the event loop, and cheap on clean data.** The agent never waits for it. Clean data
  costs one Hyperscan pass over it (:class:`._redact_scan.GateScanner`, ~2 µs for a small
  payload, ~70 µs per 100 KB, the GIL released), which reports only the markers whose rule
  could match (see :mod:`._redact_rules`); only those run a pattern, anchored at the marker
  (:mod:`._redact_spans`), so no regular expression ever scans a whole payload. Running rules
  on large data, it lets go of the GIL every ~200 µs (see :class:`._redact_scan.Pause`), so a
  loop waking meanwhile waits well under 1 ms, not the 5 ms switch interval.
* **Deterministic placeholders.** A secret becomes ``[REDACTED:<kind>:<h>]`` where ``<h>`` is
  the first 8 hex digits of HMAC-SHA256(key, secret) and the key is random per
  :class:`Redactor` (one per bundle). The same secret gets the same placeholder everywhere in
  a bundle, so the reducer's content matching (a resent history item, a spawn message and the
  child's copy) still links what it linked before; placeholders from different bundles cannot
  be compared, and the hash cannot be reversed without the key, which is never stored. A
  secret is hashed in its decoded form, so the copy inside an escaped JSON string (tool
  arguments) gets the same placeholder as the plain one.
* **Valid JSON afterwards.** A placeholder holds no quote and no backslash, and every span the
  rules replace is made of whole escape sequences inside one JSON string. Whenever something
  was replaced, the result is parsed once; should a rule (or a user pattern or hook) ever have
  produced invalid JSON, that document is redacted value by value instead.
* **Idempotent.** Redacting redacted data changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, overload

import attrs
import orjson

from . import _redact_rules as rules
from . import _redact_scan as scan
from ._redact_spans import TOKEN, Span, header_at, name_at, resolve, token_at

__all__ = ["RedactionConfig", "Redactor"]

#: A custom detector: gets the bytes about to be written, returns ``(start, end, kind)`` spans.
RedactionHook = Callable[[bytes], Iterable[tuple[int, int, str]]]

_KIND_CHARS: Final = re.compile(r"[^a-z0-9_]+")
#: The count of texts the user's hook raised on (they are written without its spans).
HOOK_ERROR: Final = "hook_error"


def _kind_name(kind: str) -> str:
    cleaned = _KIND_CHARS.sub("_", kind.lower()).strip("_")[:40]
    return cleaned or "custom"


@attrs.frozen
class RedactionConfig:
    """How a recorder (or ``rollout-trace redact``) redacts.

    Args:
        enabled: ``False`` turns redaction off (the data is written as it is).
        extra_patterns: ``(kind, regex)`` pairs, run over the whole data with ``finditer``;
            a ``secret`` group, when present, is the part replaced, else the whole match.
            Patterns are bytes (``str`` patterns are encoded as UTF-8).
        hook: a callable given the bytes about to be written; it returns ``(start, end,
            kind)`` spans to replace. It runs in the writer's thread; an exception from it is
            counted (kind ``hook_error``) and ignored.
        keys: extra key or variable names whose values are secret (``"session"`` makes
            ``"user_session": "..."`` and ``SESSION=...`` redacted), matched like the
            built-in names: lowercase, without ``_-.``, as a suffix.
    """

    enabled: bool = True
    extra_patterns: Sequence[tuple[str, re.Pattern[bytes] | bytes | str]] = ()
    hook: RedactionHook | None = None
    keys: Sequence[str] = ()


class Redactor:
    """Replaces secrets in serialised JSON with deterministic placeholders.

    One instance serves one bundle and is used from one thread at a time (the writer's
    worker thread); :attr:`counts` may be read from any thread.

    Args:
        config: what to redact; the default redacts every built-in kind.
        key: the HMAC key for placeholders; random (32 bytes) when omitted.
    """

    def __init__(self, config: RedactionConfig | None = None, *, key: bytes | None = None) -> None:
        self.config = config if config is not None else RedactionConfig()
        self._key = key if key is not None else os.urandom(32)
        #: replacements made so far, by kind
        self.counts: dict[str, int] = {}
        self._patterns = [
            (_kind_name(kind), _compile(pattern)) for kind, pattern in self.config.extra_patterns
        ]
        suffixes = list(rules.NAME_SUFFIXES)
        markers = list(rules.NAME_MARKERS)
        for name in self.config.keys:
            norm = scan.normalise(name.encode())
            if norm:
                suffixes.append((norm.decode(), _kind_name(name)))
                markers.append(norm)
        suffixes.sort(key=lambda pair: -len(pair[0]))
        self._suffixes = [(s.encode(), kind) for s, kind in suffixes]
        self._name_markers = tuple(dict.fromkeys(markers))
        self._cache: dict[tuple[str, bytes], bytes] = {}
        names = [suffix for suffix, _ in self._suffixes]
        self._scanner = scan.GateScanner.create(self._name_markers, names)

    @property
    def enabled(self) -> bool:
        """Whether this redactor changes anything (``RedactionConfig.enabled``)."""
        return self.config.enabled

    # --- public -----------------------------------------------------------------------------

    @overload
    def redact(self, data: bytes, *, lines: bool = False) -> bytes: ...
    @overload
    def redact(self, data: bytearray, *, lines: bool = False) -> bytes | bytearray: ...
    def redact(self, data: bytes | bytearray, *, lines: bool = False) -> bytes | bytearray:
        """Return ``data`` with every secret replaced (``data`` itself when there is none).

        Args:
            data: UTF-8 JSON text: one document, or with ``lines=True`` newline-separated
                documents (a chunk of ``trace.jsonl``; a ``bytearray`` is fine).
            lines: whether ``data`` holds one document per line; a line that would not parse
                after redaction is redacted value by value instead of as text.

        Returns:
            The redacted bytes (``data`` itself when nothing was found); valid JSON
            wherever the input was. Never raises: should the
            rules fail on some input (a bug), the document is redacted value by value and
            the failure counted as ``redaction_error``.
        """
        if not self.config.enabled or not data:
            return data
        given = data
        counted = dict(self.counts)  # a failed pass's replacements are not written
        try:
            if (
                isinstance(given, bytearray)
                and self._scanner is not None
                and not self._patterns
                and self.config.hook is None
                and self._sites(given, None) is scan.NO_SITES
            ):
                return given  # a clean log chunk: not even a copy
            data = bytes(given)  # the writer's log chunks are bytearrays (a no-op for bytes)
            spans = self._find(data)
            out = self._apply(data, spans, lines) if spans else data
        except Exception:  # a bug here must not stop the writer: fall back, and say so
            self.counts = counted
            self._count("redaction_error")
            return self._fallback(bytes(given), lines)
        return given if out is data else out

    def clean(self, documents: Sequence[bytes]) -> bool:
        """Whether :meth:`redact` would leave every one of ``documents`` as it is, decided by
        one scan of them joined (a gate never matches less in the joined text: no gate is
        anchored, and a newline between documents is what their edges look like).

        Args:
            documents: JSON documents about to be written.

        Returns:
            ``True`` when none holds anything to redact; ``False`` when one does, or when
            unsure (user patterns, a hook, no Hyperscan).
        """
        if not self.config.enabled:
            return True
        if self._scanner is None or self._patterns or self.config.hook is not None:
            return False
        try:
            return self._scanner.sites(b"\n".join(documents)) is scan.NO_SITES
        except Exception:
            return False

    def _fallback(self, data: bytes, lines: bool) -> bytes:
        """Value by value, for each document that parses; what does not parse is written as
        it is (it is not JSON, so no rule could have read it either)."""
        docs = data.split(b"\n") if lines else [data]
        out = []
        for doc in docs:
            try:
                out.append(self._structural(doc, pretty=not lines) if doc.strip() else doc)
            except Exception:
                out.append(doc)
        return b"\n".join(out)

    def redact_text(self, text: str) -> str:
        """Redact one string value (as if it were a JSON string), for callers holding text.

        Args:
            text: the value.

        Returns:
            ``text`` with its secrets replaced (``text`` itself when it has none).
        """
        encoded = orjson.dumps(text)
        out = self.redact(encoded)
        if out is encoded:
            return text
        value = orjson.loads(out)
        return value if isinstance(value, str) else text

    # --- finding ----------------------------------------------------------------------------

    def _find(self, data: bytes) -> list[Span]:
        spans: list[Span] = []
        # Large data: let a waiting thread have the GIL now and then while rules run.
        pause = scan.Pause() if len(data) >= rules.ANCHOR_MIN_BYTES else None
        sites = self._sites(data, pause)
        for marker, offsets in sites.tokens:
            kind, pattern = rules.TOKEN_RULES[marker]
            for at in offsets:
                if pause is not None:
                    pause()
                token_at(data, at, kind, pattern, spans)
        seen: set[tuple[int, int]] = set()
        for marker, sites_of in sites.names:
            # a marker inside a value this marker's rules already took is part of that secret:
            # trying it again would scan the same value (quadratic on "token=token=...")
            taken = -1
            for at, header, name in sites_of:
                if at < taken:
                    continue
                if pause is not None:
                    pause()
                found = len(spans)
                if header:
                    header_at(data, marker, at, spans)
                if name:
                    name_at(data, at, seen, spans, self._name_kind)
                for span in spans[found:]:
                    taken = max(taken, span.end)
        for kind, pattern in self._patterns:
            for match in pattern.finditer(data):
                group = "secret" if "secret" in pattern.groupindex else 0
                start, end = match.span(group)
                if start < end:
                    spans.append(Span(start, end, kind, TOKEN, data[start:end]))
        if self.config.hook is not None:
            self._run_hook(data, spans)
        return spans

    def _sites(self, data: bytes | bytearray, pause: scan.Pause | None) -> scan.Sites:
        if self._scanner is not None:
            try:
                return self._scanner.sites(data)
            except Exception:  # Hyperscan failed us (memory?): the slow scan from now on
                self._scanner = None
                self._count("redaction_error")
        return scan.exhaustive_sites(bytes(data), self._name_markers, pause)

    def _name_kind(self, name: bytes) -> str | None:
        norm = scan.normalise(name)
        for suffix, kind in self._suffixes:
            if norm.endswith(suffix):
                return kind
        return None

    def _run_hook(self, data: bytes, out: list[Span]) -> None:
        assert self.config.hook is not None
        try:
            found = [(int(s), int(e), str(k)) for s, e, k in self.config.hook(data)]
        except Exception:  # a user's hook must not stop the writer
            self._count(HOOK_ERROR)
            return
        for start, end, kind in found:
            if 0 <= start < end <= len(data):
                out.append(Span(start, end, _kind_name(kind), TOKEN, data[start:end]))

    # --- replacing --------------------------------------------------------------------------

    def _apply(self, data: bytes, spans: list[Span], lines: bool) -> bytes:
        chosen = resolve(data, spans)
        if not chosen:
            return data
        if not lines:
            out = self._replace(data, chosen, 0)
            if scan.parses(out) or not scan.parses(data):
                self._tally(chosen)
                return out
            return self._structural(data, pretty=True)
        parts: list[bytes] = []
        done = 0
        for start, end, group in _line_units(data, chosen):
            parts.append(data[done:start])
            unit = data[start:end]
            out = self._replace(unit, group, start)
            if all(scan.parses(line) for line in out.split(b"\n") if line.strip()):
                self._tally(group)
            else:
                out = self._fix_lines(unit, group, start)
            parts.append(out)
            done = end
        parts.append(data[done:])
        return b"".join(parts)

    def _replace(self, data: bytes, chosen: list[Span], offset: int) -> bytes:
        """``data`` with the ``chosen`` spans replaced; not counted until the caller keeps it
        (:meth:`_tally`): a text that would not parse is redacted value by value instead."""
        parts: list[bytes] = []
        done = 0
        for span in chosen:
            parts.append(data[done : span.start - offset])
            parts.append(self._placeholder(span.kind, span.secret))
            done = span.end - offset
        parts.append(data[done:])
        return b"".join(parts)

    def _fix_lines(self, unit: bytes, chosen: list[Span], offset: int) -> bytes:
        """A unit whose redacted lines do not all parse: each line that parsed before is
        redacted value by value; one that never parsed gets its own spans, cut to the line."""
        out: list[bytes] = []
        at = offset
        for line in unit.split(b"\n"):
            end = at + len(line)
            if scan.parses(line):
                out.append(self._structural(line, pretty=False))
            else:
                mine = [
                    Span(max(s.start, at), min(s.end, end), s.kind, s.rank, s.secret)
                    for s in chosen
                    if s.start < end and s.end > at
                ]
                out.append(self._replace(line, mine, at))
                self._tally(mine)
            at = end + 1
        return b"\n".join(out)

    def _placeholder(self, kind: str, secret: bytes) -> bytes:
        cached = self._cache.get((kind, secret))
        if cached is None:
            digest = hmac.new(self._key, scan.canonical(secret), hashlib.sha256).hexdigest()[:8]
            cached = b"[REDACTED:%s:%s]" % (kind.encode(), digest.encode())
            if len(self._cache) < 4096:
                self._cache[(kind, secret)] = cached
        return cached

    def _count(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def _tally(self, written: list[Span]) -> None:
        """Count the placeholders of ``written``, once their text is kept."""
        for span in written:
            self._count(span.kind)

    def _structural(self, original: bytes, *, pretty: bool) -> bytes:
        """Redact a document value by value: every string (keys too) on its own, and the
        values of secret-named keys whole."""
        value = json.loads(original)
        cleaned = self._walk(value)
        if pretty:
            return json.dumps(cleaned, ensure_ascii=False, indent=2).encode()
        return json.dumps(cleaned, ensure_ascii=False, separators=(",", ":")).encode()

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            encoded = orjson.dumps(value)
            chosen = resolve(encoded, self._find(encoded))
            if not chosen:
                return value
            try:
                text = orjson.loads(self._replace(encoded, chosen, 0))
            except orjson.JSONDecodeError:
                text = None
            if isinstance(text, str):
                self._tally(chosen)
                return text
            self._count(chosen[0].kind)
            return self._placeholder(chosen[0].kind, value.encode()).decode()
        if isinstance(value, list):
            return [self._walk(item) for item in value]
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, item in value.items():
                kind = self._name_kind(key.encode())
                if kind is not None and isinstance(item, str) and _bare_secret(item):
                    self._count(kind)
                    out[self._walk(key)] = self._placeholder(kind, item.encode()).decode()
                else:
                    out[self._walk(key)] = self._walk(item)
            return out
        return value


def _bare_secret(value: str) -> bool:
    """A secret-named value the structural pass replaces (not one already redacted)."""
    return bool(value) and "[REDACTED:" not in value


def _line_units(data: bytes, chosen: list[Span]) -> Iterable[tuple[int, int, list[Span]]]:
    """Group spans by the lines they touch: ``(start, end, spans)`` with start/end on line
    boundaries (a span crossing a line break, from a user pattern, joins the lines)."""
    start = end = -1
    group: list[Span] = []
    for span in chosen:
        if group and span.start < end:
            group.append(span)
            end = max(end, _line_end(data, span.end))
            continue
        line_start = data.rfind(b"\n", 0, span.start) + 1
        if group and line_start < end:
            group.append(span)
            end = max(end, _line_end(data, span.end))
            continue
        if group:
            yield start, end, group
        start = line_start
        end = _line_end(data, span.end)
        group = [span]
    if group:
        yield start, end, group


def _line_end(data: bytes, at: int) -> int:
    end = data.find(b"\n", at)
    return len(data) if end < 0 else end


def _compile(pattern: re.Pattern[bytes] | bytes | str) -> re.Pattern[bytes]:
    if isinstance(pattern, re.Pattern):
        if not isinstance(pattern.pattern, bytes):
            return re.compile(pattern.pattern.encode(), pattern.flags & ~re.UNICODE)
        return pattern
    if isinstance(pattern, str):
        pattern = pattern.encode()
    return re.compile(pattern)


def payload_repair(
    cut_too_deep: Callable[[bytes], bytes], redactor: Redactor | None
) -> Callable[[bytes], bytes]:
    """What the worker thread applies to a schema-2 payload file before writing it: the depth
    cap, then redaction (``redactor`` is ``None`` in schema 3, whose shard sink redacts its
    bodies itself, and when nothing is redacted)."""
    if redactor is None:
        return cut_too_deep
    redact = redactor.redact

    def repair(data: bytes) -> bytes:
        return redact(cut_too_deep(data))

    return repair
