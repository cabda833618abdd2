"""``rollout-trace redact`` for schema 3: payload shards are decompressed, each record's body
redacted, and the records written back into the same shard numbers (one sealed frame each,
with a checksum, as the recorder writes them).

One :class:`~.record.redact.Redactor` serves the whole bundle, so an item stored once and
cited by many requests (the item store's deduplication), and every copy of a secret in the
lines, get the same placeholder: what the reducer linked before it still links.

A *truncated* body (v3.md §6) is a prefix whose length the references state
(``retained_bytes``); redaction may change that length, so the new lengths are returned and
:func:`fix_retained` rewrites the references that cite them in the log (and the original
size, when a prefix grew as long as it: Codex wants the prefix shorter than the whole).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final

import orjson
import zstandard

from .model import layout
from .record._shards import ShardSink
from .record.redact import Redactor
from .reduce.shards import ShardBomb, decompress_shard

_HEADER: Final = layout.SHARD_RECORD_HEADER


class ShardError(Exception):
    """A shard cannot be read (the message says why; the caller names the file)."""


class ShardRewriter:
    """Redacts shard after shard into ``payloads_dir`` (which must exist and be empty)."""

    def __init__(self, payloads_dir: Path, redactor: Redactor) -> None:
        self._sink = ShardSink(payloads_dir)
        self._redactor = redactor
        #: payload id -> its body's new length, for bodies redaction changed
        self.changed: dict[str, int] = {}
        self.max_ordinal = 0
        self.max_shard = 0
        #: shard number -> bytes after its last whole record (a record cut short), left out
        self.cut: dict[int, int] = {}
        #: shards whose frame was not finished (a crash, a full disk): finished in the copy
        self.unsealed: list[int] = []

    def rewrite(self, number: int, data: bytes) -> int:
        """Redact shard ``number`` (its file's bytes); return how many records it holds."""
        text, sealed = _decompress(data)
        if not sealed:
            self.unsealed.append(number)
        records, tail = _records(text)
        if tail:
            self.cut[number] = tail
        redact = self._redactor.redact
        out = []
        for ident, body in records:
            clean = redact(body)
            if len(clean) != len(body):
                self.changed[ident] = len(clean)
            out.append(((number, ident), clean))
            self.max_ordinal = max(self.max_ordinal, layout.payload_number(ident) or 0)
        self.max_shard = max(self.max_shard, number)
        self._sink.write(out)
        self._sink.seal()
        return len(out)

    def add(self, payload_id: str, body: bytes) -> int:
        """Store one more record in a shard of its own; return the shard's number."""
        number = self.max_shard = self.max_shard + 1
        self._sink.write([((number, payload_id), body)])
        self._sink.seal()
        return number


def fix_retained(line: bytes, changed: dict[str, int]) -> bytes:
    """``line`` with every truncated reference to a changed body stating its new length."""
    if not changed or b'"retained_bytes"' not in line:
        return line
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return line
    return orjson.dumps(event) if _fix(event, changed) else line


def _fix(value: Any, changed: dict[str, int]) -> bool:
    touched = False
    if isinstance(value, dict):
        capture = value.get("capture")
        ident = value.get("raw_payload_id")
        if (
            isinstance(capture, dict)
            and capture.get("status") == "truncated"
            and ident in changed
            and capture.get("retained_bytes") != changed[ident]
        ):
            grown = changed[ident] - capture.get("retained_bytes", 0)
            capture["retained_bytes"] = changed[ident]
            original = capture.get("original_bytes")
            if isinstance(original, int) and changed[ident] >= original:
                # Codex refuses a kept prefix as long as the whole ("invalid retained
                # length"); the whole, redacted, would have grown at least as its prefix did
                capture["original_bytes"] = original + grown
            touched = True
        for item in value.values():
            touched |= _fix(item, changed)
    elif isinstance(value, list):
        for item in value:
            touched |= _fix(item, changed)
    return touched


def _decompress(data: bytes) -> tuple[bytes, bool]:
    """Every frame of a shard, as the reducer reads it (a frame cut short, by a recording
    that crashed, yields what decoded before the cut; a decompression bomb is refused), and
    whether its last frame was finished."""
    try:
        return decompress_shard(data)
    except zstandard.ZstdError as exc:
        raise ShardError(f"not a zstd shard ({exc})") from None
    except ShardBomb as exc:
        raise ShardError(str(exc)) from None


def _records(data: bytes) -> tuple[list[tuple[str, bytes]], int]:
    """The shard's complete records, and how many bytes follow the last of them (a record
    cut short at the end is left out: the reducer reads an unsealed shard up to its last
    complete record too, and refuses one in a sealed shard)."""
    out = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        id_len, body_len = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        end = start + id_len + body_len
        if end > len(data):
            break
        try:
            ident = data[start : start + id_len].decode()
        except UnicodeDecodeError:
            raise ShardError(f"a payload id at offset {offset} is not UTF-8") from None
        out.append((ident, data[start + id_len : end]))
        offset = end
    return out, len(data) - offset


def is_shard(rel: str) -> bool:
    """Whether a bundle-relative path is a schema-3 payload shard."""
    head, _, name = rel.rpartition("/")
    return (
        head == layout.PAYLOADS_DIR and layout.shard_number(name) is not None and os.sep not in name
    )
