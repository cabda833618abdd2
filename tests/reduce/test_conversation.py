"""Reducer scenarios 1-19 (reducer.md §11): conversation reconstruction, adapted to schema 2.

Each bundle is also reduced by the real Codex binary when it is available (see ``builder``),
and the two states must be equal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.reduce.builder import ROOT, TURN, Scenario, message, request, response, start_tool

FC = {
    "type": "function_call",
    "id": "fc1",
    "name": "exec_command",
    "call_id": "call-1",
    "arguments": '{"cmd": "ls"}',
}
FCO = {"type": "function_call_output", "id": "fco1", "call_id": "call-1", "output": "a b"}


def items_of(state: dict[str, Any], *ids: str) -> list[dict[str, Any]]:
    return [state["conversation_items"][i] for i in ids]


def test_01_history_reuse_by_position(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "ok")))
    bundle.infer(
        "inf-2", request(message("user", "ok"), message("assistant", "ack"), message("user", "ok"))
    )
    state = bundle.reduce()
    first = state["inference_calls"]["inf-1"]["request_item_ids"]
    second = state["inference_calls"]["inf-2"]["request_item_ids"]
    assert len(state["conversation_items"]) == 3
    assert second[0] == first[0]
    assert second[2] not in (first[0], second[1])


def test_02_response_joins_conversation(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer(
        "inf-1",
        request(message("user", "hi", "u1")),
        response(message("assistant", "hello", "a1")),
        response_id="resp-1",
    )
    bundle.accept("a1")
    state = bundle.reduce()
    call = state["inference_calls"]["inf-1"]
    (reply,) = items_of(state, *call["response_item_ids"])
    assert reply["produced_by"] == [{"type": "inference", "inference_call_id": "inf-1"}]
    assert reply["responses_item_id"] == "a1"
    assert reply["accepted_seq"] == 6
    assert state["threads"][ROOT]["conversation_item_ids"] == [
        "conversation_item:1",
        "conversation_item:2",
    ]


def test_03_later_full_request_reuses_call_item(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "go", "u1")), response(FC))
    bundle.infer("inf-2", request(message("user", "go", "u1"), FC, FCO))
    state = bundle.reduce()
    call_item = state["inference_calls"]["inf-1"]["response_item_ids"][0]
    assert state["inference_calls"]["inf-2"]["request_item_ids"][1] == call_item
    assert state["conversation_items"][call_item]["body"]["parts"][0]["summary"] == '{"cmd":"ls"}'


def test_04_incremental_request_carries_prefix_and_usage(bundle: Scenario) -> None:
    bundle.begin()
    usage = {
        "input_tokens": 10,
        "cached_input_tokens": 2,
        "output_tokens": 3,
        "reasoning_output_tokens": -1,
        "total_tokens": 13,
    }
    bundle.infer(
        "inf-1",
        request(message("user", "go", "u1")),
        response(FC, usage=usage),
        response_id="resp-1",
    )
    bundle.infer("inf-2", request(FCO, previous_response_id="resp-1"))
    state = bundle.reduce()
    first, second = state["inference_calls"]["inf-1"], state["inference_calls"]["inf-2"]
    assert second["request_item_ids"][:2] == first["request_item_ids"] + first["response_item_ids"]
    assert len(second["request_item_ids"]) == 3
    assert first["usage"] == {
        "input_tokens": 10,
        "cached_input_tokens": 2,
        "cache_write_input_tokens": 0,
        "output_tokens": 3,
        "reasoning_output_tokens": 0,
    }


def test_05_full_snapshot_may_reorder_and_insert(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "a", "u1"), message("user", "b", "u2")))
    bundle.infer(
        "inf-2",
        request(
            message("user", "b", "u2"), message("user", "new", "u3"), message("user", "a", "u1")
        ),
    )
    state = bundle.reduce()
    first = state["inference_calls"]["inf-1"]["request_item_ids"]
    second = state["inference_calls"]["inf-2"]["request_item_ids"]
    assert second == [first[1], "conversation_item:3", first[0]]


def reasoning(
    rid: str, *, text: str | None = None, summary: str | None = None, encrypted: str | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "reasoning",
        "id": rid,
        "summary": [] if summary is None else [{"type": "summary_text", "text": summary}],
    }
    if text is not None:
        item["content"] = [{"type": "reasoning_text", "text": text}]
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    return item


def test_06_reasoning_body_order(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer(
        "inf-1",
        request(message("user", "think")),
        response(reasoning("rs1", text="raw", summary="sum", encrypted="ENC")),
    )
    state = bundle.reduce()
    (item_id,) = state["inference_calls"]["inf-1"]["response_item_ids"]
    assert state["conversation_items"][item_id]["body"]["parts"] == [
        {"type": "text", "text": "raw"},
        {"type": "summary", "text": "sum"},
        {"type": "encoded", "label": "encrypted_content", "value": "ENC"},
    ]


def test_07_encrypted_reasoning_reused_across_requests(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer(
        "inf-1",
        request(message("user", "q", "u1")),
        response(reasoning("rs1", summary="s", encrypted="ENC")),
    )
    bundle.infer("inf-2", request(message("user", "q", "u1"), reasoning("rs1", encrypted="ENC")))
    state = bundle.reduce()
    produced = state["inference_calls"]["inf-1"]["response_item_ids"][0]
    assert state["inference_calls"]["inf-2"]["request_item_ids"][1] == produced
    assert len(state["conversation_items"]) == 2


def test_08_complementary_reasoning_merge(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer(
        "inf-1",
        request(message("user", "q", "u1")),
        response(reasoning("rs1", summary="short", encrypted="ENC")),
    )
    bundle.infer(
        "inf-2",
        request(message("user", "q", "u1"), reasoning("rs1", text="long form", encrypted="ENC")),
    )
    state = bundle.reduce()
    item = state["conversation_items"]["conversation_item:2"]
    assert [p["type"] for p in item["body"]["parts"]] == ["text", "summary", "encoded"]


def test_09_conflicting_reasoning_text_keeps_first(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer(
        "inf-1",
        request(message("user", "q", "u1")),
        response(reasoning("rs1", text="first", summary="s", encrypted="ENC")),
    )
    bundle.infer(
        "inf-2",
        request(
            message("user", "q", "u1"),
            reasoning("rs1", text="second", summary="t", encrypted="ENC"),
        ),
    )
    state = bundle.reduce()
    parts = state["conversation_items"]["conversation_item:2"]["body"]["parts"]
    assert parts[0] == {"type": "text", "text": "first"}
    assert parts[1] == {"type": "summary", "text": "s"}


def test_10_call_id_reused_with_different_content(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "go", "u1")), response(FC))
    other = {**FC, "id": "fc2", "arguments": '{"cmd": "pwd"}'}
    bundle.infer("inf-2", request(message("user", "go", "u1"), other))
    assert (
        bundle.reduce_error().message
        == "model-visible call id call-1 was reused with different content"
    )


def test_10b_outputs_may_share_a_call_id(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "go", "u1")), response(FC))
    second = {**FCO, "id": "fco2", "output": "other"}
    bundle.infer("inf-2", request(message("user", "go", "u1"), FC, FCO, second))
    state = bundle.reduce()
    assert len(state["inference_calls"]["inf-2"]["request_item_ids"]) == 4


def test_11_unsupported_item_type(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer("inf-1", request({"type": "mystery", "id": "x"}))
    assert (
        bundle.reduce_error().message
        == "unsupported model item type mystery in payload raw_payload:1"
    )


def test_12_missing_input(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer("inf-1", {"model": "gpt-test"})
    assert (
        bundle.reduce_error().message
        == "inference request payload raw_payload:1 did not contain input"
    )


def test_13_request_input_mode_is_gone_so_payload_decides(bundle: Scenario) -> None:
    # v2 dropped request_input_mode; without a previous_response_id in the payload the request
    # is a full snapshot even after a traced response.
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "go", "u1")), response(FC), response_id="resp-1")
    bundle.infer("inf-2", request(message("user", "go", "u1"), FC, FCO))
    state = bundle.reduce()
    assert state["inference_calls"]["inf-2"]["request_item_ids"][:2] == [
        "conversation_item:1",
        "conversation_item:2",
    ]


def test_14_untraced_previous_response_fails(bundle: Scenario) -> None:
    # v2 cannot express an untraced prefix: an incremental request must name a traced response.
    bundle.begin()
    bundle.infer("inf-1", request(FCO, previous_response_id="resp-elsewhere"))
    assert bundle.reduce_error().message == (
        "incremental inference request inf-1 referenced unknown previous_response_id resp-elsewhere"
    )


def test_15_unknown_previous_response(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "go", "u1")), response(FC), response_id="resp-1")
    bundle.infer("inf-2", request(FCO, previous_response_id="resp-2"))
    assert "referenced unknown previous_response_id resp-2" in bundle.reduce_error().message


def _compaction_bundle(bundle: Scenario, summary_type: str) -> dict[str, Any]:
    from rollout_trace_sdk.model import events as ev

    bundle.begin()
    bundle.infer(
        "inf-1",
        request(message("user", "long", "u1")),
        response(message("assistant", "answer", "a1")),
    )
    bundle.accept("u1")
    bundle.accept("a1")
    summary = {"type": summary_type, "id": "cmp1", "encrypted_content": "SUMMARY"}
    req = bundle.payload("compaction_request", {"input": []})
    bundle.event(
        ev.CompactionRequestStarted(
            "cmp-1", "compaction_request:1", ROOT, TURN, "gpt-test", "test-provider", req
        ),
        thread=ROOT,
        turn=TURN,
    )
    resp = bundle.payload("compaction_response", {"output_items": [summary]})
    bundle.event(
        ev.CompactionRequestCompleted("cmp-1", "compaction_request:1", resp), thread=ROOT, turn=TURN
    )
    checkpoint = bundle.payload(
        "compaction_checkpoint",
        {
            "input_history": [message("user", "long", "u1"), message("assistant", "answer", "a1")],
            "replacement_history": [message("user", "long", "u1"), summary],
        },
    )
    bundle.event(ev.CompactionInstalled("cmp-1", checkpoint), thread=ROOT, turn=TURN)
    bundle.infer(
        "inf-2", request(message("user", "long", "u1"), summary, message("user", "next", "u2"))
    )
    bundle.finish()
    return bundle.reduce()


@pytest.mark.parametrize("summary_type", ["compaction", "context_compaction"])
def test_16_17_compaction_boundary(bundle: Scenario, summary_type: str) -> None:
    state = _compaction_bundle(bundle, summary_type)
    compaction = state["compactions"]["cmp-1"]
    assert compaction["input_item_ids"] == ["conversation_item:1", "conversation_item:2"]
    assert compaction["marker_item_id"] == "conversation_item:3"
    assert compaction["replacement_item_ids"] == ["conversation_item:4", "conversation_item:5"]
    assert compaction["request_ids"] == ["compaction_request:1"]
    marker = state["conversation_items"]["conversation_item:3"]
    assert marker["kind"] == "compaction_marker" and marker["body"] == {"parts": []}
    assert "responses_item_id" not in marker
    summary = state["conversation_items"]["conversation_item:5"]
    assert summary["channel"] == "summary"
    assert summary["body"]["parts"] == [
        {"type": "encoded", "label": "encrypted_content", "value": "SUMMARY"}
    ]
    # The next full request reconciles against the replacement history.
    assert state["inference_calls"]["inf-2"]["request_item_ids"] == [
        "conversation_item:4",
        "conversation_item:5",
        "conversation_item:6",
    ]
    # A replacement copy of an accepted item shows the acceptance of its responses id.
    assert (
        state["conversation_items"]["conversation_item:4"]["accepted_seq"]
        == state["conversation_items"]["conversation_item:1"]["accepted_seq"]
    )


def test_18_tool_linking_to_inference_and_outputs(bundle: Scenario) -> None:
    from rollout_trace_sdk.model import events as ev

    bundle.begin()
    bundle.infer("inf-1", request(message("user", "go", "u1")), response(FC), response_id="resp-1")
    start_tool(bundle, "call-1", ev.ToolCallKind.other("lookup"), "lookup")
    result = bundle.payload("tool_result", {"type": "direct_response", "response_item": FCO})
    bundle.event(ev.ToolCallEnded("call-1", "completed", result), thread=ROOT, turn=TURN)
    bundle.infer("inf-2", request(message("user", "go", "u1"), FC, FCO))
    state = bundle.reduce()
    tool = state["tool_calls"]["call-1"]
    assert tool["model_visible_call_item_ids"] == ["conversation_item:2"]
    assert tool["model_visible_output_item_ids"] == ["conversation_item:3"]
    assert state["inference_calls"]["inf-1"]["tool_call_ids_started_by_response"] == ["call-1"]
    assert state["conversation_items"]["conversation_item:3"]["produced_by"] == [
        {"type": "tool", "tool_call_id": "call-1"}
    ]


def test_19_unknown_turn(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "go")), turn_id="turn-9")
    assert (
        bundle.reduce_error().message
        == "inference start inf-1 referenced unknown codex turn turn-9"
    )


def test_history_keeps_only_accepted_or_resent_items(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer(
        "inf-1",
        request(message("user", "go", "u1")),
        response(message("assistant", "one", "a1"), message("assistant", "two", "a2")),
    )
    bundle.accept("a2")
    state = bundle.reduce()
    assert state["threads"][ROOT]["conversation_item_ids"] == [
        "conversation_item:1",
        "conversation_item:3",
    ]
    assert "accepted_seq" not in state["conversation_items"]["conversation_item:2"]


def test_ids_take_part_in_matching(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "hi", "u1")))
    bundle.infer("inf-2", request(message("user", "hi", "u2")))
    bundle.infer("inf-3", request(message("user", "hi")))
    state = bundle.reduce()
    assert state["inference_calls"]["inf-2"]["request_item_ids"] == ["conversation_item:2"]
    assert state["inference_calls"]["inf-3"]["request_item_ids"] == ["conversation_item:2"]


def _ids(state: dict[str, Any]) -> dict[str, tuple[list[str], list[str]]]:
    return {
        k: (v["request_item_ids"], v["response_item_ids"])
        for k, v in sorted(state["inference_calls"].items())
    }


def test_response_reuses_an_item_its_responses_id_names(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer("i0", request(message("user", "a", "u1")))
    bundle.infer("i1", request(message("user", "b", "u2")), response(message("user", "a", "u1")))
    assert _ids(bundle.reduce())["i1"] == (["conversation_item:2"], ["conversation_item:1"])


def test_response_without_ids_always_creates(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer("i0", request(message("user", "hi")), response(message("user", "hi")))
    assert _ids(bundle.reduce())["i0"] == (["conversation_item:1"], ["conversation_item:2"])


def test_an_id_anywhere_in_the_response_brings_its_items_in(bundle: Scenario) -> None:
    def call(call_id: str, rid: str | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {
            "type": "function_call",
            "call_id": call_id,
            "name": "f",
            "arguments": "{}",
        }
        if rid:
            item["id"] = rid
        return item

    bundle.begin()
    bundle.infer("i0", request(message("user", "a", "u1")), response(call("c2", "u1")))
    bundle.infer("i1", request(message("user", "b", "u2")), response(call("c2"), call("c1", "u1")))
    assert _ids(bundle.reduce())["i1"] == (
        ["conversation_item:3"],
        ["conversation_item:2", "conversation_item:4"],
    )


def test_positional_reuse_takes_an_item_once(bundle: Scenario) -> None:
    out = {"type": "function_call_output", "call_id": "c2", "output": "o2"}
    bundle.begin()
    bundle.infer("i0", request(message("user", "a", "u1"), out))
    bundle.infer("i1", request({**out, "id": "r1"}, out))
    assert _ids(bundle.reduce())["i1"] == (["conversation_item:2", "conversation_item:3"], [])


# --- responses while a compaction replacement is pending -----------------------------------------
# Found by the 0.171 differential (a cut request, a response, a checkpoint) and probed against
# both Codex versions: the rule is the pending replacement, not the cut request.

SUMMARY = {"type": "compaction", "id": "sum1", "encrypted_content": "SUMMARY"}


def _checkpoint(bundle: Scenario, compaction_id: str, *history: dict[str, Any]) -> None:
    from rollout_trace_sdk.model import events as ev

    payload = {
        "input_history": list(history),
        "replacement_history": [message("user", "long", "u1"), SUMMARY],
    }
    ref = bundle.payload("compaction_checkpoint", payload)
    bundle.event(ev.CompactionInstalled(compaction_id, ref), thread=ROOT, turn=TURN)


def _compacted(bundle: Scenario) -> None:
    """ci:1 u1, ci:2 a1; the checkpoint: marker ci:3, replacement ci:4 u1 and ci:5 summary."""
    bundle.begin()
    bundle.infer(
        "inf-1",
        request(message("user", "long", "u1")),
        response(message("assistant", "answer", "a1")),
        response_id="resp-1",
    )
    _checkpoint(
        bundle, "cmp-1", message("user", "long", "u1"), message("assistant", "answer", "a1")
    )


def _close(bundle: Scenario) -> dict[str, Any]:
    bundle.end_turn()
    bundle.finish()
    return bundle.reduce()


@pytest.mark.parametrize("schema", [2, 3])
def test_response_while_replacement_pending_stays_out_of_the_snapshot(
    tmp_path: Path, schema: int
) -> None:
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    _compacted(bundle)
    # An incremental request does not use the pending replacement; its response (ci:7) is
    # made, but the snapshot stays at the request's items [1, 2, 6].
    bundle.infer(
        "inf-2",
        request(message("user", "more", "u2"), previous_response_id="resp-1"),
        response(message("assistant", "two", "a2")),
        response_id="resp-2",
    )
    _checkpoint(
        bundle,
        "cmp-2",
        message("user", "long", "u1"),
        message("assistant", "answer", "a1"),
        message("user", "more", "u2"),
        message("assistant", "two", "a2"),
    )
    state = _close(bundle)
    compaction = state["compactions"]["cmp-2"]
    assert compaction["input_item_ids"] == [f"conversation_item:{n}" for n in (1, 2, 6, 8)]
    assert "conversation_item:7" not in state["threads"][ROOT]["conversation_item_ids"]


def test_cut_request_then_incremental_then_checkpoint(tmp_path: Path) -> None:
    """The differential's shape: after a compaction, a cut request, its response (ci:6), an
    incremental request on it ([6, 7]) and its response (ci:8), a checkpoint. Only the
    incremental request's items are candidates: the checkpoint's copy of a3 is a new item."""
    from rollout_trace_sdk.model import events as ev

    bundle = Scenario(tmp_path / "bundle", schema=3)
    _compacted(bundle)
    history = [message("user", "long", "u1"), SUMMARY, message("user", "more", "u2")]
    cut = bundle.payload("inference_request", request(*history), capture="truncated")
    bundle.event(
        ev.InferenceStarted("inf-2", ROOT, TURN, "gpt-test", "test-provider", cut),
        thread=ROOT,
        turn=TURN,
    )
    bundle.complete("inf-2", response(message("assistant", "two", "a2")), response_id="resp-2")
    bundle.infer(
        "inf-3",
        request(message("user", "again", "u3"), previous_response_id="resp-2"),
        response(message("assistant", "three", "a3")),
        response_id="resp-3",
    )
    _checkpoint(
        bundle,
        "cmp-2",
        *history,
        message("assistant", "two", "a2"),
        message("user", "again", "u3"),
        message("assistant", "three", "a3"),
    )
    state = _close(bundle)
    assert state["inference_calls"]["inf-3"]["request_item_ids"] == [
        "conversation_item:6",
        "conversation_item:7",
    ]
    compaction = state["compactions"]["cmp-2"]
    assert compaction["input_item_ids"] == [f"conversation_item:{n}" for n in (9, 10, 11, 6, 7, 12)]
    assert "conversation_item:8" not in state["threads"][ROOT]["conversation_item_ids"]


@pytest.mark.parametrize("resent", [True, False])
def test_a_call_overtaken_by_a_later_request_answers_its_own_request(
    bundle: Scenario, resent: bool
) -> None:
    """Calls interleaved in one thread (C starts, B starts and completes, then C completes):
    C's output follows C's request, and the thread's snapshot stays B's, so a later request
    that resends C's output does not find it there and makes a new item (as Codex does)."""
    user = message("user", "a")
    bundle.begin()
    bundle.infer("A", request(user), response(message("assistant", "x1")), response_id="rA")
    sent = [user, message("assistant", "x1"), message("user", "y1")]
    bundle.infer("C", request(*sent, message("assistant", "x2"), message("user", "y2")))
    bundle.infer("B", request(*sent), response(message("assistant", "x2")), response_id="rB")
    bundle.complete("C", response(message("assistant", "x3")), response_id="rC")
    later = [*sent, message("assistant", "x2")]
    if resent:
        later.append(message("assistant", "x3"))
    bundle.infer("D", request(*later))
    state = bundle.reduce()
    calls = state["inference_calls"]
    c_output = calls["C"]["response_item_ids"]
    assert len(c_output) == 1
    assert c_output[0] not in calls["B"]["request_item_ids"] + calls["B"]["response_item_ids"]
    d_request = calls["D"]["request_item_ids"]
    assert d_request[3] == calls["B"]["response_item_ids"][0]
    if resent:
        assert d_request[4] != c_output[0]  # not found in the thread's snapshot: a new item
