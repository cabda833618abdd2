"""What an export's engine runs, and the driver that hands it out.

Two kinds of job go to the same engine (a local process pool, or Ray tasks), so neither waits
for the other and the driver does no per-bundle work but record results:

- an export job: one bundle, written to its own parts, or a batch of small bundles (an RL
  run's one-episode rollouts) whose rows its worker writes straight into packs, no part
  written or read back. Writing a bundle's seven parts was most of its cost (14.5 of 21 ms of
  CPU a one-episode bundle), and reading them back to pack them cost 12 ms more, which the
  driver spent alone while the workers waited (3,000 bundles: 133 s against 70 s unpacked).
- a merge job (:class:`.packs.MergeJob`): loose bundles' parts (bundles too large for a batch,
  or exported by runs too small for one) and small packs merged into a pack.

Either writes its files under dot-names and renames them whole; nothing names them until the
driver, on the job's result, saves the manifest naming them (and then, for a merge, removes
what was merged). A run killed before that leaves files named by nobody, removed by the next
run (:func:`.packs.tidy`), and bundles in no manifest entry, exported again.
"""

from __future__ import annotations

import collections
import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

import attrs

from . import packs, parquet
from .export_dir import EXPORTED, ExportDir, new_pack_id, pack_name
from .listing import BundleSource, os_text
from .parquet import BundleResult, ExportOptions, ExportSummary

__all__ = ["ExportJob", "Job", "Outcome", "after_worker_died", "drive", "plan_exports", "run_job"]

#: Bundles whose files are smaller than this are exported in batches, into packs.
_BATCHED: Final = 4 << 20
#: A batch's bundles: about its share of the small bundles (two batches a worker, so that the
#: workers end together), but at least this many ...
_BATCH_LEAST: Final = 128
#: ... and at most this many, or this many bytes of bundles.
_BATCH_MOST: Final = 4096
_BATCH_BYTES: Final = 64 << 20
#: A bundle of a batch whose rows grow past this (``--payload-text`` splices every request's
#: resent history) is written to its own parts instead, as a large bundle is.
_OWN_PARTS: Final = packs.PACK_BYTES // 8
#: A batch's rows held before they are written as a pack (the batch goes on into another).
_PACK_ROWS: Final = 64 << 20


@attrs.frozen
class ExportJob:
    """Bundles to export: one to its own parts, or a batch into packs (``batch``)."""

    sources: tuple[BundleSource, ...]
    batch: bool = False

    def failed(self, why: str) -> list[BundleResult]:
        """The outcome of a job whose worker died: each of its bundles failed, saying so."""
        return [BundleResult.failed(source, why) for source in self.sources]


Job = ExportJob | packs.MergeJob
Outcome = list[BundleResult] | packs.Merged


def after_worker_died(job: Job, why: str) -> tuple[list[Job], Outcome | None]:
    """What becomes of a job whose worker died running it alone (out of memory, a signal, a
    crash in a native library): a batch of bundles is split in two, each half to be run
    again alone, so that the bundle that kills its worker fails by itself rather than with
    the hundreds it was batched with; a single bundle or a merge fails, saying why.

    Args:
        job: the job.
        why: how its worker died.

    Returns:
        The jobs to run instead (each alone), or the job's outcome: failed.
    """
    if isinstance(job, ExportJob) and len(job.sources) > 1:
        half = len(job.sources) // 2
        return [
            attrs.evolve(job, sources=job.sources[:half]),
            attrs.evolve(job, sources=job.sources[half:]),
        ], None
    return [], job.failed(why)


def run_job(job: Job, options: ExportOptions) -> Outcome:
    """Run one job in a worker (the engines' task).

    Args:
        job: an export or a merge.
        options: output directory and options.

    Returns:
        The bundles' results, or what the merge wrote.
    """
    if isinstance(job, packs.MergeJob):
        return packs.merge(ExportDir(options.to), job)
    if job.batch:
        return export_batch(job.sources, options)
    return [parquet.export_bundle(source, options) for source in job.sources]


def plan_exports(
    todo: list[BundleSource], jobs: int, *, pack: bool, compact: bool = False
) -> list[ExportJob]:
    """The export jobs for ``todo``: each large bundle alone, and the small ones in batches
    when there are enough of them to make a pack (``packs.END_OF_RUN``; ``compact``: two).

    Args:
        todo: the bundles to export, in the order of their sources.
        jobs: the engine's workers.
        pack: whether to pack at all.
        compact: pack however few.

    Returns:
        The jobs, the large bundles' first (the longest first: the workers end together).
    """
    small = [source for source in todo if source.size_bytes < _BATCHED] if pack else []
    if len(small) < (2 if compact else packs.END_OF_RUN):
        small = []
    batched = {source.key for source in small}
    planned = [ExportJob((source,)) for source in todo if source.key not in batched]
    share = max(_BATCH_LEAST, min(_BATCH_MOST, -(-len(small) // (2 * jobs))))
    batch: list[BundleSource] = []
    size = 0
    for source in small:
        if batch and (len(batch) >= share or size + source.size_bytes > _BATCH_BYTES):
            planned.append(ExportJob(tuple(batch), batch=True))
            batch, size = [], 0
        batch.append(source)
        size += source.size_bytes
    if batch:
        planned.append(ExportJob(tuple(batch), batch=True))
    return planned


class _Rows:
    """A batch bundle's rows, held until it is exported whole (a bundle that fails halfway
    leaves nothing in the pack), or written to its own parts once they grow past
    :data:`_OWN_PARTS` (as :class:`.parquet.PartSink`)."""

    def __init__(self, out: ExportDir) -> None:
        self.out = out
        self.tables: dict[str, list[Any]] = {}
        self.size = 0
        self.own_parts = False

    def write_part(self, table: str, key: str, batches: Iterable[Any]) -> None:
        if self.own_parts:
            self.out.write_part(table, key, batches)
            return
        held: list[Any] = []
        rest = iter(batches)
        for batch in rest:
            held.append(batch)
            self.size += batch.nbytes
            if self.size > _OWN_PARTS:
                self.own_parts = True
                for name, tables in self.tables.items():
                    self.out.write_part(name, key, tables)
                self.tables.clear()
                self.out.write_part(table, key, itertools.chain(held, rest))
                return
        self.tables[table] = held


def export_batch(sources: Iterable[BundleSource], options: ExportOptions) -> list[BundleResult]:
    """Export small bundles into packs, in a worker: each bundle as :func:`.parquet.
    export_bundle` does (its old parts removed), its rows held; every
    :data:`_PACK_ROWS` of rows, and at the end, a pack of each table is written (a
    dot-file renamed whole) and its bundles' results name it.

    Args:
        sources: the bundles.
        options: output directory and options.

    Returns:
        Each bundle's result; those exported name their pack (a bundle grown too large for
        one names none: its own parts), a failed one none. A pack that cannot be written
        fails its bundles (its error).
    """
    import pyarrow as pa

    from .schema import arrow_schema

    out = ExportDir(options.to)
    done: list[BundleResult] = []
    held: list[BundleResult] = []
    tables: dict[str, list[Any]] = collections.defaultdict(list)
    size = 0

    def write_pack() -> None:
        nonlocal size
        pack_id = new_pack_id()
        try:
            for table, rows in tables.items():
                body = pa.concat_tables(rows)
                out.write_file(table, pack_name(pack_id), arrow_schema(table), [body])
        except Exception as exc:  # its bundles fail, saying why; the other batches go on
            error = (
                f"{exc.filename or options.to}: {os_text(exc)}"
                if isinstance(exc, OSError)
                else f"internal error: {type(exc).__name__}: {exc}"
            )
            done.extend(attrs.evolve(r, status="failed", error=error, rows={}) for r in held)
        else:
            done.extend(attrs.evolve(r, pack=pack_id) for r in held)
        held.clear()
        tables.clear()
        size = 0

    for source in sources:
        rows = _Rows(out)
        result = parquet.export_bundle(source, options, rows)
        if result.status not in EXPORTED or rows.own_parts:
            done.append(result)
            continue
        held.append(result)
        for table, batches in rows.tables.items():
            tables[table].extend(batches)
        size += rows.size
        if size >= _PACK_ROWS:
            write_pack()
    if held:
        write_pack()
    return done


Runner = Callable[[collections.deque[Job], ExportOptions, int], Iterator[Outcome]]


def _runner(engine: str) -> Runner:
    if engine == "ray":
        from .ray_engine import run_ray

        return run_ray
    from .process_engine import run_processes

    return run_processes


def drive(
    todo: list[BundleSource],
    options: ExportOptions,
    summary: ExportSummary,
    out: ExportDir,
    manifest: dict[str, Any],
    how: tuple[int, str, Callable[[BundleResult], None] | None, bool, bool],
) -> None:
    """Export ``todo`` with the engine, recording each result in ``manifest`` (saved every
    64 bundles, every 1/32 of its entries once it is larger, and at the end); hand the engine
    merges as the loose bundles pile up (``packs.DURING_RUN``) and once every bundle is in
    (``packs.END_OF_RUN`` loose, or small packs; ``compact``: whatever can be merged), and
    commit each merge as it comes back.

    Args:
        todo: the bundles to export.
        options: output directory and options.
        summary: the run's account (exported, packed).
        out: the export directory.
        manifest: its entries by key.
        how: workers, engine, the caller's ``on_result``, whether to pack, ``compact``.
    """
    jobs, engine, on_result, pack, compact = how
    jobs = jobs if jobs > 0 else (os.cpu_count() or 1)
    queue: collections.deque[Job] = collections.deque(
        plan_exports(todo, jobs, pack=pack, compact=compact)
    )
    exporting = len(todo)
    busy: set[str] = set()  # bundles a merge in flight takes
    packed: set[str] = set()
    ended = not pack  # whether the end's merges are planned
    loose = unsaved = 0  # exported to their own parts since the last plan; not yet saved

    def plan_merges(**how: Any) -> int:
        merges, left = packs.plan(out, manifest, busy=frozenset(busy), **how)
        for merge in merges:
            busy.update(merge.entries)
        queue.extend(merges)
        return left

    if not ended and not todo:  # nothing to export: only the end's merges
        plan_merges(loose_at=1 if compact else packs.END_OF_RUN, everything=compact)
        ended = True
    outcomes = _runner(engine)(queue, options, jobs) if queue else iter(())
    try:
        for outcome in outcomes:
            if isinstance(outcome, packs.Merged):
                busy.difference_update(outcome.job.entries)
                if packs.commit(out, manifest, outcome):
                    packed.update(outcome.job.entries)
                    unsaved = 0
            else:
                for result in outcome:
                    exporting -= 1
                    summary.exported.append(result)
                    manifest[result.key] = parquet.manifest_entry(result)
                    if result.pack is not None:
                        packed.add(result.key)
                    loose += result.status in EXPORTED and result.pack is None
                    unsaved += 1
                    if on_result is not None:
                        on_result(result)
            if pack and loose >= packs.DURING_RUN:
                # the run's own batches' packs are left for its end
                loose = plan_merges(loose_at=packs.DURING_RUN, small_packs=False)
                unsaved = 0
            elif not ended and exporting == 0 and not busy:
                plan_merges(loose_at=1 if compact else packs.END_OF_RUN, everything=compact)
                ended = True
                unsaved = 0
            elif unsaved >= max(64, len(manifest) // 32):
                # every 64 bundles, or every 1/32 of the entries once there are many: it is
                # saved whole, and 100,000 entries (70 MB) every 64 bundles were 110 GB
                out.write_manifest(manifest)
                unsaved = 0
    finally:
        # the engine's generator closed at once (Ctrl-C while an outcome was recorded left it
        # suspended): the pool's workers are killed when it closes
        close = getattr(outcomes, "close", None)
        if close is not None:
            close()
        summary.packed += len(packed)
        # a new export of nothing is still an export (empty tables), unless nothing could
        # be listed: a mistyped path must not leave a folder behind
        if summary.exported or (not manifest and not summary.listing_errors):
            out.write_manifest(manifest)
