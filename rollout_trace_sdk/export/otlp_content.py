"""Conversation content for the OTLP export's ``--inline-payloads``: the GenAI conventions'
message JSON, tool arguments and results, each value cut to a size receivers accept.

The conventions' content attributes are opt-in, so nothing here runs without the option.
A text or value a capture limit cut (schema 3) is never sent as if it were the content: a
``payload_ref`` part says which payload and what was kept, and a JSON summary holding Codex's
placeholder ``{"$trace_unavailable": id}`` is followed by the same note, as the viewer shows
them (``view/capture.py``).
Messages follow the conventions' input/output message schemas: ``role`` and ``parts`` of type
``text``, ``tool_call``, ``tool_call_response`` or ``reasoning``; Codex's ``developer`` role
has no counterpart there and is sent as ``system``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from ..view.item_text import delivers, parts_text, tool_name

#: Longest inlined attribute value, in UTF-8 bytes (receivers cap attribute and request
#: sizes in bytes: 64 Ki characters could be 256 KiB).
MAX_INLINE_BYTES: Final = 64 * 1024

_Obj = Mapping[str, Any]


def cut(text: str) -> str:
    """``text``, cut at :data:`MAX_INLINE_BYTES` (on a character boundary) with a note of
    how much was left out."""
    if len(text) <= MAX_INLINE_BYTES // 4:  # no character is over 4 bytes
        return text
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= MAX_INLINE_BYTES:
        return text
    kept = data[:MAX_INLINE_BYTES].decode("utf-8", "ignore")  # a split character is dropped
    left = len(data) - len(kept.encode("utf-8", "surrogatepass"))
    return f"{kept}… ({left:,} more bytes)"


def body_text(item: _Obj | None, notes: Mapping[str, str] | None = None) -> str:
    """A conversation item's body as text, whole, as the viewer reads it
    (``view.item_text.parts_text``); :func:`cut` cuts it by bytes for the attributes."""
    body = item.get("body") if item else None
    return parts_text(body, notes=notes, limit=None, delivered=delivers(item))


class Conversation:
    """The state's conversation items, rendered as the conventions' content attributes.

    Args:
        items: the state's ``conversation_items`` by id.
        tools: the state's ``tool_calls`` (to name the tool a call item calls).
        notes: what capture limits cut (``view.capture.capture_notes``), said in the text.
    """

    def __init__(
        self,
        items: Mapping[str, _Obj],
        tools: Mapping[str, _Obj],
        notes: Mapping[str, str] | None = None,
    ) -> None:
        self.items = items
        self.notes = notes or {}
        self.tool_by_call_id = {
            str(t.get("model_visible_call_id")): t
            for t in tools.values()
            if t.get("model_visible_call_id") is not None
        }

    def texts(self, ids: Any) -> str:
        """The bodies of the items ``ids`` names, one per line (a tool's arguments, result)."""
        if not isinstance(ids, list):
            return ""
        return "\n".join(body_text(self.items.get(str(i)), self.notes) for i in ids)

    def message(self, item: _Obj) -> dict[str, Any]:
        """A conversation item in the conventions' message shape (role + parts)."""
        role = {"developer": "system"}.get(str(item.get("role")), str(item.get("role")))
        kind = item.get("kind")
        text = body_text(item, self.notes)
        call_id = item.get("call_id")
        part: dict[str, Any]
        if kind in ("function_call", "custom_tool_call"):
            tool = self.tool_by_call_id.get(str(call_id))
            name = tool_name(tool) if tool else "unknown"
            part = {"type": "tool_call", "id": call_id, "name": name, "arguments": text}
        elif kind in ("function_call_output", "custom_tool_call_output"):
            role = "tool"
            part = {"type": "tool_call_response", "id": call_id, "response": text}
        elif kind == "reasoning":
            part = {"type": "reasoning", "content": text}
        else:
            part = {"type": "text", "content": text}
        return {"role": role, "parts": [part]}

    def input_messages(self, ids: list[Any]) -> str:
        """``gen_ai.input.messages``: the request's items, in order, as JSON."""
        found = [self.items[str(i)] for i in ids if str(i) in self.items]
        return cut(orjson.dumps([self.message(item) for item in found]).decode())

    def output_messages(self, ids: list[Any], *, failed: bool, called_tools: bool) -> str:
        """``gen_ai.output.messages``: the response as one assistant message (one choice),
        with a finish reason."""
        parts = [
            part
            for i in ids
            if str(i) in self.items
            for part in self.message(self.items[str(i)])["parts"]
        ]
        reason = "error" if failed else "tool_call" if called_tools else "stop"
        message = {"role": "assistant", "parts": parts, "finish_reason": reason}
        return cut(orjson.dumps([message]).decode())
