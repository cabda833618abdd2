"""Where commands write their outputs (``reduce``'s state, ``view``'s page, ``export``'s
files): one set of rules, so that no command clobbers its input or replaces what is not a
regular file, and every output is written whole or not at all."""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final, TextIO

import orjson

from .model.json_check import manifest_value
from .model.layout import (
    EVENT_LOG,
    EXPORT_MANIFEST,
    MANIFEST,
    PAYLOADS_DIR,
    PRIVATE_FILE_MODE,
)

__all__ = [
    "StandardOutputClosed",
    "bundle_around",
    "export_file",
    "forbidden_output",
    "json_line",
    "names_standard_output",
    "terminal_width",
    "write_output",
]


class StandardOutputClosed(OSError):
    """Writing to standard output when the process started without one (``>&-``): every
    command says it in the same words, however the output was named (``-o -``,
    ``-o /dev/stdout``)."""

    def __init__(self) -> None:
        super().__init__(errno.EBADF, "standard output is closed")


def forbidden_output(source: Path, output: Path) -> str | None:
    """Why ``output`` must not be written: it would clobber the input (a bundle's own files,
    or the state file read) or another bundle's own files, or it is a directory. None when it
    may be written.

    Args:
        source: what the command reads, a bundle directory or a ``state.json``.
        output: the path the user named.

    Returns:
        The reason, worded for the user, or None.
    """
    target = Path(os.path.realpath(output))
    root = Path(os.path.realpath(source))
    if not root.is_dir():
        if target == root:
            return f"refusing to overwrite the input {source}"
    else:
        why = _bundle_file(root, target, None)
        if why is not None:
            return why
    # another bundle's files are as much data as the input's: `reduce A -o B/trace.jsonl`
    # had replaced B's log (any command writing a file; found by review cli21)
    for folder in target.parents:
        if folder != root and _holds_bundle_entries(folder, target):
            why = _bundle_file(folder, target, folder)
            if why is not None:
                return why
    if target.is_dir():
        return f"{output} is a directory"
    return export_file(target)


def _bundle_file(root: Path, target: Path, named: Path | None) -> str | None:
    """Why ``target`` (a real path) is one of the bundle ``root``'s own files (its manifest,
    log, or anything in its payloads directory), naming the bundle unless it is the input
    (``named`` None); None when it is not."""
    of = "the bundle's {}" if named is None else f"the {{}} of the bundle {named}"
    for name in (MANIFEST, EVENT_LOG):
        if target == root / name:
            return "refusing to overwrite " + of.format(name)
    for payloads in {root / PAYLOADS_DIR, root / _declared_payloads_dir(root)}:
        if target == payloads or payloads in target.parents:
            return "refusing to write inside " + of.format("payloads directory")
    return None


def _holds_bundle_entries(folder: Path, target: Path) -> bool:
    """Whether ``folder`` holds both of a bundle's entries other than the one ``target``
    would be (of manifest, log and payloads directory): a bundle being made (its payloads
    and manifest come before its log) counts, a web project's ``manifest.json`` does not."""
    names = {MANIFEST, EVENT_LOG, PAYLOADS_DIR}
    names.discard(target.relative_to(folder).parts[0])
    return len(names) == 2 and all(os.path.lexists(folder / name) for name in names)


def bundle_around(path: Path) -> Path | None:
    """The bundle ``path`` is or lies in, if any (a directory holding both a manifest and an
    event log: a web project's lone ``manifest.json`` is no bundle): a command that makes a
    directory (an export, a converted or redacted copy, the demo's traces root) never makes
    it inside a bundle, whose payloads and strays it would join.

    Args:
        path: the directory the user named (it need not exist).

    Returns:
        The bundle's real path, or None.
    """
    real = Path(os.path.realpath(path))
    for folder in (real, *real.parents):
        if (folder / MANIFEST).is_file() and (folder / EVENT_LOG).is_file():
            return folder
    return None


def export_file(output: Path, export: Path | None = None) -> str | None:
    """Why ``output`` must not be written: it is one of an export's own files (its manifest,
    or a part of one of its tables), of ``export`` or of any export around ``output``. A
    result written into a table would be read as one of its parts (a rollout counted twice,
    silently), so every command that writes a file asks (:func:`forbidden_output`, and
    ``query`` for the export it reads).

    Args:
        output: the path the user named.
        export: an export the command reads (``query``), checked even when ``output`` is
            not inside it.

    Returns:
        The reason, worded for the user, or None.
    """
    target = Path(os.path.realpath(output))
    exports = [] if export is None else [Path(os.path.realpath(export))]
    exports += [folder for folder in target.parents if (folder / EXPORT_MANIFEST).is_file()]
    if not exports:
        return None
    from .export.schema import TABLE_NAMES  # only when there is an export to check

    for root in exports:
        if target == root / EXPORT_MANIFEST:
            return f"refusing to overwrite the {EXPORT_MANIFEST} of the export {root}"
        for table in TABLE_NAMES:
            if root / table in (target, *target.parents):
                return f"refusing to write inside the {table} table of the export {root}"
    return None


def _declared_payloads_dir(root: Path) -> str:
    """The manifest's ``payloads_dir`` (Codex ignores it, but a writer may have used it)."""
    from .reduce.confined import BundleFileError, BundleFiles

    try:
        with BundleFiles(root) as files:
            value = manifest_value(files.read_bytes(MANIFEST, what="manifest")).get("payloads_dir")
    except (BundleFileError, ValueError, AttributeError):
        return PAYLOADS_DIR
    if not isinstance(value, str) or not value or os.path.isabs(value):
        return PAYLOADS_DIR
    return value


def write_output(target: str, data: Iterable[bytes], out: TextIO, *, named: bool = True) -> bool:
    """Write a command's output (a state, a page, an export) where the user asked, never
    replacing anything but a regular file.

    * ``-``, or a named path that is standard output's own file (``/dev/stdout``,
      ``/dev/fd/1``): written to ``out`` where it stands, nothing else printed there.
      Reopened by name, a file standard output was redirected to was truncated and written
      from its start, and the path the command prints next landed on the output's first
      bytes.
    * A path that does not exist or is a regular file: a temporary file in the same directory,
      mode 0600 (outputs hold prompts and tool output), renamed over the path, so a reader
      never sees half an output, a failed write leaves the old file, and nothing else is
      touched.
    * Anything else a path the user named already names (a device such as ``/dev/null``, a
      FIFO, a symlink — ``/dev/stdout`` is one): written in place through it, never renamed
      over, so ``-o /dev/null`` run as root leaves ``/dev/null`` a device and a symlinked
      output keeps both the link and its target's directory entry (the target's content is
      rewritten).
    * A default path (``BUNDLE/state.json``, ``BUNDLE/view.html``) was not named by the user
      (``named`` false) and lies in an untrusted directory: whatever is there (a symlink to
      ``/etc/passwd``, a FIFO) is replaced by the new file through the rename, never written
      through.

    Args:
        target: the path, or ``-`` for ``out``.
        data: the output's bytes, in pieces (written as they come).
        out: standard output (its binary buffer when it has one).
        named: whether the user named ``target`` (a default path is never written through).

    Returns:
        Whether the output went to ``out`` (the command then prints no path there).
    """
    if target == "-" or (
        named and (_is_standard_output(target, out) or _names_closed_standard_output(target))
    ):
        binary = getattr(out, "buffer", None)
        if binary is None:
            out.write(b"".join(data).decode("utf-8"))
        else:
            out.flush()
            binary.writelines(data)
            binary.flush()
        return True
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        mode = None
    if mode is None or stat.S_ISREG(mode) or not named:
        _replace_atomically(Path(target), data)
    else:
        _write_in_place(target, data)
    return False


def names_standard_output(target: str, out: TextIO) -> bool:
    """Whether ``target`` names the file ``out`` writes to (``/dev/stdout``, ``/dev/fd/1``,
    the file standard output was redirected to), where :func:`write_output` writes as it does
    for ``-``: a command that treats a terminal apart treats this name as ``-``."""
    return _is_standard_output(target, out)


def _is_standard_output(target: str, out: TextIO) -> bool:
    """Whether ``target`` names the very file ``out`` writes to (same device and inode):
    ``/dev/stdout`` and its kin, or the file standard output was redirected to."""
    try:
        mine = os.fstat(out.fileno())
        theirs = os.stat(target)
    except (OSError, ValueError):  # no descriptor (a StringIO), no such path
        return False
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


#: The names of descriptor 1 that ``/dev/stdout`` leads to (Linux, the BSDs, macOS).
_DESCRIPTOR_1: Final = ("/dev/fd/1", "/proc/self/fd/1", "/proc/thread-self/fd/1")


def _names_closed_standard_output(target: str) -> bool:
    """Whether ``target`` names descriptor 1 (``/dev/stdout``, ``/dev/fd/1``, a link to one)
    in a process started without it (``>&-``). Opened by name, it is a link to nothing
    ("No such file or directory", where ``-o -`` says standard output is closed); and once the
    process opened some file of its own as descriptor 1, it would be that file. Its links are
    followed one by one, never the descriptor itself."""
    if sys.__stdout__ is not None:
        return False
    names = {*_DESCRIPTOR_1, f"/proc/{os.getpid()}/fd/1"}
    path = os.path.abspath(target)
    for _ in range(40):  # the kernel's own limit on links followed
        if path in names:
            return True
        try:
            link = os.readlink(path)
        except (OSError, ValueError):
            return False
        path = os.path.normpath(os.path.join(os.path.dirname(path), link))
    return False


def _write_in_place(target: str, data: Iterable[bytes]) -> None:
    """Open what ``target`` names (following a symlink, never creating) and write to it; a
    regular file reached through a link is truncated first."""
    fd = os.open(target, os.O_WRONLY | os.O_CLOEXEC)
    with open(fd, "wb") as handle:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.ftruncate(fd, 0)
        handle.writelines(data)


def _replace_atomically(path: Path, data: Iterable[bytes]) -> None:
    """Replace ``path`` in one step, so a reader never sees half a file."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, temp = _private_file(directory, path.name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.writelines(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _private_file(directory: Path, name: str) -> tuple[int, str]:
    """A new file of mode 0600 beside ``name``, as ``tempfile.mkstemp`` makes it (importing
    ``tempfile`` was a tenth of the command's start-up)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    while True:
        temp = str(directory / f".{name}.{os.urandom(6).hex()}")
        try:
            return os.open(temp, flags, PRIVATE_FILE_MODE), temp
        except FileExistsError:
            continue


def terminal_width() -> int:
    """The width text printed for a terminal wraps at, as ``shutil.get_terminal_size`` finds
    it (without importing ``shutil``, which loads bz2 and lzma): ``COLUMNS`` when it is a
    positive number, else the terminal of standard output's, else 80. rich reads
    ``COLUMNS`` itself and took ``0`` (a size not known yet) as zero columns: ``show`` and
    ``query`` printed nothing; they are given this width instead.

    Returns:
        A number of columns, at least 1.
    """
    try:
        width = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        width = 0
    if width > 0:
        return width
    stdout = sys.__stdout__
    if stdout is None:
        return 80
    try:
        return os.get_terminal_size(stdout.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


def json_line(value: Any) -> str:
    """``value`` as one line of JSON for a script (``ls --json``, ``diff --by --json``). A
    path that is not UTF-8 (its bytes reach Python as lone surrogates), which orjson
    refuses, is written with ``\\udcXX`` escapes: a JSON reader in Python gives back the same
    ``str``, whose bytes ``os.fsencode`` makes (so is an integer past 64 bits)."""
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):  # the standard library escapes a surrogate
        import json  # rarely needed: not loaded for ``reduce``, whose outputs this writes

        return json.dumps(value, separators=(",", ":"), default=str)
