"""The writing side of the bundle writer: queued records in chunks, one worker-thread call each.

:class:`ChunkWriter` takes records off the queue in chunks, encodes the chunk's event lines on
the loop (in slices, yielding between them) and hands the chunk to one worker-thread call,
which redacts it (payload bodies and lines, when the writer redacts), writes the payloads and
then the lines, and reports how far it got; disk errors are retried or counted here. The
contract is in :mod:`.writer`'s docstring; :class:`~.writer.BundleWriter` owns every attribute.

A schema-3 chunk that holds a payload to be cut short (``max_payload_bytes`` or the bundle
budget) writes its records *before* its lines are encoded: the body is redacted, then cut,
in the worker thread, and only then is the reference's ``retained_bytes`` known.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final, NoReturn

import anyio
import anyio.lowlevel

from ..model import layout
from . import _files
from ._encode import LineEncoder, QueuedEvent
from ._ki_protection import ki_protected
from ._line_cost import line_estimate
from ._queue import RecordQueue
from ._queue_rules import EVENT_COST, PAYLOAD_OVERHEAD
from ._shard_plan import is_cut
from ._shards import ShardSink
from ._warnings import recorder_warning
from ._worker_threads import Job, WriteHung, WriterThreads, writer_threads

log = logging.getLogger("rollout_trace_sdk")

#: One worker-thread call writes at most this much (items / payload bytes).
_CHUNK_ITEMS: Final = 4096
_CHUNK_BYTES: Final = 8 << 20
_NEVER: Final = 1 << 62
#: A write that fails with a transient error is retried after these pauses (then it counts
#: as a failure and the writer stops). Errors that no wait can cure are not retried.
_RETRY_DELAYS_S: Final = (0.05, 0.25, 1.0)
_PERMANENT_ERRNOS: Final = frozenset(
    {
        errno.EBADF,
        errno.EROFS,
        errno.EACCES,
        errno.EPERM,
        errno.ENOENT,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EEXIST,
        errno.EFBIG,
        errno.EINVAL,
    }
)
#: Encoding yields to the loop this often, so a long queue never stalls other tasks.
_SLICE_NS: Final = 30_000
_clock = time.perf_counter_ns


_QueuedPayload = _files.QueuedPayload


class ChunkWriter(RecordQueue):
    """The chunk-writing half of :class:`~.writer.BundleWriter` (which owns every attribute)."""

    __slots__ = (
        "_chunk_scope",
        "_done",
        "_encoder",
        "_fd",
        "_flight",
        "_held",
        "_hung",
        "_lock",
        "_lock_pending",
        "_log_size",
        "_payloads_dir",
        "_redact_lines",
        "_redact_payload",
        "_report_seq",
        "_reserved",
        "_retries",
        "_salvage",
        "_sink",
        "_written_seq",
        "stall_s",
    )
    _chunk_scope: anyio.CancelScope | None
    _closed: bool
    _forked: bool
    _done: int
    _held: BaseException | None
    #: the write in the worker thread and when it was handed over (loop clock)
    _flight: tuple[Job, float] | None
    #: a write did not return in ``stall_s`` (:class:`WriteHung`): nothing is written again
    _hung: bool
    #: how long one write may take before it counts as hung (the rollout's ``write_timeout``)
    stall_s: float
    _encoder: LineEncoder
    _fd: int
    _lock: anyio.Lock | None
    #: the log's writer lock was taken by a reader's probe at open: taken at the next chunk
    _lock_pending: bool
    _log_size: int
    _payloads_dir: _files.PayloadsDir
    _redact_lines: Any
    _redact_payload: Any
    #: the bundle's space reserve (``_files.make_reserve``): ``None`` not tried yet (the first
    #: chunk makes it), ``True`` held, ``False`` none (could not be made, or freed)
    _reserved: bool | None
    #: the loss report's seq once queued (0: none): a bundle whose report did not reach the
    #: log is not closed (``aclose``)
    _report_seq: int
    _retries: int
    _salvage: bool
    _sink: ShardSink | None
    _written_seq: int
    _queue: deque[Any]
    bundle_dir: Path

    def _notify(self) -> None:
        raise NotImplementedError  # the writer wakes its own waiters (``_room``)

    @ki_protected
    async def _drain(self, target: int | None = None) -> None:
        """Write queued items in chunks until the queue is empty (or ``target`` items are
        done). Each chunk is shielded: once taken off the queue it is written completely."""
        lock = await self._take_lock()
        try:
            while self._queue and (target is None or self._done < target):
                await anyio.lowlevel.checkpoint_if_cancelled()  # between chunks only
                with anyio.CancelScope(shield=True) as scope:
                    self._chunk_scope = scope
                    try:
                        await self._write_chunk()
                    finally:
                        self._chunk_scope = None
                self._notify()
                if self._closed:  # closed while this chunk was written: the log is done
                    self._close_log()
                self._raise_held()  # the chunk is whole on disk: now it may pass
        finally:
            lock.release()

    async def _take_lock(self) -> anyio.Lock:
        """The drain lock, waited for no longer than the write of whoever holds it may take:
        :class:`WriteHung` once that write has taken ``stall_s`` (a close or flush waiting for
        the writer task's chunk on a disk that stopped answering waited for ever)."""
        if self._lock is None:
            self._lock = anyio.Lock()
        lock = self._lock
        if not self._hung:
            try:
                lock.acquire_nowait()  # free: taken without a trip through the scheduler,
                return lock  # which an agent that never awaits would not give back
            except anyio.WouldBlock:
                pass
        while True:
            if self._hung:
                self._stop_hung()  # stopped already: raises again
            with anyio.move_on_after(self.stall_s):
                await lock.acquire()
                return lock
            self._check_flight()

    def _close_log(self) -> None:
        """Close ``trace.jsonl`` (once); warn when the bundle was removed meanwhile (its open
        files took every write: it closed as if whole, gone without a word; review user37)."""
        fd, self._fd = self._fd, -1
        if self._hung and not self._forked:
            return  # the hung worker thread still writes through it: never reuse its number
        if isinstance(folder := self._payloads_dir, int):  # ``_files.open_folder``'s
            self._payloads_dir = str(self.bundle_dir / layout.PAYLOADS_DIR)
            if self._sink is not None:
                self._sink.use_folder(self._payloads_dir)
            with contextlib.suppress(OSError):
                _files.close(folder)
        if fd >= 0 and not self._forked and self._failed is None and _files.unlinked(fd):
            self._failed = FileNotFoundError(errno.ENOENT, "the bundle was removed")
            log.warning(
                "rollout_trace_sdk: trace bundle %s was removed while it was being recorded; "
                "what it recorded is lost, the agent goes on",
                self.bundle_dir,
            )
        if fd >= 0:
            with contextlib.suppress(OSError):
                _files.close(fd)

    async def _held_off(self, awaitable: Awaitable[Any]) -> bool:
        """Await ``awaitable`` inside a write; ``False`` when a cancellation cut it short.

        anyio's shield does not hold off asyncio's own ``Task.cancel()`` (``wait_for`` or
        ``asyncio.timeout`` around a flush, the runner's shutdown cancelling every task after
        a ``sys.exit()`` in a task), nor trio's ``KeyboardInterrupt`` (a second Ctrl-C while
        the rollout closes): either is kept in ``_held`` and raised once the chunk is
        written. Left to pass, it abandoned the chunk in the worker thread while the next
        chunk was written beside it with stale offsets (the log lost its head, or a shard
        was created twice and the recording stopped), or while the log was closed under it
        (the log stayed empty). A forked child's cancellation passes at once: nothing there
        may wait for the parent's worker thread."""
        try:
            await awaitable
        except (anyio.get_cancelled_exc_class(), KeyboardInterrupt) as exc:
            self._hold(exc)
            return False
        return True

    def _hold(self, exc: BaseException) -> None:
        """Keep the cancellation ``exc`` in ``_held`` (see :meth:`_held_off`); in a forked
        child, let it pass at once."""
        if self._forked:
            raise exc
        self._held = exc

    async def _in_thread(self, write: Callable[..., Any], *args: Any) -> None:
        """Run ``write(*args)`` in a worker thread and return once it has returned, even when
        a cancellation the shield cannot hold off (see :meth:`_held_off`) interrupts the wait:
        until then the chunk, the log's length and the shards are the thread's. A call the
        worker had not started when the wait was interrupted is never started (anyio skips
        it): it is handed to a worker again. A write that has not returned ``stall_s`` after
        it had a worker thread (or waited that long for one while no write of the loop
        returned: :meth:`_thread_for`) raises :class:`WriteHung`, the thread left to it."""
        threads = writer_threads()
        while True:
            if self._hung:
                self._stop_hung()  # stopped already: raises again
            job = Job(write, args, self)
            if not await self._thread_for(job, threads):
                continue  # another's cancellation while waiting: held off, waited again
            try:
                self._flight = (job, anyio.current_time())
                threads.flights[job] = self._flight[1] + self.stall_s
                run = anyio.to_thread.run_sync(
                    job.run, abandon_on_cancel=True, limiter=threads.unbounded
                )
                try:
                    with anyio.CancelScope(deadline=self._flight[1] + self.stall_s) as watch:
                        await run
                except (anyio.get_cancelled_exc_class(), KeyboardInterrupt) as exc:
                    self._hold(exc)  # another's cancellation (the watch keeps its own)
                    if job.call_off():
                        continue
                    while not job.finished.is_set():
                        self._check_flight()
                        await self._held_off(anyio.sleep(0.001))
                else:
                    if watch.cancelled_caught:
                        job.call_off()  # one no worker had started yet stays unstarted
                        self._check_flight()
            except WriteHung:
                threads.hung_at = anyio.current_time()
                raise
            finally:
                threads.flights.pop(job, None)
                threads.limiter.release_on_behalf_of(job)
                threads.settled()
            threads.returned_at = anyio.current_time()
            self._flight = None
            return

    async def _thread_for(self, job: Job, threads: WriterThreads) -> bool:
        """Wait for a writer thread's token (taken on behalf of ``job``); ``False`` when
        another's cancellation cut the wait short (held off, see :meth:`_held_off`).

        The wait lasts as long as other writes of the loop return (each is watched: it
        returns or is abandoned within its own ``stall_s``); once none has returned for
        ``stall_s`` (they all hang) this write is no better off: :class:`WriteHung`. A write
        abandoned as hung gives its token back but is no write that returned: a thousand
        rollouts on a disk that hangs are stopped within ``stall_s`` or two, not forty at a
        time. Before judging, the writes already past their deadlines are let go: the loop
        held past theirs and this one's (a blocking call of the agent, a busy machine) could
        wake this wait first, and a rollout on a healthy disk was stopped as hung while the
        tokens of the hung writes ahead of it were about to come back. Those tokens go to
        whoever is first in line, so a wait that ends with hung writes let go since it began
        is judged by the writes that took them (:meth:`_out_of_line`), once."""
        limiter = threads.limiter
        asked = anyio.current_time()
        judged_out_of_line = False
        while True:
            since = max(asked, threads.returned_at)
            try:
                with anyio.CancelScope(deadline=since + self.stall_s):
                    await limiter.acquire_on_behalf_of(job)
                    return True
            except (anyio.get_cancelled_exc_class(), KeyboardInterrupt) as exc:
                self._hold(exc)
                return False
            try:  # given back as the wait ended (its deadline has passed: no checkpoint)
                limiter.acquire_on_behalf_of_nowait(job)
                return True
            except anyio.WouldBlock:
                pass
            now = anyio.current_time()
            if now - max(asked, threads.returned_at) < self.stall_s:
                continue  # a write returned meanwhile
            try:
                if any(deadline <= now for deadline in threads.flights.values()):
                    await anyio.sleep(0.001)  # the overdue writes' tasks give them up
                    continue
                if judged_out_of_line or threads.hung_at <= asked:
                    self._stop_hung()
                judged_out_of_line = True
                if not await self._out_of_line(threads, now):
                    self._stop_hung()
                asked = anyio.current_time()  # a write returned: back in line, afresh
            except (anyio.get_cancelled_exc_class(), KeyboardInterrupt) as exc:
                self._hold(exc)
                return False

    async def _out_of_line(self, threads: WriterThreads, began: float) -> bool:
        """Whether a write of the loop returns within ``stall_s`` of ``began``, waited for
        out of line (taking no token).

        The writes hung ahead of a waiter were let go while it waited, and the tokens they
        gave back went to writes that had not begun (of the rollouts first in line, or those
        whose wait ended first): nothing says yet that this disk hangs. Judged at once, all
        but forty of the rollouts behind hung writes on another disk were stopped as hung
        on a healthy disk (the loop held past every deadline). Back in line, a waiter could
        take a token the writes that took them give back when they hang too: a third round
        of writes on a disk that hangs."""
        while threads.returned_at <= began:
            with anyio.CancelScope(deadline=began + self.stall_s) as wait:
                await threads.wait_settled()
            if wait.cancelled_caught:
                # a write whose thread returned while the loop was held counts
                return any(job.finished.is_set() for job in threads.flights)
        return True

    def _check_flight(self) -> None:
        """:class:`WriteHung` when the write in flight has taken ``stall_s``; from then on
        the writer stops for good (its loss counted, a warning given once)."""
        flight = self._flight
        if flight is None or flight[0].finished.is_set():
            return
        if anyio.current_time() - flight[1] < self.stall_s:
            return
        self._stop_hung()

    def _stop_hung(self) -> NoReturn:
        """Stop for good: a write has not returned in ``stall_s`` (or found no thread while
        no write of the loop returned)."""
        self._hung = True
        reason = f"a write has not returned in {self.stall_s:g} s (the disk hangs)"
        if self._failed is None:
            self._failed = WriteHung(reason)
            self._reasons.append(reason)
            recorder_warning(
                f"rollout trace: {reason}; recording stops here and {self.bundle_dir} is "
                "left unclosed (reduce --lenient reads what it holds)",
                kind="disk hangs",
            )
        raise WriteHung(reason)

    async def _closing_step(
        self,
        held: list[BaseException],
        step: Callable[[], Awaitable[None]],
        deadline: float = math.inf,
    ) -> None:
        """Run one step of :meth:`aclose` to its end (or to ``deadline``).

        anyio's shield does not hold off asyncio's own ``Task.cancel()``: an
        ``asyncio.timeout`` whose deadline passes while the rollout closes, a ``wait_for``,
        the runner's shutdown. Such a cancellation is kept in ``held`` (``aclose`` raises it
        once the bundle is closed) and the step runs again. Left to pass, it ended the close
        half way: the rest of the queue was lost uncounted, the bundle left unclosed, and
        the writer task went on writing through the closed descriptor. A forked child's
        cancellation passes (nothing is written there). A ``KeyboardInterrupt`` (a second
        Ctrl-C while closing) passes too, once the chunk being written is whole: the bundle
        is then left unclosed, as the user asked to stop.
        """
        while True:
            try:
                with anyio.CancelScope(deadline=deadline):
                    await step()
                return
            except anyio.get_cancelled_exc_class() as exc:
                if self._forked:
                    raise
                held.append(exc)

    @ki_protected
    async def _seal(self) -> None:
        """Schema 3: seal every shard (in a worker thread; again is harmless). Protected from
        trio's KeyboardInterrupt as :meth:`_drain` is: one landing between the worker's
        start and :meth:`_in_thread`'s own wait would leave the seal running as the process
        ends (a torn shard footer)."""
        assert self._sink is not None
        await self._in_thread(self._sink.seal)
        self._raise_held()

    def _raise_held(self) -> None:
        """Raise the cancellation :meth:`_held_off` kept while a write ran, if any (once)."""
        held, self._held = self._held, None
        if held is not None:
            raise held

    def _take_chunk(self) -> tuple[list[_QueuedPayload], list[QueuedEvent]]:
        # the first _CHUNK_ITEMS items, taken in bulk (thousands of items; a Python step
        # each cost 0.3 µs); when their payloads reach _CHUNK_BYTES (rare: large payloads),
        # they go back and the chunk is taken item by item
        queue = self._queue
        if len(queue) <= _CHUNK_ITEMS:
            taken = list(queue)
            queue.clear()
        else:
            pop = queue.popleft
            taken = [pop() for _ in range(_CHUNK_ITEMS)]
        payloads = [item for item in taken if len(item) == 2]
        payload_bytes = sum([len(data) for _, data in payloads])
        if payload_bytes >= _CHUNK_BYTES:
            queue.extendleft(reversed(taken))
            return self._take_counted()
        events = [item for item in taken if len(item) != 2]
        charged = payload_bytes + PAYLOAD_OVERHEAD * len(payloads) + EVENT_COST * len(events)
        self._queued -= charged
        self._done += len(taken)
        self._hold_taken(charged)  # in memory until written: reserved until then
        return payloads, events

    def _take_counted(self) -> tuple[list[_QueuedPayload], list[QueuedEvent]]:
        """:meth:`_take_chunk` item by item: a chunk ends at :data:`_CHUNK_ITEMS` items or
        once its payloads reach :data:`_CHUNK_BYTES`."""
        queue = self._queue
        payloads: list[_QueuedPayload] = []
        events: list[QueuedEvent] = []
        charged = 0
        payload_bytes = 0
        while queue and len(payloads) + len(events) < _CHUNK_ITEMS and payload_bytes < _CHUNK_BYTES:
            item = queue.popleft()
            if len(item) == 2:
                payloads.append(item)
                size = len(item[1])
                payload_bytes += size
                charged += size + PAYLOAD_OVERHEAD
            else:
                events.append(item)
                charged += EVENT_COST
        self._queued -= charged
        self._done += len(payloads) + len(events)
        self._hold_taken(charged)  # in memory until written: reserved until then
        return payloads, events

    async def _write_chunk(self) -> None:
        payloads, events = self._take_chunk()
        try:
            await self._write_taken(payloads, events)
        finally:
            self._give_back()

    async def _write_taken(self, payloads: list[_QueuedPayload], events: list[QueuedEvent]) -> None:
        if self._failed is not None and not self._salvage:
            self._lose(payloads, len(events), b"")
            return
        chunk = _files.Chunk(payloads, b"", events[0][0] if events else 0, len(events))
        chunk.repair = self._redact_payload
        chunk.filter_lines = self._redact_lines
        if self._reserved is None:  # the first chunk holds room for the closing records
            self._reserved = False
            folder = self._payloads_dir  # its descriptor follows a moved bundle
            chunk.reserve = folder if isinstance(folder, int) else str(self.bundle_dir)
        chunk.durable = self._durable
        if self._durable and (self._closing or (self._sync_at and self._done >= self._sync_at)):
            chunk.sync = True
            self._sync_at = 0
        try:
            if self._cuts(payloads):
                # a body is cut after redaction: its retained size, which lines citing it
                # carry, is known once the records are written
                assert self._sink is not None
                await self._in_thread(_files.write_records, chunk, self._sink)
            lines = bytearray()
            done = 0
            while done < len(events):
                if done:
                    await self._held_off(anyio.lowlevel.checkpoint())
                # Behind (over half the budget): encode the chunk in one go. Producers then
                # wait for the loop, which is the back-pressure sync calls cannot get.
                until = _clock() + _SLICE_NS if self._queued < self._max // 2 else _NEVER
                done = self._encoder.encode_into(lines, events, done, until)
            chunk.lines = lines
            seal_below = 0
            if self._plan is not None:
                # the lines were charged an estimate each as they were queued (when capped)
                estimated = sum(line_estimate(e[4]) for e in events) if self._lines_capped else 0
                if self._plan.charge(len(lines) - estimated):
                    self._filled()
                # nothing placed before the plan's current shard is still queued: seal them
                seal_below = 0 if self._queue or self._inbox else self._plan.current_shard
            if self._lock_pending:  # a reader probed the log as it was made: try again
                self._lock_pending = _files.lock_log(self._fd) is False
            if payloads or lines:
                # After a failure the closing lines get one attempt each, not the retries:
                # the disk has just failed them all, and each retry cycle held the close
                # (a full disk added 2.6 s to every rollout's close: review prod27).
                delays = () if self._salvage else _RETRY_DELAYS_S
                for delay in (*delays, None):
                    if self._sink is not None:
                        await self._in_thread(
                            _files.write_chunk_v3,
                            chunk,
                            self._sink,
                            self._fd,
                            self._log_size,
                            seal_below,
                        )
                    else:
                        await self._in_thread(
                            _files.write_chunk, chunk, self._payloads_dir, self._fd, self._log_size
                        )
                    if delay is None or not _transient(chunk.error):
                        break
                    self._retries += 1
                    # shielded, and bounded: the sum of the delays
                    await self._held_off(anyio.sleep(delay))
        except Exception as exc:  # a bug must reach neither the agent nor the other records
            chunk.error = exc
        self._turn_wanted = False
        if chunk.reserved:
            self._reserved = True
        self._account(chunk)
        # Free the payload bytes here and now: the worker thread keeps its last job's
        # arguments alive until its next one, and memory that lingers is memory the next
        # snapshot cannot reuse (fresh pages make orjson measurably slower).
        payloads.clear()
        chunk.lines = b""

    def _cuts(self, payloads: list[_QueuedPayload]) -> bool:
        """Whether a schema-3 record of ``payloads`` is to be cut short (rare: a bundle
        with no truncation so far never looks)."""
        plan = self._plan
        if self._sink is None or plan is None or not plan.truncated:
            return False
        return any(is_cut(meta) for meta, _ in payloads)

    def _account(self, chunk: _files.Chunk) -> None:
        stats = self._stats
        stats[1] += chunk.payloads_done
        stats[0] += chunk.lines_done
        self._log_size += chunk.bytes_done
        if chunk.lines_done:
            self._written_seq = chunk.first_seq + chunk.lines_done - 1
        if chunk.error is None:
            return
        self._lose(
            chunk.payloads[chunk.payloads_done :],
            chunk.line_count - chunk.lines_done,
            chunk.lines[chunk.bytes_done :],
        )
        self._note_failure(chunk.error)

    def _note_failure(self, error: Exception) -> None:
        """The writer's first failure: kept (``stats.failed``), a reason of the loss report,
        warned of once. Also a seal the close could not write (``aclose``)."""
        if self._failed is None:
            self._failed = error
            self._reasons.append(f"writing the bundle failed ({error})")
            log.warning(
                "rollout_trace_sdk: cannot write trace bundle %s: %s; recording stops here, "
                "the agent goes on",
                self.bundle_dir,
                error,
            )

    def _lose(self, payloads: list[_QueuedPayload], events: int, lines: bytes | bytearray) -> None:
        stats = self._stats
        stats[2] += events
        stats[3] += len(payloads)
        stats[4] += sum(len(data) for _, data in payloads) + len(lines)


def _transient(error: Exception | None) -> bool:
    return isinstance(error, OSError) and error.errno not in _PERMANENT_ERRNOS
