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
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from .._flock import fcntl_module
from ..model.layout import EVENT_LOG

__all__ = ["log_fd_is_written", "log_is_written"]


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
