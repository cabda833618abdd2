"""``with_raw_response`` through the real ``openai`` package against the fake API: a call whose
HTTP response comes back with its body read is recorded as ``create`` records it (it was
passed through: a loop reading rate-limit headers had no model calls in its trace), and the
caller still gets the SDK's raw response, whose ``parse()`` gives the answer. Raw responses
whose body the caller reads later (``with_streaming_response``, a stream) pass through."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import pytest

pytest.importorskip("openai")

from openai import APIStatusError, AsyncOpenAI

from rollout_trace_sdk.integrations.openai import instrument
from rollout_trace_sdk.record import CALL_ID_HEADER, open_rollout

from ..record.recorder_support import check_bundle
from .fake_openai import FakeOpenAI
from .openai_run import CODEX_USAGE, Run, state_text, sync_client_in_turn

pytestmark = pytest.mark.anyio


async def test_a_raw_response_is_recorded_and_handed_back(
    tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI
) -> None:
    """The Responses and Chat calls through ``with_raw_response``: each one inference call
    with its request, output, usage and ids; the caller's raw response is the SDK's, its
    ``parse()`` the answer and its headers the server's."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        raw = await client.responses.with_raw_response.create(model="gpt-test", input="raw hi")
        chat = await client.chat.completions.with_raw_response.create(
            model="gpt-test", messages=[{"role": "user", "content": "raw chat"}]
        )
    assert raw.http_response.status_code == 200 and raw.headers["x-request-id"] == "req_1"
    assert raw.parse().output_text == "echo: raw hi"
    assert chat.parse().choices[0].message.content == "echo: raw chat"
    run = Run(tmp_path)
    first, second = run.ends("completed")
    assert (first["response_id"], first["upstream_request_id"]) == ("resp_1", "req_1")
    assert second["upstream_request_id"] == "req_2"
    assert run.response(first)["token_usage"] == CODEX_USAGE
    assert fake.requests[0][2][CALL_ID_HEADER] == first["inference_call_id"]
    state = check_bundle(run.bundle)
    for text in ("raw hi", "echo: raw hi", "raw chat", "echo: raw chat"):
        assert text in state_text(state)


async def test_a_raw_view_made_before_instrument_records_too(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    """The SDK caches ``with_raw_response`` on the resource with the methods it was made
    with: one used before ``instrument`` called the unwrapped ``create`` ever after."""
    plain = AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0)
    async with plain:
        before = plain.responses.with_raw_response
        client_view = plain.with_raw_response.responses  # the client's own view too
        client = instrument(plain)
        async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
            raw = await client.responses.with_raw_response.create(model="gpt-test", input="x")
            other = await client.with_raw_response.responses.create(model="gpt-test", input="y")
    assert client.responses.with_raw_response is not before
    assert client.with_raw_response.responses is not client_view
    assert (raw.parse().output_text, other.parse().output_text) == ("echo: x", "echo: y")
    assert len(Run(tmp_path).ends("completed")) == 2


async def test_a_raw_response_of_the_sync_client_is_recorded(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    """The sync client's ``with_raw_response`` (``parse`` too) records as its ``create``."""
    async with sync_client_in_turn(tmp_path, fake.base_url) as client:
        raw = client.responses.with_raw_response.create(model="gpt-test", input="sync raw")
        parsed = client.responses.with_raw_response.parse(model="gpt-test", input="sync parse")
    assert raw.parse().output_text == "echo: sync raw"
    assert parsed.parse().output_text == "echo: sync parse"
    run = Run(tmp_path)
    assert [e["upstream_request_id"] for e in run.ends("completed")] == ["req_1", "req_2"]
    state = check_bundle(run.bundle)
    assert "echo: sync raw" in state_text(state) and "echo: sync parse" in state_text(state)


async def test_a_raw_response_the_server_refused_fails_its_call(
    tmp_path: Path, client: AsyncOpenAI
) -> None:
    """HTTP 400: the SDK raises from ``with_raw_response`` as from ``create``; the call
    fails with the error's text and request id."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        with pytest.raises(APIStatusError):
            await client.responses.with_raw_response.create(model="gpt-test", input="fail raw")
    [end] = Run(tmp_path).ends("failed")
    assert "bad things" in end["error"] and end["upstream_request_id"] == "req_1"
    check_bundle(Run(tmp_path).bundle)


async def test_raw_responses_read_later_pass_through(
    tmp_path: Path, client: AsyncOpenAI, fake: FakeOpenAI
) -> None:
    """A raw stream and ``with_streaming_response`` leave the body to the caller: reading it
    here would take it from them. Not recorded, and the caller reads it whole."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        raw = await client.responses.with_raw_response.create(
            model="gpt-test", input="raw stream", stream=True
        )
        events = [event.type async for event in raw.parse()]
        async with client.responses.with_streaming_response.create(
            model="gpt-test", input="streaming"
        ) as streamed:
            body = await streamed.parse()
    assert events[-1] == "response.completed"
    assert body.output_text == "echo: streaming"
    assert len(fake.requests) == 2
    assert all(CALL_ID_HEADER not in headers for _, _, headers in fake.requests)
    assert Run(tmp_path).requests() == []


#: Raw views the SDK caches on a resource between the client and the one instrumented.
_VIEWS_ON_THE_WAY: Final[dict[str, Callable[[AsyncOpenAI], Any]]] = {
    "chat.with_raw_response.completions": lambda c: c.chat.with_raw_response.completions,
    "beta.with_raw_response.responses": lambda c: c.beta.with_raw_response.responses,
    "beta.chat.with_raw_response.completions": (
        lambda c: c.beta.chat.with_raw_response.completions
    ),
}


@pytest.mark.parametrize("path", sorted(_VIEWS_ON_THE_WAY))
async def test_a_raw_view_of_a_resource_on_the_way_made_before_instrument_records_too(
    tmp_path: Path, fake: FakeOpenAI, path: str
) -> None:
    """``client.chat``, ``client.beta`` and ``client.beta.chat`` cache raw views of their own
    (``client.chat.with_raw_response.completions``): made before ``instrument``, they
    called the unwrapped ``create`` ever after (only the client's and the instrumented
    resources' views were dropped)."""
    view = _VIEWS_ON_THE_WAY[path]
    plain = AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0)
    async with plain:
        if not hasattr(plain, "beta") and path.startswith("beta"):
            pytest.skip("this openai has no client.beta")
        view(plain)
        client = instrument(plain)
        async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
            if path.endswith("completions"):
                messages = [{"role": "user", "content": "x"}]
                await view(client).create(model="gpt-test", messages=messages)
            else:
                await view(client).create(model="gpt-test", input="x")
    assert len(Run(tmp_path).ends("completed")) == 1
