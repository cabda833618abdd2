"""``show --follow``'s readings from a kept replay: what the follower prints, reading after
reading, is what it printed when each reading reduced the whole bundle."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import orjson
import pytest

from rollout_trace_sdk.reduce import liveness
from rollout_trace_sdk.reduce.errors import ReduceError
from rollout_trace_sdk.view.capture import WRITER_LIVE_KEY
from rollout_trace_sdk.view.load import load_state
from rollout_trace_sdk.view.show import render_plain
from rollout_trace_sdk.view.show_follow import Follower
from rollout_trace_sdk.view.show_follow_read import Readings

from ..conftest import CONFORMANCE, CONFORMANCE_V3, conformance_bundles, make_demo

#: Codex bundles of each corpus with agents, tools, compactions, code cells, interruptions.
_CODEX = [
    b
    for b in conformance_bundles(CONFORMANCE) + conformance_bundles(CONFORMANCE_V3)
    if b.parent.name
    in (
        "interrupt_during_tool",
        "multi_agent_v2_lifecycle",
        "mcp_tool_call",
        "code_mode_yield_wait",
        "auto_compaction_local",
    )
]


@pytest.fixture(autouse=True)
def _no_proc_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """No process holds these tests' copies open, and whether one does is not what they
    compare (both followers ask it alike): each reading of a log without its closing line
    scanned ``/proc`` (``liveness.log_is_live``), which cost 107 s of the clean-clone CI for the
    refused corpus bundles read line by line, with Chromium, Phoenix and the test workers'
    descriptors to look through (8 s here alone). A scan finding nothing is what they get."""
    monkeypatch.setattr(liveness, "logs_held_open", dict)


def _both_ways(bundle: Path, tmp_path: Path) -> tuple[Readings, int]:
    """``bundle``'s log grown line by line under two followers, one reading the whole bundle
    each time (as ``--follow`` did), one from :class:`Readings`: after each line, both have
    printed the same, with the same notes, or refused the log alike. Returns the readings,
    and how many notes were compared."""
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    lines = (bundle / "trace.jsonl").read_bytes().splitlines(keepends=True)
    # a torn last line waits for its newline (never coming here); the last reading, whole,
    # reads it as a whole reading does
    lines = [line for line in lines if line.endswith(b"\n")]
    whole, kept = (
        Follower(thread=None, call=None, full=False),
        Follower(thread=None, call=None, full=False),
    )
    readings = Readings(copy)
    said, printed = io.StringIO(), io.StringIO()
    notes = 0
    for n in range(1, len(lines) + 1):
        (copy / "trace.jsonl").write_bytes(b"".join(lines[:n]))
        want: list[str] = []
        got: list[str] = []
        try:
            state = load_state(copy, lenient=True, skipped=want)
        except ReduceError as exc:
            with pytest.raises(ReduceError) as refused:
                readings.read(got)
            assert str(refused.value) == str(exc), f"after line {n}"
            continue
        render_plain(whole.step(state), said)
        reading = readings.read(got)
        # the same values in the same key order (the reading's come from the trace, not
        # from parsing its bytes: review follow49)
        assert orjson.dumps(reading) == orjson.dumps(state), f"after line {n}"
        render_plain(kept.step(reading), printed)
        assert printed.getvalue() == said.getvalue(), f"after line {n}"
        assert got == want, f"after line {n}"
        notes += len(got)
    readings.close()
    return readings, notes


@pytest.mark.parametrize("schema", ["2", "3"])
def test_a_recording_read_line_by_line_prints_as_whole_readings_do(
    schema: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo in each schema: every reading from the kept replay, none whole."""
    monkeypatch.setenv("ROLLOUT_TRACE_SCHEMA", schema)
    bundle = make_demo(tmp_path / "traces", 1)
    readings, _ = _both_ways(bundle, tmp_path)
    lines = (bundle / "trace.jsonl").read_bytes().count(b"\n")
    assert (readings.fed, readings.whole) == (lines, 0)


@pytest.mark.parametrize("bundle", _CODEX, ids=lambda b: str(b).rsplit("shared/", 1)[-1])
def test_codex_recordings_read_line_by_line_print_as_whole_readings_do(
    bundle: Path, tmp_path: Path
) -> None:
    """Codex's own bundles, read as they were written."""
    readings, _ = _both_ways(bundle, tmp_path)
    assert readings.fed > 0


def test_codex_refused_bundles_read_line_by_line_as_whole_readings_do(tmp_path: Path) -> None:
    """The corpora's bundles Codex refuses: what a whole lenient reading says of each, notes
    and refusals (missing, unreadable or bad payloads, lines out of order...), the kept
    replay says, reading after reading."""
    bundles = sorted(CONFORMANCE.glob("_errors/*/*/trace.jsonl")) + sorted(
        CONFORMANCE_V3.glob("_errors/*/*/trace.jsonl")
    )
    if not bundles:
        pytest.skip("no Codex corpus (../shared)")
    notes = fed = 0
    for n, log in enumerate(bundles):
        readings, said = _both_ways(log.parent, tmp_path / str(n))
        notes, fed = notes + said, fed + readings.fed
    assert notes and fed


def test_a_log_a_writer_holds_reads_as_recording(tmp_path: Path) -> None:
    """The state says its writer is there (``recording``) as a whole reading says it."""
    import fcntl

    bundle = make_demo(tmp_path / "traces", 1)
    log = bundle / "trace.jsonl"
    log.write_bytes(log.read_bytes().splitlines(keepends=True)[0])
    readings = Readings(bundle)
    with log.open("rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        state = readings.read([])
        assert state == load_state(bundle, lenient=True, skipped=[])
    assert state[WRITER_LIVE_KEY] is True and readings.fed == 1
    readings.close()


def test_the_last_reading_and_a_rewritten_log_are_whole(tmp_path: Path) -> None:
    """The last reading (the writer gone) reduces the whole bundle, as does a reading of a
    log rewritten; the next reading is fed again, from a new replay."""
    bundle = make_demo(tmp_path / "traces", 1)
    readings = Readings(bundle)
    first = readings.read([])
    assert (readings.fed, readings.whole) == (1, 0)
    assert readings.read([], last=True) == first
    assert readings.whole == 1
    log = bundle / "trace.jsonl"
    data = log.read_bytes()
    log.write_bytes(data[: len(data) // 2])
    readings.read([])
    assert (readings.fed, readings.whole) == (1, 2)
    log.write_bytes(data)
    assert readings.read([]) == first
    assert (readings.fed, readings.whole) == (2, 2)
    readings.close()


@pytest.mark.skipif(not conformance_bundles(CONFORMANCE), reason="no schema-2 corpus")
def test_a_rewritten_bundle_gives_its_own_tool_results(tmp_path: Path) -> None:
    """The tool results' texts a reading kept (not read again at the next one) are let go
    with the replay when the bundle is rewritten: a recording written anew at the same path
    names other results by the same payload ids (review follow49)."""
    (source,) = sorted((CONFORMANCE / "code_mode_nested_tool").glob("trace-*"))
    bundle = tmp_path / "bundle"
    shutil.copytree(source, bundle)
    readings = Readings(bundle)
    before = readings.read([])
    assert before == load_state(bundle, lenient=True, skipped=[]) and readings.fed == 1
    texts = {t["tool_call_id"]: t.get("result_text") for t in before["tool_calls"].values()}
    texts = {k: v for k, v in texts.items() if v}
    assert texts  # the calls with no output item of their own: their results' texts
    for path in (bundle / "payloads").iterdir():
        path.write_bytes(path.read_bytes().replace(b"-code-mode", b"-CODE-MODE"))
    log = bundle / "trace.jsonl"
    data = log.read_bytes()
    log.write_bytes(data[: len(data) // 2])  # rewritten: a whole reading, then a new replay
    readings.read([])
    log.write_bytes(data)
    after = readings.read([])
    assert (readings.fed, readings.whole) == (2, 1)
    assert after == load_state(bundle, lenient=True, skipped=[])
    assert after != before
    readings.close()


def test_a_refused_bundle_is_refused_as_a_whole_reading_refuses_it(tmp_path: Path) -> None:
    """A line the reducer refuses (a seq out of order): the same error as ``load_state``,
    and every later reading is whole."""
    bundle = make_demo(tmp_path / "traces", 1)
    log = bundle / "trace.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    readings = Readings(bundle)
    log.write_bytes(b"".join(lines[:3]))
    readings.read([])
    log.write_bytes(b"".join(lines[:3] + lines[4:6]))
    with pytest.raises(ReduceError) as whole:
        load_state(bundle, lenient=True, skipped=[])
    with pytest.raises(ReduceError) as kept:
        readings.read([])
    assert str(kept.value) == str(whole.value)
    log.write_bytes(b"".join(lines))
    readings.read([])
    assert (readings.fed, readings.whole) == (1, 2)
