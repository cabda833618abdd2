"""The fake API's Conversations: ``POST /v1/conversations`` (with ``items``), ``POST
/v1/conversations/<id>/items``, ``DELETE /v1/conversations/<id>/items/<item id>``, and what a
Responses request with ``conversation`` does to one, as the API does it: the model sees the
conversation's items then the request's input, and both the input and the output are
appended to the conversation. A request with ``conversation`` and ``previous_response_id``
is refused (HTTP 400), as the API refuses it.

:attr:`ConversationStore.seen` keeps, per response id, the items the model saw for a
request on a conversation: what the tests check the recorded requests show.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any


def as_items(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return [dict(item) for item in value or [] if isinstance(item, dict)]


def conversation_of(body: dict[str, Any]) -> str | None:
    conv = body.get("conversation")
    if isinstance(conv, dict):
        conv = conv.get("id")
    return conv if isinstance(conv, str) else None


class ConversationStore:
    """The conversations the fake server keeps."""

    def __init__(self) -> None:
        self.items: dict[str, list[dict[str, Any]]] = {}
        #: response id -> the items the model saw (the conversation's, then the input)
        self.seen: dict[str, list[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _with_ids(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"id": f"citem_{next(self._ids)}", **item} for item in items]

    def handle(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """A ``/v1/conversations...`` call: its status and JSON answer."""
        parts = path.strip("/").split("/")[2:]  # after v1/conversations
        with self._lock:
            if method == "POST" and not parts:
                ident = f"conv_{len(self.items) + 1}"
                self.items[ident] = self._with_ids(as_items(body.get("items")))
                return 200, self._conversation(ident)
            if not parts or parts[0] not in self.items:
                return 404, {"error": {"message": "no such conversation", "type": "not_found"}}
            held = self.items[parts[0]]
            if method == "POST" and parts[1:] == ["items"]:
                added = self._with_ids(as_items(body.get("items")))
                held.extend(added)
                return 200, {
                    "object": "list",
                    "data": added,
                    "first_id": added[0]["id"] if added else None,
                    "last_id": added[-1]["id"] if added else None,
                    "has_more": False,
                }
            if method == "DELETE" and len(parts) == 3 and parts[1] == "items":
                held[:] = [item for item in held if item.get("id") != parts[2]]
                return 200, self._conversation(parts[0])
        return 404, {"error": {"message": "not served", "type": "not_found"}}

    @staticmethod
    def _conversation(ident: str) -> dict[str, Any]:
        return {"id": ident, "object": "conversation", "created_at": 0, "metadata": {}}

    def refusal(self, body: dict[str, Any]) -> tuple[int, Any] | None:
        """Why a Responses request on a conversation is refused, if it is."""
        conv = conversation_of(body)
        if conv is None:
            return None
        if body.get("previous_response_id"):
            message = "Cannot use both 'conversation' and 'previous_response_id'."
            return 400, {"error": {"message": message, "type": "invalid_request_error"}}
        if conv not in self.items:
            return 404, {"error": {"message": "no such conversation", "type": "not_found"}}
        return None

    def answered(self, body: dict[str, Any], response: dict[str, Any]) -> None:
        """The request ``body`` was answered with ``response``: the model saw the
        conversation and the input; both join the conversation."""
        conv = conversation_of(body)
        if conv is None:
            return
        with self._lock:
            held = self.items[conv]
            sent = self._with_ids(as_items(body.get("input")))
            self.seen[response["id"]] = [*held, *sent]
            held.extend(sent)
            held.extend(response.get("output") or [])
        response["conversation"] = {"id": conv}
