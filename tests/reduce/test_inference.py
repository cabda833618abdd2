"""Reducer scenarios 20-22: the inference lifecycle (cancelled, failed, partial output)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.reduce import reduce_bundle, state_bytes
from rollout_trace_sdk.testing import Capture
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


@pytest.mark.parametrize("status", ["failed", "aborted"])
def test_a_turn_that_fails_or_aborts_closes_its_running_inference_alike(
    bundle: Scenario, status: ev.ExecutionStatus
) -> None:
    """A running call ends with its turn's status (only a completed or cancelled turn
    cancels it): an aborted turn's call is ``aborted``, not ``cancelled``."""
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "go", "u1")))
    bundle.end_turn(status)
    execution = bundle.reduce()["inference_calls"]["inf-1"]["execution"]
    assert execution["status"] == status


@pytest.mark.parametrize("missing", ["input_tokens", "reasoning_output_tokens"])
def test_a_usage_missing_a_counter_is_no_usage(bundle: Scenario, missing: str) -> None:
    """Usage counts only with all four counters (as Codex reads it): one missing leaves the
    call without usage, not with that counter as 0."""
    usage = {
        "input_tokens": 5,
        "cached_input_tokens": 1,
        "output_tokens": 2,
        "reasoning_output_tokens": 0,
    }
    del usage[missing]
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "go", "u1")), response(usage=usage))
    bundle.infer("inf-2", request(message("user", "go", "u1")), response(usage=None))
    calls = bundle.reduce()["inference_calls"]
    assert calls["inf-1"]["usage"] is None and calls["inf-2"]["usage"] is None


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


@pytest.mark.parametrize("capture", ["truncated", "omitted"])
@pytest.mark.parametrize("sent", ["x", "z"])
def test_an_incremental_request_on_a_cut_response_makes_new_items(
    tmp_path: Path, capture: Capture, sent: str
) -> None:
    # Codex 0.171 reconciles the new items against the call it follows alone (its request
    # item), not against the thread's later snapshot: an item resent from that snapshot is
    # a new item, and one that differs from it is no mismatch.
    bundle = Scenario(tmp_path / "bundle", schema=3)
    bundle.begin()
    first, x, y = (message("user", t, f"{t}1") for t in ("q", "x", "y"))
    bundle.infer("i1", request(first))
    cut = bundle.payload("inference_response", response(), capture=capture)
    bundle.event(ev.InferenceCompleted("i1", "r1", None, cut), thread=ROOT, turn=TURN)
    bundle.infer("i2", request(first, x, y))
    bundle.infer("i3", request(message("user", sent, f"{sent}1"), previous_response_id="r1"))
    bundle.finish()
    calls = bundle.reduce()["inference_calls"]
    assert calls["i3"]["request_item_ids"] == ["conversation_item:1", "conversation_item:4"]


@pytest.mark.parametrize("earlier_blind", [False, True])
def test_a_cut_request_is_the_threads_latest_request(tmp_path: Path, earlier_blind: bool) -> None:
    # An earlier call's response arriving after a cut request answers its own request: it
    # does not extend the thread's snapshot, so resending its item makes a new one (0.171).
    bundle = Scenario(tmp_path / "bundle", schema=3)
    bundle.begin()
    first, later = message("user", "a", "a1"), message("assistant", "x", "x1")

    def start(call: str, capture: Capture | None) -> None:
        ref = bundle.payload("inference_request", request(first), capture=capture)
        started = ev.InferenceStarted(call, ROOT, TURN, "gpt-test", "test-provider", ref)
        bundle.event(started, thread=ROOT, turn=TURN)

    start("i0", "omitted" if earlier_blind else None)
    start("i1", "omitted")
    bundle.complete("i0", response(later))
    bundle.infer("i2", request(later))
    bundle.finish()
    calls = bundle.reduce()["inference_calls"]
    assert calls["i2"]["request_item_ids"] != calls["i0"]["response_item_ids"]


def test_a_cut_request_reduced_from_its_warmup_still_makes_incremental_items_new(
    tmp_path: Path,
) -> None:
    # The warm-up context gives the call its request items, yet an incremental request on
    # its response is matched against that call's items alone (Codex 0.171), as after any
    # request that was cut.
    bundle = Scenario(tmp_path / "bundle", schema=3)
    bundle.begin()
    first, x, later = (message("user", t, f"{t}1") for t in ("a", "x", "c"))
    ref = bundle.payload("inference_request", request(first), capture="omitted")
    prompt = bundle.last_prompt
    assert prompt is not None
    warmup = bundle.payload("warmup_context", {"input": [first]})
    started = ev.InferenceStartedV3(
        "i1", ROOT, TURN, "gpt-test", "test-provider", ref, prompt, warmup
    )
    bundle.event(started, thread=ROOT, turn=TURN)
    bundle.complete("i1", response(x), response_id="r1")
    bundle.infer("i2", request(first, x, later))
    bundle.infer("i3", request(message("user", "z", "z1"), previous_response_id="r1"))
    bundle.finish()
    calls = bundle.reduce()["inference_calls"]
    assert calls["i1"]["request_item_ids"] == ["conversation_item:1"]
    assert calls["i3"]["request_item_ids"] == [
        "conversation_item:1",
        "conversation_item:2",
        "conversation_item:4",
    ]


def test_a_kept_request_whose_warmup_was_cut_is_matched_against_the_snapshot(
    tmp_path: Path,
) -> None:
    # Only the request payload's own capture counts (Codex 0.171): an incremental request on
    # this call's response is matched against the thread's later snapshot as usual, so a
    # different item there is a mismatch.
    bundle = Scenario(tmp_path / "bundle", schema=3)
    bundle.begin()
    first = message("user", "a", "a1")
    ref = bundle.payload("inference_request", request(first))
    prompt = bundle.last_prompt
    assert prompt is not None
    warmup = bundle.payload("warmup_context", {"input": [first]}, capture="omitted")
    started = ev.InferenceStartedV3(
        "i1", ROOT, TURN, "gpt-test", "test-provider", ref, prompt, warmup
    )
    bundle.event(started, thread=ROOT, turn=TURN)
    bundle.complete("i1", response(message("assistant", "x", "x1")), response_id="r1")
    bundle.infer("i2", request(first, message("user", "b", "b1"), message("user", "c", "c1")))
    bundle.infer("i3", request(message("user", "z", "z1"), previous_response_id="r1"))
    assert bundle.reduce_error().message.startswith("model conversation mismatch")


@pytest.mark.parametrize("schema", [2, 3])
def test_a_second_response_of_a_call_replaces_the_first_in_the_snapshot(
    tmp_path: Path, schema: int
) -> None:
    # A completion after a failure with partial output: the thread's snapshot is the call's
    # request and this response, so resending the partial output makes a new item.
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    first, partial = message("user", "a", "a1"), message("assistant", "x", "x1")
    bundle.infer("i1", request(first))
    failed = ev.InferenceFailed("i1", None, "boom", _partial(bundle, [partial]))
    bundle.event(failed, thread=ROOT, turn=TURN)
    bundle.complete("i1", response(message("assistant", "y", "y1")))
    bundle.infer("i2", request(first, partial))
    bundle.finish()
    calls = bundle.reduce()["inference_calls"]
    assert calls["i2"]["request_item_ids"] == ["conversation_item:1", "conversation_item:4"]


def test_a_kept_response_after_a_cut_one_is_matched_against_the_snapshot(
    tmp_path: Path,
) -> None:
    # The call's latest response counts (Codex 0.171): kept whole, an incremental request on
    # it is matched against the thread's snapshot again, so a different item is a mismatch.
    bundle = Scenario(tmp_path / "bundle", schema=3)
    bundle.begin()
    first = message("user", "a", "a1")
    bundle.infer("i1", request(first))
    cut = bundle.payload("inference_response", response(), capture="omitted")
    bundle.event(ev.InferenceCompleted("i1", "r1", None, cut), thread=ROOT, turn=TURN)
    bundle.infer("i2", request(first, message("user", "b", "b1")))
    bundle.complete("i1", response(), response_id="r1")
    bundle.infer("i3", request(message("user", "z", "z1"), previous_response_id="r1"))
    assert bundle.reduce_error().message.startswith("model conversation mismatch")


@pytest.mark.parametrize(
    ("kind", "restored"),
    [
        ("function_call_output", True),
        ("custom_tool_call_output", True),
        ("tool_search_output", False),
        ("mcp_tool_call_output", False),
    ],
)
def test_a_stripped_id_is_given_back_to_a_function_or_custom_output_only(
    tmp_path: Path, kind: str, restored: bool
) -> None:
    bundle = Scenario(tmp_path / "bundle", schema=3)
    bundle.begin()
    output = {"type": kind, "call_id": "c1", "output": "o"}
    ref = bundle.payload("inference_request", request(output))
    prompt = bundle.last_prompt
    assert prompt is not None
    started = ev.InferenceStartedV3(
        "i1", ROOT, TURN, "gpt-test", "test-provider", ref, prompt, None, ((0, "m1"),)
    )
    bundle.event(started, thread=ROOT, turn=TURN)
    bundle.finish()
    if restored:
        item = bundle.reduce()["conversation_items"]["conversation_item:1"]
        assert item["responses_item_id"] == "m1"
    else:
        assert bundle.reduce_error().message == (
            "stripped tool output ID does not refer to an ID-less output at input 0"
        )


def test_a_completion_lenient_replay_skips_leaves_a_cut_response_cut(tmp_path: Path) -> None:
    # A call's response was cut; a later completion of the same call brings a whole one, but
    # a crash cut that payload's record: lenient replay skips that completion, so the call's
    # response is still the cut one and an incremental request on it makes new items, as if
    # the line were not in the log. The mark of the cut response was taken off before the
    # payload was read, and the request matched the thread's snapshot (found by review22).
    def scenario(root: Path, second_completion: bool) -> Scenario:
        bundle = Scenario(root, schema=3)
        bundle.begin()
        first, x, y = (message("user", t, f"{t}1") for t in ("q", "x", "y"))
        bundle.infer("i1", request(first))
        cut = bundle.payload("inference_response", response(), capture="truncated")
        bundle.event(ev.InferenceCompleted("i1", "r1", None, cut), thread=ROOT, turn=TURN)
        if second_completion:
            torn = bundle.raw_payload("inference_response", '{"cut')
            bundle.event(ev.InferenceCompleted("i1", "r1", None, torn), thread=ROOT, turn=TURN)
        bundle.infer("i2", request(first, x, y))
        bundle.infer("i3", request(message("user", "x", "x1"), previous_response_id="r1"))
        bundle.finish()
        return bundle

    skipped: list[str] = []
    lenient = reduce_bundle(
        scenario(tmp_path / "torn", True).flush(), lenient=True, skipped=skipped
    )
    assert "skipped not reducible: parse payload" in skipped[0], skipped
    left_out = scenario(tmp_path / "left-out", False).reduce()
    calls = orjson.loads(state_bytes(lenient))["inference_calls"]
    assert calls["i3"]["request_item_ids"] == left_out["inference_calls"]["i3"]["request_item_ids"]
    assert calls["i3"]["request_item_ids"] == ["conversation_item:1", "conversation_item:4"]


@pytest.mark.parametrize("cut", ["request", "response", "nested"])
def test_a_call_with_a_part_not_kept_is_followed_blind(tmp_path: Path, cut: str) -> None:
    """An incremental request following a call whose request or response is a template over
    a part cut or left out (at any depth) is matched against that call's items alone, as if
    the payload were cut whole (Codex 0.171); we matched it against the thread's later
    snapshot and refused a mismatch (found by fuzz27: the grammar's cut templates, seed
    555375)."""
    bundle = Scenario(tmp_path / "b", schema=3)
    bundle.begin()
    part = bundle.raw_payload("content_value", '"hi"', capture="omitted")
    first = orjson.dumps(request(message("user", "GAP", "u1"))).decode()
    answer = orjson.dumps(response(message("assistant", "GAP", "a1"))).decode()
    if cut == "nested":  # the input item a kept model item, over the part left out
        item = orjson.dumps(message("user", "GAP", "u1")).decode().split('"GAP"')
        part = bundle.raw_payload("model_item", orjson.dumps(item), parts=(part,))
        first = orjson.dumps({"input": ["GAP"]}).decode()
    refs: dict[str, ev.RawPayloadRef] = {}
    kinds: dict[str, ev.PayloadKind] = {
        "request": "inference_request",
        "response": "inference_response",
    }
    for which, text, whole in (("request", first, '"hi"'), ("response", answer, '"ok"')):
        if (which == "response") == (cut == "response"):
            body = orjson.dumps(text.split('"GAP"'))
            refs[which] = bundle.raw_payload(kinds[which], body, parts=(part,))
        else:
            refs[which] = bundle.raw_payload(kinds[which], text.replace('"GAP"', whole))
    prompt = bundle.payload("prepared_prompt", {})
    started = ev.InferenceStartedV3(
        "i1", ROOT, TURN, "gpt-test", "test-provider", refs["request"], prompt
    )
    bundle.event(started, thread=ROOT, turn=TURN)
    bundle.event(ev.InferenceCompleted("i1", "r1", None, refs["response"]), thread=ROOT, turn=TURN)
    later = request(message("user", "hi", "u1"), message("assistant", "ok", "a1"))
    bundle.infer("i2", later, response(message("assistant", "b", "a2")), response_id="r2")
    bundle.infer("i3", request(message("user", "c", "u3"), previous_response_id="r1"))
    bundle.finish()
    calls = bundle.reduce()["inference_calls"]
    assert calls["i3"]["request_item_ids"][:2] == [
        *calls["i1"]["request_item_ids"],
        *calls["i1"]["response_item_ids"],
    ]


def test_a_stripped_id_on_an_output_whose_type_was_not_kept_is_refused(tmp_path: Path) -> None:
    """A stripped id naming an input whose type is a placeholder (a part not kept) is refused
    as naming no ID-less output, as Codex 0.171 refuses it; we crashed on the unhashable
    type (found by fuzz27: the grammar's cut templates)."""
    bundle = Scenario(tmp_path / "bundle", schema=3)
    bundle.begin()
    part = bundle.raw_payload("content_value", '"function_call_output"', capture="omitted")
    text = orjson.dumps(request({"type": "GAP", "call_id": "c1", "output": "o"})).decode()
    ref = bundle.raw_payload("inference_request", orjson.dumps(text.split('"GAP"')), parts=(part,))
    prompt = bundle.payload("prepared_prompt", {})
    started = ev.InferenceStartedV3(
        "i1", ROOT, TURN, "gpt-test", "test-provider", ref, prompt, None, ((0, "m1"),)
    )
    bundle.event(started, thread=ROOT, turn=TURN)
    bundle.finish()
    assert bundle.reduce_error().message == (
        "stripped tool output ID does not refer to an ID-less output at input 0"
    )
