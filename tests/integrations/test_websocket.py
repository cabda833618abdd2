"""``integrations._websocket.Lanes`` fed the SDK's own parsed events in a real rollout: what
the fake server (one response at a time) cannot show, two lanes' events interleaved."""

from __future__ import annotations

import gc
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("openai")

from openai._models import construct_type_unchecked
from openai.types.responses import ResponsesServerEvent

from rollout_trace_sdk.integrations._websocket import Lanes
from rollout_trace_sdk.record import open_rollout

from ..codex_oracle import reduced_by_both
from ..record.recorder_support import bundle_in, of_type, payload
from .fake_openai import USAGE_RESPONSES

pytestmark = pytest.mark.anyio


def _event(kind: str, lane: str, **fields: Any) -> Any:
    value = {"type": kind, "sequence_number": 0, "stream_id": lane, **fields}
    return construct_type_unchecked(value=value, type_=ResponsesServerEvent)  # type: ignore[arg-type]


def _response(n: int, status: str, output: list[Any]) -> dict[str, Any]:
    usage = USAGE_RESPONSES if status == "completed" else None
    return {
        "id": f"resp_{n}",
        "object": "response",
        "created_at": 0,
        "model": "gpt-test",
        "status": status,
        "output": output,
        "usage": usage,
    }


def _item(n: int) -> dict[str, Any]:
    text = {"type": "output_text", "text": f"answer {n}", "annotations": []}
    return {
        "type": "message",
        "id": f"msg_{n}",
        "role": "assistant",
        "status": "completed",
        "content": [text],
    }


async def test_two_lanes_interleaved_each_go_to_their_own_call(tmp_path: Path) -> None:
    """Responses on lanes ``a`` and ``b`` running at once: each lane's events end its own
    call, whatever the order they arrive in."""
    lanes = Lanes()
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        for lane in ("a", "b"):
            create = {"type": "response.create", "model": "gpt-test", "stream_id": lane}
            lanes.sent(json.dumps({**create, "input": f"question {lane}"}))
        script: list[tuple[str, str, dict[str, Any]]] = [
            ("response.created", "a", {"response": _response(1, "in_progress", [])}),
            ("response.created", "b", {"response": _response(2, "in_progress", [])}),
            ("response.output_item.done", "b", {"output_index": 0, "item": _item(2)}),
            ("response.output_item.done", "a", {"output_index": 0, "item": _item(1)}),
            ("response.completed", "b", {"response": _response(2, "completed", [_item(2)])}),
            ("response.completed", "a", {"response": _response(1, "completed", [_item(1)])}),
        ]
        for kind, lane, fields in script:
            lanes.received(_event(kind, lane, **fields))
    bundle = bundle_in(tmp_path)
    asked = {
        e["payload"]["inference_call_id"]: json.dumps(
            payload(bundle, e["payload"]["request_payload"])
        )
        for e in of_type(bundle, "inference_started")
    }
    answered = {
        e["payload"]["inference_call_id"]: e["payload"]["response_id"]
        for e in of_type(bundle, "inference_completed")
    }
    assert sorted(("question a" in asked[k], v) for k, v in answered.items()) == [
        (False, "resp_2"),
        (True, "resp_1"),
    ]
    reduced_by_both(bundle)


@pytest.mark.parametrize("schema", [2, 3])
async def test_an_error_event_fails_the_call_of_the_lane_it_names(
    schema: int, tmp_path: Path
) -> None:
    """Lanes ``a`` and ``b`` both busy, ``b``'s response breaks (its ``error`` event echoes
    ``stream_id: "b"``, as the API's do) and ``a``'s goes on: ``b``'s call fails with the
    error's text, ``a``'s completes. (The lane an error names was ignored: with two lanes
    busy nothing failed, and ``b``'s call ended cancelled when the connection closed.)"""
    lanes = Lanes()
    async with (
        open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout,
        rollout.root.turn(),
    ):
        for lane in ("a", "b"):
            create = {"type": "response.create", "model": "gpt-test", "stream_id": lane}
            lanes.sent(json.dumps({**create, "input": f"question {lane}"}))
        error = {"type": "server_error", "code": "boom", "message": "lane b fell"}
        script: list[tuple[str, str, dict[str, Any]]] = [
            ("response.created", "a", {"response": _response(1, "in_progress", [])}),
            ("response.created", "b", {"response": _response(2, "in_progress", [])}),
            ("error", "b", {"error": error, "status": 500}),
            ("response.output_item.done", "a", {"output_index": 0, "item": _item(1)}),
            ("response.completed", "a", {"response": _response(1, "completed", [_item(1)])}),
        ]
        for kind, lane, fields in script:
            lanes.received(_event(kind, lane, **fields))
        lanes.closed()
    bundle = bundle_in(tmp_path)
    [completed] = of_type(bundle, "inference_completed")
    assert completed["payload"]["response_id"] == "resp_1"
    [failed] = of_type(bundle, "inference_failed")
    assert failed["payload"]["error"] == "boom: lane b fell"
    assert of_type(bundle, "inference_cancelled") == []
    reduced_by_both(bundle)


async def test_an_error_refusing_a_waiting_request_fails_that_request(tmp_path: Path) -> None:
    """Lane ``a`` runs; the request sent on lane ``b`` is refused before it starts (an
    ``error`` naming ``b``): ``b``'s call fails, ``a``'s completes."""
    lanes = Lanes()
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        for lane in ("a", "b"):
            create = {"type": "response.create", "model": "gpt-test", "stream_id": lane}
            lanes.sent(json.dumps({**create, "input": f"question {lane}"}))
        error = {"type": "invalid_request_error", "code": "bad", "message": "b refused"}
        lanes.received(_event("response.created", "a", response=_response(1, "in_progress", [])))
        lanes.received(_event("error", "b", error=error, status=400))
        done = _response(1, "completed", [_item(1)])
        lanes.received(_event("response.completed", "a", response=done))
        lanes.closed()
    bundle = bundle_in(tmp_path)
    [failed] = of_type(bundle, "inference_failed")
    assert failed["payload"]["error"] == "bad: b refused"
    [completed] = of_type(bundle, "inference_completed")
    assert completed["payload"]["response_id"] == "resp_1"
    reduced_by_both(bundle)


async def test_a_connection_keeps_no_ended_response_it_will_not_need(tmp_path: Path) -> None:
    """A long-lived connection's ended responses are let go: only a steered one is kept
    (its request is what the API's automatic successor inherits). Each ended response was
    kept with its request for as long as the connection lived, so memory grew with every
    response (here 40 requests of 1 MB each: 40 MB held)."""
    lanes = Lanes()
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            for n in range(1, 41):
                create = {"type": "response.create", "model": "gpt-test", "stream_id": "a"}
                lanes.sent(json.dumps({**create, "input": "x" * 2**20}))
                lanes.received(_event("response.created", "a", response=_response(n, "queued", [])))
                done = _response(n, "completed", [_item(n)])
                lanes.received(_event("response.completed", "a", response=done))
            await rollout.flush()  # what the writer still holds is not held by the lanes
            gc.collect()
            held, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert len(of_type(bundle_in(tmp_path), "inference_completed")) == 40
    assert held - before < 8 * 2**20, f"{(held - before) / 2**20:.1f} MiB held"
