"""What makes a directory an export dataset, and which of its files a command must not write.

Kept apart from ``export_dir`` (and its table schema) so that every command that writes a
file can ask cheaply, the reducer's ``reduce -o`` among them (its start-up is measured).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

__all__ = ["MANIFEST_NAME", "export_file"]

#: The file that makes a directory an export (``rollout-trace export --to``).
MANIFEST_NAME: Final = "_export.json"


def export_file(output: Path, export: Path | None = None) -> str | None:
    """Why ``output`` must not be written: it is one of an export's own files (its manifest,
    or a part of one of its tables), of ``export`` or of any export around ``output``. A
    result written into a table would be read as one of its parts (a rollout counted twice,
    silently), so every command that writes a file asks (``outputs.forbidden_output``).

    Args:
        output: the path the user named.
        export: an export the command reads (``query``), checked even when ``output`` is
            not inside it.

    Returns:
        The reason, worded for the user, or None.
    """
    target = Path(os.path.realpath(output))
    exports = [] if export is None else [Path(os.path.realpath(export))]
    exports += [folder for folder in target.parents if (folder / MANIFEST_NAME).is_file()]
    if not exports:
        return None
    from .schema import TABLE_NAMES  # only when there is an export to check

    for root in exports:
        if target == root / MANIFEST_NAME:
            return f"refusing to overwrite the {MANIFEST_NAME} of the export {root}"
        for table in TABLE_NAMES:
            if root / table in (target, *target.parents):
                return f"refusing to write inside the {table} table of the export {root}"
    return None
