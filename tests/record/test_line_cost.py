"""What an event line is charged to ``max_bundle_bytes`` when queued: it follows the lines
that grow with the history, so a long agent stops at the bundle's ceiling."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.record._encode import LineEncoder
from rollout_trace_sdk.record._line_cost import LINE_ESTIMATE, line_estimate
from tests.record.writer_support import reduce_like_codex, uncompressed_bytes


def _user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def _long_agent(root: Path, limit: int, steps: int) -> Path:
    """One turn of ``steps`` inferences, each resending the whole history, and a tool call
    each: the ``inference_started`` lines grow with the history (a reference per item)."""
    history: list[Any] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        async with (
            open_rollout(root, schema_version=3, max_bundle_bytes=limit) as rollout,
            rollout.root.turn() as turn,
        ):
            history += turn.accept(_user("go"))
            for i in range(steps):
                async with turn.inference({"model": "m", "input": list(history)}) as call:
                    call_item = {
                        "type": "function_call",
                        "call_id": f"c{i}",
                        "name": "exec_command",
                        "arguments": '{"cmd":"ls"}',
                    }
                    history += call.completed(response_id=f"r{i}", output_items=[call_item])
                async with turn.tool_call(f"c{i}", "exec_command", arguments={}) as tool:
                    output = {"type": "function_call_output", "call_id": f"c{i}"}
                    history.append(tool.completed({**output, "output": "file " * 20}))
    (bundle,) = root.glob("trace-*")
    return bundle


@pytest.mark.anyio
async def test_a_long_agent_stops_near_the_ceiling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each queued line was charged 400 bytes, while an ``inference_started`` names every
    item of its prompt: with a history of a few hundred items the lines were 10 KB and more,
    and the bundle passed its ceiling by what was queued before the writer's correction
    (here 255 KB for a ceiling of 100 KB; a 3 MB limit, ceiling 19 MB, wrote 1 GB; found by
    review). The parts named are now charged too."""
    from rollout_trace_sdk.record import _shard_plan

    monkeypatch.setattr(_shard_plan, "EVENT_OVERDRAFT_BYTES", 0)
    limit = 50_000
    bundle = await _long_agent(tmp_path, limit, 300)
    assert uncompressed_bytes(bundle) <= 2 * limit * 1.2
    ours = reduce_like_codex(bundle)
    assert ours["recording_status"] == "closed_with_partial_payloads"
    assert {t["execution"]["status"] for t in ours["threads"].values()} == {"completed"}


def _ref(n: int, parts: tuple[ev.RawPayloadRef, ...] = ()) -> ev.RawPayloadRef:
    return ev.RawPayloadRef(f"raw_payload:{n}", "model_item", "", 1, None, parts)


@pytest.mark.parametrize("items", [0, 10, 1000])
def test_an_inference_start_is_charged_about_its_line(items: int) -> None:
    """The estimate of an ``inference_started`` stays within a factor of two of its line,
    however many items its prompt names (a flat 400 bytes was 1/150 of it at 1000)."""
    parts = tuple(_ref(n) for n in range(10, 10 + items))
    request = ev.RawPayloadRef("raw_payload:1", "inference_request", "", 1, None, parts[-2:])
    prompt = ev.RawPayloadRef("raw_payload:2", "prepared_prompt", "", 1, None, parts)
    started = ev.InferenceStartedV3(
        "inference:1", "thread", "turn", "model", "provider", request, prompt
    )
    line = bytearray()
    LineEncoder("rollout", schema=ev.SCHEMA_VERSION_V3).encode_into(
        line, [(1, 1_700_000_000_000, "thread", "turn", started)], 0, 1 << 62
    )
    estimate = line_estimate(started)
    assert len(line) / 2 <= estimate <= 2 * max(len(line), LINE_ESTIMATE)
