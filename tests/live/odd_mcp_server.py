"""A second stdio MCP server for :mod:`tests.live.random_gaps_edits` (newline-delimited JSON-RPC
2.0), whose tools are what a third-party server offers and ``tests/live/mcp_server.py``'s do not:
names Codex must rewrite (past 64 characters, with a dot, a dash, a space, not ASCII), a text
far past Codex's own truncation, answers of every content kind (a resource link, an embedded
resource, audio, an image that is not one, nothing at all), structured content alone or beside
an error, progress and log notifications before an answer, a tool that answers late and one
that takes the server down; and ``instructions`` in its ``initialize`` answer."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

try:
    from .mcp_server import serve
except ImportError:  # run by path, as Codex runs it: this file's folder is on sys.path
    from mcp_server import serve  # type: ignore[no-redef,import-not-found]

_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": True}
LONG = "summarize_the_quarterly_report_for_every_region_and_every_product_line_twice"
NAMES = (
    LONG,
    "get.weather",
    "do-thing",
    "naïve tool",
    "huge",
    "parts",
    "empty",
    "structured",
    "err_structured",
    "chatty",
    "late",
    "crash",
)
TOOLS = [
    {"name": name, "description": f"The {name} tool.", "inputSchema": _SCHEMA} for name in NAMES
]
TOOLS[NAMES.index("structured")]["outputSchema"] = {
    "type": "object",
    "properties": {"rows": {"type": "array"}},
}


def _call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    if name == "huge":
        size = int(arguments.get("bytes", 300_000))
        return {"content": [{"type": "text", "text": ("ünï ✓ line\n" * (size // 14 + 1))[:size]}]}
    if name == "parts":
        return {
            "content": [
                {"type": "text", "text": "several parts"},
                {"type": "resource_link", "uri": "odd://a", "name": "a", "mimeType": "text/plain"},
                {"type": "resource", "resource": {"uri": "odd://b", "text": "embedded ✓"}},
                {"type": "audio", "data": "UklGRg==", "mimeType": "audio/wav"},
                {"type": "image", "data": "bm90IGFuIGltYWdl", "mimeType": "image/png"},
            ]
        }
    if name == "empty":
        return {"content": []}
    if name == "structured":
        return {"content": [], "structuredContent": {"rows": [1, "two", None, {"x": 1.5}]}}
    if name == "err_structured":
        return {
            "content": [{"type": "text", "text": "it broke"}],
            "structuredContent": {"code": 7},
            "isError": True,
        }
    if name == "chatty":
        for note in (
            {"method": "notifications/progress", "params": {"progressToken": 1, "progress": 0.5}},
            {"method": "notifications/message", "params": {"level": "info", "data": "half"}},
        ):
            sys.stdout.write(json.dumps({"jsonrpc": "2.0", **note}) + "\n")
            sys.stdout.flush()
        return {"content": [{"type": "text", "text": "chatted"}]}
    if name == "late":
        time.sleep(float(arguments.get("seconds", 3)))
        return {"content": [{"type": "text", "text": "late answer"}]}
    if name == "crash":
        sys.exit(5)
    return {"content": [{"type": "text", "text": f"{name}: {json.dumps(arguments)}"}]}


def _initialize(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "protocolVersion": params.get("protocolVersion", "2025-03-26"),
        "capabilities": {"tools": {}, "logging": {}},
        "serverInfo": {"name": "odd ✓", "version": "0.0.1"},
        "instructions": "Call the odd tools with care. ✓",
    }


def main() -> None:
    serve(
        {
            "initialize": _initialize,
            "tools/list": lambda _: {"tools": TOOLS},
            "tools/call": lambda p: _call(str(p.get("name", "")), p.get("arguments") or {}),
        }
    )


if __name__ == "__main__":
    main()
