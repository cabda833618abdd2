"""``client.responses.connect()`` (the Responses API's WebSocket mode) of the real ``openai``
package, instrumented, against a fake WebSocket API on 127.0.0.1: each ``response.create``
sent in a turn is one inference call followed through its events, accepted steering input
enters the turn's history (and the API's automatic successor is a call of its own), an
error event or a lost connection fails the call, a connection used outside a turn records
nothing; every bundle reduces alike with our reducer and the Codex of its schema."""

from __future__ import annotations

import inspect
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("openai")
pytest.importorskip("websockets")

from openai import AsyncOpenAI, OpenAI
from openai.resources.responses import AsyncResponses

from rollout_trace_sdk.integrations import use_turn
from rollout_trace_sdk.integrations.openai import FIRST_TOKEN_EVENT, instrument
from rollout_trace_sdk.record import open_rollout

from ..codex_oracle import bundle_schema, reduced_by_both
from ..record.recorder_support import bundle_in, of_type, payload
from .fake_websocket import FakeWebSocket

pytestmark = [
    pytest.mark.anyio,
    # the SDK's async connection is ``websockets``' asyncio client: it runs on asyncio only
    pytest.mark.parametrize("anyio_backend", ["asyncio"]),
    pytest.mark.skipif(
        not hasattr(AsyncResponses, "connect"), reason="this openai has no responses.connect"
    ),
]


def _connection_resource() -> Any:
    """The connection's ``response`` resource class (``None`` for an openai without one)."""
    from openai.resources.responses import responses

    return getattr(responses, "AsyncResponsesResponseResource", None)


#: a test that steers a response: openai 2 (2.45, what openai-agents 0.19.4 installs) has
#: ``responses.connect()`` but no ``connection.response.steer``
steers = pytest.mark.skipif(
    not hasattr(_connection_resource(), "steer"),
    reason="this openai's connection has no response.steer (openai 3 has it)",
)
#: ``response.create(stream_id=...)``, an envelope field openai 2.45 does not take
_STREAM_ID = (
    "stream_id" in inspect.signature(getattr(_connection_resource(), "create", len)).parameters
)


@pytest.fixture
def server() -> Iterator[FakeWebSocket]:
    with FakeWebSocket() as fake:
        yield fake


def _client(server: FakeWebSocket) -> AsyncOpenAI:
    return instrument(AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0))


def ends(bundle: Path, kind: str) -> list[dict[str, Any]]:
    return [event["payload"] for event in of_type(bundle, f"inference_{kind}")]


def requests(bundle: Path) -> list[Any]:
    return [
        payload(bundle, event["payload"]["request_payload"])
        for event in of_type(bundle, "inference_started")
    ]


def texts(state: dict[str, Any]) -> list[str]:
    return [
        part.get("text")
        for item in state["conversation_items"].values()
        for part in item["body"]["parts"]
    ]


async def _until(connection: Any, last: str, steer: str | None = None) -> list[str]:
    """Reads events up to one of type ``last``; steers the response with ``steer`` when its
    item is added."""
    kinds: list[str] = []
    response_id = None
    async for event in connection:
        kinds.append(event.type)
        if event.type == "response.created" and response_id is None:
            response_id = event.response.id
        if event.type == "response.output_item.added" and steer and len(kinds) == 2:
            await connection.response.steer(input=steer, previous_response_id=response_id)
        if event.type == last:
            break
    return kinds


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_response_over_the_websocket_is_recorded(
    schema: int, tmp_path: Path, server: FakeWebSocket
) -> None:
    """The request as sent (less the envelope), the response's items, usage and id, the
    first token; a second response on the same connection is a second call."""
    client = _client(server)
    async with (
        open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout,
        rollout.root.turn(),
        client.responses.connect() as connection,
    ):
        envelope: dict[str, Any] = {"stream_id": "a"} if _STREAM_ID else {}
        await connection.response.create(model="gpt-test", input="hello there", **envelope)
        kinds = await _until(connection, "response.completed")
        history: list[Any] = [
            {"role": "user", "content": "hello there"},
            {"role": "assistant", "content": "echo: hello there"},
            {"role": "user", "content": "and again"},
        ]
        await connection.response.create(model="gpt-test", input=history)
        await _until(connection, "response.completed")
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    bundle = bundle_in(tmp_path)
    first, second = ends(bundle, "completed")
    assert (first["response_id"], second["response_id"]) == ("resp_1", "resp_2")
    [item] = payload(bundle, first["response_payload"])["output_items"]
    assert item["content"][0]["text"] == "echo: hello there"
    assert payload(bundle, first["response_payload"])["token_usage"]["output_tokens"] == 7
    sent = requests(bundle)
    assert "type" not in sent[0] and "stream_id" not in sent[0]
    assert sent[0]["model"] == "gpt-test"
    firsts = [e for e in of_type(bundle, "protocol_event_observed")]
    assert sum(e["payload"]["event_type"] == FIRST_TOKEN_EVENT for e in firsts) == 2
    assert bundle_schema(bundle) == schema
    state = reduced_by_both(bundle)
    assert len(state["inference_calls"]) == 2
    assert {"hello there", "echo: hello there", "and again", "echo: and again"} <= set(texts(state))


@steers
@pytest.mark.parametrize("schema", [2, 3])
async def test_accepted_steering_input_enters_the_turns_history(
    schema: int, tmp_path: Path, server: FakeWebSocket
) -> None:
    """A ``response.steer`` the server accepts is accepted into the turn's history while
    the response runs, as Codex records steered input."""
    client = _client(server)
    async with (
        open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout,
        rollout.root.turn(),
        client.responses.connect() as connection,
    ):
        await connection.response.create(model="gpt-test", input="please steer")
        kinds = await _until(connection, "response.completed", steer="also mind the rain")
        # the loop continues the steered response; the API puts the queued input first
        await connection.response.create(
            model="gpt-test", input="and then?", previous_response_id="resp_1"
        )
        await _until(connection, "response.completed")
    assert "response.steer.accepted" in kinds
    assert "also mind the rain" not in json.dumps(server.received[-1]), "we changed a send"
    bundle = bundle_in(tmp_path)
    first, _ = ends(bundle, "completed")
    started, _ = of_type(bundle, "inference_started")
    completed, _ = of_type(bundle, "inference_completed")
    accepted = of_type(bundle, "history_item_accepted")
    assert any(started["seq"] < e["seq"] < completed["seq"] for e in accepted), "not mid-call"
    steered, asked = requests(bundle)[1]["input"]
    assert steered["content"][0]["text"] == "also mind the rain" and "id" in steered
    assert asked["content"][0]["text"] == "and then?"
    state = reduced_by_both(bundle)
    assert {"also mind the rain", "echo: please steer", "echo: and then?"} <= set(texts(state))
    assert first["response_id"] == "resp_1"


@steers
async def test_the_apis_automatic_successor_is_a_call_of_its_own(
    tmp_path: Path, server: FakeWebSocket
) -> None:
    """A steered response ending ``incomplete`` and the successor the API starts by itself:
    two calls, the second continuing the first with the accepted input."""
    client = _client(server)
    async with (
        open_rollout(tmp_path, model="gpt-test") as rollout,
        rollout.root.turn(),
        client.responses.connect() as connection,
    ):
        await connection.response.create(model="gpt-test", input="a successor please")
        kinds = await _until(connection, "response.completed", steer="turn left")
    assert kinds.count("response.created") == 2
    bundle = bundle_in(tmp_path)
    first, second = ends(bundle, "completed")
    assert (first["response_id"], second["response_id"]) == ("resp_1", "resp_2")
    successor = requests(bundle)[1]
    assert successor["previous_response_id"] == "resp_1"
    assert json.dumps(successor["input"]).count("turn left") == 1
    state = reduced_by_both(bundle)
    assert {"turn left", "echo: turn left", "echo: a successor please"} <= set(texts(state))


async def test_an_error_event_fails_the_call(tmp_path: Path, server: FakeWebSocket) -> None:
    """An ``error`` event mid-response fails the call with the error's code and message,
    keeping the items so far; the loop sees the event as the SDK hands it."""
    client = _client(server)
    async with (
        open_rollout(tmp_path, model="gpt-test") as rollout,
        rollout.root.turn(),
        client.responses.connect() as connection,
    ):
        await connection.response.create(model="gpt-test", input="an error please")
        kinds = await _until(connection, "error")
    assert kinds[-1] == "error"
    bundle = bundle_in(tmp_path)
    [end] = ends(bundle, "failed")
    assert end["error"] == "server_error: model fell over"
    state = reduced_by_both(bundle)
    [call] = state["inference_calls"].values()
    assert call["execution"]["status"] == "failed"


async def test_a_connection_lost_mid_response_fails_the_call(
    tmp_path: Path, server: FakeWebSocket
) -> None:
    """The server closing the connection under a read fails the running call with the
    close's text; the loop gets the SDK's exception as before."""
    from websockets.exceptions import ConnectionClosedError

    client = _client(server)
    with pytest.raises(ConnectionClosedError):
        async with (
            open_rollout(tmp_path, model="gpt-test") as rollout,
            rollout.root.turn(),
            client.responses.connect() as connection,
        ):
            await connection.response.create(model="gpt-test", input="close please")
            await _until(connection, "response.completed")
    bundle = bundle_in(tmp_path)
    [end] = ends(bundle, "failed")
    assert "ConnectionClosedError" in end["error"] and "the fake fell over" in end["error"]
    reduced_by_both(bundle)


async def test_a_connection_used_outside_a_turn_records_nothing(
    tmp_path: Path, server: FakeWebSocket
) -> None:
    """A response asked for outside a turn is not recorded, nor its events, even when they
    are read inside one; the next response asked for in the turn is."""
    client = _client(server)
    async with (
        open_rollout(tmp_path, model="gpt-test") as rollout,
        client.responses.connect() as connection,
    ):
        await connection.response.create(model="gpt-test", input="outside")
        async with rollout.root.turn():
            await _until(connection, "response.completed")
            await connection.response.create(model="gpt-test", input="inside")
            await _until(connection, "response.completed")
    bundle = bundle_in(tmp_path)
    [end] = ends(bundle, "completed")
    assert end["response_id"] == "resp_2"
    [request] = requests(bundle)
    assert "inside" in json.dumps(request) and "outside" not in json.dumps(request)
    state = reduced_by_both(bundle)
    assert "outside" not in texts(state) and "echo: inside" in texts(state)


async def test_the_sync_client_in_a_thread_is_recorded(
    tmp_path: Path, server: FakeWebSocket
) -> None:
    """The sync ``OpenAI`` client's connection (``recv_bytes`` parsed as ``recv`` parses)."""

    def talk(turn: Any) -> list[Any]:
        client = instrument(OpenAI(base_url=server.base_url, api_key="test", max_retries=0))
        with use_turn(turn), client.responses.connect() as connection:
            connection.response.create(model="gpt-test", input="hello sync")
            events: list[Any] = []
            while not events or events[-1].type != "response.completed":
                events.append(connection.parse_event(connection.recv_bytes()))
        client.close()
        return events

    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn() as turn:
        events = await anyio.to_thread.run_sync(talk, turn)
    assert events[-1].type == "response.completed"
    bundle = bundle_in(tmp_path)
    [end] = ends(bundle, "completed")
    assert end["response_id"] == "resp_1"
    assert "echo: hello sync" in texts(reduced_by_both(bundle))


async def test_a_connection_the_loop_closes_mid_response_cancels_the_call(
    tmp_path: Path, server: FakeWebSocket
) -> None:
    """Closing the connection while a response runs ends its call cancelled, with the items
    that arrived (a request queued on the manager before connecting is recorded too)."""
    client = _client(server)
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        manager = client.responses.connect()
        manager.send({"type": "response.create", "model": "gpt-test", "input": "steer me"})
        connection = await manager.enter()
        await _until(connection, "response.output_item.added")
        await connection.close()
    bundle = bundle_in(tmp_path)
    [end] = ends(bundle, "cancelled")
    assert "closed" in end["reason"]
    [request] = requests(bundle)
    assert "steer me" in json.dumps(request)
    reduced_by_both(bundle)


async def test_an_exception_leaving_the_connections_block_fails_the_call(
    tmp_path: Path, server: FakeWebSocket
) -> None:
    """The loop's own error leaves the ``with connect()`` block mid-response: the call
    ends failed with that error's text, as a stream's block left by an exception does (it
    was cancelled by the ``close()`` the block's end makes); the error reaches the loop."""
    client = _client(server)
    with pytest.raises(ValueError, match="the tool broke"):
        async with (
            open_rollout(tmp_path, model="gpt-test") as rollout,
            rollout.root.turn(),
            client.responses.connect() as connection,
        ):
            await connection.response.create(model="gpt-test", input="steer me")
            await _until(connection, "response.output_item.added")
            raise ValueError("the tool broke")
    bundle = bundle_in(tmp_path)
    [end] = ends(bundle, "failed")
    assert end["error"] == "ValueError: the tool broke"
    assert ends(bundle, "cancelled") == []
    reduced_by_both(bundle)


async def test_a_connection_that_cannot_open_fails_the_requests_queued_for_it(
    tmp_path: Path,
) -> None:
    """A request queued on the manager (``send`` before connecting) whose connection is
    refused never left: its call fails with the SDK's error, which reaches the loop (it
    stayed open and was cancelled with its turn)."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = instrument(
        AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="test", max_retries=0)
    )
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn():
        manager = client.responses.connect()
        manager.send({"type": "response.create", "model": "gpt-test", "input": "never sent"})
        with pytest.raises(OSError) as raised:
            await manager.enter()
    bundle = bundle_in(tmp_path)
    [end] = ends(bundle, "failed")
    assert end["error"].startswith(f"{type(raised.value).__name__}: ")
    assert ends(bundle, "cancelled") == []
    reduced_by_both(bundle)


async def test_the_sync_clients_block_left_by_an_exception_fails_the_call(
    tmp_path: Path, server: FakeWebSocket
) -> None:
    """The same for the sync client's ``with connect()`` block, in a worker thread."""

    def talk(turn: Any) -> None:
        client = instrument(OpenAI(base_url=server.base_url, api_key="test", max_retries=0))
        try:
            with use_turn(turn), client.responses.connect() as connection:
                connection.response.create(model="gpt-test", input="steer me")
                while connection.recv().type != "response.output_item.added":
                    pass
                raise ValueError("the tool broke")
        finally:
            client.close()

    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn() as turn:
        with pytest.raises(ValueError, match="the tool broke"):
            await anyio.to_thread.run_sync(talk, turn)
    bundle = bundle_in(tmp_path)
    [end] = ends(bundle, "failed")
    assert end["error"] == "ValueError: the tool broke"
    reduced_by_both(bundle)


@steers
@pytest.mark.parametrize("schema", [2, 3])
async def test_accepted_input_returned_uncommitted_is_recorded_as_the_loop_resends_it(
    schema: int, tmp_path: Path, server: FakeWebSocket
) -> None:
    """Accepted steering input the API cannot commit comes back in a
    ``response.steer.failed`` with the steer's id, for the loop to send itself: it stays in
    the turn's history, and the request that sends it records it once, as sent. (It was
    still taken for queued at the API and put first again: twice in the recorded input.)"""
    client = _client(server)
    async with (
        open_rollout(tmp_path, model="gpt-test", schema_version=schema) as rollout,
        rollout.root.turn(),
        client.responses.connect() as connection,
    ):
        await connection.response.create(model="gpt-test", input="uncommitted please")
        kinds = await _until(connection, "response.steer.failed", steer="turn left")
        resent: list[Any] = [{"role": "user", "content": "turn left"}]
        await connection.response.create(
            model="gpt-test", input=resent, previous_response_id="resp_1"
        )
        await _until(connection, "response.completed")
    assert "response.steer.accepted" in kinds
    bundle = bundle_in(tmp_path)
    _, again = requests(bundle)
    assert json.dumps(again["input"]).count("turn left") == 1
    assert again["input"][0]["content"][0]["text"] == "turn left"
    state = reduced_by_both(bundle)
    assert {"turn left", "echo: turn left", "echo: uncommitted please"} <= set(texts(state))


async def test_a_cancelled_send_keeps_its_call_for_the_response_that_comes(
    tmp_path: Path,
) -> None:
    """The task sending a large ``response.create`` is cancelled while the socket drains:
    the message was written and the server answers it, so its call stays waiting for that
    response, and the next request's call gets its own. (The call was ended cancelled and
    taken off its lane: the next call was given the cancelled request's response and the
    next response was not recorded.) The server reads nothing until the send is cancelled,
    and the send is cancelled once the whole message is in the socket's buffer: no clock
    decides where the cancellation lands."""
    with FakeWebSocket(hold_reads=True) as slow:
        client = _client(slow)
        async with (
            open_rollout(tmp_path, model="gpt-test", schema_version=3) as rollout,
            rollout.root.turn(),
            # uncompressed, as openai 3 connects by default: openai 2 (2.45) leaves
            # websockets' permessage-deflate on, and the 30 MB of "z" fit any buffer
            client.responses.connect(
                websocket_connection_options={"compression": None}
            ) as connection,
        ):
            transport = connection._connection.transport
            sending = anyio.CancelScope()

            async def send_big() -> None:
                with sending:
                    big = "z" * 30_000_000  # more than the socket buffers hold
                    await connection.response.create(
                        model="gpt-test", input="big", instructions=big
                    )

            with anyio.fail_after(120):  # a hang, not a slow machine
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(send_big)
                    while not transport.get_write_buffer_size():  # written, waiting to drain
                        await anyio.sleep(0.01)
                    sending.cancel()
            assert sending.cancelled_caught
            slow.read()
            await connection.response.create(model="gpt-test", input="small")
            await _until(connection, "response.completed")
            await _until(connection, "response.completed")
    assert len(slow.received) == 2
    bundle = bundle_in(tmp_path)
    answered = {
        e["payload"]["inference_call_id"]: e["payload"]["response_id"]
        for e in of_type(bundle, "inference_completed")
    }
    by_text = {
        payload(bundle, e["payload"]["request_payload"])["input"][0]["content"][0][
            "text"
        ]: answered.get(e["payload"]["inference_call_id"])
        for e in of_type(bundle, "inference_started")
    }
    assert by_text == {"big": "resp_1", "small": "resp_2"}
    reduced_by_both(bundle)
