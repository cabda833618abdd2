"""``view --serve``'s hold on notes a live recording is about to make untrue (view/live.py),
read without a browser: tests/view/test_browser_ux.py follows the same through the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import zstandard

from rollout_trace_sdk.model import layout
from rollout_trace_sdk.view import live

_OPEN: dict[str, Any] = {"recording_status": "unclosed"}
_NOTE = "missing payload raw_payload:9 in shard 2"


def _shards(root: Path, *, sealed: bool) -> None:
    """Shard 1 sealed, shard 2 (the newest) written as the recorder writes it: a block
    flushed per batch, the frame finished only when the shard is sealed."""
    (root / layout.PAYLOADS_DIR).mkdir(parents=True)
    one = zstandard.ZstdCompressor().compress(layout.shard_record("raw_payload:1", b"{}"))
    (root / layout.shard_path(1)).write_bytes(one)
    stream = zstandard.ZstdCompressor(write_checksum=True).compressobj()
    data = b""
    for n in range(2, 9):
        record = layout.shard_record(f"raw_payload:{n}", b'{"n":%d}' % n)
        data += stream.compress(record) + stream.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    if sealed:
        data += stream.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH)
    (root / layout.shard_path(2)).write_bytes(data)


def test_a_note_on_the_shard_being_written_is_held(tmp_path: Path) -> None:
    _shards(tmp_path, sealed=False)
    held, watch = live.transient_notes(tmp_path, _OPEN, [_NOTE, "something else"])
    assert held == [_NOTE]
    assert watch == (layout.PAYLOADS_DIR, layout.shard_path(2))


def test_a_note_on_a_sealed_shard_is_shown(tmp_path: Path) -> None:
    _shards(tmp_path, sealed=True)
    assert live.transient_notes(tmp_path, _OPEN, [_NOTE]) == ([], ())
    # the next shard, not yet created, is the one being written
    later = "missing payload raw_payload:10 in shard 3"
    watch = (layout.PAYLOADS_DIR, layout.shard_path(2))
    assert live.transient_notes(tmp_path, _OPEN, [later]) == ([later], watch)


def test_the_shard_being_written_is_not_decompressed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each new reading of a live bundle that has such a note asks whether the newest shard
    is sealed: decompressing it for that cost 23-36 ms a 5 MiB shard (next to the lenient
    reduction it follows), its frames' headers tell it in under 1 ms (found by tidy19)."""
    _shards(tmp_path, sealed=False)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the shard was decompressed")

    monkeypatch.setattr(zstandard, "ZstdDecompressor", refuse)
    assert live.transient_notes(tmp_path, _OPEN, [_NOTE])[0] == [_NOTE]


def test_a_shard_that_is_not_zstd_holds_nothing(tmp_path: Path) -> None:
    _shards(tmp_path, sealed=False)
    (tmp_path / layout.shard_path(2)).write_bytes(b"not zstd at all")
    assert live.transient_notes(tmp_path, _OPEN, [_NOTE]) == ([], ())
