"""The modification times ``summary`` judges a ``state.json`` by (``summary_source.py``), apart
from it so that ``reduce``, which keeps them true, imports this alone (startup is most of
reducing a small bundle)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..model.layout import EVENT_LOG, MANIFEST, PAYLOADS_DIR, STATE_FILE


def _mtime(path: Path) -> int | None:
    """Modification time in ns, None for a symlink or anything unreadable (cannot tell)."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    return None if stat.S_ISLNK(info.st_mode) else info.st_mtime_ns


def inputs_newest(root: Path) -> tuple[int | None, str]:
    """The newest modification time among what a reduction reads, and that file's name."""
    newest, name = -1, ""
    names = [MANIFEST, EVENT_LOG, PAYLOADS_DIR]
    payloads = root / PAYLOADS_DIR
    if payloads.is_dir() and not payloads.is_symlink():
        try:
            names += [f"{PAYLOADS_DIR}/{n}" for n in os.listdir(payloads)]
        except OSError:
            return None, PAYLOADS_DIR
    for each in names:
        mtime = _mtime(root / each)
        if mtime is None:
            if each == PAYLOADS_DIR and not os.path.lexists(root / each):
                continue  # no payloads at all: nothing to be newer than
            return None, each
        if mtime > newest:
            newest, name = mtime, each
    return newest, name


def inputs_mtime(root: Path) -> int | None:
    """The newest modification time among what a reduction of ``root`` reads (None: cannot
    tell); taken before a reduction, for :func:`date_back_if_moved` after it."""
    return inputs_newest(root)[0]


def date_back_if_moved(root: Path, written: str, before: int | None) -> None:
    """When ``written`` is ``root``'s own ``state.json`` and the bundle changed while it was
    reduced (its newest input is later than ``before``, taken when the reduction began), give
    the file that earlier time: written after the change, it was newer than every input, and
    ``summary`` (``summary_source.fresh_state``) took the state of half a log for the bundle
    as it is now (a recording that closed during the reduction read "running" for good)."""
    state = root / STATE_FILE
    try:
        if before is None or not os.path.samefile(written, state):
            return
        now = inputs_mtime(root)
        if now is None or now > before:
            info = os.lstat(state)
            if stat.S_ISREG(info.st_mode):
                os.utime(state, ns=(info.st_atime_ns, before), follow_symlinks=False)
    except OSError:  # gone or unreadable: fresh_state will not trust it either
        return
