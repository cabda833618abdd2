"""``rollout-trace convert``: a bundle written in the other schema, read by that schema's Codex."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.model import layout
from rollout_trace_sdk.reduce import ReduceError, reduce_bundle, state_bytes
from rollout_trace_sdk.reduce.convert import convert_bundle
from tests.codex_oracle import codex_bin, codex_reduce
from tests.conftest import CONFORMANCE, CONFORMANCE_V3, conformance_bundles
from tests.record.test_recorder_properties import OPS, Op, run_ops
from tests.reduce.v3_bundles import copy_bundle, corpus_bundle, edit_shard

V2 = conformance_bundles(CONFORMANCE)
V3 = conformance_bundles(CONFORMANCE_V3)


def _ids(bundles: list[Path]) -> list[str]:
    return [b.parent.name for b in bundles]


def _reduced_as_codex_reduces(bundle: Path, schema: int) -> dict[str, Any]:
    """Our state of ``bundle``, the same as Codex's for ``schema`` when that Codex is here."""
    ours: dict[str, Any] = orjson.loads(state_bytes(reduce_bundle(bundle)))
    if codex_bin(schema) is not None:
        ok, stderr, theirs = codex_reduce(bundle, schema=schema)
        assert ok, stderr
        assert theirs == ours
    return ours


@pytest.mark.skipif(not V2, reason="../shared/conformance is not present")
@pytest.mark.parametrize("bundle", V2, ids=_ids(V2))
def test_schema_2_round_trip_through_schema_3_keeps_the_state(bundle: Path, tmp_path: Path) -> None:
    """2 → 3 → 2 loses nothing a schema-2 reducer sees: the state is Codex 0.169's, byte for
    byte. In between, Codex 0.171 accepts the schema-3 bundle and reduces it as we do."""
    v3 = tmp_path / "v3"
    convert_bundle(bundle, v3, 3)
    assert orjson.loads((v3 / "manifest.json").read_bytes())["schema_version"] == 3
    assert _reduced_as_codex_reduces(v3, 3)["recording_status"] == "complete"
    back = tmp_path / "v2"
    convert_bundle(v3, back, 2)
    assert state_bytes(reduce_bundle(back)) == (bundle / "expected_state.json").read_bytes()


@pytest.mark.skipif(not V3, reason="../shared/conformance-v3 is not present")
@pytest.mark.parametrize("bundle", V3, ids=_ids(V3))
def test_schema_3_converts_to_schema_2(bundle: Path, tmp_path: Path) -> None:
    """Codex 0.169 reduces the schema-2 bundle as we do; converted back, Codex 0.171 too."""
    out = tmp_path / "v2"
    try:
        convert_bundle(bundle, out, 2)
    except ReduceError as exc:
        assert "schema 2 cannot say so" in exc.message  # cut or omitted payloads
        return
    ours = _reduced_as_codex_reduces(out, 2)
    assert ours["schema_version"] == 2 and ours["recording_complete"] is True
    back = tmp_path / "v3"
    convert_bundle(out, back, 3)
    _reduced_as_codex_reduces(back, 3)


def test_a_second_signal_during_the_clean_up_leaves_no_work_directory(
    tmp_path: Path, demo_bundle: Path, monkeypatch: pytest.MonkeyPatch, signalled_twice: Any
) -> None:
    """An interrupted conversion removes its work directory, but a second signal while it
    did (``timeout`` sends SIGTERM to the command and again to its process group; Ctrl-C
    pressed twice) stopped the removal half-way and left ``.OUT.convert-*`` with what was
    written (found by review user35, 1 in ~50 ``timeout`` runs on a 24 MB bundle). The
    removal now holds signals back and hands them on when done."""
    from rollout_trace_sdk.reduce import convert

    monkeypatch.setattr(convert, "_to_v2", signalled_twice)
    monkeypatch.setattr(convert, "_to_v3", signalled_twice)
    schema = orjson.loads((demo_bundle / "manifest.json").read_bytes())["schema_version"]
    with pytest.raises(KeyboardInterrupt):
        convert_bundle(demo_bundle, tmp_path / "out", 5 - schema)
    assert os.listdir(tmp_path) == []


def test_cli_convert_refuses_an_existing_target(tmp_path: Path, demo_bundle: Path) -> None:
    (tmp_path / "out").mkdir()
    assert main(["convert", str(demo_bundle), "--to", "2", "-o", str(tmp_path / "out")]) == 2
    assert not any((tmp_path / "out").iterdir())


def test_a_target_that_is_a_dangling_symlink_is_refused_as_existing(
    tmp_path: Path, demo_bundle: Path
) -> None:
    """``convert_bundle`` (the API: the CLI checks ``lexists`` first): a symlink names
    something even when what it points at is missing, refused before any work as an
    existing target, the link left as it was (checking ``exists()`` alone let
    the conversion run, then fail to rename over the link with another error, mut30)."""
    link = tmp_path / "out"
    link.symlink_to(tmp_path / "missing")
    with pytest.raises(FileExistsError) as info:
        convert_bundle(demo_bundle, link, 3)
    assert info.value.filename == str(link)
    assert os.readlink(link) == str(tmp_path / "missing")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def _bodies(bundle: Path) -> dict[str, bytes]:
    """Each payload id the log cites -> the bytes stored for it."""
    from rollout_trace_sdk.reduce.bundle import Bundle
    from rollout_trace_sdk.reduce.replay import payload_refs

    opened = Bundle.open(bundle)
    return {
        ref.raw_payload_id: opened.read_payload_bytes(ref)
        for located in opened.events()
        for cited in payload_refs(located.event.payload)
        for ref in cited.walk()
        if ref.available
    }


@pytest.mark.skipif(not V3, reason="../shared/conformance-v3 is not present")
def test_ids_that_would_share_a_file_keep_files_of_their_own(tmp_path: Path) -> None:
    # "raw_payload:01" is an id of its own (Codex keys payloads by the whole id); as
    # payloads/1.json it overwrote raw_payload:1's session metadata
    source = copy_bundle("plain_message", tmp_path / "v3")
    log = source / "trace.jsonl"
    log.write_bytes(log.read_bytes().replace(b'"raw_payload:10"', b'"raw_payload:01"'))
    edit_shard(source, 1, lambda records: {k.replace(":10", ":01"): v for k, v in records.items()})
    before = _bodies(source)
    assert {"raw_payload:1", "raw_payload:01"} <= before.keys()
    out = tmp_path / "v2"
    convert_bundle(source, out, 2)
    after = _bodies(out)  # templates spliced: their parts are cited no more
    assert {"raw_payload:1", "raw_payload:01"} <= after.keys()
    assert after.items() <= before.items()
    assert {oct(p.stat().st_mode & 0o777) for p in out.rglob("*") if p.is_file()} == {"0o600"}


@pytest.mark.skipif(not V3, reason="../shared/conformance-v3 is not present")
def test_a_conversion_that_fails_leaves_nothing(tmp_path: Path) -> None:
    source = corpus_bundle("capture_payload_limit_exec")
    with pytest.raises(ReduceError, match="schema 2 cannot say so"):
        convert_bundle(source, tmp_path / "out", 2)
    assert os.listdir(tmp_path) == []  # neither the target nor a half-written copy


def _v2_copy(scenario: str, into: Path) -> Path:
    found = sorted((CONFORMANCE / scenario).glob("trace-*"))
    if not found:
        pytest.skip(f"../shared/conformance/{scenario} is not present")
    target = into / "bundle"
    shutil.copytree(found[0], target)
    for path in [target, *target.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    return target


def _edit_log(bundle: Path, old: bytes, new: bytes, count: int = 1) -> None:
    log = bundle / "trace.jsonl"
    text = log.read_bytes()
    assert text.count(old) >= count
    log.write_bytes(text.replace(old, new, count))


def test_payloads_past_the_rotation_size_go_to_shards_of_their_own(tmp_path: Path) -> None:
    """2 → 3 starts a new shard before a record would carry the current one past Codex's
    rotation size, as Codex's writer does (no source in the corpora or tests held 8 MiB of
    payloads: writing every record to shard 1 passed every convert test, mut33). Payload
    files padded with whitespace (kept byte for byte, ignored by both Codex builds) hold
    three records of 3 MiB: two shards. Codex 0.171 reduces the copy as 0.169 the source."""
    from tests.reduce.v3_bundles import read_records

    source = _v2_copy("plain_message", tmp_path)
    padded = sorted((source / "payloads").glob("*.json"))[:3]
    for path in padded:
        path.write_bytes(path.read_bytes() + b" " * (3 << 20))
    out = tmp_path / "v3"
    convert_bundle(source, out, 3)
    shards = sorted((out / "payloads").iterdir())
    assert [p.name for p in shards] == ["000001.zst", "000002.zst"]
    for shard in shards:
        records = read_records(shard).items()
        raw = sum(len(layout.shard_record(pid, body)) for pid, body in records)
        assert raw <= layout.SHARD_ROTATE_BYTES
    cited = {
        ref["raw_payload_id"]: ref["shard"]
        for line in (out / "trace.jsonl").read_bytes().splitlines()
        for ref in _refs(orjson.loads(line))
    }
    for shard in shards:
        for pid in read_records(shard):
            assert cited[pid] == int(shard.name.split(".")[0])
    _reduced_as_codex_reduces(out, 3)
    back = tmp_path / "v2"
    convert_bundle(out, back, 2)
    assert state_bytes(reduce_bundle(back)) == state_bytes(reduce_bundle(source))


def _refs(value: object) -> list[dict[str, object]]:
    """Every payload reference (a map with a ``raw_payload_id``) inside ``value``."""
    if isinstance(value, dict):
        own = [value] if "raw_payload_id" in value else []
        return own + [ref for child in value.values() for ref in _refs(child)]
    if isinstance(value, list):
        return [ref for child in value for ref in _refs(child)]
    return []


def test_a_cut_part_of_a_template_is_refused(tmp_path: Path) -> None:
    """A template whose content-value part was cut by ``max_payload_bytes`` (the template
    itself is whole) was converted with the unavailable marker as data, and the schema-2
    bundle said it was complete (found by review)."""
    import anyio

    from rollout_trace_sdk.record import open_rollout

    async def record() -> Path:
        async with (
            open_rollout(tmp_path / "traces", schema_version=3, max_payload_bytes=1000) as rollout,
            rollout.root.turn() as turn,
        ):
            text = {"type": "input_text", "text": "go " * 1000}
            history = turn.accept({"type": "message", "role": "user", "content": [text]})
            async with turn.inference({"model": "m", "input": history}) as call:
                call.completed(output_items=[])
        assert rollout.bundle_dir is not None
        return Path(rollout.bundle_dir)

    source = anyio.run(record)
    with pytest.raises(ReduceError, match=r"\(a part of raw_payload:\d+\) was truncated") as info:
        convert_bundle(source, tmp_path / "out", 2)
    assert info.value.file is not None and info.value.file.endswith("trace.jsonl")
    assert info.value.line is not None and info.value.seq is not None
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not V2, reason="../shared/conformance is not present")
def test_one_id_cited_as_two_payloads_is_refused(tmp_path: Path) -> None:
    """Schema 2 reads a payload by its path, schema 3 by its id: a second citation of an id
    with another path (or kind) lost its body in the conversion (found by review)."""
    source = _v2_copy("single_exec", tmp_path)
    _edit_log(
        source,
        b'"raw_payload_id":"raw_payload:10","kind":{"type":"inference_request"}',
        b'"raw_payload_id":"raw_payload:4","kind":{"type":"inference_request"}',
    )
    reduce_bundle(source)  # schema 2 reads it (so does Codex 0.169)
    with pytest.raises(ReduceError, match="raw_payload:4 is cited as") as info:
        convert_bundle(source, tmp_path / "out", 3)
    assert info.value.line is not None
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not V2, reason="../shared/conformance is not present")
def test_an_id_too_long_for_a_shard_record_is_refused(tmp_path: Path) -> None:
    source = _v2_copy("single_exec", tmp_path)
    long_id = b"raw_payload:" + b"x" * 70_000
    _edit_log(source, b'"raw_payload_id":"raw_payload:13"', b'"raw_payload_id":"' + long_id + b'"')
    with pytest.raises(ReduceError, match="at most 65,535"):
        convert_bundle(source, tmp_path / "out", 3)  # was an internal error (struct.error)


@pytest.mark.skipif(not V3, reason="../shared/conformance-v3 is not present")
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stripped_tool_output_ids", [[4, "fco_1"]]),
        (
            "warmup_context_payload",
            {"raw_payload_id": "raw_payload:2", "kind": {"type": "inference_request"}, "shard": 1},
        ),
    ],
)
def test_what_0_171_reduces_from_a_start_schema_2_lacks_is_refused(
    tmp_path: Path, field: str, value: object
) -> None:
    """Both change what Codex 0.171 reduces and have no schema-2 form: they were dropped."""
    from tests.reduce.v3_bundles import payload_of, read_events, write_events

    source = copy_bundle("single_exec", tmp_path)
    events = read_events(source)
    started = next(e for e in events if payload_of(e)["type"] == "inference_started")
    payload_of(started)[field] = value
    write_events(source, events)
    with pytest.raises(ReduceError, match=f"{field}; schema 2 cannot say so"):
        convert_bundle(source, tmp_path / "out", 2)


@pytest.mark.skipif(not V2, reason="../shared/conformance is not present")
@pytest.mark.parametrize("target", ["-", "", "inside"])
def test_a_target_that_names_no_new_bundle_is_refused(
    tmp_path: Path, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``-`` made a directory named ``-``; a target inside the source wrote into the bundle
    being read (found by review)."""
    source = _v2_copy("single_exec", tmp_path)
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in source.rglob("*"))
    out: str | Path = source / "payloads" / "converted" if target == "inside" else target
    with pytest.raises(ReduceError, match="give a"):
        convert_bundle(source, out, 3)
    assert sorted(p.name for p in source.rglob("*")) == before
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize(("signame", "says"), [("SIGTERM", b"terminated"), ("SIGHUP", b"hung up")])
def test_a_stop_signal_mid_conversion_leaves_nothing(
    tmp_path: Path, signame: str, says: bytes
) -> None:
    """``kill`` (or ``timeout``) during a conversion left the half-written bundle beside the
    target (found by review): SIGTERM now ends the command as Ctrl-C does, cleanup included;
    so does SIGHUP (the terminal closed), which killed it on the spot (session 29)."""
    import signal
    import subprocess
    import sys
    import time

    from rollout_trace_sdk.model import layout

    source = tmp_path / "demo"
    assert main(["demo", "--out", str(source), "--scale", "60"]) == 0
    bundle = next(p for p in source.iterdir() if p.is_dir())
    command = [sys.executable, "-m", "rollout_trace_sdk", "convert", str(bundle), "--to", "3"]
    for attempt in range(5):
        target = tmp_path / f"out{attempt}"
        child = subprocess.Popen(
            [*command, "-o", str(target)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None:
            if any(layout.is_work_in_progress(p.name) for p in tmp_path.iterdir()):
                child.send_signal(getattr(signal, signame))
                break
            time.sleep(0.002)
        _, err = child.communicate(timeout=60)
        assert not any(layout.is_work_in_progress(p.name) for p in tmp_path.iterdir())
        if child.returncode == 128 + getattr(signal, signame):
            assert says in err and not target.exists()
            return
        assert child.returncode == 0  # finished before the signal: try again
    pytest.skip("the conversion finished before it could be interrupted, 5 times")


@pytest.mark.skipif(not V3, reason="../shared/conformance-v3 is not present")
def test_a_refusal_over_a_payload_names_the_event_that_cited_it(tmp_path: Path) -> None:
    """``reduce`` names the seq of the event whose payload is missing; ``convert`` named only
    the shard (found by review)."""
    source = CONFORMANCE_V3 / "_errors" / "missing_payload" / "bundle"
    if not source.is_dir():
        pytest.skip("the error corpus is not present")
    with pytest.raises(ReduceError) as converting:
        convert_bundle(source, tmp_path / "out", 2)
    with pytest.raises(ReduceError) as reducing:
        reduce_bundle(source)
    assert converting.value.seq is not None
    assert (converting.value.file, converting.value.seq) == (
        reducing.value.file,
        reducing.value.seq,
    )


@pytest.mark.skipif(not V3, reason="../shared/conformance-v3 is not present")
def test_a_source_0_171_refuses_for_an_unfinished_shard_is_refused(tmp_path: Path) -> None:
    """A closed log over a shard whose frame was cut: strict reduction and Codex 0.171 refuse
    it, and ``convert --to 2`` wrote a schema-2 bundle 0.169 read as complete (found by
    review). The same shard unfinished in a log cut short is what a crash leaves: converted."""
    import zstandard

    bundle = copy_bundle("view_image", tmp_path / "src")
    shard = max((bundle / "payloads").glob("*.zst"))
    begun = zstandard.ZstdCompressor(write_checksum=True).compress(b"x" * 64)[:9]
    with shard.open("ab") as handle:
        handle.write(begun)  # the records are whole; the frame after them is not
    with pytest.raises(ReduceError) as info:
        convert_bundle(bundle, tmp_path / "out", 2)
    assert info.value.message == f"missing footer in payload shard {int(shard.stem)}"
    assert not (tmp_path / "out").exists()
    log = bundle / "trace.jsonl"
    log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:-1]))  # cut short
    convert_bundle(bundle, tmp_path / "out", 2)
    assert reduce_bundle(tmp_path / "out").recording_complete is False


@pytest.mark.skipif(not V3, reason="../shared/conformance-v3 is not present")
@pytest.mark.parametrize("scenario", ["capture_payload_limit_exec", "code_mode_nested_tool"])
def test_a_bundle_of_the_schema_asked_for_is_refused(
    scenario: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--to 3`` on a schema-3 bundle ran the 2 → 3 writer over it: a payload the recorder cut
    was written as whole (Codex 0.171 and we then refused the copy: "inference request payload
    raw_payload:4 did not contain input") and templates lost their parts (found by review)."""
    source = corpus_bundle(scenario)
    with pytest.raises(ReduceError, match="the bundle is schema 3 already") as info:
        convert_bundle(source, tmp_path / "out", 3)
    assert info.value.file == f"{source}/manifest.json"
    assert not (tmp_path / "out").exists()
    assert main(["convert", str(source), "--to", "3", "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "convert writes the other schema" in err and f"at {source}/manifest.json" in err
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(not V2, reason="../shared/conformance is not present")
def test_a_schema_2_bundle_asked_for_schema_2_is_refused(tmp_path: Path) -> None:
    source = _v2_copy("single_exec", tmp_path)
    with pytest.raises(ReduceError, match="the bundle is schema 2 already"):
        convert_bundle(source, tmp_path / "out", 2)
    assert not (tmp_path / "out").exists()


def test_a_target_with_a_name_as_long_as_the_file_system_takes(
    tmp_path: Path, demo_bundle: Path
) -> None:
    """A 255-byte target name was refused ("Filename too long"): the hidden name the bundle
    is written under first is the target's name with 22 more bytes (found by review)."""
    name = "é" * 127 + "x"  # 255 bytes in UTF-8, NAME_MAX
    assert main(["convert", str(demo_bundle), "--to", "3", "-o", str(tmp_path / name)]) == 0
    assert reduce_bundle(tmp_path / name).schema_version == 3
    assert os.listdir(tmp_path) == [name]


def _files(bundle: Path) -> dict[str, bytes]:
    return {str(p.relative_to(bundle)): p.read_bytes() for p in bundle.rglob("*") if p.is_file()}


# the recorder's property sequences misuse handles (work on an ended turn, a second ending)
# and overflow a small budget; the warnings it gives for them are test_recorder_properties'
# concern, not this conversion's
@pytest.mark.filterwarnings("ignore::rollout_trace_sdk.record.RecorderWarning")
@settings(
    max_examples=int(os.environ.get("CONVERT_PROPERTY_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    ops=st.lists(st.sampled_from(OPS), max_size=30),
    budget=st.sampled_from([2_000, 64 << 20]),
    schema=st.sampled_from([2, 3]),
)
def test_what_our_recorder_writes_converts_and_converts_back(
    ops: list[Op], budget: int, schema: int
) -> None:
    """Differential: any bundle our recorder writes (errors, cancellation, dropped records)
    converts to the other schema, which that schema's Codex reduces exactly as we do; back
    again, a schema-2 bundle is the same files byte for byte (less a payload no event cites:
    a full queue can drop the event after its payload), and a schema-3 one reduces as Codex
    0.171 reduces it."""
    import tempfile

    import anyio

    from rollout_trace_sdk.testing import reduce_and_compare
    from tests.record.recorder_support import bundle_in

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "traces"
        anyio.run(run_ops, root, ops, budget, schema)
        source = bundle_in(root)
        there, back = Path(tmp) / "there", Path(tmp) / "back"
        try:
            convert_bundle(source, there, 5 - schema)
        except ReduceError as exc:  # schema 3 keeps a payload the full queue dropped as omitted
            assert schema == 3 and "schema 2 cannot say so" in exc.message, exc
            assert not there.exists()
            return
        convert_bundle(there, back, schema)
        for bundle, schema_of in ((there, 5 - schema), (back, schema)):
            codex = codex_bin(schema_of)
            if codex is not None:
                result = reduce_and_compare(bundle, codex, timeout=60)
                assert result.same_text, result.explain()
        if schema == 2:  # the same log, and each payload it cites the same file
            kept, written = _files(back), _files(source)
            assert kept["trace.jsonl"] == written["trace.jsonl"]
            assert kept.items() <= written.items()  # a payload whose event was dropped is not
