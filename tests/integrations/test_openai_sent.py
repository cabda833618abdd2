"""The real ``openai`` package, instrumented, given its requests in the forms the SDK takes
(its own param types, its response objects fed back, tuples, generators and other
iterables, ``parse``'s classes): the request recorded is the one the fake API received,
read as a plain list would be. Before, a generator or another iterable that is no sequence
(Chat ``messages``, ``tools``, a message's content parts, ``compact``'s ``input``: the SDK
lists any ``Iterable``) was recorded as no array (empty, or ``"<unserialisable ...>"``)
while the SDK sent its items; a ``parse`` answer was recorded with the ``parsed`` value the
SDK had read into it (never sent by the server, nor sent back by the SDK); Chat's ``parse``
request without the ``stream: false`` it posts."""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest

pytest.importorskip("openai")

from openai import NOT_GIVEN, AsyncOpenAI, OpenAI, omit

from rollout_trace_sdk.integrations._sent import read_once
from rollout_trace_sdk.integrations.openai import instrument, run_function_call
from rollout_trace_sdk.record import open_rollout

from ..record.recorder_support import check_bundle, of_type, payload
from .fake_openai import FakeOpenAI
from .openai_run import Run, closing_client

pytestmark = pytest.mark.anyio

Form = Callable[[list[Any]], Any]


def _generator(items: list[Any]) -> Iterator[Any]:
    return (item for item in items)


def _values(items: list[Any]) -> Any:
    return dict(enumerate(items)).values()


#: The forms of an array the SDK's ``Iterable[...]`` parameters take.
FORMS: dict[str, Form] = {
    "list": list,
    "tuple": tuple,
    "generator": _generator,
    "map": lambda items: map(lambda item: item, items),
    "dict values": _values,
}


class Model(enum.StrEnum):
    TEST = "gpt-test"


class Answer(pydantic.BaseModel):
    text: str


Calls = Callable[[AsyncOpenAI, Form], Any]


async def _recorded(root: Path, calls: Calls, form: Form) -> tuple[list[Any], list[Any]]:
    """Run ``calls`` with ``form`` in a turn, against a fake API of its own (its ids start
    again): the request bodies the API received and the requests recorded."""
    with FakeOpenAI() as fake:
        client = instrument(AsyncOpenAI(base_url=fake.base_url, api_key="t", max_retries=0))
        async with client, open_rollout(root, model="gpt-test") as rollout, rollout.root.turn():
            await calls(client, form)
        received = [body for _, body, _ in fake.requests]
    bundle = Run(root).bundle
    recorded = [
        payload(bundle, e["payload"]["request_payload"])
        for e in of_type(bundle, "inference_started")
    ] + [
        payload(bundle, e["payload"]["request_payload"])
        for e in of_type(bundle, "compaction_request_started")
    ]
    check_bundle(bundle)
    return received, recorded


async def _chat(client: AsyncOpenAI, form: Form) -> None:
    """A Chat tool loop: the ``ChatCompletionMessage`` fed back, messages and tools in
    ``form``, and a message whose content parts are in ``form``."""
    tools = [
        {
            "type": "function",
            "function": {"name": "get_weather", "parameters": {"type": "object"}},
        }
    ]

    def system() -> dict[str, Any]:  # (a generator is read once: each request a new one)
        return {"role": "system", "content": form([{"type": "text", "text": "be brief"}])}

    messages: list[Any] = [{"role": "user", "content": "weather? use a tool"}]
    answer = await client.chat.completions.create(
        model="gpt-test", messages=form([system(), *messages]), tools=form(tools)
    )
    message = answer.choices[0].message
    assert message.tool_calls
    messages += [
        message,
        {"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": "rain"},
        {"role": "user", "content": "thanks"},
    ]
    await client.chat.completions.create(
        model="gpt-test", messages=form([system(), *messages]), tools=form(tools)
    )


async def _responses(client: AsyncOpenAI, form: Form) -> None:
    """A Responses request with ``tools`` in ``form`` (its ``input`` the SDK takes as a
    list only), a streamed one, and a compaction whose ``input`` is in ``form``."""
    tools = [{"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": False}]
    await client.responses.create(model="gpt-test", input="hi", tools=form(tools))
    async with client.responses.stream(model="gpt-test", input="hi", tools=form(tools)) as s:
        async for _ in s:
            pass
    await client.responses.compact(
        model="gpt-test", input=form([{"role": "user", "content": "hi"}])
    )


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("calls", [_chat, _responses], ids=["chat", "responses"])
async def test_arrays_in_any_form_are_recorded_as_sent(
    tmp_path: Path, calls: Calls, form: str
) -> None:
    """Each form the SDK iterates is sent and recorded as the list it holds: the API gets
    what a list sends, and the bundle records what a list records (it was empty, or
    ``"<unserialisable generator ...>"``, for the generator, ``map`` and dict values)."""
    sent, recorded = await _recorded(tmp_path / "plain", calls, list)
    assert sent and all(recorded)
    assert await _recorded(tmp_path / form, calls, FORMS[form]) == (sent, recorded)


async def test_the_recorded_request_is_the_body_the_api_received(tmp_path: Path) -> None:
    """A generator of ``messages`` is read once, by us, and both the SDK and the record get
    its items: replaying the body the API received as plain JSON records the same request."""
    sent, recorded = await _recorded(tmp_path / "gen", _chat, _generator)
    [first, second] = sent
    assert first["messages"][1] == {"role": "user", "content": "weather? use a tool"}

    async def replay(client: AsyncOpenAI, _: Form) -> None:
        for body in sent:
            await client.chat.completions.create(**body)

    assert (await _recorded(tmp_path / "replay", replay, list))[1] == recorded
    assert [m["role"] for m in second["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "user",
    ]


def test_the_sync_client_reads_a_generator_once(tmp_path: Path) -> None:
    """``OpenAI()`` as ``AsyncOpenAI()``: the generator's messages are sent and recorded."""
    import asyncio

    async def run() -> None:
        with (
            FakeOpenAI() as fake,
            closing_client(
                instrument(OpenAI(base_url=fake.base_url, api_key="t", max_retries=0))
            ) as client,
        ):
            create: Any = client.chat.completions.create  # (typed for a list)
            async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
                messages = ({"role": "user", "content": text} for text in ["hello there"])
                create(model="gpt-test", messages=messages)
            assert fake.requests[0][1]["messages"] == [{"role": "user", "content": "hello there"}]

    asyncio.run(run())
    [request] = Run(tmp_path).requests()
    assert request["input"][0]["content"] == [{"type": "input_text", "text": "hello there"}]


@pytest.mark.parametrize("where", ["include", "stop"])
async def test_an_iterator_the_sdk_refuses_is_still_refused(
    tmp_path: Path, client: Any, where: str
) -> None:
    """``include`` and ``stop`` the SDK takes as lists only: an iterator there fails the call
    as it does without instrumentation (reading it for the record does not make it pass)."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        with pytest.raises(TypeError, match="not JSON serializable"):
            if where == "include":
                await client.responses.create(
                    model="gpt-test", input="hi", include=iter(["reasoning.encrypted_content"])
                )
            else:
                await client.chat.completions.create(
                    model="gpt-test",
                    messages=[{"role": "user", "content": "hi"}],
                    stop=iter(["x"]),
                )
    [failed] = Run(tmp_path).ends("failed")
    assert failed["error"].startswith("TypeError")


async def test_an_exception_from_the_loops_generator_comes_out_unchanged(
    tmp_path: Path, client: AsyncOpenAI
) -> None:
    """A generator that raises while it is read: the caller gets its exception, as from the
    SDK reading it."""

    class Boom(Exception):
        pass

    def messages() -> Iterator[Any]:
        yield {"role": "user", "content": "hi"}
        raise Boom

    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        with pytest.raises(Boom):
            await client.chat.completions.create(model="gpt-test", messages=messages())


async def test_options_and_model_forms_are_recorded_as_sent(tmp_path: Path) -> None:
    """The model as a ``StrEnum`` member, ``NOT_GIVEN`` / ``omit`` options, ``extra_body``
    over an argument: recorded as the body the API received (these were alike already)."""

    async def calls(client: Any, _: Form) -> None:  # (NOT_GIVEN where the types say omit)
        await client.responses.create(
            model=Model.TEST,
            input="hi",
            temperature=0.1,
            top_p=NOT_GIVEN,
            max_output_tokens=omit,
            extra_body={"temperature": 0.5, "store": False},
        )

    [sent], [recorded] = await _recorded(tmp_path, calls, list)
    assert sent == {"model": "gpt-test", "input": "hi", "temperature": 0.5, "store": False}
    assert {k: v for k, v in recorded.items() if k != "input"} == {
        k: v for k, v in sent.items() if k != "input"
    }


async def test_a_parsed_answer_is_recorded_as_the_server_sent_it(
    tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI
) -> None:
    """``responses.parse(text_format=...)``: its output, recorded and fed back, is the
    server's message, without the ``parsed`` value the SDK read into it (which the SDK
    leaves out when it sends the message back); it was recorded with it. openai 2 (2.45)
    sends ``parsed`` back: the recorded answer is then the item fed back, ``parsed`` and
    all, so that the next request's history matches it."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        history: list[Any] = [{"role": "user", "content": "as-json please"}]
        parsed = await client.responses.parse(model="gpt-test", input=history, text_format=Answer)
        assert parsed.output_parsed == Answer(text="echo: as-json please")
        history += parsed.output
        history.append({"role": "user", "content": "thanks"})
        await client.responses.create(model="gpt-test", input=history)
    run = Run(tmp_path)
    [first, _] = run.ends("completed")
    [answer] = run.response(first)["output_items"]
    sent_back = fake.requests[1][1]["input"][1]
    assert answer == sent_back
    if "parsed" not in json.dumps(sent_back):  # openai 3
        assert "parsed" not in json.dumps(answer)


async def test_chat_parse_records_the_stream_flag_it_posts(
    tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI
) -> None:
    """Chat's ``parse`` posts ``stream: false`` itself: recorded so (it was left out)."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        await client.chat.completions.parse(
            model="gpt-test",
            messages=_generator([{"role": "user", "content": "as-json hi"}]),
            response_format=Answer,
        )
    [request] = Run(tmp_path).requests()
    assert fake.requests[0][1]["stream"] is False and request["stream"] is False
    assert request["input"][0]["content"] == [{"type": "input_text", "text": "as-json hi"}]


@pytest.mark.parametrize(
    ("result", "output"),
    [
        (b"rain \xc3\xa6", "rain \u00e6"),
        (bytearray(b"rain"), "rain"),
        (b"\xff\x00", "base64:/wA="),
        ({"raw": b"\xff"}, '{"raw": "base64:/w=="}'),
        ({"text": b"ok"}, '{"text": "ok"}'),
    ],
    ids=["utf-8", "bytearray", "binary", "binary inside", "utf-8 inside"],
)
async def test_a_tool_returning_bytes_sends_their_text(
    tmp_path: Path, client: AsyncOpenAI, result: Any, output: str
) -> None:
    """``run_function_call``: bytes are sent as their UTF-8 text, as a ``str`` result is
    (they were sent as a JSON string, quotes and all), and bytes that are no UTF-8 as the
    recorder writes bytes, ``base64:<data>`` (they had each bad byte replaced)."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn() as turn:
        first = await client.responses.create(model="gpt-test", input="weather? use a tool")
        item = await run_function_call(turn, first.output[0], lambda city: result)
    assert item["output"] == output
    bundle = Run(tmp_path).bundle
    [ended] = [e["payload"] for e in of_type(bundle, "tool_call_ended")]
    recorded = payload(bundle, ended["result_payload"])
    assert recorded.get("response_item", recorded)["output"] == output


def _interrupt_in_refuse_iterables(frame: Any, event: str, arg: Any) -> None:
    """A profile function raising ``KeyboardInterrupt`` as ``_sent``'s orjson hook starts, as
    a signal handler's exception is raised at the bytecode the handler ran at."""
    if event == "call" and frame.f_code.co_name == "_refuse_iterables":
        sys.setprofile(None)
        raise KeyboardInterrupt


def test_a_ctrl_c_while_the_arguments_are_looked_into_reaches_the_caller() -> None:
    """orjson hands back what its hook raises as a ``TypeError`` caused by it: a Ctrl-C
    landing while ``read_once`` looked for iterables (its hook asks the agent's object for
    ``model_dump``) read as "may hold one", and was lost."""
    kwargs: dict[str, Any] = {"input": [{"role": "user", "content": [_Opaque()]}]}
    sys.setprofile(_interrupt_in_refuse_iterables)
    try:
        with pytest.raises(KeyboardInterrupt):
            read_once(kwargs)
    finally:
        sys.setprofile(None)


class _Opaque:
    """An object orjson hands its hook."""
