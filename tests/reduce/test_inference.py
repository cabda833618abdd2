"""Reducer scenarios 20-22: the inference lifecycle (cancelled, failed, partial output)."""

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
