"""Confined access to a bundle's files: every read of a bundle file goes through here.

A bundle is untrusted input. Whatever a manifest, an event line or a payload reference names, the
reducer must read only *regular files inside the bundle directory*, and opening one must never
block. So:

* the bundle directory is opened once (the path the user gave is followed, symlink or not: the
  user named it), and every file below it is reached from that descriptor, one path component
  at a time, with ``O_NOFOLLOW`` — a symlink anywhere below the bundle root is refused, wherever
  it points, so no ``realpath`` race or check-then-open gap exists;
* absolute paths, ``..`` components, empty paths and NUL bytes are refused before any system
  call (a NUL byte in Codex's words: its standard library refuses such a path the same way);
* the last component is ``lstat``-ed first and opened only if it is a regular file (or a
  directory, reported as Codex reports one, see below); it is opened ``O_NONBLOCK`` so that even
  a FIFO swapped in between the two calls cannot hang us, and the open descriptor is ``fstat``-ed
  again, so what we read is what we checked. FIFOs, devices and sockets are refused; a device is
  never opened.

A directory where a file belongs is reported as the OS error ``EISDIR``, because Codex opens it
and then fails to read it ("Is a directory (os error 21)"), and callers keep Codex's wording.

One exception type, :class:`BundleFileError` (a :class:`ReduceError`), covers every failure.
Its ``os_error`` is set when the OS itself refused (missing file, permission, directory) — what
Codex would also hit, so a caller can re-word it exactly as Codex does — and is ``None`` when we
refused on principle (``unsafe``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final

from .errors import ReduceError
from .os_errors import NulInPath, os_error_text

__all__ = ["BundleFileError", "BundleFiles", "line_limit", "os_error_text"]

_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
#: Directory descriptors kept open for reuse (payloads/ is visited once per payload); a bundle
#: citing thousands of directories cannot exhaust descriptors.
_DIR_CACHE_LIMIT: Final = 32
_REFUSAL_TAIL: Final = "bundle files are read only as regular files inside the bundle directory"


class BundleFileError(ReduceError):
    """A bundle file could not be read.

    Attributes:
        os_error: the OS error when the OS refused (Codex would meet the same error), else None.
        relpath: the path as cited, relative to the bundle.
    """

    def __init__(
        self,
        message: str,
        *,
        cause: str,
        file: str,
        relpath: str,
        os_error: OSError | None = None,
    ) -> None:
        super().__init__(message, cause=cause, file=file)
        self.os_error = os_error
        self.relpath = relpath

    @property
    def unsafe(self) -> bool:
        """True when we refused the path on principle (outside, symlink, FIFO, device...)."""
        return self.os_error is None


_KINDS: Final = (
    (stat.S_ISLNK, "a symlink"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def _kind(mode: int) -> str:
    """What a path that is not a regular file is, in the words our errors use."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _close_all(dirs: dict[tuple[str, ...], int], root_fd: int | None) -> None:
    """Close a :class:`BundleFiles`' descriptors (its finalizer: it must not refer to the
    object, or the object would never be freed)."""
    for fd in dirs.values():
        with contextlib.suppress(OSError):
            os.close(fd)
    dirs.clear()
    if root_fd is not None:
        with contextlib.suppress(OSError):
            os.close(root_fd)


class BundleFiles:
    """The files of one bundle directory, read only through confined, non-blocking opens.

    Args:
        root: the bundle directory as the user named it (a symlink here is followed).
        display: how to show the bundle in messages (default: ``root`` without trailing ``/``).

    Use as a context manager or call :meth:`close`; descriptors are also closed on garbage
    collection of the open files, never leaked into child processes (``O_CLOEXEC``).
    """

    def __init__(self, root: str | Path, *, display: str | None = None) -> None:
        self.display = display if display is not None else (str(root).rstrip("/") or "/")
        self._root_error: OSError | None = None
        self._root_fd: int | None = None
        try:
            self._root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:  # reported when a file is asked for, naming that file
            self._root_error = exc
        self._dirs: dict[tuple[str, ...], int] = {}
        # Not ``__del__``: that runs Python code whenever the object is freed, closed or not,
        # and a Ctrl-C that came while a reduction's state was being freed was raised in it,
        # where Python prints it as ignored and goes on: ``reduce`` printed a traceback,
        # wrote its output and exited 0 (found by review cli21). A finalizer that ``close``
        # has run is gone, so a closed object is freed without running any.
        self._closer = weakref.finalize(self, _close_all, self._dirs, self._root_fd)

    # --- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        self._closer()  # once: later calls do nothing
        self._root_fd = None

    def __enter__(self) -> BundleFiles:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- public reads -------------------------------------------------------------------------

    def shown(self, relpath: str) -> str:
        """``relpath`` as messages show it (under the bundle's display name)."""
        return f"{self.display}/{relpath}"

    def open(self, relpath: str, *, what: str) -> BinaryIO:
        """Open a regular file of the bundle for reading (buffered, binary).

        Args:
            relpath: path relative to the bundle, as cited by the manifest or an event.
            what: what the file is, for messages ("payload raw_payload:4", "trace event log").

        Returns:
            A binary stream; the caller closes it.

        Raises:
            BundleFileError: the path is unsafe, or the OS refused (``os_error`` set).
        """
        fd, _ = self._open_fd(relpath, what)
        os.set_blocking(fd, True)
        return open(fd, "rb", closefd=True)

    def open_fd(self, relpath: str, *, what: str) -> tuple[int, int]:
        """As :meth:`open`, a descriptor and the size ``fstat`` gave it when it was opened
        (the caller closes it): for :func:`read_to_end`, which reads a small file without a
        file object. The descriptor keeps ``O_NONBLOCK``, which a regular file's reads
        ignore on Linux (``read_to_end`` clears it should a read say otherwise): two
        ``fcntl`` calls fewer for each of the hundreds of payloads a reduction reads."""
        return self._open_fd(relpath, what)

    def read_bytes(self, relpath: str, *, what: str) -> bytes:
        """The whole content of a regular file of the bundle (see :meth:`open`).

        A read failure after a successful open is a :class:`BundleFileError` too."""
        with self.open(relpath, what=what) as handle:
            try:
                return handle.read()
            except OSError as exc:
                raise self._os_failure(f"read {what}", relpath, exc) from None

    def iter_lines(self, relpath: str, *, what: str) -> Iterator[bytes]:
        """Lines of a regular file, newline kept, streamed (memory holds one line at a time)."""
        with self.open(relpath, what=what) as handle:
            limit, read = line_limit(handle), 0
            while limit < 0 or read < limit:
                try:
                    line = handle.readline()
                except OSError as exc:
                    raise self._os_failure(f"read {what}", relpath, exc) from None
                if not line:
                    return
                read += len(line)
                yield line

    def exists(self, relpath: str) -> bool:
        """True if ``relpath`` is a regular file inside the bundle reachable without symlinks."""
        try:
            fd, _ = self._open_fd(relpath, relpath)
        except BundleFileError:
            return False
        os.close(fd)
        return True

    def list_dir(self, relpath: str, *, what: str) -> list[str]:
        """Names in a directory of the bundle (sorted), reached without symlinks.

        Raises:
            BundleFileError: as :meth:`open`; a missing directory has ``os_error`` set."""
        parts = tuple(self._parts(relpath, what))
        return sorted(os.listdir(self._directory(parts, relpath, what)))

    # --- the walk -----------------------------------------------------------------------------

    def _parts(self, relpath: str, what: str) -> list[str]:
        if not isinstance(relpath, str):
            raise self._refuse(what, str(relpath), "it is empty")
        if "\0" in relpath:
            # no file can be named so: Codex fails here too, and is worded as it is
            raise self._os_failure(f"open {what}", relpath, NulInPath())
        if relpath.startswith("/"):
            raise self._refuse(what, relpath, "it is absolute (Codex would follow it)")
        parts = [p for p in relpath.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise self._refuse(what, relpath, "it climbs out with '..' (Codex would follow it)")
        return parts

    def _open_fd(self, relpath: str, what: str) -> tuple[int, int]:
        parts = self._parts(relpath, what)
        if not parts:  # "", ".": the bundle directory itself, which is no file (as for Codex)
            raise self._os_failure(f"open {what}", relpath, IsADirectoryError(errno.EISDIR, ""))
        directory = self._directory(tuple(parts[:-1]), relpath, what)
        name = parts[-1]
        try:
            before = os.stat(name, dir_fd=directory, follow_symlinks=False)
        except OSError as exc:
            raise self._os_failure(f"open {what}", relpath, exc) from None
        if stat.S_ISDIR(before.st_mode):
            raise self._os_failure(f"open {what}", relpath, IsADirectoryError(errno.EISDIR, ""))
        if not stat.S_ISREG(before.st_mode):
            raise self._refuse(what, relpath, f"it is {_kind(before.st_mode)}")
        try:
            fd = os.open(name, _FILE_FLAGS, dir_fd=directory)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # replaced by a symlink since the lstat
                raise self._refuse(what, relpath, "it is a symlink") from None
            raise self._os_failure(f"open {what}", relpath, exc) from None
        after = os.fstat(fd)
        if not stat.S_ISREG(after.st_mode) or (after.st_dev, after.st_ino) != (
            before.st_dev,
            before.st_ino,
        ):
            os.close(fd)
            raise self._refuse(what, relpath, "it was replaced while being opened")
        return fd, after.st_size

    def _directory(self, parts: tuple[str, ...], relpath: str, what: str) -> int:
        """Descriptor of the directory ``parts`` below the root, walked without symlinks."""
        if self._root_fd is None:
            assert self._root_error is not None
            raise self._os_failure(f"open {what}", relpath, self._root_error)
        if not parts:
            return self._root_fd
        cached = self._dirs.get(parts)
        if cached is not None:
            return cached
        parent = self._directory(parts[:-1], relpath, what)
        name = parts[-1]
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                try:
                    mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
                except OSError:
                    mode = 0
                if stat.S_ISLNK(mode):
                    raise self._refuse(
                        what, relpath, f"its directory {name!r} is a symlink"
                    ) from None
            raise self._os_failure(f"open {what}", relpath, exc) from None
        if len(self._dirs) >= _DIR_CACHE_LIMIT:
            os.close(self._dirs.pop(next(iter(self._dirs))))
        self._dirs[parts] = fd
        return fd

    # --- errors -------------------------------------------------------------------------------

    def _refuse(self, what: str, relpath: str, why: str) -> BundleFileError:
        return BundleFileError(
            f"open {what}",
            cause=f"refusing path {relpath!r}: {why}; {_REFUSAL_TAIL} {self.display!r}",
            file=self.shown(relpath),
            relpath=relpath,
        )

    def _os_failure(self, message: str, relpath: str, exc: OSError) -> BundleFileError:
        return BundleFileError(
            message,
            cause=os_error_text(exc),
            file=self.shown(relpath),
            relpath=relpath,
            os_error=exc,
        )


#: What a read asks for once a file's size has been read whole: the end, or what it grew by.
_MORE: Final = 1 << 16
#: The most one ``read`` returns on Linux (a shorter read of a larger request is no end).
_READ_MAX: Final = 0x7FFFF000


def line_limit(handle: BinaryIO) -> int:
    """How many bytes of lines to read from ``handle``: a regular file's size when opened (a
    line being written then is read to its newline), -1 (to the end) for anything else.

    A bundle looked at while its recording runs is read as it stood when opened, instead of
    chasing the writer (a live recording was reduced for minutes, and lines written after a
    shard was read cited records it had not seen); a file at rest reads to its end, as Codex
    reads it. The reducer's, ``validate``'s and the failure scan's readings of the log follow it.
    """
    status = os.fstat(handle.fileno())
    return status.st_size if stat.S_ISREG(status.st_mode) else -1


def read_to_end(fd: int, size: int | None = None) -> bytes:
    """The rest of the file ``fd`` reads, as ``open(fd, "rb").read()`` returns it, without
    the file objects (the reducer reads payloads by the hundred, most of a few kilobytes:
    creating the objects cost a third of reading one).

    A regular file is read in one call of its size plus one byte. ``size`` is what
    :meth:`BundleFiles.open_fd` found (else the file is ``fstat``-ed here): a first read of
    exactly that size met the end, and the file is not read again (a file grown since its
    ``fstat`` fills the extra byte and is read on to the end; one that returned less, as a
    network file system or FUSE may before the end, is read on to an empty read too).
    Without ``size`` (any descriptor: a pipe reads short before its end), reading goes on
    to an empty read. A descriptor left ``O_NONBLOCK`` that refuses to read
    (``EAGAIN``: no regular file on Linux, but a filesystem may pass the flag on) is made
    blocking and read again."""
    known = size is not None
    wanted = (os.fstat(fd).st_size if size is None else size) + 1
    try:
        first = os.read(fd, wanted)
    except BlockingIOError:
        os.set_blocking(fd, True)
        first = os.read(fd, wanted)
    if not first or (known and len(first) == wanted - 1 and wanted <= _READ_MAX):
        return first
    chunks = [first]
    while more := _read_more(fd):
        chunks.append(more)
    return first if len(chunks) == 1 else b"".join(chunks)


def _read_more(fd: int) -> bytes:
    try:
        return os.read(fd, _MORE)
    except BlockingIOError:
        os.set_blocking(fd, True)
        return os.read(fd, _MORE)
