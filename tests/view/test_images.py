"""Where the view model says an item's images are (``view/images.py``)."""

from __future__ import annotations

import orjson

from rollout_trace_sdk.view.images import image_refs


def test_an_image_part_names_its_payload_and_hash() -> None:
    body = {
        "parts": [
            {"type": "text", "text": "look"},
            {"type": "payload_ref", "label": "input_image", "raw_payload_id": "raw_payload:4"},
            {
                "type": "payload_ref",
                "label": "input_image",
                "raw_payload_id": "raw_payload:4",
                "content_sha256": "e8150a2b",
            },
            {"type": "payload_ref", "label": "content", "raw_payload_id": "raw_payload:4"},
        ]
    }
    assert image_refs(body) == [
        ["input_image", "raw_payload:4", None],
        ["input_image", "raw_payload:4", "e8150a2b"],
    ]


def test_a_generated_image_names_its_call() -> None:
    def item(**fields: object) -> dict[str, object]:
        summary = orjson.dumps({"type": "image_generation_call", "id": "ig_1", **fields})
        return {
            "parts": [
                {"type": "json", "summary": summary.decode(), "raw_payload_id": "raw_payload:8"}
            ]
        }

    assert image_refs(item(result="iVBORw0KGgo=")) == [
        ["image_generation_call", "raw_payload:8", "ig_1"]
    ]
    assert image_refs(item(status="generating")) == []  # no image yet
    assert image_refs(item(result="")) == []
    assert image_refs({"parts": [{"type": "json", "summary": '{"type":"web_search_call"}'}]}) == []
    assert image_refs(None) == [] and image_refs({"parts": "x"}) == []


def test_only_an_image_generation_call_is_read_as_a_generated_image() -> None:
    """A JSON part of another item that has an ``id`` and a non-empty ``result`` (a tool
    call's, a hosted call's) is no image: it must not be offered to the page as one, which
    would draw its result as base64 image bytes. Protects the type check ahead of reading
    the summary (the other parts of this module's tests had no ``raw_payload_id`` and were
    skipped before it)."""
    summary = orjson.dumps({"type": "web_search_call", "id": "ws_1", "result": "found"})
    part = {"type": "json", "summary": summary.decode(), "raw_payload_id": "raw_payload:8"}
    assert image_refs({"parts": [part]}) == []
