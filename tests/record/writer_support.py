"""Helpers for the bundle-writer tests: open a writer, write a small valid rollout through it,
and read a bundle back with every invariant the reducer relies on checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import orjson

from rollout_trace_sdk.model import codec
from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.record.writer import BundleWriter

TRACE_ID = "11111111-2222-4333-8444-555555555555"
ROOT = "01a20c59-0000-7000-8000-000000000001"
TURN = "01a20c59-0000-7000-8000-0000000000aa"


def make_writer(root: Path, **kwargs: Any) -> BundleWriter:
    return BundleWriter.create(root, trace_id=TRACE_ID, root_thread_id=ROOT, **kwargs)


def metadata() -> dict[str, Any]:
    return {
        "thread_id": ROOT,
        "agent_path": "/root",
        "task_name": None,
        "nickname": None,
        "agent_role": None,
        "session_source": "exec",
        "cwd": "/tmp",
        "rollout_path": None,
        "model": "gpt-test",
        "provider_name": "test-provider",
        "approval_policy": "never",
        "sandbox_policy": "DangerFullAccess",
    }


def request(text: str) -> dict[str, Any]:
    return {
        "model": "gpt-test",
        "input": [
            {
                "type": "message",
                "id": "msg_user_1",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            }
        ],
    }


def response(text: str) -> dict[str, Any]:
    return {
        "response_id": "resp-1",
        "upstream_request_id": "req-1",
        "token_usage": None,
        "output_items": [
            {
                "type": "message",
                "id": "msg_assistant_1",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text}],
            }
        ],
    }


async def write_start(w: BundleWriter) -> None:
    """rollout_started, thread_started (with metadata) and a turn start."""
    assert await w.event(ev.RolloutStarted(TRACE_ID, ROOT))
    meta = await w.payload("session_metadata", metadata())
    assert await w.event(ev.ThreadStarted(ROOT, "/root", meta))
    assert await w.event(ev.CodexTurnStarted(TURN, ROOT), thread_id=ROOT, codex_turn_id=TURN)


async def write_inference(w: BundleWriter, n: int, text: str = "hello") -> None:
    """One completed inference call on the root thread's turn (2 payloads, 2 events)."""
    call_id = f"00000000-0000-4000-8000-{n:012d}"
    req = await w.payload("inference_request", request(text))
    if req is not None:
        await w.event(
            ev.InferenceStarted(call_id, ROOT, TURN, "gpt-test", "test-provider", req),
            thread_id=ROOT,
            codex_turn_id=TURN,
        )
        resp = await w.payload("inference_response", response(text.upper()))
        if resp is not None:
            await w.event(
                ev.InferenceCompleted(call_id, "resp-1", "req-1", resp),
                thread_id=ROOT,
                codex_turn_id=TURN,
            )


async def write_end(w: BundleWriter) -> None:
    await w.event(ev.CodexTurnEnded(TURN, "completed"), thread_id=ROOT, codex_turn_id=TURN)
    await w.event(ev.ThreadEnded(ROOT, "completed"))
    await w.event(ev.RolloutEnded("completed"))


def shard_texts(bundle: Path) -> list[bytes]:
    """A schema-3 bundle's shards, decompressed (their records, as far as they go)."""
    import zstandard

    return [
        zstandard.ZstdDecompressor().decompressobj().decompress(shard.read_bytes())
        for shard in sorted((bundle / "payloads").glob("*.zst"))
    ]


def uncompressed_bytes(bundle: Path) -> int:
    """A schema-3 bundle's size as ``max_bundle_bytes`` counts it: the log and the shards'
    decompressed records."""
    log = (bundle / "trace.jsonl").stat().st_size
    return log + sum(len(text) for text in shard_texts(bundle))


def reduce_like_codex(bundle: Path) -> dict[str, Any]:
    """Our reduced state of ``bundle``, which Codex 0.171 (when here) reduces to as well."""
    from rollout_trace_sdk.reduce import reduce_bundle, state_bytes
    from tests.codex_oracle import codex_bin, codex_reduce
    from tests.test_conformance_states import first_difference

    ours: dict[str, Any] = orjson.loads(state_bytes(reduce_bundle(bundle)))
    if codex_bin(3) is not None:
        ok, stderr, expected = codex_reduce(bundle)
        assert ok, stderr
        assert ours == expected, first_difference(ours, expected)
    return ours


def read_lines(bundle: Path) -> list[bytes]:
    data = (bundle / "trace.jsonl").read_bytes()
    assert data == b"" or data.endswith(b"\n"), "torn last line"
    return data.splitlines(keepends=True)


def read_bundle(bundle: Path) -> list[ev.TraceEvent]:
    """Every event, after checking what the reducer checks: seq 1..N without gaps, one
    rollout id, every referenced payload present and complete JSON (2-space pretty, no
    trailing newline)."""
    manifest = codec.manifest_from_dict(orjson.loads((bundle / "manifest.json").read_bytes()))
    events = [codec.parse_event_line(line) for line in read_lines(bundle)]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    for event in events:
        assert event.schema_version == 2
        assert event.rollout_id == manifest.rollout_id
        for ref in refs_of(event.payload):
            data = (bundle / ref.path).read_bytes()
            assert codec.pretty_bytes(orjson.loads(data)) == data, ref
    return events


def refs_of(payload: ev.EventPayload) -> list[ev.RawPayloadRef]:
    values = [getattr(payload, f.name) for f in attrs.fields(type(payload))]
    return [v for v in values if isinstance(v, ev.RawPayloadRef)]


def loss_reports(bundle: Path, events: list[ev.TraceEvent]) -> list[str]:
    """Messages of the writer's ``warning`` protocol events."""
    out = []
    for event in events:
        p = event.payload
        if isinstance(p, ev.ProtocolEventObserved) and p.event_type == "warning":
            body = orjson.loads((bundle / p.event_payload.path).read_bytes())
            assert body["type"] == "warning"
            out.append(body["message"])
    return out
