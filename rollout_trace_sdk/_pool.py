"""A local process pool for jobs over many bundles, shared by ``export`` (its default engine,
``export.process_engine``) and ``validate ROOT --jobs``.

The driver keeps a bounded number of jobs in flight, and may add jobs to the queue as results
come in. A worker that dies (killed, out of memory) breaks its pool, and every job in flight
with it: a new pool takes the queue, and the jobs that were in flight are run again one at a
time, each in a pool of its own, so that only a job whose worker dies alone fails (what it
becomes then is the caller's ``after_died``: a batch split until the bundle that kills its
worker is found, or a failed outcome).

Ctrl-C (and SIGTERM or SIGHUP, which the command line unwinds the same way) is the driver's
alone: the workers ignore SIGINT (a terminal sends it to the whole process group, and each
idle worker printed a traceback), and the driver, unwinding, kills them rather than waiting
for the jobs they are running.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import signal
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any, Generic, TypeVar

J = TypeVar("J")
O = TypeVar("O")  # noqa: E741


class Pool(Generic[J, O]):
    """What runs the jobs of one command: a picklable module-level ``task`` called as
    ``task(job, *args)`` in a worker, and ``after_died(job, why)``, what a job whose worker
    died running it alone becomes: jobs to run instead (each alone), or its outcome."""

    def __init__(
        self,
        task: Callable[..., O],
        args: tuple[Any, ...],
        after_died: Callable[[J, str], tuple[list[J], O | None]],
    ) -> None:
        self.task = task
        self.args = args
        self.after_died = after_died

    def run(
        self, queue: collections.deque[J], jobs: int, preload: Sequence[str]
    ) -> Generator[O, None, None]:
        """The jobs of ``queue`` (taken from its front, as the caller may add to its end while
        it reads the outcomes), in the order they finish, over ``jobs`` processes, at most
        ``4 * jobs`` in flight (the driver holds only small results, however many bundles
        there are). One job, or one worker, runs in this process: no pool to start, and
        in-memory filesystems stay visible.

        Args:
            queue: the jobs.
            jobs: worker processes.
            preload: the modules the workers' forkserver imports once for all of them.

        Returns:
            Each job's outcome as it comes in.
        """
        if jobs <= 1 or len(queue) <= 1:
            while queue:
                yield self.task(queue.popleft(), *self.args)
            return
        import multiprocessing

        # forkserver: workers fork from a clean server process that imported the heavy
        # modules once (fork from this driver could inherit fsspec's or pyarrow's threads;
        # spawn would import pyarrow again in every worker)
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(preload))
        yield from self.pools(queue, jobs, context)

    def pools(self, queue: collections.deque[J], jobs: int, context: Any) -> Iterator[O]:
        """:meth:`run` with the pools' ``context``: a new pool after one lost a worker, and
        the jobs that were in flight then (suspects: any of them may have killed it) run
        again alone once the queue is done."""
        suspects: collections.deque[J] = collections.deque()
        while queue or suspects:
            if queue:
                yield from self._round(queue, jobs, context, suspects)
            else:
                yield from self._alone(suspects, context)

    def _alone(self, suspects: collections.deque[J], context: Any) -> Iterator[O]:
        """Run the first suspect in a pool of its own: its outcome, or (its worker died
        again: it is the culprit, or holds it) what ``after_died`` makes of it."""
        job = suspects.popleft()
        with _Executor(1, context) as pool:
            try:
                outcome = pool.submit(self.task, job, *self.args).result()
            except cf.process.BrokenProcessPool as exc:
                instead, failed = self.after_died(
                    job, f"its worker process died (also when run alone): {exc}"
                )
                suspects.extendleft(reversed(instead))
                if failed is None:
                    return
                outcome = failed
        yield outcome

    def _round(
        self,
        queue: collections.deque[J],
        jobs: int,
        context: Any,
        suspects: collections.deque[J],
    ) -> Iterator[O]:
        """Run jobs from ``queue`` until it is empty and none runs, or the pool breaks: the
        jobs in flight then go to ``suspects``, and the caller starts another pool for the
        rest."""
        with _Executor(jobs, context) as pool:
            running: dict[cf.Future[O], J] = {}

            def fill() -> None:
                while queue and len(running) < 4 * jobs:
                    job = queue.popleft()
                    try:
                        future = pool.submit(self.task, job, *self.args)
                    except cf.process.BrokenProcessPool:
                        # a worker died while the caller had an outcome: the job waits for
                        # the next pool (a broken one takes none)
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


def _ignore_sigint() -> None:
    """A worker's initializer: Ctrl-C is the driver's to handle (see the module's text)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Executor(cf.ProcessPoolExecutor):
    """A process pool whose workers ignore SIGINT, and which, left by an exception (Ctrl-C,
    the caller closing the generator that reads it), kills its workers at once: the
    executor's own exit waits for the jobs they are running, a large bundle's minutes."""

    def __init__(self, jobs: int, context: Any) -> None:
        super().__init__(max_workers=jobs, mp_context=context, initializer=_ignore_sigint)

    def __exit__(self, kind: Any, *rest: Any) -> Any:
        if kind is not None:
            processes = getattr(self, "_processes", None) or {}  # CPython's; 3.14 has kill_workers
            for process in list(processes.values()):
                process.kill()
            self.shutdown(wait=True, cancel_futures=True)
            return False
        return super().__exit__(kind, *rest)
