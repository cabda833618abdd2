"""Every line Codex wrote parses into our model and serialises back to the same bytes."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from rollout_trace_sdk.model import DecodeError, codec, events
from tests.conftest import CONFORMANCE_V3, conformance_bundles

#: (schema, bundle) for both Codex corpora; a corpus that is absent contributes nothing.
BUNDLES = [(2, b) for b in conformance_bundles()] + [
    (3, b) for b in conformance_bundles(CONFORMANCE_V3)
]


def _id(case: tuple[int, Path]) -> str:
    schema, path = case
    return f"v{schema}/{path.parent.name}/{path.name[:14]}"


pytestmark = pytest.mark.skipif(not BUNDLES, reason="no ../shared conformance corpus")


@pytest.mark.parametrize("case", BUNDLES, ids=_id)
def test_trace_lines_round_trip_byte_identical(case: tuple[int, Path]) -> None:
    schema, bundle = case
    lines = [raw for raw in (bundle / "trace.jsonl").read_bytes().splitlines(keepends=True)]
    assert lines, "corpus bundle has no events"
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        event = codec.parse_event_line(raw, schema)
        assert event.schema_version == schema
        assert codec.event_line(event, schema) == raw, f"line {number} of {bundle}"


@pytest.mark.parametrize("case", BUNDLES, ids=_id)
def test_manifest_round_trips_byte_identical(case: tuple[int, Path]) -> None:
    bundle = case[1]
    raw = (bundle / "manifest.json").read_bytes()
    manifest = codec.manifest_from_dict(__import__("orjson").loads(raw))
    assert codec.manifest_bytes(manifest) == raw


def test_unknown_event_type_is_a_clear_error() -> None:
    line = (
        b'{"schema_version":2,"seq":1,"wall_time_unix_ms":1,"rollout_id":"r",'
        b'"thread_id":null,"codex_turn_id":null,"payload":{"type":"mystery_event"}}'
    )
    with pytest.raises(DecodeError, match=r"unknown variant `mystery_event`, expected one of "):
        codec.parse_event_line(line)


def test_missing_required_field_uses_serde_wording() -> None:
    line = b'{"schema_version":2,"wall_time_unix_ms":1,"rollout_id":"r","payload":{"type":"recording_completed"}}'
    with pytest.raises(DecodeError, match=r"^missing field `seq`$"):
        codec.parse_event_line(line)


def test_optional_envelope_fields_may_be_absent() -> None:
    line = b'{"schema_version":2,"seq":3,"wall_time_unix_ms":1,"rollout_id":"r","payload":{"type":"recording_completed"}}'
    event = codec.parse_event_line(line)
    assert event.thread_id is None and event.codex_turn_id is None
    assert isinstance(event.payload, events.RecordingCompleted)


def test_history_item_accepted_omits_absent_agent_message_payload() -> None:
    event = events.TraceEvent(2, 1, 5, "r", "t", "u", events.HistoryItemAccepted("msg_1"))
    assert codec.event_line(event) == (
        b'{"schema_version":2,"seq":1,"wall_time_unix_ms":5,"rollout_id":"r","thread_id":"t",'
        b'"codex_turn_id":"u","payload":{"type":"history_item_accepted","item_id":"msg_1"}}\n'
    )


def test_wrong_types_are_refused() -> None:
    with pytest.raises(DecodeError, match=r'invalid type: string "2", expected u32'):
        codec.manifest_from_dict(
            {
                "schema_version": "2",
                "trace_id": "t",
                "rollout_id": "r",
                "root_thread_id": "r",
                "started_at_unix_ms": 1,
                "raw_event_log": "trace.jsonl",
                "payloads_dir": "payloads",
            }
        )


def test_event_annotations_are_types_once_the_codec_is_loaded() -> None:
    """Hooks are generated on first use, but the event classes' annotations are still resolved
    when the codec loads (tools such as hypothesis read ``attrs.fields(...).type``)."""
    assert codec.converter is not None
    for cls in (events.ThreadResumed, events.RawPayloadRef, events.InferenceStartedV3):
        assert all(not isinstance(f.type, str) for f in attrs.fields(cls)), cls
