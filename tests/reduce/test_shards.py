"""Schema-3 shard reading on hand-made shards: framing, records, templates, the cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.model import layout
from rollout_trace_sdk.reduce import reduce_bundle, shards, state_bytes
from rollout_trace_sdk.reduce.errors import MissingPayload, ReduceError
from rollout_trace_sdk.reduce.shards import ShardReader
from tests.codex_oracle import codex_reduce, needs_codex_for
from tests.conftest import CONFORMANCE_V3
from tests.reduce.v3_bundles import copy_bundle, edit_shard


def _records(*pairs: tuple[str, bytes]) -> bytes:
    return b"".join(layout.shard_record(pid, body) for pid, body in pairs)


def _frame(raw: bytes, *, checksum: bool = True) -> bytes:
    return zstandard.ZstdCompressor(write_checksum=checksum).compress(raw)


class _Files:
    """The reader's file access, over a directory; counts reads."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.reads: list[str] = []

    def write(self, number: int, data: bytes) -> None:
        path = self.root / layout.shard_path(number)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def read(self, relative: str) -> bytes:
        self.reads.append(relative)
        return (self.root / relative).read_bytes()


@pytest.fixture
def files(tmp_path: Path) -> _Files:
    return _Files(tmp_path)


def _ref(n: int, shard: int | None = 1, **kw: object) -> ev.RawPayloadRef:
    return ev.RawPayloadRef(f"raw_payload:{n}", "tool_result", "", shard, **kw)  # type: ignore[arg-type]


def test_records_are_found_in_any_order(files: _Files) -> None:
    files.write(1, _frame(_records(("raw_payload:2", b'{"b":2}'), ("raw_payload:1", b"[1]"))))
    reader = ShardReader("b", files.read)
    assert reader.text(_ref(1)) == b"[1]"
    assert reader.text(_ref(2)) == b'{"b":2}'
    assert files.reads == ["payloads/000001.zst"], "one decompression for both records"


def test_concatenated_and_skippable_frames_are_read(files: _Files) -> None:
    skippable = b"\x50\x2a\x4d\x18" + (3).to_bytes(4, "little") + b"abc"
    data = _frame(_records(("raw_payload:1", b"1"))) + skippable
    data += _frame(_records(("raw_payload:2", b"2")), checksum=False)
    files.write(1, data)
    reader = ShardReader("b", files.read)
    assert reader.text(_ref(2)) == b"2"


def test_missing_record_and_missing_file_use_codex_words(files: _Files) -> None:
    files.write(1, _frame(_records(("raw_payload:1", b"1"))))
    reader = ShardReader("b", files.read)
    with pytest.raises(MissingPayload) as info:
        reader.text(_ref(9))
    assert info.value.message == "missing payload raw_payload:9 in shard 1"
    with pytest.raises(MissingPayload) as info:
        reader.text(_ref(1, shard=7))
    assert info.value.message == "open shard b/payloads/000007.zst"
    assert info.value.cause == "No such file or directory (os error 2)"


def test_duplicate_record_is_refused(files: _Files) -> None:
    files.write(1, _frame(_records(("raw_payload:1", b"1"), ("raw_payload:1", b"2"))))
    with pytest.raises(ReduceError, match=r"^duplicate payload raw_payload:1 in shard 1 \("):
        ShardReader("b", files.read).text(_ref(1))


def test_partial_record_in_a_sealed_shard_is_refused(files: _Files) -> None:
    files.write(1, _frame(_records(("raw_payload:1", b"1"), ("raw_payload:2", b"22"))[:-1]))
    with pytest.raises(ReduceError, match=r"^partial record in sealed shard 1 \("):
        ShardReader("b", files.read).text(_ref(1))


def test_unsealed_shard_keeps_the_records_before_the_cut(files: _Files) -> None:
    """A frame cut by a crash: what decoded is used, the rest is missing."""
    body = orjson.dumps(list(range(40_000)))
    compressor = zstandard.ZstdCompressor(write_checksum=True)
    stream = compressor.compressobj()
    first = stream.compress(_records(("raw_payload:1", body)))
    first += stream.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    rest = stream.compress(_records(("raw_payload:2", body))) + stream.flush()
    files.write(1, first + rest[: len(rest) // 2])
    reader = ShardReader("b", files.read)
    assert reader.text(_ref(1)) == body
    with pytest.raises(MissingPayload, match="missing payload raw_payload:2 in shard 1"):
        reader.text(_ref(2))
    [error] = reader.footer_errors([_ref(1)], completed=True)
    assert str(error).startswith("missing footer in payload shard 1 (")


def test_bytes_after_the_frame_and_plain_records_do_not_decompress(files: _Files) -> None:
    files.write(1, _frame(_records(("raw_payload:1", b"1"))) + b"junk")
    files.write(2, _records(("raw_payload:1", b"1")))
    for number in (1, 2):
        with pytest.raises(ReduceError) as info:
            ShardReader("b", files.read).text(_ref(1, shard=number))
        assert info.value.message == f"decompress shard b/payloads/00000{number}.zst"
        assert info.value.cause == "Unknown frame descriptor"


@pytest.mark.parametrize(("descriptor", "refused"), [(0x68, False), (0x69, True), (0x80, True)])
def test_a_frame_asking_for_a_window_past_8_mib_is_refused(
    files: _Files, descriptor: int, refused: bool
) -> None:
    """Codex 0.171 refuses a frame whose window passes 8 MiB; we decoded it (mutation seed
    114018740: one flipped bit in a frame header). ``0x68`` asks for 8 MiB, ``0x69`` 9 MiB."""
    compressor = zstandard.ZstdCompressor(write_checksum=True, write_content_size=False)
    frame = bytearray(compressor.compress(_records(("raw_payload:1", b"1"))))
    assert frame[4] & 0x20 == 0  # not single-segment: the window descriptor follows
    frame[5] = descriptor
    files.write(1, bytes(frame))
    reader = ShardReader("b", files.read)
    if not refused:
        assert reader.text(_ref(1)) == b"1"
        return
    with pytest.raises(ReduceError) as info:
        reader.text(_ref(1))
    assert info.value.message == "decompress shard b/payloads/000001.zst"
    assert info.value.cause == "Frame requires too much memory for decoding"


def test_empty_file_is_a_shard_without_records(files: _Files) -> None:
    files.write(1, b"")
    with pytest.raises(MissingPayload, match="missing payload raw_payload:1 in shard 1"):
        ShardReader("b", files.read).text(_ref(1))


def test_templates_splice_their_parts_recursively(files: _Files) -> None:
    files.write(
        1,
        _frame(
            _records(
                ("raw_payload:1", b'"img"'),
                ("raw_payload:2", orjson.dumps(['{"url":', "}"])),
                ("raw_payload:3", orjson.dumps(["[", ",", "]"])),
            )
        ),
    )
    image = _ref(1)
    item = _ref(2, parts=(image,))
    omitted = ev.RawPayloadRef(
        "raw_payload:9", "model_item", "", None, ev.PayloadCapture("omitted", 5)
    )
    prompt = _ref(3, parts=(item, omitted))
    reader = ShardReader("b", files.read)
    assert orjson.loads(reader.text(prompt)) == [
        {"url": "img"},
        {"$trace_unavailable": "raw_payload:9"},
    ]


def test_template_with_the_wrong_number_of_fragments_is_refused(files: _Files) -> None:
    files.write(1, _frame(_records(("raw_payload:1", b"1"), ("raw_payload:2", b'["a"]'))))
    with pytest.raises(ReduceError, match=r"^invalid payload fragment count$"):
        ShardReader("b", files.read).text(_ref(2, parts=(_ref(1),)))


def test_decompressed_shards_are_not_all_kept(
    files: _Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory follows the reduced state: past the cache budget, older shards are dropped and
    read again only if needed."""
    monkeypatch.setattr(shards, "CACHE_BYTES", 50_000)
    body = orjson.dumps(list(range(8_000)))  # ~40 kB per shard
    for number in range(1, 5):
        files.write(number, _frame(_records((f"raw_payload:{number}", body))))
    reader = ShardReader("b", files.read)
    for number in range(1, 5):
        assert reader.text(_ref(number, shard=number)) == body
    assert len(reader._cache) == 1
    reader.text(_ref(1, shard=1))
    assert files.reads.count("payloads/000001.zst") == 2


def test_template_parts_in_older_shards_are_read_once(
    files: _Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every prompt names the whole history: a part stored in an older shard is read from it
    once, not once per prompt (each shard here is past the shard cache's budget)."""
    monkeypatch.setattr(shards, "CACHE_BYTES", 50_000)
    filler = orjson.dumps(list(range(8_000)))
    files.write(1, _frame(_records(("raw_payload:1", b'"first"'), ("raw_payload:8", filler))))
    prompts = [(f"raw_payload:{n}", orjson.dumps(["[", "]"])) for n in range(2, 6)]
    files.write(2, _frame(_records(*prompts, ("raw_payload:9", filler))))
    part = _ref(1, shard=1)
    reader = ShardReader("b", files.read)
    for n in range(2, 6):
        assert reader.text(_ref(n, shard=2, parts=(part,))) == b'["first"]'
    assert files.reads.count("payloads/000001.zst") == 1
    assert files.reads.count("payloads/000002.zst") == 2, "once, and again after shard 1"


def test_part_cache_has_a_budget(files: _Files, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shards, "PART_CACHE_BYTES", 10)
    files.write(
        1, _frame(_records(("raw_payload:1", b'"0123456789ab"'), ("raw_payload:2", b"[1]")))
    )
    files.write(2, _frame(_records(("raw_payload:3", orjson.dumps(["[", ",", "]"])))))
    reader = ShardReader("b", files.read)
    prompt = _ref(3, shard=2, parts=(_ref(1), _ref(2)))
    assert reader.text(prompt) == b'["0123456789ab",[1]]'
    assert list(reader._parts) == [("raw_payload:2", 1)], "the 14-byte part did not fit"


def _zeros_frame(size: int) -> bytes:
    return zstandard.ZstdCompressor(level=1).compress(bytes(size))


def test_a_decompression_bomb_is_refused_before_it_is_held(files: _Files) -> None:
    """Past ``max(floor, 1,000 x the file)`` a shard is refused, fed to zstd piece by piece
    so that no more than that is ever decompressed (a 200 KB shard of one record of spaces
    made 6 GB: Codex 0.171 peaked at 8.4 GB on it)."""
    record = layout.shard_record("raw_payload:1", b"[" + b" " * (8 << 20) + b"]")
    data = _frame(record) + _zeros_frame(1 << 20) * 40  # 41 MB from a few KB
    assert len(data) * shards.BOMB_RATIO < 40 << 20
    files.write(1, data)
    with pytest.raises(ReduceError) as info:
        ShardReader("b", files.read, floor=16 << 20).text(_ref(1))
    assert info.value.message == "decompress shard b/payloads/000001.zst"
    assert info.value.cause is not None
    assert info.value.cause.startswith("decompresses to more than 16,777,216 bytes (the larger")
    assert info.value.cause.endswith("refused as a decompression bomb")
    # under a higher floor it is decompressed whole; past the floor, never much further
    decoded, sealed = shards.decompress_shard(data, 100 << 20)
    assert sealed and len(decoded) == len(record) + (40 << 20)
    with pytest.raises(shards.ShardBomb):
        shards.decompress_shard(_zeros_frame(64 << 20), 1 << 20)


def test_a_template_citing_one_big_record_many_times_is_refused(files: _Files) -> None:
    """A small log can make a huge text: one record cited by every part of a template."""
    big = b'"' + b"y" * (1 << 20) + b'"'
    fragments = orjson.dumps(["["] + [","] * 99 + ["]"])
    files.write(1, _frame(_records(("raw_payload:1", big), ("raw_payload:2", fragments))))
    template = _ref(2, parts=tuple(_ref(1) for _ in range(100)))
    assert len(ShardReader("b", files.read, floor=200 << 20).text(template)) > 100 << 20
    with pytest.raises(ReduceError) as info:
        ShardReader("b", files.read, floor=50 << 20).text(template)
    assert info.value.message == "payload raw_payload:2"
    assert info.value.cause == "spliced text passes 52,428,800 bytes: refused as an expansion bomb"


def test_a_template_reads_each_shard_once(files: _Files) -> None:
    """Parts alternating between two shards that do not fit the cache together: read shard
    by shard (each decompressed once), not part by part (once per part)."""
    for shard in (1, 2):
        pairs = [(f"raw_payload:{shard}{k:04d}", f"{shard}{k}".encode()) for k in range(50)]
        pairs.append((f"raw_payload:pad{shard}", bytes(5 << 20)))  # the cache holds one
        files.write(shard, _frame(_records(*pairs)))
    files.write(3, _frame(_records(("raw_payload:9", orjson.dumps(["["] + [","] * 99 + ["]"])))))
    parts = tuple(
        ev.RawPayloadRef(f"raw_payload:{1 + k % 2}{k // 2:04d}", "tool_result", "", 1 + k % 2)
        for k in range(100)
    )
    text = ShardReader("b", files.read).text(_ref(9, shard=3, parts=parts))
    assert orjson.loads(text) == [int(f"{1 + k % 2}{k // 2}") for k in range(100)]
    assert sorted(files.reads) == [f"payloads/00000{n}.zst" for n in (1, 2, 3)]


def test_skippable_frames_do_not_raise_the_bomb_limit() -> None:
    # 10 MB of zeros compress to ~1 KB: with a 20 KB skippable frame beside them, a limit
    # of 1,000 times the file's size let them through; only decoded bytes count now
    frame = zstandard.ZstdCompressor().compress(bytes(10_000_000))
    padding = (0x184D2A50).to_bytes(4, "little") + (20_000).to_bytes(4, "little") + bytes(20_000)
    assert len(frame) * 1000 < 10_000_000 < len(padding + frame) * 1000
    with pytest.raises(shards.ShardBomb, match="compressed bytes"):
        shards.decompress_shard(padding + frame, floor=1_000_000)
    with pytest.raises(shards.ShardBomb):
        shards.decompress_shard(frame + padding, floor=1_000_000)
    small = zstandard.ZstdCompressor().compress(b"x" * 1000)
    assert shards.decompress_shard(padding + small + padding, floor=1_000_000) == (
        b"x" * 1000,
        True,
    )


def test_a_shard_that_cannot_be_decompressed_is_tried_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # validate asks for every payload: each ask decompressed the shard again (115 s for a
    # bomb cited 73 times); the first failure is remembered, and said once
    from rollout_trace_sdk.reduce.validate import validate_bundle
    from tests.reduce.v3_bundles import copy_bundle

    bundle = copy_bundle("single_exec", tmp_path)
    (bundle / "payloads" / "000001.zst").write_bytes(b"not zstd at all" * 10)
    calls = 0
    real = shards.decompress_shard

    def counting(data: bytes, floor: int = shards.BOMB_FLOOR_BYTES) -> tuple[bytes, bool]:
        nonlocal calls
        calls += 1
        return real(data, floor)

    monkeypatch.setattr(shards, "decompress_shard", counting)
    report = validate_bundle(bundle)
    assert calls <= 2  # its own check, then the replay's
    unreadable = [p for p in report.problems if "Unknown frame descriptor" in p.message]
    assert len(unreadable) == 1 and "000001.zst" in unreadable[0].message


def test_a_lenient_note_names_the_shard_its_payload_was_missing_from(files: _Files) -> None:
    """``view --serve`` holds back a note of a payload missing from the shard still being
    written: both of Codex's texts for it give that shard back, wherever the bundle is."""
    files.write(1, _frame(_records(("raw_payload:1", b"1"))))
    reader = ShardReader("my traces/b", files.read)
    for ref, shard in ((_ref(9), 1), (_ref(2, shard=3), 3)):
        with pytest.raises(MissingPayload) as missing:
            reader.text(ref)
        note = f"line 9 (seq 9): skipped payload missing: {missing.value}"
        assert shards.shard_of_note(note) == shard, note
    assert shards.shard_of_note("payloads/000001.zst: went on without raw_payload:1") is None


@st.composite
def _zstd_streams(draw: st.DrawFn) -> bytes:
    """Frames as writers make them (the recorder's: a block flushed per batch, a sealed
    frame ending each shard; one-shot frames with their content size; skippable frames),
    the last one perhaps left unsealed."""
    out = b""
    frames = draw(st.integers(1, 3))
    for n in range(frames):
        if draw(st.booleans()) and n < frames - 1:
            padding = draw(st.binary(max_size=20))
            out += (0x184D2A50 + draw(st.integers(0, 15))).to_bytes(4, "little")
            out += len(padding).to_bytes(4, "little") + padding
        checksum, size = draw(st.booleans()), draw(st.booleans())
        parts = draw(
            st.lists(
                st.one_of(st.binary(max_size=300), st.builds(bytes, st.integers(0, 200_000))),
                min_size=1,
                max_size=4,
            )
        )
        compressor = zstandard.ZstdCompressor(write_checksum=checksum, write_content_size=size)
        if draw(st.booleans()):
            out += compressor.compress(b"".join(parts))
            continue
        stream = compressor.compressobj()
        for part in parts:
            out += stream.compress(part) + stream.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
        if n < frames - 1 or draw(st.booleans()):
            out += stream.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH)
    return out


@settings(max_examples=200, deadline=None)
@given(_zstd_streams(), st.data())
def test_shard_sealed_agrees_with_the_decoder_wherever_the_bytes_stop(
    data: bytes, draw: st.DataObject
) -> None:
    """``shard_sealed`` (headers only; ``view --serve`` asks it of a live bundle's newest
    shard) says what decoding the whole shard says of its last frame, wherever the writer's
    bytes stop."""
    # each of the last 40 (the last block's header, the checksum) and 20 anywhere
    cuts = {*range(max(0, len(data) - 40), len(data) + 1)}
    cuts.update(draw.draw(st.lists(st.integers(0, len(data)), max_size=20)))
    for cut in sorted(cuts):
        assert shards.shard_sealed(data[:cut]) is shards.decompress_shard(data[:cut])[1], cut


@pytest.mark.parametrize(
    "data",
    [
        b"not zstd at all",
        _frame(b"x")[:4] + bytes([0x08]) + _frame(b"x")[5:],  # the reserved header bit
        _frame(b"x")[:6] + (0b110).to_bytes(3, "little"),  # the reserved block type
    ],
)
def test_shard_sealed_refuses_what_is_not_zstd(data: bytes) -> None:
    with pytest.raises(zstandard.ZstdError):
        shards.shard_sealed(data)
    with pytest.raises(zstandard.ZstdError):
        shards.decompress_shard(data)


def _growing_shard() -> tuple[bytes, bytes, bytes]:
    """A shard as a live recording leaves it: a zstd block flushed after each batch of records,
    the frame not ended (unsealed). The bytes after the first batch, then after the second."""
    stream = zstandard.ZstdCompressor(write_checksum=True).compressobj()
    first = stream.compress(_records(("raw_payload:1", b"[1]")))
    first += stream.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    second = first + stream.compress(_records(("raw_payload:2", b"[2]")))
    second += stream.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    return first, second, second + stream.flush()


def test_a_shard_that_grew_since_it_was_read_is_read_again(files: _Files) -> None:
    """A bundle reduced while its recording runs: the shard was indexed when an early event
    needed it, and a later event cites a record the writer flushed after that (before the
    event, as it always does). The record was reported missing, so exporting a live schema-3
    bundle failed every time (found by review export24: 3 exports of 3 while a recording ran,
    ``missing payload raw_payload:5025 in shard 5``); an unsealed shard is now read again when
    it has grown, once per growth."""
    first, second, _ = _growing_shard()
    files.write(1, first)
    reader = ShardReader("b", files.read)
    assert reader.text(_ref(1)) == b"[1]"
    files.write(1, second)
    assert reader.text(_ref(2)) == b"[2]"
    assert reader.text(_ref(1)) == b"[1]"
    # a record that is not there: the shard is read again only while it grows
    files.reads.clear()
    for _ in range(3):
        with pytest.raises(MissingPayload, match="missing payload raw_payload:3 in shard 1"):
            reader.text(_ref(3))
    assert files.reads == ["payloads/000001.zst"], "read again once, found unchanged"


def test_a_sealed_shard_is_not_read_again(files: _Files) -> None:
    *_, sealed = _growing_shard()
    files.write(1, sealed)
    reader = ShardReader("b", files.read)
    assert reader.text(_ref(2)) == b"[2]"
    with pytest.raises(MissingPayload, match="missing payload raw_payload:3 in shard 1"):
        reader.text(_ref(3))
    assert files.reads == ["payloads/000001.zst"]


@pytest.mark.skipif(not CONFORMANCE_V3.is_dir(), reason="../shared/conformance-v3 is not present")
def test_a_reduction_leaves_no_decompressed_shards_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bundle and its shard reader refer to each other, so both outlive a reduction until a
    full garbage collection, and the reader's caches with them (up to CACHE_BYTES, 64 MiB
    since 387d2a6, plus the parts): an export's worker reducing bundle after bundle reached
    677 MB of peak RSS over 8 reductions of a 61 MB bundle (225 MB once closing the bundle
    drops them). Found by review24b."""
    made: list[ShardReader] = []
    init = ShardReader.__init__

    def remember(self: ShardReader, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(ShardReader, "__init__", remember)
    bundle = next(CONFORMANCE_V3.glob("apply_patch/trace-*"))
    reduce_bundle(bundle)
    (reader,) = made
    assert reader._shards, "the reduction read no shard"
    assert not reader._cache and reader._cached_bytes == 0
    assert not reader._parts and reader._part_bytes == 0


def test_a_released_reader_reads_its_shards_again(files: _Files) -> None:
    files.write(1, _frame(_records(("raw_payload:1", b"[1]"))))
    reader = ShardReader("b", files.read)
    assert reader.text(_ref(1)) == b"[1]"
    reader.release()
    assert reader.text(_ref(1)) == b"[1]"
    assert files.reads == ["payloads/000001.zst"] * 2


@needs_codex_for(3)
@pytest.mark.parametrize("body", [b"", b"{}"])
def test_a_last_record_of_an_empty_id_is_a_record_not_a_cut(tmp_path: Path, body: bytes) -> None:
    """A sealed shard whose last record has an empty id (and an empty body: nothing after its
    header) ends with a whole record, not a cut one: Codex 0.171 reduces the bundle, as we
    do. Taking a header that ends the data as a cut record passed every shard test (mut33)."""
    bundle = copy_bundle("plain_message", tmp_path)
    edit_shard(bundle, 1, lambda records: {**records, "": body})
    ok, stderr, theirs = codex_reduce(bundle, schema=3)
    assert ok, stderr
    assert orjson.loads(state_bytes(reduce_bundle(bundle))) == theirs


@needs_codex_for(3)
@pytest.mark.parametrize("extra", [1, -1])
def test_a_template_with_a_fragment_too_many_or_too_few_is_refused_as_codex_does(
    tmp_path: Path, extra: int
) -> None:
    """A template holds one fragment more than its parts, no more and no fewer: Codex 0.171
    refuses view_image's image item given an extra (empty) fragment as it refuses one given a
    fragment too few. Only too few was tried: checking for fewer alone passed every shard
    test (mut33)."""
    bundle = copy_bundle("view_image", tmp_path)
    edited: list[str] = []

    def edit(records: dict[str, bytes]) -> dict[str, bytes]:
        for pid, body in records.items():
            if not edited and body.startswith(b'["') and b"input_image" in body:
                fragments = orjson.loads(body)
                fragments = [*fragments, ""] if extra > 0 else fragments[:-1]
                records[pid] = orjson.dumps(fragments)
                edited.append(pid)
        return records

    for shard in sorted((bundle / layout.PAYLOADS_DIR).glob("*.zst")):
        edit_shard(bundle, layout.shard_number(shard.name) or 0, edit)
    assert len(edited) == 1
    ok, stderr, _ = codex_reduce(bundle, schema=3)
    assert not ok and "invalid payload fragment count" in stderr
    with pytest.raises(ReduceError) as refused:
        reduce_bundle(bundle)
    assert refused.value.codex_text() in stderr


def test_footer_errors_name_an_unreadable_shard_before_a_later_unsealed_one(
    files: _Files,
) -> None:
    """The footer check goes shard by shard, and a shard it cannot read is its first error:
    Codex stops at it, before a later shard's missing footer, and lenient reduction notes
    both (dropping the unreadable shard's error passed every test: mut43)."""
    files.write(1, b"not zstd at all" * 10)
    stream = zstandard.ZstdCompressor(write_checksum=True).compressobj()
    cut = stream.compress(_records(("raw_payload:2", b"2"))) + stream.flush()
    files.write(2, cut[:-4])
    errors = list(ShardReader("b", files.read).footer_errors([_ref(1), _ref(2, 2)], True))
    assert len(errors) == 2, [str(e) for e in errors]
    assert "000001.zst" in str(errors[0]) and "footer" not in str(errors[0])
    assert str(errors[1]).startswith("missing footer in payload shard 2 (")
