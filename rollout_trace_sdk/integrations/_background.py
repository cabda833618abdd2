"""Responses made with ``background=True``: the call that created one returns it unfinished
(``queued`` or ``in_progress``) and its output comes later, from ``responses.retrieve`` (or
``responses.cancel``). Recording the first answer would end the inference call completed
with nothing in it; instead the call stays open, keyed by the response id, and the first
retrieve or cancel that returns the response finished (``completed``, ``incomplete``,
``failed``, ``cancelled``) ends it with that response. A call whose response is never
fetched finished is ended by its turn, as any open call (``cancelled``).

The fetch may come from any task (or, for a sync client, the thread the turn is current
in) and through any instrumented client (one table, :data:`CALLS`, serves them all) while
the turn is open: only the response id ties a fetch to its call. A fetch that streams the
response (``retrieve(id, stream=True)``, ``responses.stream(response_id=id)``) ends the call
with the response its terminal event carries; a stream closed before that leaves the call
open, as the response itself goes on.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Final

from ..record._guard import quietly
from ..record.inference import InferenceCall
from ._answers import finish
from ._streams import swapped

#: What a background response says while its output is still being made.
UNFINISHED: Final = frozenset({"queued", "in_progress"})
#: The stream events that carry a background response finished.
_TERMINAL_EVENTS: Final = frozenset(
    {"response.completed", "response.incomplete", "response.failed", "response.cancelled"}
)


class BackgroundCalls:
    """Inference calls waiting for their background response (a fetched answer is recorded
    as a created one would be)."""

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

    @quietly("a background response's stream event")
    def streamed(self, event: Any) -> None:
        """An event of a streamed fetch: a terminal one carries the finished response."""
        try:
            terminal = bool(self._calls) and getattr(event, "type", None) in _TERMINAL_EVENTS
        except TypeError:  # an unhashable type (an object, a list): no terminal event
            return
        if terminal:
            self.fetched(getattr(event, "response", None))

    def _answer(self, response: Any, kwargs: dict[str, Any], is_async: bool) -> Any:
        if not self._calls:
            return response
        if kwargs.get("stream") is True:
            return _watched(response, self, is_async)
        self.fetched(response)
        return response

    def wrap_async(self, original: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        """An async ``retrieve`` / ``cancel`` that reports what it returns (or, streamed,
        what its events carry)."""

        @functools.wraps(original)
        async def fetch(*args: Any, **kwargs: Any) -> Any:
            return self._answer(await original(*args, **kwargs), kwargs, True)

        return fetch

    def wrap_sync(self, original: Callable[..., Any]) -> Callable[..., Any]:
        """The same for a sync client."""

        @functools.wraps(original)
        def fetch(*args: Any, **kwargs: Any) -> Any:
            return self._answer(original(*args, **kwargs), kwargs, False)

        return fetch


#: Every instrumented client's background calls: a response id names one call, whichever
#: client (a copy made with ``with_options``, another client) fetches it.
CALLS: Final = BackgroundCalls()


def _async_watch(base: Any) -> dict[str, Any]:
    def __aiter__(self: Any) -> Any:
        return self

    async def __anext__(self: Any) -> Any:
        event = await base.__anext__(self)
        self._rollout_trace_background.streamed(event)
        return event

    return {"__aiter__": __aiter__, "__anext__": __anext__}


def _sync_watch(base: Any) -> dict[str, Any]:
    def __iter__(self: Any) -> Any:
        return self

    def __next__(self: Any) -> Any:
        event = base.__next__(self)
        self._rollout_trace_background.streamed(event)
        return event

    return {"__iter__": __iter__, "__next__": __next__}


_WATCHING_CLASSES: dict[type, type] = {}


def _watched(stream: Any, calls: BackgroundCalls, is_async: bool) -> Any:
    """``stream`` (a streamed retrieve), its events shown to ``calls`` as they are read."""
    with contextlib.suppress(TypeError, AttributeError):
        stream._rollout_trace_background = calls
    return swapped(stream, _async_watch if is_async else _sync_watch, _WATCHING_CLASSES)
