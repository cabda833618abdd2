"""Export many bundles to Parquet tables: reduce each bundle in a worker, record the run.

A worker writes one part per bundle and table: a bundle whose files changed gets its parts
replaced and nobody else's are touched, and any worker (a local process or a Ray task on
another machine) writes only its own files. Small bundles go to workers in batches whose rows
go straight into packs instead (:mod:`.jobs`, :mod:`.packs`: a part is ~10 KB of footer
whatever its rows, and an RL run's 100,000 episodes would be 700,000 files); the parts of
the others are merged into packs by workers too. The driver alone writes the manifest, and
takes a bundle out of its pack before it is exported again. The
bundles come from :mod:`.listing` (key and fingerprint: a hash of the files plus the export
options and ``TABLES_VERSION``); the parts and the manifest live in :mod:`.export_dir`. A
bundle whose key and fingerprint match a successful manifest entry is skipped.

Each bundle is reduced by this package's reducer (strictly; with ``--lenient`` a bundle that
fails is reduced again leniently and exported as far as it goes), so a worker's memory is one
bundle's state at a time. Sources on other filesystems (``s3://``, ``gs://``, ``memory://``,
``file://``: anything fsspec opens) are copied to a temporary directory first, because the
reducer reads through confined local file descriptors.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, Protocol

import attrs

from ..reduce.liveness import OpenLogs, log_is_live
from ..view.capture import recording_status
from ..view.error_texts import put_tool_errors
from ..view.load import annotate_from_log
from ..view.reports import recorder_reports
from . import packs
from .export_dir import EXPORTED, PACK_FIELD, ExportDir, other_version
from .listing import BundleSource, is_url, list_bundles, os_text, refusal
from .lock import ExportBusy, Holder
from .schema import TABLES_VERSION, to_arrow
from .tables import build_rows, payload_row_batches

__all__ = ["BundleResult", "ExportBusy", "ExportOptions", "ExportSummary", "Holder", "run_export"]

#: Payload bodies (``--payload-text``) a worker holds before writing them as a row group.
_TEXT_BATCH_BYTES: Final = 16 << 20


@attrs.frozen
class ExportOptions:
    """What every worker needs to know (picklable: it travels to processes and Ray tasks)."""

    to: str
    lenient: bool = False
    payload_text: bool = False

    def stamp(self) -> str:
        """The options that change a bundle's rows, folded into its fingerprint.

        Returns:
            A short text naming the tables' version and those options.
        """
        return f"v{TABLES_VERSION}:lenient={self.lenient}:payload_text={self.payload_text}"


@attrs.frozen
class BundleResult:
    """What a worker reports for one bundle (small: the rows went to Parquet)."""

    key: str
    source: str
    fingerprint: str
    #: ``ok``, ``lenient`` (exported from a lenient reduction) or ``failed``; in the
    #: manifest also ``recording`` (left for a later run, see ``ExportSummary.recording``)
    status: str
    error: str | None
    notes: tuple[str, ...]
    rows: dict[str, int]
    size_bytes: int
    seconds: float
    #: CPU time this bundle took in its worker (on a shared machine, wall time is not)
    cpu_seconds: float
    pid: int
    max_rss_kb: int
    #: refused where lenient reduction reads on (a kill's cut last line): the command line
    #: says what ``--lenient`` does; ``error`` stays the reducer's words, as the manifest keeps it
    lenient_reads: bool = False
    #: the pack its worker wrote its rows into with other small bundles' (:mod:`.jobs`);
    #: None: its own parts
    pack: str | None = None
    #: exported from a log never closed (``rollouts.recording_status`` ``unclosed``: its
    #: recorder killed or crashed): the command line names such bundles
    unclosed: bool = False

    @classmethod
    def failed(cls, source: BundleSource, error: str) -> BundleResult:
        """A bundle its engine could not export (a worker died; its parts, if any, are
        removed by the next run).

        Args:
            source: the bundle.
            error: why, as the run reports it.

        Returns:
            A ``failed`` result with no rows.
        """
        return cls(
            key=source.key,
            source=source.url,
            fingerprint=source.fingerprint,
            status="failed",
            error=error,
            notes=(),
            rows={},
            size_bytes=source.size_bytes,
            seconds=0.0,
            cpu_seconds=0.0,
            pid=0,
            max_rss_kb=0,
        )


@attrs.define
class ExportSummary:
    """The driver's account of one run."""

    exported: list[BundleResult] = attrs.field(factory=list)
    skipped: int = 0
    #: sources of earlier runs removed (``prune``)
    pruned: int = 0
    #: bundles of earlier runs not among the sources, exported again for this tables version
    upgraded: int = 0
    #: sources of earlier runs of another tables version that could not be listed again
    stale: list[str] = attrs.field(factory=list)
    #: bundles earlier runs exported from under a root this run listed, gone from it since
    #: (moved or deleted): their rows stay, counted again if moved, until ``prune``
    gone: list[str] = attrs.field(factory=list)
    listing_errors: list[str] = attrs.field(factory=list)
    #: bundles this run merged into packs (its own and earlier runs')
    packed: int = 0
    #: bundles forgotten because a file their manifest entry names was missing (a directory
    #: changed by hand): exported again when a run is given their source
    repaired: int = 0
    #: local bundles whose recorder still held their log: not exported this run (half
    #: written), each in the manifest as ``recording``; a later run exports them finished
    recording: list[str] = attrs.field(factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[BundleResult]:
        """The bundles this run could not export."""
        return [r for r in self.exported if r.status == "failed"]

    @property
    def bytes_exported(self) -> int:
        """The bundles' bytes this run read (exported or failed)."""
        return sum(r.size_bytes for r in self.exported)

    def max_rss_kb_by_pid(self) -> dict[int, int]:
        """Peak resident memory of each worker process that exported something.

        Returns:
            Worker pid -> its peak resident set in KiB.
        """
        peaks: dict[int, int] = {}
        for r in self.exported:
            peaks[r.pid] = max(peaks.get(r.pid, 0), r.max_rss_kb)
        return peaks


# --- the worker ----------------------------------------------------------------------------------


@contextmanager
def _local_copy(source: BundleSource) -> Iterator[Path]:
    """The bundle as a local directory (a temporary copy for a remote source)."""
    if not source.remote:
        yield Path(source.url)
        return
    from fsspec.core import url_to_fs

    fs, root = url_to_fs(source.url)
    temp = Path(tempfile.mkdtemp(prefix="rollout-export-"))
    try:
        for path in fs.find(root):
            rel = path[len(root.rstrip("/")) + 1 :]
            target = temp / "bundle" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(path, str(target))
        yield temp / "bundle"
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _reduce(
    root: Path, lenient: bool, source: BundleSource
) -> tuple[Any, list[str], str | None, bool]:
    """(state as JSON values or None, lenient notes, strict reduction's error, whether a
    refusal is one lenient reduction reads past); ``root`` is the source, or a remote
    source's local copy, whose path the error gives as the source's URL."""
    from ..reduce import ReduceError, reduce_bundle

    shown = source.url
    if source.state_file:
        from ..view.load import load_state

        try:
            return load_state(root), [], None, False
        except ReduceError as exc:
            return None, [], refusal(exc, root, shown), False

    try:
        return reduce_bundle(root).to_json(), [], None, False
    except ReduceError as exc:
        error = refusal(exc, root, shown)
        if not lenient:
            return None, [], error, exc.lenient_skips
    notes: list[str] = []
    try:
        return reduce_bundle(root, lenient=True, skipped=notes).to_json(), notes, error, False
    except ReduceError as exc:
        return None, notes, f"{error} (lenient: {refusal(exc, root, shown)})", False


class PartSink(Protocol):
    """Where a bundle's rows go: its parts (:class:`.export_dir.ExportDir`), or a batch's
    pack (:mod:`.jobs`)."""

    def write_part(self, table: str, key: str, batches: Iterable[Any]) -> None: ...


def _write_tables(
    out: PartSink, root: Path, source: BundleSource, options: ExportOptions, reduced: Any
) -> dict[str, int]:
    """Write one bundle's parts; the rows written per table. ``reduced`` is ``_reduce``'s
    (state, notes, strict error). Payload bodies (``--payload-text``) are read as their part
    is written, a batch at a time, not all held at once."""
    state, notes, error = reduced
    reports: list[str] = []
    if not source.state_file:  # a state file's were put in as it was read (view.load)
        # one pass over the log: the error texts, the guardrails table's rows,
        # rollouts.metadata, threads.spawned_by_tool_call_id and tool_calls.approval
        annotate_from_log(state, root, checkpoints=False)
        put_tool_errors(root, state)
        reports = recorder_reports(root)
    tables = build_rows(
        state, source=source.url, lenient=error is not None, notes=notes, reports=reports
    )
    reader = None
    if options.payload_text and tables["raw_payloads"] and not source.state_file:
        from ..view.payloads import PayloadReader

        reader = PayloadReader(root)
    rows: dict[str, int] = {}
    try:
        for name, table_rows in tables.items():
            rows[name] = len(table_rows)
            batches: Iterable[list[Any]] = [table_rows] if table_rows else []
            if name == "raw_payloads" and table_rows and options.payload_text:
                read = reader.read_or_reason if reader is not None else _no_body
                batches = payload_row_batches(
                    state, source=source.url, payload_text=read, max_bytes=_TEXT_BATCH_BYTES
                )
            if table_rows:
                out.write_part(name, source.key, (to_arrow(name, b) for b in batches))
    finally:
        if reader is not None:
            reader.close()
    return rows


def _no_body(ref: Any) -> str:
    """``raw_payloads.text_unread`` of a state file's payloads."""
    return "a state file: the bodies are in its bundle"


def export_bundle(
    source: BundleSource, options: ExportOptions, sink: PartSink | None = None
) -> BundleResult:
    """Reduce one bundle and write its parts; never raises for a bad bundle.

    Args:
        source: the bundle.
        options: output directory and options.
        sink: where its rows go instead of its parts (a batch's pack; its old parts are
            removed all the same).

    Returns:
        The outcome: rows written per table, or the error that stopped it.
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    rows: dict[str, int] = {}
    notes: list[str] = []
    error: str | None = None
    lenient_reads = False
    status = "failed"
    out: ExportDir | None = None
    state = None
    unclosed = False
    try:
        with _local_copy(source) as root:
            state, notes, error, lenient_reads = _reduce(root, options.lenient, source)
            out = ExportDir(options.to)
            out.remove_parts(source.key)
            if state is not None:
                rows = _write_tables(sink or out, root, source, options, (state, notes, error))
                unclosed = isinstance(state, dict) and recording_status(state) == "unclosed"
                status = "ok" if error is None else "lenient"
    except OSError as exc:
        error = f"{exc.filename or source.url}: {os_text(exc)}"
    except Exception as exc:  # a defect must not stop the other bundles; it is reported
        error = f"internal error: {type(exc).__name__}: {exc}"
    if status == "failed" and state is not None and out is not None:
        # stopped while writing: leave no half-exported bundle in the tables
        with contextlib.suppress(OSError):
            out.remove_parts(source.key)
        rows = {}
    return BundleResult(
        key=source.key,
        source=source.url,
        fingerprint=source.fingerprint,
        status=status,
        error=error,
        notes=tuple(notes),
        rows=rows,
        size_bytes=source.size_bytes,
        seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu_started,
        pid=os.getpid(),
        max_rss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        lenient_reads=lenient_reads,
        unclosed=unclosed,  # set only once the bundle's rows are written
    )


def manifest_entry(result: BundleResult) -> dict[str, Any]:
    """A bundle's manifest entry (the driver's record of its result)."""
    return {
        "source": result.source,
        "fingerprint": result.fingerprint,
        "status": result.status,
        "error": result.error,
        "notes": list(result.notes),
        "rows": result.rows,
        "size_bytes": result.size_bytes,
        "tables_version": TABLES_VERSION,
        **({PACK_FIELD: result.pack} if result.pack is not None else {}),
    }


def _gone(manifest: dict[str, Any], specs: Sequence[str], sources: list[BundleSource]) -> list[str]:
    """The local bundles earlier runs exported from under one of ``specs`` that are gone from
    the disk: their rows are still in the tables (a moved bundle's twice, under its new
    path too) until ``prune`` removes them, which the user should hear of. An entry with
    no rows (``failed``, ``recording``) is not one."""
    roots = [os.path.realpath(spec) for spec in specs if not is_url(spec)]
    listed = {source.key for source in sources}
    gone = []
    for key, entry in manifest.items():
        if key in listed or not isinstance(entry, dict) or entry.get("status") not in EXPORTED:
            continue
        source = entry.get("source")
        if not isinstance(source, str) or is_url(source):
            continue
        under = any(Path(source).is_relative_to(root) for root in roots)
        if under and not os.path.lexists(source):
            gone.append(source)
    return sorted(gone)


def _other_version_sources(
    manifest: dict[str, Any],
    sources: list[BundleSource],
    options: ExportOptions,
    summary: ExportSummary,
) -> list[BundleSource]:
    """The bundles earlier runs exported with another tables version that ``sources`` do not
    name: each is listed again from its recorded source, to be exported with the rest (their
    parts' columns differ from this version's, and a query over both would read one part's
    columns for all). One that cannot be listed (gone, or unreachable) is named in
    ``summary.stale``; ``query`` refuses the directory while it is there."""
    listed = {source.key for source in sources}
    found = []
    for key, entry in other_version(manifest).items():
        if key in listed:
            continue
        spec = str(entry.get("source"))
        again = [s for s in list_bundles([spec], options.stamp(), []) if s.key == key]
        if again:
            found.append(again[0])
            summary.upgraded += 1
        else:
            summary.stale.append(spec)
    return found


def _prepare(
    specs: Sequence[str], options: ExportOptions, out: ExportDir, prune: bool
) -> tuple[ExportSummary, dict[str, Any], list[BundleSource]]:
    """List the bundles, tidy ``out`` and take out of its manifest (saved) the bundles about to
    change; the run's summary so far, the manifest and the bundles to export. Run holding
    ``out``'s lock."""
    summary = ExportSummary()
    sources = list_bundles(specs, options.stamp(), summary.listing_errors)
    manifest = out.read_manifest()
    out.remove_stale_temps()
    summary.repaired = packs.tidy(out, manifest)
    before = dict(manifest)
    pruned = []
    if prune and not summary.listing_errors:
        listed = {source.key for source in sources}
        pruned = [key for key in manifest if key not in listed]
        for key in pruned:
            del manifest[key]
        summary.pruned = len(pruned)
    if not prune:
        summary.gone = _gone(manifest, specs, sources)
    sources += _other_version_sources(manifest, sources, options, summary)
    todo, recording = [], []
    held = OpenLogs()  # one /proc scan for the run, not one an unclosed bundle
    for source in sources:
        entry = manifest.get(source.key)
        entry = entry if isinstance(entry, dict) else {}
        done = entry.get("status") in EXPORTED and entry.get("tables_version") == TABLES_VERSION
        if done and entry.get("fingerprint") == source.fingerprint:
            summary.skipped += 1
        elif _being_recorded(source, held):
            recording.append(source)
        else:
            todo.append(source)
    if todo or pruned or recording:
        # their files change from now on: not done until each is again (a run killed midway
        # must not leave an entry that says a half-rewritten bundle is exported); out of the
        # packs they were in first, those packs written again without them
        for source in todo + recording:
            manifest.pop(source.key, None)
        dead = packs.leave(out, before, manifest)
        for source in recording:
            manifest[source.key] = manifest_entry(_still_recorded(source))
            summary.recording.append(source.url)
        out.write_manifest(manifest)
        packs.remove_packs(out, dead)
        for key in pruned + [source.key for source in recording]:
            out.remove_parts(key)
    return summary, manifest, todo


#: A ``recording`` manifest entry's error: why the bundle has no rows (yet).
STILL_RECORDED: Final = "still being recorded (its recorder holds the log): not exported yet"


def _being_recorded(source: BundleSource, held: OpenLogs) -> bool:
    """Whether a local bundle's recorder is still at its log (:mod:`..reduce.liveness`: ours
    holds its lock, Codex holds it open for writing): its rows would be a half-written
    rollout's, exported as if it were whole (an RL run exported every few minutes while its
    workers record). Remote bundles and state files cannot say;
    a ``file://`` URL is a local path spelled as a URL, and asked as one (review39).
    ``held``: the run's one ``/proc`` scan (one a bundle cost ~26 ms each: review49)."""
    if source.state_file:
        return False
    path = source.url
    if source.remote:
        scheme, sep, _ = path.partition("://")
        if not sep or scheme not in ("file", "local"):
            return False
        from fsspec.core import url_to_fs

        path = url_to_fs(path)[1]
    return log_is_live(path, held=held) is True


def _still_recorded(source: BundleSource) -> BundleResult:
    """A bundle this run leaves for a later one: status ``recording``, no rows."""
    return attrs.evolve(BundleResult.failed(source, STILL_RECORDED), status="recording")


def run_export(
    specs: Sequence[str],
    options: ExportOptions,
    *,
    jobs: int = 0,
    engine: str = "process",
    on_result: Callable[[BundleResult], None] | None = None,
    prune: bool = False,
    pack: bool = True,
    compact: bool = False,
    lock_timeout: float | None = None,
    on_wait: Callable[[Holder], None] | None = None,
) -> ExportSummary:
    """Export every bundle under ``specs`` to ``options.to``, skipping unchanged ones.

    Args:
        specs: bundle directories or roots, local paths or fsspec URLs.
        options: output directory and options.
        jobs: worker processes (``process`` engine) or tasks in flight (``ray``); 0 = CPUs.
        engine: ``process`` (a local process pool; 1 job runs in this process) or ``ray``.
        on_result: called in the driver for each bundle as it finishes.
        prune: remove the rows of every source an earlier run exported that ``specs`` no
            longer list (a bundle deleted, moved or renamed); not when a spec could not be
            listed (its bundles would look gone).
        pack: write small bundles into packs, in batches when 64 or more are exported, and
            merge loose bundles' parts into packs (:mod:`.packs`) as the run goes (every
            1,024 bundles) and at its end (64 loose bundles or more); False leaves one part
            per bundle and table, as a run before packs did.
        compact: at the end, merge every loose bundle and every pack under half
            ``packs.PACK_BYTES`` however few (``export --compact``).
        lock_timeout: seconds to wait for another export into a local ``options.to`` to end
            (None: as long as it takes; 0: refuse at once). The run holds the directory's
            lock (:mod:`.lock`: it dies with its holder) from before it reads the manifest
            until it saved it last, so two runs never save over each other's records; a
            remote directory has no lock (one run at a time is the caller's to ensure).
        on_wait: called once, with the other export, when this one has to wait for it.

    Returns:
        What was exported, skipped and could not be listed. The bundles to export lose
        their manifest entries before any of their files change; the manifest is saved every
        64 bundles and at the end, so an interrupted run keeps what it finished and the next
        one redoes the rest. Bundles earlier runs exported with another tables version are
        exported again too, from their recorded sources (``upgraded``; ``stale`` names those
        that can no longer be listed).

    Raises:
        ValueError: ``engine`` is neither ``process`` nor ``ray``.
        ExportBusy: another export held the directory for all of ``lock_timeout``; nothing
            was written.
    """
    if engine not in ("process", "ray"):  # any other name would run the pool, unsaid
        raise ValueError(f"engine must be 'process' or 'ray', not {engine!r}")
    started = time.perf_counter()
    out = ExportDir(options.to)
    # one export at a time: from before the manifest is read until it is saved last
    with out.lock(lock_timeout, on_wait):
        summary, manifest, todo = _prepare(specs, options, out, prune)
        from .jobs import drive

        # packs also when nothing changed: an export written before packs gets packed
        drive(todo, options, summary, out, manifest, (jobs, engine, on_result, pack, compact))
    summary.seconds = time.perf_counter() - started
    return summary
