"""Whether a bundle's recorder is still writing it: ``recording`` versus ``unclosed``.

A log without ``recording_completed`` is either still being written or was left by a writer
that is gone (killed, crashed, its machine lost). The bundle's bytes cannot tell the two apart,
and the format stays Codex's: instead our recorder holds an exclusive ``flock`` on its open
``trace.jsonl`` from creation to close (``record._files.lock_log``), which the kernel drops with
the process. A reader asks for a shared lock without waiting: refused means a writer holds the
log. Nothing here blocks, raises, or reads outside the log the caller already opens.

What the lock cannot see: a log written by another program (Codex itself) or on a system
without ``fcntl`` (Windows) or a filesystem that refuses ``flock`` (some NFS and FUSE mounts)
has no lock. On NFS, where Linux emulates ``flock`` with byte-range locks, a probe from the
recorder's own process does not see its lock.

Codex takes no lock, but keeps its ``trace.jsonl`` open for writing while its session runs
(0.169 write-only, 0.171 read-write): :func:`log_is_held_open` looks for such a descriptor
in ``/proc`` (Linux). :func:`log_is_live` asks both, and is what every reader asks (``ls``,
``show``, ``summary``, ``validate``, ``view``, ``export``): a bundle Codex is writing reads
``recording``, as one our recorder writes does, not ``unclosed`` as if Codex had crashed
(review status49); ``show --follow`` waits through a model answer slower than its quiet time
rather than say the writer is gone (review follow48). The scan sees only the processes this
user may look into, and costs a ``readlink`` per open descriptor on the machine (only those
naming a ``trace.jsonl`` are followed, and matched by device and inode): it is made only for
a log with no lock whose last line is not ``recording_completed``, and once per command for a
command reading many bundles (:class:`OpenLogs`). Without ``/proc`` (other systems) nothing
is scanned, and such a log reads ``unclosed`` as before.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import Final, TypeAlias

from .._flock import fcntl_module
from ..model.layout import EVENT_LOG

__all__ = [
    "HeldLogs",
    "OpenLogs",
    "log_fd_is_written",
    "log_is_held_open",
    "log_is_live",
    "log_is_written",
    "logs_held_open",
]


def log_fd_is_written(fd: int) -> bool | None:
    """``True`` when a writer holds the lock on the log open as ``fd`` (a regular file the
    caller opened), ``False`` when none does, ``None`` when this system cannot tell (no
    ``fcntl``, a filesystem without locks). A shared lock is taken and dropped at once, never
    waited for."""
    fcntl = fcntl_module()
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # no locks on this filesystem: nothing to tell
        return None
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def log_is_written(bundle: str | os.PathLike[str]) -> bool | None:
    """:func:`log_fd_is_written` for ``bundle``'s ``trace.jsonl``: a regular file, opened
    without following a symlink and without blocking (never a FIFO or a device); ``None``
    when it cannot be opened."""
    if fcntl_module() is None:
        return None
    try:
        fd = os.open(
            Path(bundle) / EVENT_LOG, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
        )
    except OSError:
        return None
    try:
        return log_fd_is_written(fd) if stat.S_ISREG(os.fstat(fd).st_mode) else None
    except OSError:
        return None
    finally:
        os.close(fd)


#: Where Linux shows each process's open descriptors (``fd``) and their open flags (``fdinfo``).
_PROC = Path("/proc")

#: The logs processes hold open for writing, by their file's ``(st_dev, st_ino)``: the process
#: and descriptor found holding each (the first found).
HeldLogs: TypeAlias = dict[tuple[int, int], tuple[str, str]]

#: The end of the log read to tell a closed one (its last line ``recording_completed``).
_CLOSED_TAIL: Final = 4096


def logs_held_open() -> HeldLogs | None:
    """Every event log (a ``trace.jsonl``) a process holds open for writing, in one ``/proc``
    scan; ``None`` when this system has no ``/proc`` (then nothing is read). A command asking of
    many bundles (``ls`` over a root) looks each up here rather than scanning once a bundle.
    Only descriptors whose link names a ``trace.jsonl`` are followed: a ``stat`` of every file
    open on the machine could block on a hung network mount."""
    if not (_PROC / "self" / "fdinfo").is_dir():
        return None
    try:
        pids = [pid for pid in os.listdir(_PROC) if pid.isdigit()]
    except OSError:
        return None
    suffix = os.sep + EVENT_LOG
    held: HeldLogs = {}
    for pid in pids:
        fds = f"{_PROC}/{pid}/fd"
        try:
            names = os.listdir(fds)
        except OSError:  # gone, or not ours to look into
            continue
        for name in names:
            link = f"{fds}/{name}"
            try:
                if not os.readlink(link).endswith(suffix):
                    continue
                info = os.stat(link)
            except OSError:
                continue
            if _writes(pid, name):
                held.setdefault((info.st_dev, info.st_ino), (pid, name))
    return held


class OpenLogs:
    """:func:`logs_held_open` scanned once, when first asked: one scan for a whole command,
    and none when no bundle it reads needs it (all closed, or locked by our recorder)."""

    def __init__(self) -> None:
        self._held: HeldLogs | None = None
        self._scanned = False

    def holds(self, log: os.stat_result) -> bool | None:
        """Whether a process holds the log whose ``stat`` is ``log`` open for writing
        (``None``: no ``/proc`` to tell)."""
        if not self._scanned:
            self._held = logs_held_open()
            self._scanned = True
        if self._held is None:
            return None
        return (log.st_dev, log.st_ino) in self._held


def log_is_held_open(
    bundle: str | os.PathLike[str],
    seen: list[tuple[str, str]] | None = None,
    held: OpenLogs | None = None,
) -> bool | None:
    """``True`` when a process holds ``bundle``'s ``trace.jsonl`` open for writing (Codex's
    writer, which takes no lock; a reader's read-only descriptor does not count), ``False``
    when none this user may look into does, ``None`` when this system has no ``/proc`` to
    tell or the log cannot be read (or is no regular file: a symlink is not followed).
    Nothing is opened but ``/proc``'s own files.

    Args:
        bundle: the bundle directory.
        seen: keeps the descriptor found (its process and number), looked at first the next
            time: a follower asks every quarter second while Codex waits for its model, and
            then looks at one descriptor rather than every one on the machine.
        held: the command's one scan (:class:`OpenLogs`), asked instead of a scan of its
            own: a command reading many bundles (``validate ROOT``, ``export ROOT``).
    """
    try:
        # a regular file, not followed through a symlink: as every reader (which refuses
        # to read it) and the lock and tail probes (``validate`` said a log it refused was
        # being recorded: review49); the directories above it may be links
        if not stat.S_ISREG(os.lstat(Path(bundle) / EVENT_LOG).st_mode):
            return None
        path = os.path.realpath(Path(bundle) / EVENT_LOG)
        log = os.stat(path)
    except OSError:
        return None
    if held is not None:
        return held.holds(log)
    if seen:
        if _holds(log, path, *seen[0]):
            return True
        seen.clear()
    scanned = logs_held_open()
    if scanned is None:
        return None
    found = scanned.get((log.st_dev, log.st_ino))
    if found is not None and seen is not None:
        seen.append(found)
    return found is not None


def log_is_live(
    bundle: str | os.PathLike[str],
    seen: list[tuple[str, str]] | None = None,
    held: OpenLogs | None = None,
) -> bool | None:
    """Whether a writer is at ``bundle``'s log now: ours holds its lock
    (:func:`log_is_written`), Codex holds it open for writing (:func:`log_is_held_open`).
    ``None`` when neither can be told here. ``/proc`` is scanned only for a log without a lock
    whose last line is not ``recording_completed`` (a closed log stays closed: whoever holds
    it, no reader calls it ``recording``).

    Args:
        bundle: the bundle directory.
        seen: as :func:`log_is_held_open`'s (a reader asking again and again).
        held: as :func:`log_is_held_open`'s (a command asking of many bundles).
    """
    written = log_is_written(bundle)
    if written is True or _ends_closed(Path(bundle) / EVENT_LOG):
        return written
    holder = log_is_held_open(bundle, seen, held)
    if holder is True:
        return True
    return written if written is not None else holder


def _ends_closed(log: Path) -> bool:
    """Whether the log's last line names ``recording_completed`` (read from its last bytes:
    a regular file, never followed through a symlink nor waited on)."""
    try:
        fd = os.open(log, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return False
        tail = os.pread(fd, _CLOSED_TAIL, max(0, info.st_size - _CLOSED_TAIL))
    except OSError:
        return False
    finally:
        os.close(fd)
    return b'"recording_completed"' in tail.rstrip().rpartition(b"\n")[2]


def _holds(log: os.stat_result, path: str, pid: str, fd: str) -> bool:
    """Whether descriptor ``fd`` of process ``pid`` is the log (``log``: its ``stat``; ``path``:
    its real path), opened for writing. The descriptor's link is read first and only one
    naming ``path`` is followed: a ``stat`` of every file open on the machine could block on
    a hung network mount."""
    link = _PROC / pid / "fd" / fd
    try:
        if os.readlink(link) != path:
            return False
        held = os.stat(link)
    except OSError:
        return False
    return (held.st_dev, held.st_ino) == (log.st_dev, log.st_ino) and _writes(pid, fd)


def _writes(pid: str, fd: str) -> bool:
    """Whether descriptor ``fd`` of process ``pid`` was opened for writing (its ``fdinfo``
    flags' access mode: ``O_WRONLY`` or ``O_RDWR``)."""
    try:
        info = (_PROC / pid / "fdinfo" / fd).read_text()
    except OSError:
        return False
    for line in info.splitlines():
        if line.startswith("flags:"):
            return (int(line.split()[1], 8) & os.O_ACCMODE) in (os.O_WRONLY, os.O_RDWR)
    return False
