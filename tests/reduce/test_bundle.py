"""Bundle reading: per-line checks, payload confinement (symlinks included), lenient mode."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rollout_trace_sdk.model import codec, layout
from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.reduce.bundle import Bundle, MissingPayload
from rollout_trace_sdk.reduce.errors import ReduceError
from rollout_trace_sdk.testing import BundleBuilder

ROLLOUT = "01a20c59-0000-7000-8000-000000000001"
TRACE = "246c02a9-0000-4000-8000-000000000002"


def _ref(n: int, kind: ev.PayloadKind) -> ev.RawPayloadRef:
    return ev.RawPayloadRef(f"raw_payload:{n}", kind, f"payloads/{n}.json")


def _payloads() -> list[ev.EventPayload]:
    return [
        ev.RolloutStarted(TRACE, ROLLOUT),
        ev.ThreadStarted(ROLLOUT, "/root", _ref(1, "session_metadata")),
        ev.ProtocolEventObserved("session_configured", _ref(2, "protocol_event")),
        ev.ThreadEnded(ROLLOUT, "completed"),
        ev.RolloutEnded("completed"),
        ev.RecordingCompleted(),
    ]


def event_lines(payloads: list[ev.EventPayload] | None = None, start_ms: int = 1_000) -> bytes:
    lines = []
    for seq, payload in enumerate(payloads or _payloads(), start=1):
        thread = ROLLOUT if isinstance(payload, ev.ThreadEnded) else None
        event = ev.TraceEvent(2, seq, start_ms + seq, ROLLOUT, thread, None, payload)
        lines.append(codec.event_line(event))
    return b"".join(lines)


def make_bundle(root: Path, lines: bytes | None = None) -> Path:
    """A small, complete bundle as Codex lays it out (three events cite two payloads)."""
    b = BundleBuilder(root / "bundle", trace_id=TRACE, root_thread_id=ROLLOUT, started_at=1_000)
    b.payload("session_metadata", {"model": "m"})
    b.payload("protocol_event", {"type": "x"})
    b.raw_line(event_lines() if lines is None else lines)  # lines a test may have edited
    return b.close()


def _drain(bundle: Bundle) -> list[int]:
    return [located.event.seq for located in bundle.events()]


# --- events -------------------------------------------------------------------------------------


def test_streams_every_event_with_its_line(tmp_path: Path) -> None:
    bundle = Bundle.open(make_bundle(tmp_path))
    located = list(bundle.events())
    assert [x.line for x in located] == [1, 2, 3, 4, 5, 6]
    assert isinstance(located[-1].event.payload, ev.RecordingCompleted)


def test_blank_lines_by_rusts_rules_are_skipped(tmp_path: Path) -> None:
    lines = event_lines().splitlines(keepends=True)
    lines.insert(2, "\u00a0 \u3000\n".encode())
    lines.insert(1, b"   \t\n")
    bundle = Bundle.open(make_bundle(tmp_path, b"".join(lines)))
    assert [x.line for x in bundle.events()] == [1, 3, 5, 6, 7, 8]


def test_invalid_utf8_line_is_a_read_error(tmp_path: Path) -> None:
    lines = event_lines().splitlines(keepends=True)
    lines[2] = b'{"a":"\xff"}\n'
    bundle = Bundle.open(make_bundle(tmp_path, b"".join(lines)))
    with pytest.raises(ReduceError) as info:
        _drain(bundle)
    assert info.value.message == "read trace event line 3"
    assert info.value.cause == "stream did not contain valid UTF-8"


def test_torn_last_line_fails_strictly_with_serdes_message(tmp_path: Path) -> None:
    data = event_lines()
    bundle = Bundle.open(make_bundle(tmp_path, data[:-20]))
    with pytest.raises(ReduceError) as info:
        _drain(bundle)
    assert info.value.message == "parse trace event line 6"
    assert info.value.cause is not None
    assert info.value.cause.startswith("EOF while parsing ")
    assert info.value.line == 6


def test_lenient_mode_skips_a_torn_last_line_and_says_so(tmp_path: Path) -> None:
    data = event_lines()
    bundle = Bundle.open(make_bundle(tmp_path, data[:-20]), lenient=True)
    assert _drain(bundle) == [1, 2, 3, 4, 5]
    assert len(bundle.skipped) == 1
    assert "trace.jsonl:6" in bundle.skipped[0] and "truncated last line" in bundle.skipped[0]


def test_lenient_mode_still_refuses_a_broken_middle_line(tmp_path: Path) -> None:
    lines = event_lines().splitlines(keepends=True)
    lines[2] = lines[2][:40] + b"\n"
    bundle = Bundle.open(make_bundle(tmp_path, b"".join(lines)), lenient=True)
    with pytest.raises(ReduceError, match="parse trace event line 3"):
        _drain(bundle)


def test_per_line_checks_come_in_codexs_order(tmp_path: Path) -> None:
    payloads = _payloads()
    lines = event_lines(payloads).splitlines(keepends=True)
    # seq 3 written as 4 *and* another rollout: the seq error wins
    lines[2] = lines[2].replace(b'"seq":3', b'"seq":4').replace(ROLLOUT.encode(), b"other")
    bundle = Bundle.open(make_bundle(tmp_path, b"".join(lines)))
    with pytest.raises(ReduceError) as info:
        _drain(bundle)
    assert info.value.message == "missing or reordered trace event 3"
    assert (info.value.line, info.value.seq) == (3, 4)


def test_event_after_recording_completed_is_refused(tmp_path: Path) -> None:
    extra = event_lines([*_payloads(), ev.RolloutEnded("completed")])
    bundle = Bundle.open(make_bundle(tmp_path, extra))
    with pytest.raises(ReduceError) as info:
        _drain(bundle)
    assert info.value.message == "trace event after recording completed"


def test_numbers_orjson_cannot_hold_are_accepted_like_codex(tmp_path: Path) -> None:
    lines = event_lines().splitlines(keepends=True)
    lines[0] = lines[0][:-2] + b',"extra":1e400}\n'
    bundle = Bundle.open(make_bundle(tmp_path, b"".join(lines)))
    assert _drain(bundle) == [1, 2, 3, 4, 5, 6]


# --- manifest -----------------------------------------------------------------------------------


def test_missing_manifest_names_the_file(tmp_path: Path) -> None:
    root = make_bundle(tmp_path)
    (root / "manifest.json").unlink()
    with pytest.raises(ReduceError) as info:
        Bundle.open(root)
    assert info.value.message == f"read {root}/manifest.json"
    assert info.value.cause == "No such file or directory (os error 2)"


def test_manifest_errors_carry_serdes_position(tmp_path: Path) -> None:
    root = make_bundle(tmp_path)
    (root / "manifest.json").write_bytes(b'{"schema_version": 2,')
    with pytest.raises(ReduceError) as info:
        Bundle.open(root)
    assert info.value.cause == "EOF while parsing a value at line 1 column 21"


def _relabel(root: Path, schema: int) -> None:
    raw = (
        (root / "manifest.json")
        .read_bytes()
        .replace(b'"schema_version": 2', b'"schema_version": %d' % schema)
    )
    (root / "manifest.json").write_bytes(raw)


def test_manifest_schema_gate(tmp_path: Path) -> None:
    """A schema we do not read is refused in 0.169's words for a bundle of payload files."""
    root = make_bundle(tmp_path)
    _relabel(root, 4)
    with pytest.raises(ReduceError) as info:
        Bundle.open(root)
    assert info.value.message.startswith("trace schema 4 cannot establish accepted history")


def test_manifest_schema_gate_for_a_sharded_bundle(tmp_path: Path) -> None:
    """...and in 0.171's words for a bundle of zstd shards."""
    root = make_bundle(tmp_path)
    _relabel(root, 1)
    (root / "payloads" / "000001.zst").write_bytes(b"")
    with pytest.raises(ReduceError) as info:
        Bundle.open(root)
    assert info.value.message == (
        "unsupported manifest schema 1 (expected 3). "
        "Run the exact Codex executable that recorded this bundle"
    )


def test_schema_3_manifest_is_read_as_schema_3(tmp_path: Path) -> None:
    root = make_bundle(tmp_path)
    _relabel(root, 3)
    assert Bundle.open(root).schema == 3


# --- payload confinement --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/etc/hostname", "../outside.json", "payloads/../../outside.json", "payloads/../1.json"],
)
def test_paths_that_leave_the_bundle_are_refused_before_opening(tmp_path: Path, path: str) -> None:
    root = make_bundle(tmp_path)
    (tmp_path / "outside.json").write_bytes(b"{}")
    bundle = Bundle.open(root)
    with pytest.raises(ReduceError) as info:
        bundle.load_payload(ev.RawPayloadRef("raw_payload:9", "tool_result", path))
    assert not isinstance(info.value, MissingPayload)
    assert info.value.message == "open payload raw_payload:9"
    assert info.value.cause is not None and repr(path) in info.value.cause


def test_symlinked_file_pointing_outside_is_refused(tmp_path: Path) -> None:
    root = make_bundle(tmp_path)
    secret = tmp_path / "secret.json"
    secret.write_bytes(b'{"secret": true}')
    os.symlink(secret, root / "payloads" / "9.json")
    bundle = Bundle.open(root)
    with pytest.raises(ReduceError, match="open payload raw_payload:9") as info:
        bundle.load_payload(_ref(9, "tool_result"))
    assert info.value.cause is not None and "symlink" in info.value.cause


def test_symlinked_directory_pointing_outside_is_refused(tmp_path: Path) -> None:
    root = make_bundle(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "9.json").write_bytes(b"{}")
    os.symlink(elsewhere, root / "linked")
    bundle = Bundle.open(root)
    ref = ev.RawPayloadRef("raw_payload:9", "tool_result", "linked/9.json")
    with pytest.raises(ReduceError, match="open payload raw_payload:9"):
        bundle.load_payload(ref)
    with pytest.raises(ReduceError, match="open payload raw_payload:9"):
        bundle.check_payload("raw_payload:9", "linked/9.json")


def test_symlink_within_the_bundle_is_refused_too(tmp_path: Path) -> None:
    """No symlink below the bundle root is followed (a recorder never writes one), so no
    check-then-open race can lead outside."""
    root = make_bundle(tmp_path)
    os.symlink(root / "payloads" / "1.json", root / "payloads" / "9.json")
    with pytest.raises(ReduceError, match="open payload raw_payload:9") as info:
        Bundle.open(root).load_payload(_ref(9, "tool_result"))
    assert info.value.cause is not None and "symlink" in info.value.cause


def test_bundle_reached_through_a_symlink_still_reads_its_payloads(tmp_path: Path) -> None:
    root = make_bundle(tmp_path)
    alias = tmp_path / "alias"
    os.symlink(root, alias)
    assert Bundle.open(alias).load_payload(_ref(2, "protocol_event")) == {"type": "x"}


# --- payload errors -------------------------------------------------------------------------------


def test_missing_payload_is_a_distinct_error(tmp_path: Path) -> None:
    root = make_bundle(tmp_path)
    (root / "payloads" / "1.json").unlink()
    with pytest.raises(MissingPayload) as info:
        Bundle.open(root).load_payload(_ref(1, "session_metadata"))
    assert info.value.codex_text() == (
        "Error: open payload raw_payload:1\n\nCaused by:\n    No such file or directory (os error 2)"
    )


def test_payload_that_is_a_directory_fails_like_codex(tmp_path: Path) -> None:
    root = make_bundle(tmp_path)
    ref = ev.RawPayloadRef("raw_payload:4", "inference_request", "payloads")
    with pytest.raises(ReduceError) as info:
        Bundle.open(root).load_payload(ref)
    assert (info.value.message, info.value.cause) == (
        "parse payload raw_payload:4",
        "Is a directory (os error 21)",
    )


def test_bad_payload_json_gets_serdes_message(tmp_path: Path) -> None:
    root = make_bundle(tmp_path)
    (root / "payloads" / "2.json").write_bytes(b"{not json")
    bundle = Bundle.open(root)
    with pytest.raises(ReduceError) as info:
        bundle.load_payload(_ref(2, "protocol_event"))
    assert info.value.codex_text().endswith("key must be a string at line 1 column 2")
    with pytest.raises(ReduceError) as info:
        bundle.check_payload("raw_payload:2", "payloads/2.json")
    assert info.value.message == "invalid payload raw_payload:2"


def test_end_check_reports_unreadable_payloads(tmp_path: Path) -> None:
    root = make_bundle(tmp_path)
    (root / "payloads" / "2.json").unlink()
    with pytest.raises(ReduceError) as info:
        Bundle.open(root).check_payload("raw_payload:2", "payloads/2.json")
    assert info.value.message == "read payload raw_payload:2"
    assert info.value.cause == "No such file or directory (os error 2)"


def test_lenient_end_check_notes_missing_and_invalid_payloads(tmp_path: Path) -> None:
    root = make_bundle(tmp_path)
    (root / "payloads" / "1.json").unlink()
    (root / "payloads" / "2.json").write_bytes(b"")
    notes: list[str] = []
    bundle = Bundle.open(root, lenient=True, skipped=notes)
    bundle.check_payload("raw_payload:1", "payloads/1.json")
    bundle.check_payload("raw_payload:2", "payloads/2.json")
    assert notes is bundle.skipped
    assert len(notes) == 2
    assert "raw_payload:1" in notes[0] and "unreadable" in notes[0]
    assert "raw_payload:2" in notes[1] and "EOF while parsing a value" in notes[1]


def test_a_lenient_state_with_gaps_never_reads_as_whole(tmp_path: Path) -> None:
    """A lenient replay that passed over something gave a state saying the recording was
    complete: once the notes were gone nothing showed it (found by review)."""
    from rollout_trace_sdk.reduce import reduce_bundle

    root = make_bundle(tmp_path)
    assert reduce_bundle(root, lenient=True).recording_complete
    (root / "payloads" / "2.json").write_bytes(b"")
    notes: list[str] = []
    state = reduce_bundle(root, lenient=True, skipped=notes)
    assert notes and not state.recording_complete
    assert "lenient_gaps" not in state.to_json()


def test_payload_numbers_beyond_f64_are_accepted(tmp_path: Path) -> None:
    root = make_bundle(tmp_path)
    (root / "payloads" / "2.json").write_bytes(b'{"big": 1e400}')
    bundle = Bundle.open(root)
    assert bundle.load_payload(_ref(2, "protocol_event")) == {"big": float("inf")}
    bundle.check_payload("raw_payload:2", "payloads/2.json")


def test_event_log_that_is_a_directory_fails_on_reading_like_codex(tmp_path: Path) -> None:
    root = make_bundle(tmp_path)
    (root / "trace.jsonl").unlink()
    (root / "trace.jsonl").mkdir()
    with pytest.raises(ReduceError) as info:
        _drain(Bundle.open(root))
    assert (info.value.message, info.value.cause) == (
        "read trace event line 1",
        "Is a directory (os error 21)",
    )


def test_missing_event_log_fails_on_opening(tmp_path: Path) -> None:
    root = make_bundle(tmp_path)
    (root / "trace.jsonl").unlink()
    with pytest.raises(ReduceError) as info:
        _drain(Bundle.open(root))
    assert info.value.codex_text() == (
        f"Error: open trace event log {root}/trace.jsonl\n\n"
        "Caused by:\n    No such file or directory (os error 2)"
    )


@pytest.mark.parametrize("lenient", [False, True])
def test_schema3_end_check_goes_shard_by_shard_as_codex_does(tmp_path: Path, lenient: bool) -> None:
    """The end-of-replay check goes shard by shard, as Codex 0.171 sorts the references by
    shard: a payload of shard 8 is reported before a smaller id of shard 9 (we reported the
    smallest id first; found by review, probed on corpus bundles: see
    ``test_schema3_probes.py::test_payloads_lost_from_a_shard_are_named_in_codex_order``)."""
    from tests.reduce.v3_bundles import copy_bundle, shard_bytes

    root = copy_bundle("apply_patch", tmp_path)
    for number, records in {
        8: {"raw_payload:a1": b"[1]", "raw_payload:z": b"{bad"},
        9: {"raw_payload:a2": b"{bad"},
    }.items():
        (root / layout.shard_path(number)).write_bytes(shard_bytes(records))
    refs = {
        pid: ev.RawPayloadRef(pid, "tool_result", "", shard)
        for pid, shard in {"raw_payload:z": 8, "raw_payload:a1": 8, "raw_payload:a2": 9}.items()
    }
    skipped: list[str] = []
    bundle = Bundle.open(root, lenient=lenient, skipped=skipped)
    if not lenient:
        with pytest.raises(ReduceError) as info:
            bundle.check_registered(refs, completed=False)
        assert info.value.message == "invalid payload raw_payload:z"
        return
    bundle.check_registered(refs, completed=False)
    assert [note.split(":")[1].split()[0] for note in skipped] == ["z", "a2"]


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
@pytest.mark.parametrize("schema", [2, 3])
def test_reading_a_bundle_leaves_no_descriptor_open(tmp_path: Path, schema: int) -> None:
    """Reducing, validating and converting close the bundle's directory descriptors when they
    end: a schema-3 bundle's shard reader refers back to it, so they stayed open until a full
    garbage collection (a live viewer re-reading a growing bundle held 28 after 50 re-reads;
    found by review)."""
    import gc

    from rollout_trace_sdk.reduce import reduce_bundle
    from rollout_trace_sdk.reduce.convert import convert_bundle
    from rollout_trace_sdk.reduce.validate import validate_bundle

    with BundleBuilder(tmp_path / "b", schema=schema) as b:
        b.event(ev.RolloutStarted(TRACE, b.root_thread_id))
        meta = b.payload("session_metadata", {"thread_id": b.root_thread_id})
        b.event(ev.ThreadStarted(b.root_thread_id, "/root", meta))
        b.event(ev.ProtocolEventObserved("x", b.payload("protocol_event", {"type": "x"})))
        b.event(ev.RolloutEnded("completed"))
    bundle = tmp_path / "b"
    gc.disable()  # what is left to the collector must show
    try:
        before = _open_descriptors()
        for n in range(5):
            reduce_bundle(bundle)
            validate_bundle(bundle)
            convert_bundle(bundle, tmp_path / f"converted-{n}", 5 - schema)
        assert _open_descriptors() == before
    finally:
        gc.enable()


def test_lines_written_after_the_log_was_opened_are_not_read(tmp_path: Path) -> None:
    """A bundle reduced while its recording runs: the log is read to the size it had when
    opened (a line being written then, to its newline). Reading on to the end chased the
    writer: review export24's check of a live recording (about 1.3 MB/s) was still reducing
    after minutes, and lines written after a shard was read cited records the reader had not
    seen. The reduced state is the recording as it stood when the log was opened."""
    bundle_dir = make_bundle(tmp_path, event_lines(_payloads()[:-1]))  # unclosed
    bundle = Bundle.open(bundle_dir)
    events = bundle.events()
    first = next(events)
    assert first.event.seq == 1
    later = ev.TraceEvent(2, 6, 2_000, ROLLOUT, None, None, ev.RecordingCompleted())
    with (bundle_dir / layout.EVENT_LOG).open("ab") as log:
        log.write(codec.event_line(later) + b"{ a line the writer is still writing")
    assert [located.event.seq for located in events] == [2, 3, 4, 5]
