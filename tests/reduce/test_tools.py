"""Reducer scenario 23 (MCP correlation) and the tool-call rules."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.reduce import reduce_bundle, state_bytes, tools
from rollout_trace_sdk.testing import reduce_and_compare
from tests.codex_oracle import codex_bin
from tests.conftest import CONFORMANCE, needs_conformance
from tests.lenient_convert_checks import check_lenient_converted
from tests.reduce.builder import ROOT, TURN, Scenario, message, request, response, start_tool


def test_23_mcp_correlation_and_runtime_kind(bundle: Scenario) -> None:
    bundle.begin()
    start_tool(bundle, "call-m", ev.ToolCallKind.other("mcp__demo__echo"), "mcp__demo__echo")
    bundle.event(
        ev.McpToolCallCorrelationAssigned("call-m", "6f1c0a52-0000-4000-8000-000000000001")
    )
    begin = bundle.payload("tool_runtime_event", {"call_id": "call-m", "invocation": {}})
    bundle.event(
        ev.ToolCallRuntimeStarted("call-m", ev.ToolCallKind.mcp("demo", "echo"), begin),
        thread=ROOT,
        turn=TURN,
    )
    bundle.finish()
    state = bundle.reduce()
    tool = state["tool_calls"]["call-m"]
    assert tool["mcp_call_id"] == "6f1c0a52-0000-4000-8000-000000000001"
    assert tool["kind"] == {"type": "mcp", "server": "demo", "tool": "echo"}
    assert tool["raw_runtime_payload_ids"] == ["raw_payload:2"]


def test_duplicate_mcp_correlation(bundle: Scenario) -> None:
    bundle.begin()
    start_tool(bundle, "call-m", ev.ToolCallKind.other("x"), "x")
    bundle.event(ev.McpToolCallCorrelationAssigned("call-m", "a"))
    bundle.event(ev.McpToolCallCorrelationAssigned("call-m", "b"))
    assert bundle.reduce_error().message == "duplicate MCP correlation for tool call call-m"


def test_tool_end_unknown_call(bundle: Scenario) -> None:
    bundle.begin()
    bundle.event(ev.ToolCallEnded("nope", "completed", None), thread=ROOT, turn=TURN)
    assert bundle.reduce_error().message == "tool call end referenced unknown call nope"


def test_tool_start_without_context(bundle: Scenario) -> None:
    bundle.begin()
    bundle.event(
        ev.ToolCallStarted(
            "t",
            None,
            None,
            ev.ModelRequester(),
            ev.ToolCallKind.other("x"),
            ev.GenericSummary("x", None),
            None,
        )
    )
    assert (
        bundle.reduce_error().message
        == "tool call start did not include thread or Codex turn context"
    )


def test_tool_started_before_response_links_on_next_request(bundle: Scenario) -> None:
    fc = {"type": "function_call", "id": "fc1", "name": "x", "call_id": "c1", "arguments": "{}"}
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "go", "u1")))
    start_tool(bundle, "c1", ev.ToolCallKind.other("x"), "x")
    bundle.complete("inf-1", response(fc))
    bundle.infer("inf-2", request(message("user", "go", "u1"), fc))
    state = bundle.reduce()
    assert state["inference_calls"]["inf-1"]["tool_call_ids_started_by_response"] == ["c1"]
    assert state["tool_calls"]["c1"]["model_visible_call_item_ids"] == ["conversation_item:2"]


def test_a_resent_item_is_linked_again_only_when_something_changed(
    bundle: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every request of an agent loop resends the whole history: a call or output item
    found linked to its tool is not looked at again (``links_settled``) until a response
    owning one of the tool's call items changes (the next test). Each item is linked once
    here where every resend was (~steps² calls); the links are Codex's (``reduce`` compares
    when Codex is here)."""
    linked: list[str] = []
    link = tools.link_resent_item

    def counted(replay: Any, item_id: str, norm: Any) -> None:
        linked.append(item_id)
        link(replay, item_id, norm)

    monkeypatch.setattr(tools, "link_resent_item", counted)
    steps = 12
    history = [message("user", "go", "u1")]
    bundle.begin()
    for step in range(steps):
        call_id = f"c{step}"
        fc = {"type": "function_call", "id": f"fc{step}", "name": "x", "call_id": call_id}
        fc["arguments"] = "{}"
        bundle.infer(f"inf-{step}", request(*history), response(fc))
        start_tool(bundle, call_id, ev.ToolCallKind.other("x"), "x")
        bundle.event(ev.ToolCallEnded(call_id, "completed", None), thread=ROOT, turn=TURN)
        history += [fc, {"type": "function_call_output", "call_id": call_id, "output": "ok"}]
    bundle.infer("inf-last", request(*history))
    bundle.finish()
    state = bundle.reduce()
    for step in range(steps):
        call = state["inference_calls"][f"inf-{step}"]
        assert call["tool_call_ids_started_by_response"] == [f"c{step}"]
    # each call and output item once, from its second request on (the last step's are in
    # one request): 22, where every resend linked again: 132
    assert len(linked) == 2 * (steps - 1)
    assert len(set(linked)) == len(linked)


@needs_conformance
def test_a_resent_call_item_links_its_tool_to_every_response_owning_it(tmp_path: Path) -> None:
    """A child's response given its parent's body (mutation seed 114017826; here the
    schema-2 lifecycle bundle, the child's last response given the root's first): the
    parent's ``spawn_agent`` call item in the child's history is answered again. The
    response is linked before it owns its items, so the root's next request resending the
    item links the tool to it, as Codex does; resent items used to skip the link as known."""
    source = next((CONFORMANCE / "multi_agent_v2_lifecycle").glob("trace-*"))
    bundle = tmp_path / "bundle"
    shutil.copytree(source, bundle, ignore=shutil.ignore_patterns("expected_state.json"))
    (bundle / "payloads" / "58.json").write_bytes((bundle / "payloads" / "5.json").read_bytes())
    state = orjson.loads(state_bytes(reduce_bundle(bundle)))
    call = state["inference_calls"]["0983788b-df44-44f1-8f35-1cb6968647c7"]
    assert call["tool_call_ids_started_by_response"] == ["call_spawn"]  # Codex 0.169's
    codex = codex_bin(2)
    if codex is not None:
        result = reduce_and_compare(bundle, codex)
        assert result.same_text, result.explain()


def test_a_cut_runtime_start_is_still_a_second_terminal_operation(tmp_path: Path) -> None:
    # Codex 0.171 refuses the second operation before it looks at the payload, which a
    # recorder with size limits cut (or left out): a write_stdin has one from its invocation.
    for capture in ("truncated", "omitted"):
        bundle = Scenario(tmp_path / capture, schema=3)
        bundle.begin()
        start_tool(
            bundle, "call-w", ev.ToolCallKind("write_stdin"), "write_stdin", '{"session_id": 5}'
        )
        begin = {"call_id": "call-w", "process_id": "5", "command": ["ls"], "cwd": "/"}
        ref = bundle.payload("tool_runtime_event", begin, capture=capture)
        kind = ev.ToolCallKind("write_stdin")
        bundle.event(ev.ToolCallRuntimeStarted("call-w", kind, ref), thread=ROOT, turn=TURN)
        assert bundle.reduce_error().message == (
            "tool runtime start would create a second terminal operation for call-w"
        )


def test_an_exec_tool_names_the_code_cell_of_its_own_turn_only(tmp_path: Path) -> None:
    # The cell its call started in another turn of the thread is not the tool's (Codex
    # 0.169 and 0.171, whichever of the two comes first).
    call = {"type": "custom_tool_call", "id": "x1", "call_id": "c1", "name": "exec", "input": "t"}
    for schema in (2, 3):
        for cell_first in (False, True):
            bundle = Scenario(tmp_path / f"{schema}-{cell_first}", schema=schema)
            bundle.begin()
            bundle.infer("i1", request(message("user", "q")), response(call))
            bundle.start_turn("turn-2")
            cell = ev.CodeCellStarted("1", "c1", "t")
            if cell_first:
                bundle.event(cell, thread=ROOT, turn="turn-2")
            start_tool(bundle, "c1", ev.ToolCallKind.other("exec"), "exec")
            if not cell_first:
                bundle.event(cell, thread=ROOT, turn="turn-2")
            state = bundle.reduce()
            assert "code_cell:c1" in state["code_cells"]
            assert "started_code_cell_id" not in state["tool_calls"]["c1"]


def test_an_exec_tool_started_with_no_turn_names_the_code_cell(tmp_path: Path) -> None:
    call = {"type": "custom_tool_call", "id": "x1", "call_id": "c1", "name": "exec", "input": "t"}
    for schema in (2, 3):
        bundle = Scenario(tmp_path / str(schema), schema=schema)
        bundle.begin()
        bundle.infer("i1", request(message("user", "q")), response(call))
        kind = ev.ToolCallKind.other("exec")
        started = ev.ToolCallStarted(
            "c1", "c1", None, ev.ModelRequester(), kind, ev.GenericSummary("exec", None), None
        )
        bundle.event(started, thread=ROOT, turn=None)
        bundle.event(ev.CodeCellStarted("1", "c1", "t"), thread=ROOT, turn=TURN)
        assert bundle.reduce()["tool_calls"]["c1"]["started_code_cell_id"] == "code_cell:c1"


def test_a_tools_items_follow_the_threads_list_order(tmp_path: Path) -> None:
    # Schema 3: the response's new call item (ci:3) is placed before the accepted output its
    # response claims (ci:1), so before the request's call item (ci:2) too: Codex 0.171
    # finds a call's items in that order.
    bundle = Scenario(tmp_path / "bundle", schema=3)
    bundle.begin()
    accepted = {"type": "function_call_output", "id": "m1", "call_id": "c9", "output": "a"}
    ref = bundle.payload("protocol_event", accepted)
    bundle.event(ev.HistoryItemAcceptedV3("m1", None, ref), thread=ROOT, turn=TURN)
    call = {"type": "custom_tool_call", "id": "x1", "call_id": "c1", "name": "exec", "input": "t"}
    again = {"type": "function_call", "id": "f1", "call_id": "c1", "name": "f", "arguments": "{}"}
    bundle.infer("i1", request(call), response(again, accepted))
    start_tool(bundle, "c1", ev.ToolCallKind.other("f"), "f")
    state = bundle.reduce()
    assert state["tool_calls"]["c1"]["model_visible_call_item_ids"] == [
        "conversation_item:3",
        "conversation_item:2",
    ]


@pytest.mark.parametrize("schema", [2, 3])
def test_an_end_lenient_replay_skips_leaves_the_tool_running(tmp_path: Path, schema: int) -> None:
    # A crash cut a write_stdin's result, which is its terminal's end (the killed-recorder
    # sweep: a tool result cut at 16 of 150 bytes): lenient replay skips the end, so the tool
    # is still running, as if the line were not in the log; that is what ``convert
    # --lenient`` writes, leaving the event out.
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    start_tool(bundle, "call-w", ev.ToolCallKind("write_stdin"), "write_stdin", '{"session_id": 5}')
    cut = bundle.raw_payload("tool_result", '{"type": "direct_resp')
    bundle.event(ev.ToolCallEnded("call-w", "completed", cut), thread=ROOT, turn=TURN)
    skipped: list[str] = []
    state = orjson.loads(state_bytes(reduce_bundle(bundle.flush(), lenient=True, skipped=skipped)))
    assert f"skipped not reducible: parse payload {cut.raw_payload_id}" in skipped[0], skipped
    tool = state["tool_calls"]["call-w"]
    assert tool["execution"]["status"] == "running", tool
    assert tool["raw_result_payload_id"] is None, tool
    outcomes = check_lenient_converted(bundle.flush(), tmp_path, f"schema {schema}")
    assert set(outcomes.values()) <= {"same"}, outcomes


@pytest.mark.parametrize("number", ["1e400", "-1" + "0" * 400])
def test_a_wait_whose_arguments_hold_a_number_beyond_f64(bundle: Scenario, number: str) -> None:
    """Codex 0.169 reads every wait's arguments with serde_json, which keeps such a number
    as text: ours parsed them with orjson, which refuses it, and refused the bundle ("wait
    tool request payload raw_payload:1 had invalid JSON arguments"). Text serde refuses
    after the number is still refused. Found by numbers23's probe."""
    wait = ev.ToolCallKind.other("wait")
    bundle.begin()
    start_tool(bundle, "w1", wait, "wait", '{"cell_id": "1", "yield_time_ms": ' + number + "}")
    assert "w1" in bundle.reduce()["tool_calls"]
    start_tool(bundle, "w2", wait, "wait", '{"cell_id": "1", "yield_time_ms": ' + number + " x}")
    error = bundle.reduce_error()
    assert error.message == "wait tool request payload raw_payload:2 had invalid JSON arguments"
