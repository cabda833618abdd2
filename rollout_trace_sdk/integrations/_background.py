"""Responses made with ``background=True``: the call that created one returns it unfinished
(``queued`` or ``in_progress``) and its output comes later, from ``responses.retrieve`` (or
``responses.cancel``). Recording the first answer would end the inference call completed
with nothing in it; instead the call stays open, keyed by the response id, and the first
retrieve or cancel that returns the response finished (``completed``, ``incomplete``,
``failed``, ``cancelled``) ends it with that response. A call whose response is never
fetched finished is ended by its turn, as any open call (``cancelled``).

The fetch may come from any task (or, for a sync client, the thread the turn is current
in) while the turn is open: only the response id ties a fetch to its call.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Final

from ..record._guard import quietly
from ..record.inference import InferenceCall
from ._answers import finish

#: What a background response says while its output is still being made.
UNFINISHED: Final = frozenset({"queued", "in_progress"})


class BackgroundCalls:
    """One client's inference calls waiting for their background response (a fetched answer
    is recorded as a created one would be)."""

    def __init__(self) -> None:
        self._calls: dict[str, InferenceCall] = {}
        self._lock = threading.Lock()  # a sync client may be polled from several threads

    @quietly("a background response")
    def hold(self, call: InferenceCall, response: Any, background: object) -> bool:
        """Keep ``call`` open when ``response`` (what ``create`` returned) is a background
        response still unfinished; ``False`` (nothing kept) otherwise (``None``, made falsy by
        the guard, should keeping it fail: the call is then recorded as it was returned)."""
        ident = getattr(response, "id", None)
        if background is not True or not isinstance(ident, str):
            return False
        if getattr(response, "status", None) not in UNFINISHED:
            return False
        with self._lock:
            # calls their turn ended meanwhile are forgotten: the table holds open calls only
            for key in [key for key, held in self._calls.items() if held.ended]:
                del self._calls[key]
            self._calls[ident] = call
        return True

    @quietly("a background response")
    def fetched(self, response: Any) -> None:
        """``response`` came back from a retrieve or a cancel: end its call if finished."""
        ident = getattr(response, "id", None)
        if not isinstance(ident, str) or getattr(response, "status", None) in UNFINISHED:
            return
        with self._lock:
            call = self._calls.pop(ident, None)
        if call is not None and not call.ended:
            finish(call, "responses", response)

    def wrap_async(self, original: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        """An async ``retrieve`` / ``cancel`` that reports what it returns."""

        @functools.wraps(original)
        async def fetch(*args: Any, **kwargs: Any) -> Any:
            response = await original(*args, **kwargs)
            if self._calls:
                self.fetched(response)
            return response

        return fetch

    def wrap_sync(self, original: Callable[..., Any]) -> Callable[..., Any]:
        """The same for a sync client."""

        @functools.wraps(original)
        def fetch(*args: Any, **kwargs: Any) -> Any:
            response = original(*args, **kwargs)
            if self._calls:
                self.fetched(response)
            return response

        return fetch
