"""A shard's zstd frames decoded as Codex 0.171 decodes them (``reduce/shard_frames.py``):
libzstd refuses a damaged frame in other words when it decodes it in one pass than when it
streams it, and Codex takes one pass for a first frame whose header gives at most 32 bytes
of content (its first read's probe) and that lies in its 131,075-byte input buffer. Found
by the damage differential (``tests/differential/damage.py``, seed 101, #3827: the
single-segment bit of ``empty_response``'s frame header flipped); the texts below are Codex
0.171's, asked again when it is here."""

from __future__ import annotations

import random
import tracemalloc
from pathlib import Path

import pytest
import zstandard

from rollout_trace_sdk.model import layout
from rollout_trace_sdk.reduce import ReduceError, reduce_bundle
from rollout_trace_sdk.reduce.shard_frames import ShardBomb, _CodexReads, decompress_shard
from rollout_trace_sdk.testing import reduce_and_compare
from tests.codex_oracle import codex_bin

from .v3_bundles import copy_bundle


def _single_segment(frame: bytes, content: int) -> bytes:
    """``frame`` (no content size, a window byte) told to be single-segment: the window byte
    becomes a one-byte content size."""
    assert frame[4] == 0x04
    return frame[:4] + bytes([0x24, content]) + frame[6:]


def _refused_as_codex_refuses(bundle: Path, cause: str) -> None:
    """Our reduction refuses ``bundle``'s shard with ``cause``, in the words Codex 0.171 uses
    (asked when it is here)."""
    with pytest.raises(ReduceError) as info:
        reduce_bundle(bundle)
    assert info.value.message == f"decompress shard {bundle}/payloads/000001.zst"
    assert info.value.cause == cause
    codex = codex_bin(3)
    if codex is not None:
        result = reduce_and_compare(bundle, codex, timeout=60)
        assert result.same_text, result.explain()


def _refusal(data: bytes) -> str:
    with pytest.raises(zstandard.ZstdError) as info:
        decompress_shard(data)
    return str(info.value).removeprefix("zstd decompressor error: ")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (1, "Src size is incorrect"),
        (32, "Src size is incorrect"),  # fits the probe: one pass
        (33, "Data corruption detected"),  # streamed
        (104, "Data corruption detected"),  # the bit flip the differential found
    ],
)
def test_a_first_frame_within_the_probe_is_decoded_in_one_pass(
    tmp_path: Path, content: int, expected: str
) -> None:
    bundle = copy_bundle("single_exec", tmp_path)
    shard = bundle / layout.shard_path(1)
    shard.write_bytes(_single_segment(shard.read_bytes(), content))
    _refused_as_codex_refuses(bundle, expected)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        # whole in the input buffer: one pass into 32 bytes of output
        (100_000, "Destination buffer is too small"),
        (131_000, "Destination buffer is too small"),
        # past the input buffer: streamed
        (131_080, "Data corruption detected"),
        (140_000, "Data corruption detected"),
    ],
)
def test_one_pass_needs_the_frame_whole_in_codex_input_buffer(size: int, expected: str) -> None:
    raw = random.Random(1).randbytes(size)
    frame = zstandard.ZstdCompressor(write_checksum=True, write_content_size=False).compress(raw)
    assert _refusal(_single_segment(frame, 5)) == expected


def test_a_frame_giving_more_than_the_probe_is_streamed(tmp_path: Path) -> None:
    """``single_exec``'s records in a frame that gives its content size (47,952 bytes), one
    bit (16) of that size flipped: Codex streams the frame ("Destination buffer is too
    small"); fed whole, we said "Data corruption detected"."""
    bundle = copy_bundle("single_exec", tmp_path)
    shard = bundle / layout.shard_path(1)
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(shard.read_bytes())
    frame = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(raw))
    assert frame[4] & 0xC0 == 0x40  # a two-byte content size follows
    frame[5] ^= 0x10
    shard.write_bytes(bytes(frame))
    _refused_as_codex_refuses(bundle, "Destination buffer is too small")


@pytest.mark.parametrize(
    ("content", "expected"),
    [(12_131, "Data corruption detected"), (4_000, "Src size is incorrect")],
)
def test_a_later_frame_is_decoded_in_one_pass_when_codex_read_has_room(
    tmp_path: Path, content: int, expected: str
) -> None:
    """Two frames giving their content sizes, the second's lowered (below its 12,147 bytes):
    after the first frame's 35,805 bytes Codex's read has 29,731 bytes of room, so it takes
    one pass; streamed, as we did, the texts were "Destination buffer is too small" and
    "Data corruption detected" (damage differential, frames run, seed 77 #1194)."""
    bundle = _two_frames(tmp_path, 35_805, content)
    _refused_as_codex_refuses(bundle, expected)


def _two_frames(tmp_path: Path, cut: int, content: int) -> Path:
    """``single_exec`` with its records in two frames giving their content sizes, split at
    ``cut``, the second frame's size given as ``content`` (two bytes, so 256 or more)."""
    bundle = copy_bundle("single_exec", tmp_path)
    shard = bundle / layout.shard_path(1)
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(shard.read_bytes())
    compressor = zstandard.ZstdCompressor(write_checksum=True)
    first, second = compressor.compress(raw[:cut]), compressor.compress(raw[cut:])
    assert second[4] & 0xC0 == 0x40
    shard.write_bytes(first + second[:5] + (content - 256).to_bytes(2, "little") + second[7:])
    return bundle


def test_the_frames_of_a_shard_share_one_decoding_context(tmp_path: Path) -> None:
    """Codex's decoder keeps one libzstd context for every frame, and libzstd keeps its
    buffers: a later frame giving too small a content size (19,936 for 19,952 bytes) streams
    into the first frame's larger buffer, so the size is found wrong at the end ("Data
    corruption detected"); a fresh context per frame, as we had, sized its buffer by the
    header ("Destination buffer is too small"). Found by the damage differential (frames
    run, seed 77, 12 of 1,500 differed this way)."""
    bundle = _two_frames(tmp_path, 28_000, 19_936)
    _refused_as_codex_refuses(bundle, "Data corruption detected")


@pytest.mark.parametrize(
    ("cut", "room"),
    [(2, 32), (33, 95), (110, 146), (200, 56), (500, 524), (3_000, 1_096), (16_125, 259)],
)
def test_codex_read_room_after_a_first_frame(cut: int, room: int) -> None:
    """The room Codex's read has as the second frame starts, probed with 0.171 (a frame
    asking for a 16 MiB window is refused when streamed, decoded when taken in one pass):
    ``read_to_end``'s 32-byte probe, then ``try_reserve(32)`` (doubling) whenever less than
    32 bytes are spare, reads of at most 8 KiB, doubled after a full one. Seed 88 #2166 of
    the frames run: after a 2-byte frame we gave 6 bytes, Codex 32."""
    reads = _CodexReads()
    reads.space()
    reads.wrote(cut)
    assert reads.space() == room


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (18, "Src size is incorrect"),
        (32, "Src size is incorrect"),
        (33, "Data corruption detected"),
    ],
)
def test_after_a_frame_of_two_bytes_codex_read_has_32_bytes_of_room(
    tmp_path: Path, content: int, expected: str
) -> None:
    """``single_exec``'s first 2 decompressed bytes in a frame of their own, the rest in a
    single-segment frame whose header gives ``content`` bytes: Codex takes one pass up to 32
    (we gave the read 6 bytes of room and streamed it: "Data corruption detected")."""
    bundle = copy_bundle("single_exec", tmp_path)
    shard = bundle / layout.shard_path(1)
    raw = zstandard.ZstdDecompressor().decompressobj().decompress(shard.read_bytes())
    first = zstandard.ZstdCompressor(write_checksum=True).compress(raw[:2])
    rest = zstandard.ZstdCompressor(write_checksum=True, write_content_size=False)
    shard.write_bytes(first + _single_segment(rest.compress(raw[2:]), content))
    _refused_as_codex_refuses(bundle, expected)


def test_a_frame_taken_in_one_pass_does_not_pass_the_bomb_limit() -> None:
    """A frame Codex would decode in one pass is decoded whole: after a first frame of 4.2 MB
    of zeros (streamed, no content size) Codex's read has 4.15 MB of room, and a second frame
    of zeros giving that size decoded in one pass doubled what was held before the bomb limit
    (4.3 MB, the shard being 294 bytes) refused it: 12.5 MB at the peak, 5.8 MB before the
    one-pass model. A frame whose size would pass the limit is streamed, refused piece by
    piece as any other."""
    first_size = 4_234_723
    reads = _CodexReads()
    reads.wrote(first_size)
    room = reads.space()
    assert room > 4_000_000
    data = zstandard.ZstdCompressor(level=1, write_content_size=False).compress(
        bytes(first_size)
    ) + zstandard.ZstdCompressor(level=1).compress(bytes(room))
    floor = 4_300_000
    assert len(data) * 1000 < floor
    tracemalloc.start()
    try:
        with pytest.raises(ShardBomb):
            decompress_shard(data, floor)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.6 * floor, peak
    # below the limit the same shard is decoded whole, as before
    assert decompress_shard(data, 3 * floor) == (bytes(first_size + room), True)
