"""The real ``openai`` package, instrumented, against a fake API on 127.0.0.1: every call made
in a turn is one inference call (request, output, usage, upstream id, status, error text,
cancellation, time to first token), and every bundle reduces with our reducer and Codex."""

from __future__ import annotations

import contextlib
import json
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("openai")

from openai import APIStatusError, AsyncOpenAI, AsyncStream, OpenAI
from openai._models import construct_type
from openai.types.responses import ResponseStreamEvent

from rollout_trace_sdk.integrations import current_turn, use_turn
from rollout_trace_sdk.integrations._streams import Recorder
from rollout_trace_sdk.integrations.openai import (
    FIRST_TOKEN_EVENT,
    instrument,
    run_function_call,
)
from rollout_trace_sdk.record import CALL_ID_HEADER, open_rollout

from ..record.recorder_support import (
    bundle_in,
    check_bundle,
    of_type,
    payload,
)
from .fake_openai import ARGUMENTS, FakeOpenAI

pytestmark = pytest.mark.anyio

CODEX_USAGE = {
    "input_tokens": 12,
    "cached_input_tokens": 2,
    "cache_write_input_tokens": 0,
    "output_tokens": 7,
    "reasoning_output_tokens": 1,
    "total_tokens": 19,
}


class _Run:
    """A rollout with one open turn, and what it left on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def bundle(self) -> Path:
        return bundle_in(self.root)

    def ends(self, kind: str) -> list[dict[str, Any]]:
        return [e["payload"] for e in of_type(self.bundle, f"inference_{kind}")]

    def response(self, end: dict[str, Any]) -> Any:
        ref = end.get("response_payload") or end.get("partial_response_payload")
        return payload(self.bundle, ref)

    def requests(self) -> list[Any]:
        return [
            payload(self.bundle, e["payload"]["request_payload"])
            for e in of_type(self.bundle, "inference_started")
        ]

    def protocol(self, event_type: str) -> list[Any]:
        return [
            payload(self.bundle, e["payload"]["event_payload"])
            for e in of_type(self.bundle, "protocol_event_observed")
            if e["payload"]["event_type"] == event_type
        ]


@contextlib.contextmanager
def _closing(client: OpenAI) -> Iterator[OpenAI]:
    try:
        yield client
    finally:
        client.close()


def _texts(state: Any) -> str:
    return json.dumps(state)


# --- Responses API ---------------------------------------------------------------------------


async def test_responses_create_is_recorded(
    tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI
) -> None:
    """A plain-string request: request, output, usage, response and upstream ids, header."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        response = await client.responses.create(model="gpt-test", input="hello there")
    assert response.output_text == "echo: hello there"
    run = _Run(tmp_path)
    [end] = run.ends("completed")
    assert (end["response_id"], end["upstream_request_id"]) == ("resp_1", "req_1")
    assert run.response(end)["token_usage"] == CODEX_USAGE
    [request] = run.requests()
    assert request["input"][0]["content"] == [{"type": "input_text", "text": "hello there"}]
    assert fake.requests[0][2][CALL_ID_HEADER] == end["inference_call_id"]
    state = check_bundle(run.bundle)
    assert "hello there" in _texts(state) and "echo: hello there" in _texts(state)


async def test_responses_tool_loop_with_run_function_call(
    tmp_path: Path, client: AsyncOpenAI
) -> None:
    """A function call run by the helper is a recorded tool call whose output feeds the next
    request; the bundle links them."""
    seen: list[str] = []

    async def get_weather(city: str) -> dict[str, str]:
        seen.append(city)
        return {"city": city, "sky": "rain"}

    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn() as turn:
        history: list[Any] = [{"role": "user", "content": "weather? use a tool"}]
        first = await client.responses.create(model="gpt-test", input=history)
        history += first.output
        output = await run_function_call(turn, first.output[0], get_weather)
        history.append(output)
        history.append({"role": "user", "content": "thanks"})
        second = await client.responses.create(model="gpt-test", input=history)
    assert seen == ["Oslo"] and second.output_text == "echo: thanks"
    assert output["call_id"] == "call_1" and json.loads(output["output"])["sky"] == "rain"
    run = _Run(tmp_path)
    assert len(run.ends("completed")) == 2
    [tool_end] = [e["payload"] for e in of_type(run.bundle, "tool_call_ended")]
    assert tool_end["status"] == "completed"
    state = check_bundle(run.bundle)
    assert "thanks" in _texts(state) and ARGUMENTS.replace('"', '\\"') in _texts(state)


@pytest.mark.parametrize("api", ["responses", "chat"])
async def test_a_server_reusing_call_ids(
    api: str, tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI
) -> None:
    """A server that names every tool call ``call_0``: the provider gets its own ids back
    each time (the history the loop sends is untouched), and the bundle, which both
    reducers refused whole, records the second call as ``call_0#2`` with its own tool call."""
    fake.call_id = "call_0"
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn() as turn:
        if api == "responses":
            history: list[Any] = []
            for question in ("weather? use a tool", "and tomorrow? use a tool"):
                history.append({"role": "user", "content": question})
                response = await client.responses.create(model="gpt-test", input=history)
                history += response.output
                history.append(
                    await run_function_call(turn, response.output[0], lambda city: "rain")
                )
            await client.responses.create(model="gpt-test", input=history)
        else:
            messages: list[Any] = []
            for question in ("weather? use a tool", "and tomorrow? use a tool"):
                messages.append({"role": "user", "content": question})
                answer = await client.chat.completions.create(model="gpt-test", messages=messages)
                message = answer.choices[0].message
                [call] = message.tool_calls or []
                arguments = call.model_dump()["function"]["arguments"]
                async with turn.tool_call(call.id, "get_weather", arguments=arguments) as tool:
                    tool.completed(
                        {"type": "function_call_output", "call_id": call.id, "output": "rain"}
                    )
                messages += [message, {"role": "tool", "tool_call_id": call.id, "content": "rain"}]
            await client.chat.completions.create(model="gpt-test", messages=messages)
    sent = json.dumps([body for _, body, _ in fake.requests])
    assert "call_0" in sent and "call_0#" not in sent, "the provider saw our names"
    state = check_bundle(_Run(tmp_path).bundle)
    tools = sorted(
        (t["model_visible_call_id"], len(t["model_visible_call_item_ids"]))
        for t in state["tool_calls"].values()
        if t["model_visible_call_id"] is not None  # not linked: the failure this tests
    )
    assert tools == [("call_0", 1), ("call_0#2", 1)]


async def test_responses_stream_is_recorded_with_first_token(
    tmp_path: Path, client: AsyncOpenAI
) -> None:
    """A consumed stream completes the call from its terminal event; the first delta
    records the time to first token."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        stream = await client.responses.create(model="gpt-test", input="stream me", stream=True)
        kinds = [event.type async for event in stream]
    assert kinds[-1] == "response.completed"
    run = _Run(tmp_path)
    [end] = run.ends("completed")
    assert end["upstream_request_id"] == "req_1"
    body = run.response(end)
    assert body["token_usage"] == CODEX_USAGE
    assert body["output_items"][0]["content"][0]["text"] == "echo: stream me"
    [first] = run.protocol(FIRST_TOKEN_EVENT)
    assert first["inference_call_id"] == end["inference_call_id"]
    assert first["time_to_first_token_ms"] >= 0
    check_bundle(run.bundle)


async def test_stream_abandoned_midway_is_cancelled(tmp_path: Path, client: AsyncOpenAI) -> None:
    """Closing a stream before its end cancels the call, keeping the items received."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        async with await client.responses.create(
            model="gpt-test", input="tool please", stream=True
        ) as stream:
            async for event in stream:
                if event.type == "response.output_item.done":
                    break
        async with await client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "abandon"}], stream=True
        ) as chat_stream:
            async for _chunk in chat_stream:
                break
    run = _Run(tmp_path)
    cancelled = run.ends("cancelled")
    assert [c["reason"] for c in cancelled] == ["stream closed before the response completed"] * 2
    assert run.response(cancelled[0])["output_items"][0]["type"] == "function_call"
    assert cancelled[1]["partial_response_payload"] is None  # nothing but an empty first delta came
    assert run.ends("completed") == []
    check_bundle(run.bundle)


async def test_the_stream_helper_block_ends_the_call(
    tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI
) -> None:
    """``responses.stream(...)`` closes the HTTP response, never the raw stream, when its
    block ends: a block left early kept the call running until the turn ended (then ended
    "before the response", without the request id), and an exception in it was recorded
    cancelled, its text lost (found by review). Async and sync clients alike."""
    sync_client = instrument(OpenAI(base_url=fake.base_url, api_key="test", max_retries=0))
    with _closing(sync_client):
        async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
            async with client.responses.stream(model="gpt-test", input="left early") as stream:
                async for _event in stream:
                    break
            with pytest.raises(ValueError, match="agent bug"):
                async with client.responses.stream(model="gpt-test", input="raises") as stream:
                    async for _event in stream:
                        raise ValueError("agent bug")
            async with client.responses.stream(model="gpt-test", input="read whole") as stream:
                final = await stream.get_final_response()
            with sync_client.responses.stream(model="gpt-test", input="sync, left") as sync:
                for _event in sync:
                    break
            await rollout.flush()  # the calls ended with their blocks, not with the turn
            assert len(of_type(bundle_in(tmp_path), "inference_cancelled")) == 2
    assert final.output_text == "echo: read whole"
    run = _Run(tmp_path)
    cancelled, [failed], [completed] = (
        run.ends("cancelled"),
        run.ends("failed"),
        run.ends("completed"),
    )
    assert [c["reason"] for c in cancelled] == ["stream closed before the response completed"] * 2
    assert all(c["upstream_request_id"] for c in cancelled)
    assert "ValueError: agent bug" in failed["error"] and failed["upstream_request_id"]
    assert completed["upstream_request_id"]
    check_bundle(run.bundle)


async def test_the_chat_stream_helper_block_ends_the_call(
    tmp_path: Path, client: AsyncOpenAI
) -> None:
    """``chat.completions.stream(...)`` is built on ``create(stream=True)`` and, like the
    Responses helper, closes the HTTP response when its block ends: a block left early or
    by an exception ended its call with the turn, not the block, as "ended before the
    response" (found by review)."""
    messages: Any = [{"role": "user", "content": "hello there"}]
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        async with client.chat.completions.stream(model="gpt-test", messages=messages) as s:
            async for event in s:
                if event.type == "content.delta" and event.delta:
                    break
        with pytest.raises(ValueError, match="agent bug"):
            async with client.chat.completions.stream(model="gpt-test", messages=messages) as s:
                async for _ in s:
                    raise ValueError("agent bug")
        async with client.chat.completions.stream(model="gpt-test", messages=messages) as s:
            final = await s.get_final_completion()
        await rollout.flush()  # the calls ended with their blocks, not with the turn
        assert len(of_type(bundle_in(tmp_path), "inference_cancelled")) == 1
    assert final.choices[0].message.content == "echo: hello there"
    run = _Run(tmp_path)
    [cancelled], [failed], [completed] = (
        run.ends("cancelled"),
        run.ends("failed"),
        run.ends("completed"),
    )
    assert cancelled["reason"] == "stream closed before the response completed"
    assert run.response(cancelled)["output_items"]  # what the block had read is kept
    assert "ValueError: agent bug" in failed["error"] and failed["upstream_request_id"]
    assert completed["upstream_request_id"]
    check_bundle(run.bundle)


async def test_stream_dropped_without_close_ends_with_the_turn(
    tmp_path: Path, client: AsyncOpenAI
) -> None:
    """A stream neither finished nor closed is cancelled when its turn ends, keeping the items
    that arrived and the provider's request id (both were lost; found by review); a turn that
    fails fails it."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout:
        async with rollout.root.turn():
            stream = await client.responses.create(
                model="gpt-test", input="tool please", stream=True
            )
            async for event in stream:
                if event.type == "response.output_item.done":
                    break
        with contextlib.suppress(ValueError):
            async with rollout.root.turn():
                await client.responses.create(model="gpt-test", input="drop me", stream=True)
                raise ValueError("agent bug")
    run = _Run(tmp_path)
    [cancelled] = run.ends("cancelled")
    [failed] = run.ends("failed")
    assert cancelled["reason"] == failed["error"] == "ended before the response"
    assert cancelled["upstream_request_id"] == "req_1"
    assert failed["upstream_request_id"] == "req_2"
    assert [i["type"] for i in run.response(cancelled)["output_items"]] == ["function_call"]
    check_bundle(run.bundle)


@pytest.mark.parametrize(
    ("prompt", "stream", "error"),
    [
        ("please fail", False, "BadRequestError: Error code: 400"),
        ("status-failed", False, "server_error: model fell over"),
        ("stream-error", True, "stream broke"),
    ],
)
async def test_responses_failures_keep_the_error_text(
    tmp_path: Path, client: AsyncOpenAI, prompt: str, stream: bool, error: str
) -> None:
    """An HTTP error, a failed response and an error event each fail the call with their
    text and the upstream request id."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        try:
            result = await client.responses.create(model="gpt-test", input=prompt, stream=stream)
            if isinstance(result, AsyncStream):
                async for _event in result:
                    pass
        except APIStatusError:
            pass
    run = _Run(tmp_path)
    [failed] = run.ends("failed")
    assert failed["error"].startswith(error)
    assert failed["upstream_request_id"] == "req_1"
    check_bundle(run.bundle)


async def test_an_error_event_an_older_sdk_yields_wrapped_fails_the_call_with_its_text(
    tmp_path: Path,
) -> None:
    """openai before 1.97.2 yields a Responses stream's ``error`` event as ``{"event":
    "error", "data": <the event>}`` parsed into the first model of the event union, as the
    SDK's own ``construct_type`` does here: its message is the failure's (found by review:
    with openai 1.92 the call failed "stream ended before the response completed")."""
    error = {"type": "error", "code": "server_error", "message": "stream broke", "param": None}
    wrapped = construct_type(type_=ResponseStreamEvent, value={"event": "error", "data": error})
    assert getattr(wrapped, "type", None) is None
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn() as turn:
        call = turn.inference({"model": "gpt-test", "input": "stream-error"})
        recorder = Recorder(turn, call, "responses", time.perf_counter_ns(), "req_1")
        recorder.see(wrapped)
        recorder.ended()  # the stream ends after the error event
    [failed] = _Run(tmp_path).ends("failed")
    assert failed["error"] == "stream broke"
    assert failed["upstream_request_id"] == "req_1"


async def test_cancelled_request_is_cancelled(tmp_path: Path, client: AsyncOpenAI) -> None:
    """A call whose task is cancelled ends cancelled, and the cancellation goes on."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        with anyio.CancelScope() as scope:
            scope.cancel()
            await client.responses.create(model="gpt-test", input="never sent")
        assert scope.cancelled_caught
    run = _Run(tmp_path)
    [cancelled] = run.ends("cancelled")
    assert cancelled["reason"] == "cancelled"
    check_bundle(run.bundle)


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
    run = _Run(tmp_path)
    [end] = run.ends("completed")
    assert end["response_id"] == queued.id
    assert run.response(end)["output_items"][0]["content"][0]["text"] == "echo: slow work"
    assert run.ends("cancelled") == run.ends("failed") == []
    state = check_bundle(run.bundle)
    assert "echo: slow work" in _texts(state)


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
    run = _Run(tmp_path)
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
    run = _Run(tmp_path)
    [end] = run.ends("completed")
    assert run.response(end)["output_items"][0]["content"][0]["text"] == "echo: extra"


async def test_a_sync_background_response_is_recorded_when_retrieved(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    client = instrument(OpenAI(base_url=fake.base_url, api_key="test", max_retries=0))
    with _closing(client):
        async with open_rollout(tmp_path, model="gpt-test") as rollout:
            turn = rollout.root.turn()
            with use_turn(turn):
                queued = client.responses.create(model="gpt-test", input="s", background=True)
                client.responses.retrieve(queued.id)
            turn.end()
    run = _Run(tmp_path)
    [end] = run.ends("completed")
    assert end["response_id"] == queued.id
    assert run.response(end)["output_items"][0]["content"][0]["text"] == "echo: s"
    check_bundle(run.bundle)


def _completed_in_order(run: _Run, ids: list[str], texts: list[str]) -> None:
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
    _completed_in_order(_Run(tmp_path), [first.id, second.id], ["echo: one", "echo: two"])


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
    _completed_in_order(_Run(tmp_path), [first.id, second.id], ["echo: one", "echo: two"])


async def test_structured_output_parse_is_recorded(tmp_path: Path, client: AsyncOpenAI) -> None:
    """``parse`` posts its request itself, not through ``create``: it is recorded too, with
    the JSON schema the SDK made of the class, as sent."""
    from pydantic import BaseModel

    class Answer(BaseModel):
        text: str

    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
            parsed = await client.responses.parse(
                model="gpt-test", input="as-json please", text_format=Answer
            )
            chat = await client.chat.completions.parse(
                model="gpt-test",
                messages=[{"role": "user", "content": "as-json chat"}],
                response_format=Answer,
            )
    # recording dumps the parsed answers: pydantic's serializer warnings stay out of sight
    assert [str(w.message) for w in shown] == []
    assert parsed.output_parsed == Answer(text="echo: as-json please")
    assert chat.choices[0].message.parsed == Answer(text="echo: as-json chat")
    run = _Run(tmp_path)
    ends = run.ends("completed")
    assert [e["response_id"] for e in ends] == [parsed.id, chat.id]
    sent = [
        payload(run.bundle, e["payload"]["request_payload"])
        for e in of_type(run.bundle, "inference_started")
    ]
    assert sent[0]["text"]["format"]["type"] == "json_schema"
    assert sent[0]["text"]["format"]["schema"]["properties"] == {
        "text": {"title": "Text", "type": "string"}
    }
    assert "text_format" not in sent[0]
    assert sent[1]["response_format"]["type"] == "json_schema"
    check_bundle(run.bundle)


async def test_beta_chat_completions_are_recorded_once(tmp_path: Path, client: AsyncOpenAI) -> None:
    """``beta.chat.completions`` is a second copy of ``chat.completions`` (before openai 1.92
    the only home of ``parse`` and ``stream``): its calls were not recorded (found by
    review). Each is recorded once, a stream block's included."""
    from pydantic import BaseModel

    class Answer(BaseModel):
        text: str

    messages: list[Any] = [{"role": "user", "content": "hi beta"}]
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        created = await client.beta.chat.completions.create(model="gpt-test", messages=messages)
        parsed = await client.beta.chat.completions.parse(
            model="gpt-test",
            messages=[{"role": "user", "content": "as-json beta"}],
            response_format=Answer,
        )
        async with client.beta.chat.completions.stream(
            model="gpt-test", messages=messages
        ) as stream:
            async for _event in stream:
                pass
    run = _Run(tmp_path)
    ends = run.ends("completed")
    assert [e["response_id"] for e in ends] == [created.id, parsed.id, "chatcmpl_3"]
    assert parsed.choices[0].message.parsed == Answer(text="echo: as-json beta")
    assert run.requests()[1]["response_format"]["type"] == "json_schema"
    check_bundle(run.bundle)


async def test_run_function_call_sends_what_json_cannot_hold_as_its_nearest_text(
    tmp_path: Path,
) -> None:
    """The tool has run: a result JSON cannot hold (a date, a set, bytes) must not turn into
    a failure the loop might retry."""
    import datetime

    item = {"type": "function_call", "call_id": "c1", "name": "now", "arguments": "{}"}
    results = [datetime.date(2024, 1, 2), {1}, b"raw", {(1, 2): "tuple key"}]
    outputs = []
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn() as turn:
        for n, value in enumerate(results):
            call = dict(item, call_id=f"c{n}")
            done = await run_function_call(turn, call, lambda value=value: value)
            outputs.append(done["output"])
    assert outputs == ['"2024-01-02"', "[1]", '"raw"', "{(1, 2): 'tuple key'}"]
    run = _Run(tmp_path)
    ended = [e["payload"] for e in of_type(run.bundle, "tool_call_ended")]
    assert [e["status"] for e in ended] == ["completed"] * 4
    check_bundle(run.bundle)


# --- Chat Completions ------------------------------------------------------------------------


async def test_chat_tool_loop_is_recorded(tmp_path: Path, client: AsyncOpenAI) -> None:
    """Chat messages with tool calls and tool results reduce with both reducers, and the
    user's text, the call and its result are in the state."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn() as turn:
        messages: list[Any] = [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "weather via tool"},
        ]
        first = await client.chat.completions.create(model="gpt-test", messages=messages)
        message = first.choices[0].message
        assert message.tool_calls
        call = message.tool_calls[0]
        arguments = call.model_dump()["function"]["arguments"]
        async with turn.tool_call(call.id, "get_weather", arguments=arguments) as tool:
            tool.completed({"type": "function_call_output", "call_id": call.id, "output": "rain"})
        messages += [message, {"role": "tool", "tool_call_id": call.id, "content": "rain"}]
        messages.append({"role": "user", "content": "and tomorrow?"})
        await client.chat.completions.create(model="gpt-test", messages=messages)
    run = _Run(tmp_path)
    ends = run.ends("completed")
    assert [e["response_id"] for e in ends] == ["chatcmpl_1", "chatcmpl_2"]
    assert run.response(ends[0])["token_usage"] == CODEX_USAGE
    assert run.response(ends[0])["output_items"][0]["type"] == "function_call"
    kinds = [item["type"] for item in run.requests()[1]["input"]]
    assert kinds == ["message", "message", "function_call", "function_call_output", "message"]
    state = check_bundle(run.bundle)
    assert "and tomorrow?" in _texts(state) and "be brief" in _texts(state)


async def test_chat_stream_is_assembled(tmp_path: Path, client: AsyncOpenAI) -> None:
    """Chat chunks are put together: text, tool-call arguments, usage, first token."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        for prompt in ("hi stream", "tool stream"):
            stream = await client.chat.completions.create(
                model="gpt-test",
                messages=[{"role": "user", "content": prompt}],
                stream=True,
                stream_options={"include_usage": True},
            )
            async for _chunk in stream:
                pass
    run = _Run(tmp_path)
    text_end, tool_end = run.ends("completed")
    assert run.response(text_end)["output_items"][0]["content"] == [
        {"type": "output_text", "text": "echo: hi stream"}
    ]
    call = run.response(tool_end)["output_items"][0]
    assert (call["type"], call["call_id"], call["arguments"]) == (
        "function_call",
        "call_2",
        ARGUMENTS,
    )
    assert run.response(tool_end)["token_usage"] == CODEX_USAGE
    assert len(run.protocol(FIRST_TOKEN_EVENT)) == 2
    check_bundle(run.bundle)


@pytest.mark.parametrize("prompt", ["loose-index", "null-index"])
async def test_chat_stream_tool_calls_without_an_index(
    tmp_path: Path, client: AsyncOpenAI, prompt: str
) -> None:
    """Tool-call deltas without an index (some compatible servers): a new call id starts a
    new call. Mixed with numbered deltas, the end of the stream raised ``TypeError`` into
    the agent's ``async for``; all unnumbered, two calls were recorded as one (``getget``)."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        stream = await client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": prompt}], stream=True
        )
        async for _chunk in stream:
            pass
    run = _Run(tmp_path)
    (end,) = run.ends("completed")
    calls = [
        (item["call_id"], item["name"], item["arguments"])
        for item in run.response(end)["output_items"]
    ]
    assert calls == [
        ("call_a", "get_weather", '{"city":"Oslo"}'),
        ("call_b", "get_weather", '{"city":"Rome"}'),
    ]
    check_bundle(run.bundle)


async def test_chat_stream_closed_early_keeps_calls_without_an_index(
    tmp_path: Path, client: AsyncOpenAI
) -> None:
    """A stream closed before its end keeps the calls received so far, numbered or not
    (unnumbered ones were left out of the partial answer)."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        stream = await client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "null-index"}], stream=True
        )
        seen = 0
        async for _chunk in stream:
            seen += 1
            if seen == 3:
                break
        await stream.close()
    run = _Run(tmp_path)
    (end,) = run.ends("cancelled")
    calls = run.response(end)["output_items"]
    assert [(c["call_id"], c["arguments"]) for c in calls] == [("call_a", '{"city":"Oslo"}')]
    check_bundle(run.bundle)


async def test_chat_stream_of_two_choices_records_the_first(
    tmp_path: Path, client: AsyncOpenAI
) -> None:
    """With ``n=2`` the choices' deltas interleave: the first choice is the answer, as for a
    whole completion (both texts were joined into one message)."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        stream = await client.chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": "two-choices"}],
            stream=True,
            n=2,
        )
        async for _chunk in stream:
            pass
    run = _Run(tmp_path)
    (end,) = run.ends("completed")
    assert run.response(end)["output_items"][0]["content"] == [
        {"type": "output_text", "text": "A1 A2"}
    ]
    check_bundle(run.bundle)


async def test_chat_stream_cut_fails_the_call(tmp_path: Path, client: AsyncOpenAI) -> None:
    """A connection lost mid-stream fails the call with the SDK's error, keeping the text
    received so far."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        stream = await client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "stream-error"}], stream=True
        )
        with pytest.raises(Exception) as raised:
            async for _chunk in stream:
                pass
    run = _Run(tmp_path)
    [failed] = run.ends("failed")
    assert failed["error"].startswith(type(raised.value).__name__)
    assert failed["upstream_request_id"] == "req_1"
    assert run.response(failed)["output_items"][0]["content"][0]["text"] == "ech"
    check_bundle(run.bundle)


# --- outside a turn, sync client ------------------------------------------------------------


async def test_calls_outside_a_turn_are_not_recorded(
    tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI
) -> None:
    """Before, after and without a turn the client works and nothing is recorded."""
    response = await client.responses.create(model="gpt-test", input="no rollout")
    async with open_rollout(tmp_path, model="gpt-test") as rollout:
        await client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "x"}]
        )
        async with rollout.root.turn() as turn:
            assert current_turn() is turn
        assert current_turn() is None
        await client.responses.create(model="gpt-test", input="after the turn")
    assert response.output_text == "echo: no rollout"
    assert len(fake.requests) == 3
    assert all(CALL_ID_HEADER not in headers for _, _, headers in fake.requests)
    assert _Run(tmp_path).requests() == []


async def test_disabled_rollout_passes_calls_through(client: AsyncOpenAI, fake: FakeOpenAI) -> None:
    """With tracing off the turn is a null object and calls are not touched."""
    async with open_rollout(enabled=False) as rollout, rollout.root.turn():
        assert current_turn() is None
        await client.responses.create(model="gpt-test", input="off")
    assert CALL_ID_HEADER not in fake.requests[0][2]


async def test_sync_client_and_use_turn(tmp_path: Path, fake: FakeOpenAI) -> None:
    """The sync client records too, in a turn made current with ``use_turn``; a sync stream
    is recorded as it is read; instrumenting twice is harmless."""
    client = instrument(instrument(OpenAI(base_url=fake.base_url, api_key="test", max_retries=0)))
    with _closing(client):
        async with open_rollout(tmp_path, model="gpt-test") as rollout:
            turn = rollout.root.turn()
            with use_turn(turn):
                client.responses.create(model="gpt-test", input="sync hello")
                for _event in client.chat.completions.create(
                    model="gpt-test",
                    messages=[{"role": "user", "content": "sync stream"}],
                    stream=True,
                ):
                    pass
            turn.end()
    run = _Run(tmp_path)
    assert [e["upstream_request_id"] for e in run.ends("completed")] == ["req_1", "req_2"]
    state = check_bundle(run.bundle)
    assert "sync hello" in _texts(state) and "echo: sync stream" in _texts(state)


async def test_worker_thread_calls_are_not_recorded(tmp_path: Path, fake: FakeOpenAI) -> None:
    """A sync call in a worker thread (where handles may not be used) is passed through."""
    client = instrument(OpenAI(base_url=fake.base_url, api_key="test", max_retries=0))
    with _closing(client):
        async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
            await anyio.to_thread.run_sync(
                lambda: client.responses.create(model="gpt-test", input="from a thread")
            )
    assert _Run(tmp_path).requests() == []
    assert CALL_ID_HEADER not in fake.requests[0][2]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_example_runs_offline(tmp_path: Path) -> None:
    """examples/openai_client.py runs against its own fake API and leaves a bundle that
    reduces, with the tool call in it."""
    example = Path(__file__).resolve().parents[2] / "examples" / "openai_client.py"
    result = await anyio.run_process([sys.executable, str(example), str(tmp_path)], check=False)
    assert result.returncode == 0, result.stderr.decode()
    assert b"Oslo: " in result.stdout
    run = _Run(tmp_path)
    assert len(run.ends("completed")) == 2
    assert [e["payload"]["status"] for e in of_type(run.bundle, "tool_call_ended")] == ["completed"]
    check_bundle(run.bundle)
