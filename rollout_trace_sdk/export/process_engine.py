"""The default engine: the per-bundle export over a local process pool.

Each task runs ``parquet.export_bundle`` for one bundle (as a Ray task does in
``ray_engine``); the driver keeps a bounded number in flight and writes the manifest itself.
A worker that dies (killed, out of memory) breaks its pool: the bundles it was exporting fail,
saying so, and a new pool takes the rest.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Iterator
from typing import Any, Final

from . import parquet
from .listing import BundleSource
from .parquet import BundleResult, ExportOptions

_PRELOAD: Final = (
    "rollout_trace_sdk.export.parquet",
    "rollout_trace_sdk.reduce",
    "pyarrow",
    "pyarrow.parquet",
    "fsspec",
)


def run_processes(
    todo: list[BundleSource], options: ExportOptions, jobs: int
) -> Iterator[BundleResult]:
    """One bundle per task over a pool of ``jobs`` processes, at most ``4 * jobs``
    tasks in flight (the driver holds only small results, however many bundles there are).
    One job runs in this process: no pool to start, and in-memory filesystems stay visible."""
    if jobs <= 1 or len(todo) <= 1:
        for source in todo:
            yield parquet.export_bundle(source, options)
        return
    import multiprocessing

    # forkserver: workers fork from a clean server process that imported the heavy modules
    # once (fork from this driver could inherit fsspec's or pyarrow's threads; spawn would
    # import pyarrow again in every worker)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(_PRELOAD))
    pending = list(reversed(todo))
    while pending:  # a new pool after one lost a worker (killed, out of memory)
        yield from _pool_round(pending, options, jobs, context)


def _pool_round(
    pending: list[BundleSource], options: ExportOptions, jobs: int, context: Any
) -> Iterator[BundleResult]:
    """Export from ``pending`` (taken from its end) until it is empty or the pool breaks: the
    bundles whose worker died then fail, each saying so, and the caller starts another pool
    for the rest."""
    workers = min(jobs, len(pending))
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        running: dict[cf.Future[BundleResult], BundleSource] = {}
        while pending and len(running) < 4 * jobs:
            source = pending.pop()
            running[pool.submit(parquet.export_bundle, source, options)] = source
        while running:
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for future in done:
                source = running.pop(future)
                try:
                    yield future.result()
                except cf.process.BrokenProcessPool as exc:
                    yield BundleResult.failed(source, f"its worker process died: {exc}")
                    continue
                if pending:
                    source = pending.pop()
                    running[pool.submit(parquet.export_bundle, source, options)] = source
