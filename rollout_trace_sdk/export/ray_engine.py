"""``--engine ray``: the same export jobs as Ray tasks, on a local or existing cluster.

Each task runs ``jobs.run_job`` for one job (a bundle, a batch of small bundles, or a merge),
so a Ray worker writes its parts and packs exactly as a pool process does and the tables are
the same whichever engine ran. The driver keeps a bounded number of tasks in flight, may add
jobs (merges) as results come in, and writes the manifest itself. On a cluster the
bundles and ``--to`` must be reachable from every node: a shared filesystem, or object-store
URLs (``s3://...``) that fsspec opens on the workers.

Which cluster: ``RAY_ADDRESS`` (or ``ray job submit``, which sets it) when set, else an
already-initialised Ray in this process, else a local instance started here with ``jobs``
CPUs and stopped afterwards.
"""

from __future__ import annotations

import collections
import logging
import os
from collections.abc import Iterator
from typing import Any

from .jobs import Job, Outcome, after_worker_died, run_job
from .parquet import ExportOptions


def _export_task(job: Job, options: ExportOptions) -> Outcome:
    """The remote function's body (a module-level name, so Ray pickles it by reference)."""
    return run_job(job, options)


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


def run_ray(queue: collections.deque[Job], options: ExportOptions, jobs: int) -> Iterator[Outcome]:
    """Run the jobs of ``queue`` as Ray tasks (taken from its front, as the caller may add to
    its end while it reads the outcomes), at most ``4 * jobs`` in flight, yielding outcomes
    as they finish.

    Args:
        queue: the jobs to run.
        options: output directory and options.
        jobs: CPUs of a local instance, and the in-flight window's scale.

    Returns:
        An iterator of the jobs' outcomes.
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
        running: dict[Any, Job] = {}

        def fill() -> None:
            while queue and len(running) < 4 * jobs:
                job = queue.popleft()
                running[task.remote(job, options)] = job

        fill()
        while running:
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                job = running.pop(ref)
                try:
                    outcome = ray.get(ref)
                except _worker_lost(ray) as exc:
                    # its worker died (killed, out of memory, its node gone) after Ray's
                    # retry, or the task could not be placed: a batch is split to find the
                    # bundle that does it, which fails, saying so, and the others go on (an
                    # error of the export itself ends the run, as with the process pool)
                    why = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    instead, failed = after_worker_died(
                        job, f"its Ray task failed: {type(exc).__name__}: {why}"
                    )
                    queue.extendleft(reversed(instead))
                    if failed is None:
                        fill()
                        continue
                    outcome = failed
                yield outcome
                fill()  # after the caller had the outcome: it may have queued more
    finally:
        if started_here:
            ray.shutdown()
