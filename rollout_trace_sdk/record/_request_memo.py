"""A thread's last request, so the next one costs only its new items.

An agent loop resends its whole history with every request. Normalising a request (making
its items plain JSON, typing easy and chat messages, see :mod:`.requests`) walks every item,
so over N steps the recorder would pay for N² items. The memo keeps the last request's item
list as the caller gave it and as it was normalised: a request whose list starts with the
same objects (one list comparison in C, identity before equality) normalises only the items
after them and reuses the rest. Like the item store, this assumes that an item already sent
is not changed in place afterwards (history items are immutable in the Responses API and in
Codex); an edited item should be a new object.

The memo also holds the thread's :class:`~._continuations.Continuations`, which knows the
responses the thread's calls answered with (their ``response_id``): a request continuing a
response (``previous_response_id``) the thread never recorded (one answered before the
rollout opened, in another rollout or on another thread) is recorded without that id, and
reported: both reducers refuse a whole bundle for a request continuing a response they do
not have.
"""

from __future__ import annotations

from typing import Any

from ._continuations import Continuations
from ._held import same_items
from ._item_refs import KnownItems
from ._problems import Problem
from ._text import shown
from .requests import normalize_request

#: The request keys whose list holds the conversation items (Responses, Chat Completions).
_ITEM_KEYS = ("input", "messages")


class RequestMemo:
    """Normalises one thread's requests, each after the first at the cost of its new items."""

    __slots__ = ("_custom_calls", "_items", "_key", "_known", "_raw", "continuations")

    def __init__(self, known: KnownItems | None = None) -> None:
        #: the rollout's items by id, which an item reference names (see ``_item_refs``)
        self._known = known
        self._key: str | None = None
        self._raw: list[Any] = []
        self._items: list[Any] = []
        self._custom_calls: set[str] = set()
        #: the thread's snapshot as the reducers see it, and the responses it answered with
        self.continuations = Continuations()

    def _continued(self, body: dict[str, Any], problems: list[Problem]) -> None:
        """Leave out a ``previous_response_id`` naming no response of the thread (reported)."""
        previous = body.get("previous_response_id")
        if previous is None or (previous.__class__ is str and self.continuations.knows(previous)):
            return
        del body["previous_response_id"]
        problems.append(
            Problem(
                "unknown previous response",
                f"request previous_response_id {shown(previous)} names no response recorded in"
                " this thread; recorded without it (its input alone)",
            )
        )

    def _forget(self) -> None:
        self._key = None
        self._raw = []
        self._items = []
        self._custom_calls = set()

    def normalize(self, request: Any) -> tuple[dict[str, Any], list[Problem]]:
        """:func:`~.requests.normalize_request` of ``request``, reusing the last request's
        normalised items when ``request`` resends them first.

        Args:
            request: what the loop sends to the model.

        Returns:
            The normalised request and the problems found in its new items.
        """
        key = raw = None
        if request.__class__ is dict:
            key = next((k for k in _ITEM_KEYS if k in request), None)
            raw = None if key is None else request[key]
        if raw.__class__ is not list:
            self._forget()  # not a list of items: nothing to reuse next time
            body, problems = normalize_request(request, known=self._known)
            self._continued(body, problems)
            return body, problems
        known = len(self._raw)
        if known and key == self._key and len(raw) >= known and same_items(raw[:known], self._raw):
            tail = dict(request)
            tail[key] = raw[known:]
            body, problems = normalize_request(
                tail, custom_calls=self._custom_calls, offset=known, known=self._known
            )
            body["input"] = self._items + body["input"]
        else:
            self._custom_calls = set()
            body, problems = normalize_request(
                request, custom_calls=self._custom_calls, known=self._known
            )
        self._key = key
        self._raw = list(raw)
        self._items = list(body["input"])
        self._continued(body, problems)
        return body, problems
