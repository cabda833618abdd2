"""Schema-3 payload storage: zstd shards of records, templates spliced from parts.

A schema-3 reference names a shard (``payloads/000001.zst``) instead of a file. A shard is
opened the first time a handler needs one of its payloads (registering a reference opens
nothing, as in Codex), decompressed once into an index of record offsets, and its bytes are
kept only in a small least-recently-used cache: memory follows the reduced state, not the
bundle, and a bundle whose shards are read in order decompresses each one once.

All of Codex 0.171's texts for broken shards live here: ``open shard``, ``decompress shard``,
``duplicate payload``, ``partial record in sealed shard``, ``missing footer in payload shard``,
``missing payload <id> in shard <n>``, ``invalid payload fragment count``.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any, Final

import attrs
import orjson
import zstandard

from ..model import layout
from ..model import serde_errors as serde
from ..model.events import RawPayloadRef
from ..model.json_check import surely_ignorable
from . import errors as words
from .confined import os_error_text
from .errors import MissingPayload, ReduceError

# the frames' level, re-exported where callers have always found it
from .shard_frames import BOMB_FLOOR_BYTES as BOMB_FLOOR_BYTES
from .shard_frames import BOMB_RATIO as BOMB_RATIO
from .shard_frames import ShardBomb as ShardBomb
from .shard_frames import decompress_shard as decompress_shard
from .shard_frames import shard_sealed as shard_sealed

#: Decompressed bytes kept across shards (the most recent shard is always kept). Events read
#: payloads in writing order, but each prompt template names items stored in older shards,
#: from the oldest on: once the parts (below) are full, every prompt read again each shard
#: holding its uncached items, and a cache of one Codex shard (8 MiB) made that a
#: decompression of most shards per prompt. A recording killed after 100 s of the soak's agent
#: (161 MB, 113 shards) reduced in 93 s with 8 MiB, 39 s with 64 MiB (peak RSS +7%), 34 s with
#: 128 MiB; 61 MB: 30 s -> 14.5 s (Codex 0.171: 114 s).
CACHE_BYTES: Final = 64 * 1024 * 1024
#: Texts of template parts kept once read. A prompt template names every item of the history
#: so far, most of them stored in older shards: without these, each prompt decompressed those
#: shards again (schema 3's `demo --scale 400`: ~4,000 decompressions of 8 MB shards). Parts
#: are the conversation items, each stored once, a small share of a bundle's bytes.
PART_CACHE_BYTES: Final = 32 * 1024 * 1024
_HEADER: Final = layout.SHARD_RECORD_HEADER
_ZSTD_PREFIX: Final = "zstd decompressor error: "


class MissingShardPayload(MissingPayload):
    """A payload is not in its shard (or the shard file is absent): lenient replay skips the
    event that needed it."""


def _missing_text(payload_id: str, shard: int) -> str:
    return f"missing payload {payload_id} in shard {shard}"


def _open_text(shown: str) -> str:
    return f"open shard {shown}"


_MISSING_NOTE: Final = re.compile(r"\bmissing payload raw_payload:\d+ in shard (\d+)\b")
_OPEN_NOTE: Final = re.compile(r"\bopen shard .*?([^/\s]+\.zst)\b")


def shard_of_note(note: str) -> int | None:
    """The shard a lenient reduction's note says a payload was missing from (the texts
    above: ``missing payload ... in shard N``, or ``open shard PATH`` for a shard file
    that is not there), else ``None``: ``view --serve`` holds such a note back while the
    writer may still be writing that shard."""
    found = _MISSING_NOTE.search(note)
    if found:
        return int(found.group(1))
    found = _OPEN_NOTE.search(note)
    return layout.shard_number(found.group(1)) if found else None


#: Reads a bundle-relative file: the bundle passes its confined reader (``confined.BundleFiles``,
#: raising ``ReduceError`` in Codex's words), so shards follow the rules of every other read.
#: An ``OSError`` (a plain reader) is worded here.
FileReader = Callable[[str], bytes]


@attrs.define(slots=True)
class _Shard:
    number: int
    #: the stream ended with a complete zstd frame
    sealed: bool
    #: payload id -> (offset, length) of its body in the decompressed data
    records: dict[str, tuple[int, int]]
    #: a trailing record cut short
    partial_tail: bool


def _index(number: int, data: bytes, sealed: bool) -> _Shard:
    records: dict[str, tuple[int, int]] = {}
    offset = 0
    size = len(data)
    partial = False
    while offset < size:
        if offset + _HEADER.size > size:
            partial = True
            break
        id_len, body_len = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        body_start = start + id_len
        end = body_start + body_len
        if end > size:
            partial = True
            break
        try:
            payload_id = data[start:body_start].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ReduceError(_utf8_text(exc)) from None
        if payload_id in records:
            raise ReduceError(f"duplicate payload {payload_id} in shard {number}")
        records[payload_id] = (body_start, body_len)
        offset = end
    if partial and sealed:
        raise ReduceError(f"partial record in sealed shard {number}")
    return _Shard(number, sealed, records, partial)


def _utf8_text(exc: UnicodeDecodeError) -> str:
    """Rust's ``Utf8Error`` wording."""
    if exc.reason == "unexpected end of data":
        return f"incomplete utf-8 byte sequence from index {exc.start}"
    width = exc.end - exc.start
    return f"invalid utf-8 sequence of {width} bytes from index {exc.start}"


class ShardReader:
    """The payloads of one schema-3 bundle."""

    def __init__(
        self, display: str, read_file: FileReader, *, floor: int = BOMB_FLOOR_BYTES
    ) -> None:
        self._display = display
        #: what a shard may decompress to at least, and a payload's spliced text at most
        self._floor = floor
        self._read_file = read_file
        self._shards: dict[int, _Shard] = {}
        #: the compressed size each unsealed shard had when indexed (see :meth:`_grown`)
        self._unsealed_sizes: dict[int, int] = {}
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._cached_bytes = 0
        self._checked: set[str] = set()
        #: shards that could not be read or decompressed, and why
        self._failed: dict[int, tuple[str, str | None, str | None]] = {}
        self._parts: dict[tuple[str, int | None], bytes] = {}
        self._part_bytes = 0

    # --- shards ------------------------------------------------------------------------------

    def _shown(self, shard: int) -> str:
        return f"{self._display}/{layout.shard_path(shard)}"

    def _load(self, number: int) -> tuple[_Shard, bytes]:
        """The shard's index and decompressed bytes (from the cache when still there)."""
        data = self._cache.get(number)
        shard = self._shards.get(number)
        if data is not None and shard is not None:
            self._cache.move_to_end(number)
            return shard, data
        failed = self._failed.get(number)
        if failed is not None:
            # the same error again, not the same work (validate asks for every payload)
            message, cause, file = failed
            raise ReduceError(message, cause=cause, file=file)
        try:
            return self._read(number, shard)
        except ReduceError as exc:
            if not isinstance(exc, MissingPayload):
                self._failed[number] = (exc.message, exc.cause, exc.file)
            raise

    def _read(self, number: int, shard: _Shard | None) -> tuple[_Shard, bytes]:
        shown = self._shown(number)
        try:
            raw = self._read_file(layout.shard_path(number))
        except OSError as exc:  # a plain reader (tests); the bundle's raises ReduceError
            error = MissingShardPayload if isinstance(exc, FileNotFoundError) else ReduceError
            raise error(_open_text(shown), cause=os_error_text(exc), file=shown) from None
        try:
            data, sealed = decompress_shard(raw, self._floor)
        except zstandard.ZstdError as exc:
            text = str(exc)
            cause = text[len(_ZSTD_PREFIX) :] if text.startswith(_ZSTD_PREFIX) else text
            raise ReduceError(f"decompress shard {shown}", cause=cause, file=shown) from None
        except ShardBomb as exc:
            raise ReduceError(f"decompress shard {shown}", cause=str(exc), file=shown) from None
        size = len(raw)
        del raw
        if shard is None:
            try:
                shard = _index(number, data, sealed)
            except ReduceError as exc:
                exc.file = shown
                raise
            self._shards[number] = shard
            if not sealed:
                self._unsealed_sizes[number] = size
        self._remember(number, data)
        return shard, data

    def _remember(self, number: int, data: bytes) -> None:
        self._cache[number] = data
        self._cached_bytes += len(data)
        while self._cached_bytes > CACHE_BYTES and len(self._cache) > 1:
            _, dropped = self._cache.popitem(last=False)
            self._cached_bytes -= len(dropped)

    def release(self) -> None:
        """Drop the decompressed shards and parts kept (the bundle was closed). The reader and
        its bundle refer to each other, so they outlive a reduction until a full garbage
        collection: a process reducing bundle after bundle (an export's worker) held up to
        ~96 MiB more per bundle reduced since the last one (8 reductions of a 61 MB bundle:
        peak RSS 677 MB, 225 MB with this). A later read decompresses again."""
        self._cache.clear()
        self._cached_bytes = 0
        self._parts.clear()
        self._part_bytes = 0

    def forget_unsealed(self) -> None:
        """Read every shard that was open (unsealed) when indexed afresh at its next use, and
        every shard that failed again: a reader kept between readings of a bundle being
        recorded (``incremental.Replay``) must see the records and the footer the writer
        added since. A sealed shard never changes, and stays."""
        for number in [n for n, shard in self._shards.items() if not shard.sealed]:
            del self._shards[number]
            self._unsealed_sizes.pop(number, None)
            dropped = self._cache.pop(number, None)
            self._cached_bytes -= len(dropped) if dropped is not None else 0
        self._failed.clear()

    def _grown(self, number: int) -> bool:
        """Whether an unsealed shard has grown since it was indexed; if so, its index and bytes
        are dropped, to be read again. A bundle reduced while its recording runs: an early
        event had the shard read, and a later one cites a record the writer flushed after that
        (before the event, as it always does). A sealed shard, or an unsealed one that did not
        grow (a crash's), is never read again, so a static bundle reduces as Codex reduces it,
        at the cost of one more read of the shard at its first missing record."""
        indexed = self._unsealed_sizes.get(number)
        if indexed is None:
            return False
        try:
            size = len(self._read_file(layout.shard_path(number)))
        except (OSError, ReduceError):
            size = indexed
        if size == indexed:
            del self._unsealed_sizes[number]  # settled: not read again
            return False
        del self._shards[number]
        del self._unsealed_sizes[number]
        dropped = self._cache.pop(number, None)
        self._cached_bytes -= len(dropped) if dropped is not None else 0
        return True

    def record(self, payload_id: str, shard: int) -> bytes:
        """The stored body of ``payload_id`` (not spliced)."""
        found, data = self._load(shard)
        where = found.records.get(payload_id)
        if where is None and self._grown(shard):
            found, data = self._load(shard)
            where = found.records.get(payload_id)
        if where is None:
            raise MissingShardPayload(_missing_text(payload_id, shard), file=self._shown(shard))
        start, length = where
        return data[start : start + length]

    # --- templates ---------------------------------------------------------------------------

    def text(self, ref: RawPayloadRef) -> bytes:
        """A payload's text: its body, or for a template the body's fragments with the parts'
        texts between them (the bytes as they are: the handler's parse judges the whole). An
        unavailable part reads as ``{"$trace_unavailable": id}``."""
        if not ref.available:
            return orjson.dumps({layout.UNAVAILABLE_MARKER_KEY: ref.raw_payload_id})
        if ref.shard is None:
            raise ReduceError(words.OMITTED_BY_SIZE)
        body = self.record(ref.raw_payload_id, ref.shard)
        if not ref.parts:
            return body
        fragments = _fragments(body, len(ref.parts) + 1)
        # the parts' texts read shard by shard, then spliced in order: parts alternating
        # between two shards that do not fit the cache together decompressed one of them
        # again for every part
        texts: list[bytes] = [b""] * len(ref.parts)
        total = sum(len(fragment) for fragment in fragments)
        for index in sorted(range(len(ref.parts)), key=lambda i: ref.parts[i].shard or 0):
            text = texts[index] = self._part_text(ref.parts[index])
            total += len(text)
            if total > self._floor:
                # a small log can cite one big record thousands of times
                raise ReduceError(
                    f"payload {ref.raw_payload_id}",
                    cause=f"spliced text passes {self._floor:,} bytes:"
                    " refused as an expansion bomb",
                    file=self._shown(ref.shard),
                )
        out = bytearray(fragments[0])
        for text, fragment in zip(texts, fragments[1:], strict=True):
            out += text
            out += fragment
        return bytes(out)

    def _part_text(self, part: RawPayloadRef) -> bytes:
        """A template part's text, kept while the budget lasts (all references to one id are
        identical: replay refuses conflicting ones when it registers them)."""
        key = (part.raw_payload_id, part.shard)
        text = self._parts.get(key)
        if text is None:
            text = self.text(part)
            if self._part_bytes + len(text) <= PART_CACHE_BYTES:
                self._parts[key] = text
                self._part_bytes += len(text)
        return text

    def _check_stored(self, ref: RawPayloadRef, text: bytes) -> None:
        """A stored payload read as its own: as a Rust string first (not UTF-8: the
        ``Utf8Error`` alone, its index in this payload), then walked as IgnoredAny (not
        JSON: "invalid payload <id>" with serde's cause)."""
        if surely_ignorable(text):
            return
        shown = self._shown(ref.shard or 0)
        try:
            text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ReduceError(_utf8_text(exc), file=shown) from None
        cause = serde.ignored_error(text)
        if cause is not None:
            raise ReduceError(
                f"invalid payload {ref.raw_payload_id}", cause=cause, file=shown
            ) from None

    # --- end of replay -----------------------------------------------------------------------

    def footer_errors(self, refs: list[RawPayloadRef], completed: bool) -> Iterator[ReduceError]:
        """Why the shards the payloads cite are not sealed as they must be (checked before
        payload bodies), shard by shard: unreadable, or without its footer. A completed
        recording leaves every shard sealed; one cut short may leave the last shard it cites
        open (a writer seals a shard before it starts the next), only that one (Codex 0.171:
        "missing footer in payload shard N" for any other). Strict reduction stops at the
        first; lenient reduction notes each and goes on to the payloads."""
        shards = sorted({r.shard for ref in refs for r in ref.walk() if r.shard is not None})
        if not completed:
            shards = shards[:-1]
        for number in shards:
            try:
                shard, _ = self._load(number)
            except ReduceError as exc:
                yield exc
                continue
            if not shard.sealed:
                yield ReduceError(
                    f"missing footer in payload shard {number}", file=self._shown(number)
                )

    def check(self, ref: RawPayloadRef) -> None:
        """End-of-replay check of one registered payload: the record exists and its text is
        JSON (a template: its skeleton); a truncated one keeps exactly ``retained_bytes`` and
        is not parsed."""
        if ref.raw_payload_id in self._checked:
            return
        if ref.shard is None:
            if ref.capture is None or ref.capture.status != "omitted":
                # stored (whole or cut), says the reference, but in no shard
                raise ReduceError(words.OMITTED_BY_SIZE)
            return
        capture = ref.capture
        if capture is not None:
            # a cut body is never parsed, but it must be as long as the reference says, and
            # shorter than the original
            body = self.record(ref.raw_payload_id, ref.shard)
            if capture.status == "truncated" and (
                len(body) != capture.retained_bytes
                or (capture.retained_bytes or 0) >= capture.original_bytes
            ):
                raise ReduceError("invalid retained length", file=self._shown(ref.shard))
            return
        body = self.record(ref.raw_payload_id, ref.shard)
        if ref.parts:
            # a template's shape alone, ``null`` standing for each part: Codex 0.171 neither
            # reads the parts here nor checks the splice (each part has its own turn; a
            # template splicing to no JSON passes), found by review: a missing or broken part
            # was named at the turn of a template citing it
            _check_skeleton(_fragments(body, len(ref.parts) + 1), self._shown(ref.shard))
        else:
            self._check_stored(ref, body)
        self._checked.add(ref.raw_payload_id)

    def mark_checked(self, payload_id: str) -> None:
        self._checked.add(payload_id)


#: What JSON counts as whitespace between tokens.
_JSON_WHITESPACE: Final = b" \t\n\r"


def _fragments(body: bytes, wanted: int) -> list[bytes]:
    """A template body: a JSON array of exactly ``wanted`` strings."""
    try:
        value: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        # serde reads the body as it goes: a map is refused by its type before the rest is
        # read, an element by its type before a later syntax error
        value = None
        start = body.lstrip(_JSON_WHITESPACE)[:1]
        if start == b"{":
            value = {}
        else:
            cause = (serde.string_list_error(body) if start == b"[" else None) or (
                serde.syntax_error(body)
            )
            if cause is not None:
                raise ReduceError(cause) from None
    if not isinstance(value, list):
        what = "map" if isinstance(value, dict) else _describe(value)
        at = _peeked_at(body, scalar=not isinstance(value, dict))
        raise ReduceError(f"invalid type: {what}, expected a sequence at {at}")
    if not all(isinstance(item, str) for item in value):
        cause = serde.string_list_error(body)
        raise ReduceError(cause or "invalid type: expected a string")
    if len(value) != wanted:
        raise ReduceError("invalid payload fragment count")
    return [item.encode() for item in value]


def _peeked_at(body: bytes, *, scalar: bool) -> str:
    """Where serde stands when it refuses the type of a body's one value: a reader counts
    only what it consumed, so that is before a map (seen by its brace) and after a scalar
    (read whole to be described)."""
    ws = _JSON_WHITESPACE
    read = body.rstrip(ws) if scalar else body[: len(body) - len(body.lstrip(ws))]
    line = read.count(b"\n") + 1
    column = len(read) - (read.rfind(b"\n") + 1)
    return f"line {line} column {column}"


def _check_skeleton(fragments: list[bytes], shown: str) -> None:
    """The end check of a template: its shape, ``null`` standing for each part; a syntax
    error there is serde's message alone, its position counted in that skeleton."""
    cause = _ignored_json_error(b"null".join(fragments))
    if cause is not None:
        raise ReduceError(cause, file=shown)


def _ignored_json_error(text: bytes) -> str | None:
    """serde's complaint walking ``text`` as IgnoredAny, or None (orjson first: the common
    case of a valid document costs one fast parse)."""
    return None if surely_ignorable(text) else serde.ignored_error(text)


def _describe(value: Any) -> str:
    from ..model.serde_read import describe

    return describe(value)
