"""The export directory ``DIR`` (local or on any fsspec filesystem): its parts and manifest.

Layout::

    DIR/_export.json                  the manifest: one entry per exported bundle
    DIR/<table>/<bundle key>.parquet  one part per bundle and non-empty table

Workers write and remove their own bundle's parts only; the driver alone writes the manifest.
A part is written under a dot-name and renamed, so a reader never sees half a part, and a
killed run's dot-files are removed by the next (locally, when their process is gone).

Each manifest entry records the tables version its parts were written with: a run exports only
the bundles it is given, so after a version bump a directory can hold parts of two versions,
whose columns differ (a query over both would read one part's columns for all). The export
re-exports such bundles (:func:`other_version` names them) and ``query`` refuses a directory
that still holds any.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterable
from typing import Any, Final

import orjson

from ..model.layout import EXPORT_MANIFEST as MANIFEST_NAME
from .schema import TABLE_NAMES, TABLES_VERSION

__all__ = ["EXPORTED", "MANIFEST_NAME", "ExportDir", "other_version"]

#: Manifest statuses of a bundle whose parts are in the tables.
EXPORTED: Final = ("ok", "lenient")
_MANIFEST_VERSION: Final = 1
#: What :func:`.listing.bundle_key` makes: a manifest key names part files, so no other may
#: be taken from one.
_KEY: Final = re.compile(r"[0-9a-f]{24}")
#: A part being written: ``.KEY.PID.tmp`` (renamed to ``KEY.parquet`` when whole).
_TEMP_NAME: Final = re.compile(r"\..+\.([0-9]+)\.tmp")


class ExportDir:
    """The export directory, local or on any fsspec filesystem."""

    def __init__(self, to: str) -> None:
        from fsspec.core import url_to_fs

        self.fs, root = url_to_fs(to)
        self.root = root.rstrip("/")
        if self.fs.exists(self.root) and not self.fs.isdir(self.root):
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory", to)

    def part(self, table: str, key: str) -> str:
        return f"{self.root}/{table}/{key}.parquet"

    def remove_parts(self, key: str) -> None:
        for table in TABLE_NAMES:
            path = self.part(table, key)
            if self.fs.exists(path):
                self.fs.rm(path)

    def write_part(self, table: str, key: str, batches: Iterable[Any]) -> None:
        """Write Arrow tables (a row group each) through a dot-file and rename, so readers
        never see half a part."""
        import pyarrow.parquet as pq

        from .schema import arrow_schema

        final = self.part(table, key)
        temp = f"{self.root}/{table}/{_temp_name(key, os.getpid())}"
        self.fs.makedirs(f"{self.root}/{table}", exist_ok=True)
        with (
            self.fs.open(temp, "wb") as f,
            pq.ParquetWriter(f, arrow_schema(table), compression="zstd") as writer,
        ):
            for batch in batches:
                writer.write_table(batch)
        self.fs.mv(temp, final)

    def remove_stale_temps(self) -> int:
        """Remove the dot-files of parts a killed run was writing (``.KEY.PID.tmp`` of a
        process no longer alive), on a local directory; how many. A remote filesystem's are
        left: whose process wrote them cannot be told from here."""
        protocol = self.fs.protocol
        if "file" not in (protocol if isinstance(protocol, tuple) else (protocol,)):
            return 0
        removed = 0
        for table in TABLE_NAMES:
            try:
                names = os.listdir(f"{self.root}/{table}")
            except OSError:
                continue
            for name in names:
                temp = _TEMP_NAME.fullmatch(name)
                if temp is not None and not _alive(int(temp.group(1))):
                    with contextlib.suppress(OSError):
                        os.remove(f"{self.root}/{table}/{name}")
                        removed += 1
        return removed

    def read_manifest(self) -> dict[str, Any]:
        path = f"{self.root}/{MANIFEST_NAME}"
        if not self.fs.exists(path):
            return {}
        with self.fs.open(path, "rb") as f:
            raw = f.read()
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return {}  # unreadable: export everything again (each bundle's parts are replaced)
        if not isinstance(data, dict) or data.get("version") != _MANIFEST_VERSION:
            return {}
        bundles = data.get("bundles")
        if not isinstance(bundles, dict):
            return {}
        # a key with a path in it ("../../x") would have --prune remove files outside DIR
        return {key: entry for key, entry in bundles.items() if _KEY.fullmatch(key)}

    def write_manifest(self, bundles: dict[str, Any]) -> None:
        self.fs.makedirs(self.root, exist_ok=True)
        temp = f"{self.root}/.{MANIFEST_NAME}.tmp"
        body = {"version": _MANIFEST_VERSION, "tables_version": TABLES_VERSION}
        with self.fs.open(temp, "wb") as f:
            f.write(orjson.dumps({**body, "bundles": bundles}, option=orjson.OPT_INDENT_2))
        self.fs.mv(temp, f"{self.root}/{MANIFEST_NAME}")


def other_version(bundles: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The manifest entries whose parts another tables version wrote (an entry written before
    versions were recorded per bundle has none: its version is unknown, so it counts).

    Args:
        bundles: the manifest's entries by key (:meth:`ExportDir.read_manifest`).

    Returns:
        Those entries of exported bundles (``ok``, ``lenient``) by key.
    """
    return {
        key: entry
        for key, entry in bundles.items()
        if isinstance(entry, dict)
        and entry.get("status") in EXPORTED
        and entry.get("tables_version") != TABLES_VERSION
    }


def _temp_name(key: str, pid: int) -> str:
    return f".{key}.{pid}.tmp"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (or cannot be signalled: then it is taken to run)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
