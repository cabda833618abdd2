"""Schema-3 shards as zstd data: the frames of a shard decoded as Codex 0.171 decodes them,
and told sealed or not from their headers alone.

Codex reads a shard with ``Read::read_to_end`` into an empty ``Vec`` through the ``zstd``
crate's decoder, which takes its input through a buffer of 131,075 bytes. libzstd decodes a
frame in one pass when, as the frame starts, its header gives a content size that fits the
output space of the read under way and the whole frame lies in the input buffer; otherwise it
streams. Both refuse a damaged frame, but in other words ("Src size is incorrect" or
"Destination buffer is too small" in one pass, "Data corruption detected" streaming, for one
content-size byte changed), so :func:`decompress_shard` takes the path Codex takes (found by
the damage differential, ``tests/differential/damage.py``: a frame header's bit flipped),
following the space each of Codex's reads offers (:class:`_CodexReads`), and keeps one
libzstd context for all the frames of a shard, as Codex's decoder does (libzstd keeps its
buffers across frames, and their size decides some errors too). The model of the reads was
probed with 0.171 (a frame asking for a 16 MiB window is refused when streamed and decoded
when taken in one pass): the room a second frame gets after a first one of 1 to 16,125
bytes, 20 sizes, all as modelled; the first frame at 32/33 bytes of content and at
131,013/131,096 compressed bytes. Reads cut short where the input buffer is refilled are
not modelled.
"""

from __future__ import annotations

from typing import Final

import zstandard

#: A shard may decompress to this many bytes, or to :data:`BOMB_RATIO` times its compressed size
#: if that is more; past both it is refused as a decompression bomb (a 200 KB shard of one
#: record of spaces made 6 GB). Codex rotates shards near 8 MiB (one bigger record gets a
#: shard of its own), and text compresses ~3-20 times, a long run of one line a few thousand.
BOMB_FLOOR_BYTES: Final = 1 << 30
BOMB_RATIO: Final = 1000
#: The most output zstd makes of one input byte is below this (a 128 KB block of one byte
#: repeated is a few bytes): input is fed in pieces small enough that no call overshoots.
_MAX_EXPANSION: Final = 1 << 17
#: The largest window a frame may ask for: Codex 0.171's reader refuses a frame whose window
#: passes 8 MiB ("Frame requires too much memory for decoding", probed at 8 and 9 MiB: found
#: by the mutation differential, seed 114018740), as libzstd words it for this limit too.
_MAX_WINDOW: Final = 1 << 23
#: The input buffer of the ``zstd`` crate's decoder (``ZSTD_DStreamInSize()``): it is filled
#: from the file in pieces of this size, so a frame lies whole in it when no multiple of it
#: falls inside the frame (probed: a 131,013-byte frame was decoded in one pass, a
#: 131,096-byte one streamed).
_CODEX_INPUT: Final = 131_075
#: ``read_to_end`` into an empty ``Vec`` reads into a 32-byte probe first (probed: a first
#: frame whose header gives 32 bytes is decoded in one pass, 33 streamed), then into the
#: vector's spare capacity, at most 8 KiB at first. libzstd's one pass decodes into exactly
#: the read's space, whose size decides its error ("Destination buffer is too small" for a
#: 100 KB frame whose header gives 5 bytes, "Src size is incorrect" for a 6 KB one).
_PROBE: Final = 32
_FIRST_MAX_READ: Final = 8 * 1024
#: The magic numbers of zstd's skippable frames (0x184D2A50 to 0x184D2A5F, little-endian).
_SKIPPABLE_MAGIC: Final = 0x184D2A50
_OUTPUT: Final = zstandard.DECOMPRESSION_RECOMMENDED_OUTPUT_SIZE


class ShardBomb(ValueError):
    """A shard decompresses to more than it may (see :data:`BOMB_FLOOR_BYTES`)."""


class _CodexReads:
    """The output space of Codex's read under way as each frame of a shard starts, as Rust's
    ``read_to_end`` into an empty ``Vec`` offers it: a 32-byte probe first; then the
    vector's spare capacity, after ``try_reserve(32)`` (which doubles it) whenever less than
    32 bytes are spare, at most 8 KiB and twice that after each full read of the most. The
    ``zstd`` crate's read returns once it wrote something, at the latest at a frame's end:
    an empty or skippable frame leaves the read under way."""

    def __init__(self) -> None:
        self._len = self._cap = 0
        self._max = _FIRST_MAX_READ
        self._under_way: int | None = None

    def space(self) -> int:
        if self._under_way is None:
            if self._cap == 0:
                self._under_way = _PROBE
            else:
                if self._cap - self._len < _PROBE:  # ``try_reserve(PROBE_SIZE)``
                    self._cap = max(2 * self._cap, self._len + _PROBE)
                self._under_way = min(self._cap - self._len, self._max)
        return self._under_way

    def wrote(self, size: int) -> None:
        """A frame decoded to ``size`` bytes, taken by as many reads as it needs."""
        while size:
            space = self.space()
            done = min(space, size)
            size -= done
            self._under_way = None
            if self._cap == 0:  # the probe's bytes make the vector
                self._len, self._cap = done, max(8, done)
                continue
            self._len += done
            if done == space >= self._max:
                self._max *= 2


def decompress_shard(data: bytes, floor: int = BOMB_FLOOR_BYTES) -> tuple[bytes, bool]:
    """Every frame in ``data`` (concatenated and skippable frames allowed), and whether the
    last one is complete. A cut frame yields what decoded before the cut. An empty file has
    no frame, so none complete: Codex 0.171 reads it as a shard without records that is not
    sealed ("missing footer" where the shard must be sealed). A frame Codex decodes in one
    pass (see the module's docstring) is fed whole into the output space Codex's read has;
    any other frame is fed its first byte alone, which makes libzstd stream it.

    Raises:
        zstandard.ZstdError: the bytes are not zstd.
        ShardBomb: the output passes ``max(floor, BOMB_RATIO * fed)`` bytes, ``fed`` being
            the compressed bytes decoded so far: skippable frames, which decode to nothing,
            do not count (padding a shard with one let a small frame decode to gigabytes).
            Input is fed piece by piece, so no more than that (and one block) is ever
            decoded: a frame fed whole decodes to no more than the content size its header
            gives, and one whose size would pass the limit is streamed instead (Codex's
            read may offer as much room as was decoded before: taken in one pass, such a
            frame doubled what was held before the refusal).
            Joining the pieces holds a shard's bytes twice for a moment.
    """
    chunks: list[bytes] = []
    total = fed = 0
    view = memoryview(data)
    offset = 0
    sealed = bool(data)
    reads = _CodexReads()
    # one context for every frame, as Codex's decoder keeps one: libzstd keeps its buffers
    # across frames, and how big they are decides some of its errors (a later frame whose
    # header gives too small a content size streams into the earlier frame's larger buffer)
    decompressor = zstandard.ZstdDecompressor(max_window_size=_MAX_WINDOW)
    while offset < len(data):
        counted = not _skippable(data, offset)
        space = reads.space()
        whole = _one_pass(data, offset, space) if counted else None
        if whole is not None and total + (_content_size(data, offset) or 0) > max(
            floor, BOMB_RATIO * (fed + whole - offset)
        ):
            whole = None  # decoded whole it would pass the bomb limit: streamed, refused in pieces
        stream = decompressor.decompressobj(write_size=space if whole is not None else _OUTPUT)
        first, before = counted, total
        while offset < len(data) and not stream.eof:
            if first:
                end = offset + 1 if whole is None else whole
                first = False
            else:
                end = offset + max(64, (max(floor, BOMB_RATIO * fed) - total) // _MAX_EXPANSION)
            out = stream.decompress(view[offset:end])
            if counted:
                fed += min(end, len(data)) - offset
            offset = min(end, len(data))
            total += len(out)
            limit = max(floor, BOMB_RATIO * fed)
            if total > limit:
                raise ShardBomb(
                    f"decompresses to more than {limit:,} bytes (the larger of {floor:,} and"
                    f" {BOMB_RATIO:,} times its {fed:,} compressed bytes): refused as a"
                    " decompression bomb"
                )
            if out:
                chunks.append(out)
        if not stream.eof:
            sealed = False
            break
        offset -= len(stream.unused_data)
        if counted:
            fed -= len(stream.unused_data)
        reads.wrote(total - before)
    return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), sealed


def _one_pass(data: bytes, offset: int, space: int) -> int | None:
    """The end of the frame at ``offset`` when Codex decodes it in one pass: its header gives
    a content size within ``space`` and the frame lies whole in Codex's input buffer, filled
    131,075 bytes at a time (libzstd's own test walks the blocks: a frame it cannot walk is
    streamed)."""
    try:
        content = _content_size(data, offset)
        end = _frame_end(data, offset)
    except zstandard.ZstdError:
        return None
    if content is None or content > space or end is None:
        return None
    return end if offset // _CODEX_INPUT == (end - 1) // _CODEX_INPUT else None


def _frame_header(data: bytes, offset: int) -> tuple[int, int, int] | None:
    """The header of the zstd frame at ``offset``: its descriptor byte, where its content
    size field starts and that field's width (0: none), or None when the data stops first.
    After the magic number and the descriptor come the window byte (unless the frame is a
    single segment), the dictionary id, then the content size."""
    if len(data) - offset < 5:
        return None
    descriptor = data[offset + 4]
    single_segment = bool(descriptor & 0x20)
    width = (1 if single_segment else 0, 2, 4, 8)[descriptor >> 6]
    at = offset + 5 + (not single_segment) + (0, 1, 2, 4)[descriptor & 0x03]
    return descriptor, at, width


def _content_size(data: bytes, offset: int) -> int | None:
    """The content size the header of the frame at ``offset`` gives, if it gives one."""
    header = _frame_header(data, offset)
    if header is None:
        return None
    _, at, width = header
    if not width or len(data) < at + width:
        return None
    return int.from_bytes(data[at : at + width], "little") + (256 if width == 2 else 0)


def _skippable(data: bytes, offset: int) -> bool:
    magic = int.from_bytes(data[offset : offset + 4], "little")
    return magic & 0xFFFFFFF0 == _SKIPPABLE_MAGIC


def _frame_end(data: bytes, offset: int) -> int | None:
    """Where the frame (or skippable frame) at ``offset`` ends, walking its headers, or None
    when the data stops first.

    Raises:
        zstandard.ZstdError: a magic number or header that is not zstd's, or a block of the
            reserved type.
    """
    size = len(data)
    if size - offset < 4:
        return None
    if _skippable(data, offset):
        if size - offset < 8:
            return None
        end = offset + 8 + int.from_bytes(data[offset + 4 : offset + 8], "little")
        return end if end <= size else None
    if data[offset : offset + 4] != zstandard.FRAME_HEADER:
        raise zstandard.ZstdError(f"unknown frame descriptor at byte {offset}")
    header = _frame_header(data, offset)
    if header is None:
        return None
    descriptor, at, width = header
    if descriptor & 0x08:
        raise zstandard.ZstdError(f"reserved frame header bit set at byte {offset + 4}")
    offset = at + width
    last = False
    while not last:
        if size - offset < 3:
            return None
        block = int.from_bytes(data[offset : offset + 3], "little")
        last, kind, length = bool(block & 1), (block >> 1) & 3, block >> 3
        if kind == 3:
            raise zstandard.ZstdError(f"reserved block type at byte {offset}")
        offset += 3 + (1 if kind == 1 else length)
    offset += 4 if descriptor & 0x04 else 0  # the content checksum
    return offset if offset <= size else None


def shard_sealed(data: bytes) -> bool:
    """Whether ``data`` ends with a complete zstd frame (:func:`decompress_shard`'s
    ``sealed``), told from the frames' and blocks' headers alone, decoding nothing.
    ``view --serve`` asks it of the shard being written on each new reading of a live
    bundle: decompressing a 5 MiB shard cost 23-36 ms, walking it costs under 1 ms.
    It does not check what the blocks hold: a damaged block the decoder refuses is
    found by the reduction's own reading.

    Raises:
        zstandard.ZstdError: a frame's magic number or header is not zstd's, or a block is
            of the reserved type (the decoder refuses these too).
    """
    offset = 0
    while offset < len(data):
        end = _frame_end(data, offset)
        if end is None:
            return False
        offset = end
    return bool(data)
