"""Packs: many bundles' rows of a table in one file, so an RL run's thousands of small
episodes do not cost a Parquet file per bundle and table.

A part is ~10 KB of footer whatever its rows, and a query's cost grew with the number of files
(6,000 one-episode bundles: 42,000 parts, 429 MB on disk; review rl20). A run's small bundles
are written into packs by their workers (:mod:`.jobs`, a batch at a time); the others get one
part per bundle and table, which this module merges into ``DIR/<table>/pack-ID.parquet``. The
driver plans each merge (:func:`plan`) and commits it (:func:`commit`); a worker makes it
(:func:`merge`), between its exports, since reading thousands of parts back is work the size of
the export (~12 ms a one-episode bundle) that the driver alone would make serial. Every step is
written before the manifest names it and removed only after the manifest stops naming it, and
readers read the files the manifest names (:func:`.export_dir.live_files`):

1. write the pack's files (a dot-file each, renamed whole): the worker,
2. save the manifest, the bundles now naming the pack: the driver,
3. remove the parts (or older packs) merged: the driver.

Killed after 1, the pack is named by nobody and the rows are read from the parts; after 2,
from the pack, the parts named by nobody. :func:`tidy`, at the start of the next run, removes
what nobody names (and forgets a bundle whose named file is missing, so that it is exported
again). A bundle exported again (its source changed, its tables version old) or pruned leaves
its pack first (:func:`leave`, in the driver before any worker starts): the pack is written
again without its rows, under a new id, by the same three steps.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable, Iterator
from typing import Any, Final

import attrs

from .export_dir import (
    EXPORTED,
    PACK_FIELD,
    ExportDir,
    live_files,
    new_pack_id,
    pack_name,
    pack_of,
    part_name,
)
from .schema import TABLE_NAMES, TABLES_VERSION

__all__ = ["PACK_BYTES", "MergeJob", "Merged", "commit", "leave", "merge", "pack", "plan", "tidy"]

#: A pack's size, about (the bytes of the parts or packs merged into it; a part's footer,
#: most of a small bundle's part, is not written again, so a pack of small bundles is smaller).
PACK_BYTES: Final = 128 << 20
#: A bundle whose parts are this large already stays in them (nothing to gain, much to copy).
_LARGE: Final = PACK_BYTES // 8
#: Loose bundles an export's end packs (fewer: left for a later run, rather than a pack of
#: two bundles each time an RL loop exports its newest episodes).
END_OF_RUN: Final = 64
#: Loose bundles that make a running export stop to pack them (its files stay this few).
DURING_RUN: Final = 1024
#: Packs under half ``PACK_BYTES`` that are merged together once there are this many.
_SMALL_PACKS: Final = 8
#: Rows buffered before they are written as a row group of a pack.
_ROW_GROUP_BYTES: Final = 64 << 20


@attrs.define
class _Unit:
    """What a pack is made of: one loose bundle's parts, or an earlier pack."""

    keys: list[str]
    pack: str | None
    size: int


def tidy(out: ExportDir, manifest: dict[str, Any]) -> int:
    """Repair a directory a killed run left: remove the parts and packs the manifest names
    for no bundle, and forget the bundles one of whose files is missing (then exported again
    by a run given their source). Run by the driver before any worker starts.

    Args:
        out: the export directory.
        manifest: its entries by key; bundles forgotten are removed from it (and the
            manifest saved before any file is removed).

    Returns:
        The bundles forgotten.
    """
    listing = out.listing()
    live = live_files(manifest)
    missing = {
        key
        for table, files in live.items()
        for name, keys in files.items()
        if name not in listing[table]
        for key in keys
    }
    # a pack's other files hold the rows of every bundle in it: all of them go, or those
    # exported again would be counted twice
    broken = {pack_of(manifest[key]) for key in missing} - {None}
    missing |= {key for key, entry in manifest.items() if _in_pack(entry, broken)}
    if missing:
        for key in missing:
            del manifest[key]
        out.write_manifest(manifest)
        live = live_files(manifest)
    for table, names in listing.items():
        for name in names:
            if name not in live[table]:
                out.remove(table, name)
    return len(missing)


def leave(out: ExportDir, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Take the bundles in ``before`` but not in ``after`` (to be exported again, or pruned)
    out of their packs: each pack one of them is in is written again, under a new id, with the
    rows of its other bundles only (whose entries in ``after`` are pointed at it).

    Args:
        out: the export directory.
        before: the manifest as it was.
        after: the manifest to save next; its entries' packs are updated.

    Returns:
        The packs that no entry of ``after`` names: remove them (:func:`remove_packs`) once
        ``after`` is saved.
    """
    members: dict[str, list[str]] = {}
    for key, entry in before.items():
        if isinstance(entry, dict) and entry.get("status") in EXPORTED:
            pack_id = pack_of(entry)
            if pack_id is not None:
                members.setdefault(pack_id, []).append(key)
    dead = []
    for pack_id, keys in members.items():
        stay = [key for key in keys if key in after and pack_of(after[key]) == pack_id]
        if len(stay) == len(keys):
            continue
        dead.append(pack_id)
        if stay:
            new_id = new_pack_id()
            entries = {key: after[key] for key in stay}
            for table in TABLE_NAMES:
                if any(_has_rows(entry, table) for entry in entries.values()):
                    _write_pack(out, table, new_id, [_Unit(stay, pack_id, 0)], entries)
            for entry in entries.values():
                entry[PACK_FIELD] = new_id
    return dead


def remove_packs(out: ExportDir, pack_ids: Iterable[str]) -> None:
    """Remove every table's file of these packs (named by no entry any more)."""
    for pack_id in pack_ids:
        for table in TABLE_NAMES:
            out.remove(table, pack_name(pack_id))


@attrs.frozen
class MergeJob:
    """Parts and packs to merge into one new pack: run by a worker (:func:`merge`), as an
    export job is, and committed by the driver (:func:`commit`)."""

    units: tuple[_Unit, ...]
    #: the manifest entries of the bundles merged (their sources and row counts)
    entries: dict[str, Any]

    @property
    def bundles(self) -> int:
        """How many bundles it merges."""
        return len(self.entries)

    def failed(self, why: str) -> Merged:
        """The outcome of a job whose worker died: nothing to commit."""
        return Merged(self, None, why)


@attrs.frozen
class Merged:
    """What a merge wrote: the new pack's id (its files renamed whole), or why not."""

    job: MergeJob
    pack_id: str | None
    error: str | None = None


def plan(
    out: ExportDir,
    manifest: dict[str, Any],
    *,
    loose_at: int,
    everything: bool = False,
    small_packs: bool = True,
    busy: frozenset[str] = frozenset(),
) -> tuple[list[MergeJob], int]:
    """The merges worth making: loose bundles' parts once there are ``loose_at`` of them,
    and packs under half :data:`PACK_BYTES` once there are several; ``everything``: every
    loose bundle and small pack now (``export --compact``). Only bundles of this tables
    version, and not those whose parts are large already.

    Args:
        out: the export directory.
        manifest: its entries by key.
        loose_at: the fewest loose bundles worth a pack.
        everything: merge whatever can be merged.
        small_packs: merge small packs too (a running export leaves its own for its end).
        busy: bundles a merge already in flight takes (left out).

    Returns:
        The merges (a pack of about :data:`PACK_BYTES` each), and the loose bundles left
        (not merged): a running export plans again when enough more have come.
    """
    loose, packs = _units(manifest, out.listing())
    loose = [unit for unit in loose if not busy.intersection(unit.keys)]
    packs = [unit for unit in packs if not busy.intersection(unit.keys)]
    small = [unit for unit in packs if unit.size < PACK_BYTES // 2] if small_packs else []
    take: list[_Unit] = []
    if everything:
        take = loose + small if len(loose) + len(small) > 1 else []
    else:
        take = loose if len(loose) >= loose_at else []
        take += small if len(small) >= _SMALL_PACKS else []
    left = len(loose) - sum(1 for unit in take if unit.pack is None)
    jobs = [
        MergeJob(tuple(chunk), {key: manifest[key] for unit in chunk for key in unit.keys})
        for chunk in _chunks(take)
    ]
    return jobs, left


def merge(out: ExportDir, job: MergeJob) -> Merged:
    """Write the pack of ``job`` (each table's file under a dot-name, renamed whole): a
    worker's part of a merge. Nothing names it until the driver commits it.

    Args:
        out: the export directory.
        job: the parts and packs to merge.

    Returns:
        The new pack's id.
    """
    new_id = new_pack_id()
    for table in TABLE_NAMES:
        if any(_has_rows(entry, table) for entry in job.entries.values()):
            _write_pack(out, table, new_id, list(job.units), job.entries)
    return Merged(job, new_id)


def commit(out: ExportDir, manifest: dict[str, Any], merged: Merged) -> int:
    """Name a merge's pack in the manifest (saved), then remove the parts and packs it
    merged: the driver's part of a merge.

    Args:
        out: the export directory.
        manifest: its entries by key (the merged bundles' entries are pointed at the pack).
        merged: what the worker wrote.

    Returns:
        The bundles merged (none when the merge failed: its units stay as they were).
    """
    if merged.pack_id is None:
        return 0
    for key in merged.job.entries:
        manifest[key][PACK_FIELD] = merged.pack_id
    out.write_manifest(manifest)
    units = merged.job.units
    remove_packs(out, [unit.pack for unit in units if unit.pack is not None])
    for unit in units:
        if unit.pack is None:
            for table in TABLE_NAMES:
                if _has_rows(manifest[unit.keys[0]], table):
                    out.remove(table, part_name(unit.keys[0]))
    return merged.job.bundles


def pack(
    out: ExportDir, manifest: dict[str, Any], *, loose_at: int, everything: bool = False
) -> tuple[int, int]:
    """Plan, make and commit merges here, one after the other (:func:`plan`; an export runs
    them in its workers).

    Args:
        out: the export directory.
        manifest: its entries by key (updated and saved as each pack is made).
        loose_at: the fewest loose bundles worth a pack.
        everything: merge whatever can be merged.

    Returns:
        The bundles merged into new packs, and the loose bundles left (not merged).
    """
    jobs, left = plan(out, manifest, loose_at=loose_at, everything=everything)
    return sum(commit(out, manifest, merge(out, job)) for job in jobs), left


def _units(
    manifest: dict[str, Any], listing: dict[str, dict[str, int]]
) -> tuple[list[_Unit], list[_Unit]]:
    """The loose bundles that may be packed and the packs that may be merged, with their
    sizes on disk, in the order of their sources (a pack holds neighbours)."""
    loose: list[_Unit] = []
    packed: dict[str, _Unit] = {}
    barred: set[str] = set()  # packs holding a bundle of another tables version
    exported = {
        k: e for k, e in manifest.items() if isinstance(e, dict) and e.get("status") in EXPORTED
    }
    for key, entry in sorted(exported.items(), key=lambda item: str(item[1].get("source"))):
        pack_id = pack_of(entry)
        current = entry.get("tables_version") == TABLES_VERSION
        if pack_id is not None:
            if not current:
                barred.add(pack_id)
            unit = packed.setdefault(
                pack_id, _Unit([], pack_id, _size(listing, pack_name(pack_id)))
            )
            unit.keys.append(key)
        elif current and isinstance(entry.get("rows"), dict):
            size = _size(listing, part_name(key))
            if size < _LARGE:
                loose.append(_Unit([key], None, size))
    return loose, [unit for pack_id, unit in packed.items() if pack_id not in barred]


def _size(listing: dict[str, dict[str, int]], name: str) -> int:
    return sum(files.get(name, 0) for files in listing.values())


def _chunks(units: list[_Unit]) -> Iterator[list[_Unit]]:
    """``units`` in runs of about :data:`PACK_BYTES` (a pack alone in its run is left as it is)."""
    chunk: list[_Unit] = []
    size = 0
    for unit in units:
        if chunk and size + unit.size > PACK_BYTES:
            if len(chunk) > 1 or chunk[0].pack is None:
                yield chunk
            chunk, size = [], 0
        chunk.append(unit)
        size += unit.size
    if len(chunk) > 1 or (chunk and chunk[0].pack is None):
        yield chunk


def _in_pack(entry: Any, packs: set[str | None]) -> bool:
    return isinstance(entry, dict) and pack_of(entry) in packs


def _has_rows(entry: dict[str, Any], table: str) -> bool:
    """Whether the bundle has rows in ``table`` (as :func:`.export_dir.live_files` reads it)."""
    rows = entry.get("rows")
    counted = rows.get(table) if isinstance(rows, dict) else None
    return not isinstance(counted, int) or counted > 0


def _write_pack(
    out: ExportDir, table: str, pack_id: str, units: list[_Unit], entries: dict[str, Any]
) -> None:
    """Write ``table``'s file of a new pack holding the rows of ``entries`` from ``units``'
    files (an earlier pack's rows filtered to these bundles': it may hold others), in the
    schema of the files read (an older tables version's pack keeps its columns)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from .schema import arrow_schema

    keep = pa.array(sorted({str(entry.get("source")) for entry in entries.values()}))
    inputs = []
    for unit in units:
        if not any(_has_rows(entries[key], table) for key in unit.keys):
            continue  # none of its files is of this table
        if unit.pack is not None:
            inputs.append((pack_name(unit.pack), True))
        else:
            inputs.append((part_name(unit.keys[0]), False))
    schema = arrow_schema(table)
    if inputs and inputs[0][1]:
        with out.fs.open(out.path(table, inputs[0][0]), "rb") as f:
            schema = pq.ParquetFile(f).schema_arrow

    def _rows_of(path: str, filtered: bool) -> Iterator[Any]:
        with out.fs.open(path, "rb") as f:
            if filtered:  # a pack: a row group at a time, its other bundles' rows left out
                for b in pq.ParquetFile(f).iter_batches(batch_size=65536):
                    yield pa.Table.from_batches([b]).filter(pc.is_in(b.column("source"), keep))
            else:  # a part: small, read whole in one call (through the file object's small
                # reads and a thread pool, each of thousands took twice as long)
                whole = pa.BufferReader(f.read())
                yield pq.ParquetFile(whole).read(use_threads=False)

    def batches() -> Iterator[Any]:
        buffered: list[Any] = []
        size = 0
        for name, filtered in inputs:
            path = out.path(table, name)
            try:
                for part in _rows_of(path, filtered):
                    if part.num_rows:
                        buffered.append(part if part.schema == schema else part.cast(schema))
                        size += part.nbytes
                    if size >= _ROW_GROUP_BYTES:
                        yield pa.concat_tables(buffered)
                        buffered, size = [], 0
            except (OSError, pa.ArrowException) as exc:  # a part damaged since it was written
                raise OSError(
                    errno.EIO,
                    f"not a readable Parquet file ({str(exc).strip()}); remove it and export its "
                    "bundle again (the next run forgets a bundle whose file is missing)",
                    path,
                ) from exc

        if buffered:
            yield pa.concat_tables(buffered)

    out.write_file(table, pack_name(pack_id), schema, batches())
