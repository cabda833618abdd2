"""The reduced state's own rules: Codex-exact bytes, windows, payload-ref parts."""

from __future__ import annotations

import orjson

from rollout_trace_sdk.model.state import (
    ConversationItem,
    ExecutionWindow,
    PayloadRefPart,
    Producer,
    RolloutTrace,
    TextPart,
    state_bytes,
)


def test_state_bytes_sort_maps_as_strings_and_omit_unset_keys() -> None:
    trace = RolloutTrace(trace_id="t", rollout_id="r", root_thread_id="root", started_at_unix_ms=5)
    for n in (2, 10):
        item_id = f"conversation_item:{n}"
        trace.conversation_items[item_id] = ConversationItem(
            item_id=item_id,
            thread_id="root",
            codex_turn_id=None,
            first_seen_at_unix_ms=1,
            role="user",
            channel=None,
            kind="message",
            body=[TextPart("é")],
            call_id=None,
            produced_by=[Producer("harness")],
        )
    data = state_bytes(trace)
    assert not data.endswith(b"\n")
    assert "é".encode() in data
    state = orjson.loads(data)
    assert list(state["conversation_items"]) == ["conversation_item:10", "conversation_item:2"]
    item = state["conversation_items"]["conversation_item:2"]
    assert (
        "responses_item_id" not in item
        and "accepted_seq" not in item
        and "agent_message" not in item
    )
    assert item["produced_by"] == [{"type": "harness"}]
    assert list(state)[:8] == [
        "schema_version",
        "trace_id",
        "rollout_id",
        "started_at_unix_ms",
        "ended_at_unix_ms",
        "status",
        "recording_complete",
        "root_thread_id",
    ]


def test_execution_window_end() -> None:
    window = ExecutionWindow(1, 2)
    window.end(3, 4, "failed")
    assert window.to_json() == {
        "started_at_unix_ms": 1,
        "started_seq": 2,
        "ended_at_unix_ms": 3,
        "ended_seq": 4,
        "status": "failed",
    }


def test_payload_ref_hash_only_when_set() -> None:
    assert "content_sha256" not in PayloadRefPart("content", "raw_payload:1").to_json()
    assert PayloadRefPart("x", "raw_payload:1", "ab").to_json()["content_sha256"] == "ab"
