"""``view/capture.py``: what capture limits cut or left out, in words."""

from __future__ import annotations

from rollout_trace_sdk.view.capture import (
    WRITER_LIVE_KEY,
    capture_note,
    capture_notes,
    cut_status,
    not_whole,
    recording_status,
    ref_text,
    unavailable_ids,
    unavailable_notes,
)

_CUT = {"status": "truncated", "original_bytes": 12_512, "retained_bytes": 2_000}


def test_notes_say_what_was_kept() -> None:
    assert capture_note({"capture": _CUT}) == "truncated: 2,000 of 12,512 bytes kept"
    assert capture_note({"capture": {"status": "omitted", "original_bytes": 56}}) == (
        "omitted: 56 bytes not kept"
    )
    assert capture_note({"path": "payloads/1.json"}) is None  # schema 2: always whole
    assert capture_note({"capture": None}) is None


def test_a_json_summary_names_its_cut_values_once_each() -> None:
    notes = capture_notes(
        {"raw_payloads": {"raw_payload:10": {"capture": _CUT}, "raw_payload:11": {"shard": 1}}}
    )
    assert notes == {"raw_payload:10": "truncated: 2,000 of 12,512 bytes kept"}
    summary = (
        '{"a":{"$trace_unavailable":"raw_payload:10"},"b":{"$trace_unavailable": "raw_payload:10"}}'
    )
    assert unavailable_notes(summary, notes) == (
        " [raw_payload:10, truncated: 2,000 of 12,512 bytes kept]"
    )
    assert unavailable_notes('{"$trace_unavailable":"raw_payload:11"}', notes) == ""


def test_the_recording_status_of_either_schema() -> None:
    assert recording_status({"recording_status": "closed_with_partial_payloads"}) == (
        "closed_with_partial_payloads"
    )
    assert recording_status({"recording_complete": True}) == "complete"
    assert recording_status({"recording_complete": False}) == "unclosed"


def test_only_an_unclosed_recording_whose_writer_lives_is_recording() -> None:
    """A writer still holding the log's lock makes an unclosed recording ``recording``; a
    closed one stays what its log says (the writer holds the lock a moment after its last
    line). Reading the live flag alone passed, mut30."""
    live = {WRITER_LIVE_KEY: True}
    assert recording_status({"recording_status": "unclosed", **live}) == "recording"
    assert recording_status({"recording_complete": False, **live}) == "recording"
    assert recording_status({"recording_status": "complete", **live}) == "complete"
    assert recording_status({"recording_complete": True, **live}) == "complete"
    assert recording_status({"recording_status": "closed_with_partial_payloads", **live}) == (
        "closed_with_partial_payloads"
    )
    assert recording_status({"recording_status": "unclosed", WRITER_LIVE_KEY: "yes"}) == (
        "unclosed"
    )


def test_what_of_a_payload_was_cut_at_any_depth() -> None:
    cut_part = {"raw_payload_id": "raw_payload:4", "capture": _CUT}
    template = {"raw_payload_id": "raw_payload:9", "parts": [{"parts": [cut_part]}]}
    assert cut_status({"capture": _CUT}) == "truncated"
    assert cut_status({"capture": {"status": "complete"}}) is None
    assert not_whole({"capture": _CUT}) == "recorded truncated"
    assert not_whole(template) == "part raw_payload:4 recorded truncated"
    assert not_whole({"raw_payload_id": "raw_payload:9", "parts": [{}]}) is None
    assert unavailable_ids('[{"$trace_unavailable":"raw_payload:4"},"x"]') == ["raw_payload:4"]
    notes = {"raw_payload:4": "truncated: 2,000 of 12,512 bytes kept"}
    part = {"type": "payload_ref", "label": "text", "raw_payload_id": "raw_payload:4"}
    assert ref_text(part, notes) == "[text: raw_payload:4, truncated: 2,000 of 12,512 bytes kept]"
    assert ref_text({**part, "raw_payload_id": "raw_payload:5"}, notes) == "[text raw_payload:5]"
    assert ref_text({"type": "payload_ref", "label": "content"}, notes) == "[content]"
