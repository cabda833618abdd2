"""SDK streams of the real ``openai`` package, recorded as they are read
(``integrations/_streams.py``), against the fake API on 127.0.0.1: the first token, events
assembled into the output; a stream abandoned, dropped, cut or closed early ends its call;
and every bundle reduces with our reducer and Codex."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("openai")

from openai import AsyncOpenAI, OpenAI
from openai._models import construct_type
from openai.types.responses import ResponseStreamEvent

from rollout_trace_sdk.integrations._streams import Recorder
from rollout_trace_sdk.integrations.openai import (
    FIRST_TOKEN_EVENT,
    instrument,
)
from rollout_trace_sdk.record import RecorderWarning, open_rollout

from ..codex_oracle import reduced_by_both
from ..record.recorder_support import (
    bundle_in,
    check_bundle,
    of_type,
)
from .fake_openai import ARGUMENTS, FakeOpenAI
from .openai_run import CODEX_USAGE, Run, closing_client

#: loop mechanics: also on uvloop's event loop (tests/conftest.py)
pytestmark = [pytest.mark.anyio, pytest.mark.uvloop]


async def test_responses_stream_is_recorded_with_first_token(
    tmp_path: Path, client: AsyncOpenAI
) -> None:
    """A consumed stream completes the call from its terminal event; the first delta
    records the time to first token."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        stream = await client.responses.create(model="gpt-test", input="stream me", stream=True)
        kinds = [event.type async for event in stream]
    assert kinds[-1] == "response.completed"
    run = Run(tmp_path)
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
    run = Run(tmp_path)
    cancelled = run.ends("cancelled")
    assert [c["reason"] for c in cancelled] == ["stream closed before the response completed"] * 2
    assert run.response(cancelled[0])["output_items"][0]["type"] == "function_call"
    assert cancelled[1]["partial_response_payload"] is None  # nothing but an empty first delta came
    assert run.ends("completed") == []
    check_bundle(run.bundle)


@contextlib.asynccontextmanager
async def _closing_events(stream: Any, opened: list[Any]) -> AsyncIterator[Any]:
    """The events of a ``responses.stream`` block, their iterator closed on the way out.

    The openai SDK's ``AsyncResponseStream.__aiter__`` is an async generator, which the SDK
    never closes (leaving the block closes the HTTP response only): an ``async for`` left
    early leaves it suspended, and the garbage collector finalises it at some later point,
    on trio through trio's async generator hooks. That once failed this test at random with
    "Exception ignored in: <async_generator AsyncResponseStream.__aiter__> ... async
    generator already executing". The SDK leaves the same generators (and one more) without
    the instrumentation, whose stream class makes none, so the test closes what it opened,
    as trio tells any agent to (``aclosing``)."""
    events = aiter(stream)
    opened.append(events)
    try:
        yield events
    finally:
        await events.aclose()


async def test_the_stream_helper_block_ends_the_call(
    tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI
) -> None:
    """``responses.stream(...)`` closes the HTTP response, never the raw stream, when its
    block ends: a block left early kept the call running until the turn ended (then ended
    "before the response", without the request id), and an exception in it was recorded
    cancelled, its text lost (found by review). Async and sync clients alike."""
    sync_client = instrument(OpenAI(base_url=fake.base_url, api_key="test", max_retries=0))
    left: list[Any] = []
    with closing_client(sync_client):
        async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
            async with (
                client.responses.stream(model="gpt-test", input="left early") as stream,
                _closing_events(stream, left) as events,
            ):
                async for _event in events:
                    break
            with pytest.raises(ValueError, match="agent bug"):
                async with (
                    client.responses.stream(model="gpt-test", input="raises") as stream,
                    _closing_events(stream, left) as events,
                ):
                    async for _event in events:
                        raise ValueError("agent bug")
            async with client.responses.stream(model="gpt-test", input="read whole") as stream:
                final = await stream.get_final_response()
            with sync_client.responses.stream(model="gpt-test", input="sync, left") as sync:
                for _event in sync:
                    break
            await rollout.flush()  # the calls ended with their blocks, not with the turn
            assert len(of_type(bundle_in(tmp_path), "inference_cancelled")) == 2
    assert final.output_text == "echo: read whole"
    assert [events.ag_frame for events in left] == [None, None]  # closed, not left to the GC
    run = Run(tmp_path)
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
    run = Run(tmp_path)
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
    run = Run(tmp_path)
    [cancelled] = run.ends("cancelled")
    [failed] = run.ends("failed")
    assert cancelled["reason"] == failed["error"] == "ended before the response"
    assert cancelled["upstream_request_id"] == "req_1"
    assert failed["upstream_request_id"] == "req_2"
    assert [i["type"] for i in run.response(cancelled)["output_items"]] == ["function_call"]
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
    [failed] = Run(tmp_path).ends("failed")
    assert failed["error"] == "stream broke"
    assert failed["upstream_request_id"] == "req_1"


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
    run = Run(tmp_path)
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
    run = Run(tmp_path)
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


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("late-id-index", [("call_a", "get_weather", '{"city":"Oslo"}')]),
        (
            "reversed-index",
            [
                ("call_a", "get_weather", '{"city":"Oslo"}'),
                ("call_b", "get_weather", '{"city":"Rome"}'),
            ],
        ),
    ],
)
async def test_chat_stream_tool_calls_in_the_order_and_number_the_deltas_say(
    tmp_path: Path, client: AsyncOpenAI, prompt: str, expected: list[tuple[str, str, str]]
) -> None:
    """An unnumbered call whose id comes after its first delta is one call, not two; numbered
    calls are recorded by index whatever order their deltas came in. Neither was sent by the
    fake: starting a new call at the late id, or keeping the deltas' order, passed (mut31)."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        stream = await client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": prompt}], stream=True
        )
        async for _chunk in stream:
            pass
    run = Run(tmp_path)
    (end,) = run.ends("completed")
    calls = [
        (item["call_id"], item["name"], item["arguments"])
        for item in run.response(end)["output_items"]
    ]
    assert calls == expected
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
    run = Run(tmp_path)
    (end,) = run.ends("cancelled")
    calls = run.response(end)["output_items"]
    assert [(c["call_id"], c["arguments"]) for c in calls] == [("call_a", '{"city":"Oslo"}')]
    check_bundle(run.bundle)


async def test_chat_stream_of_two_choices_records_the_first(
    tmp_path: Path, client: AsyncOpenAI
) -> None:
    """With ``n=2`` the choices' deltas interleave: the first choice is the answer, as for a
    whole completion (both texts were joined into one message), and the second is said to
    be left out, as a whole completion's is (it was dropped without a word: found by review
    clients19)."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        stream = await client.chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": "two-choices"}],
            stream=True,
            n=2,
        )
        with pytest.warns(RecorderWarning, match="2 choices; only the first is recorded"):
            async for _chunk in stream:
                pass
    run = Run(tmp_path)
    (end,) = run.ends("completed")
    assert run.response(end)["output_items"][0]["content"] == [
        {"type": "output_text", "text": "A1 A2"}
    ]
    [dropped] = run.protocol("rollout_trace_input_dropped")
    assert dropped["what"] == "output"
    assert dropped["problems"] == ["response has 2 choices; only the first is recorded"]
    check_bundle(run.bundle)


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize(
    ("prompt", "answer"),
    [
        (
            "refusal-stream",
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "refusal", "refusal": "I can't help with that."}],
            },
        ),
        (
            "legacy-function",
            {"type": "function_call", "name": "get_weather", "arguments": '{"city":"Oslo"}'},
        ),
    ],
)
async def test_chat_stream_of_a_refusal_or_a_legacy_function_call(
    tmp_path: Path, client: AsyncOpenAI, prompt: str, answer: dict[str, Any], schema: int
) -> None:
    """A streamed refusal (``refusal`` deltas) and a legacy function call (``function_call``
    deltas, asked for with ``functions=``) are recorded as their whole completions are: the
    call completed with an empty answer and no first token, the refusal or the call lost
    (found by review clients19)."""
    async with (
        open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout,
        rollout.root.turn(),
    ):
        stream = await client.chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": prompt}],
            stream=True,
            functions=[{"name": "get_weather", "parameters": {"type": "object"}}],
        )
        async for _chunk in stream:
            pass
    run = Run(tmp_path)
    (end,) = run.ends("completed")
    [item] = run.response(end)["output_items"]
    assert {key: value for key, value in item.items() if key != "id"} == answer  # id: ours
    assert len(run.protocol(FIRST_TOKEN_EVENT)) == 1
    state = reduced_by_both(run.bundle)
    [call] = state["inference_calls"].values()
    [answered] = [state["conversation_items"][i] for i in call["response_item_ids"]]
    assert answered["kind"] == answer["type"]


async def test_chat_stream_of_an_audio_answer_is_reported_dropped(
    tmp_path: Path, client: AsyncOpenAI
) -> None:
    """Streamed ``audio`` deltas (an audio answer) are reported left out, as a whole
    completion's ``audio`` is, and the first of them is the first token (the stream was
    recorded as an empty answer, no word said: found by review clients19)."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        stream = await client.chat.completions.create(
            model="gpt-test",
            messages=[{"role": "user", "content": "audio-stream"}],
            modalities=["text", "audio"],
            audio={"voice": "alloy", "format": "wav"},
            stream=True,
        )
        with pytest.warns(RecorderWarning, match=r"has audio \(id audio_1\)"):
            async for _chunk in stream:
                pass
    run = Run(tmp_path)
    (end,) = run.ends("completed")
    assert run.response(end)["output_items"] == []
    assert len(run.protocol(FIRST_TOKEN_EVENT)) == 1
    [dropped] = run.protocol("rollout_trace_input_dropped")
    assert dropped["what"] == "output" and "audio" in dropped["problems"][0]
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
    run = Run(tmp_path)
    [failed] = run.ends("failed")
    assert failed["error"].startswith(type(raised.value).__name__)
    assert failed["upstream_request_id"] == "req_1"
    assert run.response(failed)["output_items"][0]["content"][0]["text"] == "ech"
    check_bundle(run.bundle)
