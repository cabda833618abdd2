"""``reduce.incremental.Replay``: a replay fed a growing log's new lines gives, finalised, what a
whole lenient reduction of the same files gives, and stays fit to be fed on."""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as hs

from rollout_trace_sdk.model.state import state_bytes
from rollout_trace_sdk.reduce import ReduceError, reduce_bundle
from rollout_trace_sdk.reduce.incremental import LogRewritten, Replay

from ..conftest import CONFORMANCE, CONFORMANCE_V3, conformance_bundles, make_demo
from ..differential.codec_driver import write_bundle
from ..differential.script import Script, scripts

#: Generated bundles grown in random chunks (``INCREMENTAL_EXAMPLES`` runs more).
EXAMPLES = int(os.environ.get("INCREMENTAL_EXAMPLES", "10"))

#: Both Codex corpora's bundles, the refused ones too (none when ../shared is not there).
_CORPUS = [
    *conformance_bundles(CONFORMANCE),
    *conformance_bundles(CONFORMANCE_V3),
    *sorted(p.parent for p in CONFORMANCE.glob("_errors/*/*/trace.jsonl")),
    *sorted(p.parent for p in CONFORMANCE_V3.glob("_errors/*/*/trace.jsonl")),
]


def _whole(bundle: Path) -> tuple[bytes | None, list[str], str | None]:
    """A whole lenient reduction's state bytes and notes, or what it raised."""
    notes: list[str] = []
    try:
        return state_bytes(reduce_bundle(bundle, lenient=True, skipped=notes)), notes, None
    except ReduceError as exc:
        return None, [], str(exc)


def _fed(replay: Replay) -> tuple[bytes | None, list[str], str | None]:
    """The replay's finalised state bytes and notes, or what finalising raised."""
    try:
        with replay.finalised() as (trace, notes):
            return state_bytes(trace), list(notes), None
    except ReduceError as exc:
        return None, [], str(exc)


def _unfinalised(replay: Replay) -> tuple[object, ...]:
    """What finalising may change in a replay, read without finalising it: the trace as it
    stands (history lists, acceptance stamps, exec tools' cells, edges, flags), the pending
    edges, the items edges target, the notes."""
    context = replay.context
    return (
        state_bytes(context.trace),
        context.trace.recording_complete,
        context.trace.lenient_gaps,
        [attrs.asdict(pending) for pending in context.pending_edges],
        sorted(context.edge_target_items),
        list(replay.bundle.skipped),
    )


def _grown_line_by_line(bundle: Path, tmp_path: Path) -> int:
    """Feed one replay ``bundle``'s log as it stood after each of its lines (whole lines: a
    torn last line is left out, it waits for a newline that never comes); after each, the
    finalised replay equals a whole reduction of the copy. Returns the feeds that applied
    every line."""
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    lines = (bundle / "trace.jsonl").read_bytes().splitlines(keepends=True)
    lines = [line for line in lines if line.endswith(b"\n")]
    (copy / "trace.jsonl").write_bytes(b"")
    replay: Replay | None = None
    fed = 0
    for n in range(len(lines) + 1):
        (copy / "trace.jsonl").write_bytes(b"".join(lines[:n]))
        want = _whole(copy)
        try:
            replay = replay or Replay.open(copy)
            whole = replay.feed()
        except ReduceError as exc:  # refused as the whole reduction refuses it, and done
            assert want[2] == str(exc), n
            return fed
        if whole:
            fed += 1
            assert _fed(replay) == want, f"after line {n}"
    assert replay is not None
    replay.close()
    return fed


@pytest.mark.parametrize("bundle", _CORPUS, ids=lambda b: str(b).rsplit("shared/", 1)[-1])
def test_codex_bundles_fed_line_by_line_reduce_as_a_whole_reading(
    bundle: Path, tmp_path: Path
) -> None:
    """Every Codex bundle, the refused ones too: at each line, the same state, notes and
    error as a whole lenient reduction."""
    _grown_line_by_line(bundle, tmp_path)


@pytest.mark.parametrize("schema", ["2", "3"])
def test_recorded_bundles_fed_line_by_line_reduce_as_a_whole_reading(
    schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo (agents, compactions, terminals, code cells), recorded in each schema:
    every line applied at once (its payloads are there), each reading as a whole one."""
    monkeypatch.setenv("ROLLOUT_TRACE_SCHEMA", schema)
    bundle = make_demo(tmp_path / "traces", 1)
    lines = (bundle / "trace.jsonl").read_bytes().count(b"\n")
    assert _grown_line_by_line(bundle, tmp_path) == lines + 1


def test_a_line_whose_payload_is_not_stored_yet_waits_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line citing a payload file not there yet is not applied (a whole reading would pass
    over it with a note, and the kept replay would keep that gap): the feed stops before
    it, and applies it once the file is there."""
    monkeypatch.setenv("ROLLOUT_TRACE_SCHEMA", "2")
    bundle = make_demo(tmp_path / "traces", 1)
    payloads = sorted((bundle / "payloads").iterdir())
    kept = tmp_path / "kept"
    shutil.move(payloads[-1], kept)
    replay = Replay.open(bundle)
    assert replay.feed() is False and replay.held and replay.unread > 0
    before = replay.offset
    assert replay.feed() is False and replay.offset == before
    shutil.move(kept, payloads[-1])
    assert replay.feed() is True and not replay.held and replay.unread == 0
    assert _fed(replay) == _whole(bundle)


def test_shards_that_grow_are_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Schema 3: the shards grow with the log, in the order the writer wrote them (cut at a
    point of their compressed bytes at each line, a shard not begun yet absent); a
    reference to a record not written yet holds its line, and a record written since is
    read: at each feed that applied every line, and at the end, a whole reading's state."""
    monkeypatch.setenv("ROLLOUT_TRACE_SCHEMA", "3")
    bundle = make_demo(tmp_path / "traces", 1)
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    shards = sorted((bundle / "payloads").glob("*.zst"))
    for shard in shards:
        (copy / "payloads" / shard.name).unlink()
    datas = [shard.read_bytes() for shard in shards]
    total = sum(map(len, datas))
    lines = (bundle / "trace.jsonl").read_bytes().splitlines(keepends=True)
    replay = Replay.open(copy)
    held = fed = 0
    whole = False
    for n in range(1, len(lines) + 1):
        cut = total * n // len(lines)
        for shard, data in zip(shards, datas, strict=True):
            if cut > 0:
                (copy / "payloads" / shard.name).write_bytes(data[:cut])
            cut -= len(data)
        (copy / "trace.jsonl").write_bytes(b"".join(lines[:n]))
        whole = replay.feed()
        if whole:
            fed += 1
            assert _fed(replay) == _whole(copy), f"after line {n}"
        else:
            held += 1
    assert shards and whole and held and fed and replay.offset == sum(map(len, lines))
    replay.close()


def test_a_line_being_written_waits_for_its_newline(tmp_path: Path) -> None:
    """Half a line is not read; once its newline is there, it is."""
    bundle = make_demo(tmp_path / "traces", 1)
    log = (bundle / "trace.jsonl").read_bytes()
    lines = log.splitlines(keepends=True)
    (bundle / "trace.jsonl").write_bytes(b"".join(lines[:-1]) + lines[-1][:10])
    replay = Replay.open(bundle)
    assert replay.feed() is True and replay.unread == 10
    assert replay.cursor.completed is False
    (bundle / "trace.jsonl").write_bytes(log)
    assert replay.feed() is True and replay.unread == 0 and replay.cursor.completed
    assert _fed(replay) == _whole(bundle)


@pytest.mark.parametrize("how", ["shorter", "replaced", "changed", "manifest"])
def test_a_log_not_only_appended_to_is_refused(tmp_path: Path, how: str) -> None:
    """A log cut, replaced by another file, changed where it was read, or a manifest
    changed: :class:`LogRewritten` (the reader replays anew)."""
    bundle = make_demo(tmp_path / "traces", 1)
    log = bundle / "trace.jsonl"
    data = log.read_bytes()
    replay = Replay.open(bundle)
    replay.feed()
    if how == "shorter":
        log.write_bytes(data[: len(data) // 2])
    elif how == "replaced":  # the same lines and one more, in another file
        other = tmp_path / "other.jsonl"
        other.write_bytes(data + data.splitlines(keepends=True)[-1])
        other.replace(log)
    elif how == "changed":
        last = data.splitlines(keepends=True)[-1]
        log.write_bytes(data[: -len(last)] + last.replace(b'"seq"', b'"seq" ') + b"\n")
    else:
        manifest = bundle / "manifest.json"
        manifest.write_bytes(manifest.read_bytes() + b"\n")
    with pytest.raises(LogRewritten):
        replay.feed()
    replay.close()


def test_finalising_leaves_the_replay_as_it_was(tmp_path: Path) -> None:
    """Finalised twice with nothing fed between, the same state: what finalising changed
    (history lists, acceptance stamps, edges, the exec tools' cells) was undone."""
    bundle = make_demo(tmp_path / "traces", 1)
    replay = Replay.open(bundle)
    replay.feed()
    first = _fed(replay)
    assert first[0] is not None
    assert _fed(replay) == first == _whole(bundle)
    replay.close()


@pytest.mark.parametrize(
    "bundle", [*_CORPUS, "demo-2", "demo-3"], ids=lambda b: str(b).rsplit("shared/", 1)[-1]
)
def test_finalising_undoes_every_change_it_made(
    bundle: Path | str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After each line, finalised then left: the replay is as it was before, not only its
    finalised state. A history list, stamp, cell or flag finalising set and left would be in
    the next reading's trace wherever later lines make finalising set it otherwise (an end
    check's note a later reading no longer gives would leave ``lenient_gaps`` set); the
    line-by-line comparisons above miss that when the next finalising sets it the same way:
    without the undo of the exec tools' cells, of the acceptance stamps or of the flags they
    pass, this fails (review48)."""
    if isinstance(bundle, str):
        monkeypatch.setenv("ROLLOUT_TRACE_SCHEMA", bundle[-1])
        bundle = make_demo(tmp_path / "traces", 1)
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    lines = (bundle / "trace.jsonl").read_bytes().splitlines(keepends=True)
    (copy / "trace.jsonl").write_bytes(b"")
    try:
        replay = Replay.open(copy)
    except ReduceError:  # a manifest refused: nothing to finalise
        return
    try:
        for n in range(len(lines) + 1):
            (copy / "trace.jsonl").write_bytes(b"".join(lines[:n]))
            try:
                replay.feed()
            except ReduceError:
                return
            before = _unfinalised(replay)
            _fed(replay)
            assert _unfinalised(replay) == before, f"after line {n}"
    finally:
        replay.close()


def _cut_copy(copy: Path, log: bytes, offset: int, where: Path) -> Path:
    """``copy`` as it stands, its log cut to the first ``offset`` bytes, at ``where`` (its
    payloads hard links: the shards are written over in place, not replaced)."""
    shutil.rmtree(where, ignore_errors=True)
    shutil.copytree(copy, where, copy_function=os.link, ignore=shutil.ignore_patterns("*.jsonl"))
    (where / "trace.jsonl").write_bytes(log[:offset])
    return where


@seed(343901)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(scripts(), hs.sampled_from([(2, False), (3, False), (3, True)]), hs.randoms())
def test_generated_bundles_grown_in_random_chunks_reduce_as_a_whole_reading(
    script: Script, schema_capture: tuple[int, bool], rng: random.Random
) -> None:
    """Generated bundles (agents, compactions, terminals, code cells; schema 3 with cut and
    left-out payloads) written 1-400 bytes at a time (lines cut anywhere), the shards grown
    with the log and now and then ahead of it: each feed that applied every line, finalised
    at random, equals a whole lenient reduction of the whole lines fed (state, notes, error),
    and finalising it does not change what later feeds give (review48: 120 examples)."""
    schema, capture = schema_capture
    with tempfile.TemporaryDirectory() as tmp:
        source = write_bundle(script, Path(tmp) / "source", schema=schema, capture=capture)
        copy = Path(tmp) / "copy" / source.name
        shutil.copytree(source, copy)
        log = (source / "trace.jsonl").read_bytes()
        shards = sorted((source / "payloads").glob("*.zst"))
        datas = [shard.read_bytes() for shard in shards]
        for shard in shards:
            (copy / "payloads" / shard.name).unlink()
        total, stored = sum(map(len, datas)), 0
        (copy / "trace.jsonl").write_bytes(b"")
        replay = Replay.open(copy)
        written = 0
        try:
            while written < len(log):
                written = min(len(log), written + rng.randint(1, 400))
                share = written / len(log) * rng.uniform(0.9, 1.4)
                stored = max(stored, int(total * min(1.0, share)))
                left = stored
                for shard, data in zip(shards, datas, strict=True):
                    if left > 0:
                        (copy / "payloads" / shard.name).write_bytes(data[:left])
                    left -= len(data)
                (copy / "trace.jsonl").write_bytes(log[:written])
                try:
                    whole = replay.feed()
                except ReduceError as exc:  # refused as the whole reduction refuses it
                    cut = _cut_copy(copy, log, written, Path(tmp) / "cut" / source.name)
                    assert _whole(cut)[2] == str(exc).replace(str(copy), str(cut))
                    return
                if whole and rng.random() < 0.5:
                    cut = _cut_copy(copy, log, replay.offset, Path(tmp) / "cut" / source.name)
                    state, notes, error = _fed(replay)
                    shown = [note.replace(str(copy), str(cut)) for note in notes]
                    error = error and error.replace(str(copy), str(cut))
                    assert (state, shown, error) == _whole(cut), f"at byte {replay.offset}"
        finally:
            replay.close()
