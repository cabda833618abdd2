"""Reading a bundle: the manifest, the event stream with its per-line checks, confined payloads.

Everything the reducer reads goes through here, so three promises live in one place: events are
streamed line by line (memory does not grow with the log), no payload path can make us read
outside the bundle directory (Codex follows ``../`` and absolute paths; we refuse them), and
every failure carries Codex's exact wording — serde_json's messages are recomputed by
``model.serde_errors`` only once the fast parse has already failed (but for its nesting
check, which every payload read passes: imported with the module, not by each read, where
``from package import name`` cost ~2 µs a payload in importlib's ``_handle_fromlist``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, BinaryIO, Final

import attrs
import orjson

from ..model import layout, structure
from ..model.events import Manifest, RawPayloadRef, RecordingCompleted, TraceEvent
from ..model.json_check import surely_ignorable
from ..model.serde_errors import recursion_error as serde_recursion_error
from ..model.serde_read import DecodeError
from . import errors as words
from . import resent_text
from .confined import BundleFileError, BundleFiles, line_limit, os_error_text, read_to_end
from .errors import MissingPayload, ReduceError
from .resent_text import KnownText
from .rust_sort import sort_unstable_order
from .schemas import event_gate_text, manifest_gate_text

if TYPE_CHECKING:
    from .shards import ShardReader

MANIFEST: Final = layout.MANIFEST
EVENT_LOG: Final = layout.EVENT_LOG

# Rust's ``str::trim`` strips Unicode White_Space, so Codex skips a line of, say, NBSPs.
_RUST_WHITESPACE: Final = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


io_error_text = os_error_text


def _lines(handle: BinaryIO, log: str) -> Iterator[bytes]:
    """The log's lines, newline kept (Codex parses them with it); a read failure is Codex's
    "read trace event line N". A regular file is read to the size it had when opened
    (``confined.line_limit``)."""
    limit, read = line_limit(handle), 0
    number = 0
    while limit < 0 or read < limit:
        number += 1
        try:
            raw = handle.readline()
        except OSError as exc:
            raise ReduceError(
                words.read_line(number), cause=io_error_text(exc), file=log, line=number
            ) from None
        if not raw:
            return
        read += len(raw)
        yield raw


def _serde() -> ModuleType:
    """serde_json's messages, imported only once something has already failed."""
    from ..model import serde_errors

    return serde_errors


def _refused_after_completion(raw: bytes) -> bool:
    """A line after ``recording_completed`` that Codex refuses before parsing it: one that reads
    as text (else the read error comes first) and is not blank by Rust's ``str::trim``."""
    if not raw.strip():
        return False
    try:
        return bool(raw.decode("utf-8").strip(_RUST_WHITESPACE))
    except UnicodeDecodeError:
        return False


def _torn(error: ReduceError, raw: bytes) -> ReduceError:
    """``error``, about log line ``raw``, marked as lenient reduction's to skip when the line
    is a torn last one (no newline: a crash cut it); a bad line mid-log it refuses as well."""
    error.lenient_skips = not raw.endswith(b"\n")
    return error


def _loads_lenient_numbers(raw: bytes) -> Any:
    """Parse JSON serde accepts but orjson refuses (numbers beyond f64: serde keeps them as
    text). Only called after ``serde_errors`` confirmed serde would accept the bytes."""
    return structure.loads_wide_numbers(raw)


__all__ = [
    "Bundle",
    "LocatedEvent",
    "LogCursor",
    "MissingPayload",
    "Progress",
    "io_error_text",
    "parse_payload_json",
]

#: Told ``(bytes of trace.jsonl read, its size)`` now and then while events are streamed.
Progress = Callable[[int, int], None]
#: Lines between two progress reports (a power of two less one: a mask, not a division).
_PROGRESS_MASK: Final = 1023


@attrs.frozen
class LocatedEvent:
    line: int
    event: TraceEvent


@attrs.define
class LogCursor:
    """Where a reading of the log stands: the lines read, the seq the next event must have,
    and whether ``recording_completed`` was read (the per-line checks depend on all three).
    One reading keeps one; a follower reading a growing log keeps it between readings."""

    line: int = 0
    expected_seq: int = 1
    completed: bool = False


class _Stop:
    """The reading ends at this line (a torn last one)."""


_STOP: Final = _Stop()


class Bundle:
    """An opened bundle directory. ``open`` reads and gates the manifest; nothing else is read
    until asked for."""

    def __init__(
        self,
        root: Path,
        display: str,
        manifest: Manifest,
        files: BundleFiles,
        *,
        lenient: bool,
        skipped: list[str] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.root = root
        #: None unless someone shows progress: the loop then pays one test per line.
        self.progress = progress
        self.manifest = manifest
        self.lenient = lenient
        #: What lenient mode passed over, one human sentence each (the caller's list if given).
        self.skipped: list[str] = skipped if skipped is not None else []
        self._display = display
        self.files = files
        self._valid_paths: set[str] = set()
        #: the schema events are read by (the manifest's; the gate let only 2 and 3 through)
        self.schema = manifest.schema_version
        self._shards = _shard_reader(self) if self.schema == layout.SCHEMA_3 else None

    # --- opening ------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        lenient: bool = False,
        skipped: list[str] | None = None,
        progress: Progress | None = None,
    ) -> Bundle:
        root = Path(path)
        display = str(path).rstrip("/") or "/"
        manifest_path = f"{display}/{MANIFEST}"
        files = BundleFiles(root, display=display)
        try:
            raw = files.read_bytes(MANIFEST, what="manifest")
        except BundleFileError as exc:
            # Codex prints only the OS error here; we say which file (cause = Codex's text).
            files.close()
            raise ReduceError(
                f"read {manifest_path}", cause=exc.cause, file=manifest_path
            ) from None
        try:
            manifest = structure.manifest_from_bytes(raw)
        except (orjson.JSONDecodeError, DecodeError) as exc:
            files.close()
            cause = _serde().manifest_error(raw) or str(exc)
            raise ReduceError(f"read {manifest_path}", cause=cause, file=manifest_path) from None
        if manifest.schema_version not in layout.SUPPORTED_SCHEMAS:
            files.close()
            raise ReduceError(manifest_gate_text(manifest.schema_version, root), file=manifest_path)
        return cls(
            root, display, manifest, files, lenient=lenient, skipped=skipped, progress=progress
        )

    # --- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Release the bundle's directory descriptors now. Its shard reader refers back to
        it, so without this a process reducing bundle after bundle (an export, a live
        viewer) held each one's descriptors until a full garbage collection; for the same
        reason the shard reader's caches (up to ``CACHE_BYTES`` + ``PART_CACHE_BYTES`` of
        decompressed text) are dropped here, not when the collector finds the cycle."""
        self.files.close()
        if self._shards is not None:
            self._shards.release()

    def __enter__(self) -> Bundle:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def display(self) -> str:
        return self._display

    @property
    def event_log_display(self) -> str:
        return f"{self._display}/{EVENT_LOG}"

    # --- events -------------------------------------------------------------------------------

    def events(self) -> Iterator[LocatedEvent]:
        """Stream events in file order, applying Codex's per-line checks in Codex's order."""
        log = self.event_log_display
        try:
            handle = self.files.open(EVENT_LOG, what=f"trace event log {log}")
        except BundleFileError as exc:
            # Codex opens a directory, then fails on reading its first line.
            if isinstance(exc.os_error, IsADirectoryError):
                raise ReduceError(
                    "read trace event line 1", cause=exc.cause, file=log, line=1
                ) from None
            raise ReduceError(exc.message, cause=exc.cause, file=log) from None
        cursor = LogCursor()
        progress = self.progress
        size = os.fstat(handle.fileno()).st_size if progress is not None else 0
        with handle:
            for raw in _lines(handle, log):
                if progress is not None and not (cursor.line + 1) & _PROGRESS_MASK:
                    progress(handle.tell(), size)
                located = self.line_event(raw, cursor)
                if isinstance(located, _Stop):
                    return
                if located is not None:
                    yield located

    def line_event(self, raw: bytes, cursor: LogCursor) -> LocatedEvent | _Stop | None:
        """One line of the log (newline kept) read after those ``cursor`` has seen, with
        Codex's per-line checks in Codex's order: its event, None for a line Codex skips, or
        ``_STOP`` for a torn last line that ends the reading (no newline: lenient mode's
        unreadable one, or a cut ``recording_completed``). ``cursor`` moves past it.

        Raises:
            ReduceError: what Codex refuses, located by line (and seq).
        """
        cursor.line += 1
        number = cursor.line
        schema = self.schema
        if cursor.completed and _refused_after_completion(raw):
            # Codex refuses any further (non-blank) line before parsing it.
            raise ReduceError(words.AFTER_COMPLETED, file=self.event_log_display, line=number)
        try:
            event = structure.parse_event_line(raw, schema)
        except DecodeError as exc:
            if not raw.strip():
                return None
            recovered = self._recover_line(raw, number, exc)
            if recovered is None:
                if self.lenient and not raw.endswith(b"\n"):
                    return _STOP
                return None
            event = recovered
        if event.schema_version != schema:
            raise ReduceError(
                event_gate_text(schema, event.schema_version, number),
                file=self.event_log_display,
                line=number,
                seq=event.seq,
            )
        if event.seq != cursor.expected_seq:
            raise ReduceError(
                words.missing_or_reordered(cursor.expected_seq),
                file=self.event_log_display,
                line=number,
                seq=event.seq,
            )
        if event.rollout_id != self.manifest.rollout_id:
            raise ReduceError(
                words.OTHER_ROLLOUT, file=self.event_log_display, line=number, seq=event.seq
            )
        cursor.expected_seq += 1
        if isinstance(event.payload, RecordingCompleted):
            if not raw.endswith(b"\n"):
                # its line was cut before its newline: Codex (both versions) reads it
                # but does not count the recording as completed
                return _STOP
            cursor.completed = True
        return LocatedEvent(number, event)

    def _recover_line(self, raw: bytes, number: int, exc: DecodeError) -> TraceEvent | None:
        """The slow path for a line the fast parse refused: skip it if Codex would (blank by
        Rust's rules), accept it if serde would (numbers orjson cannot hold), skip a torn last
        line in lenient mode; otherwise raise Codex's error. None means "skip"."""
        log = self.event_log_display
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            if self.lenient and not raw.endswith(b"\n"):
                self.skipped.append(f"{log}:{number}: skipped a truncated last line (not UTF-8)")
                return None
            raise _torn(
                ReduceError(words.read_line(number), cause=words.NOT_UTF8, file=log, line=number),
                raw,
            ) from None
        if not text.strip(_RUST_WHITESPACE):
            return None
        cause = _serde().event_line_error(raw, self.schema)
        if cause is None:
            try:
                event: TraceEvent = _serde().event_line_event(raw, self.schema)
                return event
            except (ValueError, DecodeError) as again:
                cause = str(again)
        if self.lenient and not raw.endswith(b"\n"):
            self.skipped.append(f"{log}:{number}: skipped a truncated last line ({cause})")
            return None
        raise _torn(
            ReduceError(words.parse_line(number), cause=cause or str(exc), file=log, line=number),
            raw,
        )

    # --- payloads -----------------------------------------------------------------------------

    def _open_payload(self, raw_payload_id: str, path: str) -> tuple[int, int]:
        """Open a payload through the confined reader (a descriptor and its size, for
        ``read_to_end``), in Codex's words when the OS refuses: "open payload" for a file
        that cannot be opened, "parse payload" for a directory (Codex opens it, then fails to
        read it). Our own refusals (outside, symlink, FIFO...) pass through as they are."""
        try:
            return self.files.open_fd(path, what=f"payload {raw_payload_id}")
        except BundleFileError as exc:
            if exc.os_error is None:
                raise
            if isinstance(exc.os_error, IsADirectoryError):
                exc.message = f"parse payload {raw_payload_id}"
            elif isinstance(exc.os_error, FileNotFoundError):
                raise MissingPayload(exc.message, cause=exc.cause, file=exc.file) from None
            raise

    def _read_shard_file(self, path: str) -> bytes:
        """A shard's bytes through the confined reader (schema 3): Codex's "open shard <path>"
        with the OS error, a missing file being a missing payload for lenient replay, and
        "decompress shard <path>" for a directory (Codex opens it, then its decoder fails to
        read it)."""
        from .shards import MissingShardPayload  # loaded already: a ShardReader calls this

        shown = self.files.shown(path)
        try:
            return self.files.read_bytes(path, what=f"shard {shown}")
        except BundleFileError as exc:
            if isinstance(exc.os_error, FileNotFoundError):
                raise MissingShardPayload(exc.message, cause=exc.cause, file=exc.file) from None
            if isinstance(exc.os_error, IsADirectoryError):
                exc.message = f"decompress shard {shown}"
            raise

    @property
    def shards(self) -> ShardReader | None:
        """Schema 3's payload store (None for schema 2)."""
        return self._shards

    def _shown_ref(self, ref: RawPayloadRef) -> str:
        if self._shards is not None and ref.shard is not None:
            return self.files.shown(layout.shard_path(ref.shard))
        return self.files.shown(ref.path)

    def read_payload_bytes(self, ref: RawPayloadRef) -> bytes:
        """Bytes of a payload a handler needs (see ``_open_payload`` for the wording); schema
        3: the record in its shard, spliced if it is a template.

        Codex parses every such payload into a ``serde_json::Value``, which refuses nesting
        of 128 levels or more; so do we, with serde's text, before any caller parses it."""
        raw = self._shards.text(ref) if self._shards is not None else self._read_payload_file(ref)
        self._refuse_too_deep(raw, ref)
        return raw

    def _refuse_too_deep(self, raw: bytes, ref: RawPayloadRef) -> None:
        """Refuse ``ref``'s text ``raw`` as Codex does when serde's nesting limit is passed."""
        too_deep = serde_recursion_error(raw)
        if too_deep is not None:
            raise ReduceError(
                f"parse payload {ref.raw_payload_id}", cause=too_deep, file=self._shown_ref(ref)
            )

    def _read_payload_file(self, ref: RawPayloadRef) -> bytes:
        """A schema-2 payload file's bytes, unchecked."""
        fd, size = self._open_payload(ref.raw_payload_id, ref.path)
        try:
            return read_to_end(fd, size)
        except OSError as exc:
            raise ReduceError(
                f"parse payload {ref.raw_payload_id}",
                cause=io_error_text(exc),
                file=self.files.shown(ref.path),
            ) from None
        finally:
            os.close(fd)

    def load_payload(self, ref: RawPayloadRef) -> Any:
        """Read and parse a payload a handler needs (Codex: "open payload" / "parse payload").

        Codex 0.171 reads a template with a cut or left-out part (capture limits write them)
        without that context: serde's message alone, as for every template part."""
        try:
            raw = self.read_payload_bytes(ref)
            value = parse_payload_json(
                raw, f"parse payload {ref.raw_payload_id}", self._shown_ref(ref)
            )
        except ReduceError as exc:
            without_context = (
                ref.parts
                and exc.cause is not None
                and exc.message == f"parse payload {ref.raw_payload_id}"
                and any(not part.available for part in ref.walk())
            )
            if without_context:
                raise ReduceError(str(exc.cause), file=exc.file) from None
            raise
        if self._shards is not None:
            self._shards.mark_checked(ref.raw_payload_id)
        else:
            self._valid_paths.add(ref.path)
        return value

    def load_request(
        self, ref: RawPayloadRef, known: KnownText | None
    ) -> tuple[Any, bytes | None, list[int] | None]:
        """:meth:`load_payload` of an inference request, given what the thread's last request
        text is known to hold (``resent_text``): (the value, its text, and where the value's
        ``input`` items end in it when the known items were left out of it, read from a text
        that starts with theirs). Schema 3 (a shard's record, maybe a template): the value."""
        if self._shards is not None:
            return self.load_payload(ref), None, None
        raw = self._read_payload_file(ref)
        short = None if known is None else resent_text.shortened(raw, known)
        if known is not None and short is not None and serde_recursion_error(short) is None:
            try:
                value = orjson.loads(short)
            except orjson.JSONDecodeError:
                pass  # read whole below, for serde's message
            else:
                ends = resent_text.item_ends(short, value, known)
                if ends is not None:
                    self._valid_paths.add(ref.path)
                    return value, raw, ends
        self._refuse_too_deep(raw, ref)
        value = parse_payload_json(raw, f"parse payload {ref.raw_payload_id}", self._shown_ref(ref))
        self._valid_paths.add(ref.path)
        return value, raw, None

    def check_registered(self, refs: dict[str, RawPayloadRef], completed: bool) -> None:
        """End-of-replay checks. Schema 2: in sorted id order. Schema 3 first checks that a
        completed recording left every shard sealed, then each available payload's record and
        text in Codex 0.171's order: by shard, references of one shard in the order Rust's
        unstable sort leaves them (``rust_sort``), which is shard by shard as our reads want."""
        if self._shards is None:
            for payload_id in sorted(refs):
                self.check_payload(payload_id, refs[payload_id].path)
            return
        for error in self._shards.footer_errors(list(refs.values()), completed):
            if not self.lenient:
                error.lenient_skips = True
                raise error
            # a shard a failing disk or a crash left open under a closing log, or before
            # the last shard
            self.skipped.append(
                f"{error}; "
                + ("the recording said it was complete" if completed else "not the last shard")
            )
        in_id_order = [refs[payload_id] for payload_id in sorted(refs)]
        shards = [-1 if ref.shard is None else ref.shard for ref in in_id_order]
        for position in sort_unstable_order(shards):
            try:
                self._shards.check(in_id_order[position])
            except ReduceError as exc:
                if not self.lenient:
                    exc.lenient_skips = True
                    raise
                self.skipped.append(f"{exc}; left unchecked")

    def check_payload(self, raw_payload_id: str, path: str) -> None:
        """End-of-replay check that a registered payload exists and is JSON (v2)."""
        if path in self._valid_paths:
            return
        try:
            fd, size = self.files.open_fd(path, what=f"payload {raw_payload_id}")
            try:
                raw = read_to_end(fd, size)
            finally:
                os.close(fd)
        except BundleFileError as exc:
            if exc.os_error is None:
                raise
            self._unreadable(raw_payload_id, path, exc.os_error)
            return
        except OSError as exc:
            self._unreadable(raw_payload_id, path, exc)
            return
        problem = end_check_error(raw)
        if problem is not None:
            message, cause = problem
            if self.lenient:
                self.skipped.append(
                    f"{self._display}/{path}: payload {raw_payload_id} is not JSON ({cause})"
                )
                return
            error = ReduceError(
                f"{message} payload {raw_payload_id}", cause=cause, file=self.files.shown(path)
            )
            error.lenient_skips = True
            raise error
        self._valid_paths.add(path)

    def _unreadable(self, raw_payload_id: str, path: str, exc: OSError) -> None:
        if self.lenient:
            self.skipped.append(
                f"{self._display}/{path}: payload {raw_payload_id} is unreadable "
                f"({io_error_text(exc)}); left unchecked"
            )
            return
        error = ReduceError(
            f"read payload {raw_payload_id}", cause=io_error_text(exc), file=self.files.shown(path)
        )
        error.lenient_skips = True
        raise error from None


def _shard_reader(bundle: Bundle) -> ShardReader:
    """Schema 3's payload store. Imported here, where a schema-3 bundle is opened: a schema-2
    reduction never loads ``shards`` nor ``zstandard`` (~1.5 ms of the command's start-up)."""
    from .shards import ShardReader

    return ShardReader(bundle.display, bundle._read_shard_file)


def end_check_error(raw: bytes) -> tuple[str, str] | None:
    """Codex's end-of-replay check of a payload no handler read: the file is read as text
    ("read payload": not UTF-8), then walked as ``IgnoredAny`` ("invalid payload": serde's
    syntax error; no nesting limit). Returns (verb, cause) or None when it passes."""
    if surely_ignorable(raw):
        return None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "read", words.NOT_UTF8
    cause = _serde().ignored_error(raw)
    return None if cause is None else ("invalid", cause)


def parse_payload_json(raw: bytes, message: str, shown: str) -> Any:
    """Parse a payload as serde_json would: its error text on failure, numbers beyond f64
    accepted (kept as Python numbers)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        cause = _serde().syntax_error(raw)
        if cause is not None:
            raise ReduceError(message, cause=cause, file=shown) from None
        try:
            return _loads_lenient_numbers(raw)
        except ValueError:
            raise ReduceError(message, cause=str(exc), file=shown) from None
