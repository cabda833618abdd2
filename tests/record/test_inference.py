"""``InferenceCall.failed(..., token_usage=)``: a failed call's usage (a response the client
could not use, billed all the same: the Agents SDK's ``ModelBehaviorError`` carries it) is
the partial response payload's ``token_usage``, which both reducers read as the call's
usage, so the tokens are in every total; with neither output nor usage no payload is
written, as before (agents50)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.record import open_rollout

from ..codex_oracle import reduced_by_both
from .recorder_support import bundle_in, of_type, payload

pytestmark = pytest.mark.anyio

USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}
USAGE = {
    "input_tokens": 120,
    "input_tokens_details": {"cached_tokens": 20},
    "output_tokens": 30,
    "output_tokens_details": {"reasoning_tokens": 5},
    "total_tokens": 150,
}


async def _failed(root: Path, **options: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    async with open_rollout(root, model="gpt-test") as rollout, rollout.root.turn() as turn:
        turn.accept(USER)
        async with turn.inference({"model": "gpt-test", "input": [USER]}) as call:
            call.failed("ModelBehaviorError: invalid JSON", **options)
    bundle = bundle_in(root)
    [failed] = of_type(bundle, "inference_failed")
    [state] = reduced_by_both(bundle)["inference_calls"].values()
    return failed["payload"], state


async def test_a_failed_calls_usage_is_its_usage(tmp_path: Path, schema: int) -> None:
    failed, state = await _failed(tmp_path, token_usage=USAGE)
    assert state["execution"]["status"] == "failed"
    assert state["usage"] == {
        "input_tokens": 120,
        "cached_input_tokens": 20,
        "cache_write_input_tokens": 0,
        "output_tokens": 30,
        "reasoning_output_tokens": 5,
    }
    partial = payload(bundle_in(tmp_path), failed["partial_response_payload"])
    assert partial["output_items"] == [] and partial["response_id"] is None


async def test_a_failed_call_without_usage_writes_no_payload(tmp_path: Path) -> None:
    failed, state = await _failed(tmp_path)
    assert failed["partial_response_payload"] is None
    assert state["usage"] is None
