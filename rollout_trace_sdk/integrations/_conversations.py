"""``client.conversations``: what the client does to a conversation the server keeps, told to
the recorder's client log (``record._conversations``), so that a request continuing the
conversation (``responses.create(conversation=...)``) is recorded with the items the model
saw before its own.

* ``conversations.create(items=...)`` makes a conversation whose whole content the client
  knows: the items it was created with (none by default);
* ``conversations.items.create(conversation_id, items=...)`` appends items: the next request
  recorded on the conversation shows them before its own;
* ``conversations.items.delete(...)`` takes one out: the content is not known any more (the
  next request is recorded from there, reported);
* a ``responses.create`` on a conversation that is not recorded (outside a turn, a
  raw-response call; not an Agents SDK model call, which its integration records) adds
  items no rollout sees: the next request recorded on the conversation says so.

Nothing here changes what the SDK sends or returns; a failure to log warns.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
from collections.abc import Callable, Mapping
from typing import Any

from ..record._conversations import CLIENT_LOG, conversation_id
from ..record._guard import quietly


def instrument_conversations(client: Any, is_async: bool) -> None:
    """Wrap ``client.conversations.create`` and its ``items.create`` / ``items.delete``
    (SDKs without the Conversations API have none: nothing to do)."""
    conversations = getattr(client, "conversations", None)
    items = getattr(conversations, "items", None)
    for resource, name, log in (
        (conversations, "create", _created),
        (items, "create", _added),
        (items, "delete", _deleted),
    ):
        original = getattr(resource, name, None)
        if original is not None:
            setattr(resource, name, _logging(original, log, is_async))


def _logging(
    original: Callable[..., Any], log: Callable[..., None], is_async: bool
) -> Callable[..., Any]:
    """``original``, telling ``log`` its arguments and result once it returns."""
    if is_async or inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def call_async(*args: Any, **kwargs: Any) -> Any:
            _listed(kwargs)
            result = await original(*args, **kwargs)
            log(result, args, kwargs)
            return result

        return call_async

    @functools.wraps(original)
    def call(*args: Any, **kwargs: Any) -> Any:
        _listed(kwargs)
        result = original(*args, **kwargs)
        log(result, args, kwargs)
        return result

    return call


def _listed(kwargs: dict[str, Any]) -> None:
    """The ``items`` argument as a list: the SDK reads an iterable once, the log once more."""
    items = kwargs.get("items")
    if items is not None and not isinstance(items, list | str | Mapping):
        with contextlib.suppress(TypeError):  # not iterable: the SDK says so
            kwargs["items"] = list(items)


def _items(kwargs: Mapping[str, Any]) -> list[Any]:
    items = kwargs.get("items")
    return items if isinstance(items, list) else []


@quietly("a conversation made")
def _created(result: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    ident = getattr(result, "id", None)
    if isinstance(ident, str):  # (a raw-response call returns the HTTP response: unknown)
        CLIENT_LOG.created(ident, _items(kwargs))


@quietly("items added to a conversation")
def _added(result: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    ident = kwargs.get("conversation_id", args[0] if args else None)
    if isinstance(ident, str):
        CLIENT_LOG.added(ident, _items(kwargs))


@quietly("an item deleted from a conversation")
def _deleted(result: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    ident = kwargs.get("conversation_id")
    if isinstance(ident, str):
        CLIENT_LOG.altered(ident)


@quietly("a conversation used outside the rollout")
def used_unrecorded(kwargs: Mapping[str, Any]) -> None:
    """A request not recorded (outside a turn, raw) used the conversation it names, if any."""
    conv = kwargs.get("conversation")
    extra_body = kwargs.get("extra_body")
    if conv is None and isinstance(extra_body, Mapping):
        conv = extra_body.get("conversation")
    if conv is not None and not _in_an_agents_response_span():
        ident = conversation_id(conv)
        if ident is not None:
            CLIENT_LOG.used(ident)


def _in_an_agents_response_span() -> bool:
    """The call is an Agents SDK model call (made inside its ``response`` span): the Agents
    integration records it from the span, so it is no request the rollout misses."""
    tracing = sys.modules.get("agents.tracing")  # (not imported here: only if in use)
    span = None if tracing is None else tracing.get_current_span()
    return getattr(getattr(span, "span_data", None), "type", None) == "response"
