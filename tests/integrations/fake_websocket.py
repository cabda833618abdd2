"""A fake Responses API WebSocket (``/v1/responses``) on 127.0.0.1, served by the installed
``websockets`` package from a daemon thread, for ``client.responses.connect()``.

Each ``response.create`` is answered by the words of its last user text:

* anything else: ``response.created``, the message item added, its text in deltas, the
  item done, ``response.completed`` with usage;
* ``steer``: after the item is added, the fake waits for the next client event (the
  loop's ``response.steer``), answers ``response.steer.accepted`` and then finishes;
* ``successor``: as ``steer``, but the response ends ``incomplete`` (reason ``steered``)
  and the API's automatic successor follows (``previous_response_id`` the steered one),
  answering the steered text;
* ``uncommitted``: as ``successor``, but the successor cannot be made: the accepted input
  comes back in a ``response.steer.failed`` with the steer's id
  (``successor_creation_failed``), for the loop to send itself;
* ``error``: an ``error`` event after the first delta; ``close``: the server closes the
  connection (1011) after the item is added.

A ``response.steer`` while nothing runs is refused (``response.steer.failed``). Every
event echoes the request's ``stream_id``; the client events received are kept in
:attr:`FakeWebSocket.received`. Messages of any size are read; a fake made with
``hold_reads=True`` reads none until :meth:`FakeWebSocket.read` is called (a large send then
waits for the socket to drain for as long as the test wants, whatever the machine's load).
"""

from __future__ import annotations

import itertools
import json
import threading
from typing import Any, Self

from websockets.sync.server import Server, ServerConnection, serve

from .fake_openai import USAGE_RESPONSES, answer_message, last_user_text


class FakeWebSocket:
    """The fake; a context manager serving while its ``with`` block runs."""

    def __init__(self, *, hold_reads: bool = False) -> None:
        self.received: list[dict[str, Any]] = []
        self._reading = threading.Event()
        if not hold_reads:
            self._reading.set()
        self._numbers = itertools.count(1)
        self._sequence = itertools.count(1)
        self._server: Server = serve(self._handle, "127.0.0.1", 0, max_size=None)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The API's root as a client wants it: the SDK adds ``/responses`` (as ``ws://``)."""
        host, port = self._server.socket.getsockname()[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._reading.set()  # a held connection's handler must not outlive the server
        self._server.shutdown()

    def read(self) -> None:
        """A fake made with ``hold_reads=True`` starts reading what it was sent."""
        self._reading.set()

    def _handle(self, ws: ServerConnection) -> None:
        self._reading.wait()
        for raw in ws:
            event = json.loads(raw)
            self.received.append(event)
            if event.get("type") == "response.create":
                self._respond(ws, event)
            elif event.get("type") == "response.steer":
                failure = {"code": "response_not_active", "message": "nothing runs"}
                steer = {"input": event["input"], "previous_response_id": "?", "id": None}
                self._send(ws, event, "response.steer.failed", error=failure, steer=steer)

    def _send(
        self, ws: ServerConnection, request: dict[str, Any], kind: str, **fields: Any
    ) -> None:
        event = {"type": kind, "sequence_number": next(self._sequence), **fields}
        if "stream_id" in request:
            event["stream_id"] = request["stream_id"]
        ws.send(json.dumps(event))

    def _respond(self, ws: ServerConnection, request: dict[str, Any]) -> None:
        text = last_user_text(request)
        n = next(self._numbers)
        item = answer_message(n, f"echo: {text}")
        response = _response(n, request.get("previous_response_id"))
        self._send(ws, request, "response.created", response=response)
        self._send(ws, request, "response.output_item.added", output_index=0, item=item)
        if "close" in text:
            ws.close(1011, "the fake fell over")
            return
        if "steer" in text or "successor" in text or "uncommitted" in text:
            steer = json.loads(ws.recv())
            self.received.append(steer)
            accepted = {"id": f"steer_{n}", "previous_response_id": response["id"]}
            self._send(ws, request, "response.steer.accepted", steer=accepted)
        delta = {"item_id": item["id"], "output_index": 0, "content_index": 0, "delta": "echo"}
        self._send(ws, request, "response.output_text.delta", **delta)
        if "error" in text:
            error = {"type": "server_error", "code": "server_error", "message": "model fell over"}
            self._send(ws, request, "error", error=error, status=500)
            return
        self._send(ws, request, "response.output_item.done", output_index=0, item=item)
        done = dict(response, status="completed", output=[item], usage=USAGE_RESPONSES)
        if "successor" not in text and "uncommitted" not in text:
            self._send(ws, request, "response.completed", response=done)
            return
        done.update(status="incomplete", incomplete_details={"reason": "steered"})
        self._send(ws, request, "response.incomplete", response=done)
        if "uncommitted" in text:
            failure = {
                "code": "successor_creation_failed",
                "message": "no successor",
                "type": "invalid_request_error",
            }
            returned = dict(accepted, input=steer["input"])
            self._send(ws, request, "response.steer.failed", error=failure, steer=returned)
            return
        m = next(self._numbers)
        follow = answer_message(m, f"echo: {last_user_text({'input': steer['input']})}")
        successor = _response(m, response["id"])
        self._send(ws, request, "response.created", response=successor)
        self._send(ws, request, "response.output_item.added", output_index=0, item=follow)
        self._send(ws, request, "response.output_item.done", output_index=0, item=follow)
        finished = dict(successor, status="completed", output=[follow], usage=USAGE_RESPONSES)
        self._send(ws, request, "response.completed", response=finished)


def _response(n: int, previous: str | None) -> dict[str, Any]:
    return {
        "id": f"resp_{n}",
        "object": "response",
        "created_at": 0,
        "model": "gpt-test",
        "status": "in_progress",
        "output": [],
        "previous_response_id": previous,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": None,
    }
