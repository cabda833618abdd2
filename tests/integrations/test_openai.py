"""The real ``openai`` package, instrumented, against a fake API on 127.0.0.1: every call made
in a turn is one inference call (request, output, usage, upstream id, status, error text,
cancellation, time to first token), and every bundle reduces with our reducer and Codex.
Streams: ``test_openai_streams.py``; background responses: ``test_openai_background.py``."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("openai")

from openai import APIStatusError, AsyncOpenAI, AsyncStream, OpenAI

from rollout_trace_sdk.integrations import current_turn, use_turn
from rollout_trace_sdk.integrations.openai import (
    instrument,
    run_function_call,
)
from rollout_trace_sdk.record import CALL_ID_HEADER, RecorderWarning, open_rollout

from ..codex_oracle import reduced_by_both
from ..record.recorder_support import (
    check_bundle,
    of_type,
    payload,
)
from .fake_openai import ARGUMENTS, REASONING, REASONING_DETAILS, FakeOpenAI
from .openai_run import CODEX_USAGE, Run, closing_client, state_text

pytestmark = pytest.mark.anyio

# --- Responses API ---------------------------------------------------------------------------


async def test_responses_create_is_recorded(
    tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI
) -> None:
    """A plain-string request: request, output, usage, response and upstream ids, header."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        response = await client.responses.create(model="gpt-test", input="hello there")
    assert response.output_text == "echo: hello there"
    run = Run(tmp_path)
    [end] = run.ends("completed")
    assert (end["response_id"], end["upstream_request_id"]) == ("resp_1", "req_1")
    assert run.response(end)["token_usage"] == CODEX_USAGE
    [request] = run.requests()
    assert request["input"][0]["content"] == [{"type": "input_text", "text": "hello there"}]
    assert fake.requests[0][2][CALL_ID_HEADER] == end["inference_call_id"]
    state = check_bundle(run.bundle)
    assert "hello there" in state_text(state) and "echo: hello there" in state_text(state)


async def test_the_callers_own_headers_are_sent_beside_the_call_id(
    tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI
) -> None:
    """``extra_headers`` the caller gives (a tenant, a trace id of its own) still reach the
    API: the call-id header is added to them, not put in their place."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        await client.responses.create(
            model="gpt-test", input="hi", extra_headers={"X-Tenant": "acme"}
        )
    [end] = Run(tmp_path).ends("completed")
    headers = {k.lower(): v for k, v in fake.requests[-1][2].items()}
    assert headers["x-tenant"] == "acme"
    assert headers[CALL_ID_HEADER.lower()] == end["inference_call_id"]


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
    run = Run(tmp_path)
    assert len(run.ends("completed")) == 2
    [tool_end] = [e["payload"] for e in of_type(run.bundle, "tool_call_ended")]
    assert tool_end["status"] == "completed"
    state = check_bundle(run.bundle)
    assert "thanks" in state_text(state) and ARGUMENTS.replace('"', '\\"') in state_text(state)


@pytest.mark.parametrize("api", ["responses", "chat"])
async def test_a_server_reusing_call_ids(
    api: str, tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI
) -> None:
    """A server that names every tool call ``call_0``: the provider gets its own ids back
    each time (the history the loop sends is untouched), and the bundle, which both
    reducers refused whole, records the second call as ``call_0#2`` with its own tool call."""
    fake.call_id = "call_0"
    # both documented: the second call_0 is recorded as call_0#2, its tool call id made unique
    with (
        pytest.warns(RecorderWarning, match="tool call ids used twice in the rollout"),
        pytest.warns(RecorderWarning, match="an earlier call had their call id"),
    ):
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
                    answer = await client.chat.completions.create(
                        model="gpt-test", messages=messages
                    )
                    message = answer.choices[0].message
                    [call] = message.tool_calls or []
                    arguments = call.model_dump()["function"]["arguments"]
                    async with turn.tool_call(call.id, "get_weather", arguments=arguments) as tool:
                        tool.completed(
                            {"type": "function_call_output", "call_id": call.id, "output": "rain"}
                        )
                    messages += [
                        message,
                        {"role": "tool", "tool_call_id": call.id, "content": "rain"},
                    ]
                await client.chat.completions.create(model="gpt-test", messages=messages)
    sent = json.dumps([body for _, body, _ in fake.requests])
    assert "call_0" in sent and "call_0#" not in sent, "the provider saw our names"
    state = check_bundle(Run(tmp_path).bundle)
    tools = sorted(
        (t["model_visible_call_id"], len(t["model_visible_call_item_ids"]))
        for t in state["tool_calls"].values()
        if t["model_visible_call_id"] is not None  # not linked: the failure this tests
    )
    assert tools == [("call_0", 1), ("call_0#2", 1)]


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
    run = Run(tmp_path)
    [failed] = run.ends("failed")
    assert failed["error"].startswith(error)
    assert failed["upstream_request_id"] == "req_1"
    check_bundle(run.bundle)


async def test_cancelled_request_is_cancelled(tmp_path: Path, client: AsyncOpenAI) -> None:
    """A call whose task is cancelled ends cancelled, and the cancellation goes on."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        with anyio.CancelScope() as scope:
            scope.cancel()
            await client.responses.create(model="gpt-test", input="never sent")
        assert scope.cancelled_caught
    run = Run(tmp_path)
    [cancelled] = run.ends("cancelled")
    assert cancelled["reason"] == "cancelled"
    check_bundle(run.bundle)


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
    run = Run(tmp_path)
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
    run = Run(tmp_path)
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
    # (bytes are text, sent as a str result is: test_openai_sent.py has their forms)
    assert outputs == ['"2024-01-02"', "[1]", "raw", "{(1, 2): 'tuple key'}"]
    run = Run(tmp_path)
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
    run = Run(tmp_path)
    ends = run.ends("completed")
    assert [e["response_id"] for e in ends] == ["chatcmpl_1", "chatcmpl_2"]
    assert run.response(ends[0])["token_usage"] == CODEX_USAGE
    assert run.response(ends[0])["output_items"][0]["type"] == "function_call"
    kinds = [item["type"] for item in run.requests()[1]["input"]]
    assert kinds == ["message", "message", "function_call", "function_call_output", "message"]
    state = check_bundle(run.bundle)
    assert "and tomorrow?" in state_text(state) and "be brief" in state_text(state)


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
    assert Run(tmp_path).requests() == []


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
    with closing_client(client):
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
    run = Run(tmp_path)
    assert [e["upstream_request_id"] for e in run.ends("completed")] == ["req_1", "req_2"]
    state = check_bundle(run.bundle)
    assert "sync hello" in state_text(state) and "echo: sync stream" in state_text(state)


async def test_worker_thread_calls_are_not_recorded(tmp_path: Path, fake: FakeOpenAI) -> None:
    """A sync call in a worker thread (where handles may not be used) is passed through."""
    client = instrument(OpenAI(base_url=fake.base_url, api_key="test", max_retries=0))
    with closing_client(client):
        async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
            await anyio.to_thread.run_sync(
                lambda: client.responses.create(model="gpt-test", input="from a thread")
            )
    assert Run(tmp_path).requests() == []
    assert CALL_ID_HEADER not in fake.requests[0][2]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_example_runs_offline(tmp_path: Path) -> None:
    """examples/openai_client.py runs against its own fake API and leaves a bundle that
    reduces, with the tool call in it."""
    example = Path(__file__).resolve().parents[2] / "examples" / "openai_client.py"
    result = await anyio.run_process([sys.executable, str(example), str(tmp_path)], check=False)
    assert result.returncode == 0, result.stderr.decode()
    assert b"Oslo: " in result.stdout
    run = Run(tmp_path)
    assert len(run.ends("completed")) == 2
    assert [e["payload"]["status"] for e in of_type(run.bundle, "tool_call_ended")] == ["completed"]
    check_bundle(run.bundle)


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_conversation_continued_from_a_response_of_another_rollout_reduces(
    tmp_path: Path, client: AsyncOpenAI, schema: int
) -> None:
    """One rollout per turn of a conversation the server keeps (``previous_response_id``):
    the second rollout's first request continues a response only the first rollout has.
    Recorded with its ``previous_response_id``, it made both reducers refuse the whole
    bundle ("referenced unknown previous_response_id"), without a word at recording (found
    by review clients20). It is recorded without that id, said; a response of its own
    rollout is continued as before."""
    async with (
        open_rollout(tmp_path / "one", model="gpt-test", schema_version=schema) as rollout,
        rollout.root.turn(),
    ):
        first = await client.responses.create(model="gpt-test", input="hello there")
    with pytest.warns(RecorderWarning, match=f"previous_response_id '{first.id}' names no"):
        async with (
            open_rollout(tmp_path / "two", model="gpt-test", schema_version=schema) as rollout,
            rollout.root.turn(),
        ):
            second = await client.responses.create(
                model="gpt-test", input="and then", previous_response_id=first.id
            )
            await client.responses.create(
                model="gpt-test", input="thanks", previous_response_id=second.id
            )
    run = Run(tmp_path / "two")
    assert [request.get("previous_response_id") for request in run.requests()] == [
        None,
        second.id,
    ]
    state = reduced_by_both(run.bundle)
    assert "and then" in state_text(state) and "echo: thanks" in state_text(state)


def _request_texts(state: dict[str, Any]) -> list[str]:
    """The texts of the last reduced request's items (its call started last)."""
    items = state["conversation_items"]
    call = max(state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"])
    return [
        part["text"]
        for item_id in call["request_item_ids"]
        for part in items[item_id]["body"]["parts"]
        if part.get("type") == "text"
    ]


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("branch", ["retry", "second branch"])
async def test_a_retry_or_a_branch_continuing_a_response_reduces(
    tmp_path: Path, client: AsyncOpenAI, schema: int, branch: str
) -> None:
    """A request continuing a response fails (HTTP 400) and the loop retries it with another
    input on the same ``previous_response_id``; or two requests continue one response (tree
    search). Recorded as sent, both Codex versions refused the whole bundle: they check the
    new items against the thread's last request ("model conversation mismatch", found by
    helper clients22). The last request is recorded as the whole history the model saw."""
    async with (
        open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout,
        rollout.root.turn(),
    ):
        first = await client.responses.create(model="gpt-test", input="hello there")
        if branch == "retry":
            with pytest.raises(APIStatusError):
                await client.responses.create(
                    model="gpt-test", input="please fail", previous_response_id=first.id
                )
        else:
            await client.responses.create(
                model="gpt-test", input="one way", previous_response_id=first.id
            )
        await client.responses.create(
            model="gpt-test", input="another way", previous_response_id=first.id
        )
    run = Run(tmp_path)
    requests = run.requests()
    assert requests[1]["previous_response_id"] == first.id  # as sent: the reducers read it
    assert "previous_response_id" not in requests[2]
    state = reduced_by_both(run.bundle)
    assert _request_texts(state) == ["hello there", "echo: hello there", "another way"]


@pytest.mark.parametrize("schema", [2, 3])
async def test_items_sent_back_by_reference_are_recorded_as_those_items(
    tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI, schema: int
) -> None:
    """A stored-response loop naming the model's call by its id (``item_reference``, the
    openai SDK's ``ItemReference`` param) instead of sending it back: the recorded request
    holds the call, which both reducers take for the response's item. It was dropped
    (reported) and the request showed an output answering no call."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecorderWarning)
        async with (
            open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            history: list[Any] = [{"role": "user", "content": "weather? use a tool"}]
            first = await client.responses.create(model="gpt-test", input=history)
            history.append({"type": "item_reference", "id": first.output[0].id})
            history.append(await run_function_call(turn, first.output[0], lambda city: "rain"))
            history.append({"role": "user", "content": "thanks"})
            await client.responses.create(model="gpt-test", input=history)
    assert fake.requests[1][1]["input"][1] == {"type": "item_reference", "id": "fc_1"}  # as sent
    run = Run(tmp_path)
    if schema == 2:  # schema 3 records the second request as the first's continuation
        assert run.requests()[1]["input"][1]["call_id"] == "call_1"
    state = reduced_by_both(run.bundle)
    first_call, second_call = sorted(
        state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"]
    )
    [call_item] = first_call["response_item_ids"]
    assert second_call["request_item_ids"][1] == call_item
    assert len(state["conversation_items"]) == 5  # question, call, output, thanks, answer


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize(
    ("prompt", "encrypted"),
    [("think", False), ("think-router", True), ("think-reasoning", False)],
    ids=["vllm", "openrouter", "reasoning-alone"],
)
async def test_a_chat_servers_reasoning_is_recorded_as_a_reasoning_item(
    tmp_path: Path, client: AsyncOpenAI, prompt: str, encrypted: bool, stream: bool, schema: int
) -> None:
    """The reasoning that servers add to a Chat answer (vLLM, SGLang and DeepSeek's
    ``reasoning_content``; OpenRouter's ``reasoning`` and ``reasoning_details``) is recorded
    as a ``reasoning`` item before the answer, and an assistant message sent back with it
    (DeepSeek asks for that between tool calls) is the same item in the history. It was
    dropped without a word: a reasoning model's thinking missing from its rollout. Streamed,
    OpenRouter's ``reasoning_details`` deltas were ignored: the encrypted entry was lost and
    the message sent back with them (as OpenRouter asks) was a second reasoning item (found
    by review clients20). ``reasoning`` alone, streamed, was never sent: reading only
    ``reasoning_content`` from a delta passed (mut31)."""
    async with (
        open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        messages: list[Any] = [{"role": "user", "content": f"{prompt} weather via tool"}]
        if stream:
            chunks = await client.chat.completions.create(
                model="gpt-test", messages=messages, stream=True
            )
            async for _chunk in chunks:
                pass
            message: Any = {"role": "assistant", "content": None, "reasoning_content": REASONING}
            if encrypted:  # as OpenRouter's users send it back: its details unmodified
                message = {"role": "assistant", "content": None, "reasoning": REASONING}
                message["reasoning_details"] = REASONING_DETAILS
            message["tool_calls"] = [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather"}}
            ]
            message["tool_calls"][0]["function"]["arguments"] = ARGUMENTS
        else:
            first = await client.chat.completions.create(model="gpt-test", messages=messages)
            message = first.choices[0].message
        async with turn.tool_call("call_1", "get_weather", arguments=ARGUMENTS) as tool:
            tool.completed({"type": "function_call_output", "call_id": "call_1", "output": "rain"})
        messages += [message, {"role": "tool", "tool_call_id": "call_1", "content": "rain"}]
        await client.chat.completions.create(model="gpt-test", messages=messages)
    run = Run(tmp_path)
    answered = run.response(run.ends("completed")[0])["output_items"]
    assert [item["type"] for item in answered] == ["reasoning", "function_call"]
    expected: dict[str, Any] = {
        "type": "reasoning",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": REASONING}],
    }
    if encrypted:  # reasoning_details, with its encrypted entry
        expected["encrypted_content"] = "gAAAAB-opaque"
    assert {key: value for key, value in answered[0].items() if key != "id"} == expected
    state = reduced_by_both(run.bundle)
    first, second = sorted(
        state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"]
    )
    thought = first["response_item_ids"][0]
    assert thought in second["request_item_ids"]  # sent back: the same item, not a new one
    assert REASONING in state_text(state["conversation_items"][thought])
