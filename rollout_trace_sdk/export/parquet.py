"""Export many bundles to Parquet tables: list, fingerprint, reduce in parallel, record.

Layout of an export directory ``DIR``::

    DIR/_export.json                  the manifest: one entry per exported bundle
    DIR/<table>/<bundle key>.parquet  one part per bundle and non-empty table

One part per bundle (rather than one file per batch of bundles) is what makes re-running cheap
and exact: a bundle whose files changed gets its parts replaced and nobody else's are touched,
and any worker (a local process or a Ray task on another machine) writes only its own files;
the driver alone writes the manifest. A bundle's key is a hash of its source path or URL, its
fingerprint a hash of every file's relative path, size and modification time plus the export
options and ``TABLES_VERSION``; a bundle whose key and fingerprint match a successful entry is
skipped.

Each bundle is reduced by this package's reducer (strictly; with ``--lenient`` a bundle that
fails is reduced again leniently and exported as far as it goes), so a worker's memory is one
bundle's state at a time. Sources on other filesystems (``s3://``, ``gs://``, ``memory://``,
``file://``: anything fsspec opens) are copied to a temporary directory first, because the
reducer reads through confined local file descriptors.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import resource
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import attrs
import orjson

from ..model.layout import MANIFEST
from .schema import TABLE_NAMES, TABLES_VERSION, to_arrow
from .tables import build_rows, payload_row_batches

__all__ = ["BundleResult", "ExportOptions", "ExportSummary", "run_export"]

MANIFEST_NAME: Final = "_export.json"
#: Payload bodies (``--payload-text``) a worker holds before writing them as a row group.
_TEXT_BATCH_BYTES: Final = 16 << 20
_MANIFEST_VERSION: Final = 1


@attrs.frozen
class BundleSource:
    """One bundle to export, as listed by the driver."""

    #: absolute local path, or a URL fsspec understands
    url: str
    #: stable name of the bundle's parts (hash of ``url``)
    key: str
    #: hash of the bundle's files (paths, sizes, mtimes); changes when the bundle does
    fingerprint: str
    size_bytes: int
    remote: bool
    #: a reduced ``state.json`` rather than a bundle (no payload text)
    state_file: bool = False


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
    #: ``ok``, ``lenient`` (exported from a lenient reduction) or ``failed``
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
    listing_errors: list[str] = attrs.field(factory=list)
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


# --- listing -------------------------------------------------------------------------------------


def is_url(spec: str) -> bool:
    """Whether a source names an fsspec filesystem rather than a local path."""
    return "://" in spec


def _key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:24]


#: What ``_key`` makes: a manifest key names part files, so no other may be taken from one.
_KEY: Final = re.compile(r"[0-9a-f]{24}")


def _fingerprint(files: Iterable[tuple[str, int, Any]], stamp: str) -> tuple[str, int]:
    digest = hashlib.sha256(stamp.encode())
    total = 0
    for rel, size, mtime in sorted(files):
        digest.update(f"{rel}\0{size}\0{mtime}\n".encode())
        total += size
    return digest.hexdigest()[:32], total


def list_bundles(
    specs: Sequence[str], options: ExportOptions, errors: list[str]
) -> list[BundleSource]:
    """Every bundle named by ``specs``: a bundle directory, or a root searched for bundles
    (directories holding ``manifest.json``; a bundle's own subdirectories are not searched).

    Args:
        specs: local paths or fsspec URLs.
        options: the run's options (part of each fingerprint).
        errors: receives one line per source that cannot be listed.

    Returns:
        The bundles, deduplicated, in a stable order.
    """
    found: dict[str, BundleSource] = {}
    for spec in specs:
        try:
            listed = list(_list_url(spec, options) if is_url(spec) else _list_local(spec, options))
        except (OSError, ValueError, ImportError) as exc:
            errors.append(f"{spec}: cannot list: {_os_text(exc)}")
            continue
        if not listed:
            errors.append(f"{spec}: no bundle (no directory with {MANIFEST}) found")
        for source in listed:
            found.setdefault(source.key, source)
    return sorted(found.values(), key=lambda s: s.url)


def _os_text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def _list_local(spec: str, options: ExportOptions) -> Iterator[BundleSource]:
    # one bundle, one key: ``root/../root/b`` and a symlink to ``b`` name the same bundle
    root = Path(os.path.realpath(spec))
    if root.is_file():
        st = root.stat()
        fingerprint, size = _fingerprint([(root.name, st.st_size, st.st_mtime_ns)], options.stamp())
        yield BundleSource(str(root), _key(str(root)), fingerprint, size, False, state_file=True)
        return
    if not root.is_dir():
        raise OSError(2, "No such directory")
    for dirpath, dirnames, filenames in os.walk(root, onerror=None):
        dirnames.sort()
        if MANIFEST not in filenames:
            continue
        dirnames.clear()
        bundle = Path(dirpath)
        files = []
        for sub, _, names in os.walk(bundle):
            for name in names:
                path = Path(sub, name)
                try:
                    st = path.lstat()
                except OSError:
                    continue
                files.append((str(path.relative_to(bundle)), st.st_size, st.st_mtime_ns))
        fingerprint, size = _fingerprint(files, options.stamp())
        url = str(bundle)
        yield BundleSource(url, _key(url), fingerprint, size, remote=False)


def _mtime(info: dict[str, Any]) -> Any:
    """Whatever modification stamp this filesystem reports (names differ between backends)."""
    for name in ("mtime", "LastModified", "updated", "last_modified", "created", "ETag", "etag"):
        if info.get(name) is not None:
            return info[name]
    return None


def _list_url(spec: str, options: ExportOptions) -> Iterator[BundleSource]:
    from fsspec.core import url_to_fs

    fs, root = url_to_fs(spec)
    root = root.rstrip("/")
    infos: dict[str, dict[str, Any]] = fs.find(root, detail=True)
    if not infos:
        raise OSError(2, "No such directory")
    bundles = sorted(p.rsplit("/", 1)[0] for p in infos if p.rsplit("/", 1)[-1] == MANIFEST)
    outer = [b for b in bundles if not any(b.startswith(o + "/") for o in bundles if o != b)]
    for bundle in outer:
        prefix = bundle + "/"
        files = [
            (path[len(prefix) :], int(info.get("size") or 0), _mtime(info))
            for path, info in infos.items()
            if path.startswith(prefix)
        ]
        fingerprint, size = _fingerprint(files, options.stamp())
        url = fs.unstrip_protocol(bundle)
        yield BundleSource(url, _key(url), fingerprint, size, remote=True)


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


def _reduce(root: Path, lenient: bool, state_file: bool) -> tuple[Any, list[str], str | None]:
    """(state as JSON values or None, lenient notes, strict reduction's error)."""
    from ..reduce import ReduceError, reduce_bundle

    if state_file:
        from ..view.load import load_state

        try:
            return load_state(root), [], None
        except ReduceError as exc:
            return None, [], str(exc)

    try:
        return reduce_bundle(root).to_json(), [], None
    except ReduceError as exc:
        error = str(exc)
        if not lenient:
            return None, [], error
    notes: list[str] = []
    try:
        return reduce_bundle(root, lenient=True, skipped=notes).to_json(), notes, error
    except ReduceError as exc:
        return None, notes, f"{error} (lenient: {exc})"


def _write_tables(
    out: _OutputDir, root: Path, source: BundleSource, options: ExportOptions, reduced: Any
) -> dict[str, int]:
    """Write one bundle's parts; the rows written per table. ``reduced`` is ``_reduce``'s
    (state, notes, strict error). Payload bodies (``--payload-text``) are read as their part
    is written, a batch at a time, not all held at once."""
    state, notes, error = reduced
    tables = build_rows(state, source=source.url, lenient=error is not None, notes=notes)
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


def export_bundle(source: BundleSource, options: ExportOptions) -> BundleResult:
    """Reduce one bundle and write its parts; never raises for a bad bundle.

    Args:
        source: the bundle.
        options: output directory and options.

    Returns:
        The outcome: rows written per table, or the error that stopped it.
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    rows: dict[str, int] = {}
    notes: list[str] = []
    error: str | None = None
    status = "failed"
    out: _OutputDir | None = None
    state = None
    try:
        with _local_copy(source) as root:
            state, notes, error = _reduce(root, options.lenient, source.state_file)
            out = _OutputDir(options.to)
            out.remove_parts(source.key)
            if state is not None:
                rows = _write_tables(out, root, source, options, (state, notes, error))
                status = "ok" if error is None else "lenient"
    except OSError as exc:
        error = f"{exc.filename or source.url}: {_os_text(exc)}"
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
    )


class _OutputDir:
    """The export directory, local or on any fsspec filesystem."""

    def __init__(self, to: str) -> None:
        from fsspec.core import url_to_fs

        self.fs, root = url_to_fs(to)
        self.root = root.rstrip("/")
        if self.fs.exists(self.root) and not self.fs.isdir(self.root):
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory", to)

    def part(self, table: str, key: str) -> str:
        return f"{self.root}/{table}/{key}.parquet"

    def remove_parts(self, key: str) -> None:
        for table in TABLE_NAMES:
            path = self.part(table, key)
            if self.fs.exists(path):
                self.fs.rm(path)

    def write_part(self, table: str, key: str, batches: Iterable[Any]) -> None:
        """Write Arrow tables (a row group each) through a dot-file and rename, so readers
        never see half a part."""
        import pyarrow.parquet as pq

        from .schema import arrow_schema

        final = self.part(table, key)
        temp = f"{self.root}/{table}/{_temp_name(key, os.getpid())}"
        self.fs.makedirs(f"{self.root}/{table}", exist_ok=True)
        with (
            self.fs.open(temp, "wb") as f,
            pq.ParquetWriter(f, arrow_schema(table), compression="zstd") as writer,
        ):
            for batch in batches:
                writer.write_table(batch)
        self.fs.mv(temp, final)

    def remove_stale_temps(self) -> int:
        """Remove the dot-files of parts a killed run was writing (``.KEY.PID.tmp`` of a
        process no longer alive), on a local directory; how many. A remote filesystem's are
        left: whose process wrote them cannot be told from here."""
        protocol = self.fs.protocol
        if "file" not in (protocol if isinstance(protocol, tuple) else (protocol,)):
            return 0
        removed = 0
        for table in TABLE_NAMES:
            try:
                names = os.listdir(f"{self.root}/{table}")
            except OSError:
                continue
            for name in names:
                temp = _TEMP_NAME.fullmatch(name)
                if temp is not None and not _alive(int(temp.group(1))):
                    with contextlib.suppress(OSError):
                        os.remove(f"{self.root}/{table}/{name}")
                        removed += 1
        return removed

    def read_manifest(self) -> dict[str, Any]:
        path = f"{self.root}/{MANIFEST_NAME}"
        if not self.fs.exists(path):
            return {}
        with self.fs.open(path, "rb") as f:
            raw = f.read()
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return {}  # unreadable: export everything again (each bundle's parts are replaced)
        if not isinstance(data, dict) or data.get("version") != _MANIFEST_VERSION:
            return {}
        bundles = data.get("bundles")
        if not isinstance(bundles, dict):
            return {}
        # a key with a path in it ("../../x") would have --prune remove files outside DIR
        return {key: entry for key, entry in bundles.items() if _KEY.fullmatch(key)}

    def write_manifest(self, bundles: dict[str, Any]) -> None:
        self.fs.makedirs(self.root, exist_ok=True)
        temp = f"{self.root}/.{MANIFEST_NAME}.tmp"
        body = {"version": _MANIFEST_VERSION, "tables_version": TABLES_VERSION}
        with self.fs.open(temp, "wb") as f:
            f.write(orjson.dumps({**body, "bundles": bundles}, option=orjson.OPT_INDENT_2))
        self.fs.mv(temp, f"{self.root}/{MANIFEST_NAME}")


#: A part being written: ``.KEY.PID.tmp`` (renamed to ``KEY.parquet`` when whole).
_TEMP_NAME: Final = re.compile(r"\..+\.([0-9]+)\.tmp")


def _temp_name(key: str, pid: int) -> str:
    return f".{key}.{pid}.tmp"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (or cannot be signalled: then it is taken to run)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _entry(result: BundleResult) -> dict[str, Any]:
    return {
        "source": result.source,
        "fingerprint": result.fingerprint,
        "status": result.status,
        "error": result.error,
        "notes": list(result.notes),
        "rows": result.rows,
        "size_bytes": result.size_bytes,
    }


# --- the driver ----------------------------------------------------------------------------------

Runner = Callable[[list[BundleSource], ExportOptions, int], Iterator[BundleResult]]


def run_export(
    specs: Sequence[str],
    options: ExportOptions,
    *,
    jobs: int = 0,
    engine: str = "process",
    on_result: Callable[[BundleResult], None] | None = None,
    prune: bool = False,
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

    Returns:
        What was exported, skipped and could not be listed. The bundles to export lose
        their manifest entries before any of their files change; the manifest is saved every
        64 bundles and at the end, so an interrupted run keeps what it finished and the next
        one redoes the rest.
    """
    started = time.perf_counter()
    summary = ExportSummary()
    sources = list_bundles(specs, options, summary.listing_errors)
    out = _OutputDir(options.to)
    manifest = out.read_manifest()
    out.remove_stale_temps()
    if prune and not summary.listing_errors:
        listed = {source.key for source in sources}
        for key in [key for key in manifest if key not in listed]:
            out.remove_parts(key)
            del manifest[key]
            summary.pruned += 1
        if summary.pruned:
            out.write_manifest(manifest)
    todo = []
    for source in sources:
        entry = manifest.get(source.key)
        entry = entry if isinstance(entry, dict) else {}
        done = entry.get("status") in ("ok", "lenient")
        if done and entry.get("fingerprint") == source.fingerprint:
            summary.skipped += 1
        else:
            todo.append(source)
    if todo:
        # their files change from now on: not done until each is again (a run killed midway
        # must not leave an entry that says a half-rewritten bundle is exported)
        for source in todo:
            manifest.pop(source.key, None)
        out.write_manifest(manifest)
    jobs = jobs if jobs > 0 else (os.cpu_count() or 1)
    runner: Runner
    if engine == "ray":
        from .ray_engine import run_ray

        runner = run_ray
    else:
        from .process_engine import run_processes

        runner = run_processes
    try:
        for n, result in enumerate(runner(todo, options, jobs), start=1):
            summary.exported.append(result)
            manifest[result.key] = _entry(result)
            if on_result is not None:
                on_result(result)
            if n % 64 == 0:
                out.write_manifest(manifest)
    finally:
        if summary.exported or not manifest:
            out.write_manifest(manifest)
    summary.seconds = time.perf_counter() - started
    return summary
