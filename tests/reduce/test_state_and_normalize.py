"""Units under the scenarios: state bytes, content hashes, normalisation rules."""

from __future__ import annotations

import hashlib

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollout_trace_sdk.model.state import (
    ConversationItem,
    ExecutionWindow,
    PayloadRefPart,
    Producer,
    RolloutTrace,
    TextPart,
    state_bytes,
)
from rollout_trace_sdk.reduce.canonical import canonical_json, content_sha256, parse_keeping_numbers
from rollout_trace_sdk.reduce.errors import ReduceError
from rollout_trace_sdk.reduce.normalize import json_summary, normalize_items, normalize_one


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


def test_canonical_json_sorts_keys_and_keeps_number_text() -> None:
    raw = parse_keeping_numbers(
        b'{"b": 1.50, "a": [1E20, -0.0, "\\u0001\\n\xc3\xa9"], "c": 123456789012345678901}'
    )
    assert (
        canonical_json(raw) == '{"a":[1e+20,-0.0,"\\u0001\\né"],"b":1.50,"c":123456789012345678901}'
    )


def test_content_sha256_of_the_corpus_image_shape() -> None:
    element = {"type": "input_image", "image_url": "data:x", "detail": "original"}
    expected = hashlib.sha256(
        b'{"detail":"original","image_url":"data:x","type":"input_image"}'
    ).hexdigest()
    assert content_sha256(element) == expected


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=10,
    )
)
def test_canonical_json_is_valid_sorted_json(value: object) -> None:
    text = canonical_json(value)
    assert orjson.loads(text) == value
    assert canonical_json(orjson.loads(text)) == text


def test_json_summary_cuts_at_a_character_boundary() -> None:
    summary = json_summary({"k": "é" * 300})
    assert summary.endswith("...")
    assert len(summary[:-3].encode()) <= 240


def test_message_content_rules() -> None:
    items = normalize_items(
        [
            {
                "type": "message",
                "role": "user",
                "id": 7,
                "content": [
                    {"type": "input_text", "text": "a"},
                    {"type": "input_text"},
                    {"type": "input_image", "image_url": "u"},
                    {"text": "no type"},
                ],
            }
        ],
        "raw_payload:1",
        ("input",),
    )
    (item,) = items
    assert item.responses_item_id is None
    assert [type(p).__name__ for p in item.body] == ["TextPart", "PayloadRefPart", "PayloadRefPart"]
    assert [p.label for p in item.body[1:]] == ["input_image", "content"]  # type: ignore[union-attr]
    empty = normalize_one({"type": "message", "role": "user", "content": []}, "raw_payload:1")
    assert empty.body == []


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"role": "user"}, "model item in payload P did not contain a string type"),
        ({"type": "message", "role": "robot"}, "unsupported message role robot in payload P"),
        (
            {"type": "reasoning", "summary": None},
            "reasoning item in payload P had non-array summary",
        ),
        (
            {"type": "reasoning", "summary": []},
            "reasoning item in payload P contained no content, summary, or encrypted_content",
        ),
        (
            {"type": "compaction"},
            "compaction item in payload P did not contain string encrypted_content",
        ),
        (
            {"type": "agent_message", "author": "/a", "recipient": "/b", "content": []},
            "agent_message item in payload P contained no content",
        ),
    ],
)
def test_normalisation_errors(item: dict[str, object], message: str) -> None:
    with pytest.raises(ReduceError) as caught:
        normalize_one(item, "P")
    assert caught.value.message == message


def test_agent_message_unknown_content_variant() -> None:
    with pytest.raises(ReduceError) as caught:
        normalize_one(
            {
                "type": "agent_message",
                "author": "/a",
                "recipient": "/b",
                "content": [{"type": "zzz"}],
            },
            "P",
        )
    assert (
        caught.value.cause == "unknown variant `zzz`, expected `input_text` or `encrypted_content`"
    )
