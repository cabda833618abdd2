"""The bundle writer: layout, exact bytes, ordering under concurrency, flush, close and
cancellation. Budget and disk failures are in ``test_writer_limits.py``."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import anyio
import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rollout_trace_sdk.model import codec, event_tags
from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.record import RecorderWarning
from rollout_trace_sdk.record._budget import PROCESS
from rollout_trace_sdk.record._encode import LineEncoder, QueuedEvent, encode_line
from rollout_trace_sdk.record.writer import BundleCreateError, BundleWriter
from tests.codex_oracle import codex_reduce, needs_codex
from tests.conftest import conformance_bundles, needs_conformance

from .writer_support import (
    ROOT,
    TRACE_ID,
    TURN,
    make_writer,
    read_bundle,
    read_lines,
    write_end,
    write_inference,
    write_start,
)

pytestmark = pytest.mark.anyio


async def test_layout_and_permissions(tmp_path: Path) -> None:
    w = make_writer(tmp_path / "nested" / "root", started_at_unix_ms=1234)
    bundle = tmp_path / "nested" / "root" / f"trace-{TRACE_ID}-{ROOT}"
    assert w.bundle_dir == bundle
    async with anyio.create_task_group() as tg:
        await tg.start(w.run)
        await write_start(w)
        await w.aclose()
    assert sorted(p.name for p in bundle.iterdir()) == ["manifest.json", "payloads", "trace.jsonl"]
    # the bundle, its payload folder and the parents the writer had to create: 0700
    for d in (bundle, bundle / "payloads", tmp_path / "nested", tmp_path / "nested" / "root"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    files = [bundle / "manifest.json", bundle / "trace.jsonl", *(bundle / "payloads").iterdir()]
    assert len(files) == 3
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    expected = ev.Manifest(2, TRACE_ID, ROOT, ROOT, 1234)
    assert (bundle / "manifest.json").read_bytes() == codec.manifest_bytes(expected)
    assert codec.manifest_bytes(expected).startswith(b'{\n  "schema_version": 2,\n')


async def test_bytes_match_the_codec(tmp_path: Path) -> None:
    w = make_writer(tmp_path)
    value = {"é": ["ü", 1.5, None, {"k": True}], "big": 2**63 - 1, "text": "a\nb\u2028"}
    async with anyio.create_task_group() as tg:
        await tg.start(w.run)
        ref = w.payload_nowait("protocol_event", value)
        assert ref == ev.RawPayloadRef("raw_payload:1", "protocol_event", "payloads/1.json")
        w.event_nowait(ev.ProtocolEventObserved("warning", ref))
        w.event_nowait(ev.HistoryItemAccepted("msg_1"), thread_id=ROOT, codex_turn_id=TURN)
        w.event_nowait(ev.Other("k", "s", [ref], {"m": [1]}))
        await w.aclose()
    payload = (w.bundle_dir / "payloads" / "1.json").read_bytes()
    assert payload == codec.pretty_bytes(value)
    assert not payload.endswith(b"\n")
    lines = read_lines(w.bundle_dir)
    assert len(lines) == 4
    for line in lines:
        assert codec.event_line(codec.parse_event_line(line)) == line
    assert b'"agent_message_payload"' not in lines[1]
    assert orjson.loads(lines[-1])["payload"] == {"type": "recording_completed"}


_PAYLOADS = st.one_of(
    *(st.builds(cls) for cls in event_tags.EVENT_TYPES.values() if cls is not ev.Other),
    st.builds(
        ev.Other,
        metadata=st.recursive(st.none() | st.integers(-(2**63), 2**64 - 1) | st.text(), st.lists),
    ),
)
_IDS = st.sampled_from([None, ROOT, TURN, 'é"\n\u2028']) | st.text(max_size=5)


@settings(max_examples=300, deadline=None)
@given(
    rollout_id=st.text(max_size=8),
    events=st.lists(
        st.tuples(
            st.integers(1, 2**64 - 1),
            st.integers(0, 2**63 - 1),
            _IDS,
            _IDS,
            _PAYLOADS,
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_fast_encoder_matches_the_codec(rollout_id: str, events: list[QueuedEvent]) -> None:
    """Every variant, odd ids, the per-(thread, turn) fragment cache reused across lines."""
    try:
        expected = b"".join(
            codec.event_line(ev.TraceEvent(2, seq, wall, rollout_id, thread, turn, payload))
            for seq, wall, thread, turn, payload in events
        )
    except TypeError:  # an integer JSON cannot hold: the lenient path, tested on its own
        assume(False)
    encoder = LineEncoder(rollout_id)
    buf = bytearray()
    assert encoder.encode_into(buf, events) == len(events)
    assert bytes(buf) == expected


@needs_conformance
def test_fast_encoder_matches_every_corpus_line() -> None:
    checked = 0
    for bundle in conformance_bundles():
        for line in (bundle / "trace.jsonl").read_bytes().splitlines(keepends=True):
            e = codec.parse_event_line(line)
            item = (e.seq, e.wall_time_unix_ms, e.thread_id, e.codex_turn_id, e.payload)
            assert encode_line(e.rollout_id, item) == line
            checked += 1
    assert checked > 1000


async def test_values_json_cannot_hold_never_break_the_writer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    w = make_writer(tmp_path)
    # the writer's thread warns when it writes the object as its text: wait for it
    with pytest.warns(RecorderWarning, match="values of another type than the trace holds"):
        # a mutable payload is serialised at call time: its big integer keeps its digits
        assert w.event_nowait(ev.Other("k", "s", [], {"n": 2**70})) is True
        # a frozen one is encoded later, after its seq was taken: written leniently
        assert w.event_nowait(ev.ThreadResumed(object())) is True  # type: ignore[arg-type]
        assert w.event_nowait(ev.ThreadResumed("fine")) is True
        await w.aclose()
    events = read_bundle(w.bundle_dir)
    assert [type(e.payload) for e in events] == [
        ev.Other,
        ev.ThreadResumed,
        ev.ThreadResumed,
        ev.ProtocolEventObserved,  # the report: one object recorded as its text
        ev.RecordingCompleted,
    ]
    resumed = events[1].payload
    assert isinstance(resumed, ev.ThreadResumed)
    assert resumed.thread_id.startswith("<object object at ")
    assert w.stats.events_dropped == 0
    assert w.stats.approximated == {"mistyped": 1}


async def test_mutable_payload_objects_are_snapshotted(tmp_path: Path) -> None:
    w = make_writer(tmp_path)
    metadata: dict[str, list[int]] = {"m": [1]}
    value = {"messages": ["a"]}
    w.event_nowait(ev.Other("k", "s", [], metadata))
    w.payload_nowait("inference_request", value)
    metadata["m"].append(2)
    value["messages"].append("b")
    await w.aclose()
    assert orjson.loads(read_lines(w.bundle_dir)[0])["payload"]["metadata"] == {"m": [1]}
    assert orjson.loads((w.bundle_dir / "payloads/1.json").read_bytes()) == {"messages": ["a"]}


async def test_many_concurrent_tasks_keep_order_and_lose_nothing(tmp_path: Path) -> None:
    w = make_writer(tmp_path)
    expected: dict[str, object] = {}

    async def producer(i: int) -> None:
        for j in range(10):
            value = {"task": i, "step": j, "pad": "x" * (i * 37 % 900)}
            ref = (
                await w.payload("tool_result", value)
                if j % 2
                else w.payload_nowait("tool_result", value)
            )
            assert ref is not None
            expected[ref.path] = value
            payload = ev.ToolCallEnded(f"call-{i}-{j}", "completed", ref)
            if j % 3:
                assert await w.event(payload, thread_id=ROOT, codex_turn_id=TURN)
            else:
                assert w.event_nowait(payload, thread_id=ROOT, codex_turn_id=TURN)
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        await tg.start(w.run)
        async with anyio.create_task_group() as producers:
            for i in range(200):
                producers.start_soon(producer, i)
        await w.aclose()
    events = read_bundle(w.bundle_dir)
    assert len(events) == 2001
    assert isinstance(events[-1].payload, ev.RecordingCompleted)
    seen = {}
    for e in events[:-1]:
        assert isinstance(e.payload, ev.ToolCallEnded)
        ref = e.payload.result_payload
        assert ref is not None
        seen[ref.path] = orjson.loads((w.bundle_dir / ref.path).read_bytes())
    assert seen == expected
    assert len(list((w.bundle_dir / "payloads").iterdir())) == 2000
    s = w.stats
    assert (s.events_written, s.payloads_written) == (2001, 2000)
    assert (s.events_dropped, s.payloads_dropped, s.bytes_dropped, s.queued_bytes) == (0, 0, 0, 0)
    assert s.failed is None and s.closed


async def test_flush_puts_everything_on_disk(tmp_path: Path) -> None:
    w = make_writer(tmp_path)
    async with anyio.create_task_group() as tg:
        await tg.start(w.run)
        for i in range(1000):
            w.event_nowait(ev.ThreadResumed(f"t{i}"))
        await w.flush()
        assert len(read_lines(w.bundle_dir)) == 1000
        assert w.stats.events_written == 1000
        await w.aclose()


async def test_flush_returns_while_others_keep_recording(tmp_path: Path) -> None:
    """A flush waits for what was queued before it, not for a producer that never stops."""
    w = make_writer(tmp_path, max_queued_bytes=1 << 20)
    stop = False

    async def chatter() -> None:
        n = 0
        while not stop:
            # the waiting call: a producer faster than the disk must not fill the budget and
            # make the nowait records below drop
            await w.event(ev.ThreadResumed(f"c{n}"))
            n += 1
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        await tg.start(w.run)
        tg.start_soon(chatter)
        for i in range(1, 21):
            assert await w.event(ev.ThreadResumed("mine"))
            with anyio.fail_after(10):
                await w.flush()
            on_disk = (w.bundle_dir / "trace.jsonl").read_bytes()
            assert on_disk.count(b'"thread_id":"mine"') == i
        stop = True
        await w.aclose()
    assert read_bundle(w.bundle_dir)[-1].payload == ev.RecordingCompleted()


async def test_flush_and_close_work_without_a_writer_task(tmp_path: Path) -> None:
    w = make_writer(tmp_path)
    await write_start(w)
    await w.flush()
    assert len(read_lines(w.bundle_dir)) == 3
    await write_end(w)
    await w.aclose()
    events = read_bundle(w.bundle_dir)
    assert len(events) == 7 and isinstance(events[-1].payload, ev.RecordingCompleted)
    await w.aclose()  # closing twice is harmless
    await w.flush()


def _record_from_sync_code(w: BundleWriter, n: int) -> list[bool]:
    return [w.event_nowait(ev.ThreadResumed(f"sync-{i}")) for i in range(n)]


async def test_nowait_calls_from_sync_code_in_the_loop_thread(tmp_path: Path) -> None:
    w = make_writer(tmp_path)
    async with anyio.create_task_group() as tg:
        await tg.start(w.run)
        assert all(_record_from_sync_code(w, 50))
        # the writer task picks them up without a flush (polled: a loaded machine is slow)
        with anyio.move_on_after(30):
            while len(read_lines(w.bundle_dir)) < 50:
                await anyio.sleep(0.01)
        assert len(read_lines(w.bundle_dir)) == 50
        await w.aclose()


async def test_what_other_threads_record_is_charged_to_the_queue_until_written(
    tmp_path: Path,
) -> None:
    """Events and payloads recorded from another OS thread go through an inbox, then into the
    queue: their bytes are charged there (``max_queued_bytes`` holds them, the writer hurries)
    and discharged once written. Not charging them passed every test (mutation audit), and
    ``queued_bytes`` went negative once they were written."""
    w = make_writer(tmp_path)

    def record() -> None:
        for i in range(20):
            ref = w.payload_nowait("tool_result", {"n": i, "pad": "x" * 500})
            assert ref is not None
            assert w.event_nowait(ev.ToolCallEnded(f"c{i}", "completed", ref))

    await anyio.to_thread.run_sync(record)  # before the writer runs: nothing written yet
    w._take_inbox()  # as the loop's poke does: the inbox into the queue
    assert w.stats.queued_bytes > 20 * 500
    async with anyio.create_task_group() as tg:
        await tg.start(w.run)
        await w.flush()
        assert w.stats.queued_bytes == 0
        await w.aclose()
    assert len(read_lines(w.bundle_dir)) == 21  # and recording_completed


async def test_calls_after_close_are_dropped_and_counted(tmp_path: Path) -> None:
    w = make_writer(tmp_path)
    await w.aclose()
    assert w.event_nowait(ev.ThreadResumed("late")) is False
    assert w.payload_nowait("tool_result", {"late": True}) is None
    assert await w.event(ev.ThreadResumed("late")) is False
    s = w.stats
    assert (s.events_dropped, s.payloads_dropped) == (2, 1)
    assert [orjson.loads(x)["seq"] for x in read_lines(w.bundle_dir)] == [1]


def test_never_reuses_an_existing_bundle(tmp_path: Path) -> None:
    first = make_writer(tmp_path)
    before = (first.bundle_dir / "manifest.json").read_bytes()
    with pytest.raises(BundleCreateError) as err:
        make_writer(tmp_path, started_at_unix_ms=1)
    assert isinstance(err.value, OSError)
    assert str(first.bundle_dir) in str(err.value)
    assert (first.bundle_dir / "manifest.json").read_bytes() == before


def test_a_root_through_a_link_and_dot_dot_is_the_folder_it_names(tmp_path: Path) -> None:
    """``link/../traces`` is the folder beside the link's target, as ``open`` reads it: the
    bundle is made there (its parents' path normalised as text made ``./traces`` and the
    bundle then failed, FileNotFoundError, between c521acc and review41)."""
    (tmp_path / "real" / "deep").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "real" / "deep")
    writer = make_writer(tmp_path / "link" / ".." / "traces")
    assert writer.bundle_dir.is_dir() and (tmp_path / "real" / "traces").is_dir()
    assert not (tmp_path / "traces").exists()


@pytest.mark.parametrize("bad", ["", "..", "a/b"])
def test_ids_that_cannot_name_a_directory_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(BundleCreateError):
        BundleWriter.create(tmp_path, trace_id=bad, root_thread_id=ROOT)


async def test_cancelled_task_group_still_leaves_a_complete_bundle(tmp_path: Path) -> None:
    w = make_writer(tmp_path)
    produced = 0

    async def producer() -> None:
        nonlocal produced
        while True:
            await write_inference(w, produced)
            produced += 1
            await anyio.sleep(0)

    with anyio.CancelScope() as outer:
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(w.run)
                await write_start(w)
                tg.start_soon(producer)
                await anyio.sleep(0.05)
                outer.cancel()
                await anyio.sleep_forever()
        finally:
            # the recorder's cleanup, still inside the cancelled scope
            await write_end(w)
            await w.aclose()
    assert outer.cancelled_caught
    events = read_bundle(w.bundle_dir)
    assert produced > 0
    assert isinstance(events[-1].payload, ev.RecordingCompleted)
    assert isinstance(events[-2].payload, ev.RolloutEnded)
    assert w.stats.events_dropped == 0


async def test_cancelled_writer_task_loses_nothing(tmp_path: Path) -> None:
    w = make_writer(tmp_path)
    async with anyio.create_task_group() as tg:
        await tg.start(w.run)
        for i in range(3000):
            w.event_nowait(ev.ThreadResumed(f"t{i}"))
        await anyio.lowlevel.checkpoint()
        tg.cancel_scope.cancel()
    await w.aclose()
    events = read_bundle(w.bundle_dir)
    assert len(events) == 3001


@needs_codex
async def test_codex_reduces_a_written_rollout(tmp_path: Path) -> None:
    w = make_writer(tmp_path)
    async with anyio.create_task_group() as tg:
        await tg.start(w.run)
        await write_start(w)
        for n in range(3):
            await write_inference(w, n)
        await write_end(w)
        await w.aclose()
    read_bundle(w.bundle_dir)
    ok, stderr, state = codex_reduce(w.bundle_dir)
    assert ok, stderr
    assert state is not None
    assert state["status"] == "completed" and state["recording_complete"] is True
    assert len(state["inference_calls"]) == 3
    assert len(state["raw_payloads"]) == 7
    assert not os.path.exists(w.bundle_dir / "state.json")


_BODIES: dict[int, bytes] = {}


def _body(size: int) -> bytes:
    return _BODIES.setdefault(size, b'"' + b"x" * max(0, size - 2) + b'"')


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(0, 3_000),  # a payload of this many bytes
            st.integers(1 << 20, 3 << 20),  # a large one: 8 MiB ends a chunk early
            st.none(),  # an event
        ),
        max_size=60,
    ),
    st.integers(0, 9_000),
    st.sampled_from([2, 3]),
)
def test_a_chunk_taken_in_bulk_is_the_chunk_taken_item_by_item(
    tmp_path_factory: pytest.TempPathFactory, shapes: list[int | None], small: int, schema: int
) -> None:
    """The writer takes a chunk's items in bulk unless their payloads reach the chunk's byte
    size; either way a chunk ends where the item-by-item rule ends it (4,096 items, or the
    payload that brings it to 8 MiB), with the same items and the same charges released."""
    reserved = PROCESS.reserved
    writers = [
        make_writer(
            tmp_path_factory.mktemp("bulk"), schema_version=schema, max_queued_bytes=1 << 40
        )
        for _ in range(2)
    ]
    try:
        for writer in writers:
            ref = writer.payload_nowait("protocol_event", {"a": 1})
            assert ref is not None
            # many small events first, so that chunks end at the item count too
            for _ in range(small):
                writer.event_nowait(ev.ProtocolEventObserved("x", ref))
            for shape in shapes:
                if shape is None:
                    writer.event_nowait(ev.ProtocolEventObserved("y", ref))
                else:
                    writer.payload_nowait("protocol_event", orjson.Fragment(_body(shape)))
        bulk, counted = writers
        while bulk._queue or counted._queue:
            (payloads, events), (payloads2, events2) = bulk._take_chunk(), counted._take_counted()
            # a long body is a LazyBody (equal by identity): its place and length tell it
            assert [(where, len(data)) for where, data in payloads] == [
                (where, len(data)) for where, data in payloads2
            ]
            # (the wall times are each writer's own)
            assert [e[:1] + e[2:] for e in events] == [e[:1] + e[2:] for e in events2]
            assert (bulk._queued, bulk._done) == (counted._queued, counted._done)
    finally:
        for writer in writers:
            # what the queues reserved of the process's budget goes back (no writer task
            # writes, and they are never closed): left, it crowded the rollouts of every
            # later test in the process (review22: 236 MB, test_budget then failed)
            writer._give_back()
            PROCESS.shrink(writer, 0)
            writer._close_log()
    assert PROCESS.reserved == reserved


@pytest.mark.parametrize("flushed", [False, True])
async def test_an_agent_that_never_awaits_gives_the_writer_task_its_turns(
    tmp_path: Path, flushed: bool
) -> None:
    """An agent whose only awaits are the handles' ``async with`` gives the writer task a
    turn once a batch is waiting (``turn_wanted``). Right after ``open_rollout`` (the task
    started, not yet run) and after a ``flush`` (which woke the sleeping task by writing
    what it waited for) nothing asked for that turn: the task took nothing until half the
    byte budget made the agent wait for it (7.8 MB queued here)."""
    from rollout_trace_sdk.record import open_rollout

    async with open_rollout(tmp_path) as rollout:
        writer = rollout._writer
        turn = rollout.root.turn()
        if flushed:
            await rollout.flush()
        taken = writer._done
        calls = 0
        while writer._done == taken and calls < 3_000:
            async with turn.tool_call(f"c{calls}", "exec_command", arguments={"cmd": "ls"}):
                pass
            calls += 1
        queued, took = writer.queued_bytes, writer._done > taken
        turn.end()
    assert took, f"{queued} bytes queued after {calls} calls, none taken by the writer"
    assert queued < writer.max_queued_bytes // 4


async def test_a_flush_with_nothing_to_write_is_still_a_checkpoint(tmp_path: Path) -> None:
    """The drain takes a free lock without a trip through the scheduler (for an agent that
    never awaits); the flush itself still checkpoints, as anyio's calls do: cancelled, it
    raises, and a loop of flushes lets the other tasks run (found by review29)."""
    from rollout_trace_sdk.record import open_rollout

    async with open_rollout(tmp_path) as rollout:
        await rollout.flush()
        with anyio.CancelScope() as scope:
            scope.cancel()
            await rollout.flush()
        assert scope.cancelled_caught
        ran = []

        async def other() -> None:
            ran.append(True)

        async with anyio.create_task_group() as tg:
            tg.start_soon(other)
            for _ in range(1_000):
                if ran:
                    break
                await rollout.flush()
            assert ran


def test_a_writer_that_fails_after_its_folder_was_made_leaves_no_folder(tmp_path: Path) -> None:
    """``create`` made the folder, manifest and empty log, then the writer's own setup
    raised (here: payload limits asked of schema 2; in review scale33, trio half imported by
    another thread): the folder stayed, an empty log that ``validate`` called damaged and
    ``ls`` listed, and the log's descriptor stayed open for the process's life. Nothing is
    left now, and the descriptor is closed."""
    from rollout_trace_sdk.record._shard_plan import CaptureLimits

    fds = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        with pytest.raises(ValueError, match="schema 3"):
            BundleWriter.create(
                tmp_path,
                trace_id="t",
                root_thread_id="r",
                schema_version=ev.SCHEMA_VERSION,
                limits=CaptureLimits(max_payload_bytes=100),
            )
    assert list(tmp_path.iterdir()) == []
    assert len(os.listdir("/proc/self/fd")) <= fds
