"""An MCP server over streamable HTTP for :mod:`tests.live.random_gaps_web`, as a user adds a
remote one (``mcp_servers.NAME.url``) rather than a command Codex starts: JSON-RPC 2.0 over
``POST``, answered as one JSON body or as a server-sent event stream, ``GET`` refused (405: no
stream of the server's own), notifications taken with 202. It runs in a daemon thread of the
test's own process (:func:`start`), since Codex starts no process for it; each path is a way a
real server behaves (:data:`MODES`). Its tools are ``tests/live/mcp_server.py``'s, with what
only HTTP can do: ``die`` drops the connection unanswered, ``http500`` answers an HTTP error,
``ask`` sends an ``elicitation/create`` request in its stream before the result (the server
asking the user, whom ``codex exec`` has not got), ``chatty`` a progress and a log
notification first, ``big`` a 200 KB text."""

from __future__ import annotations

import json
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.live.mcp_server import TOOLS as DEMO_TOOLS
from tests.live.mcp_server import _call

#: the paths served, each a way a server behaves: ``json`` answers every request with a JSON
#: body; ``sse`` with an event stream; ``session`` gives an ``Mcp-Session-Id`` at ``initialize``
#: and refuses (404) a later request without it; ``auth`` refuses (401) one without the bearer
#: token and ``X-Live`` header the scenario configures; ``down`` answers 503 to everything
MODES = ("json", "sse", "session", "auth", "down")
#: the token ``bearer_token_env_var`` names (``FAKE_API_KEY``, which the recording sets)
TOKEN = "not-a-key"
_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": True}
TOOLS = [
    *(tool for tool in DEMO_TOOLS if tool["name"] != "die"),
    *(
        {"name": name, "description": f"The {name} tool.", "inputSchema": _SCHEMA}
        for name in ("die", "http500", "ask", "chatty", "big")
    ),
]
_LOCK = threading.Lock()
_SERVER: _Server | None = None
#: the session ids ``session`` handed out
_SESSIONS: set[str] = set()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet about a client gone before its answer (Codex past ``tool_timeout_sec``, or
        done with the session): that is a case the scenarios make, not the server's fault."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Drop(Exception):
    """The connection is closed with no answer (the server died mid-call)."""


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a test's output is not the place for each request."""

    def do_GET(self) -> None:
        self._plain(405, "no server stream here")

    def do_DELETE(self) -> None:
        self._plain(200, "")

    def do_POST(self) -> None:
        mode = self.path.strip("/").split("/")[0]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        refusal = self._refusal(mode)
        if refusal is not None:
            self._plain(*refusal)
            return
        try:
            message = json.loads(body)
        except ValueError:
            self._plain(400, "not JSON")
            return
        if (
            mode == "session"
            and not (isinstance(message, dict) and message.get("method") == "initialize")
            and self.headers.get("Mcp-Session-Id") not in _SESSIONS
        ):
            self._plain(404, "no such session")
            return
        if not isinstance(message, dict) or "id" not in message or "method" not in message:
            self._plain(202, "")  # a notification, or the client's answer to ``ask``
            return
        try:
            reply, notes = _answer(message)
        except _Drop:
            self.close_connection = True
            return
        if reply is None:
            self._plain(500, "internal error ✓")
            return
        extra = {}
        if mode == "session" and message["method"] == "initialize":
            extra["Mcp-Session-Id"] = uuid.uuid4().hex
            _SESSIONS.add(extra["Mcp-Session-Id"])
        if mode == "sse" or notes:
            self._stream([*notes, reply], extra)
        else:
            self._json(reply, extra)

    def _refusal(self, mode: str) -> tuple[int, str] | None:
        if mode not in MODES or mode == "down":
            return 503, "down for maintenance"
        if mode == "auth" and (
            self.headers.get("Authorization") != f"Bearer {TOKEN}"
            or self.headers.get("X-Live") != "1"
        ):
            return 401, "unauthorized"
        return None

    def _plain(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _json(self, reply: dict[str, Any], extra: dict[str, str]) -> None:
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, messages: list[dict[str, Any]], extra: dict[str, str]) -> None:
        """The messages as one event each, then the stream closed (HTTP/1.0: no length)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        for n, message in enumerate(messages):
            self.wfile.write(f"id: {n}\nevent: message\ndata: {json.dumps(message)}\n\n".encode())
            self.wfile.flush()
        self.close_connection = True


def _answer(message: dict[str, Any]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The reply to a request (None: an HTTP 500 instead) and the messages sent before it."""
    method, params = message["method"], message.get("params") or {}
    reply: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"]}
    notes: list[dict[str, Any]] = []
    if method == "initialize":
        reply["result"] = {
            "protocolVersion": params.get("protocolVersion", "2025-03-26"),
            "capabilities": {"tools": {}, "logging": {}},
            "serverInfo": {"name": "web ✓", "version": "2.0.0"},
        }
    elif method == "ping":
        reply["result"] = {}
    elif method == "tools/list":
        reply["result"] = {"tools": TOOLS}
    elif method == "tools/call":
        name, arguments = str(params.get("name", "")), params.get("arguments") or {}
        if name == "die":
            raise _Drop
        if name == "http500":
            return None, []
        if name == "ask":
            ask = {"message": "Proceed?", "requestedSchema": {"type": "object", "properties": {}}}
            notes.append(
                {"jsonrpc": "2.0", "id": "ask-1", "method": "elicitation/create", "params": ask}
            )
        if name == "chatty":
            token = (params.get("_meta") or {}).get("progressToken", 1)
            progress = {"progressToken": token, "progress": 0.5, "total": 1}
            log = {"level": "info", "data": "half way ✓"}
            notes.append({"jsonrpc": "2.0", "method": "notifications/progress", "params": progress})
            notes.append({"jsonrpc": "2.0", "method": "notifications/message", "params": log})
        if name in ("ask", "chatty"):
            reply["result"] = {"content": [{"type": "text", "text": f"{name} done"}]}
        elif name == "big":
            reply["result"] = {"content": [{"type": "text", "text": "web ✓ line\n" * 20_000}]}
        else:
            try:
                reply["result"] = _call(name, arguments)
            except ValueError as exc:
                reply["error"] = {"code": -32000, "message": str(exc)}
    else:
        reply["error"] = {"code": -32601, "message": f"no method {method}"}
    return reply, notes


def start() -> str:
    """The server's base URL (``http://127.0.0.1:PORT``), started on first use in a daemon
    thread of this process (a pytest worker keeps one for all its sessions)."""
    global _SERVER
    with _LOCK:
        if _SERVER is None:
            _SERVER = _Server(("127.0.0.1", 0), _Handler)
            threading.Thread(target=_SERVER.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{_SERVER.server_address[1]}"
