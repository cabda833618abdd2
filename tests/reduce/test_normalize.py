"""Normalisation of Responses-API items: summaries, content rules, serde-worded errors."""

from __future__ import annotations

import pytest

from rollout_trace_sdk.model import state as st
from rollout_trace_sdk.reduce.errors import ReduceError
from rollout_trace_sdk.reduce.normalize import json_summary, normalize_items, normalize_one


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


def test_a_reasoning_text_the_recorder_did_not_keep_is_a_reference_named_by_its_list() -> None:
    """Capture limits (0.171): a reasoning summary or content text cut out of its item is
    spliced as the unavailable marker; the part refers to it under "summary" / "content"."""
    item = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": {"$trace_unavailable": "raw_payload:8"}}],
        "content": [{"type": "reasoning_text", "text": {"$trace_unavailable": "raw_payload:9"}}],
    }
    body = normalize_one(item, "raw_payload:12", unavailable=True).body
    assert body == [
        st.PayloadRefPart("content", "raw_payload:9"),
        st.PayloadRefPart("summary", "raw_payload:8"),
    ]
    with pytest.raises(ReduceError, match="content entry without string text"):
        normalize_one(item, "raw_payload:12")  # schema 2: no marker, only a wrong type


def test_additional_tools_items_are_no_conversation_items() -> None:
    """A forked thread's first request carries its tool list as an ``additional_tools`` input
    item; Codex leaves it out of the request's items (and out of a response's)."""
    tools = {"type": "additional_tools", "id": "at_1", "role": "developer", "tools": []}
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    items = normalize_items([tools, user], "raw_payload:4", ("input",))
    assert [item.kind for item in items] == ["message"]
    with pytest.raises(ReduceError, match="unsupported model item type ghost_snapshot"):
        normalize_items([{"type": "ghost_snapshot"}], "raw_payload:4", ("input",))
    for kind in (["additional_tools"], {"a": 1}, None):  # not a string: Codex's own words
        with pytest.raises(ReduceError, match="did not contain a string type"):
            normalize_items([{"type": kind}], "raw_payload:4", ("input",), seen={})
