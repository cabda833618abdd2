"""state.json in pieces: the same bytes as one pretty dump of ``to_json()``."""

from __future__ import annotations

import orjson
import pytest

from rollout_trace_sdk.model.events import RawPayloadRef
from rollout_trace_sdk.model.state import (
    ConversationItem,
    Producer,
    RolloutTrace,
    TextPart,
    state_bytes,
)
from rollout_trace_sdk.model.state_json import state_chunks


def _trace(items: int, schema: int) -> RolloutTrace:
    trace = RolloutTrace(
        schema_version=schema,
        trace_id="t",
        rollout_id="r",
        root_thread_id="root",
        started_at_unix_ms=5,
    )
    for n in range(items):
        item_id = f"conversation_item:{n}"
        trace.conversation_items[item_id] = ConversationItem(
            item_id=item_id,
            thread_id="root",
            codex_turn_id=None,
            first_seen_at_unix_ms=n,
            role="user",
            channel=None,
            kind="message",
            body=[TextPart(f'line one\nline "two" é {n}'), TextPart("")],
            call_id=None,
            produced_by=[Producer("harness")],
        )
        key = f"raw_payload:{n}"
        trace.raw_payloads[key] = (
            RawPayloadRef(key, "model_item", shard=n % 3)
            if schema == 3
            else RawPayloadRef(key, "inference_request", f"payloads/{n}.json")
        )
    return trace


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("items", [0, 1, 255, 256, 257, 700])
def test_chunks_are_one_pretty_dump(items: int, schema: int) -> None:
    """Empty maps, one entry, and batches that end exactly on or just past a boundary."""
    trace = _trace(items, schema)
    expected = orjson.dumps(trace.to_json(), option=orjson.OPT_INDENT_2)
    chunks = list(state_chunks(trace))
    assert b"".join(chunks) == expected
    assert state_bytes(trace) == expected
    if items > 512:  # the maps really were written in several pieces
        assert max(len(c) for c in chunks) < len(expected) / 2
