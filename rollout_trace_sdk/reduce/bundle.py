"""Reading a bundle: the manifest, the event stream with its per-line checks, confined payloads.

Everything the reducer reads goes through here, so three promises live in one place: events are
streamed line by line (memory does not grow with the log), no payload path can make us read
outside the bundle directory (Codex follows ``../`` and absolute paths; we refuse them), and
every failure carries Codex's exact wording — serde_json's messages are recomputed by
``model.serde_errors`` only once the fast parse has already failed.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO, Final

import attrs
import orjson

from ..model import codec, layout
from ..model.events import Manifest, RawPayloadRef, RecordingCompleted, TraceEvent
from .errors import MissingPayload, ReduceError
from .schemas import event_gate_text, manifest_gate_text
from .shards import ShardReader

MANIFEST: Final = layout.MANIFEST
EVENT_LOG: Final = layout.EVENT_LOG

# Rust's ``str::trim`` strips Unicode White_Space, so Codex skips a line of, say, NBSPs.
_RUST_WHITESPACE: Final = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_NOT_UTF8: Final = "stream did not contain valid UTF-8"


def io_error_text(exc: OSError) -> str:
    """Rust's wording for an OS error, which is what Codex prints under "Caused by"."""
    if exc.errno is None:
        return str(exc)
    return f"{os.strerror(exc.errno)} (os error {exc.errno})"


_OPEN_FLAGS: Final = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


def _read_all(fd: int) -> bytes:
    with open(fd, "rb", closefd=True) as handle:
        return handle.read()


def _lines(handle: BinaryIO, log: str) -> Iterator[bytes]:
    """The log's lines, newline kept (Codex parses them with it); a read failure is Codex's
    "read trace event line N"."""
    number = 0
    while True:
        number += 1
        try:
            raw = handle.readline()
        except OSError as exc:
            raise ReduceError(
                f"read trace event line {number}", cause=io_error_text(exc), file=log, line=number
            ) from None
        if not raw:
            return
        yield raw


def _serde() -> ModuleType:
    """serde_json's messages, imported only once something has already failed."""
    from ..model import serde_errors

    return serde_errors


def _loads_lenient_numbers(raw: bytes) -> Any:
    """Parse JSON serde accepts but orjson refuses (numbers beyond f64: serde keeps them as
    text). Only called after ``serde_errors`` confirmed serde would accept the bytes."""
    return json.loads(raw)


__all__ = ["Bundle", "LocatedEvent", "MissingPayload", "io_error_text"]


@attrs.frozen
class LocatedEvent:
    line: int
    event: TraceEvent


class Bundle:
    """An opened bundle directory. ``open`` reads and gates the manifest; nothing else is read
    until asked for."""

    def __init__(
        self,
        root: Path,
        display: str,
        manifest: Manifest,
        *,
        lenient: bool,
        skipped: list[str] | None = None,
    ) -> None:
        self.root = root
        self.manifest = manifest
        self.lenient = lenient
        #: What lenient mode passed over, one human sentence each (the caller's list if given).
        self.skipped: list[str] = skipped if skipped is not None else []
        self._display = display
        self._root_text = str(root)
        self._resolved_root = os.path.realpath(root)
        self._valid_paths: set[str] = set()
        self._confined_dirs: dict[str, bool] = {}
        #: the schema events are read by (the manifest's; the gate let only 2 and 3 through)
        self.schema = manifest.schema_version
        self._shards = (
            ShardReader(display, self._read_shard_file) if self.schema == layout.SCHEMA_3 else None
        )

    # --- opening ------------------------------------------------------------------------------

    @classmethod
    def open(
        cls, path: str | Path, *, lenient: bool = False, skipped: list[str] | None = None
    ) -> Bundle:
        root = Path(path)
        display = str(path).rstrip("/") or "/"
        manifest_path = f"{display}/{MANIFEST}"
        try:
            raw = (root / MANIFEST).read_bytes()
        except OSError as exc:
            # Codex prints only the OS error here; we say which file (cause = Codex's text).
            raise ReduceError(
                f"read {manifest_path}", cause=io_error_text(exc), file=manifest_path
            ) from None
        try:
            manifest = codec.manifest_from_dict(orjson.loads(raw))
        except (orjson.JSONDecodeError, codec.DecodeError) as exc:
            cause = _serde().manifest_error(raw) or str(exc)
            raise ReduceError(f"read {manifest_path}", cause=cause, file=manifest_path) from None
        if manifest.schema_version not in layout.SUPPORTED_SCHEMAS:
            raise ReduceError(manifest_gate_text(manifest.schema_version, root), file=manifest_path)
        return cls(root, display, manifest, lenient=lenient, skipped=skipped)

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
            # os.open, as Rust's File::open, succeeds on a directory; reading it then fails.
            fd = os.open(self.root / EVENT_LOG, _OPEN_FLAGS)
        except OSError as exc:
            raise ReduceError(
                f"open trace event log {log}", cause=io_error_text(exc), file=log
            ) from None
        try:
            handle = open(fd, "rb")  # noqa: SIM115 - closed by the with below
        except OSError as exc:  # Python refuses a directory here, Rust on the first read
            os.close(fd)
            raise ReduceError(
                "read trace event line 1", cause=io_error_text(exc), file=log, line=1
            ) from None
        expected_seq = 1
        completed = False
        rollout_id = self.manifest.rollout_id
        parse = codec.parse_event_line
        schema = self.schema
        with handle:
            for number, raw in enumerate(_lines(handle, log), start=1):
                try:
                    event = parse(raw, schema)
                except codec.DecodeError as exc:
                    if not raw.strip():
                        continue
                    recovered = self._recover_line(raw, number, exc)
                    if recovered is None:
                        if self.lenient and not raw.endswith(b"\n"):
                            return
                        continue
                    event = recovered
                if event.schema_version != schema:
                    raise ReduceError(
                        event_gate_text(schema, event.schema_version, number),
                        file=log,
                        line=number,
                        seq=event.seq,
                    )
                if completed:
                    raise ReduceError(
                        "trace event after recording completed",
                        file=log,
                        line=number,
                        seq=event.seq,
                    )
                if event.seq != expected_seq:
                    raise ReduceError(
                        f"missing or reordered trace event {expected_seq}",
                        file=log,
                        line=number,
                        seq=event.seq,
                    )
                if event.rollout_id != rollout_id:
                    raise ReduceError(
                        "trace event belongs to another rollout",
                        file=log,
                        line=number,
                        seq=event.seq,
                    )
                expected_seq += 1
                yield LocatedEvent(number, event)
                if isinstance(event.payload, RecordingCompleted):
                    completed = True

    def _recover_line(self, raw: bytes, number: int, exc: codec.DecodeError) -> TraceEvent | None:
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
            raise ReduceError(
                f"read trace event line {number}", cause=_NOT_UTF8, file=log, line=number
            ) from None
        if not text.strip(_RUST_WHITESPACE):
            return None
        cause = _serde().event_line_error(raw, self.schema)
        if cause is None:
            try:
                return codec.event_from_dict(_loads_lenient_numbers(raw), self.schema)
            except (ValueError, codec.DecodeError) as again:
                cause = str(again)
        if self.lenient and not raw.endswith(b"\n"):
            self.skipped.append(f"{log}:{number}: skipped a truncated last line ({cause})")
            return None
        raise ReduceError(
            f"parse trace event line {number}", cause=cause or str(exc), file=log, line=number
        )

    # --- payloads -----------------------------------------------------------------------------

    def payload_path(self, raw_payload_id: str, path: str) -> Path:
        """The file a ref names, refused unless it lies inside the bundle (symlinks resolved)."""
        full = self._confined(raw_payload_id, path)
        if os.path.islink(full) and not self._inside(os.path.realpath(full)):
            raise self._refuse(raw_payload_id, path, "it is a symlink to a file outside the bundle")
        return Path(full)

    def _confined(self, raw_payload_id: str, path: str) -> str:
        """Refuse absolute and ``..`` paths, and directories resolving outside the bundle.

        Checked before anything is opened. Directories are resolved once and cached; the last
        component (a symlinked file) is checked when opening, see ``_open``."""
        if os.path.isabs(path) or ".." in path.replace("\\", "/").split("/"):
            raise self._refuse(raw_payload_id, path, "it is absolute or climbs out with '..'")
        full = os.path.join(self._root_text, path)
        directory = os.path.dirname(full)
        inside = self._confined_dirs.get(directory)
        if inside is None:
            inside = self._inside(os.path.realpath(directory))
            self._confined_dirs[directory] = inside
        if not inside:
            raise self._refuse(raw_payload_id, path, "its directory resolves outside the bundle")
        return full

    def _open(self, raw_payload_id: str, path: str) -> int:
        """Open a confined payload read-only. ``O_NOFOLLOW`` makes the common case one system
        call; only a symlinked file costs a ``realpath`` to see where it points."""
        full = self._confined(raw_payload_id, path)
        try:
            return os.open(full, _OPEN_FLAGS | os.O_NOFOLLOW)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
        if not self._inside(os.path.realpath(full)):
            raise self._refuse(raw_payload_id, path, "it is a symlink to a file outside the bundle")
        return os.open(full, _OPEN_FLAGS)

    def _inside(self, resolved: str) -> bool:
        root = self._resolved_root
        return resolved == root or resolved.startswith(root.rstrip("/") + "/")

    def _refuse(self, raw_payload_id: str, path: str, why: str) -> ReduceError:
        return ReduceError(
            f"open payload {raw_payload_id}",
            cause=f"refusing payload path {path!r}: {why}; payloads are read only from inside "
            f"the bundle directory {self._display!r} (Codex would follow this path)",
            file=path,
        )

    def _shown(self, path: str) -> str:
        return f"{self._display}/{path}"

    def _read_shard_file(self, path: str) -> bytes:
        """A shard's bytes, confined like every payload read (schema 3)."""
        return _read_all(self._open(path, path))

    @property
    def shards(self) -> ShardReader | None:
        """Schema 3's payload store (None for schema 2)."""
        return self._shards

    def read_payload_bytes(self, ref: RawPayloadRef) -> bytes:
        """Bytes of a payload a handler needs: Codex's "open payload" for a file that cannot be
        opened, "parse payload" for one that opens but cannot be read (a directory). Schema 3:
        the record in its shard, spliced if it is a template."""
        if self._shards is not None:
            return self._shards.text(ref)
        try:
            fd = self._open(ref.raw_payload_id, ref.path)
        except FileNotFoundError as exc:
            raise MissingPayload(
                f"open payload {ref.raw_payload_id}",
                cause=io_error_text(exc),
                file=self._shown(ref.path),
            ) from None
        except OSError as exc:
            raise ReduceError(
                f"open payload {ref.raw_payload_id}",
                cause=io_error_text(exc),
                file=self._shown(ref.path),
            ) from None
        try:
            return _read_all(fd)
        except OSError as exc:
            raise ReduceError(
                f"parse payload {ref.raw_payload_id}",
                cause=io_error_text(exc),
                file=self._shown(ref.path),
            ) from None

    def load_payload(self, ref: RawPayloadRef) -> Any:
        """Read and parse a payload a handler needs (Codex: "open payload" / "parse payload")."""
        raw = self.read_payload_bytes(ref)
        shown = self._shown(ref.path)
        if self._shards is not None and ref.shard is not None:
            shown = self._shown(layout.shard_path(ref.shard))
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            cause = _serde().syntax_error(raw)
            if cause is not None:
                raise ReduceError(
                    f"parse payload {ref.raw_payload_id}", cause=cause, file=shown
                ) from None
            try:
                value = _loads_lenient_numbers(raw)
            except ValueError:
                raise ReduceError(
                    f"parse payload {ref.raw_payload_id}", cause=str(exc), file=shown
                ) from None
        if self._shards is not None:
            self._shards.mark_checked(ref.raw_payload_id)
        else:
            self._valid_paths.add(ref.path)
        return value

    def check_registered(self, refs: dict[str, RawPayloadRef], completed: bool) -> None:
        """End-of-replay checks, in sorted id order. Schema 3 first checks that a completed
        recording left every shard sealed, then each available payload's record and text."""
        if self._shards is None:
            for payload_id in sorted(refs):
                self.check_payload(payload_id, refs[payload_id].path)
            return
        if completed:
            self._shards.check_footers(list(refs.values()))
        for payload_id in sorted(refs):
            try:
                self._shards.check(refs[payload_id])
            except ReduceError as exc:
                if not self.lenient:
                    raise
                self.skipped.append(f"{exc}; left unchecked")

    def check_payload(self, raw_payload_id: str, path: str) -> None:
        """End-of-replay check that a registered payload exists and is JSON (v2)."""
        if path in self._valid_paths:
            return
        try:
            raw = _read_all(self._open(raw_payload_id, path))
        except OSError as exc:
            if self.lenient:
                self.skipped.append(
                    f"{self._display}/{path}: payload {raw_payload_id} is unreadable "
                    f"({io_error_text(exc)}); left unchecked"
                )
                return
            raise ReduceError(
                f"read payload {raw_payload_id}", cause=io_error_text(exc), file=self._shown(path)
            ) from None
        try:
            orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            cause = _serde().syntax_error(raw)
            if cause is None:
                self._valid_paths.add(path)
                return
            if self.lenient:
                self.skipped.append(
                    f"{self._display}/{path}: payload {raw_payload_id} is not JSON ({cause})"
                )
                return
            raise ReduceError(
                f"invalid payload {raw_payload_id}", cause=cause or str(exc), file=self._shown(path)
            ) from None
        self._valid_paths.add(path)
