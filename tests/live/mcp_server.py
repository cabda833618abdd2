"""A small stdio MCP server for the live scenarios (newline-delimited JSON-RPC 2.0), started
by Codex from ``mcp_servers.demo``. Tools: ``echo`` (text), ``add`` (text and structured
content; a bad argument is a tool error), ``pixel`` (an image), ``boom`` (a JSON-RPC error),
``slow`` (answers after ``seconds``), ``die`` (the server exits without an answer);
resources: ``demo://notes`` (text) and ``demo://pixel`` (a blob), one template ``demo://notes/{day}``;
reading any other URI is a JSON-RPC error."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": True}
TOOLS = [
    {"name": "echo", "description": "Echo a text.", "inputSchema": _SCHEMA},
    {"name": "add", "description": "Add two numbers.", "inputSchema": _SCHEMA},
    {"name": "pixel", "description": "A one-pixel image.", "inputSchema": _SCHEMA},
    {"name": "boom", "description": "Always fails.", "inputSchema": _SCHEMA},
    {"name": "slow", "description": "Answers late.", "inputSchema": _SCHEMA},
    {"name": "die", "description": "Exits mid-call.", "inputSchema": _SCHEMA},
]


RESOURCES = [
    {"uri": "demo://notes", "name": "notes", "mimeType": "text/plain"},
    {"uri": "demo://pixel", "name": "pixel", "mimeType": "image/png"},
]
TEMPLATES = [{"uriTemplate": "demo://notes/{day}", "name": "notes of a day"}]


def _read(uri: str) -> dict[str, Any]:
    if uri == "demo://notes":
        return {"contents": [{"uri": uri, "mimeType": "text/plain", "text": "buy milk\n"}]}
    if uri == "demo://pixel":
        return {"contents": [{"uri": uri, "mimeType": "image/png", "blob": PIXEL}]}
    raise ValueError(f"no resource {uri}")


def _call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    if name == "echo":
        return {"content": [{"type": "text", "text": str(arguments.get("text", ""))}]}
    if name == "add":
        a, b = arguments.get("a"), arguments.get("b")
        if not isinstance(a, int | float) or not isinstance(b, int | float):
            return {
                "content": [{"type": "text", "text": "a and b must be numbers"}],
                "isError": True,
            }
        return {
            "content": [{"type": "text", "text": str(a + b)}],
            "structuredContent": {"sum": a + b},
        }
    if name == "slow":
        time.sleep(float(arguments.get("seconds", 3)))
        return {"content": [{"type": "text", "text": "slow answer"}]}
    if name == "die":
        sys.exit(3)
    if name == "pixel":
        return {"content": [{"type": "image", "data": PIXEL, "mimeType": "image/png"}]}
    raise ValueError(f"tool {name} failed on purpose")


class RpcError(Exception):
    """A JSON-RPC error answer (``code``, ``message``) instead of a result."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


Handler = Callable[[dict[str, Any]], dict[str, Any]]


def serve(handlers: Mapping[str, Handler]) -> None:
    """Answer newline-delimited JSON-RPC 2.0 requests from stdin until it closes: each request
    by its method's handler (given the params; ``ping`` answered here), an unknown method with
    -32601; lines that are no JSON and notifications are skipped. Shared with
    ``odd_mcp_server.py``, which Codex also runs by path."""
    for line in sys.stdin:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if "id" not in message:
            continue  # a notification
        method, params = message.get("method"), message.get("params") or {}
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"]}
        handler = {"ping": lambda _: {}, **handlers}.get(method)
        if handler is None:
            reply["error"] = {"code": -32601, "message": f"no method {method}"}
        else:
            try:
                reply["result"] = handler(params)
            except RpcError as exc:
                reply["error"] = {"code": exc.code, "message": str(exc)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


def _initialize(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "protocolVersion": params.get("protocolVersion", "2025-03-26"),
        "capabilities": {"tools": {}, "resources": {}},
        "serverInfo": {"name": "demo", "version": "1.0.0"},
    }


def _tools_call(params: dict[str, Any]) -> dict[str, Any]:
    try:
        return _call(params.get("name", ""), params.get("arguments") or {})
    except ValueError as exc:
        raise RpcError(-32000, str(exc)) from exc


def _resources_read(params: dict[str, Any]) -> dict[str, Any]:
    try:
        return _read(str(params.get("uri", "")))
    except ValueError as exc:
        raise RpcError(-32002, str(exc)) from exc


def main() -> None:
    serve(
        {
            "initialize": _initialize,
            "tools/list": lambda _: {"tools": TOOLS},
            "tools/call": _tools_call,
            "resources/list": lambda _: {"resources": RESOURCES},
            "resources/templates/list": lambda _: {"resourceTemplates": TEMPLATES},
            "resources/read": _resources_read,
        }
    )


if __name__ == "__main__":
    main()
