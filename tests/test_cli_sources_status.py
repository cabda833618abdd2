"""``ls``'s status column: what a bundle's log says (and whether a writer holds it), the
rollout's own status beside it, and the start time the manifest gives. Bundles recorded as in
``test_cli_sources``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import anyio
import orjson
import pytest

from rollout_trace_sdk._log_status import bundle_status
from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.sources import bundle_info
from tests.test_cli_sources import _bundle, _started, run


def test_ls_names_a_rollout_status_only_when_it_is_not_completed(tmp_path: Path) -> None:
    """A bundle whose rollout ended ``completed`` reads ``complete``; one that ended another
    way says how beside it. Naming every rollout status (``complete (completed)`` on every
    row) passed every sources test (mut33)."""
    done = _bundle(tmp_path / "traces")
    failed = tmp_path / "traces" / "failed"
    shutil.copytree(done, failed)
    log = failed / "trace.jsonl"
    ended = b'"type":"rollout_ended","status":"completed"'
    assert log.read_bytes().count(ended) == 1
    log.write_bytes(log.read_bytes().replace(ended, ended.replace(b"completed", b"failed")))
    code, out, _ = run("ls", tmp_path / "traces")
    assert code == 0
    by_name = {Path(row.split()[-1]).name: row for row in out.splitlines()[1::2]}
    assert by_name[done.name].split()[2:4] == ["complete", "1"]
    assert " complete (failed) " in by_name["failed"]


def test_a_log_its_writer_holds_is_recording_unless_it_is_complete(tmp_path: Path) -> None:
    """A writer holds the log's lock until it closes the file, a moment after its last line
    (``recording_completed``): that bundle reads ``complete``, one without it ``recording``.
    Reading every held log as ``recording`` passed every sources test (mut33)."""
    fcntl = pytest.importorskip("fcntl")
    done = _bundle(tmp_path / "traces")
    unclosed = tmp_path / "traces" / "unclosed"
    shutil.copytree(done, unclosed)
    lines = (unclosed / "trace.jsonl").read_bytes().splitlines(keepends=True)
    (unclosed / "trace.jsonl").write_bytes(b"".join(lines[:-2]))
    held = [os.open(b / "trace.jsonl", os.O_RDWR) for b in (done, unclosed)]
    try:
        for fd in held:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        code, out, _ = run("ls", tmp_path / "traces")
    finally:
        for fd in held:
            os.close(fd)
    assert code == 0
    by_name = {Path(row.split()[-1]).name: row for row in out.splitlines()[1::2]}
    assert by_name[done.name].split()[2] == "complete"
    assert by_name["unclosed"].split()[2] == "recording"


def test_a_start_time_given_as_true_is_read_from_the_log_instead(tmp_path: Path) -> None:
    """``started_at_unix_ms: true`` is no time (JSON's true is no number; Python's bool is an
    int): the log's modification time stands in, as for any other value that is not an
    integer. Taking true as 1 ms (1970) passed every sources test (mut33)."""
    bundle = _bundle(tmp_path / "traces")
    manifest = bundle / "manifest.json"
    started = _started(bundle)
    text = manifest.read_bytes().replace(str(started).encode(), b"true")
    manifest.write_bytes(text)
    assert orjson.loads(text)["started_at_unix_ms"] is True
    code, out, _ = run("ls", tmp_path / "traces", "--json")
    assert code == 0
    mtime = int((bundle / "trace.jsonl").stat().st_mtime * 1000)
    assert orjson.loads(out.splitlines()[0])["started_at_unix_ms"] == mtime


def test_the_status_alone_is_the_status_of_the_whole_reading(tmp_path: Path) -> None:
    """``sources.bundle_status`` (what ``ls --status`` and ``ls -0`` read: the log's lock and
    tail only) gives every bundle the status and outcome ``bundle_info`` gives it: whole,
    failed, ended, unclosed, torn, empty, without a log, held by a writer."""
    fcntl = pytest.importorskip("fcntl")
    traces = tmp_path / "traces"
    done = _bundle(traces)
    lines = (done / "trace.jsonl").read_bytes().splitlines(keepends=True)
    ended = b'"type":"rollout_ended","status":"completed"'
    logs = {
        "failed": b"".join(lines).replace(ended, ended.replace(b"completed", b"failed")),
        "ended": b"".join(lines[:-1]),
        "unclosed": b"".join(lines[:-2]),
        "torn": b"".join(lines)[:-20],
        "empty": b"",
        "held": b"".join(lines[:-2]),
    }
    for name, log in logs.items():
        shutil.copytree(done, traces / name)
        (traces / name / "trace.jsonl").write_bytes(log)
    shutil.copytree(done, traces / "no-log")
    (traces / "no-log" / "trace.jsonl").unlink()
    held = os.open(traces / "held" / "trace.jsonl", os.O_RDWR)
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        seen = {}
        for bundle in traces.iterdir():
            info = bundle_info(bundle)
            said = bundle_status(bundle)
            assert (said.status, said.rollout_status) == (info.status, info.rollout_status)
            seen[bundle.name] = info.status
    finally:
        os.close(held)
    assert seen == {
        done.name: "complete",
        "failed": "complete",
        "ended": "ended",
        "unclosed": "unclosed",
        "torn": "torn",
        "empty": "empty",
        "no-log": "no log",
        "held": "recording",
    }


def _limited(root: Path) -> Path:
    """A schema-3 bundle whose request and answer are longer than its payload limit."""

    async def record() -> Path:
        async with (
            open_rollout(root, schema_version=3, max_payload_bytes=200) as rollout,
            rollout.root.turn() as turn,
        ):
            message = {"type": "message", "role": "user", "content": "y" * 5000}
            call = turn.inference({"model": "m", "input": [message]})
            answer = {"type": "message", "role": "assistant", "content": "z" * 3000}
            call.completed(response_id="r", output_items=[answer])
        assert rollout.bundle_dir is not None
        return rollout.bundle_dir

    return anyio.run(record)


def test_a_bundle_with_payloads_cut_by_a_capture_limit_is_partial(tmp_path: Path) -> None:
    """A payload stored ``truncated`` (or ``omitted``) by a capture limit makes the bundle
    ``complete (partial)`` (the reducers' ``closed_with_partial_payloads``), in ``--json``
    too, and ``--status partial`` picks it, as rows and as paths alone (which otherwise
    read the log's tail only). Before, it listed ``complete`` as a whole one."""
    traces = tmp_path / "traces"
    cut = _limited(traces)
    whole = _bundle(traces)
    assert bundle_info(cut).partial and not bundle_info(whole).partial
    code, out, _ = run("ls", traces)
    rows = {Path(row.split()[-1]).name: row for row in out.splitlines()[1::2]}
    assert " complete (partial) " in rows[cut.name] and "partial" not in rows[whole.name]
    code, out, _ = run("ls", traces, "--json")
    assert {Path(r["bundle"]).name: r["partial"] for r in map(orjson.loads, out.splitlines())} == {
        cut.name: True,
        whole.name: False,
    }
    for shown in ([], ["-1"]):
        code, out, _ = run("ls", traces, "--status", "partial", *shown)
        listed = out.splitlines()[1::2] if not shown else out.splitlines()
        assert code == 0 and [Path(line.split()[-1]).name for line in listed] == [cut.name]


@pytest.mark.parametrize("shift", [-22, -21, -9, -1, 0])
def test_a_capture_cut_by_a_read_chunk_is_found(tmp_path: Path, shift: int) -> None:
    """The log is read in chunks: a capture's marker cut by a chunk's end is found with the
    next chunk's bytes."""
    from rollout_trace_sdk.sources import _CAPTURED_IN_PART, _CHUNK

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    line = b'{"seq":1,"payload":{"ref":{"capture":{"status":"omitted"}}}}\n'
    at = line.index(_CAPTURED_IN_PART)
    pad = _CHUNK + shift - at - len(b'{"payload":{"type":"other","pad":""}}\n')
    log = b'{"payload":{"type":"other","pad":"' + b"x" * pad + b'"}}\n' + line
    assert log.index(_CAPTURED_IN_PART) == _CHUNK + shift
    (bundle / "trace.jsonl").write_bytes(log)
    assert bundle_info(bundle).partial


def test_ls_says_partial_of_the_corpus_bundles_the_reducer_says_it_of() -> None:
    """Every bundle of Codex 0.171's corpus: ``ls`` finds a partial capture exactly where
    Codex's state says ``closed_with_partial_payloads`` (or ``unclosed`` with one)."""
    from tests.conftest import CONFORMANCE_V3, conformance_bundles

    if not CONFORMANCE_V3.is_dir():
        pytest.skip("../shared/conformance-v3 is not present")
    seen = []
    for bundle in conformance_bundles(CONFORMANCE_V3):
        state = orjson.loads((bundle / "expected_state.json").read_bytes())
        partial = state["recording_status"] == "closed_with_partial_payloads"
        assert bundle_info(bundle).partial is partial or state["recording_status"] == "unclosed", (
            bundle
        )
        seen.append(partial)
    assert seen.count(True) >= 2 and seen.count(False) >= 30
