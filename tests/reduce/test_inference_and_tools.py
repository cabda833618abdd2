"""Reducer scenarios 20-23 (inference lifecycle, MCP correlation) and tool-call rules."""

from __future__ import annotations

from typing import Any

from rollout_trace_sdk.model import events as ev
from tests.reduce.builder import ROOT, TURN, Scenario, message, request, response


def _partial(bundle: Scenario, items: list[dict[str, Any]]) -> ev.RawPayloadRef:
    return bundle.payload("inference_response", response(*items))


def test_20_cancelled_with_partial_output(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "go", "u1")))
    partial = _partial(bundle, [message("assistant", "part", "a1")])
    bundle.event(
        ev.InferenceCancelled("inf-1", "req-9", "user interrupt", partial), thread=ROOT, turn=TURN
    )
    state = bundle.reduce()
    call = state["inference_calls"]["inf-1"]
    assert call["execution"]["status"] == "cancelled"
    assert call["response_id"] is None
    assert call["upstream_request_id"] == "req-9"
    assert call["response_item_ids"] == ["conversation_item:2"]
    assert call["raw_response_payload_id"] == "raw_payload:2"


def test_21_turn_cancel_closes_running_inference(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "go", "u1")))
    bundle.end_turn("cancelled")
    state = bundle.reduce()
    execution = state["inference_calls"]["inf-1"]["execution"]
    assert execution["status"] == "cancelled"
    assert execution["ended_seq"] == state["codex_turns"][TURN]["execution"]["ended_seq"]


def test_22_late_cancel_keeps_turn_end_status(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "go", "u1")))
    bundle.end_turn("failed")
    partial = _partial(bundle, [message("assistant", "late", "a1")])
    bundle.event(ev.InferenceCancelled("inf-1", None, "late", partial), thread=ROOT, turn=TURN)
    state = bundle.reduce()
    call = state["inference_calls"]["inf-1"]
    assert call["execution"]["status"] == "failed"
    assert call["execution"]["ended_seq"] == 5
    assert call["response_item_ids"] == ["conversation_item:2"]


def _tool(
    bundle: Scenario,
    call_id: str,
    kind: ev.ToolCallKind,
    tool_name: str,
    arguments: str = "{}",
) -> None:
    invocation = bundle.payload(
        "tool_invocation",
        {
            "tool_name": tool_name,
            "tool_namespace": None,
            "payload": {"type": "function", "arguments": arguments},
        },
    )
    bundle.event(
        ev.ToolCallStarted(
            call_id,
            call_id,
            None,
            ev.ModelRequester(),
            kind,
            ev.GenericSummary(tool_name, arguments),
            invocation,
        ),
        thread=ROOT,
        turn=TURN,
    )


def test_23_mcp_correlation_and_runtime_kind(bundle: Scenario) -> None:
    bundle.begin()
    _tool(bundle, "call-m", ev.ToolCallKind.other("mcp__demo__echo"), "mcp__demo__echo")
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
    _tool(bundle, "call-m", ev.ToolCallKind.other("x"), "x")
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
    _tool(bundle, "c1", ev.ToolCallKind.other("x"), "x")
    bundle.complete("inf-1", response(fc))
    bundle.infer("inf-2", request(message("user", "go", "u1"), fc))
    state = bundle.reduce()
    assert state["inference_calls"]["inf-1"]["tool_call_ids_started_by_response"] == ["c1"]
    assert state["tool_calls"]["c1"]["model_visible_call_item_ids"] == ["conversation_item:2"]
