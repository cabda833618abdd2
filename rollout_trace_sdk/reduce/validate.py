"""Checking a bundle against the writer's promises, reporting every breach rather than the first.

The reducer stops at the first thing Codex would refuse; a person debugging a recorder wants the
whole list: each line that does not parse, each seq gap, each payload that is missing, outside
the bundle, not JSON or written suspiciously late, each thread left open, and whether the
recording was closed. Nothing here replays the events.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import attrs
import orjson

from ..model import codec
from ..model import serde_errors as serde
from ..model.events import SCHEMA_VERSION
from .bundle import EVENT_LOG, MANIFEST
from .confined import BundleFileError, BundleFiles

#: Slack between a payload file's mtime and the wall time of the line citing it: mtime
#: granularity, clock steps, and the writer's queue (the event is stamped before its payload
#: reaches disk).
TIMING_SLACK_MS: Final = 2_000
#: If trace.jsonl was modified this long after its last event, the files were copied or touched
#: since recording and their mtimes say nothing about write order.
_COPIED_AFTER_MS: Final = 60_000


@attrs.frozen
class Problem:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"


@attrs.define
class Report:
    bundle: str
    events: int = 0
    payloads: int = 0
    problems: list[Problem] = attrs.field(factory=list)
    notes: list[str] = attrs.field(factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@attrs.frozen
class _Citation:
    payload_id: str
    path: str
    line: int
    wall_time_ms: int | None


def _refs(value: Any) -> Iterator[tuple[str, str]]:
    """Every payload reference inside an event, wherever the variant keeps it."""
    if isinstance(value, dict):
        ident, path = value.get("raw_payload_id"), value.get("path")
        if isinstance(ident, str) and isinstance(path, str) and "kind" in value:
            yield ident, path
            return
        for item in value.values():
            yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


class _Validator:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.display = str(root).rstrip("/") or "/"
        self.report = Report(self.display)
        self.log = f"{self.display}/{EVENT_LOG}"
        self.files = BundleFiles(root, display=self.display)
        self.citations: dict[str, _Citation] = {}
        self.open_threads: dict[str, int] = {}
        self.open_turns: dict[str, int] = {}
        self.last_type: str | None = None
        self.last_wall_ms: int | None = None
        self.seen_rollout_ended = False
        self.seen_recording_completed = False

    def problem(self, file: str, line: int | None, message: str) -> None:
        self.report.problems.append(Problem(file, line, message))

    # --- manifest ----------------------------------------------------------------------------

    def manifest(self) -> str | None:
        path = f"{self.display}/{MANIFEST}"
        try:
            raw = self.files.read_bytes(MANIFEST, what="manifest")
        except BundleFileError as exc:
            self.problem(path, None, f"cannot read the manifest: {exc.cause}")
            return None
        try:
            manifest = codec.manifest_from_dict(orjson.loads(raw))
        except (orjson.JSONDecodeError, codec.DecodeError) as exc:
            self.problem(path, None, f"not a manifest: {serde.manifest_error(raw) or exc}")
            return None
        if manifest.schema_version != SCHEMA_VERSION:
            self.problem(path, None, f"schema_version is {manifest.schema_version}, not 2")
        if manifest.raw_event_log != EVENT_LOG:
            self.problem(
                path, None, f"raw_event_log is {manifest.raw_event_log!r}, not 'trace.jsonl'"
            )
        if manifest.payloads_dir != "payloads":
            self.problem(path, None, f"payloads_dir is {manifest.payloads_dir!r}, not 'payloads'")
        if raw.endswith(b"\n") or codec.manifest_bytes(manifest) != raw:
            self.problem(path, None, "not in Codex's layout (2-space JSON, no trailing newline)")
        return manifest.rollout_id

    # --- events ------------------------------------------------------------------------------

    def events(self, rollout_id: str | None) -> None:
        try:
            handle = self.files.open(EVENT_LOG, what="trace event log")
        except BundleFileError as exc:
            self.problem(self.log, None, f"cannot open the event log: {exc.cause}")
            return
        expected = 1
        with handle:
            number = 0
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    self.problem(self.log, number, "blank line (the writer never writes one)")
                    continue
                if not raw.endswith(b"\n"):
                    self.problem(self.log, number, "last line has no newline (torn write?)")
                try:
                    obj = orjson.loads(raw)
                    event = codec.event_from_dict(obj)
                except (orjson.JSONDecodeError, codec.DecodeError) as exc:
                    try:
                        raw.decode("utf-8")
                    except UnicodeDecodeError:
                        self.problem(self.log, number, "not UTF-8 text")
                        continue
                    cause = serde.event_line_error(raw) or str(exc)
                    self.problem(self.log, number, f"not a trace event: {cause}")
                    continue
                self.report.events += 1
                if event.schema_version != SCHEMA_VERSION:
                    self.problem(self.log, number, f"schema_version {event.schema_version}, not 2")
                if event.seq != expected:
                    self.problem(self.log, number, f"seq {event.seq}, expected {expected}")
                expected = event.seq + 1
                if rollout_id is not None and event.rollout_id != rollout_id:
                    self.problem(
                        self.log, number, f"rollout_id {event.rollout_id} is not the manifest's"
                    )
                if self.seen_recording_completed:
                    self.problem(self.log, number, "event after recording_completed")
                self.track(number, obj, event.wall_time_unix_ms)
            if number and self.report.events == 0:
                self.problem(self.log, None, "no events")

    def track(self, number: int, obj: dict[str, Any], wall_ms: int) -> None:
        payload = obj["payload"]
        kind = payload["type"]
        self.last_type = kind
        self.last_wall_ms = wall_ms
        for ident, path in _refs(payload):
            self.cite(ident, path, number, wall_ms)
        if kind == "thread_started":
            self.open_threads[str(payload.get("thread_id"))] = number
        elif kind == "thread_ended":
            self.open_threads.pop(str(payload.get("thread_id")), None)
        elif kind == "codex_turn_started":
            self.open_turns[str(payload.get("codex_turn_id"))] = number
        elif kind == "codex_turn_ended":
            self.open_turns.pop(str(payload.get("codex_turn_id")), None)
        elif kind == "rollout_ended":
            self.seen_rollout_ended = True
        elif kind == "recording_completed":
            self.seen_recording_completed = True

    def cite(self, ident: str, path: str, number: int, wall_ms: int) -> None:
        earlier = self.citations.get(ident)
        if earlier is None:
            self.citations[ident] = _Citation(ident, path, number, wall_ms)
        elif earlier.path != path:
            self.problem(
                self.log,
                number,
                f"{ident} names {path!r}, but line {earlier.line} named {earlier.path!r}",
            )

    # --- payloads ----------------------------------------------------------------------------

    def payloads(self) -> None:
        timing = self.timing_usable()
        cited: set[str] = set()
        for citation in sorted(self.citations.values(), key=lambda c: c.line):
            self.report.payloads += 1
            cited.add(citation.path)
            try:
                with self.files.open(citation.path, what=f"payload {citation.payload_id}") as fh:
                    mtime_ms = os.fstat(fh.fileno()).st_mtime_ns // 1_000_000
                    raw = fh.read()
            except BundleFileError as exc:
                self.problem(
                    self.log, citation.line, f"{citation.payload_id}: {citation.path}: {exc.cause}"
                )
                continue
            error = None
            try:
                orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                error = serde.syntax_error(raw)
                if error is None and not raw.strip():
                    error = str(exc)
            if error is not None:
                self.problem(f"{self.display}/{citation.path}", None, f"not JSON: {error}")
            if timing and citation.wall_time_ms is not None:
                late = mtime_ms - citation.wall_time_ms
                if late > TIMING_SLACK_MS:
                    self.problem(
                        self.log,
                        citation.line,
                        f"{citation.path} was written {late} ms after the line citing it "
                        "(payloads must be on disk before their event)",
                    )
        if not timing and self.citations:
            self.report.notes.append(
                "payload write order not checked: the files were modified long after recording"
            )
        self.orphans(cited)

    def timing_usable(self) -> bool:
        if self.last_wall_ms is None:
            return False
        try:
            with self.files.open(EVENT_LOG, what="trace event log") as fh:
                log_mtime_ms = os.fstat(fh.fileno()).st_mtime_ns // 1_000_000
        except BundleFileError:
            return False
        return abs(log_mtime_ms - self.last_wall_ms) <= _COPIED_AFTER_MS

    def orphans(self, cited: set[str]) -> None:
        try:
            names = self.files.list_dir("payloads", what="payloads directory")
        except BundleFileError:
            return
        for name in names:
            if f"payloads/{name}" not in cited:
                self.problem(f"{self.display}/payloads/{name}", None, "not cited by any event")

    # --- closing -----------------------------------------------------------------------------

    def closing(self) -> None:
        if self.report.events == 0:
            return
        for thread_id, line in self.open_threads.items():
            self.problem(self.log, line, f"thread {thread_id} started here never ended")
        for turn_id, line in self.open_turns.items():
            self.problem(self.log, line, f"turn {turn_id} started here never ended")
        if not self.seen_rollout_ended:
            self.problem(self.log, None, "no rollout_ended event")
        if not self.seen_recording_completed:
            self.problem(self.log, None, "no recording_completed event (recording not closed)")
        elif self.last_type != "recording_completed":
            self.problem(self.log, None, "recording_completed is not the last event")


def validate_bundle(path: str | Path) -> Report:
    """Check every writer invariant of the bundle at ``path``; never raises for bad input."""
    root = Path(path)
    validator = _Validator(root)
    if not root.is_dir():
        validator.problem(validator.display, None, "not a bundle directory")
        return validator.report
    rollout_id = validator.manifest()
    validator.events(rollout_id)
    validator.payloads()
    validator.closing()
    return validator.report
