"""Scenario 42 (writer round trip) and the rollout/thread/turn lifecycle rules of schema 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.model import events as ev
from tests.reduce.builder import ROOT, TURN, Scenario, message, request, response, start_tool
from tests.reduce.test_terminals import EXEC, STDIN, exec_runtime


def test_42_writer_round_trip(bundle: Scenario) -> None:
    bundle.event(ev.RolloutStarted("trace-1", ROOT))
    metadata = bundle.payload("protocol_event", {"source": "test", "model": "gpt-test"})
    bundle.event(ev.ThreadStarted(ROOT, "/root", metadata))
    bundle.start_turn()
    req = bundle.payload("inference_request", request(message("user", "hello")))
    bundle.event(
        ev.InferenceStarted("inference-1", ROOT, TURN, "gpt-test", "test-provider", req),
        thread=ROOT,
        turn=TURN,
    )
    resp = bundle.payload("inference_response", {"response_id": "resp-1", "output_items": []})
    bundle.event(
        ev.InferenceCompleted("inference-1", "resp-1", "req-1", resp), thread=ROOT, turn=TURN
    )
    bundle.end_turn()
    bundle.finish()
    state = bundle.reduce()
    assert state["status"] == "completed" and state["recording_complete"] is True
    assert state["root_thread_id"] == ROOT
    assert state["threads"][ROOT]["agent_path"] == "/root"
    assert state["threads"][ROOT]["default_model"] == "gpt-test"
    assert state["codex_turns"][TURN]["execution"]["status"] == "completed"
    call = state["inference_calls"]["inference-1"]
    assert (call["raw_request_payload_id"], call["raw_response_payload_id"]) == (
        "raw_payload:2",
        "raw_payload:3",
    )
    assert call["response_id"] == "resp-1" and call["upstream_request_id"] == "req-1"
    assert state["raw_payloads"]["raw_payload:1"]["path"] == "payloads/1.json"


def test_empty_log_reduces_to_a_running_rollout(bundle: Scenario) -> None:
    (bundle.root / "trace.jsonl").write_bytes(b"\n\n")
    state = bundle.reduce()
    assert state["status"] == "running" and state["recording_complete"] is False
    assert state["threads"] == {}


def test_recording_completed_alone(bundle: Scenario) -> None:
    bundle.event(ev.RecordingCompleted())
    state = bundle.reduce()
    assert (state["status"], state["recording_complete"]) == ("running", True)


def test_thread_resume_reopens_an_ended_thread(bundle: Scenario) -> None:
    bundle.begin()
    bundle.event(ev.ThreadEnded(ROOT, "completed"))
    bundle.event(ev.RolloutEnded("completed"))
    bundle.event(ev.ThreadResumed(ROOT))
    state = bundle.reduce()
    assert state["status"] == "completed"
    assert state["threads"][ROOT]["execution"]["status"] == "running"
    assert state["threads"][ROOT]["execution"]["ended_seq"] is None


def test_resuming_a_running_thread_fails(bundle: Scenario) -> None:
    bundle.begin()
    bundle.event(ev.ThreadResumed(ROOT))
    assert bundle.reduce_error().message == f"resumed thread {ROOT} has not ended"


def test_resuming_an_unknown_thread_fails(bundle: Scenario) -> None:
    bundle.begin()
    bundle.event(ev.ThreadResumed("elsewhere"))
    error = bundle.reduce_error()
    assert error.message.startswith(
        "cannot resume thread elsewhere: it was not started in this trace"
    )
    assert error.cause == "trace event referenced unknown thread elsewhere"


def test_acceptance_needs_a_thread(bundle: Scenario) -> None:
    bundle.begin()
    bundle.accept("u1", thread_id=None, turn_id=TURN)
    assert bundle.reduce_error().message == "history acceptance has no thread"


def test_duplicate_thread_start(bundle: Scenario) -> None:
    bundle.begin()
    bundle.start_thread()
    assert bundle.reduce_error().message == f"duplicate thread start for {ROOT}"


def test_turn_end_on_another_thread(bundle: Scenario) -> None:
    bundle.begin()
    bundle.start_thread("t2", "/root/t2")
    bundle.event(ev.CodexTurnEnded(TURN, "completed"), thread="t2", turn=TURN)
    assert bundle.reduce_error().message == (
        f"codex turn end for {TURN} used thread t2, but the turn belongs to {ROOT}"
    )


def test_other_event_is_refused(bundle: Scenario) -> None:
    bundle.begin()
    bundle.event(ev.Other("custom", "s", [], None))
    assert bundle.reduce_error().message == "raw trace event has no reducer implementation"


def test_missing_payload_fails_at_the_end(bundle: Scenario) -> None:
    bundle.begin()
    ref = bundle.payload("protocol_event", {"type": "x"})
    (bundle.root / ref.path).unlink()
    bundle.event(ev.ProtocolEventObserved("warning", ref))
    error = bundle.reduce_error()
    assert error.message == "read payload raw_payload:1"


def test_errors_say_where(bundle: Scenario) -> None:
    bundle.begin()
    bundle.event(ev.ThreadEnded("nobody", "completed"))
    error = bundle.reduce_error()
    assert (error.line, error.seq) == (4, 4)
    assert error.file is not None and error.file.endswith("trace.jsonl")


def test_lenient_replay_skips_an_event_whose_payload_is_missing(bundle: Scenario) -> None:
    from rollout_trace_sdk.reduce import reduce_bundle

    bundle.begin()
    bundle.infer("inf-1", request(message("user", "hello")))
    (bundle.root / "payloads" / "1.json").unlink()
    bundle.end_turn()
    notes: list[str] = []
    trace = reduce_bundle(bundle.root, lenient=True, skipped=notes)
    assert trace.inference_calls == {}
    assert trace.codex_turns[TURN].execution.status == "completed"
    assert any("seq 4" in note for note in notes)


def _resume(bundle: Scenario) -> None:
    bundle.event(ev.ThreadEnded(ROOT, "completed"))
    bundle.event(ev.ThreadResumed(ROOT))


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("materialised", [False, True])
def test_a_resumed_thread_forgets_its_runtime_cells(
    tmp_path: Path, schema: int, materialised: bool
) -> None:
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    if materialised:
        call = {"type": "custom_tool_call", "id": "x1", "call_id": "c1", "name": "exec"}
        bundle.infer("i1", request(message("user", "q")), response({**call, "input": "t"}))
    bundle.event(ev.CodeCellStarted("1", "c1", "t"), thread=ROOT, turn=TURN)
    _resume(bundle)
    bundle.event(ev.CodeCellEnded("1", "completed", None), thread=ROOT, turn=TURN)
    assert (
        bundle.reduce_error().message
        == f"code cell end referenced unknown runtime cell 1 in thread {ROOT}"
    )


@pytest.mark.parametrize("schema", [2, 3])
def test_a_resumed_thread_may_map_a_runtime_cell_anew(tmp_path: Path, schema: int) -> None:
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    bundle.event(ev.CodeCellStarted("1", "c1", "t"), thread=ROOT, turn=TURN)
    _resume(bundle)
    bundle.event(ev.CodeCellStarted("1", "c2", "t"), thread=ROOT, turn=TURN)
    bundle.finish()
    assert bundle.reduce()["code_cells"] == {}  # both wait for their exec item


@pytest.mark.parametrize("schema", [2, 3])
def test_a_resumed_thread_forgets_its_processes(tmp_path: Path, schema: int) -> None:
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    start_tool(bundle, "call-e", EXEC, "exec_command", '{"cmd": "cat"}')
    exec_runtime(bundle, "call-e", "77")
    _resume(bundle)
    start_tool(bundle, "call-w", STDIN, "write_stdin", '{"session_id": "77"}')
    bundle.finish()
    sessions = bundle.reduce()["terminal_sessions"]
    assert sorted(sessions) == [
        "terminal_session:terminal_operation:1",
        "terminal_session:terminal_operation:2",
    ]


PARENT = "01a20c59-0000-7000-8000-000000000001"
CHILD = "01a20c59-0000-7000-8000-000000000002"


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize(
    ("spawn", "metadata", "path", "origin"),
    [
        (
            {"task_name": "spawned", "agent_path": "/root/a"},
            {"task_name": "meta"},
            "/root/w",
            ("spawned", ""),
        ),
        ({"agent_role": None}, {"agent_role": "meta_role"}, "/root/w", ("w", "meta_role")),
        ({}, {}, "/root/from_path", ("from_path", "")),
    ],
    ids=["spawn-task-first", "metadata-role", "task-from-thread-path"],
)
def test_a_spawned_threads_task_and_role_come_in_codexs_order(
    tmp_path: Path,
    schema: int,
    spawn: dict[str, Any],
    metadata: dict[str, Any],
    path: str,
    origin: tuple[str, str],
) -> None:
    """A spawned thread's task name is the spawn's, else the metadata's, else the last segment
    of an agent path (the spawn's, the metadata's, then the thread's own); its role the
    spawn's, else the metadata's (checked with Codex 0.169 and 0.171). Taking the metadata's
    task first, leaving out the metadata's role or the thread's own path passed every test
    (mut32)."""
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.event(ev.RolloutStarted("trace-1", PARENT))
    bundle.start_thread(PARENT, "/root", {"thread_id": PARENT, "agent_path": "/root"})
    source = {"subagent": {"thread_spawn": {"parent_thread_id": PARENT, "depth": 1, **spawn}}}
    bundle.start_thread(CHILD, path, {"session_source": source, **metadata})
    found = bundle.reduce()["threads"][CHILD]["origin"]
    assert (found["task_name"], found["agent_role"]) == origin


def test_a_lenient_note_of_missing_thread_metadata_names_its_event(bundle: Scenario) -> None:
    """Each thing lenient replay skips is a line with the line and seq of its event
    (docs/reducing.md, Lenient mode), as ``convert --lenient`` words this very note: the one
    for a thread's missing metadata named the payload file alone, relative to the bundle,
    beside the end check's note naming the same file from the bundle's path (docs38)."""
    from rollout_trace_sdk.reduce import reduce_bundle

    bundle.event(ev.RolloutStarted("trace-1", ROOT))
    bundle.start_thread(metadata={"model": "m"})
    bundle.start_turn()
    (bundle.root / "payloads" / "1.json").unlink()
    notes: list[str] = []
    reduce_bundle(bundle.root, lenient=True, skipped=notes)
    assert notes[0].startswith("line 2 (seq 2): went on without payload raw_payload:1 (open "), (
        notes
    )
    assert str(bundle.root / "payloads" / "1.json") in notes[0]
