"""``background=True`` responses of the real ``openai`` package (``integrations/_background.py``),
against the fake API on 127.0.0.1: the call stays open until the response is fetched finished
(retrieved, through another client, or read as a stream), and ends cancelled when it is
cancelled or never fetched."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("openai")

from openai import AsyncOpenAI

from rollout_trace_sdk.integrations.openai import instrument
from rollout_trace_sdk.record import open_rollout

from ..record.recorder_support import check_bundle
from .fake_openai import FakeOpenAI
from .openai_run import Run, state_text, sync_client_in_turn

pytestmark = pytest.mark.anyio


async def test_a_background_response_is_recorded_when_retrieved_finished(
    tmp_path: Path, client: AsyncOpenAI
) -> None:
    """``background=True`` returns the response ``queued``: it was recorded completed with
    no output. The call now stays open until a retrieve returns the response finished."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        queued = await client.responses.create(model="gpt-test", input="slow work", background=True)
        assert queued.status == "queued"
        polled = await client.responses.retrieve(queued.id)
        assert polled.status == "in_progress"
        done = await client.responses.retrieve(queued.id)
        assert done.status == "completed"
        again = await client.responses.retrieve(queued.id)  # a later fetch changes nothing
        assert again.output_text == "echo: slow work"
    run = Run(tmp_path)
    [end] = run.ends("completed")
    assert end["response_id"] == queued.id
    assert run.response(end)["output_items"][0]["content"][0]["text"] == "echo: slow work"
    assert run.ends("cancelled") == run.ends("failed") == []
    state = check_bundle(run.bundle)
    assert "echo: slow work" in state_text(state)


async def test_a_background_response_cancelled_or_never_fetched_ends_cancelled(
    tmp_path: Path, client: AsyncOpenAI
) -> None:
    """``responses.cancel`` ends the call cancelled; a response never fetched finished is
    ended by its turn (cancelled), and a fetch after that records nothing more."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout:
        async with rollout.root.turn():
            first = await client.responses.create(model="gpt-test", input="a", background=True)
            await client.responses.cancel(first.id)
            second = await client.responses.create(model="gpt-test", input="b", background=True)
        late = await client.responses.retrieve(second.id)  # the turn has ended
        assert late.status == "completed"
    run = Run(tmp_path)
    ends = run.ends("cancelled")
    assert [e["reason"] for e in ends] == ["response cancelled", "ended before the response"]
    assert run.ends("completed") == []
    check_bundle(run.bundle)


async def test_background_asked_through_extra_body_is_recorded_when_retrieved(
    tmp_path: Path, client: AsyncOpenAI
) -> None:
    """``extra_body={"background": True}`` sends the same request (found by review)."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        queued = await client.responses.create(
            model="gpt-test", input="extra", extra_body={"background": True}
        )
        assert queued.status == "queued"
        await client.responses.retrieve(queued.id)
    run = Run(tmp_path)
    [end] = run.ends("completed")
    assert run.response(end)["output_items"][0]["content"][0]["text"] == "echo: extra"


@pytest.mark.parametrize(("argument", "extra"), [(False, True), (True, False)])
async def test_background_given_twice_is_recorded_as_the_sdk_sends_it(
    tmp_path: Path, fake: FakeOpenAI, client: AsyncOpenAI, argument: bool, extra: bool
) -> None:
    """``background`` given as an argument and in ``extra_body``: the SDK sends the extra
    body's (it merges ``extra_body`` over the arguments), and the call is recorded by what
    was sent, as its request is. The argument was believed: a response sent as background,
    answered queued, was recorded completed with no output (review polish27)."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        answer = await client.responses.create(
            model="gpt-test", input="twice", background=argument, extra_body={"background": extra}
        )
        [(_, sent, _)] = fake.requests
        assert sent["background"] is extra  # what went over the wire
        assert answer.status == ("queued" if extra else "completed")
        if extra:
            await client.responses.retrieve(answer.id)
    run = Run(tmp_path)
    [request] = run.requests()
    assert request["background"] is extra
    [end] = run.ends("completed")
    assert run.response(end)["output_items"][0]["content"][0]["text"] == "echo: twice"
    assert run.ends("cancelled") == []
    check_bundle(run.bundle)


async def test_a_sync_background_response_is_recorded_when_retrieved(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    async with sync_client_in_turn(tmp_path, fake.base_url) as client:
        queued = client.responses.create(model="gpt-test", input="s", background=True)
        client.responses.retrieve(queued.id)
    run = Run(tmp_path)
    [end] = run.ends("completed")
    assert end["response_id"] == queued.id
    assert run.response(end)["output_items"][0]["content"][0]["text"] == "echo: s"
    check_bundle(run.bundle)


def _completed_in_order(run: Run, ids: list[str], texts: list[str]) -> None:
    """The calls completed with these responses and texts, in order, and none cancelled."""
    ends = run.ends("completed")
    assert [e["response_id"] for e in ends] == ids
    assert [run.response(e)["output_items"][0]["content"][0]["text"] for e in ends] == texts
    assert run.ends("cancelled") == []
    check_bundle(run.bundle)


async def test_a_background_response_fetched_through_another_client(
    tmp_path: Path, fake: FakeOpenAI, client: AsyncOpenAI
) -> None:
    """A response id names its call whichever client fetches it: a copy made with
    ``with_options`` (instrumented with its original) or another instrumented client."""
    other = instrument(AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0))
    async with other, open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        first = await client.responses.create(model="gpt-test", input="one", background=True)
        second = await client.responses.create(model="gpt-test", input="two", background=True)
        assert (await client.with_options(timeout=5).responses.retrieve(first.id)).output_text
        assert (await other.responses.retrieve(second.id)).output_text
    _completed_in_order(Run(tmp_path), [first.id, second.id], ["echo: one", "echo: two"])


async def test_a_background_response_read_as_a_stream(tmp_path: Path, client: AsyncOpenAI) -> None:
    """``retrieve(id, stream=True)`` and ``responses.stream(response_id=id)`` end the call
    with the response their terminal event carries; a streamed fetch closed before it leaves
    the call open for a later fetch."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        first = await client.responses.create(model="gpt-test", input="one", background=True)
        async with await client.responses.retrieve(first.id, stream=True) as events:
            async for _ in events:
                break  # closed early: the response goes on, the call stays open
        async with await client.responses.retrieve(first.id, stream=True) as events:
            async for _ in events:
                pass
        second = await client.responses.create(model="gpt-test", input="two", background=True)
        async with client.responses.stream(response_id=second.id) as stream:
            final = await stream.get_final_response()
        assert final.output_text == "echo: two"
    _completed_in_order(Run(tmp_path), [first.id, second.id], ["echo: one", "echo: two"])
