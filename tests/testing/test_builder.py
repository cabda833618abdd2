"""BundleBuilder writes what it is told, in both Codex layouts, and Codex agrees with the
result (the oracles are the real binaries; without them the Codex half is skipped)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import zstandard

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.model import layout
from rollout_trace_sdk.reduce import reduce_bundle
from rollout_trace_sdk.testing import ROOT_THREAD, BundleBuilder, reduce_and_compare
from tests.codex_oracle import codex_bin, needs_codex, needs_codex3

IMAGE = "data:image/png;base64,iVBORw0KGgo="


def _conversation(b: BundleBuilder, *, image: bool = False) -> None:
    """A root thread with one turn and one inference (the request may carry an image)."""
    root = b.root_thread_id
    b.event(ev.RolloutStarted("trace-1", root))
    b.event(ev.ThreadStarted(root, "/root", b.payload("session_metadata", {"thread_id": root})))
    b.event(ev.CodexTurnStarted("turn-1", root), thread=root, turn="turn-1")
    content: list[dict[str, str]] = [{"type": "input_text", "text": "hi"}]
    if image:
        content.append({"type": "input_image", "image_url": IMAGE})
    request = {
        "model": "m",
        "input": [
            {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "x"}],
            },
            {"type": "message", "id": "msg_1", "role": "user", "content": content},
        ],
    }
    ref = b.payload("inference_request", request)
    b.event(ev.InferenceStarted("inf-1", root, "turn-1", "m", "p", ref), thread=root, turn="turn-1")
    b.event(ev.HistoryItemAccepted("msg_1"), thread=root, turn="turn-1")
    b.event(ev.CodexTurnEnded("turn-1", "completed"), thread=root, turn="turn-1")
    b.event(ev.RolloutEnded("completed"))
    b.event(ev.RecordingCompleted())


def _lines(root: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in (root / layout.EVENT_LOG).read_bytes().splitlines()]


def _records(shard: Path) -> dict[str, bytes]:
    data = zstandard.ZstdDecompressor().decompressobj().decompress(shard.read_bytes())
    out: dict[str, bytes] = {}
    offset, header = 0, layout.SHARD_RECORD_HEADER
    while offset < len(data):
        id_len, body_len = header.unpack_from(data, offset)
        start = offset + header.size
        out[data[start : start + id_len].decode()] = data[
            start + id_len : start + id_len + body_len
        ]
        offset = start + id_len + body_len
    return out


def test_seq_and_clock_are_the_callers(tmp_path: Path) -> None:
    b = BundleBuilder(tmp_path / "b", started_at=500, clock_step=10)
    assert b.event(ev.RolloutStarted("t", ROOT_THREAD)) == 1
    assert b.event(ev.ThreadStarted(ROOT_THREAD, "/root", None), at=900) == 2
    assert b.event(ev.ThreadResumed(ROOT_THREAD), seq=7) == 7
    b.next_seq = 3
    assert b.event(ev.RecordingCompleted()) == 3
    lines = _lines(tmp_path / "b")
    assert [(e["seq"], e["wall_time_unix_ms"]) for e in lines] == [
        (1, 510),
        (2, 900),
        (7, 910),
        (3, 920),
    ]
    assert {e["rollout_id"] for e in lines} == {ROOT_THREAD}


def test_schema2_payloads_are_pretty_files_and_raw_ones_verbatim(tmp_path: Path) -> None:
    b = BundleBuilder(tmp_path / "b")
    ref = b.payload("tool_result", {"a": [1]})
    raw = b.raw_payload("tool_result", '{"n": 1.50}')
    assert (ref.raw_payload_id, ref.path) == ("raw_payload:1", "payloads/1.json")
    assert (tmp_path / "b" / ref.path).read_bytes() == b'{\n  "a": [\n    1\n  ]\n}'
    assert (tmp_path / "b" / raw.path).read_bytes() == b'{"n": 1.50}'
    with pytest.raises(ValueError, match="schema 2 has no partial captures"):
        b.payload("tool_result", {}, capture="omitted")


def test_unknown_schema_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="schema 4"):
        BundleBuilder(tmp_path / "b", schema=4)


def test_schema3_layout(tmp_path: Path) -> None:
    """Shards, an image as a content value alone in its shard, a prepared prompt on the start
    (no developer message in it), acceptance as the V3 variant, partial captures."""
    b = BundleBuilder(tmp_path / "b", schema=3)
    _conversation(b, image=True)
    cut = b.payload("tool_result", {"text": "abcdefghijkl"}, capture="truncated")
    gone = b.payload("tool_result", {"text": "abc"}, capture="omitted")
    b.close()
    started = next(e for e in _lines(tmp_path / "b") if e["payload"]["type"] == "inference_started")  # type: ignore[index]
    prompt = started["payload"]["prepared_prompt_payload"]  # type: ignore[index]
    assert prompt["kind"] == {"type": "prepared_prompt"}
    assert [p["kind"]["type"] for p in prompt["parts"]] == ["model_item"]  # the user message only
    request = started["payload"]["request_payload"]  # type: ignore[index]
    image = request["parts"][0]
    assert image["kind"] == {"type": "content_value"}
    alone = _records(tmp_path / "b" / layout.shard_path(image["shard"]))
    assert list(alone) == [image["raw_payload_id"]] and alone[
        image["raw_payload_id"]
    ] == orjson.dumps(IMAGE)
    assert cut.capture == ev.PayloadCapture("truncated", 23, 7) and cut.shard is not None
    assert gone.capture == ev.PayloadCapture("omitted", 14) and gone.shard is None
    with pytest.raises(ValueError, match="cannot be truncated"):
        b.payload("tool_result", {"image_url": IMAGE}, capture="truncated")


def test_autoflush_off_writes_nothing_until_flush(tmp_path: Path) -> None:
    b = BundleBuilder(tmp_path / "b", schema=3, autoflush=False)
    b.event(ev.RolloutStarted("t", ROOT_THREAD))
    b.payload("tool_result", {})
    assert (tmp_path / "b" / layout.EVENT_LOG).read_bytes() == b""
    assert not list((tmp_path / "b" / "payloads").iterdir())
    b.flush()
    assert len(_lines(tmp_path / "b")) == 1
    assert (tmp_path / "b" / layout.shard_path(1)).is_file()


@pytest.mark.parametrize("schema", [2, 3])
def test_built_bundles_reduce(tmp_path: Path, schema: int) -> None:
    b = BundleBuilder(tmp_path / "b", schema=schema)
    _conversation(b, image=schema == 3)
    trace = reduce_bundle(b.close())
    assert list(trace.inference_calls) == ["inf-1"]


@needs_codex
def test_schema2_bundle_reduces_like_codex_0_169(tmp_path: Path) -> None:
    b = BundleBuilder(tmp_path / "b")
    _conversation(b)
    result = reduce_and_compare(b.close(), str(codex_bin(2)))
    assert result.ours is not None and result.same_text, result.explain()


@needs_codex3
def test_schema3_bundle_reduces_like_codex_0_171(tmp_path: Path) -> None:
    b = BundleBuilder(tmp_path / "b", schema=3)
    _conversation(b, image=True)
    b.payload("tool_result", {"text": "abcdefghijkl"}, capture="truncated")
    result = reduce_and_compare(b.close(), str(codex_bin(3)))
    assert result.ours is not None and result.same_text, result.explain()


def test_the_kit_does_not_import_the_recorder() -> None:
    code = (
        "import sys, rollout_trace_sdk.testing; "
        "print(any(m.startswith('rollout_trace_sdk.record') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
