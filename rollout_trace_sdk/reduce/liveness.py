"""Whether a bundle's recorder is still writing it: ``recording`` versus ``unclosed``.

A log without ``recording_completed`` is either still being written or was left by a writer
that is gone (killed, crashed, its machine lost). The bundle's bytes cannot tell the two apart,
and the format stays Codex's: instead our recorder holds an exclusive ``flock`` on its open
``trace.jsonl`` from creation to close (``record._files.lock_log``), which the kernel drops with
the process. A reader asks for a shared lock without waiting: refused means a writer holds the
log. Nothing here blocks, raises, or reads outside the log the caller already opens.

What this cannot see: a log written by another program (Codex itself) or on a system without
``fcntl`` (Windows) or a filesystem that refuses ``flock`` (some NFS and FUSE mounts) has no
lock, and reads ``unclosed`` as before. On NFS, where Linux emulates ``flock`` with byte-range
locks, a probe from the recorder's own process does not see its lock.

Codex takes no lock, but keeps its ``trace.jsonl`` open for writing while its session runs
(0.169 write-only, 0.171 read-write): :func:`log_is_held_open` looks for such a descriptor
in ``/proc`` (Linux), for ``show --follow`` to wait through a model answer slower than its
quiet time rather than say the writer is gone (review follow48). It sees only the processes
this user may look into, and costs a ``readlink`` per open descriptor on the machine (the
one naming the log alone is followed): asked only when a log without a lock has been quiet a
while. A writer in another mount namespace (a container) names the log otherwise and is not
seen: the follower ends as it did before.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from .._flock import fcntl_module
from ..model.layout import EVENT_LOG

__all__ = ["log_fd_is_written", "log_is_held_open", "log_is_written"]


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


def log_is_held_open(
    bundle: str | os.PathLike[str], seen: list[tuple[str, str]] | None = None
) -> bool | None:
    """``True`` when a process holds ``bundle``'s ``trace.jsonl`` open for writing (Codex's
    writer, which takes no lock; a reader's read-only descriptor does not count), ``False``
    when none this user may look into does, ``None`` when this system has no ``/proc`` to
    tell or the log cannot be read. Nothing is opened but ``/proc``'s own files.

    Args:
        bundle: the bundle directory.
        seen: keeps the descriptor found (its process and number), looked at first the next
            time: a follower asks every quarter second while Codex waits for its model, and
            then looks at one descriptor rather than every one on the machine.
    """
    try:
        path = os.path.realpath(Path(bundle) / EVENT_LOG)
        log = os.stat(path)
    except OSError:
        return None
    if not (_PROC / "self" / "fdinfo").is_dir():
        return None
    if seen:
        if _holds(log, path, *seen[0]):
            return True
        seen.clear()
    try:
        pids = [pid for pid in os.listdir(_PROC) if pid.isdigit()]
    except OSError:
        return None
    for pid in pids:
        try:
            names = os.listdir(_PROC / pid / "fd")
        except OSError:  # gone, or not ours to look into
            continue
        for name in names:
            if _holds(log, path, pid, name):
                if seen is not None:
                    seen.append((pid, name))
                return True
    return False


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
