"""One export at a time into a local export directory: an OS lock that dies with its holder.

Two exports into one ``DIR`` at once (an overlapping cron run, two shells, ``--engine ray``
beside a local run) each read the manifest, export, and save it whole: the last one saved
named only its own bundles, so the other's were lost from the record (and exported again by
the next run), and each removed files the other had written and not yet named (found by
review34). So the driver holds ``DIR/.export.lock`` with ``flock(LOCK_EX)`` from before it
reads the manifest until it has saved it for the last time (and removed the directory, when
it made it and exported nothing into it).

Why ``flock``: the kernel drops the lock when its holder's open file goes, however the
process ends (SIGKILL, out of memory, a power cut's reboot), so no lock is ever left behind
to be broken by hand, and no process ever breaks another's (a file that only exists, made
with ``O_EXCL``, outlives a killed holder; a pid in it can be reused). The lock file itself
stays (an empty directory's is removed with it, by its holder): a waiter that locked a file
since unlinked sees that its inode is no longer the path's and opens the path again. The
file's text names the holder (pid, start time) for a waiter's message; it is never trusted
for the lock itself. The descriptor is not inheritable (PEP 446), so worker processes do not
hold it (a killed driver's workers must not keep ``DIR`` locked).

Why wait rather than refuse: the second run's work is still wanted (a cron run that
overlapped the last one must not be lost), and once the first has ended the second reads the
manifest the first saved, so it skips what the first exported. ``apt`` waits for the dpkg lock
the same way, naming its holder. The wait says so at once, names the other export, and is
bounded by ``timeout`` (``--lock-timeout``; 0 refuses at once) or Ctrl-C; nothing is written
into ``DIR`` while waiting.

On an fsspec remote filesystem (``s3://``, ``gs://``, ``memory://``) there is no lock to take:
those exports run unlocked, as before (one at a time is the user's to ensure).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final

import attrs
import orjson

from .._private_dirs import make_private_dirs
from ..model.layout import EXPORT_LOCK, PRIVATE_FILE_MODE

__all__ = ["ExportBusy", "Holder", "alive", "export_lock", "holds_lock"]

#: How often a waiter tries the lock again (the holder's exit does not wake a poller).
_POLL_SECONDS: Final = 0.1


@attrs.frozen
class Holder:
    """The export holding a directory's lock, as its lock file names it (either may be
    unknown: a holder between taking the lock and writing its name)."""

    pid: int | None
    started: str | None

    def __str__(self) -> str:
        if self.pid is None:
            return "another export (not yet named)"
        return f"another export (pid {self.pid}, started {self.started or 'at an unknown time'})"


class ExportBusy(TimeoutError):
    """Another export holds the export directory's lock, and the wait for it ran out.

    Attributes:
        root: the export directory.
        holder: the export holding it.
        waited: the seconds this one waited (0: it refused at once).
    """

    def __init__(self, root: str, holder: Holder, waited: float) -> None:
        self.root, self.holder, self.waited = root, holder, waited
        super().__init__(f"{root}: {holder} is writing it (waited {waited:g} s)")


#: The directories this thread holds the lock of, and how deep (the CLI holds it around
#: ``run_export``, which takes it too). Per thread: another thread's ``flock`` on its own
#: open file waits as another process's does.
_held = threading.local()


def holds_lock(root: str) -> bool:
    """Whether this thread holds ``root``'s lock (its holder may remove the lock file).

    Args:
        root: a local export directory.

    Returns:
        True while inside :func:`export_lock` for it.
    """
    return os.path.realpath(root) in _depths()


@contextmanager
def export_lock(
    root: str,
    *,
    local: bool,
    timeout: float | None = None,
    on_wait: Callable[[Holder], None] | None = None,
) -> Iterator[None]:
    """Hold the lock of the export directory ``root`` (made if missing) while inside.

    Args:
        root: the export directory.
        local: whether ``root`` is on the local filesystem; else nothing is locked.
        timeout: seconds to wait for another export holding it (None: as long as it takes;
            0: not at all).
        on_wait: called once, with the other export, when this one has to wait.

    Raises:
        ExportBusy: another export held it for all of ``timeout``.
    """
    if not local:
        yield
        return
    key = os.path.realpath(root)
    depths = _depths()
    if key in depths:  # this thread holds it already
        depths[key] += 1
        try:
            yield
        finally:
            depths[key] -= 1
        return
    fd = _acquire(root, timeout, on_wait)
    depths[key] = 1
    try:
        yield
    finally:
        del depths[key]
        os.close(fd)  # the lock goes with the descriptor


def _depths() -> dict[str, int]:
    if not hasattr(_held, "depths"):
        _held.depths = {}
    depths: dict[str, int] = _held.depths
    return depths


def _acquire(root: str, timeout: float | None, on_wait: Callable[[Holder], None] | None) -> int:
    """The descriptor of ``root``'s lock file, locked, with this process named in it."""
    path = os.path.join(root, EXPORT_LOCK)
    started = time.monotonic()
    told = False
    while True:
        make_private_dirs(root)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE)
        try:
            while not _try_lock(fd):  # the same file all along: its holder's end frees it
                holder = _holder(fd)
                waited = time.monotonic() - started
                if timeout is not None and waited >= timeout:
                    raise ExportBusy(root, holder, timeout)
                if not told and on_wait is not None:
                    on_wait(holder)
                    told = True
                time.sleep(
                    _POLL_SECONDS if timeout is None else min(_POLL_SECONDS, timeout - waited)
                )
        except BaseException:
            os.close(fd)
            raise
        if _still_the_file(fd, path):
            _name_self(fd)
            return fd
        os.close(fd)  # its holder removed it (an empty export directory): open the path again


def _try_lock(fd: int) -> bool:
    """Lock ``fd``'s file if no one holds it; whether it is locked now."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _still_the_file(fd: int, path: str) -> bool:
    """Whether ``path`` is still the file ``fd`` locked (not unlinked since it was opened)."""
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino)


def _name_self(fd: int) -> None:
    """Write this process's pid and start time into the lock file (for a waiter's message)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime())
    text = orjson.dumps({"pid": os.getpid(), "started": stamp})
    with contextlib.suppress(OSError):  # a name unwritten (disk full) costs only the message
        os.ftruncate(fd, 0)
        os.pwrite(fd, text, 0)


def _holder(fd: int) -> Holder:
    """The export named in a lock file another process holds."""
    try:
        data = orjson.loads(os.pread(fd, 4096, 0))
    except (OSError, orjson.JSONDecodeError):
        return Holder(None, None)
    if not isinstance(data, dict):
        return Holder(None, None)
    pid, started = data.get("pid"), data.get("started")
    if not isinstance(pid, int) or isinstance(pid, bool) or not alive(pid):
        # the name of an earlier holder, gone: the live one has not written its own yet
        return Holder(None, None)
    return Holder(pid, started if isinstance(started, str) else None)


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (or cannot be signalled: then it is taken to run)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
