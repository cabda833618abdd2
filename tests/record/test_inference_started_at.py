"""``Turn.inference(..., started_at=)``: a call recorded after it ran (an Agents SDK
``response`` span, whose request the SDK sets only at its end) keeps its real start. The
``inference_started`` line stays in seq order and carries the given wall time, so the
reduced call's duration is the model's latency (user49: 74 SDK response spans summed
8,992 ms, the recorded calls 16 ms); both reducers read such a log the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.record import RecorderWarning, open_rollout

from ..codex_oracle import reduced_by_both
from .recorder_support import bundle_in, events, of_type

pytestmark = pytest.mark.anyio

USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}
ANSWER = {
    "type": "message",
    "id": "msg_answer",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "hi there"}],
}


def _ms(when: datetime) -> int:
    return (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


async def _one_call(root: Path, started_at: Any) -> dict[str, Any]:
    async with open_rollout(root, model="gpt-test") as rollout, rollout.root.turn() as turn:
        turn.accept(USER)
        request = {"model": "gpt-test", "input": [USER]}
        async with turn.inference(request, started_at=started_at) as call:
            call.completed(response_id="resp-1", output_items=[ANSWER])
    bundle = bundle_in(root)
    seqs = [e["seq"] for e in events(bundle)]
    assert seqs == list(range(1, len(seqs) + 1))  # the lines stay in seq order
    [call_state] = reduced_by_both(bundle)["inference_calls"].values()
    execution: dict[str, Any] = call_state["execution"]
    return execution


async def test_the_call_starts_when_it_was_said_to(tmp_path: Path, schema: int) -> None:
    started = datetime.now(UTC) - timedelta(milliseconds=1500)
    execution = await _one_call(tmp_path, started)
    assert execution["started_at_unix_ms"] == _ms(started)
    assert 1500 <= execution["ended_at_unix_ms"] - execution["started_at_unix_ms"] < 60_000
    [line] = of_type(bundle_in(tmp_path), "inference_started")
    assert line["wall_time_unix_ms"] == _ms(started)


async def test_an_iso_text_start_is_read(tmp_path: Path) -> None:
    """The Agents SDK's ``span.started_at`` is ISO-8601 text."""
    started = datetime.now(UTC) - timedelta(milliseconds=700)
    execution = await _one_call(tmp_path, started.isoformat())
    assert execution["started_at_unix_ms"] == _ms(started)


async def test_a_start_in_the_future_is_now(tmp_path: Path) -> None:
    """A clock that disagrees (another host's): never a call that ends before it starts."""
    execution = await _one_call(tmp_path, datetime.now(UTC) + timedelta(hours=1))
    assert execution["started_at_unix_ms"] <= execution["ended_at_unix_ms"]


class _Broken(tzinfo):
    """A zone whose offset raises (the agent's own tzinfo)."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise RuntimeError("no offset")

    def dst(self, dt: datetime | None) -> timedelta:
        raise RuntimeError("no offset")

    def tzname(self, dt: datetime | None) -> str:
        return "broken"


@pytest.mark.parametrize(
    "started_at",
    ["yesterday", 12.5, datetime(2026, 1, 1), datetime(2026, 1, 1, tzinfo=_Broken())],
)
async def test_a_start_that_is_no_time_is_now(tmp_path: Path, started_at: object) -> None:
    """Text that is no ISO-8601 time, a number, a naive datetime (no zone: which?), a zone
    that raises: the call
    is recorded as started now, as without one, never refused (the agent goes on)."""
    before = _ms(datetime.now(UTC))
    with pytest.warns(RecorderWarning, match="started_at"):
        execution = await _one_call(tmp_path, started_at)
    assert execution["started_at_unix_ms"] >= before
