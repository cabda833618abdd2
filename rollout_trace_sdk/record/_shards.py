"""Schema-3 payload storage for the recorder, the writing side: zstd in the worker thread.

Where each payload goes (its id, its shard, what the capture limits keep of it) is decided on
the event loop when it is enqueued (``_shard_plan``); the records the plan hands out come
here.

*Writing* happens in the writer's worker thread: :class:`ShardSink` redacts each body (when
the writer redacts), cuts a truncated one to its limit *after* redaction (so a secret is never
cut in half and left half-readable, and the reference's ``retained_bytes`` is the stored
length; it is settled there, before any line citing the reference is encoded), frames the
record (the layout of :func:`..model.layout.shard_record`) and appends it to one zstd frame
per shard, with a checksum, as Codex writes them. After every batch it flushes a zstd block,
so what was handed to the sink is decodable from the file even if the process dies before the
shard is sealed (the reader then reads the records up to the cut). A shard is sealed (its
frame finished) by the writer once the plan has moved past it and nothing placed earlier is
still queued (:meth:`ShardSink.seal_below`), and every shard is sealed before
``recording_completed``. Nothing is fsynced unless the writer is durable (then a shard is
fsynced when sealed, and the open ones at each checkpoint): otherwise durability is the
kernel's page cache.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

import zstandard

from ..model import layout
from ._deferred import render
from ._shard_filter import BodyFilter, filtered, settle_capture, utf8_prefix
from ._shard_plan import ORDINAL_BITS, ORDINAL_MASK, ShardRecord

#: Shard files are private to their owner, like every other file of a bundle.
FILE_MODE: Final = layout.PRIVATE_FILE_MODE
#: zstd level: 3 is zstd's default and what the size targets were measured with.
DEFAULT_LEVEL: Final = 3
#: An open shard's zstd context keeps its match tables and its window in memory until the
#: shard is sealed, which for most rollouts is when they close. Level 3 on a stream of unknown
#: size picks a 2 MiB window, 2^17 hash and 2^16 chain entries: ~0.8 MB of RSS per open
#: rollout at once and ~2.9 MB once it has written its window's worth, so a thousand
#: rollouts open at once in one process held 1.0 GB (231 MB in schema 2). These caps halve
#: it (1 MiB window, 2^16 / 2^15 entries: 653 MB) for 0.15-1.7% larger shards (measured by
#: review rl20 on 1,000 RL-like rollouts and on the conformance corpus; zstd is faster too).
#: Codex reads any window (it writes 8 MiB frames).
WINDOW_LOG: Final = 20
HASH_LOG: Final = 16
CHAIN_LOG: Final = 15
#: Bodies are handed to zstd in slices of this size (it holds the GIL while compressing); the
#: sink yields the GIL after each slice, and after each such amount of smaller bodies.
COMPRESS_SLICE: Final = 64 << 10
#: A zstd block header: the frame's last block, raw, empty (what zstd ends a flushed frame
#: with); the frame's checksum follows it.
_LAST_EMPTY_BLOCK: Final = b"\x01\x00\x00"
#: A placed record's id (``layout.raw_payload_id``) as bytes, from its ordinal.
_ID_FORMAT: Final = layout.RAW_PAYLOAD_PREFIX.encode() + b"%d"


class ShardSink:
    """Appends records to ``payloads/NNNNNN.zst``, one zstd frame per shard (worker thread).

    Not thread-safe: one worker thread calls it, one batch at a time. Records of one shard
    must arrive in the order :class:`ShardPlan` placed them; a record of an earlier shard may
    still arrive after the plan rotated (a call from another OS thread reaches the queue a
    little later), so a shard's frame stays open until :meth:`seal_below` or :meth:`seal`.
    """

    __slots__ = (
        "_clean",
        "_directory",
        "_durable",
        "_fed",
        "_filter",
        "_finished",
        "_good",
        "_level",
        "_marks",
        "_open",
        "_sealing",
        "_size",
        "_unflushed",
        "_written",
        "discarded",
        "failed",
    )

    def __init__(
        self,
        payloads_dir: str | os.PathLike[str],
        *,
        level: int = DEFAULT_LEVEL,
        body_filter: BodyFilter | None = None,
        clean: Callable[[list[bytes]], bool] | None = None,
        finished: dict[int, int] | None = None,
        durable: bool = False,
    ) -> None:
        #: durable mode: a shard's file is fsynced when its frame is finished, before it is
        #: closed (:meth:`fsync` reaches only the shards still open at a checkpoint)
        self._durable = durable
        #: the payload folder: its path, or a descriptor of it (:meth:`use_folder`)
        self._directory: str | int = os.fspath(payloads_dir)
        #: the plan's finished shards and their record counts (see ``ShardPlan.finished``)
        self._finished = finished
        #: shard -> records written to it so far
        self._written: dict[int, int] = {}
        #: shard -> bytes its file holds so far
        self._size: dict[int, int] = {}
        #: shard -> uncompressed bytes (records framed) fed to its frame so far
        self._fed: dict[int, int] = {}
        #: shard -> (its file's length, its records, bytes fed) after the last batch written
        #: whole: where :meth:`cut` ends a frame a failed write left behind
        self._good: dict[int, tuple[int, int, int]] = {}
        #: shard -> the same, at block ends made before each large record of a batch not yet
        #: written whole (file offsets): how far :meth:`settle` got when the disk refused the
        #: rest, so :meth:`cut` keeps the records before the one refused (:meth:`_write`)
        self._marks: dict[int, list[tuple[int, int, int]]] = {}
        self._level = level
        #: applied to every body before it is cut and stored (the writer's redaction)
        self._filter = body_filter
        #: ``True`` when the filter would change none of the given bodies (one cheap check
        #: for a batch of small bodies; ``False`` when unsure)
        self._clean = clean
        #: shard -> (file descriptor, its open frame)
        self._open: dict[int, tuple[int, zstandard.ZstdCompressionObj]] = {}
        #: shard -> (file descriptor, the end of its frame not written yet): a seal a write
        #: error stopped, resumed by the next seal (the frame's last bytes are made once)
        self._sealing: dict[int, tuple[int, memoryview]] = {}
        #: shard -> compressed blocks of records a write error left unwritten (the frame's
        #: state is past them): :meth:`settle` writes them before anything else of the shard
        self._unflushed: dict[int, memoryview] = {}
        #: the first error that left a frame it cannot continue (records compressed whose
        #: bytes were lost, as when a shard file cannot be created); from then on every write
        #: fails with it: compressing the same records again (a retry) would store them twice.
        #: A write the disk refused only keeps its bytes in ``_unflushed`` for :meth:`settle`.
        self.failed: OSError | None = None
        #: records a :meth:`write` returned for that never reached the disk whole, and their
        #: bytes as framed: what closing the files left unwritten (a seal or cut that
        #: failed). The writer counts them lost; else ``rollout.stats`` called them written.
        self.discarded = [0, 0]

    @property
    def directory(self) -> str | int:
        """The payload folder the shard files are in: its path, or a descriptor of it."""
        return self._directory

    def use_folder(self, folder: str | int) -> None:
        """Make shard files relative to ``folder``, a descriptor of the payload folder
        (``_files.open_folder``), so that a shard begun after the traces root was moved
        aside lands in the moved bundle (review user37), not under the old name."""
        self._directory = folder

    def _at(self, shard: int) -> tuple[str, int | None]:
        """Shard ``shard``'s file: a path and the ``dir_fd`` it is relative to (or ``None``)."""
        name = layout.shard_name(shard)
        if isinstance(self._directory, int):
            return name, self._directory
        return os.path.join(self._directory, name), None

    def fsync(self) -> None:
        """Durable mode: the open shards' flushed blocks reach the disk (sealed shards were
        fsynced as their frame was finished; the folder is synced with the log)."""
        for fd, _ in (*self._open.values(), *self._sealing.values()):
            os.fsync(fd)

    @property
    def open_shards(self) -> list[int]:
        """The shards whose frame is not finished yet."""
        return sorted({*self._open, *self._sealing})

    def write(self, records: Iterable[ShardRecord]) -> int:
        """Append ``records`` and make them decodable from disk (a zstd block flush per
        shard touched).

        Returns:
            How many records were handed to the files. Bytes a write error (a full disk for
            a moment) left unwritten are kept and written by :meth:`settle`, which the caller
            must see succeed before it writes lines citing these records (else it cites
            only those :meth:`missing` leaves out: a record larger than
            :data:`COMPRESS_SLICE` begins after a block end, so the ones before it can be
            kept whole, and :meth:`cut` ends the frame there). An ``OSError``
            that leaves a frame it cannot continue (a shard file that cannot be created)
            carries on, and every later call fails with it.
        """
        if self.failed is not None:
            raise self.failed
        written, fed = dict(self._written), dict(self._fed)
        try:
            count = self._write(records)
        except OSError as exc:
            self.failed = exc
            # the caller counts this whole batch lost: :meth:`cut` must not count it again
            self._written, self._fed = written, fed
            raise
        with contextlib.suppress(OSError):  # kept: settle() and the next seal resume it
            self.settle()
            if self._finished:
                self._seal_complete()
        return count

    def settle(self) -> None:
        """Write what earlier write errors left in memory: the compressed blocks first, then
        the ends of frames being sealed.

        Raises:
            OSError: still cannot; everything is kept for the next call.
        """
        for shard in sorted(self._unflushed):
            start = self._size.get(shard, 0)
            try:
                self._write_rest(shard, self._open[shard][0], self._unflushed[shard])
            except _Stopped as stop:
                self._keep_marked(shard, start, self._unflushed[shard])
                raise stop.error from None
            del self._unflushed[shard]
            self._good[shard] = (self._size[shard], self._written[shard], self._fed[shard])
            if self._marks:
                self._marks.pop(shard, None)
        for number in sorted(self._sealing):
            self._finish(number)

    def _keep_marked(self, shard: int, start: int, pending: memoryview) -> None:
        """A write of ``pending`` (the bytes of ``shard`` from file offset ``start``) stopped
        part way (``_Stopped``): its last whole batch is now the last mark its file holds all
        of (the records before a large one the disk refused), and the file is cut back to it.

        Why cut now: on a full disk the bytes past it held the room the lines citing the
        records before it need (a 400 KB tool output left no line of its chunk). They are
        kept in memory with the rest, so a retry writes them again."""
        marks = self._marks.get(shard)
        size = self._size.get(shard, 0)
        while marks and marks[0][0] <= size:
            self._good[shard] = marks.pop(0)
        end = self._good.get(shard, (0, 0, 0))[0]
        fd = self._open[shard][0]
        if start <= end < size:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, end)
                os.lseek(fd, end, os.SEEK_SET)
                size = self._size[shard] = end
        self._unflushed[shard] = pending[size - start :]

    def missing(self, records: list[ShardRecord], handed: int) -> set[int]:
        """The ordinals of ``records`` (a chunk's, the first ``handed`` of them given to
        :meth:`write`) that no line may cite after a write error: those never handed, of
        each shard the last ones past its last whole batch or mark, and those of an unsealed
        shard above the lowest (Codex 0.171 refuses an unsealed shard that is not the last
        one cited: a recorder killed before its close, which ends such frames, left one)."""
        unsure = {n: count - self._good.get(n, (0, 0, 0))[1] for n, count in self._written.items()}
        unsealed = {*self._open, *self._sealing}
        lowest = min(unsealed, default=0)
        out = {_placed(meta)[1] for meta, _ in records[handed:]}
        for meta, _ in reversed(records[:handed]):
            shard, ordinal = _placed(meta)
            if unsure.get(shard, 0) > 0:
                unsure[shard] -= 1
                out.add(ordinal)
            elif shard != lowest and shard in unsealed:
                out.add(ordinal)
        return out

    def seal_finished(self) -> None:
        """After a write error: seal the shards the plan moved past whose records are all on
        disk (a later shard's failure left them open), so lines may cite them (review45)."""
        if self.failed is None and self._finished:
            with contextlib.suppress(OSError):
                self._seal_complete()

    def _seal_complete(self) -> None:
        """Seal every open shard the plan moved past once all its records are written: a
        crash then leaves at most the last shard unsealed (Codex 0.171 refuses any other)."""
        finished = self._finished
        assert finished is not None
        whole = [n for n in self._open if n not in self._unflushed]  # all after a success
        for number in [n for n in whole if finished.get(n) == self._written.get(n)]:
            self._seal(number)

    def _write(self, records: Iterable[ShardRecord]) -> int:
        records = list(records)
        wheres = [where for where, _ in records]
        bodies = filtered(
            [queued if queued.__class__ is bytes else render(queued) for _, queued in records],
            self._filter,
            self._clean,
        )
        #: shard -> (framed records not yet compressed, compressed bytes not yet written)
        pending: dict[int, tuple[bytearray, bytearray]] = {}
        marks: dict[int, list[tuple[int, int, int]]] = {}  # offsets in ``out``, see _marks
        header = layout.SHARD_RECORD_HEADER.pack
        id_format = _ID_FORMAT
        written = self._written
        shard = -1
        raw = out = bytearray()
        run = 0  # records framed into ``shard`` and not yet counted in ``written``
        try:
            for meta, body in zip(wheres, bodies, strict=True):
                if isinstance(meta, int):  # placed whole: the shard and ordinal in one int
                    where = meta >> ORDINAL_BITS
                    ident = id_format % (meta & ORDINAL_MASK)
                else:
                    where = meta[0]
                    if len(meta) > 2:
                        body = utf8_prefix(body, meta[2])
                        settle_capture(meta[3], len(body))
                    ident = meta[1].encode()
                if where != shard:
                    if run:
                        written[shard] = written.get(shard, 0) + run
                        run = 0
                    shard = where
                    buffers = pending.get(shard)
                    if buffers is None:
                        buffers = pending[shard] = (bytearray(), bytearray())
                    raw, out = buffers
                big = len(body) > COMPRESS_SLICE
                if big and (raw or out):
                    # the records before it end a block: a disk that refuses the large one
                    # keeps them (a 1.2 MB tool output past RLIMIT_FSIZE took the rollout's
                    # start with it, every record of the batch; review ops41)
                    self._compress(shard, raw, out)
                    out += self._stream(shard).flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
                    mark = (len(out), written.get(shard, 0) + run, self._fed[shard])
                    marks.setdefault(shard, []).append(mark)
                raw += header(len(ident), len(body))
                raw += ident
                if not big:
                    raw += body  # small records are compressed together: one zstd call a batch
                else:
                    self._compress(shard, raw, out)
                    # zstd holds the GIL while it compresses (~3 ms per MB): a large body goes
                    # in slices, so the event loop's thread gets the GIL back between them
                    self._fed[shard] = self._fed.get(shard, 0) + len(body)
                    view = memoryview(body)
                    for at in range(0, len(body), COMPRESS_SLICE):
                        out += self._stream(shard).compress(view[at : at + COMPRESS_SLICE])
                        time.sleep(0)
                run += 1
                if len(raw) >= COMPRESS_SLICE:
                    self._compress(shard, raw, out)
                    # Let the loop's thread have the GIL now: it gives it up for every hash or
                    # write of a few KB, and would otherwise wait for the 5 ms switch interval.
                    time.sleep(0)
        finally:
            if run:
                written[shard] = written.get(shard, 0) + run
        for shard, (raw, out) in pending.items():
            self._compress(shard, raw, out)
            stream = self._open[shard][1]
            out += stream.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
            # written by settle(), after what an earlier error left (a frame's bytes in order)
            held = self._unflushed.get(shard)
            if shard in marks:
                base = self._size.get(shard, 0) + (len(held) if held is not None else 0)
                self._marks.setdefault(shard, []).extend(
                    (base + end, count, fed) for end, count, fed in marks[shard]
                )
            self._unflushed[shard] = _after(held, out)
        return len(records)

    def _stream(self, shard: int) -> zstandard.ZstdCompressionObj:
        return (self._open.get(shard) or self._start(shard))[1]

    def _compress(self, shard: int, raw: bytearray, out: bytearray) -> None:
        """Move ``raw`` (framed records) through the shard's zstd frame into ``out``."""
        if raw:
            self._fed[shard] = self._fed.get(shard, 0) + len(raw)
            out += self._stream(shard).compress(raw)
            del raw[:]

    def stop_filtering(self) -> None:
        """Store later bodies as they are (the writer's own closing report)."""
        self._filter = None

    def seal_below(self, shard: int) -> None:
        """Finish every open shard numbered below ``shard`` (the plan's current one, once
        nothing placed earlier is still queued), and any seal a write error stopped.

        Raises:
            OSError: a frame's end could not be written; the next seal resumes it.
        """
        self.settle()
        for number in [n for n in self._open if n < shard]:
            self._seal(number)

    def seal(self) -> None:
        """Finish every open shard (at close, before ``recording_completed`` is written).
        After a write error the files are only closed: their frames stay cut, and a reader
        takes the records up to the cut.

        Raises:
            OSError: a frame's end could not be written. The close writes nothing after
                this last attempt, so the files are closed all the same (a disk full for
                good left each rollout's shard open for the life of the process) and the
                sink is failed: :attr:`sealed` stays false.
        """
        if self.failed is None:
            try:
                self.seal_below(max(self._open, default=0) + 1)
                return
            except OSError as exc:
                self.failed = exc
                self._close_files()
                raise
        self._close_files()

    def _close_files(self) -> None:
        for shard in {*self._open, *self._sealing, *self._unflushed}:
            self._rewind(shard)
        for fd, _ in (*self._open.values(), *self._sealing.values()):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._open.clear()
        self._sealing.clear()
        self._unflushed.clear()

    @property
    def sealed(self) -> bool:
        """Whether every shard begun has its frame finished (a bundle may then close)."""
        return self.failed is None and not (self._open or self._sealing or self._unflushed)

    def _seal(self, number: int) -> None:
        fd, stream = self._open.pop(number)
        end = stream.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH)
        # what an error left comes first
        self._sealing[number] = (fd, _after(self._unflushed.pop(number, None), end))
        self._finish(number)

    def _finish(self, number: int) -> None:
        """Write the rest of a frame's end; kept for the next seal if a write fails."""
        fd, rest = self._sealing[number]
        try:
            self._write_rest(number, fd, rest)
        except _Stopped as stop:
            self._sealing[number] = (fd, stop.rest)
            raise stop.error from None
        del self._sealing[number]
        try:
            if self._durable:
                os.fsync(fd)
        finally:
            os.close(fd)

    def _write_rest(self, shard: int, fd: int, rest: memoryview) -> None:
        """Write all of ``rest``; on an error, :class:`_Stopped` says what is left."""
        while rest:
            try:
                written = os.write(fd, rest)
            except OSError as exc:
                raise _Stopped(exc, rest) from None
            self._size[shard] = self._size.get(shard, 0) + written
            rest = rest[written:]

    def cut(self) -> tuple[int, int] | None:
        """End every frame a failed write left behind where its last whole batch ended, so
        that the bundle can still close (the close's last attempt, after a failure).

        Why: a write the disk refused keeps its compressed bytes for :meth:`settle`, and the
        frame cannot be sealed without them; on a disk that stays full the bundle then stayed
        unclosed, its loss report nowhere (schema 3 could only close what fitted in the
        writer's space reserve). Nothing written after that batch is cited by a line (lines
        follow their records), so the file is cut back to it and the frame finished there: an
        empty last block and the checksum of what it holds (zstd's, of the content read
        back), 7 bytes. A shard with no whole batch is removed. The next record goes to a new
        shard (``ShardPlan.move_past``).

        Returns:
            The records cut off that a :meth:`write` returned for (compressed, never cited;
            the caller counted them written), and their bytes as framed (uncompressed: the
            loss report's bytes; it left them out), both also added to :attr:`discarded`,
            whether the cut succeeds or not. Not those of a batch whose ``write`` raised:
            the caller counts that batch lost already (counted here too, the loss report
            and ``rollout.stats`` gave 2,379 lost payloads of 6,006 where 2,204 were).
            ``None`` when no frame was left behind (nothing done).

        Raises:
            OSError: a frame could not be cut; the sink is failed, its files closed.
        """
        broken = {*self._unflushed, *self._sealing}
        if self.failed is not None:  # a frame's bytes were lost before they were kept
            broken |= set(self._open)
        if not broken:
            return None
        before, before_bytes = self.discarded  # what is cut off here: the difference
        try:
            for shard in sorted(broken):
                entry = self._open.pop(shard, None) or self._sealing.pop(shard)
                self._sealing.pop(shard, None)
                self._unflushed.pop(shard, None)
                size = self._rewind(shard)
                try:
                    self._end_frame(shard, entry[0], size)
                finally:
                    os.close(entry[0])
        except OSError as exc:
            self.failed = exc
            self._close_files()
            raise
        self.failed = None
        return self.discarded[0] - before, self.discarded[1] - before_bytes

    def _rewind(self, shard: int) -> int:
        """Forget what was handed to ``shard`` after its last batch written whole (its frame
        is cut there, or its file closed unfinished), counting it in :attr:`discarded`.

        Returns:
            The shard file's length after that batch.
        """
        self._marks.pop(shard, None)
        size, records, fed = self._good.get(shard, (0, 0, 0))
        self.discarded[0] += self._written.get(shard, 0) - records
        self.discarded[1] += self._fed.get(shard, 0) - fed
        self._written[shard], self._fed[shard] = records, fed
        return size

    def _end_frame(self, shard: int, fd: int, size: int) -> None:
        path, dir_fd = self._at(shard)
        if not size:
            os.unlink(path, dir_fd=dir_fd)
            return
        os.ftruncate(fd, size)
        # the content so far, for the frame's checksum
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd), "rb") as held:
            content = zstandard.ZstdDecompressor().decompressobj().decompress(held.read(size))
        checksum = zstandard.ZstdCompressor(level=1, write_checksum=True).compress(content)[-4:]
        end = _LAST_EMPTY_BLOCK + checksum
        if os.pwrite(fd, end, size) != len(end):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        # synced whatever the mode (this runs once, at a close after a failure): a durable
        # log's closing line must not reach the disk ahead of the frame end it relies on
        os.fsync(fd)
        self._size[shard] = size + len(end)

    def _start(self, shard: int) -> tuple[int, zstandard.ZstdCompressionObj]:
        path, dir_fd = self._at(shard)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        fd = os.open(path, flags, FILE_MODE, dir_fd=dir_fd)
        # one compressor per open frame: compression objects of one compressor share its
        # context, so two open shards must not share one
        compressor = zstandard.ZstdCompressor(
            compression_params=compression_parameters(self._level)
        )
        entry = self._open[shard] = (fd, compressor.compressobj())
        return entry


def compression_parameters(level: int = DEFAULT_LEVEL) -> zstandard.ZstdCompressionParameters:
    """zstd's parameters for ``level``, with the window and match tables capped (see
    :data:`WINDOW_LOG`): what each open shard's frame is compressed with."""
    return zstandard.ZstdCompressionParameters.from_level(
        level,
        window_log=WINDOW_LOG,
        hash_log=HASH_LOG,
        chain_log=CHAIN_LOG,
        write_checksum=True,
        write_content_size=False,
    )


def _placed(meta: int | tuple[Any, ...]) -> tuple[int, int]:
    """A record's shard and ordinal, from its ``where`` (see :data:`ShardRecord`)."""
    if isinstance(meta, int):
        return meta >> ORDINAL_BITS, meta & ORDINAL_MASK
    return meta[0], int(meta[1].rpartition(":")[2])


def _after(held: memoryview | None, data: bytes | bytearray) -> memoryview:
    """``data``, behind the bytes a write error left unwritten (if any): a frame's bytes
    reach its file in the order they were made."""
    return memoryview(data if held is None else bytes(held) + data)


class _Stopped(Exception):
    """A write that stopped part way: the error, and the bytes it did not write."""

    def __init__(self, error: OSError, rest: memoryview) -> None:
        super().__init__(error)
        self.error = error
        self.rest = rest
