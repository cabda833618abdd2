"""``Turn.inference(..., started_at=)``: a call recorded after it ran (an Agents SDK
``response`` span, whose request the SDK sets only at its end) keeps its real start. The
``inference_started`` line stays in seq order and carries the given wall time, so the
reduced call's duration is the model's latency (user49: 74 SDK response spans summed
8,992 ms, the recorded calls 16 ms); both reducers read such a log the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import anyio
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


async def _one_call(root: Path, started_at: Any, *, ran_ms: int = 0) -> dict[str, Any]:
    """One call recorded ``ran_ms`` after its turn opened; ``started_at`` called with when
    the turn had opened, when it is a function (a call that started in its turn)."""
    async with open_rollout(root, model="gpt-test") as rollout, rollout.root.turn() as turn:
        turn.accept(USER)
        request = {"model": "gpt-test", "input": [USER]}
        opened = datetime.now(UTC)
        await anyio.sleep(ran_ms / 1000)  # the model's latency: recorded after it ran
        given = started_at(opened) if callable(started_at) else started_at
        async with turn.inference(request, started_at=given) as call:
            call.completed(response_id="resp-1", output_items=[ANSWER])
    bundle = bundle_in(root)
    seqs = [e["seq"] for e in events(bundle)]
    assert seqs == list(range(1, len(seqs) + 1))  # the lines stay in seq order
    [call_state] = reduced_by_both(bundle)["inference_calls"].values()
    execution: dict[str, Any] = call_state["execution"]
    return execution


async def test_the_call_starts_when_it_was_said_to(tmp_path: Path, schema: int) -> None:
    said: list[datetime] = []

    def at_open(opened: datetime) -> datetime:
        said.append(opened)
        return opened

    execution = await _one_call(tmp_path, at_open, ran_ms=300)
    assert execution["started_at_unix_ms"] == _ms(said[0])
    assert 300 <= execution["ended_at_unix_ms"] - execution["started_at_unix_ms"] < 60_000
    [line] = of_type(bundle_in(tmp_path), "inference_started")
    assert line["wall_time_unix_ms"] == _ms(said[0])


async def test_an_iso_text_start_is_read(tmp_path: Path) -> None:
    """The Agents SDK's ``span.started_at`` is ISO-8601 text."""
    said: list[datetime] = []

    def at_open(opened: datetime) -> str:
        said.append(opened)
        return opened.isoformat()

    execution = await _one_call(tmp_path, at_open, ran_ms=100)
    assert execution["started_at_unix_ms"] == _ms(said[0])


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


@pytest.mark.parametrize("before", [timedelta(hours=2), timedelta(days=365 * 60)])
async def test_a_start_before_its_turn_is_the_turns_start(
    tmp_path: Path, schema: int, before: timedelta
) -> None:
    """A call cannot start before its turn (nor its rollout): a time before the turn's start
    (a span the Agents SDK processor records only once the bundle opened at its end, another
    host's clock, a time from the wrong day) is the turn's start. Taken as given, the call
    began before the rollout: ``summary`` said 414 ms in model calls of a 9 ms rollout, and
    the Perfetto trace drew it at a negative time (review49)."""
    async with (
        open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        turn.accept(USER)
        request = {"model": "gpt-test", "input": [USER]}
        started = datetime.now(UTC) - before
        async with turn.inference(request, started_at=started) as call:
            call.completed(response_id="resp-1", output_items=[ANSWER])
    state = reduced_by_both(bundle_in(tmp_path))
    [call_state] = state["inference_calls"].values()
    [turn_state] = state["codex_turns"].values()
    execution = call_state["execution"]
    assert state["started_at_unix_ms"] <= turn_state["execution"]["started_at_unix_ms"]
    assert turn_state["execution"]["started_at_unix_ms"] <= execution["started_at_unix_ms"]
    assert execution["started_at_unix_ms"] <= execution["ended_at_unix_ms"]
