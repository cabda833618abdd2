"""The streamable HTTP MCP server behaves as each of its paths promises, without Codex: a
scenario drawing ``session`` or ``auth`` would otherwise test nothing if the server let every
request through, and a live run would not say so."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.live import http_mcp_server


def _post(
    path: str, message: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    url = urlsplit(http_mcp_server.start())
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        body = json.dumps(message)
        sent = {"Content-Type": "application/json", **(headers or {})}
        connection.request("POST", path, body, sent)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def _request(method: str, id_: int = 1, **params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "method": method, "params": params}


def _events(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in body.decode().split("\n") if line.startswith("data: ")]


def test_json_answers_in_a_body_and_sse_in_an_event_stream() -> None:
    status, headers, body = _post(
        "/json", _request("tools/call", name="add", arguments={"a": 1, "b": 2})
    )
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["result"]["structuredContent"] == {"sum": 3}
    status, headers, body = _post("/sse", _request("tools/list"))
    assert headers["Content-Type"] == "text/event-stream"
    names = {tool["name"] for tool in _events(body)[0]["result"]["tools"]}
    assert {"echo", "die", "http500", "ask", "chatty", "big"} <= names


def test_a_session_is_handed_out_and_required_after() -> None:
    status, headers, _ = _post("/session", _request("initialize"))
    assert status == 200
    session = headers["Mcp-Session-Id"]
    assert _post("/session", _request("tools/list"))[0] == 404
    assert _post("/session", _request("tools/list"), {"Mcp-Session-Id": "other"})[0] == 404
    assert _post("/session", _request("tools/list"), {"Mcp-Session-Id": session})[0] == 200


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer not-a-key"}, 401),
        ({"X-Live": "1"}, 401),
        ({"Authorization": "Bearer not-a-key", "X-Live": "1"}, 200),
    ],
)
def test_auth_wants_the_token_and_the_header(headers: dict[str, str], status: int) -> None:
    assert _post("/auth", _request("initialize"), headers)[0] == status


def test_down_refuses_everything_and_a_notification_is_taken() -> None:
    assert _post("/down", _request("initialize"))[0] == 503
    assert _post("/json", {"jsonrpc": "2.0", "method": "notifications/initialized"})[0] == 202


def test_ask_and_chatty_send_their_messages_before_the_result() -> None:
    _, _, body = _post("/json", _request("tools/call", 7, name="ask", arguments={}))
    ask, result = _events(body)
    assert ask["method"] == "elicitation/create" and result["id"] == 7
    _, _, body = _post("/json", _request("tools/call", 8, name="chatty", arguments={}))
    methods = [event.get("method") for event in _events(body)]
    assert methods == ["notifications/progress", "notifications/message", None]


def test_http500_is_an_http_error_and_die_drops_the_connection() -> None:
    assert _post("/json", _request("tools/call", name="http500", arguments={}))[0] == 500
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        _post("/json", _request("tools/call", name="die", arguments={}))
