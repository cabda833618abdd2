"""The bundle writer under pressure: a full memory budget and a failing disk. Whatever happens,
nothing raises into the caller, losses are counted and said in the bundle, and the log keeps
seq 1..N without a gap or a dangling payload reference."""

from __future__ import annotations

import errno
import gc
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import anyio
import pytest

from rollout_trace_sdk.model import codec
from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.record import RecorderWarning, _files, open_rollout
from rollout_trace_sdk.record._encode import LineEncoder
from rollout_trace_sdk.record.writer import BundleCreateError, BundleWriter
from tests.codex_oracle import codex_bin, codex_reduce

from .recorder_support import (
    bundle_in,
    check_bundle,
    events,
    payload,
    recorded_whole,
    types,
)
from .recorder_support import loss_report as loss_report_of
from .writer_support import (
    loss_reports,
    make_writer,
    read_bundle,
    read_lines,
    write_end,
    write_inference,
    write_start,
)

pytestmark = pytest.mark.anyio

BIG = "x" * 2000


def _assert_codex_reduces(bundle: Path) -> None:
    if codex_bin() is not None:
        ok, stderr, state = codex_reduce(bundle)
        assert ok, stderr
        assert state is not None and state["recording_complete"] is True


async def _many_inferences(w: BundleWriter, tasks: int, calls: int) -> None:
    async def worker(t: int) -> None:
        for c in range(calls):
            await write_inference(w, t * 1000 + c, text=BIG)
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        for t in range(tasks):
            tg.start_soon(worker, t)


async def _flushed_one_by_one(tmp_path: Path) -> BundleWriter:
    """A writer's whole run: its start, ten inferences each flushed as it is recorded (a
    disk failure meets a write at a known count), its end, its close."""
    w = make_writer(tmp_path)
    async with anyio.create_task_group() as tg:
        await tg.start(w.run)
        await write_start(w)
        for n in range(10):
            await write_inference(w, n)
            await w.flush()
        await write_end(w)
        await w.aclose()
    return w


def _queued_bytes(rollout: Any) -> int:
    stats = rollout.stats
    assert stats is not None
    return int(stats.queued_bytes)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "rollout_trace_sdk" and r.levelno == logging.WARNING
    ]


# --- memory budget -------------------------------------------------------------------------


async def test_wait_policy_loses_nothing_and_respects_the_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = 8 * 1024
    w = make_writer(tmp_path, max_queued_bytes=budget)
    peak = 0
    original = BundleWriter._put_payload

    def watched(self: BundleWriter, kind: Any, data: bytes) -> Any:
        nonlocal peak
        ref = original(self, kind, data)
        peak = max(peak, self.queued_bytes)
        return ref

    monkeypatch.setattr(BundleWriter, "_put_payload", watched)
    async with anyio.create_task_group() as tg:
        await tg.start(w.run)
        await write_start(w)
        await _many_inferences(w, tasks=20, calls=5)
        await write_end(w)
        await w.aclose()
    assert budget // 2 < peak <= budget  # the budget was reached, never exceeded
    events = read_bundle(w.bundle_dir)
    assert len(events) == 3 + 20 * 5 * 2 + 3 + 1
    s = w.stats
    assert (s.events_dropped, s.payloads_dropped, s.bytes_dropped) == (0, 0, 0)
    assert loss_reports(w.bundle_dir, events) == []
    _assert_codex_reduces(w.bundle_dir)


@pytest.mark.parametrize("schema", [2, 3])
async def test_the_queue_holds_what_its_budget_counts(tmp_path: Path, schema: int) -> None:
    """The budget bounds memory only if a queued record costs about what it is charged.
    orjson (3.12 and later) returns its text in a buffer of at least 4 KB (8 to 16 times the
    text past that): queued as it was, a tool call's 1.7 KB of records held 22 KB. Tool
    calls recorded without a checkpoint (the writer cannot drain) show what the queue holds."""
    arguments = {"cmd": "ls -la /srv/app", "workdir": "/srv/app", "timeout_ms": 10_000}
    n = 1500
    outputs = [
        {"type": "function_call_output", "call_id": f"call_{i}", "output": f"{i} " + "x" * 200}
        for i in range(n)
    ]
    async with (
        open_rollout(tmp_path, schema_version=schema, redact=False) as rollout,
        rollout.root.turn() as turn,
    ):
        await rollout.flush()
        gc.collect()
        tracemalloc.start()
        try:
            start, charged = tracemalloc.get_traced_memory()[0], _queued_bytes(rollout)
            for i, output in enumerate(outputs):
                async with turn.tool_call(f"call_{i}", "exec_command", arguments=arguments) as tool:
                    tool.completed(output)
            gc.collect()
            queued = tracemalloc.get_traced_memory()[0] - start
            charged = _queued_bytes(rollout) - charged
            await rollout.flush()
            gc.collect()
            kept = tracemalloc.get_traced_memory()[0] - start  # the ids and indexes it keeps
        finally:
            tracemalloc.stop()
    held = queued - kept
    assert charged > 1000 * n  # nothing was written yet
    assert held <= 2 * charged, f"{held / n:.0f} bytes held a call, {charged / n:.0f} charged"


async def test_an_item_larger_than_the_budget_still_goes_through_alone(tmp_path: Path) -> None:
    w = make_writer(tmp_path, max_queued_bytes=100)
    async with anyio.create_task_group() as tg:
        await tg.start(w.run)
        assert await w.payload("tool_result", {"big": BIG}) is not None
        assert await w.payload("tool_result", {"big": BIG}) is not None
        await w.aclose()
    assert w.stats.payloads_written == 2 and w.stats.payloads_dropped == 0


@pytest.mark.parametrize("overflow", ["drop", "wait"])
async def test_full_budget_drops_are_counted_and_reported(
    tmp_path: Path, overflow: str, caplog: pytest.LogCaptureFixture
) -> None:
    """``overflow="drop"`` drops in every call; with ``"wait"`` only the nowait calls drop."""
    w = make_writer(tmp_path, max_queued_bytes=4 * 1024, overflow=overflow)
    refs: list[ev.RawPayloadRef | None] = []
    async with anyio.create_task_group() as tg:
        await tg.start(w.run)
        await write_start(w)
        for _ in range(50):  # no checkpoint in between: the writer cannot keep up
            ref = w.payload_nowait("protocol_event", {"type": "warning", "message": BIG})
            refs.append(ref)
            if ref is not None:
                w.event_nowait(ev.ProtocolEventObserved("warning", ref))
        await write_end(w)
        await w.aclose()
    assert None in refs and refs[0] is not None
    s = w.stats
    assert s.payloads_dropped == refs.count(None)
    assert s.bytes_dropped == refs.count(None) * len(
        codec.pretty_bytes({"type": "warning", "message": BIG})
    )
    events = read_bundle(w.bundle_dir)
    reports = loss_reports(w.bundle_dir, events)
    assert reports[-1].startswith(
        f"rollout_trace_sdk: dropped {s.events_dropped} events and {s.payloads_dropped} "
        f"payloads ({s.bytes_dropped} bytes)"
    )
    assert isinstance(events[-1].payload, ev.RecordingCompleted)
    last_warning = events[-2].payload
    assert isinstance(last_warning, ev.ProtocolEventObserved)
    assert last_warning.event_type == "warning"
    assert len(_warnings(caplog)) == 1


async def test_drops_of_calls_from_other_threads_are_counted_in_bytes(tmp_path: Path) -> None:
    """A payload another OS thread records into a full budget is dropped and counted with
    its own bytes (not the queue's per-record overhead), and the loss report says who found
    the budget full. No test recorded from another thread into a full budget, mut30."""
    import anyio.to_thread

    w = make_writer(tmp_path, max_queued_bytes=4 * 1024)
    value = {"type": "warning", "message": BIG}

    def record() -> list[ev.RawPayloadRef | None]:
        return [w.payload_nowait("protocol_event", value) for _ in range(50)]

    async with anyio.create_task_group() as tg:
        await tg.start(w.run)
        await write_start(w)
        refs = await anyio.to_thread.run_sync(record)
        await write_end(w)
        await w.aclose()
    dropped = refs.count(None)
    size = dropped * len(codec.pretty_bytes(value))
    s = w.stats
    assert dropped > 0 and (s.payloads_dropped, s.bytes_dropped) == (dropped, size)
    report = loss_reports(w.bundle_dir, read_bundle(w.bundle_dir))[-1]
    assert f"and {dropped} payloads ({size} bytes)" in report
    assert "calls from other threads found the budget full" in report
    _assert_codex_reduces(w.bundle_dir)


async def test_events_from_other_threads_dropped_are_reported_as_theirs(tmp_path: Path) -> None:
    """Events (no payload) another OS thread records into a full budget are dropped, counted,
    and the loss report says calls from other threads found the budget full. Only payloads
    were tried: giving the reason for dropped payloads alone passed every limits test
    (mut33). The writer's task is not running, so nothing drains the inbox meanwhile."""
    import anyio.to_thread

    w = make_writer(tmp_path, max_queued_bytes=1024, overflow="drop")

    def record() -> list[bool]:
        return [w.event_nowait(ev.ThreadResumed(f"t{i}")) for i in range(40)]

    results = await anyio.to_thread.run_sync(record)
    await w.aclose()
    dropped = results.count(False)
    assert 0 < dropped < 40 and w.stats.events_dropped == dropped
    report = loss_reports(w.bundle_dir, read_bundle(w.bundle_dir))[-1]
    assert f"{dropped} events and 0 payloads (0 bytes)" in report
    assert "calls from other threads found the budget full" in report


async def test_one_dropped_event_is_said_in_the_singular(tmp_path: Path) -> None:
    """The loss report said "dropped 1 events and 0 payloads" (fix47): one of each is said
    in the singular, as the redaction report says "1 secret". Four events fill the budget."""
    w = make_writer(tmp_path, max_queued_bytes=1024, overflow="drop")
    results = [w.event_nowait(ev.ThreadResumed(f"t{i}")) for i in range(5)]
    await w.aclose()
    assert results == [True] * 4 + [False]
    (report,) = loss_reports(w.bundle_dir, read_bundle(w.bundle_dir))
    assert report.startswith("rollout_trace_sdk: dropped 1 event and 0 payloads (0 bytes) while")


async def test_the_loss_report_is_whole_under_a_small_max_payload_bytes(tmp_path: Path) -> None:
    """A schema-3 rollout with ``max_payload_bytes`` smaller than its loss report: the report
    was cut to that many bytes like any payload, so nothing could read it and the bundle
    read as not lossy (user50: ``ls`` said ``lossy: false`` of 397 bundles whose rollouts
    dropped records under ``set_process_budget``)."""
    async with (
        open_rollout(
            tmp_path, schema_version=3, max_payload_bytes=64, max_queued_bytes=4096, overflow="drop"
        ) as rollout,
        rollout.root.turn() as turn,
    ):
        for i in range(50):
            turn.accept({"role": "user", "content": f"message {i} " + BIG})
    report = json.loads(loss_report_of(bundle_in(tmp_path)) or "null")
    assert report is not None, "no whole loss report in the bundle"
    assert report["message"].startswith("rollout_trace_sdk: dropped ")
    assert "memory budget was full" in report["message"]


async def test_dropped_events_take_no_seq(tmp_path: Path) -> None:
    w = make_writer(tmp_path, max_queued_bytes=1024, overflow="drop")
    results = [w.event_nowait(ev.ThreadResumed(f"t{i}")) for i in range(20)]
    assert results[:4] == [True] * 4 and not all(results)
    assert await w.event(ev.ThreadResumed("late")) is False
    await w.flush()
    assert await w.event(ev.ThreadResumed("after-flush")) is True
    await w.aclose()
    events = read_bundle(w.bundle_dir)  # checks seq 1..N
    kept = [e.payload.thread_id for e in events if isinstance(e.payload, ev.ThreadResumed)]
    assert kept == [f"t{i}" for i, ok in enumerate(results) if ok] + ["after-flush"]
    assert w.stats.events_dropped == results.count(False) + 1


async def test_unserialisable_payload_is_recorded_approximately_not_raised(
    tmp_path: Path,
) -> None:
    w = make_writer(tmp_path)
    with pytest.warns(RecorderWarning):
        assert w.payload_nowait("tool_result", {"x": object()}) is not None
        assert await w.payload("tool_result", {1: "non-string key"}) is not None
    assert w.payload_nowait("tool_result", {"fine": 1}) is not None
    await w.aclose()
    assert w.stats.payloads_dropped == 0
    assert w.stats.approximated == {"object": 1, "key": 1}
    [report] = loss_reports(w.bundle_dir, read_bundle(w.bundle_dir))
    assert "recorded approximately: 1 non-string keys" in report


# --- disk failures -------------------------------------------------------------------------


def _failing(real: Any, *, after: int, times: int, code: int) -> Any:
    """Wrap a file function: calls number ``after`` .. ``after + times - 1`` raise."""
    calls = 0

    def wrapper(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if after <= calls < after + times:
            raise OSError(code, os.strerror(code))
        return real(*args)

    return wrapper


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
async def test_transient_failure_is_retried_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, code: int
) -> None:
    """A transient failure (two failed attempts) is retried: the writer goes on, nothing is
    lost, no loss report is needed."""
    real_payload, real_lines = _files.write_payload_file, _files.append_lines
    monkeypatch.setattr(
        _files, "write_payload_file", _failing(real_payload, after=4, times=2, code=code)
    )
    monkeypatch.setattr(_files, "append_lines", _failing(real_lines, after=3, times=2, code=code))
    w = await _flushed_one_by_one(tmp_path)
    s = w.stats
    assert s.failed is None and not s.lost_anything
    events = read_bundle(w.bundle_dir)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert loss_reports(w.bundle_dir, events) == []
    assert isinstance(events[-1].payload, ev.RecordingCompleted)
    assert _warnings(caplog) == []
    _assert_codex_reduces(w.bundle_dir)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
async def test_payload_write_failure_is_contained_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, code: int
) -> None:
    """A failure that outlasts the retries: recording stops, and the close still records
    the loss (the disk recovered by then)."""
    real = _files.write_payload_file
    monkeypatch.setattr(_files, "write_payload_file", _failing(real, after=4, times=4, code=code))
    w = await _flushed_one_by_one(tmp_path)
    s = w.stats
    assert isinstance(s.failed, OSError) and s.failed.errno == code
    assert s.payloads_written == 4  # metadata, req 1, resp 1, then the report
    assert s.events_dropped > 0 and s.payloads_dropped > 0
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and os.strerror(code) in warnings[0]
    events = read_bundle(w.bundle_dir)
    [report] = loss_reports(w.bundle_dir, events)
    assert os.strerror(code) in report
    assert isinstance(events[-1].payload, ev.RecordingCompleted)
    _assert_codex_reduces(w.bundle_dir)


async def test_torn_line_is_cut_and_the_log_stays_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = _files.append_lines
    calls = 0

    def half_then_full(fd: int, data: bytes) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            written = real(fd, data[: len(data) // 2 + 1])
            exc = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            exc.written = written  # type: ignore[attr-defined]
            raise exc
        return real(fd, data)

    monkeypatch.setattr(_files, "append_lines", half_then_full)
    w = make_writer(tmp_path)
    await write_start(w)
    await w.flush()
    for n in range(5):
        await write_inference(w, n)
    await write_end(w)
    await w.aclose()
    events = read_bundle(w.bundle_dir)  # no torn line, no gap: the rest was retried
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert isinstance(events[-1].payload, ev.RecordingCompleted)
    assert w.stats.events_written == len(events)
    assert w.stats.events_dropped == 0
    assert loss_reports(w.bundle_dir, events) == []
    assert _warnings(caplog) == []
    _assert_codex_reduces(w.bundle_dir)


async def test_persistent_failure_never_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The disk stays broken: the log holds whole lines only and the stats tell the loss."""
    real = _files.append_lines
    monkeypatch.setattr(
        _files, "append_lines", _failing(real, after=2, times=10**9, code=errno.EIO)
    )
    w = make_writer(tmp_path)
    async with anyio.create_task_group() as tg:
        await tg.start(w.run)
        await write_start(w)
        await w.flush()
        for n in range(5):
            await write_inference(w, n)
        await w.flush()
        assert w.event_nowait(ev.ThreadResumed("after-failure")) is False
        await write_end(w)
        await w.aclose()
    lines = read_lines(w.bundle_dir)
    assert len(lines) == 3
    s = w.stats
    assert s.events_written == 3 and s.events_dropped >= 5 * 2 + 3 + 1
    assert s.closed and isinstance(s.failed, OSError)
    assert len(_warnings(caplog)) == 1


async def test_permanent_payload_failure_leaves_the_bundle_unclosed_not_silent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Payload files can no longer be written, the log still can: the loss report (a
    payload) cannot go in, so ``recording_completed`` does not either. Closed, the bundle
    read whole and said nothing of what it lost (this test's old name: "still closes the
    log"); unclosed, every reader says it stopped. Its lines stay whole and gapless, and both
    reducers read it."""
    real = _files.write_payload_file
    monkeypatch.setattr(
        _files, "write_payload_file", _failing(real, after=3, times=10**9, code=errno.EIO)
    )
    w = make_writer(tmp_path)
    await write_start(w)
    await w.flush()
    for n in range(3):
        await write_inference(w, n)
    await write_end(w)
    await w.aclose()
    s = w.stats
    assert isinstance(s.failed, OSError) and s.lost_anything
    events = read_bundle(w.bundle_dir)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert not any(isinstance(e.payload, ev.RecordingCompleted) for e in events)
    assert len(_warnings(caplog)) == 1
    assert check_bundle(w.bundle_dir)["recording_complete"] is False


_PAST_THE_FILE_LIMIT = """
import os, resource, signal, sys
import anyio
from rollout_trace_sdk.record import open_rollout

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, resource.RLIM_INFINITY))

async def main() -> None:
    async with open_rollout(sys.argv[1], model="m") as rollout:  # ROLLOUT_TRACE_SCHEMA's
        async with rollout.root.turn() as turn:
            history = turn.accept({"type": "message", "role": "user",
                                   "content": [{"type": "input_text", "text": "list files"}]})
            call = {"type": "function_call", "name": "exec_command", "call_id": "c1",
                    "arguments": "{}"}
            async with turn.inference({"model": "m", "input": history}) as inference:
                history += inference.completed(output_items=[call])
            async with turn.tool_call("c1", "exec_command", arguments="{}") as tool:
                # random: compressed into a schema-3 shard it is still past the limit
                tool.completed({"type": "function_call_output", "call_id": "c1",
                                "output": os.urandom(600_000).hex()})

anyio.run(main)
"""


def record_past_the_file_limit(root: Path) -> Path:
    """Run ``_PAST_THE_FILE_LIMIT`` in a child process (the limit is the process's) recording
    under ``root``; its bundle, once the child said the disk refused the write (``File too
    large``)."""
    done = subprocess.run(
        [sys.executable, "-c", _PAST_THE_FILE_LIMIT, str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "File too large" in done.stderr
    return bundle_in(root)


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
def test_a_payload_past_the_file_size_limit_keeps_the_lines_before_it(
    tmp_path: Path, schema: int
) -> None:
    """A real ``EFBIG`` (``RLIMIT_FSIZE``) on a 1.2 MB tool output queued in the writer's
    first chunk with the rollout's start: the lines citing nothing missing are written, so
    the bundle still shows its thread, turn and inference, then the loss report. Every line
    waited for every payload of the chunk, and the bundle held the loss report alone (17
    of 19 events lost; review ops41). In schema 3 the records before the large one are
    kept too: the shard is cut back to where they end, not removed with the rest."""
    bundle = record_past_the_file_limit(tmp_path)
    kinds = types(bundle)
    assert kinds[:2] == ["rollout_started", "thread_started"]
    assert "inference_completed" in kinds and "tool_call_started" in kinds
    assert kinds[-1] == "recording_completed"
    for event in events(bundle):  # every payload a line cites is there, whole
        for key in ("event_payload", "request_payload", "response_payload"):
            if isinstance(ref := event["payload"].get(key), dict) and "raw_payload_id" in ref:
                payload(bundle, ref)
    assert "File too large" in loss_report_of(bundle)
    state = check_bundle(bundle)  # Codex reduces it as we do
    calls = state["inference_calls"]
    assert len(calls) == 1, calls


def test_read_only_root_raises_bundle_create_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "ro"
    root.mkdir()
    root.chmod(0o500)
    try:
        if os.access(root, os.W_OK):  # running as root: simulate what the kernel would say
            real_mkdir = os.mkdir

            def read_only(path: Any, mode: int = 0o777) -> None:
                if Path(path).parent == root:
                    raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
                real_mkdir(path, mode)

            monkeypatch.setattr(os, "mkdir", read_only)
        with pytest.raises(BundleCreateError) as err:
            make_writer(root)
        assert err.value.errno in (errno.EROFS, errno.EACCES)
        assert list(root.iterdir()) == []
    finally:
        root.chmod(0o700)


def test_create_failure_midway_raises_bundle_create_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(*_: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", no_space)
    with pytest.raises(BundleCreateError, match="No space left"):
        make_writer(tmp_path)


async def test_an_unexpected_error_is_contained_like_a_disk_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = LineEncoder.encode_into
    calls = 0

    def broken_once(self: LineEncoder, *args: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("bug")
        return real(self, *args)

    monkeypatch.setattr(LineEncoder, "encode_into", broken_once)
    w = make_writer(tmp_path)
    await write_start(w)
    await w.flush()
    await write_inference(w, 1)
    await w.flush()  # the bug hits here, and stays inside the writer
    await write_end(w)
    await w.aclose()
    assert isinstance(w.stats.failed, RuntimeError)
    events = read_bundle(w.bundle_dir)
    assert len(events) == 3 + 2  # the start, the loss report, recording_completed
    assert "bug" in loss_reports(w.bundle_dir, events)[0]
    assert len(_warnings(caplog)) == 1
    _assert_codex_reduces(w.bundle_dir)


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_bundle_removed_while_recorded_is_warned_of_not_lost_silently(
    tmp_path: Path, schema: int, caplog: pytest.LogCaptureFixture
) -> None:
    """An operator's cleanup removes a bundle still being recorded (review user37: 16
    bundles deleted under a running service, none said so). The writer's open log and shard
    take every write still, into files no directory holds: the rollout closed as if whole
    and what it recorded was gone without a word. The close now says so, once, and the
    writer's stats name the failure (schema 2 said so already when its next payload file
    could not be made)."""
    async with (
        open_rollout(tmp_path, schema_version=schema, redact=False) as rollout,
        rollout.root.turn() as turn,
    ):
        async with turn.inference({"model": "m", "input": "hi"}) as call:
            call.completed(output_items=[])
        await rollout.flush()
        assert rollout.bundle_dir is not None
        shutil.rmtree(rollout.bundle_dir)
        turn.accept({"type": "message", "role": "user", "content": "more"})
    warned = _warnings(caplog)
    assert len(warned) == 1, warned
    assert str(rollout.bundle_dir) in warned[0]
    # schema 2 writes a payload file as the rollout closes, and that write says it; schema 3
    # appends to the shard it holds open, and only the close can tell
    said = "No such file or directory" if schema == 2 else "removed while it was being recorded"
    assert said in warned[0]
    stats = rollout.stats
    assert stats is not None and isinstance(stats.failed, FileNotFoundError)


@pytest.mark.parametrize("durable", [False, True])
async def test_a_root_moved_under_a_schema_2_rollout_keeps_its_recording(
    tmp_path: Path, durable: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """The traces root moved aside under a running service (``mv traces traces.old``, log
    rotation; review user37): the open log followed the move, but every payload file was
    made by its path, which named the old place, so each open schema-2 rollout stopped at its
    next payload (20 of 20 left unclosed). Payload files are made in the folder the bundle
    was created with, wherever it now is."""
    root, moved = tmp_path / "traces", tmp_path / "traces.old"
    async with (
        open_rollout(root, schema_version=2, durable=durable, redact=False) as rollout,
        rollout.root.turn() as turn,
    ):
        async with turn.inference({"model": "m", "input": "hi"}) as call:
            call.completed(output_items=[])
        await rollout.flush()
        root.rename(moved)
        async with turn.inference({"model": "m", "input": "again"}) as call:
            call.completed(output_items=[])
    assert _warnings(caplog) == []
    assert rollout.bundle_dir is not None
    bundle = moved / rollout.bundle_dir.name
    assert check_bundle(bundle)["recording_complete"] is True
    assert not root.exists()
    assert not (bundle / ".space-reserve").exists()


async def test_a_shard_begun_after_the_root_moved_lands_in_the_moved_bundle(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Schema 3's open shard follows a moved root, but a shard begun after the move (every
    8 MB) was made by its path under the old name: the rollout stopped there (review
    user37). Shards are made relative to the payload folder the writer holds open."""
    root, moved = tmp_path / "traces", tmp_path / "traces.old"
    big = os.urandom(5 << 20).hex()  # 10 MB that no shard takes whole
    async with (
        open_rollout(root, schema_version=3, redact=False) as rollout,
        rollout.root.turn() as turn,
    ):
        async with turn.inference({"model": "m", "input": "hi"}) as call:
            call.completed(output_items=[])
        await rollout.flush()
        root.rename(moved)
        async with turn.inference({"model": "m", "input": big}) as call:
            call.completed(output_items=[])
    assert _warnings(caplog) == []
    assert rollout.bundle_dir is not None
    bundle = moved / rollout.bundle_dir.name
    assert len(list((bundle / "payloads").iterdir())) >= 2
    assert recorded_whole(check_bundle(bundle))
    assert not (bundle / ".space-reserve").exists()


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_root_moved_before_the_first_chunk_keeps_the_bundles_space_reserve(
    tmp_path: Path, schema: int, caplog: pytest.LogCaptureFixture
) -> None:
    """The root rotated (``mv traces traces.old; mkdir traces``) between a rollout's open and
    its first chunk: the space reserve, made by the bundle's path, found no bundle there and
    the rollout went without one (review43: no room held back for its loss report on a disk
    that fills). It is made beside the payload folder the writer holds open."""
    root, moved = tmp_path / "traces", tmp_path / "traces.old"
    async with (
        open_rollout(root, schema_version=schema, redact=False) as rollout,
        rollout.root.turn() as turn,
    ):
        root.rename(moved)
        root.mkdir()
        async with turn.inference({"model": "m", "input": "hi"}) as call:
            call.completed(output_items=[])
        await rollout.flush()
        assert rollout.bundle_dir is not None
        bundle = moved / rollout.bundle_dir.name
        assert (bundle / ".space-reserve").exists()
    assert _warnings(caplog) == []
    assert recorded_whole(check_bundle(bundle))
    assert not (bundle / ".space-reserve").exists()
    assert list(root.iterdir()) == []
