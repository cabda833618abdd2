"""``rollout-trace convert --lenient``: a bundle a crash cut short, written in the other schema
with what ``reduce --lenient`` keeps of it, which that schema's Codex reduces strictly."""

from __future__ import annotations

import io
import random
import shutil
from pathlib import Path

import orjson
import pytest

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.model import layout
from rollout_trace_sdk.reduce import ReduceError, reduce_bundle, state_bytes
from rollout_trace_sdk.reduce.convert import convert_bundle
from tests.codex_oracle import codex_bin, codex_reduce
from tests.conftest import CONFORMANCE, CONFORMANCE_V3, conformance_bundles
from tests.killed_checks import tear
from tests.lenient_convert_checks import check_lenient_converted
from tests.reduce.v3_bundles import (
    copy_bundle,
    edit_events,
    edit_shard,
    payload_of,
    read_events,
    read_records,
    write_events,
)

V2 = conformance_bundles(CONFORMANCE)
V3 = conformance_bundles(CONFORMANCE_V3)
#: corpus bundles and tear seeds: a torn last line, lines lost with a payload file or shard
#: cut short, a payload cut under a closed log (each seed's mode is tear()'s draw)
CASES = [
    (corpus, scenario, seed)
    for corpus in ("conformance", "conformance-v3")
    for scenario in ("multi_step_turn", "parallel_exec", "code_mode_yield_wait", "mcp_tool_call")
    for seed in range(3)
]


def _torn(corpus: str, scenario: str, seed: int, into: Path) -> tuple[Path, str]:
    root = CONFORMANCE if corpus == "conformance" else CONFORMANCE_V3
    found = sorted((root / scenario).glob("trace-*"))
    if not found:
        pytest.skip(f"../shared/{corpus}/{scenario} is not present")
    torn, how = tear(found[0], into / "source", random.Random(f"{scenario}{seed}"))
    for name in ("state.json", "expected_state.json"):
        (torn / name).unlink(missing_ok=True)
    return torn, how


def _run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.codex
@pytest.mark.parametrize(("corpus", "scenario", "seed"), CASES)
def test_a_torn_bundle_converts_to_what_lenient_reduction_keeps(
    corpus: str, scenario: str, seed: int, tmp_path: Path
) -> None:
    torn, how = _torn(corpus, scenario, seed, tmp_path)
    outcomes = check_lenient_converted(torn, tmp_path, f"{corpus}/{scenario}: {how}")
    assert set(outcomes.values()) <= {"same", "fewer"}, outcomes
    assert outcomes or codex_bin(2) is None or codex_bin(3) is None


def _v2(scenario: str, into: Path) -> Path:
    found = sorted((CONFORMANCE / scenario).glob("trace-*"))
    if not found:
        pytest.skip(f"../shared/conformance/{scenario} is not present")
    target = into / "source"
    shutil.copytree(found[0], target)
    (target / "expected_state.json").unlink(missing_ok=True)
    return target


def _cut_log(bundle: Path, lines: int, tear_bytes: int) -> None:
    """The log without its last ``lines`` lines, the next one cut ``tear_bytes`` short."""
    log = bundle / "trace.jsonl"
    kept = log.read_bytes().splitlines(keepends=True)[:-lines]
    kept[-1] = kept[-1][:-tear_bytes]
    log.write_bytes(b"".join(kept))


def test_a_torn_log_is_refused_strictly_and_converted_leniently(tmp_path: Path) -> None:
    source = _v2("multi_step_turn", tmp_path)
    _cut_log(source, 4, 30)
    code, _, err = _run("convert", str(source), "--to", "3", "-o", str(tmp_path / "strict"))
    assert code == 1 and "Error: parse trace event line" in err
    assert not (tmp_path / "strict").exists()
    code, out, err = _run(
        "convert", str(source), "--to", "3", "-o", str(tmp_path / "v3"), "--lenient"
    )
    assert code == 0, err
    assert out == f"{tmp_path / 'v3'}\n"
    assert err.startswith("lenient: skipped 1 thing(s):\n") and "truncated last line" in err
    state = orjson.loads(state_bytes(reduce_bundle(tmp_path / "v3")))
    assert state["recording_status"] == "unclosed"
    if codex_bin(3) is not None:
        ok, stderr, theirs = codex_reduce(tmp_path / "v3", schema=3)
        assert ok, stderr
        assert theirs == state


def test_a_closed_log_that_lost_an_event_is_not_written_closed(tmp_path: Path) -> None:
    """Nothing is invented, and nothing says the copy is whole: ``recording_completed`` is
    left out after an event was (a request payload cut short under a closed log)."""
    source = _v2("multi_step_turn", tmp_path)
    payload = source / "payloads" / "4.json"
    payload.write_bytes(payload.read_bytes()[:-10])
    notes: list[str] = []
    convert_bundle(source, tmp_path / "v3", 3, lenient=True, skipped=notes)
    assert any("left out (payload not whole): invalid payload raw_payload:4" in n for n in notes)
    assert "left out recording_completed" in notes[-1]
    lines = (tmp_path / "v3" / "trace.jsonl").read_bytes().splitlines()
    assert b'"recording_completed"' not in lines[-1]
    assert [orjson.loads(line)["seq"] for line in lines] == list(range(1, len(lines) + 1))
    ours = orjson.loads(state_bytes(reduce_bundle(tmp_path / "v3")))
    assert ours["recording_status"] == "unclosed"
    if codex_bin(3) is not None:
        ok, stderr, theirs = codex_reduce(tmp_path / "v3", schema=3)
        assert ok, stderr
        assert theirs == ours


def test_a_thread_metadata_payload_that_never_reached_the_disk_is_left_off(
    tmp_path: Path,
) -> None:
    """Lenient replay goes on without a thread's metadata (as if the event carried none):
    so does the copy, rather than losing the thread and everything in it."""
    source = _v2("plain_message", tmp_path)
    first = orjson.loads((source / "trace.jsonl").read_bytes().splitlines()[1])
    assert first["payload"]["type"] == "thread_started"
    (source / first["payload"]["metadata_payload"]["path"]).unlink()
    notes: list[str] = []
    convert_bundle(source, tmp_path / "v3", 3, lenient=True, skipped=notes)
    assert len(notes) == 2 and "went on without payload" in notes[0], notes
    copied = orjson.loads((tmp_path / "v3" / "trace.jsonl").read_bytes().splitlines()[1])
    assert copied["payload"]["metadata_payload"] is None
    ours = orjson.loads(state_bytes(reduce_bundle(tmp_path / "v3")))
    assert first["payload"]["thread_id"] in ours["threads"]
    if codex_bin(3) is not None:
        ok, stderr, theirs = codex_reduce(tmp_path / "v3", schema=3)
        assert ok, stderr
        assert theirs == ours


def test_what_lenient_reduction_refuses_is_refused(tmp_path: Path) -> None:
    """A broken line that is not the last is no crash: refused as ``reduce --lenient``
    refuses it, with its place, and nothing is left at the target."""
    source = _v2("multi_step_turn", tmp_path)
    log = source / "trace.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    lines[5] = lines[5][:20] + b"\n"
    log.write_bytes(b"".join(lines))
    with pytest.raises(ReduceError) as reduced:
        reduce_bundle(source, lenient=True)
    code, _, err = _run(
        "convert", str(source), "--to", "3", "-o", str(tmp_path / "v3"), "--lenient"
    )
    assert code == 1 and reduced.value.codex_text() in err and f"{log}:6" in err
    assert not (tmp_path / "v3").exists()


@pytest.mark.skipif(not V3, reason="../shared/conformance-v3 is not present")
def test_a_payload_the_recorder_cut_is_refused_leniently_too(tmp_path: Path) -> None:
    """A capture limit's cut is no damage: schema 2 cannot say it, leniently or not."""
    source = sorted((CONFORMANCE_V3 / "capture_payload_limit_exec").glob("trace-*"))[0]
    code, _, err = _run(
        "convert", str(source), "--to", "2", "-o", str(tmp_path / "v2"), "--lenient"
    )
    assert code == 1 and "schema 2 cannot say so" in err
    assert not (tmp_path / "v2").exists()


@pytest.mark.skipif(not V2, reason="../shared/conformance is not present")
def test_a_whole_bundle_converts_leniently_as_strictly(tmp_path: Path) -> None:
    source = _v2("parallel_exec", tmp_path)
    notes: list[str] = []
    convert_bundle(source, tmp_path / "strict", 3)
    convert_bundle(source, tmp_path / "lenient", 3, lenient=True, skipped=notes)
    assert notes == []
    for name in ("manifest.json", "trace.jsonl"):
        assert (tmp_path / "strict" / name).read_bytes() == (
            tmp_path / "lenient" / name
        ).read_bytes()
    assert state_bytes(reduce_bundle(tmp_path / "lenient")) == state_bytes(
        reduce_bundle(tmp_path / "strict")
    )


@pytest.mark.codex
@pytest.mark.skipif(not V3, reason="../shared/conformance-v3 is not present")
def test_a_cut_part_of_a_prompt_alone_leaves_a_whole_schema_2_copy(tmp_path: Path) -> None:
    """A prepared prompt's part cut by the recorder is the only cut payload: reduce --lenient
    says ``closed_with_partial_payloads``, and the schema-2 copy, which never carries prompts,
    is whole (fuzz23: the check expected it not whole; a Codex 0.171 bundle killed by SIGINT)."""
    source = copy_bundle("plain_message", tmp_path)
    events = read_events(source)
    prompt = next(
        payload_of(e)["prepared_prompt_payload"]
        for e in events
        if payload_of(e)["type"] == "inference_started"
    )
    part = prompt["parts"][-1]
    bodies = read_records(source / layout.shard_path(part["shard"]))
    body = bodies[part["raw_payload_id"]]
    part["capture"] = {"status": "truncated", "original_bytes": len(body), "retained_bytes": 5}
    write_events(source, events)
    edit_shard(source, part["shard"], lambda records: {**records, part["raw_payload_id"]: body[:5]})
    lenient = orjson.loads(state_bytes(reduce_bundle(source, lenient=True)))
    assert lenient["recording_status"] == "closed_with_partial_payloads"
    outcomes = check_lenient_converted(source, tmp_path, "a prompt's part cut")
    assert outcomes in ({2: "same"}, {}), outcomes
    assert outcomes or codex_bin(2) is None


@pytest.mark.skipif(not V3, reason="../shared/conformance-v3 is not present")
@pytest.mark.parametrize(("unsealed", "noted"), [(1, True), (3, False)])
def test_an_unsealed_shard_before_the_last_is_noted(
    tmp_path: Path, unsealed: int, noted: bool
) -> None:
    """A recording cut short may leave only the last shard it cites unsealed: any other is
    noted as ``reduce --lenient`` notes it, the last one is not (the check was never run:
    noting nothing passed every lenient conversion test, mut30)."""
    import zstandard

    source = copy_bundle("view_image", tmp_path)
    edit_events(source, lambda events: events[:-1])  # recording_completed
    begun = zstandard.ZstdCompressor(write_checksum=True).compress(b"x" * 100)[:9]
    with (source / layout.shard_path(unsealed)).open("ab") as handle:
        handle.write(begun)  # a frame begun, not finished: the shard is not sealed
    reduced: list[str] = []
    reduce_bundle(source, lenient=True, skipped=reduced)
    notes: list[str] = []
    convert_bundle(source, tmp_path / "v2", 2, lenient=True, skipped=notes)
    said = f"missing footer in payload shard {unsealed}"
    assert [n for n in notes if said in n] == [n for n in reduced if said in n]
    assert any(n.endswith("; not the last shard") for n in notes) is noted, notes


@pytest.mark.codex
@pytest.mark.skipif(not V2, reason="../shared/conformance is not present")
def test_events_left_out_alike_are_all_checked_though_said_once(tmp_path: Path) -> None:
    """The root thread's metadata payload cut short, as a crash leaves it: its start is left
    out, and every later event of the thread with it, for the same reason; the command says
    those once ("(and N more like it: lines ...)", "…" past eight), and the check still
    finds each by seq (live47: a Codex 0.169 bundle killed 0.39 s in, seed 343530; the
    check read the printed notes and took the grouped events for ones left out unsaid)."""
    source = tmp_path / "source"
    shutil.copytree(next(iter(V2)), source)
    for name in ("state.json", "expected_state.json"):
        (source / name).unlink(missing_ok=True)
    start = next(e for e in read_events(source) if payload_of(e)["type"] == "thread_started")
    cut = source / payload_of(start)["metadata_payload"]["path"]
    cut.write_bytes(cut.read_bytes()[:44])
    code, _, err = _run(
        "convert", str(source), "--to", "3", "-o", str(tmp_path / "probe"), "--lenient"
    )
    assert code == 0 and "more like it" in err, err
    outcomes = check_lenient_converted(source, tmp_path, "the root's metadata cut")
    assert set(outcomes.values()) <= {"same", "fewer"}, outcomes
