"""Folders made for what we write (a bundle's parents, an export's), private to their owner:
one place for the rule the recorder and the commands share (the reducer's side never imports
the recorder). What they will hold is prompts and tool output."""

from __future__ import annotations

import os

from .model.layout import PRIVATE_DIR_MODE

__all__ = ["make_private_dirs"]


def make_private_dirs(path: str | os.PathLike[str]) -> None:
    """Make the local folder ``path`` and each missing parent ``PRIVATE_DIR_MODE``
    (``os.makedirs`` gives the parents ``0777 & ~umask``, readable by every user); a folder
    that was there keeps its mode, and one made meanwhile (another recorder or export) is
    taken as it is.

    Args:
        path: the folder; a relative one is joined to the working folder first (a bare
            name's parent is ``''``, which ``os.mkdir`` refuses), not normalised: the
            system reads ``link/..`` as the parent of the link's target, and
            ``missing/..`` only once ``missing`` is made, where ``os.path.abspath`` would
            drop both and make another folder than the one the path names.

    Raises:
        OSError: a folder could not be made (the caller says why).
    """
    folder = os.path.join(os.getcwd(), path)  # (an absolute path is kept as it is)
    missing: list[str] = []
    while not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for made in reversed(missing):
        try:
            os.mkdir(made, PRIVATE_DIR_MODE)
        except FileExistsError:
            continue
        # mkdir's mode is filtered through the umask: one taking the owner's bits (077 is
        # not, 0700 is) made a folder its owner could not make the next one in
        os.chmod(made, PRIVATE_DIR_MODE)
