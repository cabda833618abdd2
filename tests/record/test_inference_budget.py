"""A model call's token usage survives a full memory budget (usage50).

A response the queue has no room for is dropped and counted, but its usage (a few dozen
bytes) is kept past the budget as the starts and ends are, so the call's tokens stay in every
total: under ``set_process_budget(256 KiB)`` user50 found the usage of 166 of 200 episodes'
calls gone."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollout_trace_sdk.record import open_rollout, set_process_budget
from rollout_trace_sdk.record._budget import DEFAULT_PROCESS_BUDGET

from ..codex_oracle import reduced_by_both
from .recorder_support import bundle_in, loss_report, of_type
from .test_inference import USAGE

pytestmark = pytest.mark.anyio

_KB = 1024
USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
REDUCED = {
    "input_tokens": 120,
    "cached_input_tokens": 20,
    "cache_write_input_tokens": 0,
    "output_tokens": 30,
    "reasoning_output_tokens": 5,
}
CALLS = 20


def _answer(i: int) -> dict[str, object]:
    """An assistant message far larger than the budget leaves room for."""
    text = f"{i} " + "y" * (20 * _KB)
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }


async def test_a_calls_usage_survives_a_full_budget(tmp_path: Path, schema: int) -> None:
    async with (
        open_rollout(
            tmp_path, model="gpt-test", max_queued_bytes=32 * _KB, overflow="drop"
        ) as rollout,
        rollout.root.turn() as turn,
    ):
        turn.accept(USER)
        for i in range(CALLS):  # nothing awaited: the writer cannot keep up
            async with turn.inference({"model": "gpt-test", "input": [USER]}) as call:
                call.completed(
                    response_id=f"resp_{i}", output_items=[_answer(i)], token_usage=USAGE
                )
    bundle = bundle_in(tmp_path)
    assert "dropped" in loss_report(bundle)  # the budget was full: some answers are lost
    if schema == 2:  # an answer not stored ends its call as failed, its usage kept
        assert of_type(bundle, "inference_failed"), "no answer was dropped"
    # (schema 2 also drops some starts, with their request: those calls are not in the
    # bundle at all, and counted)
    calls = list(reduced_by_both(bundle)["inference_calls"].values())
    assert len(calls) == len(of_type(bundle, "inference_started"))
    assert [c["usage"] for c in calls] == [REDUCED] * len(calls)


@pytest.fixture
def budget() -> Iterator[None]:
    """The test sets its own process budget; the default comes back after it."""
    yield
    set_process_budget(DEFAULT_PROCESS_BUDGET)


async def test_usage_survives_a_full_process_budget(
    tmp_path: Path, schema: int, budget: None
) -> None:
    """user50's case: many rollouts at once under ``set_process_budget(256 KiB)``."""
    set_process_budget(256 * _KB)
    async with contextlib.AsyncExitStack() as stack:
        turns = []
        for k in range(6):
            rollout = await stack.enter_async_context(
                open_rollout(tmp_path / f"r{k}", model="gpt-test", overflow="drop")
            )
            turns.append(await stack.enter_async_context(rollout.root.turn()))
        for i in range(8):  # round-robin, nothing awaited between the calls
            for turn in turns:
                call = turn.inference({"model": "gpt-test", "input": [USER]})
                call.completed(
                    response_id=f"resp_{i}", output_items=[_answer(i)], token_usage=USAGE
                )
    reports = [loss_report(bundle_in(tmp_path / f"r{k}")) for k in range(6)]
    assert any("set_process_budget" in r for r in reports)  # the budget was full
    for k in range(6):
        calls = list(reduced_by_both(bundle_in(tmp_path / f"r{k}"))["inference_calls"].values())
        assert calls and [c["usage"] for c in calls] == [REDUCED] * len(calls)
