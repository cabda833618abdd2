"""``rollout-trace redact`` on schema-3 bundles: shards decompressed, redacted record by record
and written back, so the corpus and a planted recording still reduce, with our reducer and
Codex 0.171; truncated bodies' lengths stated anew; corrupt, stray, cut-short, unfinished and
missing shards named; the counts' payload given an id no payload has."""

from __future__ import annotations

import functools
import re
import shutil
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.redact_bundle import redact_bundle
from rollout_trace_sdk.reduce import ReduceError, reduce_bundle
from rollout_trace_sdk.reduce.confined import BundleFiles
from tests.cli_redact_support import run, state_of
from tests.codex_oracle import codex_bin, codex_reduce
from tests.conftest import CONFORMANCE_V3, conformance_bundles, needs_conformance_v3

_V3 = conformance_bundles(CONFORMANCE_V3)


@needs_conformance_v3
@pytest.mark.parametrize("bundle", _V3, ids=[b.parent.name for b in _V3])
def test_schema_3_corpus_bundles_still_reduce_after_redaction(bundle: Path, tmp_path: Path) -> None:
    """Shards are decompressed, redacted record by record and written back: nothing in the
    corpus is a secret, so the state is the very same, with our reducer and Codex 0.171."""
    report = redact_bundle(bundle, tmp_path / "clean")
    assert report.total == 0
    state = state_of(tmp_path / "clean")
    assert state == state_of(bundle)
    if codex_bin(3) is not None:
        ok, stderr, codex_state = codex_reduce(tmp_path / "clean")
        assert ok, stderr
        assert codex_state == orjson.loads(state)


def _record_v3(root: Path, **options: Any) -> Path:
    from tests.record.test_recorder_redaction import record

    return anyio.run(functools.partial(record, root, 3, redact=False, **options))


def test_schema_3_planted_secrets_are_redacted_and_items_still_link(tmp_path: Path) -> None:
    from tests.record.test_recorder_redaction import SECRETS as PLANTED
    from tests.record.test_recorder_redaction import bundle_files, found, linked

    bundle = _record_v3(tmp_path / "rec")
    assert set(found(bundle_files(bundle))) == set(PLANTED)
    report = redact_bundle(bundle, tmp_path / "clean")
    assert report.recorded and report.total >= len(PLANTED)
    files = bundle_files(tmp_path / "clean")
    assert found(files) == {}
    for name, data in files.items():
        assert (tmp_path / "clean" / name).stat().st_mode & 0o777 == 0o600
        assert not name.endswith(".zst") or data  # shards hold records
    clean = orjson.loads(state_of(tmp_path / "clean"))
    assert linked(clean) == linked(orjson.loads(state_of(bundle)))
    if codex_bin(3) is not None:
        ok, stderr, codex_state = codex_reduce(tmp_path / "clean")
        assert ok, stderr
        assert codex_state == clean


def test_schema_3_truncated_bodies_state_their_new_length(tmp_path: Path) -> None:
    """Redaction changes a truncated body's length: the references citing it are updated,
    so both reducers still find ``retained_bytes`` equal to what is stored."""
    bundle = _record_v3(tmp_path / "rec", max_payload_bytes=300)
    assert b'"status":"truncated"' in (bundle / "trace.jsonl").read_bytes()
    report = redact_bundle(bundle, tmp_path / "clean")
    assert report.total
    retained = re.compile(rb'"retained_bytes":(\d+)')
    before = retained.findall((bundle / "trace.jsonl").read_bytes())
    after = retained.findall((tmp_path / "clean" / "trace.jsonl").read_bytes())
    assert len(before) == len(after) and before != after  # some bodies changed length
    assert orjson.loads(state_of(tmp_path / "clean"))["threads"]
    if codex_bin(3) is not None:
        ok, stderr, _ = codex_reduce(tmp_path / "clean")
        assert ok, stderr


def test_a_truncated_body_that_grows_past_its_original_size_stays_readable(
    tmp_path: Path,
) -> None:
    """Placeholders are longer than the keys they replace: a prefix cut a few bytes short of
    its whole grew past ``original_bytes``, and both reducers refused the redacted bundle
    ("invalid retained length"; found by review)."""
    import json

    from rollout_trace_sdk.record import open_rollout

    async def record() -> Path:
        out = "AKIAZ7QW3RTY5UIOP2AS " * 8 + "z" * (1000 - 8 * 21 + 3)
        async with (
            open_rollout(
                tmp_path / "rec", schema_version=3, max_payload_bytes=1000, redact=False
            ) as rollout,
            rollout.root.turn() as turn,
            turn.tool_call("c1", "exec_command", arguments=json.dumps({})) as tool,
        ):
            tool.completed({"type": "function_call_output", "call_id": "c1", "output": out})
        assert rollout.bundle_dir is not None
        return Path(rollout.bundle_dir)

    bundle = anyio.run(record)
    redact_bundle(bundle, tmp_path / "clean")
    sizes = re.findall(
        rb'"original_bytes":(\d+),"retained_bytes":(\d+)',
        (tmp_path / "clean" / "trace.jsonl").read_bytes(),
    )
    assert sizes and all(int(kept) < int(whole) for whole, kept in sizes)
    assert orjson.loads(state_of(tmp_path / "clean"))["recording_status"]
    if codex_bin(3) is not None:
        ok, stderr, _ = codex_reduce(tmp_path / "clean")
        assert ok, stderr


def test_a_corrupt_shard_is_refused_naming_it(tmp_path: Path) -> None:
    bundle = _record_v3(tmp_path / "rec")
    shard = next((bundle / "payloads").glob("*.zst"))
    shard.write_bytes(b"not zstd at all")
    code, _, err = run("redact", bundle, "-o", tmp_path / "clean")
    assert code == 1 and shard.name in err and "zstd" in err
    assert not (tmp_path / "clean").exists()


def test_a_stray_file_named_like_a_shard_is_not_a_second_shard(tmp_path: Path) -> None:
    """Codex opens ``000001.zst``; a ``1.zst`` beside it was taken for shard 1 again and the
    command failed with "File exists" (found by review). It is a stray file as any other."""
    bundle = _record_v3(tmp_path / "rec")
    shutil.copy(bundle / "payloads" / "000001.zst", bundle / "payloads" / "1.zst")
    report = redact_bundle(bundle, tmp_path / "clean")
    assert report.not_copied == ("payloads/1.zst",)
    assert orjson.loads(state_of(tmp_path / "clean"))["threads"]  # the real shard 1 reads


def test_a_record_cut_short_at_a_shards_end_is_named(tmp_path: Path) -> None:
    """A crash while a record was written leaves part of it at the shard's end: the copy
    left it out without a word (found by review)."""
    import zstandard

    from rollout_trace_sdk.model.layout import SHARD_RECORD_HEADER

    bundle = _record_v3(tmp_path / "rec")
    shard = max((bundle / "payloads").glob("*.zst"))
    partial = SHARD_RECORD_HEADER.pack(5, 4000) + b"raw_9" + b"x" * 40
    with shard.open("ab") as handle:
        handle.write(zstandard.ZstdCompressor().compress(partial))
    code, _, err = run("redact", bundle, "-o", tmp_path / "clean")
    assert code == 0
    assert f"note: payloads/{shard.name} ended in a record cut short (55 bytes" in err
    assert orjson.loads(state_of(tmp_path / "clean"))["threads"]


def test_a_missing_shard_keeps_its_number_and_an_unfinished_one_is_named(
    tmp_path: Path,
) -> None:
    """The counts' shard took the number of a shard the log cites but the disk lacked, so
    the copy's error spoke of a missing payload instead of a missing shard; and a shard
    left unfinished by a crash was finished in the copy without a word (found by review)."""
    import zstandard

    bundle = _record_v3(tmp_path / "rec")
    shard = max((bundle / "payloads").glob("*.zst"))
    begun = zstandard.ZstdCompressor(write_checksum=True).compress(b"x" * 64)[:9]
    with shard.open("ab") as handle:
        handle.write(begun)
    code, _, err = run("redact", bundle, "-o", tmp_path / "unfinished")
    assert code == 0
    assert f"note: payloads/{shard.name} was not finished (a crash or a full disk" in err
    shard.unlink()
    report = redact_bundle(bundle, tmp_path / "missing")
    assert report.recorded
    assert not (tmp_path / "missing" / "payloads" / shard.name).exists()
    with pytest.raises(ReduceError) as info:
        reduce_bundle(tmp_path / "missing")
    assert info.value.message.startswith("open shard ")


@needs_conformance_v3
def test_the_counts_take_an_id_no_payload_has(tmp_path: Path) -> None:
    """Payloads a size limit omitted have no record, only their id in the log: the counts'
    payload must not take one (``raw_payload:42`` was given twice, which Codex refuses)."""
    from tests.reduce.v3_bundles import copy_bundle, edit_shard

    bundle = copy_bundle("capture_total_limit_multi_step", tmp_path)
    assert b'"status":"omitted"' in (bundle / "trace.jsonl").read_bytes()
    secret = b"AKIAABCDEFGHIJKLMNOP "
    edit_shard(
        bundle,
        1,
        lambda records: {
            k: v.replace(b"Process exited", secret + b"Process exited") for k, v in records.items()
        },
    )
    cited = set(re.findall(rb'"raw_payload_id":"([^"]+)"', (bundle / "trace.jsonl").read_bytes()))
    assert redact_bundle(bundle, tmp_path / "clean").recorded
    log = (tmp_path / "clean" / "trace.jsonl").read_bytes().splitlines()
    warning = orjson.loads(log[-2])["payload"]["event_payload"]["raw_payload_id"]
    assert warning.encode() not in cited
    reduce_bundle(tmp_path / "clean")
    if codex_bin(3) is not None:
        ok, stderr, _ = codex_reduce(tmp_path / "clean")
        assert ok, stderr


@pytest.mark.parametrize("schema", [2, 3])
def test_a_bundle_written_on_while_it_is_redacted_gives_a_copy_that_reduces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, schema: int
) -> None:
    """The recorder wrote on between redact's reading of the payloads and of the log: the copy's
    log cited payloads its copied shards (schema 2: payload files) did not hold, and it
    reduced only leniently ('missing payload', 2 copies of 12 of a live bundle). The log is
    read first: a payload is written before the line that cites it."""

    async def calls(turn: Any, first: int, count: int) -> None:
        for i in range(first, first + count):
            async with turn.inference({"model": "m", "input": [f"go {i}"]}) as inference:
                answer = {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": f"{i}"}],
                }
                inference.completed(output_items=[answer])

    async def main() -> None:
        async with open_rollout(tmp_path / "rec", schema_version=schema) as rollout:
            async with rollout.root.turn() as turn:
                await calls(turn, 0, 5)
            await rollout.flush()
            bundle = rollout.bundle_dir
            assert bundle is not None
            read_bytes = BundleFiles.read_bytes
            wrote_on: list[str] = []

            def read_then_write_on(self: BundleFiles, relpath: str, *, what: str) -> bytes:
                data = read_bytes(self, relpath, what=what)
                if relpath.startswith("payloads/") and not wrote_on:
                    wrote_on.append(relpath)  # the recorder writes on meanwhile
                    anyio.from_thread.run(more, rollout)
                return data

            monkeypatch.setattr(BundleFiles, "read_bytes", read_then_write_on)
            await anyio.to_thread.run_sync(
                functools.partial(redact_bundle, bundle, tmp_path / "clean")
            )
            assert wrote_on

    async def more(rollout: Any) -> None:
        async with rollout.root.turn() as turn:
            await calls(turn, 5, 5)
        await rollout.flush()

    anyio.run(main)
    reduce_bundle(tmp_path / "clean")  # strictly: every payload the log cites is there
