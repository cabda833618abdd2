"""The default engine: an export's jobs (:mod:`.jobs`) over a local process pool (``_pool``,
which ``validate ROOT --jobs`` shares).

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
from collections.abc import Iterator
from typing import Any, Final

from .._pool import Pool
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


def _pool(options: ExportOptions) -> Pool[Job, Outcome]:
    return Pool(jobs_module.run_job, (options,), jobs_module.after_worker_died)


def run_processes(
    queue: collections.deque[Job], options: ExportOptions, jobs: int
) -> Iterator[Outcome]:
    """The jobs of ``queue`` (taken from its front, as the caller may add to its end while
    it reads the outcomes) over a pool of ``jobs`` processes, at most ``4 * jobs`` in flight
    (the driver holds only small results, however many bundles there are). One job, or one
    worker, runs in this process: no pool to start, and in-memory filesystems stay visible."""
    return _pool(options).run(queue, jobs, _PRELOAD)


def _pools(
    queue: collections.deque[Job], options: ExportOptions, jobs: int, context: Any
) -> Iterator[Outcome]:
    """:func:`run_processes` with the pools' ``context`` (the tests' fork, whose workers see
    a patched function)."""
    return _pool(options).pools(queue, jobs, context)
