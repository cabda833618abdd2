"""Reducer scenarios 24-27: code-mode cells."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.model import events as ev
from tests.reduce.builder import ROOT, TURN, Scenario, message, request, response

SOURCE = "const r = await tools.exec_command({cmd: 'ls'});\ntext(r.output);\n"


def exec_call(call_id: str = "call-cell", rid: str = "ctc1") -> dict[str, Any]:
    return {
        "type": "custom_tool_call",
        "id": rid,
        "call_id": call_id,
        "name": "exec",
        "input": SOURCE,
    }


def exec_output(text: str, rid: str, call_id: str = "call-cell") -> dict[str, Any]:
    return {"type": "custom_tool_call_output", "id": rid, "call_id": call_id, "output": text}


def _result(bundle: Scenario, kind: str, status_text: str | None = None) -> ev.RawPayloadRef:
    body: dict[str, Any] = {"cell_id": "1", "content_items": []}
    if kind == "Result":
        body["error_text"] = status_text
    return bundle.payload("tool_result", {"response": {kind: body}})


def _exec_tool(
    bundle: Scenario, call_id: str = "call-cell", thread: str = ROOT, turn: str = TURN
) -> None:
    invocation = bundle.payload(
        "tool_invocation",
        {
            "tool_name": "exec",
            "tool_namespace": None,
            "payload": {"type": "custom", "input": SOURCE},
        },
    )
    bundle.event(
        ev.ToolCallStarted(
            call_id,
            call_id,
            None,
            ev.ModelRequester(),
            ev.ToolCallKind.other("exec"),
            ev.GenericSummary("exec", SOURCE),
            invocation,
        ),
        thread=thread,
        turn=turn,
    )


def test_24_full_lifecycle_with_yield_nested_tool_and_wait(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "run", "u1")), response(exec_call()))
    _exec_tool(bundle)
    bundle.event(ev.CodeCellStarted("1", "call-cell", SOURCE), thread=ROOT, turn=TURN)
    nested = bundle.payload(
        "tool_invocation",
        {
            "tool_name": "lookup",
            "tool_namespace": None,
            "payload": {"type": "function", "arguments": "{}"},
        },
    )
    bundle.event(
        ev.ToolCallStarted(
            "nested-1",
            None,
            "tool-1",
            ev.CodeCellRequester("1"),
            ev.ToolCallKind.other("lookup"),
            ev.GenericSummary("lookup", "{}"),
            nested,
        ),
        thread=ROOT,
        turn=TURN,
    )
    bundle.event(
        ev.CodeCellInitialResponse("1", "yielded", _result(bundle, "Yielded")),
        thread=ROOT,
        turn=TURN,
    )
    bundle.event(ev.ToolCallEnded("call-cell", "completed", None), thread=ROOT, turn=TURN)
    fc_wait = {
        "type": "function_call",
        "id": "fc2",
        "call_id": "call-wait",
        "name": "wait",
        "arguments": '{"cell_id": "1"}',
    }
    bundle.infer(
        "inf-2",
        request(message("user", "run", "u1"), exec_call(), exec_output("running", "o1")),
        response(fc_wait),
    )
    wait = bundle.payload(
        "tool_invocation",
        {
            "tool_name": "wait",
            "tool_namespace": None,
            "payload": {"type": "function", "arguments": '{"cell_id": "1"}'},
        },
    )
    bundle.event(
        ev.ToolCallStarted(
            "call-wait",
            "call-wait",
            None,
            ev.ModelRequester(),
            ev.ToolCallKind.other("wait"),
            ev.GenericSummary("wait", "{}"),
            wait,
        ),
        thread=ROOT,
        turn=TURN,
    )
    bundle.event(
        ev.CodeCellEnded("1", "completed", _result(bundle, "Result")), thread=ROOT, turn=TURN
    )
    bundle.end_turn()
    bundle.finish()
    state = bundle.reduce()
    cell = state["code_cells"]["code_cell:call-cell"]
    assert cell["source_item_id"] == "conversation_item:2"
    assert cell["output_item_ids"] == ["conversation_item:3"]
    assert cell["nested_tool_call_ids"] == ["nested-1"]
    assert cell["wait_tool_call_ids"] == ["call-wait"]
    assert cell["initial_response_status"] == "yielded"
    assert cell["yielded_seq"] == cell["initial_response_seq"]
    assert cell["runtime_status"] == "completed"
    assert cell["execution"]["status"] == "completed"
    assert state["tool_calls"]["call-cell"]["started_code_cell_id"] == "code_cell:call-cell"
    assert state["tool_calls"]["nested-1"]["requester"] == {
        "type": "code_cell",
        "code_cell_id": "code_cell:call-cell",
    }
    producers = state["conversation_items"]["conversation_item:3"]["produced_by"]
    assert {"type": "code_cell", "code_cell_id": "code_cell:call-cell"} in producers


def test_25_fast_failure_before_the_source_exists(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "run", "u1")))
    bundle.event(ev.CodeCellStarted("1", "call-cell", SOURCE), thread=ROOT, turn=TURN)
    bundle.event(
        ev.CodeCellInitialResponse("1", "failed", _result(bundle, "Result", "boom")),
        thread=ROOT,
        turn=TURN,
    )
    bundle.event(
        ev.CodeCellEnded("1", "failed", _result(bundle, "Result", "boom")), thread=ROOT, turn=TURN
    )
    assert bundle.reduce()["code_cells"] == {}
    bundle.complete("inf-1", response(exec_call()))
    state = bundle.reduce()
    cell = state["code_cells"]["code_cell:call-cell"]
    assert cell["execution"]["status"] == "failed"
    assert cell["execution"]["started_seq"] == 5
    assert cell["initial_response_seq"] == 6
    assert cell["raw_result_payload_id"] == "raw_payload:3"


def test_26_cancelled_turn_terminates_the_cell(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "run", "u1")), response(exec_call()))
    bundle.event(ev.CodeCellStarted("1", "call-cell", SOURCE), thread=ROOT, turn=TURN)
    bundle.end_turn("cancelled")
    state = bundle.reduce()
    cell = state["code_cells"]["code_cell:call-cell"]
    assert cell["runtime_status"] == "terminated"
    assert cell["execution"]["status"] == "cancelled"


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize(
    ("turn_status", "runtime", "status"),
    [("aborted", "terminated", "cancelled"), ("failed", "failed", "failed")],
)
def test_an_aborted_or_failed_turn_ends_its_running_cell(
    tmp_path: Path, schema: int, turn_status: ev.ExecutionStatus, runtime: str, status: str
) -> None:
    # an interrupted turn ends "aborted": its cells are terminated as for "cancelled" (only
    # the cancelled turn was tested: leaving them running on "aborted" passed, mut30)
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "run", "u1")), response(exec_call()))
    bundle.event(ev.CodeCellStarted("1", "call-cell", SOURCE), thread=ROOT, turn=TURN)
    bundle.end_turn(turn_status)
    cell = bundle.reduce()["code_cells"]["code_cell:call-cell"]
    assert (cell["runtime_status"], cell["execution"]["status"]) == (runtime, status)
    assert cell["execution"]["ended_seq"] == 7  # the turn's end


def test_the_first_of_two_initial_responses_wins(bundle: Scenario) -> None:
    # a second initial response changes the runtime status, not the first one's time and
    # status (taking the last one's passed every test, mut30)
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "run", "u1")), response(exec_call()))
    bundle.event(ev.CodeCellStarted("1", "call-cell", SOURCE), thread=ROOT, turn=TURN)
    bundle.event(ev.CodeCellInitialResponse("1", "yielded", None), thread=ROOT, turn=TURN)
    bundle.event(ev.CodeCellInitialResponse("1", "running", None), thread=ROOT, turn=TURN)
    cell = bundle.reduce()["code_cells"]["code_cell:call-cell"]
    assert (cell["initial_response_seq"], cell["initial_response_status"]) == (7, "yielded")
    assert cell["runtime_status"] == "running"


def test_26b_yielded_cell_survives_a_completed_turn(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "run", "u1")), response(exec_call()))
    bundle.event(ev.CodeCellStarted("1", "call-cell", SOURCE), thread=ROOT, turn=TURN)
    bundle.event(ev.CodeCellInitialResponse("1", "yielded", None), thread=ROOT, turn=TURN)
    bundle.end_turn("completed")
    cell = bundle.reduce()["code_cells"]["code_cell:call-cell"]
    assert cell["runtime_status"] == "yielded"
    assert cell["execution"]["status"] == "running"


def test_27_runtime_ids_repeat_across_threads(bundle: Scenario) -> None:
    child = "thread-child"
    bundle.begin()
    bundle.start_thread(child, "/root/child")
    bundle.start_turn("turn-2", child)
    bundle.infer(
        "inf-1", request(message("user", "run", "u1")), response(exec_call("call-a", "ctc-a"))
    )
    bundle.infer(
        "inf-2",
        request(message("user", "run", "u2")),
        response(exec_call("call-b", "ctc-b")),
        thread_id=child,
        turn_id="turn-2",
    )
    bundle.event(ev.CodeCellStarted("1", "call-a", SOURCE), thread=ROOT, turn=TURN)
    bundle.event(ev.CodeCellStarted("1", "call-b", SOURCE), thread=child, turn="turn-2")
    bundle.event(ev.CodeCellEnded("1", "completed", None), thread=child, turn="turn-2")
    state = bundle.reduce()
    assert state["code_cells"]["code_cell:call-a"]["execution"]["status"] == "running"
    assert state["code_cells"]["code_cell:call-b"]["execution"]["status"] == "completed"


def test_unknown_runtime_cell(bundle: Scenario) -> None:
    bundle.begin()
    bundle.event(ev.CodeCellEnded("7", "completed", None), thread=ROOT, turn=TURN)
    assert (
        bundle.reduce_error().message
        == f"code cell end referenced unknown runtime cell 7 in thread {ROOT}"
    )


def test_the_first_initial_response_wins_over_a_turn_end_backfill(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "run", "u1")), response(exec_call()))
    bundle.event(ev.CodeCellStarted("1", "call-cell", SOURCE), thread=ROOT, turn=TURN)
    bundle.end_turn("cancelled")
    bundle.event(ev.CodeCellInitialResponse("1", "failed", None), thread=ROOT, turn=TURN)
    cell = bundle.reduce()["code_cells"]["code_cell:call-cell"]
    assert (cell["initial_response_seq"], cell["initial_response_status"]) == (8, "failed")


def test_started_code_cell_follows_the_final_tool_kind(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "run", "u1")), response(exec_call()))
    bundle.event(
        ev.ToolCallStarted(
            "call-cell",
            "call-cell",
            None,
            ev.ModelRequester(),
            ev.ToolCallKind.other("foo"),
            ev.GenericSummary("foo", None),
            None,
        ),
        thread=ROOT,
        turn=TURN,
    )
    bundle.event(ev.CodeCellStarted("1", "call-cell", SOURCE), thread=ROOT, turn=TURN)
    assert "started_code_cell_id" not in bundle.reduce()["tool_calls"]["call-cell"]
    runtime = bundle.payload("tool_runtime_event", {})
    bundle.event(
        ev.ToolCallRuntimeStarted("call-cell", ev.ToolCallKind.other("exec"), runtime),
        thread=ROOT,
        turn=TURN,
    )
    assert (
        bundle.reduce()["tool_calls"]["call-cell"]["started_code_cell_id"] == "code_cell:call-cell"
    )


def test_a_cells_outputs_follow_the_threads_list_order(tmp_path: Path) -> None:
    # Schema 3: the response's new output (ci:4) is placed before the accepted output the
    # response claims (ci:1), so before the request's output (ci:3): Codex 0.171 lists them so.
    bundle = Scenario(tmp_path / "bundle", schema=3)
    bundle.begin()
    accepted = {"type": "function_call_output", "id": "m1", "call_id": "c9", "output": "a"}
    ref = bundle.payload("protocol_event", accepted)
    bundle.event(ev.HistoryItemAcceptedV3("m1", None, ref), thread=ROOT, turn=TURN)
    first, second = exec_output("one", "o1"), exec_output("two", "o2")
    bundle.infer("i1", request(exec_call(), first), response(second, accepted))
    bundle.event(ev.CodeCellStarted("1", "call-cell", SOURCE), thread=ROOT, turn=TURN)
    cell = bundle.reduce()["code_cells"]["code_cell:call-cell"]
    assert cell["output_item_ids"] == ["conversation_item:4", "conversation_item:3"]


def test_a_wait_resolved_while_the_cell_start_is_queued_links_when_it_appears(
    tmp_path: Path,
) -> None:
    # Schema 3: the runtime cell id already names the queued cell, so Codex 0.171 lists the
    # waits once the cell's exec item appears, in the order they were resolved.
    bundle = Scenario(tmp_path / "bundle", schema=3)
    bundle.begin()
    bundle.event(ev.CodeCellStarted("1", "call-cell", SOURCE), thread=ROOT, turn=TURN)
    for wait in ("w1", "w2"):
        summary = ev.GenericSummary("wait", None)
        kind = ev.ToolCallKind.other("wait")
        started = ev.ToolCallStarted(wait, None, None, ev.ModelRequester(), kind, summary, None)
        bundle.event(started, thread=ROOT, turn=TURN)
    for wait in ("w2", "w1"):
        bundle.event(ev.CodeCellWaitTargetResolved(wait, "1"), thread=ROOT, turn=TURN)
    bundle.infer("i1", request(message("user", "run")), response(exec_call()))
    cell = bundle.reduce()["code_cells"]["code_cell:call-cell"]
    assert cell["wait_tool_call_ids"] == ["w2", "w1"]


def test_a_cell_start_in_another_threads_turn_names_no_cell(tmp_path: Path) -> None:
    for schema in (2, 3):
        bundle = Scenario(tmp_path / str(schema), schema=schema)
        bundle.begin()
        bundle.start_thread("thread-2", "/root/two")
        bundle.start_turn("turn-2", "thread-2")
        bundle.infer("i1", request(message("user", "run")), response(exec_call()))
        bundle.event(ev.CodeCellStarted("1", "call-cell", SOURCE), thread=ROOT, turn="turn-2")
        assert bundle.reduce_error().message == (
            f"code cell start used thread {ROOT}, but Codex turn turn-2 belongs to thread-2"
        )


def test_a_materialised_cell_takes_events_while_a_start_of_its_id_waits(
    tmp_path: Path,
) -> None:
    # Code cell ids are global: another thread's start of the same cell waits for its exec
    # item, and the cell already materialised takes the end (Codex 0.169 and 0.171).
    for schema in (2, 3):
        bundle = Scenario(tmp_path / str(schema), schema=schema)
        bundle.begin()
        bundle.infer("i1", request(message("user", "run")), response(exec_call()))
        bundle.start_thread("thread-2", "/root/two")
        bundle.start_turn("turn-2", "thread-2")
        start = ev.CodeCellStarted("1", "call-cell", SOURCE)
        bundle.event(start, thread="thread-2", turn="turn-2")
        bundle.event(start, thread=ROOT, turn=TURN)
        bundle.event(ev.CodeCellEnded("1", "completed", None), thread=ROOT, turn=TURN)
        cell = bundle.reduce()["code_cells"]["code_cell:call-cell"]
        assert cell["execution"]["status"] == "completed"


def test_waits_queued_with_a_start_stay_with_that_start(tmp_path: Path) -> None:
    # Schema 3: another thread's start of the same cell id materialises at once and takes
    # the queued lifecycle events, but not the waits resolved to the waiting start (0.171).
    bundle = Scenario(tmp_path / "bundle", schema=3)
    bundle.begin()
    bundle.event(ev.CodeCellStarted("1", "call-cell", SOURCE), thread=ROOT, turn=TURN)
    kind = ev.ToolCallKind.other("wait")
    started = ev.ToolCallStarted(
        "w1", None, None, ev.ModelRequester(), kind, ev.GenericSummary("wait", None), None
    )
    bundle.event(started, thread=ROOT, turn=TURN)
    bundle.event(ev.CodeCellWaitTargetResolved("w1", "1"), thread=ROOT, turn=TURN)
    bundle.start_thread("thread-2", "/root/two")
    bundle.start_turn("turn-2", "thread-2")
    bundle.infer("i1", request(exec_call()), thread_id="thread-2", turn_id="turn-2")
    bundle.event(ev.CodeCellStarted("2", "call-cell", SOURCE), thread="thread-2", turn="turn-2")
    cell = bundle.reduce()["code_cells"]["code_cell:call-cell"]
    assert (cell["thread_id"], cell["wait_tool_call_ids"]) == ("thread-2", [])


@pytest.mark.parametrize("schema", [2, 3])
def test_a_cells_source_is_the_first_exec_item_of_its_call(tmp_path: Path, schema: int) -> None:
    """Two exec items of one call id (a response's, then another id in a later request that
    replaces it in the thread's list): the cell's source is the first made (Codex 0.169 and
    0.171). Taking the last passed every test (mut32)."""
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    bundle.infer("i1", request(message("user", "run", "u1")), response(exec_call(rid="ctc1")))
    bundle.infer("i2", request(message("user", "run", "u1"), exec_call(rid="ctc2")))
    bundle.event(ev.CodeCellStarted("1", "call-cell", SOURCE), thread=ROOT, turn=TURN)
    state = bundle.reduce()
    made = {
        item["responses_item_id"]: item_id for item_id, item in state["conversation_items"].items()
    }
    assert state["threads"][ROOT]["conversation_item_ids"] == [made["u1"], made["ctc2"]]
    assert state["code_cells"]["code_cell:call-cell"]["source_item_id"] == made["ctc1"]


def test_a_confirmed_wait_in_another_turn_of_its_thread_is_refused(tmp_path: Path) -> None:
    """Schema 3: a wait confirmed in another turn than the one that started the wait tool is
    refused, though the thread is the same (Codex 0.171). Checking the thread alone passed
    every test (mut32)."""
    for turn, fine in (("turn-2", False), (TURN, True)):
        bundle = Scenario(tmp_path / turn, schema=3)
        bundle.begin()
        bundle.infer("i1", request(message("user", "run")), response(exec_call()))
        bundle.event(ev.CodeCellStarted("1", "call-cell", SOURCE), thread=ROOT, turn=TURN)
        kind = ev.ToolCallKind.other("wait")
        summary = ev.GenericSummary("wait", None)
        started = ev.ToolCallStarted("w1", None, None, ev.ModelRequester(), kind, summary, None)
        bundle.event(started, thread=ROOT, turn=TURN)
        bundle.start_turn("turn-2")
        bundle.event(ev.CodeCellWaitTargetResolved("w1", "1"), thread=ROOT, turn=turn)
        if fine:
            cell = bundle.reduce()["code_cells"]["code_cell:call-cell"]
            assert cell["wait_tool_call_ids"] == ["w1"]
        else:
            message_ = bundle.reduce_error().message
            assert message_ == "confirmed wait target has wrong dispatch context"


@pytest.mark.parametrize("schema", [2, 3])
def test_a_cell_yielded_twice_keeps_the_last_yield(tmp_path: Path, schema: int) -> None:
    """Each yielded initial response moves the cell's yield time on, while the first initial
    response keeps its own (Codex 0.169 and 0.171). Keeping the first yield passed every
    test (mut32)."""
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "run", "u1")), response(exec_call()))
    bundle.event(ev.CodeCellStarted("1", "call-cell", SOURCE), thread=ROOT, turn=TURN)
    first = bundle.event(ev.CodeCellInitialResponse("1", "yielded", None), thread=ROOT, turn=TURN)
    bundle.event(ev.CodeCellInitialResponse("1", "running", None), thread=ROOT, turn=TURN)
    last = bundle.event(ev.CodeCellInitialResponse("1", "yielded", None), thread=ROOT, turn=TURN)
    cell = bundle.reduce()["code_cells"]["code_cell:call-cell"]
    assert (cell["initial_response_seq"], cell["yielded_seq"]) == (first, last)
    assert cell["yielded_at_unix_ms"] == cell["initial_response_at_unix_ms"] + 2
