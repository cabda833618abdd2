"""Requests continuing a conversation the server keeps (``conversation=``, the Conversations
API), through the real ``openai`` package against a fake API that keeps conversations as the
API does (``fake_conversations``): the reduced request of each call shows the items the model
saw (the fake's :attr:`~.fake_conversations.ConversationStore.seen`), in both reducers, when
the rollout saw the conversation from its start; otherwise it is the request's input alone,
said once. Found by clients22: such a request was recorded as its new items alone, and the
history lost everything before them."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("openai")

from openai import AsyncOpenAI, BadRequestError, OpenAI

from rollout_trace_sdk.integrations.openai import instrument
from rollout_trace_sdk.record import RecorderWarning, _conversations, open_rollout

from ..codex_oracle import reduced_by_both
from .fake_openai import FakeOpenAI
from .openai_run import Run, closing_client

pytestmark = pytest.mark.anyio


def _texts(items: list[dict[str, Any]]) -> list[str]:
    """The texts of messages (as the fake keeps them: a string or parts), in order."""
    texts = []
    for item in items:
        content = item.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts.append("".join(part.get("text", "") for part in content))
    return texts


def _calls(state: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"])


def _request_texts(state: dict[str, Any], call: dict[str, Any]) -> list[str]:
    """The message texts of a reduced call's request items."""
    items = state["conversation_items"]
    bodies = [items[ident]["body"] for ident in call["request_item_ids"]]
    return ["".join(p.get("text", "") for p in body.get("parts", [])) for body in bodies]


def _saw(state: dict[str, Any], fake: FakeOpenAI, calls: int) -> None:
    """Every call's reduced request shows what the fake model saw for it; there are
    ``calls`` of them (a rollout that recorded none passed this check)."""
    assert len(_calls(state)) == calls
    for call in _calls(state):
        seen = fake.conversations.seen[call["response_id"]]
        assert _request_texts(state, call) == _texts(seen), call["inference_call_id"]


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_a_conversation_made_by_the_client_is_recorded_whole(
    tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI, schema: int, stream: bool
) -> None:
    """Created with items before the rollout opened, given more between requests (named by
    id or as ``{"id": ...}``): each request is recorded as what the model saw, the
    conversation's items (those it was created with, the answered requests and answers, the
    items ``items.create`` added) before its own."""
    conv = await client.conversations.create(items=[{"role": "user", "content": "be brief"}])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecorderWarning)
        async with (
            open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout,
            rollout.root.turn(),
        ):
            named: list[Any] = [conv.id, {"id": conv.id}]
            for text, conversation in zip(("hello", "more"), named, strict=True):
                answer: Any = await client.responses.create(
                    model="gpt-test", input=text, conversation=conversation, stream=stream
                )
                if stream:
                    async for _ in answer:
                        pass
            await client.conversations.items.create(
                conv.id, items=[{"type": "message", "role": "user", "content": "a note"}]
            )
            await client.responses.create(model="gpt-test", input="last", conversation=conv.id)
    run = Run(tmp_path)
    assert all(request["conversation"] for request in run.requests())  # kept as sent
    if schema == 2:  # (schema 3 writes a request resending its thread's last as continuing it)
        assert [len(request["input"]) for request in run.requests()] == [2, 4, 7]
    state = reduced_by_both(run.bundle)
    _saw(state, fake, calls=3)
    assert _request_texts(state, _calls(state)[2])[-2:] == ["a note", "last"]


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_conversation_the_rollout_did_not_see_begin_is_its_input_alone_said_once(
    tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI, schema: int
) -> None:
    """A conversation used before the rollout opened (a request outside any turn): the
    rollout cannot show what the server held, so its first request is its input alone,
    reported once (warning and ``rollout_trace_input_dropped``); the next continues it."""
    conv = await client.conversations.create()
    await client.responses.create(model="gpt-test", input="before", conversation=conv.id)
    with pytest.warns(RecorderWarning, match=f"conversation '{conv.id}' holds items") as said:
        async with (
            open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout,
            rollout.root.turn(),
        ):
            for text in ("hello", "more"):
                await client.responses.create(model="gpt-test", input=text, conversation=conv.id)
    assert len([w for w in said if issubclass(w.category, RecorderWarning)]) == 1
    run = Run(tmp_path)
    [note] = run.protocol("rollout_trace_input_dropped")
    assert "holds items this rollout did not record" in note["problems"][0]
    state = reduced_by_both(run.bundle)
    first, second = _calls(state)
    assert _request_texts(state, first) == ["hello"]
    assert _request_texts(state, second) == ["hello", "echo: hello", "more"]
    assert _texts(fake.conversations.seen[second["response_id"]])[0] == "before"


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_deleted_item_is_said_and_recorded_from_there(
    tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI, schema: int
) -> None:
    """``items.delete`` changes the conversation in a way the rollout cannot follow: the
    next request is its input alone, said, and the one after continues it."""
    conv = await client.conversations.create()
    with pytest.warns(RecorderWarning, match="changed where this rollout did not see it"):
        async with (
            open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout,
            rollout.root.turn(),
        ):
            await client.responses.create(model="gpt-test", input="hello", conversation=conv.id)
            first = fake.conversations.items[conv.id][0]["id"]
            await client.conversations.items.delete(first, conversation_id=conv.id)
            for text in ("more", "last"):
                await client.responses.create(model="gpt-test", input=text, conversation=conv.id)
    state = reduced_by_both(Run(tmp_path).bundle)
    assert [_request_texts(state, call) for call in _calls(state)] == [
        ["hello"],
        ["more"],
        ["more", "echo: more", "last"],
    ]


@pytest.mark.parametrize("schema", [2, 3])
async def test_threads_sharing_a_conversation_each_see_all_of_it(
    tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI, schema: int
) -> None:
    """A sub-agent continuing its parent's conversation, and the parent after it: a request
    whose thread did not answer last is recorded with the conversation's items (a response of
    another thread cannot be continued: both reducers look for it in the request's thread)."""
    conv = await client.conversations.create()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecorderWarning)
        async with open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout:
            async with rollout.root.turn():
                await client.responses.create(model="gpt-test", input="hi", conversation=conv.id)
            child = rollout.root.spawn("worker")
            async with child.turn():
                await client.responses.create(
                    model="gpt-test", input="look it up", conversation=conv.id
                )
            async with rollout.root.turn():
                await client.responses.create(model="gpt-test", input="and", conversation=conv.id)
                await client.responses.create(model="gpt-test", input="end", conversation=conv.id)
    state = reduced_by_both(Run(tmp_path).bundle)
    _saw(state, fake, calls=4)


@pytest.mark.parametrize("schema", [2, 3])
async def test_conversation_with_previous_response_id_is_refused_and_recorded_as_sent(
    tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI, schema: int
) -> None:
    """The API refuses a request sending both: it is recorded failed, with the
    ``previous_response_id`` it sent (a response of its thread) and no conversation items;
    the conversation goes on as before. Had the next request been recorded as continuing
    the first response, both reducers would refuse the bundle: they check its new items
    against the thread's last request, the refused one ("model conversation mismatch")."""
    conv = await client.conversations.create()
    async with (
        open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout,
        rollout.root.turn(),
    ):
        first = await client.responses.create(model="gpt-test", input="hi", conversation=conv.id)
        with pytest.raises(BadRequestError):
            await client.responses.create(
                model="gpt-test", input="both", conversation=conv.id, previous_response_id=first.id
            )
        await client.responses.create(model="gpt-test", input="then", conversation=conv.id)
    run = Run(tmp_path)
    assert [r.get("previous_response_id") for r in run.requests()] == [None, first.id, None]
    assert [json.dumps(r["input"]).count("input_text") for r in run.requests()] == [1, 1, 2]
    [failed] = run.ends("failed")
    assert "both" in failed["error"]
    state = reduced_by_both(run.bundle)
    assert _request_texts(state, _calls(state)[2]) == ["hi", "echo: hi", "then"]


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_conversation_carried_into_a_second_rollout_is_said_there(
    tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI, schema: int
) -> None:
    """One rollout per turn of a conversation: the second did not see its start."""
    conv = await client.conversations.create()
    async with (
        open_rollout(tmp_path / "one", model="gpt-test", schema_version=schema) as rollout,
        rollout.root.turn(),
    ):
        await client.responses.create(model="gpt-test", input="hi", conversation=conv.id)
    with pytest.warns(RecorderWarning, match="holds items this rollout did not record"):
        async with (
            open_rollout(tmp_path / "two", model="gpt-test", schema_version=schema) as rollout,
            rollout.root.turn(),
        ):
            await client.responses.create(model="gpt-test", input="again", conversation=conv.id)
    for name in ("one", "two"):
        reduced_by_both(Run(tmp_path / name).bundle)


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_request_outside_the_rollout_mid_conversation_is_said(
    tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI, schema: int
) -> None:
    """A request on the conversation between two turns (no turn current: not recorded) adds
    items the rollout never sees: the next recorded request is its input alone, said."""
    conv = await client.conversations.create()
    with pytest.warns(RecorderWarning, match="changed where this rollout did not see it"):
        async with open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout:
            async with rollout.root.turn():
                await client.responses.create(model="gpt-test", input="hi", conversation=conv.id)
            await client.responses.create(model="gpt-test", input="aside", conversation=conv.id)
            async with rollout.root.turn():
                await client.responses.create(model="gpt-test", input="back", conversation=conv.id)
    state = reduced_by_both(Run(tmp_path).bundle)
    assert [_request_texts(state, call) for call in _calls(state)] == [["hi"], ["back"]]


async def test_a_request_outside_naming_its_conversation_in_extra_body_is_said_too(
    tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI
) -> None:
    """The conversation of a request not recorded may be named in ``extra_body`` (as it is
    sent); it is watched as ``conversation=`` is. Only ``conversation=`` was tried: reading
    it alone passed every test (mut31)."""
    conv = await client.conversations.create()
    with pytest.warns(RecorderWarning, match="changed where this rollout did not see it"):
        async with open_rollout(tmp_path, model="gpt-test") as rollout:
            async with rollout.root.turn():
                await client.responses.create(model="gpt-test", input="hi", conversation=conv.id)
            await client.responses.create(
                model="gpt-test", input="aside", extra_body={"conversation": conv.id}
            )
            async with rollout.root.turn():
                await client.responses.create(model="gpt-test", input="back", conversation=conv.id)
    state = reduced_by_both(Run(tmp_path).bundle)
    assert [_request_texts(state, call) for call in _calls(state)] == [["hi"], ["back"]]
    assert "aside" in _texts(fake.conversations.seen[_calls(state)[1]["response_id"]])


async def test_a_sync_client_is_watched_as_well(tmp_path: Path, fake: FakeOpenAI) -> None:
    """``OpenAI`` (sync): the conversation it makes, with items given as an iterator (read
    once by the SDK, once by the recorder), and the items it adds are shown."""
    with closing_client(instrument(OpenAI(base_url=fake.base_url, api_key="test"))) as client:
        seed: Any = iter([{"role": "user", "content": "seed"}])
        conv = client.conversations.create(items=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("error", RecorderWarning)
            async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
                client.responses.create(model="gpt-test", input="hi", conversation=conv.id)
                client.conversations.items.create(
                    conv.id, items=[{"type": "message", "role": "user", "content": "note"}]
                )
                client.responses.create(model="gpt-test", input="more", conversation=conv.id)
    assert fake.conversations.items[conv.id][0]["content"] == "seed"
    state = reduced_by_both(Run(tmp_path).bundle)
    _saw(state, fake, calls=2)
    assert _request_texts(state, _calls(state)[1]) == ["seed", "hi", "echo: hi", "note", "more"]


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_conversation_let_go_of_is_recorded_from_there_on_said(
    tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI, schema: int, monkeypatch: Any
) -> None:
    """The rollout keeps the latest conversations only (two here): one let go of while its
    request was in flight (streamed, read after two others) gets nothing from the answer; its
    next request, after items the client added, is those items and its input, said once
    (warning and ``rollout_trace_input_dropped``), and the one after continues it; another
    thread's request on one let go of is its input alone. Both reducers agree."""
    monkeypatch.setattr(_conversations, "_KEPT_STATES", 2)
    a, b, c, d = [(await client.conversations.create()).id for _ in range(4)]
    with pytest.warns(RecorderWarning, match="was let go of") as said:
        async with open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout:
            async with rollout.root.turn():
                await client.responses.create(model="gpt-test", input="a1", conversation=a)
                stream: Any = await client.responses.create(
                    model="gpt-test", input="a2", conversation=a, stream=True
                )
                for conv, text in ((b, "b1"), (c, "c1")):
                    await client.responses.create(model="gpt-test", input=text, conversation=conv)
                async for _ in stream:
                    pass
                await client.conversations.items.create(
                    a, items=[{"type": "message", "role": "user", "content": "note"}]
                )
                for text in ("a3", "a4"):
                    await client.responses.create(model="gpt-test", input=text, conversation=a)
            async with rollout.root.spawn("worker").turn():
                await client.responses.create(model="gpt-test", input="b2", conversation=b)
            async with rollout.root.turn():
                await client.responses.create(model="gpt-test", input="d1", conversation=d)
                await client.responses.create(model="gpt-test", input="b3", conversation=b)
    texts = [str(w.message) for w in said if issubclass(w.category, RecorderWarning)]
    assert [text.split("request: ")[1] for text in texts] == [
        f"request conversation {a!r} was let go of (a rollout keeps the items of the 2"
        " conversations it used last); recorded from here on (the request's input after the"
        " items the client added)",
        f"request conversation {b!r} was let go of (a rollout keeps the items of the 2"
        " conversations it used last); recorded from here on (the request's input alone)",
    ]
    run = Run(tmp_path)
    assert [note["problems"] for note in run.protocol("rollout_trace_input_dropped")] == [
        [text.split("request: ")[1]] for text in texts
    ]
    state = reduced_by_both(run.bundle)
    assert [_request_texts(state, call) for call in _calls(state)] == [
        ["a1"],
        ["a1", "echo: a1", "a2"],
        ["b1"],
        ["c1"],
        ["note", "a3"],
        ["note", "a3", "echo: a3", "a4"],
        ["b2"],
        ["d1"],
        ["b2", "echo: b2", "b3"],
    ]
