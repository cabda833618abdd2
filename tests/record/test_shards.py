"""The zstd shard sink, fed by the shard plan: Codex's framing, rotation, crash cuts, limits
(the plan alone: ``test_shard_plan``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollout_trace_sdk.model import codec, layout
from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.record._shard_filter import utf8_prefix
from rollout_trace_sdk.record._shard_plan import CaptureLimits, ShardPlan
from rollout_trace_sdk.record._shards import ShardSink, compression_parameters
from rollout_trace_sdk.record.redact import Redactor
from rollout_trace_sdk.reduce import reduce_bundle, state_bytes
from rollout_trace_sdk.reduce.errors import ReduceError
from rollout_trace_sdk.reduce.shard_frames import decompress_shard
from tests.codex_oracle import codex_bin, codex_reduce
from tests.conftest import CONFORMANCE_V3, conformance_bundles
from tests.record.v3_harness import Conversation, V3Bundle
from tests.test_conformance_states import first_difference

needs_codex3 = pytest.mark.skipif(codex_bin(3) is None, reason="no Codex 0.171 (set CODEX3_BIN)")


def _records(data: bytes) -> list[tuple[str, bytes]]:
    out = []
    offset = 0
    while offset < len(data):
        id_len, body_len = layout.SHARD_RECORD_HEADER.unpack_from(data, offset)
        offset += layout.SHARD_RECORD_HEADER.size
        ident = data[offset : offset + id_len].decode()
        offset += id_len
        out.append((ident, data[offset : offset + body_len]))
        offset += body_len
    return out


def _frame(path: Path) -> tuple[bytes, bool]:
    """The decompressed data of a shard file and whether its (single) frame is complete."""
    stream = zstandard.ZstdDecompressor().decompressobj()
    data = stream.decompress(path.read_bytes())
    return data, stream.eof and not stream.unused_data


def test_records_rotate_by_size_into_single_checksummed_frames(tmp_path: Path) -> None:
    plan = ShardPlan(rotate_bytes=1100)  # records of ~345 bytes: three per shard
    sink = ShardSink(tmp_path)
    placed = [plan.place("tool_result", orjson.dumps({"n": n, "pad": "x" * 300})) for n in range(7)]
    sink.write(record for _, record in placed if record is not None)
    sink.seal()
    shards = [ref.shard for ref, _ in placed]
    assert shards == [1, 1, 1, 2, 2, 2, 3]
    assert [ref.raw_payload_id for ref, _ in placed] == [f"raw_payload:{n}" for n in range(1, 8)]
    for number in (1, 2, 3):
        path = tmp_path / layout.shard_name(number)
        params = zstandard.get_frame_parameters(path.read_bytes())
        assert params.has_checksum and params.content_size == zstandard.CONTENTSIZE_UNKNOWN
        data, sealed = _frame(path)
        assert sealed and path.stat().st_mode & 0o777 == 0o600
        ids = [ident for ident, _ in _records(data)]
        assert ids == [ref.raw_payload_id for ref, _ in placed if ref.shard == number]


def test_a_late_record_of_an_earlier_shard_still_lands_in_it(tmp_path: Path) -> None:
    """A call from another OS thread reaches the queue after the plan rotated: its shard's
    frame is still open, and is sealed once nothing placed before the rotation is queued."""
    plan = ShardPlan(rotate_bytes=200)  # records of 85 bytes: two per shard
    sink = ShardSink(tmp_path)
    early, _, late = (plan.place("protocol_event", b'"' + b"x" * 60 + b'"') for _ in range(3))
    assert (early[0].shard, late[0].shard) == (1, 2)
    sink.write([r for r in (late[1],) if r is not None])
    sink.write([r for r in (early[1],) if r is not None])
    assert sink.open_shards == [1, 2]
    sink.seal_below(plan.current_shard)
    assert sink.open_shards == [2]
    data, sealed = _frame(tmp_path / layout.shard_name(1))
    assert sealed and [i for i, _ in _records(data)] == [early[0].raw_payload_id]
    sink.seal()
    assert not sink.open_shards


def test_a_shard_is_sealed_as_soon_as_all_its_records_are_written(tmp_path: Path) -> None:
    """A shard the plan moved past stayed open until the writer's queue was empty, which a
    busy agent never lets happen: SIGKILL then left several shards unsealed, and Codex 0.171
    refuses any but the last (7 of 12 killed tight loops). It is sealed once the records
    placed in it are all written, in whatever order they arrive."""
    plan = ShardPlan(rotate_bytes=200)  # records of 85 bytes: two per shard
    sink = ShardSink(tmp_path, finished=plan.finished)
    first, second, third = (plan.place("protocol_event", b'"' + b"x" * 60 + b'"') for _ in range(3))
    assert [r[0].shard for r in (first, second, third)] == [1, 1, 2]
    sink.write([r for r in (third[1],) if r is not None])
    sink.write([r for r in (second[1],) if r is not None])
    assert sink.open_shards == [1, 2]  # the first record of shard 1 is still on its way
    sink.write([r for r in (first[1],) if r is not None])
    assert sink.open_shards == [2]
    data, sealed = _frame(tmp_path / layout.shard_name(1))
    assert sealed and [i for i, _ in _records(data)] == [
        second[0].raw_payload_id,
        first[0].raw_payload_id,
    ]


def test_a_write_error_keeps_what_was_not_written_and_a_retry_stores_it_once(
    tmp_path: Path,
) -> None:
    """A write error (a disk full for a moment) stopped the shard for good: every later
    write failed, and a schema-3 recording lost the rest of the run (found by review). The
    compressed bytes not written are kept; :meth:`ShardSink.settle` fails until the disk
    takes them, then writes them once, and the frame goes on."""
    # the second record handed over while the shard's descriptor can no longer be written
    # (a retry must not compress it again)
    _, sink, fd, saved = _kept(tmp_path, 1)
    for _ in range(2):
        with pytest.raises(OSError):
            sink.settle()
    assert not sink.sealed and sink.failed is None
    _restore(fd, saved)  # the disk takes writes again
    sink.settle()
    sink.seal()
    assert sink.sealed and not sink.open_shards
    data, sealed = _frame(tmp_path / layout.shard_name(1))
    assert sealed and [i for i, _ in _records(data)] == ["raw_payload:1", "raw_payload:2"]


def test_no_line_may_cite_a_shard_above_one_whose_seal_failed(tmp_path: Path) -> None:
    """Shard 1's records are on disk but its frame's end is refused (a full disk): the
    records then written whole to shard 2 are still not to be cited. Codex 0.171 refuses an
    unsealed shard that is not the last one the lines cite, so a recorder killed before its
    close would leave a bundle it cannot read (review45); shard 1 stays the last one cited."""
    plan = ShardPlan(rotate_bytes=200)  # records of 85 bytes: two per shard
    sink = ShardSink(tmp_path, finished=plan.finished)
    body = b'"' + b"x" * 60 + b'"'
    first = [plan.place("protocol_event", body) for _ in range(2)]
    sink.write([record for _, record in first if record is not None])
    saved = _unwritable(sink._open[1][0])  # its seal, at shard 2's first write, is refused
    then = [plan.place("protocol_event", body) for _ in range(2)]
    assert [ref.shard for ref, _ in (*first, *then)] == [1, 1, 2, 2]
    records = [record for _, record in then if record is not None]
    sink.write(records)
    assert sink.open_shards == [1, 2]
    with pytest.raises(OSError):
        sink.settle()
    assert sink.missing(records, 2) == {3, 4}
    os.close(saved)


def _unwritable(fd: int) -> int:
    """Make ``fd`` refuse writes (as a full disk would); returns a copy to restore it with."""
    saved = os.dup(fd)
    readonly = os.open(os.devnull, os.O_RDONLY)
    os.dup2(readonly, fd)
    os.close(readonly)
    return saved


def _restore(fd: int, saved: int) -> None:
    os.dup2(saved, fd)
    os.close(saved)


#: The bytes of :func:`_kept`'s three records as framed (header, ``raw_payload:N``, a
#: 3-byte body each).
_KEPT_FRAMED = 3 * (layout.SHARD_RECORD_HEADER.size + len(b"raw_payload:2") + 3)


def _kept(tmp_path: Path, count: int = 3) -> tuple[ShardPlan, ShardSink, int, int]:
    """A sink whose first record is on disk and whose next ``count`` a refusing disk left in
    memory: (plan, sink, the shard's descriptor, a copy to restore it with)."""
    plan = ShardPlan()
    sink = ShardSink(tmp_path)
    first = plan.place("protocol_event", b'"one"')[1]
    assert first is not None
    sink.write([first])
    fd = sink._open[1][0]
    saved = _unwritable(fd)
    kept = [plan.place("protocol_event", b'"%d"' % n)[1] for n in range(2, 2 + count)]
    assert sink.write([r for r in kept if r is not None]) == count  # handed: counted written
    return plan, sink, fd, saved


def test_cut_ends_a_frame_left_behind_at_its_last_whole_batch(tmp_path: Path) -> None:
    """A disk that stays full kept a batch's compressed bytes in memory, and the frame could
    not be sealed without them: a schema-3 bundle stayed unclosed, its loss report nowhere.
    :meth:`ShardSink.cut` ends the frame where the last batch written whole did (an empty
    last block and the checksum of what it holds), and the next record goes to a new
    shard: every shard is then a sealed frame both reducers read."""
    plan, sink, fd, saved = _kept(tmp_path)
    with pytest.raises(OSError):
        sink.settle()
    _restore(fd, saved)  # (the cut needs a descriptor it may truncate; nothing more is written)
    # the three records kept, never on disk, and their bytes as framed (the loss report's
    # bytes left them out)
    framed = _KEPT_FRAMED
    assert sink.cut() == (3, framed)
    assert sink.sealed and sink.failed is None and not sink.open_shards
    assert sink.cut() is None  # nothing left behind: nothing done
    plan.move_past(1)
    report = plan.place("protocol_event", b'"report"')
    assert report[0].shard == 2 and report[1] is not None
    sink.write([report[1]])
    sink.seal()
    one = (tmp_path / layout.shard_name(1)).read_bytes()
    data = zstandard.ZstdDecompressor().decompress(one, max_output_size=1 << 20)  # checksum
    assert [i for i, _ in _records(data)] == ["raw_payload:1"]
    assert decompress_shard(one)[1]  # sealed, as our reducer reads it
    data, sealed = _frame(tmp_path / layout.shard_name(2))
    assert sealed and [i for i, _ in _records(data)] == ["raw_payload:5"]


def test_a_cut_that_fails_still_tells_the_writer_what_it_cut_off(tmp_path: Path) -> None:
    """A frame that cannot even be cut (its file refuses the truncation) fails the sink, and
    the records kept in memory for it are gone all the same: the sink says how many, and
    their bytes, so the writer counts them lost (else ``rollout.stats`` called them written
    over a bundle left unclosed)."""
    _, sink, _, saved = _kept(tmp_path)  # left so: the cut's truncation is refused too
    with pytest.raises(OSError):
        sink.settle()
    with pytest.raises(OSError):
        sink.cut()
    os.close(saved)
    framed = _KEPT_FRAMED
    assert sink.failed is not None and sink.discarded == [3, framed]
    assert not sink.open_shards


def test_records_a_failed_seal_leaves_unwritten_are_told_to_the_writer(tmp_path: Path) -> None:
    """Records handed to the sink count as written; those a write error kept in memory and
    a failed seal then dropped never reached the disk. The sink says how many (and their
    bytes) so the writer counts them lost: an unclosed bundle's ``rollout.stats`` called
    them written (review37: one payload more than its shards held, 5 of 21 unclosed)."""
    _, sink, _, saved = _kept(tmp_path)
    with pytest.raises(OSError):
        sink.seal()  # the close's seal: the disk still refuses, the files are closed
    os.close(saved)
    framed = _KEPT_FRAMED
    assert sink.discarded == [3, framed]
    data, sealed = _frame(tmp_path / layout.shard_name(1))
    assert not sealed and [i for i, _ in _records(data)] == ["raw_payload:1"]


def test_cut_removes_a_shard_no_batch_reached_and_a_failed_sinks_frames(tmp_path: Path) -> None:
    """A shard whose first batch never reached the disk holds no whole frame: the cut
    removes it. A sink failed for good (a shard file that could not be made, the batch's
    other bytes lost with it) has every open frame cut where its last whole batch ended."""
    plan = ShardPlan(rotate_bytes=40)  # one record a shard
    sink = ShardSink(tmp_path)
    first = plan.place("protocol_event", b'"one"')[1]
    assert first is not None
    sink.write([first])
    (tmp_path / layout.shard_name(3)).mkdir()  # shard 3 cannot be made
    more = [plan.place("protocol_event", b'"%d"' % n)[1] for n in (2, 3)]
    with pytest.raises(OSError):
        sink.write([r for r in more if r is not None])
    assert sink.failed is not None
    # shard 2's record was in the batch whose write raised: the writer counts that whole
    # batch lost, so the cut counts none of it (it said 1, and the record was lost twice)
    assert sink.cut() == (0, 0)
    assert sink.sealed and sink.failed is None
    assert not (tmp_path / layout.shard_name(2)).exists()
    data, sealed = _frame(tmp_path / layout.shard_name(1))
    assert sealed and [i for i, _ in _records(data)] == ["raw_payload:1"]


def test_a_shard_file_that_cannot_be_made_fails_the_sink_for_good(tmp_path: Path) -> None:
    """An error before a record is compressed into a frame (its shard file cannot be made)
    leaves nothing to resume: every later write fails with the first error."""
    plan = ShardPlan()
    sink = ShardSink(tmp_path / "missing")  # no such folder: the shard cannot be created
    record = plan.place("protocol_event", b'"one"')[1]
    assert record is not None
    with pytest.raises(OSError) as caught:
        sink.write([record])
    with pytest.raises(OSError) as again:
        sink.write([record])
    assert again.value is caught.value is sink.failed


def test_what_was_written_is_readable_before_the_shard_is_sealed(tmp_path: Path) -> None:
    """A crash between batches loses nothing handed to the sink: each batch ends with a zstd
    block flush, so the unsealed frame decodes up to it."""
    plan = ShardPlan()
    sink = ShardSink(tmp_path)
    first = [plan.place("protocol_event", orjson.dumps({"n": n}))[1] for n in range(3)]
    sink.write(r for r in first if r is not None)
    data, sealed = _frame(tmp_path / layout.shard_name(1))
    assert not sealed
    assert [orjson.loads(body)["n"] for _, body in _records(data)] == [0, 1, 2]
    sink.seal()
    assert _frame(tmp_path / layout.shard_name(1))[1]


def test_an_unsealed_shard_reduces_only_while_the_recording_is_unclosed(tmp_path: Path) -> None:
    for complete in (False, True):
        bundle = V3Bundle(tmp_path / str(complete))
        conv = Conversation(bundle)
        conv.start_turn("hi")
        conv.infer()
        conv.end_turn()
        if complete:
            bundle.event(ev.RecordingCompleted())
        bundle.flush()  # the crash: lines and records are out, the frame is not finished
        bundle.log.close()
        if complete:
            with pytest.raises(ReduceError, match="missing footer in payload shard 1"):
                reduce_bundle(tmp_path / str(complete))
        else:
            assert reduce_bundle(tmp_path / str(complete)).recording_status == "unclosed"


@given(st.text(max_size=40), st.integers(0, 200))
def test_a_truncated_prefix_ends_on_a_character_boundary(text: str, limit: int) -> None:
    body = text.encode()
    cut = utf8_prefix(body, limit)
    assert body.startswith(cut) and len(cut) <= limit
    cut.decode()  # never ends inside a character
    assert len(cut) == len(body) or limit - len(cut) < 4


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.integers(0, 40_000), st.booleans(), st.sampled_from([0, 0, 0, 70_000])),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from(["sk-proj-" + "Ab3" * 16, "ghp_" + "x7" * 18, "AKIAIOSFODNN7EXAMPLE"]),
)
def test_each_body_is_stored_as_the_filter_leaves_it_whatever_the_batches(
    tmp_path_factory: pytest.TempPathFactory, shapes: list[tuple[int, bool, int]], secret: str
) -> None:
    """Small bodies are checked for secrets together (batches of ~64 KB, found by their
    running sizes) and only a batch the check finds dirty is redacted body by body; large
    ones alone. Whatever the sizes and where the secrets are, every record holds what the
    redactor makes of its body, in order, in its shard (rotating every ~100 KB)."""
    directory = tmp_path_factory.mktemp("sink")
    redactor = Redactor(key=b"test-key")
    plan = ShardPlan(rotate_bytes=100_000)
    sink = ShardSink(directory, body_filter=redactor.redact, clean=redactor.clean)
    bodies = []
    for n, (size, dirty, big) in enumerate(shapes):
        text = f"{n}:" + "a" * (size + big)
        bodies.append(orjson.dumps({"output": text + (f" key {secret} end" if dirty else "")}))
    placed = [plan.place("tool_result", body) for body in bodies]
    sink.write(record for _, record in placed if record is not None)
    sink.seal()
    stored: dict[str, bytes] = {}
    for number in range(1, plan.current_shard + 1):
        data, sealed = _frame(directory / layout.shard_name(number))
        assert sealed
        stored.update(_records(data))
    expected = {
        ref.raw_payload_id: redactor.redact(body)
        for (ref, _), body in zip(placed, bodies, strict=True)
    }
    assert stored == expected
    assert all(secret.encode() not in body for body in stored.values())


def test_max_payload_bytes_keeps_a_prefix_and_says_so(tmp_path: Path) -> None:
    """The sink cuts the body (after redaction) and settles the retained size."""
    plan = ShardPlan(CaptureLimits(max_payload_bytes=12))
    ref, record = plan.place("tool_result", b'{"output":"' + "é".encode() * 20 + b'"}')
    assert ref.capture == ev.PayloadCapture("truncated", 53, None)  # not written yet
    assert record is not None
    sink = ShardSink(tmp_path)
    sink.write([record])
    sink.seal()
    assert ref.capture == ev.PayloadCapture("truncated", 53, 11)
    data, _ = _frame(tmp_path / layout.shard_name(1))
    assert _records(data) == [("raw_payload:1", b'{"output":"')]  # é not split
    small, _ = plan.place("tool_result", b"{}")
    assert small.capture is None
    template, _ = plan.place("prepared_prompt", b'["' + b"x" * 50 + b'",""]', (small,))
    assert template.capture is None  # templates are never cut
    assert plan.truncated == 1 and plan.partial


@needs_codex3
@pytest.mark.parametrize(
    "limits",
    [CaptureLimits(max_payload_bytes=700), CaptureLimits(max_bundle_bytes=30_000)],
    ids=["per_payload", "bundle"],
)
def test_a_limited_bundle_still_closes_and_says_what_was_cut(
    tmp_path: Path, limits: CaptureLimits
) -> None:
    """Codex stops its log when its budget is spent (state ``unclosed``); ours keeps room
    for the events, so both reducers see a closed recording with partial payloads."""
    bundle = V3Bundle(tmp_path / "b", limits=limits)
    conv = Conversation(bundle)
    conv.start_turn("go")
    for step in range(12):
        out = conv.infer(text=f"answer {step} " * 100, call_tool=f"step {step}")
        conv.tool(out[-1], f"output {step} " * 300)
    conv.end_turn()
    conv.finish()
    ok, stderr, expected = codex_reduce(tmp_path / "b")
    assert ok, stderr
    assert expected is not None
    ours = orjson.loads(state_bytes(reduce_bundle(tmp_path / "b")))
    assert ours == expected, first_difference(ours, expected)
    assert expected["recording_status"] == "closed_with_partial_payloads"
    assert expected["status"] == "completed"
    if limits.max_bundle_bytes is not None:
        # events are never dropped; what the limit bounds is the payloads beside them
        events = sum(len(line) for line in bundle.lines)
        records = bundle.plan.used_bytes - events
        assert 0 < records <= limits.max_bundle_bytes - limits.reserve_bytes
        shards = sum(f.stat().st_size for f in (tmp_path / "b" / "payloads").iterdir())
        assert shards <= records


# --- the corpus, re-packed by our sink -----------------------------------------------------


def _shard_one(ref: ev.RawPayloadRef) -> ev.RawPayloadRef:
    parts = tuple(_shard_one(p) for p in ref.parts)
    return attrs.evolve(ref, shard=None if ref.shard is None else 1, parts=parts)


def _map_refs(value: Any) -> Any:
    if isinstance(value, ev.RawPayloadRef):
        return _shard_one(value)
    if attrs.has(value.__class__):
        changes = {}
        for field in attrs.fields(value.__class__):
            old = getattr(value, field.name)
            new = _map_refs(old)
            if new is not old:
                changes[field.name] = new
        return attrs.evolve(value, **changes) if changes else value
    if isinstance(value, list):
        return [_map_refs(v) for v in value]
    return value


def _repack(source: Path, target: Path) -> None:
    """``source`` with every stored record moved, in id order, into one shard written by
    :class:`ShardSink`, and every reference pointed at it."""
    bodies: dict[int, bytes] = {}
    for shard in sorted((source / "payloads").glob("*.zst")):
        data = zstandard.ZstdDecompressor().decompressobj().decompress(shard.read_bytes())
        for ident, body in _records(data):
            bodies[int(ident.split(":")[1])] = body
    (target / "payloads").mkdir(parents=True)
    (target / "manifest.json").write_bytes((source / "manifest.json").read_bytes())
    sink = ShardSink(target / "payloads")
    sink.write(((1, layout.raw_payload_id(n)), bodies[n]) for n in sorted(bodies))
    sink.seal()
    lines = []
    for line in (source / "trace.jsonl").read_bytes().splitlines():
        event = codec.parse_event_line(line, 3)
        lines.append(codec.event_line(_map_refs(event), 3))
    (target / "trace.jsonl").write_bytes(b"".join(lines))


def _expected_one_shard(state: Any) -> Any:
    def fix(ref: dict[str, Any]) -> None:
        if ref["shard"] is not None:
            ref["shard"] = 1
        for part in ref.get("parts", ()):
            fix(part)

    for ref in state["raw_payloads"].values():
        fix(ref)
    return state


_V3 = conformance_bundles(CONFORMANCE_V3)


@pytest.mark.skipif(not _V3, reason="../shared/conformance-v3 is not present")
@pytest.mark.parametrize("bundle", _V3, ids=[p.parent.name for p in _V3])
def test_corpus_repacked_by_our_sink_reduces_to_codex_state(tmp_path: Path, bundle: Path) -> None:
    target = tmp_path / bundle.name
    _repack(bundle, target)
    expected = _expected_one_shard(orjson.loads((bundle / "expected_state.json").read_bytes()))
    ours = orjson.loads(state_bytes(reduce_bundle(target)))
    assert ours == expected, first_difference(ours, expected)
    if codex_bin(3) is not None:
        ok, stderr, state = codex_reduce(target)
        assert ok, stderr
        assert state == expected, first_difference(state, expected)


def test_an_open_shard_holds_a_small_zstd_context(tmp_path: Path) -> None:
    """Each open rollout keeps its shard's zstd context until the shard is sealed: with
    level 3's own choice for a stream of unknown size (2 MiB window) a thousand rollouts open
    at once held 1.0 GB in one process, 0.8 MB each (found by review rl20). The frames declare
    a 1 MiB window, and the context is about 2 MB allocated, 3.7 MB before."""
    plan = ShardPlan()
    sink = ShardSink(tmp_path)
    bodies = [orjson.dumps({"n": n, "text": os.urandom(8000).hex()}) for n in range(200)]
    sink.write(record for _, record in (plan.place("tool_result", b) for b in bodies) if record)
    head = (tmp_path / layout.shard_name(1)).read_bytes()
    assert zstandard.get_frame_parameters(head).window_size <= 1 << 20
    compressor = zstandard.ZstdCompressor(compression_params=compression_parameters())
    stream = compressor.compressobj()
    stream.compress(b"".join(bodies))
    stream.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    assert compressor.memory_size() < 2_500_000
    sink.seal()
    assert _frame(tmp_path / layout.shard_name(1))[1]
