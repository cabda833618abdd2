"""Checking a bundle against the writer's promises, reporting every breach rather than the first.

The reducer stops at the first thing Codex would refuse; a person debugging a recorder wants the
whole list. ``validate`` therefore makes two passes:

1. structural, over every line and payload, without stopping: each line that does not parse,
   each seq out of order, each payload that is missing, unsafe or not JSON, each payload no
   event cites, each thread or turn left open, and whether the recording was closed;
2. the reducer itself (strict), so a bundle ``validate`` calls OK is one ``reduce`` accepts —
   whatever only replay can see (a model item without a string ``type``, an unknown thread) is
   reported with its file and line.

A mistake both passes see is reported once, in the reducer's words (``errors`` holds the shared
headlines). Nothing here looks at clocks or modification times: a writer that runs behind
writes payloads after the wall time stamped on the line citing them, and a copied bundle has
new mtimes, so timing says nothing about whether the bundle is sound. Every file is read through
the confined reader (``confined.BundleFiles``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import orjson

from ..model import codec, layout
from ..model import serde_errors as serde
from ..model.events import RawPayloadRef
from ..model.serde_read import exact_zeros
from . import errors as words
from .bundle import EVENT_LOG, MANIFEST, Bundle, Progress, end_check_error
from .confined import BundleFileError, BundleFiles, line_limit
from .errors import ReduceError
from .liveness import OpenLogs, log_is_live
from .schemas import event_gate_text, manifest_gate_text


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
    #: the log holds events but no ``recording_completed``: its recorder was killed or
    #: stopped, or is still writing (not damage: ``reduce`` reads what it holds)
    unclosed: bool = False
    #: ... (or the log is still empty) and its recorder holds the log's lock: it is still
    #: writing (``liveness``); ``None``: this system cannot tell (no lock to look at)
    recording: bool | None = False
    #: the strict reducer refused the bundle ...
    refused: bool = False
    #: ... with what lenient reduction passes over (a last line cut mid-write, ...)
    lenient_reads: bool = False
    #: the log's last line has no newline: cut mid-write, a recorder killed while writing
    #: (``ls`` says ``torn``)
    torn: bool = False
    #: schema 3: payloads the capture rules left out (no shard). Codex 0.171 omits them once
    #: ``rollout_trace.max_bytes`` is spent, and ends the log at the first event that no
    #: longer fits: an unclosed bundle with some may have run out of budget, not been killed
    omitted: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


@attrs.frozen
class _Citation:
    payload_id: str
    path: str
    line: int
    seq: int
    ref: dict[str, Any] = attrs.field(eq=False)


def _where(ref: dict[str, Any]) -> str | None:
    """Where a reference says its payload is: schema 2's ``path``; schema 3's shard, or
    ``template``/``capture`` for a payload kept as parts or not kept at all."""
    path = ref.get("path")
    if isinstance(path, str):
        return path
    if "shard" in ref:
        return f"shard {ref['shard']}"
    if "parts" in ref:
        return "template"
    if "capture" in ref:
        return "capture"
    return None


def _refs(value: Any) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every payload reference inside an event, wherever the variant keeps it."""
    if isinstance(value, dict):
        ident, where = value.get("raw_payload_id"), _where(value)
        if isinstance(ident, str) and where is not None and "kind" in value:
            yield ident, where, value
            return
        for item in value.values():
            yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _captures(ref: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(payload id, capture status) of a reference and its parts (a template's) that a
    capture limit cut or left out: only those carry a ``capture`` (v3.md, capture limits)."""
    capture = ref.get("capture")
    status = capture.get("status") if isinstance(capture, dict) else None
    if isinstance(status, str) and isinstance(ref.get("raw_payload_id"), str):
        yield ref["raw_payload_id"], status
    parts = ref.get("parts")
    for part in parts if isinstance(parts, list) else ():
        if isinstance(part, dict):
            yield from _captures(part)


def _said(error: ReduceError, *, seq: bool = True) -> str:
    """A reducer error on one line: Codex's headline, its cause, and the seq when known (for
    a payload's file, with the line citing it: :func:`_cited`, as pass 1 says it)."""
    text = error.message if error.cause is None else f"{error.message}: {error.cause}"
    if error.seq is None or not seq:
        return text
    if error.log_line is not None:
        return f"{text} {_cited(error.log_line, error.seq)}"
    return f"{text} (seq {error.seq})"


def _cited(line: int, seq: int) -> str:
    """Where a payload problem was cited from: its file leads the problem, the event log's
    line and the event's seq follow (one style whichever pass found it: pass 1 said
    "(cited at trace.jsonl line 12)", the reducer's words "(seq 9)")."""
    return f"(cited at {EVENT_LOG} line {line}, seq {seq})"


class _Validator:
    def __init__(self, root: Path, progress: Progress | None = None) -> None:
        self.root = root
        self.progress = progress
        self.display = str(root).rstrip("/") or "/"
        self.report = Report(self.display)
        self.log = f"{self.display}/{EVENT_LOG}"
        self.files = BundleFiles(root, display=self.display)
        self.citations: dict[str, _Citation] = {}
        self.open_threads: dict[str, int] = {}
        self.open_turns: dict[str, int] = {}
        self.last_type: str | None = None
        #: the line of the log's ``rollout_started`` (a writer starts the log with it, once)
        self.rollout_started: int | None = None
        self.seen_rollout_ended = False
        self.seen_recording_completed = False
        self.schema: int | None = None
        #: where the ``warning`` protocol events' payloads are (a loss report is one)
        self.warnings: list[str] = []
        #: payload id → its capture status, for each one a capture limit cut or left out
        self.captured: dict[str, str] = {}

    def problem(self, file: str, line: int | None, message: str) -> None:
        self.report.problems.append(Problem(file, line, message))

    # --- manifest ----------------------------------------------------------------------------

    def manifest(self) -> str | None:
        path = f"{self.display}/{MANIFEST}"
        try:
            raw = self.files.read_bytes(MANIFEST, what="manifest")
        except BundleFileError as exc:
            self.problem(path, None, f"read {path}: {exc.cause}")
            return None
        try:
            manifest = codec.manifest_from_bytes(raw)
        except (orjson.JSONDecodeError, codec.DecodeError) as exc:
            self.problem(path, None, f"read {path}: {serde.manifest_error(raw) or exc}")
            return None
        self.schema = manifest.schema_version
        if manifest.schema_version not in layout.SUPPORTED_SCHEMAS:
            self.problem(path, None, manifest_gate_text(manifest.schema_version, self.root))
            return None  # the reducer's pass says the rest, in Codex's words
        if manifest.raw_event_log != EVENT_LOG:
            self.problem(
                path, None, f"raw_event_log is {manifest.raw_event_log!r}, not {EVENT_LOG!r}"
            )
        if manifest.payloads_dir != layout.PAYLOADS_DIR:
            self.problem(
                path,
                None,
                f"payloads_dir is {manifest.payloads_dir!r}, not {layout.PAYLOADS_DIR!r}",
            )
        if raw.endswith(b"\n") or codec.manifest_bytes(manifest) != raw:
            self.problem(path, None, "not in Codex's layout (2-space JSON, no trailing newline)")
        return manifest.rollout_id

    # --- events ------------------------------------------------------------------------------

    def events(self, rollout_id: str | None) -> None:
        try:
            handle = self.files.open(EVENT_LOG, what=f"trace event log {self.log}")
        except BundleFileError as exc:
            self.problem(self.log, None, f"{exc.message}: {exc.cause}")
            return
        expected = 1
        with handle:
            # a regular file to the size it had when opened, as the reducer reads it (see
            # ``bundle._lines``): a recording still running is checked as it stood, not chased
            limit, read, number = line_limit(handle), 0, 0
            while limit < 0 or read < limit:
                try:
                    raw = handle.readline()
                except OSError as exc:
                    self.problem(self.log, number + 1, f"{words.read_line(number + 1)}: {exc}")
                    break
                if not raw:
                    break
                read += len(raw)
                number += 1
                expected = self.line(number, raw, rollout_id, expected)
        if self.report.events == 0:
            what = "the log is empty" if number == 0 else "no line is an event"
            self.problem(
                self.log, None, f"no events: {what} (a recording starts with rollout_started)"
            )

    def line(self, number: int, raw: bytes, rollout_id: str | None, expected: int) -> int:
        """Check one line; returns the seq expected next (resynchronised after a gap)."""
        if self.schema is None:  # no readable manifest: the lines follow the first one's schema
            self.schema = _line_schema(raw)
        schema = self.schema
        if not raw.strip():
            self.problem(self.log, number, "blank line (the writer never writes one)")
            return expected
        if not raw.endswith(b"\n"):
            self.report.torn = True
            self.problem(self.log, number, "last line has no newline (torn write?)")
        try:
            obj = orjson.loads(raw)
            event = codec.event_from_dict(obj, schema, raw)
        except (orjson.JSONDecodeError, codec.DecodeError) as exc:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                self.problem(self.log, number, f"{words.read_line(number)}: {words.NOT_UTF8}")
                return expected
            cause = serde.event_line_error(raw, schema)
            if cause is None:  # serde accepts what orjson cannot hold (big numbers, deep skips)
                try:
                    obj = serde.event_line_read(raw, schema)
                    with exact_zeros():  # its variant indexes were judged on the text
                        event = codec.event_from_dict(obj, schema)
                except (ValueError, codec.DecodeError) as again:
                    cause = str(again)
            if cause is not None:
                self.problem(self.log, number, f"{words.parse_line(number)}: {cause or exc}")
                return expected
        self.report.events += 1
        if event.schema_version != schema:
            self.problem(self.log, number, event_gate_text(schema, event.schema_version, number))
        if self.seen_recording_completed:
            self.problem(self.log, number, words.AFTER_COMPLETED)
        if event.seq != expected:
            self.problem(
                self.log, number, f"{words.missing_or_reordered(expected)} (seq {event.seq})"
            )
        if rollout_id is not None and event.rollout_id != rollout_id:
            self.problem(self.log, number, words.OTHER_ROLLOUT)
        self.track(number, event.seq, obj)
        return event.seq + 1

    def track(self, number: int, seq: int, obj: dict[str, Any]) -> None:
        payload = obj["payload"]
        kind = payload["type"]
        if self.last_type is None and kind != "rollout_started":
            self.problem(self.log, number, f"the first event is {kind}, not rollout_started")
        if kind == "rollout_started":
            if self.rollout_started is not None:
                self.problem(
                    self.log, number, f"a second rollout_started (line {self.rollout_started})"
                )
            else:
                self.rollout_started = number
        self.last_type = kind
        for ident, where, ref in _refs(payload):
            self.cite(ident, where, number, seq, ref)
            for part, status in _captures(ref):
                self.captured.setdefault(part, status)
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
        elif kind == "protocol_event_observed" and payload.get("event_type") == "warning":
            path = _where(payload.get("event_payload") or {})
            if path is not None:
                self.warnings.append(path)

    def cite(self, ident: str, path: str, number: int, seq: int, ref: dict[str, Any]) -> None:
        earlier = self.citations.get(ident)
        if earlier is None:
            self.citations[ident] = _Citation(ident, path, number, seq, ref)
        elif earlier.path != path:
            self.problem(
                self.log,
                number,
                f"{ident} names {path!r}, but line {earlier.line} named {earlier.path!r}",
            )

    # --- payloads ----------------------------------------------------------------------------

    def payloads(self) -> None:
        """Each cited payload exists, is a regular file inside the bundle, and is complete
        JSON — the writer's promise is that it is on disk before any line cites it."""
        if self.schema == layout.SCHEMA_3:
            self.shard_payloads()
            return
        cited: set[str] = set()
        for citation in sorted(self.citations.values(), key=lambda c: c.line):
            self.report.payloads += 1
            cited.add(citation.path.lstrip("./"))
            shown = self.files.shown(citation.path)
            where = _cited(citation.line, citation.seq)
            try:
                raw = self.files.read_bytes(citation.path, what=f"payload {citation.payload_id}")
            except BundleFileError as exc:
                self.problem(shown, None, f"{exc.message}: {exc.cause} {where}")
                continue
            error = end_check_error(raw)
            if error is not None:
                verb, cause = error
                self.problem(shown, None, f"{verb} payload {citation.payload_id}: {cause} {where}")
        self.orphans(cited)

    def shard_payloads(self) -> None:
        """Schema 3: each cited payload's record is whole in its shard (a template's parts
        too); a payload the capture rules left out has nothing to read."""
        converter = codec.converter_for(layout.SCHEMA_3)
        try:
            bundle = Bundle.open(self.root)
        except ReduceError:  # no readable manifest: said already; shards are read through it
            self.report.notes.append("shard payloads not checked: the manifest is unreadable")
            return
        # a template's parts are payloads of their own (Codex registers each in
        # ``raw_payloads``): each record is looked up on its own, so a shard cut short names
        # every record it lost (the template's read stopped at the first: its own record, a
        # crash-cut shard's last records being a response and its items), then the template is
        # read whole
        registered: set[str] = set()
        said: set[str] = set()
        try:
            for citation in sorted(self.citations.values(), key=lambda c: c.line):
                where = _cited(citation.line, citation.seq)
                registered.add(citation.payload_id)
                try:
                    ref = converter.structure(citation.ref, RawPayloadRef)
                    if self.records_lost(bundle, ref, registered, said, where):
                        continue
                    if ref.shard is not None or ref.parts is not None:
                        bundle.read_payload_bytes(ref)
                except ReduceError as exc:
                    # a template whose parts sit in a shard already said to be unreadable
                    # (missing, not zstd) fails for that reason: said once, not per citation
                    text = _said(exc)
                    if text not in said:
                        said.add(text)
                        self.problem(exc.file or self.log, None, f"{text} {where}")
                except Exception as exc:  # cattrs wraps a malformed reference in its own types
                    self.problem(self.log, citation.line, f"malformed payload reference: {exc}")
        finally:
            bundle.close()
        self.report.payloads += len(registered)

    def records_lost(
        self, bundle: Bundle, ref: RawPayloadRef, registered: set[str], said: set[str], where: str
    ) -> bool:
        """Look up the record of ``ref`` and of each of its parts not looked up before (a
        truncated one too: its record holds what was kept); say each that is missing (a shard
        that cannot be read, once). Whether any was."""
        shards = bundle.shards
        assert shards is not None  # schema 3: its payloads are in shards
        lost = False
        for each in ref.walk():
            if each.raw_payload_id in registered and each is not ref:
                continue
            registered.add(each.raw_payload_id)
            if each.shard is None:  # omitted by the capture rules: nothing stored
                self.report.omitted += 1
                continue
            try:
                shards.record(each.raw_payload_id, each.shard)
            except ReduceError as exc:
                lost = True
                text = _said(exc)
                if text not in said:
                    said.add(text)
                    self.problem(exc.file or self.log, None, f"{text} {where}")
        return lost

    def orphans(self, cited: set[str]) -> None:
        try:
            names = self.files.list_dir(layout.PAYLOADS_DIR, what="payloads directory")
        except BundleFileError:
            return
        orphans = [name for name in names if f"{layout.PAYLOADS_DIR}/{name}" not in cited]
        if not orphans:
            return
        if self.events_dropped():
            # with overflow="drop" a payload is queued, then the event citing it finds the
            # queue full: both reducers read past it, and the loss report counts the event
            self.report.notes.append(
                f"{len(orphans)} payload files not cited by any event: the recorder's loss "
                "report says it dropped events"
            )
            return
        trail = [] if self.seen_recording_completed else _trail(orphans, cited)
        trailing = set(trail)
        for name in orphans:
            if name not in trailing:
                self.problem(f"{self.display}/payloads/{name}", None, "not cited by any event")
        if trail:
            # the writer's promise (payload on disk before the line citing it) leaves these
            # when it is stopped in between: one problem that says so, not one per file
            many = len(trail) > 1
            span = f"{trail[0]} to {trail[-1]}" if many else trail[0]
            files = f"{len(trail)} payload files" if many else "1 payload file"
            self.problem(
                f"{self.display}/payloads",
                None,
                f"{files} not cited by any event ({span}): the recording "
                "was not closed, and its writer puts each payload on disk before the line "
                "citing it, so a stop in between leaves the last ones uncited (the reducers "
                "read past them)",
            )

    def events_dropped(self) -> bool:
        """Whether a ``warning`` of the log is our recorder's loss report of dropped events."""
        for where in self.warnings:
            try:
                body = orjson.loads(self.files.read_bytes(where, what="payload"))
            except (BundleFileError, orjson.JSONDecodeError):
                continue
            message = body.get("message") if isinstance(body, dict) else None
            found = layout.LOSS_REPORT.match(message) if isinstance(message, str) else None
            if found is not None and int(found[1]) > 0:
                return True
        return False

    # --- closing -----------------------------------------------------------------------------

    def closing(self) -> None:
        if self.report.events == 0:
            return
        if self.captured and self.seen_recording_completed:  # else its unclosed line says so
            statuses = list(self.captured.values())
            said = ", ".join(
                f"{statuses.count(status)} {status}"
                for status in sorted(set(statuses))  # omitted, truncated
            )
            self.report.notes.append(
                f"payloads cut by a capture limit ({said}): the reducers say "
                "closed_with_partial_payloads; what was cut is not in the bundle"
            )
        for thread_id, line in self.open_threads.items():
            self.problem(self.log, line, f"thread {thread_id} started here never ended")
        for turn_id, line in self.open_turns.items():
            self.problem(self.log, line, f"turn {turn_id} started here never ended")
        if not self.seen_rollout_ended:
            self.problem(self.log, None, "no rollout_ended event")
        if not self.seen_recording_completed:
            self.report.unclosed = True
            self.problem(self.log, None, "no recording_completed event (recording not closed)")
        elif self.last_type != "recording_completed":
            self.problem(self.log, None, "recording_completed is not the last event")

    # --- the reducer's own checks ------------------------------------------------------------

    def replay(self) -> None:
        """Run the strict reducer. Its refusal is a problem; when pass 1 already reported one
        at the same file and line, the reducer's words replace pass 1's (one mistake, one
        wording: ``reduce``'s)."""
        from .replay import reduce_bundle

        try:
            reduce_bundle(self.root, progress=self.progress)
        except ReduceError as exc:
            self.report.refused = True
            self.report.lenient_reads = exc.lenient_skips
            file = exc.file if exc.file is not None else self.log
            found = Problem(file, exc.line, _said(exc))
            problems = self.report.problems
            same = [i for i, p in enumerate(problems) if (p.file, p.line) == (file, exc.line)]
            if not same:
                problems.append(found)
                return
            # every pass-1 word on that spot gives way (a torn last line was reported twice:
            # "no newline" became the reducer's words beside pass 1's own parse error)
            if exc.line is None:
                # a file's several payloads: each problem stands, the reducer's words in place
                # of the one about its payload (else first). Pass 1 may name the same damage
                # with another verb ("invalid payload X: cause" where a handler's parse says
                # "parse payload X: cause"): what follows the verb decides.
                said = _object(_said(exc, seq=False))
                about = [i for i in same if _object(problems[i].message).startswith(said)]
                if about:
                    problems[about[0]] = found
                else:
                    problems.insert(same[0], found)
                return
            problems[same[0]] = found
            for index in reversed(same[1:]):
                del problems[index]


def validate_bundle(
    path: str | Path, *, progress: Progress | None = None, held: OpenLogs | None = None
) -> Report:
    """Check every writer promise of the bundle at ``path``, then replay it; never raises for
    bad input.

    Args:
        path: the bundle directory.
        progress: told how far the replay (the long part) has read trace.jsonl.
        held: the command's one ``/proc`` scan, for a command checking many bundles.

    Returns:
        A :class:`Report`; ``report.ok`` means no problem was found and the bundle reduces.
    """
    root = Path(path)
    validator = _Validator(root, progress)
    if not root.is_dir():
        validator.problem(validator.display, None, "not a bundle directory")
        return validator.report
    live = log_is_live(root, held=held)  # asked first: a writer closing meanwhile leaves it whole
    with validator.files:
        rollout_id = validator.manifest()
        if validator.schema in (None, *layout.SUPPORTED_SCHEMAS):
            validator.events(rollout_id)
            validator.payloads()
            validator.closing()
            if validator.report.unclosed or validator.report.events == 0:
                # an empty log too: a recorder that has written nothing yet (on a busy
                # service its first write can come seconds after the bundle is made)
                validator.report.recording = live
        validator.replay()
    return validator.report


def _object(message: str) -> str:
    """A message without its first word, the verb: ``payload raw_payload:4: EOF ...``."""
    return message.partition(" ")[2]


def _line_schema(raw: bytes) -> int:
    """The schema an event line says it follows (2 when it says nothing either reads)."""
    try:
        version = orjson.loads(raw).get("schema_version")
    except (orjson.JSONDecodeError, AttributeError):
        return layout.SCHEMA_2
    return version if version in layout.SUPPORTED_SCHEMAS else layout.SCHEMA_2


def _trail(orphans: list[str], cited: set[str]) -> list[str]:
    """The uncited payload files numbered after every cited one (``N.json``), in order: what
    a writer stopped between a payload and the line citing it leaves."""
    last = max((_number(path.removeprefix(f"{layout.PAYLOADS_DIR}/")) for path in cited), default=0)
    after = [name for name in orphans if _number(name) > last]
    return sorted(after, key=_number)


def _number(name: str) -> int:
    """``12.json`` → 12; -1 for a name that is not a number (never part of a trail)."""
    number = layout.payload_file_number(name)
    return -1 if number is None else number
