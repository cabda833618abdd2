"""The export directory ``DIR`` (local or on any fsspec filesystem): its parts and manifest.

Layout::

    DIR/_export.json                  the manifest: one entry per exported bundle
    DIR/<table>/<bundle key>.parquet  a bundle's part of a table, as its worker wrote it
    DIR/<table>/pack-<id>.parquet     many bundles' rows of a table (a batch's, or merged)

Workers write their jobs' files only (a bundle's parts, a batch's or a merge's pack:
:mod:`.jobs`, :mod:`.packs`); the driver alone writes the manifest, and removes what it no
longer names. A file is written under a dot-name and renamed, so a reader never
sees half of one, and a killed run's dot-files are removed by the next (locally, when their
process is gone). On the local filesystem the folders an export makes are ``0700`` and its files ``0600``, as
every other file we write: the tables hold prompts and tool output (the bodies too, with
``--payload-text``). A folder that was there keeps its mode. The manifest says where each bundle's rows are (an entry's ``pack``, else its
own parts): a reader reads the files it names (:func:`live_files`), never a folder's listing,
so a file written and not yet named, or no longer named and not yet removed (a run killed
between the two), is never read.

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
from collections.abc import Callable, Iterable
from typing import Any, Final

import orjson

from .._private_dirs import make_private_dirs
from ..model.layout import EXPORT_LOCK, PRIVATE_FILE_MODE
from ..model.layout import EXPORT_MANIFEST as MANIFEST_NAME
from .lock import Holder, alive, export_lock, holds_lock
from .schema import TABLE_NAMES, TABLES_VERSION

__all__ = ["EXPORTED", "MANIFEST_NAME", "ExportDir", "live_files", "other_version"]

#: Manifest statuses of a bundle whose parts are in the tables.
EXPORTED: Final = ("ok", "lenient")
#: 2: an entry's ``pack`` names the pack holding its rows (1 had none; read as all loose).
_MANIFEST_VERSION: Final = 2
_READ_VERSIONS: Final = (1, 2)
#: A manifest entry's field naming the pack its rows are in (absent: its own parts).
PACK_FIELD: Final = "pack"
#: A pack file is ``pack-ID.parquet``, ID 16 hex digits (:func:`new_pack_id`).
_PACK_PREFIX: Final = "pack-"
_PACK_ID: Final = re.compile(r"[0-9a-f]{16}")
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

    @property
    def local(self) -> bool:
        """Whether the directory is on the local filesystem (a path or ``file://``)."""
        protocol = self.fs.protocol
        return "file" in (protocol if isinstance(protocol, tuple) else (protocol,))

    def lock(
        self, timeout: float | None = None, on_wait: Callable[[Holder], None] | None = None
    ) -> contextlib.AbstractContextManager[None]:
        """Hold the directory's lock while inside: one export at a time (:mod:`.lock`; none
        on a remote filesystem). Made if missing; this thread may hold it already.

        Args:
            timeout: seconds to wait for another export holding it (None: as long as it
                takes; 0: not at all).
            on_wait: called once, with the other export, when this one has to wait.

        Returns:
            The context manager.
        """
        return export_lock(self.root, local=self.local, timeout=timeout, on_wait=on_wait)

    def _makedirs(self, path: str) -> None:
        """Make ``path`` and its missing parents (locally each ``0700``, see the module)."""
        if self.local:
            make_private_dirs(path)
        else:
            self.fs.makedirs(path, exist_ok=True)

    def _open_new(self, path: str) -> Any:
        """``path`` opened for writing from empty (locally ``0600``, also when a killed run
        left it behind with another mode)."""
        if not self.local:
            return self.fs.open(path, "wb")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, PRIVATE_FILE_MODE)
        try:
            os.fchmod(fd, PRIVATE_FILE_MODE)
        except BaseException:
            os.close(fd)
            raise
        return os.fdopen(fd, "wb")

    def part(self, table: str, key: str) -> str:
        return f"{self.root}/{table}/{part_name(key)}"

    def path(self, table: str, name: str) -> str:
        """A file of ``table`` by its name (a part's or a pack's)."""
        return f"{self.root}/{table}/{name}"

    def remove_parts(self, key: str) -> None:
        for table in TABLE_NAMES:
            path = self.part(table, key)
            if self.fs.exists(path):
                self.fs.rm(path)

    def write_part(self, table: str, key: str, batches: Iterable[Any]) -> None:
        """Write Arrow tables (a row group each) through a dot-file and rename, so readers
        never see half a part."""
        from .schema import arrow_schema

        self.write_file(table, part_name(key), arrow_schema(table), batches)

    def write_file(self, table: str, name: str, schema: Any, batches: Iterable[Any]) -> None:
        """Write ``DIR/<table>/<name>`` from Arrow tables (a row group each; none: a file of no
        rows) through a dot-file and rename.

        Args:
            table: the table's folder.
            name: the file's name (:func:`part_name`, :func:`pack_name`).
            schema: the file's Arrow schema.
            batches: Arrow tables of that schema.
        """
        import pyarrow.parquet as pq

        final = self.path(table, name)
        temp = f"{self.root}/{table}/{_temp_name(name.removesuffix('.parquet'), os.getpid())}"
        self._makedirs(f"{self.root}/{table}")
        try:
            with (
                self._open_new(temp) as f,
                pq.ParquetWriter(f, schema, compression="zstd") as writer,
            ):
                for batch in batches:
                    writer.write_table(batch)
        except BaseException:
            # a part it read is damaged, the disk is full: no dot-file is left for a later
            # run to find (it removes only those whose process is gone)
            with contextlib.suppress(OSError):
                self.fs.rm(temp)
            raise
        self.fs.mv(temp, final)

    def remove(self, table: str, name: str) -> None:
        """Remove one file of ``table`` (gone already: nothing to do)."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self.path(table, name))

    def listing(self) -> dict[str, dict[str, int]]:
        """The parts and packs in each table's folder: table -> file name -> bytes (dot-files
        and any other name left out; a folder not made yet is empty)."""
        found: dict[str, dict[str, int]] = {}
        for table in TABLE_NAMES:
            try:
                infos = self.fs.ls(f"{self.root}/{table}", detail=True)
            except FileNotFoundError:
                infos = []
            names = {str(i["name"]).rsplit("/", 1)[-1]: int(i.get("size") or 0) for i in infos}
            found[table] = {n: size for n, size in names.items() if _file_kind(n) is not None}
        return found

    def remove_stale_temps(self) -> int:
        """Remove the dot-files of parts a killed run was writing (``.KEY.PID.tmp`` of a
        process no longer alive), on a local directory; how many. A remote filesystem's are
        left: whose process wrote them cannot be told from here."""
        if not self.local:
            return 0
        removed = 0
        for table in TABLE_NAMES:
            try:
                names = os.listdir(f"{self.root}/{table}")
            except OSError:
                continue
            for name in names:
                temp = _TEMP_NAME.fullmatch(name)
                if temp is not None and not alive(int(temp.group(1))):
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
        if not isinstance(data, dict) or data.get("version") not in _READ_VERSIONS:
            return {}
        bundles = data.get("bundles")
        if not isinstance(bundles, dict):
            return {}
        # a key with a path in it ("../../x") would have --prune remove files outside DIR
        return {key: entry for key, entry in bundles.items() if _KEY.fullmatch(key)}

    def write_manifest(self, bundles: dict[str, Any]) -> None:
        self._makedirs(self.root)
        temp = f"{self.root}/.{MANIFEST_NAME}.tmp"
        body = {"version": _MANIFEST_VERSION, "tables_version": TABLES_VERSION}
        with self._open_new(temp) as f:
            f.write(orjson.dumps({**body, "bundles": bundles}, option=orjson.OPT_INDENT_2))
        self.fs.mv(temp, f"{self.root}/{MANIFEST_NAME}")

    def remove_if_empty(self) -> bool:
        """Remove the directory if it holds no exported bundle: its manifest names none (only
        sources that failed), and its folders hold no file. For a directory an export made
        and then exported nothing into (every SOURCE refused): a failed command leaves no
        export behind, as ``--format otlp`` writes no file when nothing was read. Its
        caller holds the directory's lock (:meth:`lock`), else the lock file keeps it.

        Returns:
            Whether the directory is gone.
        """
        entries = self.read_manifest().values()
        if any(isinstance(e, dict) and e.get("status") in EXPORTED for e in entries):
            return False
        try:
            for table in TABLE_NAMES:
                folder = f"{self.root}/{table}"
                if self.fs.exists(folder):
                    if self.fs.ls(folder):
                        return False
                    self.fs.rmdir(folder)
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(f"{self.root}/{MANIFEST_NAME}")
            if self.local and holds_lock(self.root):
                # its lock file, still held, last (only rmdirs follow): a waiter that locks
                # it sees it unlinked and opens the path again (:mod:`.lock`); another's lock
                # file is never removed
                with contextlib.suppress(FileNotFoundError):
                    os.remove(f"{self.root}/{EXPORT_LOCK}")
            if self.fs.ls(self.root):
                return False
            self.fs.rmdir(self.root)
        except OSError:
            return False
        return True


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


def live_files(bundles: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """The files the manifest says hold the tables' rows, and whose rows each holds.

    An exported entry's rows are in its own parts (``KEY.parquet``, in each table it has rows
    in) or, when it names a pack, in that pack (``pack-ID.parquet`` of each table any of the
    pack's bundles has rows in). An entry without row counts (not one this package wrote) is
    taken to have rows in every table.

    Args:
        bundles: the manifest's entries by key (:meth:`ExportDir.read_manifest`).

    Returns:
        Table -> file name -> the keys of the bundles whose rows it holds.
    """
    files: dict[str, dict[str, list[str]]] = {table: {} for table in TABLE_NAMES}
    for key, entry in bundles.items():
        if not isinstance(entry, dict) or entry.get("status") not in EXPORTED:
            continue
        pack = pack_of(entry)
        name = part_name(key) if pack is None else pack_name(pack)
        rows = entry.get("rows")
        for table in TABLE_NAMES:
            counted = rows.get(table) if isinstance(rows, dict) else None
            if not isinstance(counted, int) or counted > 0:
                files[table].setdefault(name, []).append(key)
    return files


def pack_of(entry: dict[str, Any]) -> str | None:
    """The id of the pack an entry's rows are in; None: its own parts."""
    pack = entry.get(PACK_FIELD)
    return pack if isinstance(pack, str) and _PACK_ID.fullmatch(pack) else None


def part_name(key: str) -> str:
    """The file name of a bundle's part of a table."""
    return f"{key}.parquet"


def pack_name(pack_id: str) -> str:
    """The file name of a pack of a table."""
    return f"{_PACK_PREFIX}{pack_id}.parquet"


def new_pack_id() -> str:
    """A pack id no other pack has (random: two runs never make the same)."""
    import secrets

    return secrets.token_hex(8)


def _file_kind(name: str) -> str | None:
    """``part`` or ``pack`` for the names this module makes, else None."""
    stem = name.removesuffix(".parquet")
    if stem == name:
        return None
    if _KEY.fullmatch(stem):
        return "part"
    if stem.startswith(_PACK_PREFIX) and _PACK_ID.fullmatch(stem[len(_PACK_PREFIX) :]):
        return "pack"
    return None


def _temp_name(key: str, pid: int) -> str:
    return f".{key}.{pid}.tmp"
