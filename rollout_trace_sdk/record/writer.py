"""The bundle writer: recording calls enqueue, one background task writes.

Interface (the recorder builds on exactly this)::

    writer = BundleWriter.create(root, trace_id=..., root_thread_id=...,
                                 max_queued_bytes=64 << 20, overflow="wait")
    # -> raises BundleCreateError (an OSError) when the bundle cannot be made: the recorder
    #    catches it and falls back to a disabled recorder.
    async with anyio.create_task_group() as tg:
        await tg.start(writer.run)                 # the background writer task
        ref = writer.payload_nowait("protocol_event", {...})   # RawPayloadRef, or None = dropped
        ok = writer.event_nowait(ev.ProtocolEventObserved("x", ref))  # False = dropped
        ref = await writer.payload(kind, value)    # same, but waits for room (overflow="wait")
        ok = await writer.event(payload, thread_id=..., codex_turn_id=...)
        await writer.flush()                       # everything enqueued so far is on disk
        await writer.aclose()                      # drain, loss report, recording_completed
    writer.stats                                   # WriterStats snapshot (counters, failure)
    writer.queued_bytes, writer.max_queued_bytes   # cheap budget probe for back-pressure

Why it is shaped like this:

* **Off the hot path.** A recording call only snapshots: a payload value is serialised with
  ``orjson`` right away (callers mutate their message lists right after), and so is an
  event's payload object (a queued tuple of strings, numbers and bytes is one the garbage
  collector stops tracking at once; queued attrs objects lived long enough to reach the
  oldest generation and made full collections frequent). Only a bundle with capture limits
  keeps event objects until their lines are written: a truncated reference's retained size
  is settled later. The call assigns the seq or the payload ordinal and reads the wall
  clock, appends to one FIFO queue, and returns. The event loop never waits on the disk:
  :meth:`run` lets records gather for up to 20 ms (a thread call costs ~100 µs, far more
  than a record), assembles the lines on the loop in slices of ~30 µs (Python code in the
  worker thread would contend with the loop for the GIL), and hands each chunk (payloads,
  then the lines) to one worker-thread call (``_chunks``). Strings of 64 K characters or
  more are escaped in that thread, not in the call (``_deferred``, and the item store's
  content values). A handle's ``async with`` gives the writer task its turn when it has
  work waiting, so an agent that never awaits anything does not grow the queue until the
  budget stops it.
* **Secrets never reach the disk.** Unless ``redaction`` says otherwise, the worker thread
  redacts every payload body and every chunk of lines before writing it (``redact``;
  schema 3 frames and cuts its records there too, after redaction), and on close the counts
  are recorded as a ``warning`` protocol event before ``recording_completed``.
* **Payload before line.** A caller gets its :class:`RawPayloadRef` before it can build the
  event citing it, so the payload is ahead of the event in the queue; a chunk writes its
  payload files before its lines, and chunks are written one at a time. The order of
  operations is the whole invariant: no locks around it.
* **Bounded memory.** Queued bytes (payload sizes plus a flat estimate per event) stay under
  ``max_queued_bytes`` for the awaitable calls: with ``overflow="wait"`` they wait for room
  (``_room``). The ``*_nowait`` calls cannot wait: with ``"wait"`` they may overdraw up to
  ``HARD_CAP_FACTOR × max_queued_bytes``, with ``"drop"`` the budget is the limit; past it
  the item is dropped and counted, except :data:`CLOSING_EVENTS`. A dropped event never
  takes a seq, so the log has no gap; a dropped payload returns ``None`` and the caller
  drops the event or writes a null ref.
* **Losses are never silent.** On close, if anything was lost, a ``protocol_event_observed``
  (``event_type`` ``"warning"``) says how much, just before ``recording_completed``
  (``_reports``).
* **Disk failure never reaches the agent.** A transient ``OSError`` is retried (0.05, 0.25,
  1 s) from where the write stopped. A lasting one (or any unexpected error while writing)
  logs one warning on the ``rollout_trace_sdk`` logger; the writer stops writing and counts
  what it could not write. On close it frees the bundle's space reserve (room held back
  from the first chunk on for the closing records: ``_files.make_reserve``; freed at every
  close, failed or not) and makes one last attempt to append the
  loss report, then ``recording_completed`` right after the last complete line (a torn line
  is cut off first), so the bundle still reduces. A bundle whose loss report did not make it
  gets no ``recording_completed``: closed, it would read whole and hide its loss; unclosed,
  every reader says it stopped. Schema 3 first ends each shard frame the failure left open
  where its last whole batch did (``ShardSink.cut``) and moves the plan to a new shard for
  the report: Codex refuses a closed log over an unsealed shard; one whose frame cannot
  even be cut stays unclosed, which Codex reads.
* **Values never raise.** :class:`~._values.ValueEncoder` records what JSON cannot hold
  approximately and counts it (see ``_values``).
* **Any thread.** The ``*_nowait`` calls may come from any task, from sync code in the
  loop's thread, or from another OS thread: those go through a lock-guarded inbox (same
  budget) that the loop thread moves into the queue, drawing the seqs there.
* **Fork.** In a forked child every writer is inert (queue dropped unwritten, nothing
  written); the parent's bundle is never touched.
* **Still writing.** The log is held under an exclusive ``flock`` from creation to close
  (``_files.lock_log``; never waited for, a failure is simply no lock): readers say
  ``recording`` while it is held, ``unclosed`` once its writer is gone. A fork's copy of the
  descriptor is closed in the child, so only the parent's close (or death) releases it.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Literal

import anyio
import anyio.abc
import attrs

from ..model import codec, layout
from ..model import events as ev
from . import _files
from ._async_lib import current_async_library
from ._budget import PROCESS
from ._chunks import ChunkWriter
from ._encode import LineEncoder, QueuedEvent
from ._inbox import loop_poker
from ._item_store import ItemStore
from ._ki_protection import protect_from_trio_interrupts
from ._queue_rules import HARD_CAP_FACTOR
from ._reports import now_ms
from ._room import RoomWaits
from ._shard_plan import CaptureLimits, ShardPlan
from ._shards import ShardSink
from ._values import ValueEncoder
from ._worker_threads import WriteHung
from .redact import RedactionConfig, Redactor, payload_repair

log = logging.getLogger("rollout_trace_sdk")

Overflow = Literal["wait", "drop"]

#: How long the writer task lets records gather before a write, unless ``_HURRY_BYTES`` (or a
#: quarter of the budget) gathered first. ``flush`` and ``aclose`` never wait for it.
_LINGER_S: Final = 0.02
#: ``stall_s`` of a writer made without a rollout (the rollout sets its ``write_timeout``).
DEFAULT_STALL_S: Final = 30.0
_HURRY_BYTES: Final = 256 << 10
_NEVER: Final = 1 << 62

#: A queued payload file: (ordinal, pretty JSON bytes).
_QueuedPayload = _files.QueuedPayload


def _loop_poker() -> Callable[[Callable[[], None]], Any] | None:
    """How other OS threads wake this writer's event loop (see ``loop_poker``); a writer made
    under trio also marks its chunk writing as trio's KeyboardInterrupt's no-go zone."""
    if current_async_library() == "trio":
        protect_from_trio_interrupts(ChunkWriter)
    return loop_poker()


class BundleCreateError(OSError):
    """The bundle directory could not be created (it exists, the root is read-only, ...).

    The recorder catches it and records nothing (a disabled recorder): tracing must never
    keep an agent from running.
    """


@attrs.frozen
class WriterStats:
    """A snapshot of the writer's counters."""

    events_written: int
    payloads_written: int
    events_dropped: int
    payloads_dropped: int
    #: payload bytes (and encoded line bytes) that never reached the disk
    bytes_dropped: int
    #: bytes currently held in memory by the queue (the budget's measure)
    queued_bytes: int
    max_queued_bytes: int
    #: the error (a disk error, as a rule) that stopped the writer, or ``None``
    failed: Exception | None
    closed: bool
    #: values recorded approximately, by kind (``set``, ``bytes``, ``cycle``, ...)
    approximated: dict[str, int] = attrs.field(factory=dict)
    #: secrets redacted so far, by kind (empty with redaction off)
    redacted: dict[str, int] = attrs.field(factory=dict)

    @property
    def lost_anything(self) -> bool:
        return bool(self.events_dropped or self.payloads_dropped)


class BundleWriter(RoomWaits):
    """Writes one bundle; see the module docstring for the contract."""

    __slots__ = (
        "__weakref__",
        "_forked",
        "_hurry_bytes",
        "_running",
        "manifest",
        "redactor",
    )

    def __init__(
        self,
        bundle_dir: Path,
        fd: int,
        manifest: ev.Manifest,
        *,
        max_queued_bytes: int,
        overflow: Overflow,
        durable: bool = False,
        limits: CaptureLimits | None = None,
        redaction: RedactionConfig | None = None,
    ) -> None:
        if overflow not in ("wait", "drop"):
            raise ValueError(f"overflow must be 'wait' or 'drop', not {overflow!r}")
        self.bundle_dir = bundle_dir
        self.manifest = manifest
        self._fd = fd
        # held while the log is open: readers tell `recording` from `unclosed` by it
        self._lock_pending = _files.lock_log(fd) is False
        payloads_dir = str(bundle_dir / layout.PAYLOADS_DIR)
        # payload files and shards are made relative to the folder (which follows a moved
        # root), once it is open (below)
        self._payloads_dir: _files.PayloadsDir = payloads_dir
        #: turns agent values into JSON without ever raising; counts approximations
        self.values = ValueEncoder()
        schema = manifest.schema_version
        self._encoder = LineEncoder(manifest.rollout_id, self.values, schema=schema)
        #: redacts payload bodies and lines in the worker thread (``None``: redaction is off)
        self.redactor: Redactor | None = None
        if redaction is None or redaction.enabled:
            self.redactor = Redactor(redaction)
        self._redact_lines = (
            None if self.redactor is None else functools.partial(self.redactor.redact, lines=True)
        )
        self._redact_payload = payload_repair(
            self.values.cut_too_deep, None if schema == ev.SCHEMA_VERSION_V3 else self.redactor
        )
        # Schema 3: shard placement on the loop, zstd in the worker thread, and the item
        # store (each conversation item written once). ``None`` for schema 2.
        self._plan: ShardPlan | None = None
        self._lines_capped = False
        self._sink: ShardSink | None = None
        #: schema 3's item store (requests, responses, accepted items); ``None`` in schema 2
        self.items: ItemStore | None = None
        if schema == ev.SCHEMA_VERSION_V3:
            limits = limits or CaptureLimits()
            self._plan = ShardPlan(limits)
            self._lines_capped = limits.max_bundle_bytes is not None
            redactor = self.redactor
            self._sink = ShardSink(
                payloads_dir,
                body_filter=None if redactor is None else redactor.redact,
                clean=None if redactor is None else redactor.clean,
                finished=self._plan.finished,
                durable=durable,
            )
            self.items = ItemStore(
                self._put_body,
                max_payload_bytes=limits.max_payload_bytes,
                dumps=self.values.compact_payload,
                lazy_strings=not self._plan.limited,
                put_frozen=self.put_frozen,
                put_output=self.put_output_frozen,
                put_kept=self._put_kept,
                # compact_payload's depth check has nothing to find one level deep
                dumps_shallow=self.values.compact,
            )
        elif limits is not None and limits != CaptureLimits():
            raise ValueError("payload limits need schema 3 (schema 2 has no capture metadata)")
        self._body_dumps = self.values.pretty if self._plan is None else self.values.compact_payload
        self._body_unchecked = self.values.compact_body
        self._body_repair = self.values.cut_too_deep_text
        self._eager = None
        self._eager_slow = self._encoder.payload_bytes
        if self._plan is None or not self._plan.limited:
            self._eager = self._encoder.encoders
        self.flat = self._plan is not None and self._eager is not None
        self._max = max(int(max_queued_bytes), 1)
        self._overflow = overflow
        self._durable = durable
        self._sync_at = 0  # durable mode: fsync once this many items are written
        # what a call that cannot wait may fill the queue up to (see HARD_CAP_FACTOR)
        self._own_cap = self._max * HARD_CAP_FACTOR if overflow == "wait" else self._max
        # under a process budget, what it reserved of it (nothing yet: see _budget)
        self._limited = PROCESS.limit is not None
        self._cap = 0 if self._limited else self._own_cap
        self._taken = 0
        self._crowded = self._process_full = False
        self._queue: deque[QueuedEvent | _QueuedPayload] = deque()
        self._queued = 0  # bytes charged to the budget, released once written or dropped
        self._seq = 0  # last seq handed out
        self._ordinals = itertools.count(1)  # payload ordinals (atomic: any thread may draw)
        # Calls from other OS threads land in the inbox; the loop thread moves them into the
        # queue (that is where seqs are drawn, so the log order is the queue order).
        self._loop_ident = threading.get_ident()
        self._inbox: deque[tuple[Any, ...]] = deque()
        self._inbox_bytes = 0
        self._inbox_lock = threading.Lock()
        self._kept_size = 0  # see payload_kept
        self._poke: Callable[[Callable[[], None]], Any] | None = _loop_poker()
        self._thread_drops = [0, 0, 0]  # events, payloads, bytes dropped by thread calls
        _LIVE.add(self)
        self._written_seq = 0  # last seq whose line is completely on disk
        self._log_size = 0  # bytes of complete lines in trace.jsonl
        self._enqueued = 0  # items ever queued (flush targets)
        self._done = 0  # items written or dropped
        # events_written, payloads_written, events_dropped, payloads_dropped, bytes_dropped
        self._stats = [0, 0, 0, 0, 0]
        self._reasons: list[str] = []
        self._retries = 0  # writes retried after a transient error
        self._failed: Exception | None = None
        self._full = False
        self._salvage = False
        self._reserved = None
        self._report_seq = 0
        self._closing = False
        self._closed = False
        self._running = 0
        self._wakeup: anyio.Event | None = None
        # The queue size at which a record wakes the writer task: 0 while it waits for work,
        # a batch's worth while it lingers, never while it writes (it looks again after).
        self._hurry_at = 0
        self._hurry_bytes = self._batch_bytes = min(self._max // 4, _HURRY_BYTES)
        # the writer task is started, not yet run: it wants its first turn (no wake-up to
        # set yet, so no record would ever ask for it: an agent that never awaits queued
        # half the byte budget before the task ran)
        self._turn_wanted = True
        self._progress: anyio.Event | None = None
        self._lock: anyio.Lock | None = None
        self._chunk_scope: anyio.CancelScope | None = None
        #: a cancellation that reached a chunk through its shield, raised once it is written
        self._held: BaseException | None = None
        #: in a forked child: nothing may wait for the parent's worker threads there
        self._forked = False
        self._flight = None
        self._hung = False
        #: how long a write may take before it counts as hung, and how long a wait for room
        #: lasts without progress (the rollout sets its ``write_timeout``)
        self.stall_s = DEFAULT_STALL_S
        #: a wait for room went ``stall_s`` without progress: no waiting until there is some
        self._stalled = False
        self._stall_noted = False
        # last: nothing after it may fail and leave it open
        self._payloads_dir = _files.open_folder(payloads_dir)
        if self._sink is not None:
            self._sink.use_folder(self._payloads_dir)

    # --- creation ------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        root: Path | str,
        *,
        trace_id: str,
        root_thread_id: str,
        max_queued_bytes: int = 64 << 20,
        overflow: Overflow = "wait",
        started_at_unix_ms: int | None = None,
        durable: bool = False,
        schema_version: int = ev.SCHEMA_VERSION,
        limits: CaptureLimits | None = None,
        redaction: RedactionConfig | None = None,
    ) -> BundleWriter:
        """Create ``<root>/trace-<trace_id>-<root_thread_id>/`` with its manifest, payload
        directory and empty log. Raises :class:`BundleCreateError` if that is impossible,
        including when the directory already exists (a bundle is never reused).
        ``redaction`` says what is redacted (``None``: the defaults; ``enabled=False``:
        nothing)."""
        for name, value in (("trace_id", trace_id), ("root_thread_id", root_thread_id)):
            if not value or "/" in value or os.sep in value or value in (".", ".."):
                raise BundleCreateError(f"{name} {value!r} cannot name a bundle directory")
        bundle_dir = Path(root) / f"trace-{trace_id}-{root_thread_id}"
        started = now_ms() if started_at_unix_ms is None else started_at_unix_ms
        if schema_version not in (ev.SCHEMA_VERSION, ev.SCHEMA_VERSION_V3):
            raise ValueError(f"schema_version must be 2 or 3, not {schema_version!r}")
        manifest = ev.Manifest(schema_version, trace_id, root_thread_id, root_thread_id, started)
        _files.make_room_for_files()
        try:
            fd = _files.create_bundle(bundle_dir, codec.manifest_bytes(manifest))
        except OSError as exc:
            raise BundleCreateError(
                exc.errno, f"cannot create trace bundle {bundle_dir}: {exc.strerror or exc}"
            ) from exc
        try:
            return cls(
                bundle_dir,
                fd,
                manifest,
                max_queued_bytes=max_queued_bytes,
                overflow=overflow,
                durable=durable,
                limits=limits,
                redaction=redaction,
            )
        except BaseException:
            # the folder, its empty log and the log's descriptor must not outlive the writer
            # that was never made (an empty-log folder read as damaged by every reader)
            _files.unmake_bundle(bundle_dir, fd)
            raise

    @property
    def stats(self) -> WriterStats:
        s = self._stats
        t = self._thread_drops
        return WriterStats(
            events_written=s[0],
            payloads_written=s[1],
            events_dropped=s[2] + t[0],
            payloads_dropped=s[3] + t[1],
            bytes_dropped=s[4] + t[2],
            queued_bytes=self._queued,
            max_queued_bytes=self._max,
            failed=self._failed,
            closed=self._closed,
            approximated=dict(self.values.counts),
            redacted={} if self.redactor is None else dict(self.redactor.counts),
        )

    # --- lifecycle -----------------------------------------------------------------------

    async def run(
        self,
        *,
        orphan_timeout: float | None = None,
        host: int | None = None,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """The background writer task: writes whatever is queued until :meth:`aclose`.

        Cancelling it loses nothing: the queue stays, and ``flush``/``aclose`` drain it
        themselves when no writer task is running; but once ``host`` (the anyio id of the
        task that opened it) has ended, nobody will: :meth:`_orphaned`.
        """
        self._running += 1
        task_status.started()
        try:
            if self._poke is None:
                self._poke = _loop_poker()
            while not self._closed:
                self._take_inbox()
                if not self._queue:
                    await self._sleep(0, None)  # until the first record arrives
                    continue
                if not self._closing and self._queued < self._hurry_bytes:
                    # Linger: one thread call per record would cost far more than the
                    # records themselves. Woken early once enough bytes are waiting.
                    await self._sleep(self._hurry_bytes, _LINGER_S)
                await self._drain(self._enqueued)  # what is here now; newcomers gather
        except WriteHung:
            pass  # the flush or close that waited for this task's write says so
        except anyio.get_cancelled_exc_class():
            if (
                host is not None
                and not (self._closing or self._forked)
                and all(task.id != host for task in anyio.get_running_tasks())
            ):
                await self._orphaned(orphan_timeout)
            raise
        finally:
            self._running -= 1
            self._hurry_at = 0

    async def _sleep(self, hurry_at: int, timeout: float | None) -> None:
        """Wait until the queue holds ``hurry_at`` bytes (or ``timeout`` passes, or close)."""
        wakeup = self._wakeup = anyio.Event()
        self._hurry_at = hurry_at
        try:
            with anyio.move_on_after(timeout):
                await wakeup.wait()
        finally:
            self._hurry_at = _NEVER
            self._wakeup = None
            self._turn_wanted = False

    async def flush(self) -> None:
        """Return once everything enqueued before the call is on disk (or counted as lost).
        A checkpoint, as anyio's calls are, even with nothing to write (the drain takes a
        free lock without one): a cancelled flush raises, ``while ...: await flush()`` lets
        the other tasks run."""
        await anyio.lowlevel.checkpoint()
        if not self._closed:
            self._take_inbox()
            with contextlib.suppress(WriteHung):  # warned: recording stops, the agent goes on
                await self._drain(self._enqueued)

    async def aclose(self, *, timeout: float | None = None) -> None:
        """Drain, record any loss, append ``recording_completed`` (the last line), close.

        Shielded from cancellation, but bounded: a cancelled agent still leaves a complete
        bundle, and never waits more than ``timeout`` seconds for the queue to drain (what
        is left then is counted as lost; the closing lines are still written). Calls that
        arrive once closing has begun are dropped and counted (in :attr:`stats` only).
        """
        if self._closing:
            with anyio.CancelScope(shield=True), anyio.move_on_after(timeout):
                while not self._closed:
                    await self._wait_progress()
            return
        deadline = self._begin_closing(timeout)
        held: list[BaseException] = []
        with anyio.CancelScope(shield=True):
            try:
                await self._closing_step(held, self._drain, deadline)
                if self._queue:
                    self._abandon_queue(f"closing took longer than {timeout} s")
                # the room held back is for what comes now: the reports, the seal, the last line
                # (freed after a failure, and before one: a disk that fills as the rollout
                # closes left its seal or last line without room, the reserve unused)
                await self._closing_step(held, self._release_reserve)
                if self._failed is not None:
                    await self._closing_step(held, self._cut_shards)
                self._append_loss_report()
                self.values.closed = True  # what is noted from now on reaches no bundle
                await self._closing_step(held, self._drain)
                self._append_redaction_report()  # once everything else is redacted
                await self._closing_step(held, self._drain)
                sealed = True
                if self._sink is not None:
                    # schema 3: every shard sealed before recording_completed is written (a
                    # seal that failed leaves its shard open, and ``sealed`` says so)
                    try:
                        await self._closing_step(held, self._seal)
                    except OSError as exc:  # the first failure, maybe: said (review45)
                        self._note_failure(exc)
                    sealed = self._sink.sealed
                if self._failed is not None:
                    # the report may not have made it (its payload file could not be
                    # written while the log still can be): the last line follows what did
                    self._seq = self._written_seq
                if self._written_seq < self._report_seq:
                    # the loss report is not in the log (its payload could not be written):
                    # closed, the bundle would read whole and say nothing of what it lost;
                    # unclosed, every reader says so (the failure was warned of already)
                    sealed = False
                if sealed:
                    self._force_event(ev.RecordingCompleted())
                    await self._closing_step(held, self._drain)
                # else a shard's frame stays cut (its writes failed): a log closed over it
                # is refused whole by Codex ("missing footer in payload shard N"); left
                # unclosed, every reducer reads what is whole
            except WriteHung:
                # the disk stopped answering: the bundle stays unclosed (warned), and what
                # is still queued is counted in the writer's stats
                self._abandon_queue("a write did not return")
            finally:
                self._finish()
        if held:
            raise held[0]

    def _after_fork_in_child(self) -> None:
        """In a forked child: record nothing, write nothing. The queue and the log belong to
        the parent; writing them here would duplicate its seqs in its own file. Locks held
        by threads that do not exist in the child are replaced."""
        self._inbox_lock = threading.Lock()
        self.values.after_fork()
        if self.items is not None:
            self.items.after_fork()
        self._queue.clear()
        self._inbox.clear()
        self._queued = self._inbox_bytes = 0
        self._closing = self._closed = self._forked = True
        # what it reserved is the parent's (the child's budget starts empty): a chunk cut
        # short here must hand nothing back to the child's own rollouts' budget
        self._limited = False
        self._poke = None
        self._wakeup = self._progress = None
        self._lock = None
        # A write in flight waits for a worker thread the child does not have: unshield and
        # cancel it, so the writer task (and the task group around it) can end in the child.
        scope, self._chunk_scope = self._chunk_scope, None
        if scope is not None:
            with contextlib.suppress(Exception):
                scope.shield = False
                scope.cancel()
        self._close_log()  # the child's copy only; the parent's stays open


#: Writers of this process that may still hold a queue (a fork makes them inert in the child).
_LIVE: weakref.WeakSet[BundleWriter] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for writer in list(_LIVE):
        writer._after_fork_in_child()
    _LIVE.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
