"""``ls``'s status of a bundle whose recorder reported loss: ``lossy`` beside the status, in
``--json``, and picked by ``--status lossy``. Before, a bundle that dropped events listed as
``complete``, as one that holds everything (session 38's notes). And a Codex run whose turn
failed (a model error: the rollout still ends ``completed``): ``complete (failed turn)``,
picked by ``--status failed`` (fix47)."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import anyio
import pytest

from rollout_trace_sdk._log_status import bundle_status
from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.sources import bundle_info
from tests.conftest import CONFORMANCE, CONFORMANCE_V3, needs_conformance, needs_conformance_v3
from tests.test_cli_sources import run


def record_one_turn(root: Path, *, schema: int, drop: bool = False, secret: bool = False) -> Path:
    """One turn; with ``drop``, a queue so small under ``overflow="drop"`` that events are
    dropped (the loss report); with ``secret``, a planted key (the redaction report only)."""

    async def record() -> Path:
        small = {"overflow": "drop", "max_queued_bytes": 2000} if drop else {}
        async with (
            open_rollout(root, schema_version=schema, **small) as rollout,  # type: ignore[arg-type]
            rollout.root.turn() as turn,
        ):
            await rollout.flush()
            text = "sk-proj-" + "A1b2C3d4" * 6 if secret else "x" * 37
            message = {"type": "message", "role": "user", "content": text}
            call = turn.inference({"model": "m", "input": [message]})
            call.completed(response_id="r", output_items=[])
        assert rollout.bundle_dir is not None
        return rollout.bundle_dir

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return anyio.run(record)


@pytest.mark.parametrize("schema", [2, 3])
def test_a_bundle_whose_recorder_dropped_events_is_listed_lossy(
    tmp_path: Path, schema: int
) -> None:
    """The loss report (a payload: a file in schema 2, a shard's record in 3) makes the
    bundle ``complete (lossy)``; a redaction report alone or a warning of the agent's own
    does not. Without the report's reading all three listed ``complete``."""
    traces = tmp_path / "traces"
    lossy = record_one_turn(traces, schema=schema, drop=True)
    redacted = record_one_turn(traces, schema=schema, secret=True)
    whole = record_one_turn(traces, schema=schema)
    assert b'"warning"' in (lossy / "trace.jsonl").read_bytes()
    assert b'"warning"' in (redacted / "trace.jsonl").read_bytes()
    said = {b: bundle_status(b) for b in (lossy, redacted, whole)}
    assert [(s.status, s.lossy) for s in said.values()] == [
        ("complete", True),
        ("complete", False),
        ("complete", False),
    ]
    assert bundle_info(lossy).lossy and not bundle_info(redacted).lossy

    code, out, _ = run("ls", traces)
    assert code == 0
    rows = {Path(row.split()[-1]).name: row for row in out.splitlines()[1::2]}
    assert " complete (lossy) " in rows[lossy.name]
    assert " complete " in rows[redacted.name] and "lossy" not in rows[redacted.name]
    header = out.splitlines()[0]
    ends = [row.index("1 thread") + len("1 thread") for row in rows.values()]
    assert ends == [header.index("THREADS") + len("THREADS")] * 3  # the columns kept

    code, out, _ = run("ls", traces, "--json")
    by_path = {Path(row["bundle"]).name: row for row in map(json.loads, out.splitlines())}
    assert {name: row["lossy"] for name, row in by_path.items()} == {
        lossy.name: True,
        redacted.name: False,
        whole.name: False,
    }
    assert by_path[lossy.name]["status"] == "complete"  # the word scripts compare, unchanged

    for shown in ("-1", "--json"):
        code, out, _ = run("ls", traces, "--status", "lossy", shown)
        assert code == 0
        assert [
            Path(line.split('"')[3] if shown == "--json" else line).name
            for line in out.splitlines()
        ] == [lossy.name]


def test_a_failed_lossy_rollout_says_both_and_an_unreadable_report_is_no_loss(
    tmp_path: Path,
) -> None:
    """Both brackets at once (``complete (failed, lossy)``) keep the columns; a loss report
    whose payload is gone is not read as loss (``ls`` never fails on a bundle)."""
    traces = tmp_path / "traces"
    lossy = record_one_turn(traces, schema=2, drop=True)
    log = lossy / "trace.jsonl"
    ended = b'"type":"rollout_ended","status":"completed"'
    log.write_bytes(log.read_bytes().replace(ended, ended.replace(b"completed", b"failed")))
    code, out, _ = run("ls", traces)
    assert code == 0 and " complete (failed, lossy) " in out.splitlines()[1]
    gone = tmp_path / "traces" / "gone"
    shutil.copytree(lossy, gone)
    shutil.rmtree(gone / "payloads")
    assert not bundle_status(gone).lossy
    assert bundle_status(gone).status == "complete"


def _codex_bundle(corpus: Path, scenario: str, root: Path) -> Path:
    (bundle,) = (corpus / scenario).glob("trace-*")
    return Path(shutil.copytree(bundle, root / bundle.name))


@needs_conformance
@needs_conformance_v3
def test_a_codex_run_whose_turn_failed_is_listed_by_status_failed(tmp_path: Path) -> None:
    """Codex ends a session whose turn failed (a non-retryable model error) with
    ``rollout_ended`` ``completed``; ``ls`` listed it ``complete`` and ``--status failed``
    found nothing (fix47). The root agent's last turn is in the log's tail: ``complete (failed
    turn)``, ``last_turn_failed`` in ``--json``, and ``--status failed`` picks it. A sub-agent's
    failed turn (its parent went on) and an interrupted turn are no failed run."""
    root = tmp_path / "traces"
    failed = [
        _codex_bundle(CONFORMANCE, "inference_fatal_error", root),
        _codex_bundle(CONFORMANCE_V3, "inference_fatal_error", root),
    ]
    others = [
        _codex_bundle(CONFORMANCE, name, root)
        for name in ("multi_agent_v2_child_failure", "app_server_turn_interrupt", "plain_message")
    ]
    assert [bundle_status(b).last_turn_failed for b in failed + others] == [True] * 2 + [False] * 3
    assert all(bundle_info(b).last_turn_failed for b in failed)
    code, out, _ = run("ls", root)
    assert code == 0
    rows = {Path(row.split()[-1]).name: row for row in out.splitlines()[1::2]}
    assert all(" complete (failed turn) " in rows[b.name] for b in failed)
    assert all(" complete " in rows[b.name] and "failed" not in rows[b.name] for b in others)
    for shown in ("-1", "--json", None):  # the tail alone (paths), or each bundle read whole
        code, out, _ = run("ls", root, "--status", "failed", *([shown] if shown else []))
        assert code == 0
        listed = out.splitlines()[1::2] if shown is None else out.splitlines()
        names = {
            Path(line.split('"')[3] if shown == "--json" else line.split()[-1]).name
            for line in listed
        }
        assert names == {b.name for b in failed}
    code, out, _ = run("ls", root, "--json")
    by_path = {Path(row["bundle"]).name: row for row in map(json.loads, out.splitlines())}
    assert {name: row["last_turn_failed"] for name, row in by_path.items()} == {
        b.name: b in failed for b in failed + others
    }
    assert {row["status"] for row in by_path.values()} == {"complete"}  # the word unchanged


def test_a_turn_started_after_the_failed_one_leaves_no_failed_turn(tmp_path: Path) -> None:
    """The root agent's *last* turn decides: one that failed, then another started (ended or
    not), is a run that went on; a failed turn of another thread is not the root's."""
    rollout = "r-1"

    def line(seq: int, kind: str, thread: str | None, **more: object) -> bytes:
        payload = {"type": kind, **more}
        event = {"seq": seq, "rollout_id": rollout, "thread_id": thread, "payload": payload}
        return json.dumps(event).encode() + b"\n"

    def status_of(*lines: bytes) -> bool:
        bundle = tmp_path / f"b{len(list(tmp_path.iterdir()))}"
        bundle.mkdir()
        (bundle / "trace.jsonl").write_bytes(b"".join(lines))
        return bundle_status(bundle).last_turn_failed

    failed = line(2, "codex_turn_ended", rollout, status="failed")
    assert status_of(line(1, "codex_turn_started", rollout), failed)
    assert not status_of(failed, line(3, "codex_turn_started", rollout))
    again = line(4, "codex_turn_ended", rollout, status="completed")
    assert not status_of(failed, line(3, "codex_turn_started", rollout), again)
    assert not status_of(line(2, "codex_turn_ended", "child", status="failed"))
