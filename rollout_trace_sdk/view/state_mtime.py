"""The modification times ``summary`` judges a ``state.json`` by (``summary_source.py``), apart
from it so that ``reduce``, which keeps them true, imports this alone (startup is most of
reducing a small bundle)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..model.layout import EVENT_LOG, MANIFEST, PAYLOADS_DIR, STATE_FILE

#: What ``reduce`` notes of a bundle's inputs before reducing (:func:`inputs_seen`): the newest
#: modification time, and each input's name, inode, size and modification time.
Seen = tuple[int, tuple[tuple[str, int, int, int], ...]]


def _stat(path: str) -> os.stat_result | None:
    """The file's status, None for a symlink or anything unreadable (cannot tell)."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return None if stat.S_ISLNK(info.st_mode) else info


def _inputs(root: Path) -> tuple[list[tuple[str, int, int, int]] | None, str]:
    """Each input a reduction reads as (name, inode, size, modification time), or None and
    the name of the one that cannot tell.

    Each file is named by a string (the bundle's path and its name), not a ``Path``: a
    bundle has hundreds of payloads, and joining a ``Path`` for each was ~4 % of reducing the
    3.3 MB benchmark bundle (20 of its 625 M instructions, for ~600 ``lstat`` calls)."""
    names = [MANIFEST, EVENT_LOG, PAYLOADS_DIR]
    payloads = root / PAYLOADS_DIR
    if payloads.is_dir() and not payloads.is_symlink():
        try:
            names += [f"{PAYLOADS_DIR}/{n}" for n in sorted(os.listdir(payloads))]
        except OSError:
            return None, PAYLOADS_DIR
    top = os.path.join(root, "")  # "bundle/": ``top + each`` is the path ``root / each`` is
    found: list[tuple[str, int, int, int]] = []
    for each in names:
        info = _stat(top + each)
        if info is None:
            if each == PAYLOADS_DIR and not os.path.lexists(top + each):
                continue  # no payloads at all: nothing to be newer than
            return None, each
        found.append((each, info.st_ino, info.st_size, info.st_mtime_ns))
    return found, ""


def inputs_newest(root: Path) -> tuple[int | None, str]:
    """The newest modification time among what a reduction reads, and that file's name."""
    found, name = _inputs(root)
    if found is None:
        return None, name
    newest, name = -1, ""
    for each, _, _, mtime in found:
        if mtime > newest:
            newest, name = mtime, each
    return newest, name


def inputs_seen(root: Path) -> Seen | None:
    """The bundle's inputs as a reduction of ``root`` begins (None: cannot tell), for
    :func:`date_back_if_moved` after it."""
    found, _ = _inputs(root)
    if found is None:
        return None
    return max((mtime for *_, mtime in found), default=-1), tuple(found)


def date_back_if_moved(root: Path, written: str, before: Seen | None) -> None:
    """When ``written`` is ``root``'s own ``state.json`` and the bundle changed while it was
    reduced (an input is not as ``before`` saw it when the reduction began), give the file
    the newest time ``before`` saw: written after the change, it was newer than every input,
    and ``summary`` (``summary_source.fresh_state``) took the state of half a log for the
    bundle as it is now (a recording that closed during the reduction read "running" for
    good). A change is told by size and inode too, not by a later time alone: a file system
    keeps times in ticks (a jiffy, a second, FAT's two), and the log appended to within the
    tick ``before`` was taken in keeps its time."""
    state = root / STATE_FILE
    try:
        if before is None or not os.path.samefile(written, state):
            return
        if inputs_seen(root) != before:
            info = os.lstat(state)
            if stat.S_ISREG(info.st_mode):
                os.utime(state, ns=(info.st_atime_ns, before[0]), follow_symlinks=False)
    except OSError:  # gone or unreadable: fresh_state will not trust it either
        return
