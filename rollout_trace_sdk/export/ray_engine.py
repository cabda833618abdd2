"""``--engine ray``: the same per-bundle export as Ray tasks, on a local or existing cluster.

Each task runs ``parquet.export_bundle`` for one bundle, so a Ray worker writes its own parts
exactly as a pool process does and the tables are the same whichever engine ran. The driver
keeps a bounded number of tasks in flight and writes the manifest itself. On a cluster the
bundles and ``--to`` must be reachable from every node: a shared filesystem, or object-store
URLs (``s3://...``) that fsspec opens on the workers.

Which cluster: ``RAY_ADDRESS`` (or ``ray job submit``, which sets it) when set, else an
already-initialised Ray in this process, else a local instance started here with ``jobs``
CPUs and stopped afterwards.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

from .listing import BundleSource
from .parquet import BundleResult, ExportOptions, export_bundle


def _export_task(source: BundleSource, options: ExportOptions) -> BundleResult:
    """The remote function's body (a module-level name, so Ray pickles it by reference)."""
    return export_bundle(source, options)


_WORKER_LOST: tuple[str, ...] = (
    "WorkerCrashedError",
    "NodeDiedError",
    "OutOfMemoryError",
    "ObjectLostError",
    "OwnerDiedError",
    "LocalRayletDiedError",
    "TaskUnschedulableError",
)


def _worker_lost(ray: Any) -> tuple[type[BaseException], ...]:
    """Ray's errors for a task whose worker (or node) went away, as this Ray names them."""
    found = (getattr(ray.exceptions, name, None) for name in _WORKER_LOST)
    return tuple(cls for cls in found if isinstance(cls, type))


def run_ray(todo: list[BundleSource], options: ExportOptions, jobs: int) -> Iterator[BundleResult]:
    """Export ``todo`` as Ray tasks, at most ``4 * jobs`` in flight, yielding results as they
    finish.

    Args:
        todo: the bundles to export.
        options: output directory and options.
        jobs: CPUs of a local instance, and the in-flight window's scale.

    Returns:
        An iterator of per-bundle results.
    """
    import ray

    started_here = False
    if not ray.is_initialized():
        if os.environ.get("RAY_ADDRESS"):
            ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=False)
        else:
            # an instance of our own, for this command alone: Ray's start-up notes (its log
            # level INFO: "Started a local Ray instance", the token-authentication note on
            # every run since Ray 2.5x) are not the command's to print; its errors are
            ray.init(
                num_cpus=jobs,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.ERROR,
            )
            started_here = True
    try:
        task: Any = ray.remote(num_cpus=1, max_retries=1)(_export_task)
        pending = iter(todo)
        sources: dict[Any, BundleSource] = {}
        for source in pending:
            sources[task.remote(source, options)] = source
            if len(sources) >= 4 * jobs:
                break
        while sources:
            done, _ = ray.wait(list(sources), num_returns=1)
            for ref in done:
                source = sources.pop(ref)
                try:
                    yield ray.get(ref)
                except _worker_lost(ray) as exc:
                    # its worker died (killed, out of memory, its node gone) after Ray's
                    # retry, or the task could not be placed: this bundle fails, saying so,
                    # and the others go on (an error of the export itself ends the run, as
                    # with the process pool)
                    why = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    yield BundleResult.failed(
                        source, f"its Ray task failed: {type(exc).__name__}: {why}"
                    )
                following = next(pending, None)
                if following is not None:
                    sources[task.remote(following, options)] = following
    finally:
        if started_here:
            ray.shutdown()
