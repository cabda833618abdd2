"""The default engine: an export's jobs (:mod:`.jobs`) over a local process pool.

Each task runs ``jobs.run_job`` for one job (a bundle, a batch of small bundles, or a merge),
as a Ray task does in ``ray_engine``; the driver keeps a bounded number in flight, may add jobs
(merges) to the queue as results come in, and writes the manifest itself. A worker that dies
(killed, out of memory) breaks its pool, and every job in flight with it: a new pool takes the
queue, and the jobs that were in flight are run again one at a time, each in a pool of its own,
so that only a job whose worker dies alone fails (a batch of bundles is split until the
bundle that kills its worker is found: ``jobs.after_worker_died``).
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
from collections.abc import Iterator
from typing import Any, Final

from . import jobs as jobs_module
from .jobs import Job, Outcome
from .parquet import ExportOptions

_PRELOAD: Final = (
    "rollout_trace_sdk.export.jobs",
    "rollout_trace_sdk.reduce",
    "pyarrow",
    "pyarrow.parquet",
    "fsspec",
)


def run_processes(
    queue: collections.deque[Job], options: ExportOptions, jobs: int
) -> Iterator[Outcome]:
    """The jobs of ``queue`` (taken from its front, as the caller may add to its end while
    it reads the outcomes) over a pool of ``jobs`` processes, at most ``4 * jobs`` in flight
    (the driver holds only small results, however many bundles there are). One job, or one
    worker, runs in this process: no pool to start, and in-memory filesystems stay visible."""
    if jobs <= 1 or len(queue) <= 1:
        while queue:
            yield jobs_module.run_job(queue.popleft(), options)
        return
    import multiprocessing

    # forkserver: workers fork from a clean server process that imported the heavy modules
    # once (fork from this driver could inherit fsspec's or pyarrow's threads; spawn would
    # import pyarrow again in every worker)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(_PRELOAD))
    yield from _pools(queue, options, jobs, context)


def _pools(
    queue: collections.deque[Job], options: ExportOptions, jobs: int, context: Any
) -> Iterator[Outcome]:
    """:func:`run_processes` with the pools' ``context``: a new pool after one lost a worker,
    and the jobs that were in flight then (suspects: any of them may have killed it) run
    again alone once the queue is done."""
    suspects: collections.deque[Job] = collections.deque()
    while queue or suspects:
        if queue:
            yield from _pool_round(queue, options, jobs, context, suspects)
        else:
            yield from _alone(suspects, options, context)


def _alone(
    suspects: collections.deque[Job], options: ExportOptions, context: Any
) -> Iterator[Outcome]:
    """Run the first suspect in a pool of its own: its outcome, or (its worker died again:
    it is the culprit, or holds it) what ``jobs.after_worker_died`` makes of it."""
    job = suspects.popleft()
    with cf.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        try:
            outcome = pool.submit(jobs_module.run_job, job, options).result()
        except cf.process.BrokenProcessPool as exc:
            instead, failed = jobs_module.after_worker_died(
                job, f"its worker process died (also when run alone): {exc}"
            )
            suspects.extendleft(reversed(instead))
            if failed is None:
                return
            outcome = failed
    yield outcome


def _pool_round(
    queue: collections.deque[Job],
    options: ExportOptions,
    jobs: int,
    context: Any,
    suspects: collections.deque[Job],
) -> Iterator[Outcome]:
    """Run jobs from ``queue`` until it is empty and none runs, or the pool breaks: the jobs
    in flight then go to ``suspects``, and the caller starts another pool for the rest."""
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        running: dict[cf.Future[Outcome], Job] = {}

        def fill() -> None:
            while queue and len(running) < 4 * jobs:
                job = queue.popleft()
                try:
                    future = pool.submit(jobs_module.run_job, job, options)
                except cf.process.BrokenProcessPool:
                    # a worker died while the caller had an outcome: the job waits for the
                    # next pool (a broken one takes none)
                    queue.appendleft(job)
                    return
                running[future] = job

        fill()
        while running:
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for future in done:
                job = running.pop(future)
                try:
                    outcome = future.result()
                except cf.process.BrokenProcessPool:
                    suspects.append(job)  # run again alone: it may not be the one
                    continue
                yield outcome
                fill()  # after the caller had the outcome: it may have queued more
