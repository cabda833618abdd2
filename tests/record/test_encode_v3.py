"""The recorder's line encoder writes schema 3 byte for byte as Codex 0.171 does."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout_trace_sdk.model import codec
from rollout_trace_sdk.record._encode import LineEncoder
from tests.conftest import CONFORMANCE_V3

_LOGS = sorted(CONFORMANCE_V3.glob("*/*/trace.jsonl")) if CONFORMANCE_V3.is_dir() else []


@pytest.mark.skipif(not _LOGS, reason="../shared/conformance-v3 is not present")
@pytest.mark.parametrize("log", _LOGS, ids=[p.parent.parent.name for p in _LOGS])
def test_every_corpus_line_is_encoded_back_to_its_bytes(log: Path) -> None:
    lines = log.read_bytes().splitlines()
    encoder: LineEncoder | None = None
    for line in lines:
        event = codec.parse_event_line(line, 3)
        encoder = encoder or LineEncoder(event.rollout_id, schema=3)
        queued = (event.seq, event.wall_time_unix_ms, event.thread_id, event.codex_turn_id)
        assert encoder.line((*queued, event.payload)) == line + b"\n"
