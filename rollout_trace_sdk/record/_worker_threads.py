"""The worker threads bundle writers write through, one job per write, and what a hung write is.

Each chunk a :class:`~._chunks.ChunkWriter` writes is one :class:`Job` in a worker thread of
the running event loop's writers (:func:`writer_threads`): their own pool, apart from the
agent's thread calls, given back at once when a write is abandoned as hung
(:class:`WriteHung`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any, Final

import anyio
from anyio.lowlevel import RunVar

__all__ = ["WRITER_THREADS", "Job", "WriteHung", "WriterThreads", "writer_threads"]


class WriteHung(Exception):
    """A write that has not returned in ``stall_s`` seconds: the disk hangs (a network file
    system that stopped answering, say), and no system call can be cut short from Python.
    The writer stops for good: it never writes again (the worker thread still owns the
    files), its descriptors stay open for that thread, and the bundle is left unclosed, as a
    crash leaves it (``reduce --lenient`` reads what it holds). Whoever waited for the write
    goes on: the agent is never held by a disk that does not answer."""


#: Worker threads the bundle writers of one event loop use at once (every rollout writes one
#: chunk at a time, so this many rollouts write at once; the others wait their turn).
WRITER_THREADS: Final = 40
_WRITER_THREADS: RunVar[WriterThreads] = RunVar("rollout_trace_sdk_writer_threads")


class WriterThreads:
    """The worker threads of the running event loop's bundle writers (made at first use).

    Not anyio's default limiter, which the agent's own ``anyio.to_thread.run_sync`` calls
    (and ``anyio.open_file``, ``run_process`` helpers, ...) share: with it, forty blocking
    calls of the agent (sandboxed tools run in threads, say) held every rollout's writes, so
    ``flush`` and the close waited for them and a close ran out of ``close_timeout`` and lost
    what was queued; and forty rollouts writing at once (a thousand episodes closing
    together, a slow disk) held the agent's own thread calls, each for as long as the other
    side's calls took.

    ``limiter`` is what a write waits for, taken and given back by the writer itself, not
    by ``to_thread.run_sync`` (which counts against ``unbounded``): a write abandoned as hung
    gives its token back at once, under trio too (whose limiter keeps a token until the
    thread returns: forty writes hung on one disk held every other rollout's writes on the
    loop, which were then stopped as hung themselves). ``returned_at`` is when a write of
    the loop last returned: a write waiting for a token is no hung write while others
    return (a long queue of slow writes, say a hundred rollouts on a slow disk).
    ``flights`` holds each write that has a token, with the loop time at which it counts as
    hung: a waiter is not judged while one of them is overdue (its token about to come
    back). ``hung_at`` is when a write of the loop was last let go as hung."""

    __slots__ = ("_settled", "flights", "hung_at", "limiter", "returned_at", "unbounded")

    def __init__(self) -> None:
        self.limiter = anyio.CapacityLimiter(WRITER_THREADS)
        self.unbounded = anyio.CapacityLimiter(math.inf)
        self.returned_at = self.hung_at = -math.inf
        self.flights: dict[Job, float] = {}
        self._settled: anyio.Event | None = None  # made for a waiter only: writes are hot

    def settled(self) -> None:
        """A write gave its token back (returned, let go as hung, or called off)."""
        waiters, self._settled = self._settled, None
        if waiters is not None:
            waiters.set()

    async def wait_settled(self) -> None:
        """Until a write gives its token back."""
        if self._settled is None:
            self._settled = anyio.Event()
        await self._settled.wait()


def writer_threads() -> WriterThreads:
    try:
        return _WRITER_THREADS.get()
    except LookupError:
        threads = WriterThreads()
        _WRITER_THREADS.set(threads)
        return threads


class Job:
    """One worker-thread call of a chunk's write, which the loop thread can call off as long
    as the worker has not started it."""

    __slots__ = ("_args", "_lock", "_owner", "_state", "_write", "finished")

    def __init__(self, write: Callable[..., Any], args: tuple[Any, ...], owner: Any) -> None:
        self._write = write
        self._args = args
        self._owner = owner
        self._lock = threading.Lock()
        self._state = "queued"  # then "running", or "called off"
        self.finished = threading.Event()

    def run(self) -> None:
        """In the worker thread: the write, unless it was called off."""
        with self._lock:
            if self._state != "queued":
                return
            self._state = "running"
        try:
            self._write(*self._args)
        finally:
            self._owner._turn_wanted = True  # the writer task (a ChunkWriter) wants its turn
            self.finished.set()

    def call_off(self) -> bool:
        """Whether the job was still waiting for a worker (it will now never run)."""
        with self._lock:
            if self._state == "queued":
                self._state = "called off"
                return True
            return False
