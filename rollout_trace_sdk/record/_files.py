"""The only code that touches the disk for a bundle: create it, append lines, store payloads.

Everything here is blocking and runs either once at creation (``create_bundle``) or inside the
writer's worker thread. Traces hold prompts and model outputs, so directories are ``0700`` and
files ``0600``, and nothing is ever opened without ``O_EXCL``: a bundle is never reused or
overwritten. Tests replace :func:`write_payload_file` / :func:`append_lines` to simulate a
full or failing disk.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._flock import fcntl_module
from .._private_dirs import make_private_dirs
from ..model import layout
from ._deferred import LazyBody, render

if TYPE_CHECKING:
    from ._shards import ShardSink

DIR_MODE: Final = layout.PRIVATE_DIR_MODE
FILE_MODE: Final = layout.PRIVATE_FILE_MODE
_NEW_FILE: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
#: A schema-2 line's reference to a payload file (its ``path``), the number captured.
_CITED_PAYLOAD: Final = re.compile(
    rb'"' + re.escape(layout.PAYLOADS_DIR.encode()) + rb'/([0-9]+)\.json"'
)
#: A schema-3 line's reference to a shard record (its ``raw_payload_id``), the ordinal captured.
_CITED_RECORD: Final = re.compile(
    rb'"raw_payload_id":"' + re.escape(layout.RAW_PAYLOAD_PREFIX.encode()) + rb'([0-9]+)"'
)

#: A bundle's payload folder: its path, or (the writer's) a descriptor of the folder itself.
PayloadsDir = str | int


#: A queued payload file: (ordinal, pretty JSON bytes).
QueuedPayload = tuple[Any, "bytes | LazyBody"]


#: Longer than any payload file or shard name the writer makes (10-digit ordinals).
_LONGEST_NAME: Final = "9999999999.json"


def create_bundle(bundle_dir: Path, manifest: bytes) -> int:
    """Make ``bundle_dir`` (its parents too) with ``payloads/`` and ``manifest.json``; return a
    file descriptor for appending to ``trace.jsonl``.

    Raises ``FileExistsError`` when the bundle directory already exists: two recorders must
    never interleave into one log. On any other failure (a full disk, no file descriptor
    left) what was made of the bundle is removed again, so no half-made bundle (a folder with
    no manifest, or a manifest with no log) is left for ``reduce`` and ``export`` to trip
    on, and the ``OSError`` propagates.
    """
    make_private_dirs(bundle_dir.parent)
    os.mkdir(bundle_dir, DIR_MODE)
    try:
        os.chmod(bundle_dir, DIR_MODE)  # mkdir's mode is filtered through the umask
        payloads = bundle_dir / layout.PAYLOADS_DIR
        os.mkdir(payloads, DIR_MODE)
        os.chmod(payloads, DIR_MODE)
        # the longest name the writer makes there must fit the system's path length: under a
        # root just short of PATH_MAX every payload write failed (ENAMETOOLONG), and the
        # recording stopped with its first chunk
        with contextlib.suppress(FileNotFoundError):
            os.lstat(payloads / _LONGEST_NAME)
        _write_new(bundle_dir / layout.MANIFEST, manifest)
        return os.open(bundle_dir / layout.EVENT_LOG, _NEW_FILE | os.O_APPEND, FILE_MODE)
    except OSError:
        unmake_bundle(bundle_dir)
        raise


def unmake_bundle(bundle_dir: Path, fd: int | None = None) -> None:
    """Remove what :func:`create_bundle` made of ``bundle_dir`` (closing the log's ``fd``
    first, when given), so a bundle whose writer could not be set up leaves no folder for
    ``ls``, ``validate`` and ``export`` to call damaged. Never raises; a file it did not
    make (payloads already written) keeps its folder."""
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
    for made in (layout.SPACE_RESERVE, layout.EVENT_LOG, layout.MANIFEST, layout.PAYLOADS_DIR, ""):
        path = bundle_dir / made if made else bundle_dir
        with contextlib.suppress(OSError):
            (os.rmdir if made in (layout.PAYLOADS_DIR, "") else os.unlink)(path)


#: What a bundle holds back for its closing records (:func:`make_reserve`): the loss report's
#: payload (a file or a new shard: a block or two), the redaction report, the closing lines,
#: and in schema 3 the compressed bytes a failed write kept and the shard's seal.
RESERVE_BYTES: Final = 64 << 10


def make_reserve(where: PayloadsDir) -> bool:
    """Hold :data:`RESERVE_BYTES` of the disk in the bundle's ``layout.SPACE_RESERVE`` file
    (in the worker thread, with the first chunk). ``where``: the bundle's path, or a
    descriptor of its payload folder (``open_folder``), which finds the bundle wherever it
    was moved: by its path, a root moved aside before the first chunk left the rollout
    without a reserve, and a bundle swapped for a symlink put it where no close removed it.

    Why: a disk that fills mid-rollout used to take the loss report with it. Its payload
    needs a new file or shard block, which a full disk refuses, while the closing lines
    still fitted in the log's last block: the bundle read ``complete`` and said nothing of
    what it lost (6 of 20 schema-2 rollouts filling a 3 MB tmpfs; review scale33 saw it too). Freed
    as the rollout closes, before its reports, seals and last line (:func:`release_reserve`;
    after a failure, before the last attempt), the room is there for
    it. Blocks really allocated (``posix_fallocate``; random bytes where there is no such
    call, as a compressing filesystem would store zeros in no room at all).

    Returns:
        Whether the room is held (not when the disk is already full: nothing is left then).
    """
    path, dir_fd = _reserve_at(where)
    try:
        fd = os.open(path, _NEW_FILE, FILE_MODE, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        try:
            os.posix_fallocate(fd, 0, RESERVE_BYTES)
        except (AttributeError, OSError) as exc:  # no such call here (macOS), or no room
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise
            _write_all(fd, os.urandom(RESERVE_BYTES))
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(path, dir_fd=dir_fd)
        return False
    finally:
        os.close(fd)
    return True


def _reserve_at(where: PayloadsDir) -> tuple[str, int | None]:
    """The reserve of the bundle ``where`` (its path, or a descriptor of its payload folder):
    a path and the ``dir_fd`` it is relative to (or ``None``)."""
    if isinstance(where, int):
        return os.path.join(os.pardir, layout.SPACE_RESERVE), where
    return os.path.join(where, layout.SPACE_RESERVE), None


def release_reserve(bundle_dir: str, folder: PayloadsDir | None = None) -> None:
    """Free the room :func:`make_reserve` held (before the closing records after a failure,
    or at close). Never raises: a reserve that cannot be removed is left in the bundle.
    ``folder``, a descriptor of the bundle's payload folder, finds the bundle wherever it
    was moved (its path left 64 KiB in every bundle moved with its root; review user37)."""
    with contextlib.suppress(OSError):
        path, dir_fd = _reserve_at(folder if isinstance(folder, int) else bundle_dir)
        os.unlink(path, dir_fd=dir_fd)


def lock_log(fd: int) -> bool | None:
    """Take the writer's lock on ``trace.jsonl`` (``fd``): an exclusive ``flock`` held as long as
    the descriptor is open, so ``ls``, ``summary``, ``show``, ``validate`` and the viewer can
    tell a log still being written (``recording``) from one whose writer is gone (killed or
    crashed: the kernel drops the lock with the process). The bundle's bytes are unchanged.

    Never blocks (``LOCK_NB``) and never raises. ``True``: held. ``False``: another process
    holds it this instant (a reader's probe; see ``reduce.liveness``): try again later.
    ``None``: no lock here (no ``fcntl`` on Windows, a filesystem that refuses ``flock``):
    readers then say ``unclosed``, as before.

    The lock belongs to the open file description: a forked child's copy of the descriptor
    keeps it only until the child closes that copy (the writer's fork handler does, at once),
    and ``O_CLOEXEC`` drops it from any program the process runs."""
    fcntl = fcntl_module()
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except (OSError, ValueError):  # NFS without locks, FUSE; a closed descriptor (-1)
        return None
    return True


def make_room_for_files() -> None:
    """Raise this process's soft limit on open files to its hard limit, once.

    Each open rollout keeps its log and payload folder open, and a schema-3 one its current
    shard too: an RL
    loop running a thousand rollouts at once in one process needs three thousand descriptors,
    and the usual soft limit is 1,024 (the hard one is most often far higher). Past it, the
    bundles that could not open a file lost what they recorded. Raising the soft limit up to
    the hard one is what any process may do; a process whose hard limit is the soft one
    keeps it, and then the writer's retries and loss counts are what remain."""
    global _ROOM_MADE
    if _ROOM_MADE:
        return
    _ROOM_MADE = True
    try:
        import resource
    except ImportError:  # not a POSIX system
        return
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = hard if hard != resource.RLIM_INFINITY else _UNLIMITED_FILES
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):  # a limit the system refuses (macOS caps it): keep it
        return


_ROOM_MADE = False
#: The soft limit asked for when the hard one is unlimited.
_UNLIMITED_FILES: Final = 1 << 16


def _write_new(path: Path | str, data: bytes) -> None:
    fd = os.open(path, _NEW_FILE, FILE_MODE)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes | bytearray | memoryview) -> int:
    """Write every byte (``os.write`` may write less); return how many made it on failure
    too, through the exception's ``written`` attribute."""
    view = memoryview(data)
    done = 0
    while done < len(view):
        try:
            done += os.write(fd, view[done:])
        except OSError as exc:
            exc.written = done  # type: ignore[attr-defined]
            raise
    return done


def open_folder(path: str) -> PayloadsDir:
    """A descriptor of the folder ``path`` to make files in, else ``path`` itself.

    Why: a traces root moved aside under a running service (``mv traces traces.old``, log
    rotation) takes its open bundles along; their open log follows, but a payload file made
    by its path was made under the old name, which no longer exists, and every open
    schema-2 rollout stopped at its next payload (review user37: 20 of 20). Made relative to
    the folder's descriptor, it lands in the bundle wherever it now is."""
    if os.open not in os.supports_dir_fd:
        return path
    try:
        return os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
    except OSError:
        return path


def _in(folder: PayloadsDir, name: str) -> tuple[str, int | None]:
    """``name`` in ``folder``: a path and the ``dir_fd`` it is relative to (or ``None``)."""
    if isinstance(folder, int):
        return name, folder
    return os.path.join(folder, name), None


def sync(log_fd: int, payloads_dir: PayloadsDir) -> None:
    """Durable mode's checkpoint: the log's content and the payload folder's entries reach
    the disk (payload files were each fsynced when written)."""
    os.fsync(log_fd)
    if isinstance(payloads_dir, int):
        os.fsync(payloads_dir)
        return
    fd = os.open(payloads_dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_payload_file(
    payloads_dir: PayloadsDir, ordinal: int, data: bytes, *, synced: bool = False
) -> None:
    """Store payload ``ordinal`` as ``payloads/<ordinal>.json`` (complete before returning;
    ``synced``: fsynced too, durable mode). A file left half-written by a failure is
    removed, so a retry can create it afresh."""
    path, dir_fd = _in(payloads_dir, layout.payload_file_name(ordinal))
    fd = os.open(path, _NEW_FILE, FILE_MODE, dir_fd=dir_fd)
    try:
        _write_all(fd, data)
        if synced:
            os.fsync(fd)
    except OSError:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path, dir_fd=dir_fd)
        raise
    os.close(fd)


def append_lines(fd: int, data: bytes | bytearray | memoryview) -> int:
    """Append whole lines to ``trace.jsonl``. On failure the ``OSError`` carries ``written``
    (bytes that reached the file), so the caller can cut a torn last line."""
    return _write_all(fd, data)


def truncate(fd: int, size: int) -> None:
    """Cut ``trace.jsonl`` back to ``size`` bytes (drops a torn last line after a failure)."""
    os.ftruncate(fd, size)


def close(fd: int) -> None:
    os.close(fd)


def unlinked(fd: int) -> bool:
    """Whether the file open as ``fd`` has no name left (its bundle was removed while it
    was written: every write still succeeds, into a file nobody will read). Never raises."""
    try:
        return os.fstat(fd).st_nlink == 0
    except OSError:
        return False


@attrs.define
class Chunk:
    """What one worker-thread call writes, and how far it got."""

    payloads: list[QueuedPayload]
    lines: bytes | bytearray
    first_seq: int
    line_count: int
    #: applied to each payload's bytes before it is written (the depth cap, redaction)
    repair: Callable[[bytes], bytes] | None = None
    #: applied once to the lines before the first byte of them is written (redaction)
    filter_lines: Callable[[bytearray], bytes | bytearray] | None = None
    #: durable mode: fsync each payload file as it is written (every chunk: a turn's payloads
    #: are mostly written before the checkpoint that syncs the log citing them)
    durable: bool = False
    #: a durable checkpoint: fsync the log and the folder once the chunk is in
    sync: bool = False
    #: the first chunk of a bundle: make its space reserve first (the bundle's folder, or a
    #: descriptor of its payload folder: ``make_reserve``); ``reserved`` says whether it was
    reserve: PayloadsDir | None = None
    reserved: bool = False
    payloads_done: int = 0
    lines_done: int = 0
    bytes_done: int = 0
    error: Exception | None = None


def write_chunk(chunk: Chunk, payloads_dir: PayloadsDir, log_fd: int, log_size: int) -> None:
    """Runs in the worker thread: the chunk's payload files first, then its lines, so no line
    reaches the log before the payloads it cites. Records how far it got instead of raising,
    and cuts a torn last line off the log (``log_size`` is its length before this chunk).

    Resumable: called again after a failure it goes on where the last call stopped (the
    writer retries transient errors this way)."""
    chunk.error = None
    _take_room(chunk)
    _filter_lines(chunk)
    try:
        repair = chunk.repair
        for ordinal, queued in chunk.payloads[chunk.payloads_done :]:
            data = render(queued)  # long strings of a payload are escaped here
            data = data if repair is None else repair(data)
            if chunk.durable:
                write_payload_file(payloads_dir, ordinal, data, synced=True)
            else:
                write_payload_file(payloads_dir, ordinal, data)
            chunk.payloads_done += 1
        if chunk.bytes_done < len(chunk.lines):
            append_lines(log_fd, memoryview(chunk.lines)[chunk.bytes_done :])
            chunk.bytes_done = len(chunk.lines)
            chunk.lines_done = chunk.line_count
        if chunk.sync:
            sync(log_fd, payloads_dir)
    except OSError as exc:
        chunk.error = exc
        if chunk.payloads_done == len(chunk.payloads):
            _keep_whole_lines(chunk, getattr(exc, "written", 0), log_fd, log_size)
        else:
            _write_lines_before_missing(chunk, log_fd, log_size)


def _keep_whole_lines(chunk: Chunk, written: int, log_fd: int, log_size: int) -> None:
    """Count the whole lines of the ``written`` bytes a failed append left, and cut the torn
    one after them off the log."""
    if not written:
        return
    start = chunk.bytes_done
    last = chunk.lines.rfind(b"\n", start, start + written)
    if last >= 0:
        chunk.lines_done += chunk.lines.count(b"\n", start, last + 1)
        chunk.bytes_done = last + 1
    if start + written != chunk.bytes_done:
        with contextlib.suppress(OSError):
            truncate(log_fd, log_size + chunk.bytes_done)


def _write_lines_before_missing(
    chunk: Chunk,
    log_fd: int,
    log_size: int,
    missing: set[int] | None = None,
    cited: re.Pattern[bytes] = _CITED_PAYLOAD,
) -> None:
    """A payload file failed: append the chunk's lines up to the first that cites a payload
    not written, which cite nothing missing.

    Why: a chunk holds everything queued since the last write (up to 4,096 records), so a
    rollout that records its start and a large tool output before the writer first runs
    has them in one chunk. The lines waited for every payload, and one payload past a file
    size limit (``EFBIG``: ``RLIMIT_FSIZE``, a filesystem's largest file) or a full disk
    lost all of them: the bundle held its loss report alone, no ``rollout_started``, no
    thread (review ops41: 17 of 19 events of a schema-2 rollout). Called again (a retry of
    a transient error), :func:`write_chunk` goes on after these lines. Schema 3 gives the
    records not whole on disk as ``missing`` (their ordinals) and its references' pattern."""
    if missing is None:
        missing = {ordinal for ordinal, _ in chunk.payloads[chunk.payloads_done :]}
    start = chunk.bytes_done
    end = start
    lines = chunk.lines
    while end < len(lines):
        stop = lines.find(b"\n", end)
        if stop < 0:
            break
        if any(int(number) in missing for number in cited.findall(lines, end, stop)):
            break
        end = stop + 1
    if end == start:
        return
    try:
        append_lines(log_fd, memoryview(lines)[start:end])
    except OSError as exc:
        _keep_whole_lines(chunk, getattr(exc, "written", 0), log_fd, log_size)
        return
    chunk.lines_done += lines.count(b"\n", start, end)
    chunk.bytes_done = end


def _take_room(chunk: Chunk) -> None:
    """The bundle's space reserve, with its first chunk (once, before anything of it)."""
    if chunk.reserve is not None:
        chunk.reserved = make_reserve(chunk.reserve)
        chunk.reserve = None


def _filter_lines(chunk: Chunk) -> None:
    """Redact the chunk's lines (once: a retry resumes in the redacted bytes)."""
    line_filter = chunk.filter_lines
    if line_filter is not None and isinstance(chunk.lines, bytearray):
        chunk.filter_lines = None
        chunk.lines = line_filter(chunk.lines)


def write_records(chunk: Chunk, sink: ShardSink, seal_below: int = 0) -> bool:
    """Schema 3: the chunk's records into their shards (redacted, cut and compressed here,
    in the worker thread). Records the error instead of raising (and returns ``False``). A
    shard sink that failed once fails again rather than storing records twice."""
    records = chunk.payloads
    chunk.error = None
    _take_room(chunk)
    try:
        if chunk.payloads_done < len(records):
            sink.write(records[chunk.payloads_done :])
            chunk.payloads_done = len(records)
        # what a write error left unwritten (a disk full for a moment) goes first: no line
        # may cite a record, or a shard after one, that is not whole on disk (a retry resumes)
        sink.settle()
        if seal_below:
            sink.seal_below(seal_below)
        if chunk.sync:
            sink.fsync()
    except OSError as exc:
        chunk.error = exc
        return False
    return True


def write_chunk_v3(
    chunk: Chunk, sink: ShardSink, log_fd: int, log_size: int, seal_below: int = 0
) -> None:
    """Schema 3's :func:`write_chunk`: the chunk's records into their shards (compressed
    here, in the worker thread), then its lines. A shard sink that failed once fails again
    rather than storing records twice, so a retry only retries the lines.

    Records the disk refused (``EFBIG``, a full disk) leave the lines before the first that
    cites one of them to be written: they waited for every record of the chunk, and a large
    tool output past the limit left the bundle its loss report alone (review ops41)."""
    if not write_records(chunk, sink, seal_below):
        _filter_lines(chunk)
        sink.seal_finished()
        missing = sink.missing(chunk.payloads, chunk.payloads_done)
        _write_lines_before_missing(chunk, log_fd, log_size, missing, _CITED_RECORD)
        return
    # the records are written: write_chunk only appends the lines (and, durable, syncs the
    # log and the shards' folder)
    write_chunk(chunk, sink.directory, log_fd, log_size)
