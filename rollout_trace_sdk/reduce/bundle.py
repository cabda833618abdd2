"""Reading a bundle: the manifest, the event stream with its per-line checks, confined payloads.

Everything the reducer reads goes through here, so two promises live in one place: events are
streamed line by line (memory does not grow with the log), and no payload path can make us read
outside the bundle directory (Codex follows ``../`` and absolute paths; we refuse them).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import attrs
import orjson

from ..model import codec
from ..model.events import SCHEMA_VERSION, Manifest, RawPayloadRef, RecordingCompleted, TraceEvent
from .errors import ReduceError

MANIFEST: Final = "manifest.json"
EVENT_LOG: Final = "trace.jsonl"


def io_error_text(exc: OSError) -> str:
    """Rust's wording for an OS error, which is what Codex prints under "Caused by"."""
    if exc.errno is None:
        return str(exc)
    return f"{os.strerror(exc.errno)} (os error {exc.errno})"


class MissingPayload(ReduceError):
    """A payload file is absent; lenient replay skips the event that needed it."""


@attrs.frozen
class LocatedEvent:
    line: int
    event: TraceEvent


class Bundle:
    """An opened bundle directory. ``open`` reads and gates the manifest; nothing else is read
    until asked for."""

    def __init__(self, root: Path, display: str, manifest: Manifest, *, lenient: bool) -> None:
        self.root = root
        self.manifest = manifest
        self.lenient = lenient
        #: What lenient mode passed over, one human sentence each.
        self.skipped: list[str] = []
        self._display = display
        self._resolved_root = root.resolve()
        self._valid_paths: set[str] = set()

    # --- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, lenient: bool = False) -> Bundle:
        root = Path(path)
        display = str(path).rstrip("/") or "/"
        manifest_path = f"{display}/{MANIFEST}"
        try:
            raw = (root / MANIFEST).read_bytes()
        except OSError as exc:
            raise ReduceError(
                f"read {manifest_path}", cause=io_error_text(exc), file=manifest_path
            ) from None
        try:
            manifest = codec.manifest_from_dict(orjson.loads(raw))
        except orjson.JSONDecodeError as exc:
            raise ReduceError(
                f"read {manifest_path}", cause=codec.json_error_message(exc), file=manifest_path
            ) from None
        except codec.DecodeError as exc:
            raise ReduceError(f"read {manifest_path}", cause=str(exc), file=manifest_path) from None
        if manifest.schema_version != SCHEMA_VERSION:
            raise ReduceError(
                f"trace schema {manifest.schema_version} cannot establish accepted history; "
                "use its matching reducer or record a new bundle",
                file=manifest_path,
            )
        return cls(root, display, manifest, lenient=lenient)

    @property
    def event_log_display(self) -> str:
        return f"{self._display}/{EVENT_LOG}"

    # --- events -------------------------------------------------------------------------------

    def events(self) -> Iterator[LocatedEvent]:
        """Stream events in file order, applying Codex's per-line checks in Codex's order."""
        log = self.event_log_display
        try:
            handle = (self.root / EVENT_LOG).open("rb")
        except OSError as exc:
            raise ReduceError(
                f"open trace event log {log}", cause=io_error_text(exc), file=log
            ) from None
        expected_seq = 1
        completed = False
        rollout_id = self.manifest.rollout_id
        with handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    event = codec.parse_event_line(raw)
                except codec.DecodeError as exc:
                    if self.lenient and not raw.endswith(b"\n"):
                        self.skipped.append(
                            f"{log}:{number}: skipped a truncated last line ({exc})"
                        )
                        return
                    raise ReduceError(
                        f"parse trace event line {number}", cause=str(exc), file=log, line=number
                    ) from None
                if event.schema_version != SCHEMA_VERSION:
                    raise ReduceError(
                        f"unsupported trace event schema {event.schema_version} at line {number}",
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

    # --- payloads -----------------------------------------------------------------------------

    def payload_path(self, raw_payload_id: str, path: str) -> Path:
        """The file a ref names, refused unless it lies inside the bundle (symlinks resolved)."""
        relative = Path(path)
        if relative.is_absolute() or ".." in relative.parts:
            raise ReduceError(
                f"open payload {raw_payload_id}",
                cause=f"payload path {path!r} lies outside the bundle",
                file=path,
            )
        full = self.root / relative
        try:
            resolved = full.resolve()
        except OSError as exc:  # symlink loops
            raise ReduceError(
                f"open payload {raw_payload_id}", cause=io_error_text(exc), file=path
            ) from None
        if not resolved.is_relative_to(self._resolved_root):
            raise ReduceError(
                f"open payload {raw_payload_id}",
                cause=f"payload path {path!r} resolves outside the bundle",
                file=path,
            )
        return full

    def read_payload_bytes(self, ref: RawPayloadRef) -> bytes:
        full = self.payload_path(ref.raw_payload_id, ref.path)
        try:
            return full.read_bytes()
        except FileNotFoundError as exc:
            raise MissingPayload(
                f"open payload {ref.raw_payload_id}", cause=io_error_text(exc), file=ref.path
            ) from None
        except OSError as exc:
            raise ReduceError(
                f"open payload {ref.raw_payload_id}", cause=io_error_text(exc), file=ref.path
            ) from None

    def load_payload(self, ref: RawPayloadRef) -> Any:
        """Read and parse a payload a handler needs (Codex: "open payload" / "parse payload")."""
        raw = self.read_payload_bytes(ref)
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ReduceError(
                f"parse payload {ref.raw_payload_id}",
                cause=codec.json_error_message(exc),
                file=ref.path,
            ) from None
        self._valid_paths.add(ref.path)
        return value

    def check_payload(self, raw_payload_id: str, path: str) -> None:
        """End-of-replay check that a registered payload exists and is JSON (v2)."""
        if path in self._valid_paths:
            return
        full = self.payload_path(raw_payload_id, path)
        try:
            raw = full.read_bytes()
        except OSError as exc:
            if self.lenient:
                self.skipped.append(f"{path}: payload {raw_payload_id} is unreadable ({exc})")
                return
            raise ReduceError(
                f"read payload {raw_payload_id}", cause=io_error_text(exc), file=path
            ) from None
        try:
            orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            if self.lenient:
                self.skipped.append(f"{path}: payload {raw_payload_id} is not JSON")
                return
            raise ReduceError(
                f"invalid payload {raw_payload_id}",
                cause=codec.json_error_message(exc),
                file=path,
            ) from None
        self._valid_paths.add(path)
