"""The bundle's space reserve (``record/_files.make_reserve``): room held from the first chunk
on for the closing records, freed for them when the disk fills, removed at close; and the
rule that goes with it: a bundle whose loss report could not be written is left unclosed,
never closed as if nothing was lost."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import orjson
import pytest
import zstandard

from rollout_trace_sdk.model import layout
from rollout_trace_sdk.record import RecorderWarning, _files, open_rollout
from rollout_trace_sdk.record._shard_plan import ShardPlan
from rollout_trace_sdk.record._shards import ShardSink
from rollout_trace_sdk.sources import bundle_info

from .recorder_support import bundle_in, check_bundle, loss_report, types

pytestmark = pytest.mark.anyio


def _output(call_id: str, size: int) -> dict[str, str]:
    # random text: compressed shards fill the disk as fast as payload files do
    return {"type": "function_call_output", "call_id": call_id, "output": os.urandom(size).hex()}


async def test_a_bundle_holds_its_reserve_while_recording_and_not_after(
    tmp_path: Path, schema: int
) -> None:
    async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
        async with turn.tool_call("call_1", "exec", arguments={"cmd": "ls"}) as tool:
            tool.completed(_output("call_1", 100))
        await rollout.flush()
        reserve = bundle_in(tmp_path) / layout.SPACE_RESERVE
        info = reserve.stat()
        # blocks really held, not a sparse file: a full disk cannot take them
        assert info.st_size == _files.RESERVE_BYTES
        assert info.st_blocks * 512 >= _files.RESERVE_BYTES
        assert info.st_mode & 0o777 == 0o600
        # room held is not data: `ls` sizes the bundle without it
        listed = bundle_info(bundle_in(tmp_path)).size
        on_disk = sum(p.stat().st_size for p in bundle_in(tmp_path).rglob("*") if p.is_file())
        assert listed == on_disk - _files.RESERVE_BYTES
        # a copy taken now (a recorder killed here) reads with both reducers, reserve and all
        copy = tmp_path / "copy" / bundle_in(tmp_path).name
        shutil.copytree(bundle_in(tmp_path), copy)
    assert not reserve.exists()
    assert check_bundle(bundle_in(tmp_path))["threads"]
    assert check_bundle(copy)["threads"]


def test_a_reserve_that_finds_no_room_is_not_left_behind(tmp_path: Path) -> None:
    """A disk already full when the first chunk comes: no reserve, and no empty or partial
    file in the bundle (nothing to free later, nothing for readers to trip on)."""
    with _tmpfs(tmp_path / "full", "64k") as full:
        filler = full / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        with pytest.raises(OSError):
            while True:
                os.write(fd, os.urandom(4096))
        os.close(fd)
        assert _files.make_reserve(str(full)) is False
        assert not (full / layout.SPACE_RESERVE).exists()
        filler.unlink()
        assert _files.make_reserve(str(full)) is True
        _files.release_reserve(str(full))
        assert sorted(os.listdir(full)) == []


async def test_a_disk_filled_behind_a_rollout_still_gets_its_loss_report_and_close(
    tmp_path: Path, schema: int
) -> None:
    """One rollout, its first calls written; then another program fills the disk, and the
    calls after it find no room (retried, then given up: warned). At close the reserve is
    freed, a schema-3 frame the failure left open is cut at its last whole batch, and the
    bundle closes with its loss report: both reducers read it alike. (Schema 3 stayed
    unclosed, its report nowhere, before the cut.)"""
    with _tmpfs(tmp_path / "disk", "1m") as disk:
        async with open_rollout(disk) as rollout, rollout.root.turn() as turn:
            for i in range(5):
                async with turn.tool_call(f"a_{i}", "exec", arguments={"i": i}) as tool:
                    tool.completed(_output(f"a_{i}", 3000))
            await rollout.flush()
            filler = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
            with pytest.raises(OSError):
                while True:
                    os.write(filler, os.urandom(4096))
            os.close(filler)
            for i in range(20):
                async with turn.tool_call(f"b_{i}", "exec", arguments={"i": i}) as tool:
                    tool.completed(_output(f"b_{i}", 3000))
        stats = rollout.stats
        assert stats is not None and stats.failed is not None and stats.lost_anything
        bundle = bundle_in(disk)
        assert types(bundle)[-1] == "recording_completed"
        assert "dropped" in loss_report(bundle)
        assert not (bundle / layout.SPACE_RESERVE).exists()
        check_bundle(bundle)


@pytest.mark.filterwarnings(f"ignore::{RecorderWarning.__module__}.{RecorderWarning.__name__}")
async def test_a_tool_output_the_full_disk_refuses_keeps_the_lines_queued_before_it(
    tmp_path: Path, schema: int
) -> None:
    """A disk with 120 KB left and a 400 KB tool output queued in the writer's first chunk
    with the rollout's start: the lines citing nothing refused are written, so the bundle
    shows its thread and the tool call's start, then the loss report. In schema 3 the shard
    held the disk's last bytes (the large record's first part) until the close, so no line
    found room: the bundle kept its report alone (2 lines of 34; review rec42). It is cut
    back at once to the records before the large one, and both schemas keep 12 lines."""
    with _tmpfs(tmp_path / "disk", "1m") as disk:
        filler = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        while (room := os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize) > 120_000:
            os.write(filler, os.urandom(min(room - 120_000, 4096)))
        os.close(filler)
        async with open_rollout(disk, model="m") as rollout, rollout.root.turn() as turn:
            history = turn.accept({"type": "message", "role": "user", "content": "go"})
            call = {"type": "function_call", "name": "exec", "call_id": "c0", "arguments": "{}"}
            async with turn.inference({"model": "m", "input": history}) as inference:
                inference.completed(output_items=[call])
            async with turn.tool_call("c0", "exec", arguments="{}") as tool:
                tool.completed(_output("c0", 200_000))
            for i in range(5):
                async with turn.tool_call(f"b_{i}", "exec", arguments={"i": i}) as tool:
                    tool.completed(_output(f"b_{i}", 1500))
        bundle = bundle_in(disk)
        kinds = types(bundle)
        assert kinds[:2] == ["rollout_started", "thread_started"]
        assert "inference_completed" in kinds and "tool_call_started" in kinds
        assert kinds[-1] == "recording_completed"
        assert "No space left on device" in loss_report(bundle)
        assert len(check_bundle(bundle)["inference_calls"]) == 1  # Codex reads it as we do


def test_a_shard_write_the_full_disk_stops_part_way_is_cut_back_and_a_retry_stores_it(
    tmp_path: Path,
) -> None:
    """A batch the full disk takes part of: the shard file is cut back at once to its last
    whole batch (the bytes after it held the room its lines need; they waited for the
    close), the batch's records are what no line may cite, and once the disk has room a
    retry writes the batch whole after it: one frame, every record once, in order."""
    with _tmpfs(tmp_path / "disk", "512k") as disk:
        plan, sink = ShardPlan(), ShardSink(disk)
        first = plan.place("tool_result", b'"first"')[1]
        assert first is not None
        sink.write([first])
        shard = disk / layout.shard_name(1)
        whole = shard.stat().st_size
        filler = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        while (room := os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize) > 100_000:
            os.write(filler, os.urandom(min(room - 100_000, 4096)))
        os.close(filler)
        # ~240 KB compressed, in records small enough to be compressed together
        batch = [
            plan.place("tool_result", orjson.dumps(os.urandom(8000).hex()))[1] for _ in range(30)
        ]
        records = [r for r in batch if r is not None]
        assert sink.write(records) == 30
        with pytest.raises(OSError) as refused:
            sink.settle()
        assert refused.value.errno == errno.ENOSPC
        assert shard.stat().st_size == whole
        assert sink.missing(records, 30) == set(range(2, 32))
        (disk / "filler").unlink()
        sink.settle()
        sink.seal()
        assert sink.sealed
        data = zstandard.ZstdDecompressor().decompress(shard.read_bytes(), max_output_size=1 << 22)
        ids = []
        offset = 0
        while offset < len(data):
            id_len, body_len = layout.SHARD_RECORD_HEADER.unpack_from(data, offset)
            offset += layout.SHARD_RECORD_HEADER.size
            ids.append(data[offset : offset + id_len].decode())
            offset += id_len + body_len
        assert ids == [f"raw_payload:{n}" for n in range(1, 32)]


def test_the_lines_a_refused_shard_leaves_cite_no_unsealed_shard_but_the_last(
    tmp_path: Path,
) -> None:
    """A chunk whose records fill shards 1 and 2 (the plan moved past both) and begin shard 3
    with a tool output the full disk refuses: the lines before the one citing it are written
    (review rec42), but shards 1 and 2, whole on disk, were left unsealed (they are sealed
    once a write succeeds), and those lines cited them. Codex 0.171 refuses an unsealed shard
    that is not the last one cited ("missing footer in payload shard 1"): a recorder killed
    before its close left a bundle it could not read (5 of 7 killed runs, review45; none
    before the lines were written). Whole shards the plan moved past are sealed first."""
    with _tmpfs(tmp_path / "disk", "512k") as disk:
        plan = ShardPlan(rotate_bytes=200)  # two small records a shard
        sink = ShardSink(disk, finished=plan.finished)
        refs, records = [], []
        small = [b'"' + letter * 60 + b'"' for letter in (b"a", b"b", b"c", b"d")]
        for body in [*small, orjson.dumps(os.urandom(200_000).hex())]:
            ref, record = plan.place("tool_result", body)
            assert record is not None
            refs.append(ref)
            records.append(record)
        assert [ref.shard for ref in refs] == [1, 1, 2, 2, 3]
        lines = b"".join(  # a line citing each, as the writer encodes a reference
            b'{"event_payload":{"raw_payload_id":"%s","kind":{"type":"tool_result"},"shard":%d}}\n'
            % (ref.raw_payload_id.encode(), ref.shard or 0)
            for ref in refs
        )
        chunk = _files.Chunk(records, bytearray(lines), 1, len(refs))
        log = disk / "trace.jsonl"
        log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        filler = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        while (room := os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize) > 100_000:
            os.write(filler, os.urandom(min(room - 100_000, 4096)))
        os.close(filler)
        try:
            _files.write_chunk_v3(chunk, sink, log_fd, 0)
        finally:
            os.close(log_fd)
        assert isinstance(chunk.error, OSError) and chunk.error.errno == errno.ENOSPC
        assert chunk.lines_done == 4  # every line but the large record's
        cited = sorted({int(n) for n in re.findall(rb'"shard":(\d+)', log.read_bytes())})
        unsealed = [n for n in cited if not _sealed(disk / layout.shard_name(n))]
        assert unsealed in ([], cited[-1:]), (cited, unsealed)


def test_a_schema_3_first_chunk_holds_the_reserve_before_its_records(tmp_path: Path) -> None:
    """Schema 3 writes a chunk's records (compressed into shards) before its lines: the
    reserve is taken ahead of both, or a first chunk that fills the disk leaves no room
    for the loss report (the reserve, tried after, finds none)."""
    with _tmpfs(tmp_path / "disk", "256k") as disk:
        plan = ShardPlan()
        # ~400 KB compressed (random hex: half its size) on a 256 KB disk
        placed = [plan.place("tool_result", orjson.dumps(os.urandom(100_000).hex()))[1]]
        placed += [plan.place("tool_result", orjson.dumps(os.urandom(100_000).hex()))[1]]
        placed += [plan.place("tool_result", orjson.dumps(os.urandom(100_000).hex()))[1]]
        placed += [plan.place("tool_result", orjson.dumps(os.urandom(100_000).hex()))[1]]
        chunk = _files.Chunk([r for r in placed if r is not None], b"", 0, 0)
        chunk.reserve = str(disk)
        assert _files.write_records(chunk, ShardSink(disk)) is False  # the disk is full
        assert isinstance(chunk.error, OSError) and chunk.error.errno == errno.ENOSPC
        assert chunk.reserved
        info = (disk / layout.SPACE_RESERVE).stat()
        assert info.st_blocks * 512 >= _files.RESERVE_BYTES


@pytest.mark.filterwarnings(f"ignore::{RecorderWarning.__module__}.{RecorderWarning.__name__}")
async def test_a_full_disk_leaves_no_bundle_closed_without_its_loss_report(
    tmp_path: Path, schema: int
) -> None:
    """Twelve rollouts at once fill a real 2 MB tmpfs. Before the reserve, the closing lines
    still fitted in the log's last block while the loss report's payload (a new file) did not:
    4 to 10 of 12 schema-2 bundles read ``complete`` and said nothing of what they lost, and
    none closed with its report. Now each bundle either holds its loss report and closes, or
    stays unclosed (every reader says it stopped); the reserve closes most with their report.
    Every bundle with a line reads with both reducers, as they agree."""
    results: list[tuple[Path | None, bool]] = []
    # each rollout's payloads, written or counted lost: the same for all, disk full or not,
    # but for a loss report's (records cut off a shard, or left unwritten by a failed seal,
    # are counted lost: else neither)
    handled: list[int] = []
    with _tmpfs(tmp_path / "disk", "2m") as disk:

        async def rollout_of(k: int, root: Path = disk) -> None:
            scope = open_rollout(root, thread_id=str(uuid.uuid4()))
            async with scope as rollout, rollout.root.turn() as turn:
                for i in range(150):
                    call_id = f"call_{k}_{i}"
                    async with turn.tool_call(call_id, "exec", arguments={"i": i}) as tool:
                        tool.completed(_output(call_id, 3000))
                    await anyio.sleep(0)
            stats = rollout.stats
            results.append((rollout.bundle_dir, stats is not None and stats.lost_anything))
            if stats is not None:
                report = stats.lost_anything  # (its payload is counted too)
                handled.append(stats.payloads_written + stats.payloads_dropped - report)

        await rollout_of(-1, tmp_path / "roomy")  # the count with room for everything
        results.clear()
        async with anyio.create_task_group() as tg:
            for k in range(12):
                tg.start_soon(rollout_of, k)
        closed_with_report = 0
        for bundle, lost in results:
            if bundle is None or not (bundle / layout.EVENT_LOG).stat().st_size:
                continue  # no bundle made, or not one line: nothing claims anything
            closed = types(bundle)[-1] == "recording_completed"
            report = loss_report(bundle)
            assert not (closed and lost and not report), f"{bundle} hides its loss"
            closed_with_report += closed and bool(report)
            assert not (bundle / layout.SPACE_RESERVE).exists()
            check_bundle(bundle)
        assert any(lost for _, lost in results)  # the disk did fill
        assert len(handled) > 1 and set(handled) == {handled[0]}, handled
        assert closed_with_report >= 1


@pytest.mark.filterwarnings(f"ignore::{RecorderWarning.__module__}.{RecorderWarning.__name__}")
async def test_a_shard_that_cannot_be_made_counts_each_lost_payload_once(tmp_path: Path) -> None:
    """Schema 3 on a disk with no inode left for the second shard: the chunk whose records
    reach it fails whole, and the writer counts all its payloads lost. The close's cut then
    counted that chunk's records of the first shard (framed, never written) lost again: 3,802
    records on disk, and the loss report and ``rollout.stats`` said 3,627 written and 2,379
    lost of 6,006, where 2,204 were (review37). Each payload is counted once: what the stats
    call written is what the shards hold, and the report says what they do not."""
    with _tmpfs(tmp_path / "disk", "64m", inodes=7) as disk:  # the root, a bundle, shard 1
        scope = open_rollout(disk, schema_version=3)
        async with scope as rollout, rollout.root.turn() as turn:
            for i in range(2000):  # 6 KB of random hex each: shard 1 (8 MB) fills at ~1,400
                call_id = f"call_{i}"
                async with turn.tool_call(call_id, "exec", arguments={"i": i}) as tool:
                    tool.completed(_output(call_id, 3000))
                await anyio.sleep(0)
        stats = rollout.stats
        assert stats is not None and stats.payloads_dropped  # shard 2 could not be made
        bundle = bundle_in(disk)
        assert types(bundle)[-1] == "recording_completed"
        on_disk = sum(
            len(_shard_records(path)) for path in (bundle / layout.PAYLOADS_DIR).iterdir()
        )
        assert stats.payloads_written == on_disk
        dropped = (stats.events_dropped, stats.payloads_dropped, stats.bytes_dropped)
        assert layout.loss_report(*dropped) in loss_report(bundle)
        check_bundle(bundle)


def _sealed(path: Path) -> bool:
    """Whether a shard file ends with its frame's end (a complete zstd frame)."""
    stream = zstandard.ZstdDecompressor().decompressobj()
    stream.decompress(path.read_bytes())
    return bool(stream.eof and not stream.unused_data)


def _shard_records(path: Path) -> list[bytes]:
    """The record ids a sealed shard holds."""
    data = zstandard.ZstdDecompressor().decompress(path.read_bytes(), max_output_size=1 << 26)
    header = layout.SHARD_RECORD_HEADER
    ids, at = [], 0
    while at < len(data):
        id_length, body_length = header.unpack_from(data, at)
        ids.append(data[at + header.size : at + header.size + id_length])
        at += header.size + id_length + body_length
    return ids


@contextlib.contextmanager
def _tmpfs(where: Path, size: str, *, inodes: int | None = None) -> Iterator[Path]:
    """A real small filesystem at ``where`` (a tmpfs of ``size``, and of ``inodes`` files when
    given): a disk that fills. Needs root (as CI runs); skipped where mounting is refused."""
    where.mkdir(parents=True)
    options = f"size={size},mode=0700" + (f",nr_inodes={inodes}" if inodes else "")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)
