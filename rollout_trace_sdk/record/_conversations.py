"""Requests continuing a conversation the server keeps (the Conversations API).

A request with ``conversation="conv_..."`` (or ``{"id": "conv_..."}``) sends only its new
items: the server puts the conversation's items before them, and appends the request's input
and the response's output to the conversation when it answers. Recorded as sent, the request
showed its new items alone and the reduced history lost everything before them.

The rollout keeps, per conversation, the items it recorded the model seeing: each answered
request's items and its output, in order, which is the conversation as the server holds it.
A request on a conversation is recorded with those items before its own input, a whole
history, as a loop that resends its history is recorded: both reducers match it item by item
against the thread's earlier requests, so nothing is stored twice in the reduced state, and
schema 3 writes a request that resends its thread's last request and answer as continuing
that response (``previous_response_id`` and the new items, see ``_item_store``). Adding
``previous_response_id`` here instead would be wrong as soon as the thread's last request is
not the one that response answered (a failed request, another request on the thread, a
sub-agent answering on the same conversation): both reducers check the new items against the
thread's last request there and refuse the whole bundle when they differ (measured with
Codex 0.169: "model conversation mismatch"). Two threads sharing a conversation (sub-agents,
handoffs) each see all of it.

What the rollout cannot know is the conversation's content before its first request: a
conversation made before the rollout opened, used by a request outside it, or given items
the client did not see. :data:`CLIENT_LOG` is what the instrumented clients saw of it
(``conversations.create``, ``conversations.items.create`` / ``delete``, requests outside a
turn, see ``integrations.openai``): a conversation created by one, with the items it was
created with, and used by no request yet, is whole; any other is recorded as today (its input
alone, after any items the client added that the log holds) and reported once per rollout,
so nothing is silently partial. A deleted item, or a request the rollout did not record,
makes the conversation unknown again: the next request is recorded from there on, reported.

Memory: a rollout keeps the items of the latest :data:`_KEPT_STATES` conversations it used (a
server handling many short conversations in one rollout would otherwise keep every one until
it closes). A request on one it let go of is recorded from there on, and reported, as a
conversation changed where the rollout did not see it is.

Thread-safe: an agent may record from worker threads, and one conversation may be used by
several of a rollout's threads. A lock serialises a rollout's requests and answers on
conversations (a request takes its conversation out of the bound's order and puts it back
last: without the lock another OS thread's request on it in between found none and reported
it as not seen from its start, and two threads letting the oldest go at once raised into the
recording call, which lost the inference). Forked children get fresh locks.

A request that also sends ``previous_response_id`` (the API refuses both) is left as the
request memo records it.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ._item_refs import KnownItems
from ._plain import to_plain
from ._problems import Problem
from ._text import shown
from .requests import normalize_request

__all__ = ["CLIENT_LOG", "ClientLog", "Conversations", "Sent", "conversation_id"]

#: How many conversations the client log keeps (the latest): one is used soon after it is made.
_KEPT: Final = 1024
#: How many conversations a rollout keeps the items of (the latest used), and how many ids of
#: those it let go of it remembers (to say why a request is recorded without what came before).
_KEPT_STATES: Final = 1024
_KEPT_FORGOTTEN: Final = 16384


def conversation_id(value: Any) -> str | None:
    """The id a request's ``conversation`` names: the string, or a mapping's ``id``."""
    if value.__class__ is str:
        return str(value)
    if isinstance(value, Mapping):
        ident = value.get("id")
        return ident if isinstance(ident, str) else None
    ident = getattr(value, "id", None)  # an SDK object
    return ident if isinstance(ident, str) else None


@dataclass
class _Seen:
    """What the clients did to one conversation that no rollout has taken yet."""

    #: created by an instrumented client and used by no request: its whole content is known
    fresh: bool
    #: the items it was created with or given since, as the client sent (or got back) them
    items: list[Any] = field(default_factory=list)
    #: an item was deleted, a request not recorded used it: what it holds is not known
    altered: bool = False


class ClientLog:
    """What instrumented clients did to conversations, process-wide (a conversation may be
    created before the rollout using it opens, and from any thread)."""

    def __init__(self) -> None:
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()

    def _entry(self, conv: str, *, fresh: bool = False) -> _Seen:
        seen = self._seen.get(conv)
        if seen is None:
            seen = self._seen[conv] = _Seen(fresh)
            while len(self._seen) > _KEPT:  # the oldest goes (insertion order)
                del self._seen[next(iter(self._seen))]
        return seen

    def created(self, conv: str, items: Iterable[Any] = ()) -> None:
        """``conversations.create`` made ``conv`` holding ``items``."""
        with self._lock:
            self._seen.pop(conv, None)
            self._entry(conv, fresh=True).items.extend(items)

    def added(self, conv: str, items: Iterable[Any]) -> None:
        """``conversations.items.create`` appended ``items`` to ``conv``."""
        with self._lock:
            self._entry(conv).items.extend(items)

    def altered(self, conv: str) -> None:
        """``conv`` changed in a way not seen (an item deleted, a request not recorded)."""
        with self._lock:
            seen = self._entry(conv)
            seen.altered = True
            seen.items.clear()

    def used(self, conv: str) -> None:
        """A request no rollout records used ``conv``: what it holds is not known any more."""
        self.altered(conv)

    def take(self, conv: str) -> _Seen | None:
        """What was seen of ``conv`` since it was last taken (a rollout's request takes it)."""
        with self._lock:
            return self._seen.pop(conv, None)


#: The process's client log (instrumented clients write, rollouts take).
CLIENT_LOG: Final = ClientLog()


@dataclass
class _State:
    """One conversation as a rollout recorded it."""

    #: the items the model saw so far, in the server's order (normalised, without our ids)
    items: list[Any] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Sent:
    """A request on a conversation, until it is answered."""

    conversation: str
    #: the items the model saw with it: the conversation's, then the request's input
    items: list[Any]


class Conversations:
    """One rollout's conversations (see the module's docstring)."""

    __slots__ = ("__weakref__", "_forgotten", "_known", "_lock", "_log", "_states")

    def __init__(self, known: KnownItems | None = None, log: ClientLog = CLIENT_LOG) -> None:
        self._known = known
        self._log = log
        #: serialises requests and answers from several OS threads (see the module's docstring)
        self._lock = threading.Lock()
        _LIVE.add(self)
        #: the conversations used, the latest last (insertion order; a use moves one there)
        self._states: dict[str, _State] = {}
        #: the ones let go of (:data:`_KEPT_STATES`), as a set in insertion order
        self._forgotten: dict[str, None] = {}

    def request(self, sent: Any, body: dict[str, Any], problems: list[Problem]) -> Sent | None:
        """Make the normalised request ``body`` show the conversation it continues (see the
        module's docstring); None when it continues none.

        Args:
            sent: the request as the caller gave it (does it send ``previous_response_id``?).
            body: the request as normalised (updated in place).
            problems: what is reported for the request (appended to).
        """
        conv = body.get("conversation")
        if conv is None:
            return None
        ident = conversation_id(conv)
        if ident is None or _continues_a_response(sent):
            return None
        with self._lock:
            return self._request(ident, body, problems)

    def _request(self, ident: str, body: dict[str, Any], problems: list[Problem]) -> Sent:
        """:meth:`request` on conversation ``ident``, under the lock."""
        seen = self._log.take(ident)
        state = self._states.pop(ident, None)
        added = [] if seen is None else self._items(seen.items, problems)
        if state is None and ident in self._forgotten:
            del self._forgotten[ident]
            state = _State(added)
            problems.append(
                Problem(
                    "conversation let go of",
                    f"request conversation {shown(ident)} was let go of (a rollout keeps the items"
                    f" of the {_KEPT_STATES} conversations it used last); recorded from here on"
                    " (the request's input"
                    + (" after the items the client added)" if added else " alone)"),
                )
            )
        elif state is None:
            state = _State(added)
            if seen is None or not seen.fresh or seen.altered:
                problems.append(
                    Problem(
                        "conversation not recorded",
                        f"request conversation {shown(ident)} holds items this rollout did not"
                        " record (made before the rollout opened, used outside it, or given"
                        " items the client did not see); recorded without them: the request's"
                        " input" + (" after the items the client added" if added else " alone"),
                    )
                )
        elif seen is not None and seen.altered:
            state.items = added
            problems.append(
                Problem(
                    "conversation changed unseen",
                    f"request conversation {shown(ident)} changed where this rollout did not see it"
                    " (an item deleted, a request not recorded); recorded from here on (the"
                    " request's input"
                    + (" after the items the client added)" if added else " alone)"),
                )
            )
        elif added:
            state.items = state.items + added
        self._keep(ident, state)
        body["input"] = state.items + body["input"]
        return Sent(ident, body["input"])

    def _keep(self, ident: str, state: _State) -> None:
        """``ident``'s state, now the latest used; the oldest let go of beyond the bound."""
        states = self._states
        states[ident] = state
        while len(states) > _KEPT_STATES:
            oldest = next(iter(states))
            del states[oldest]
            forgotten = self._forgotten
            forgotten[oldest] = None
            while len(forgotten) > _KEPT_FORGOTTEN:
                del forgotten[next(iter(forgotten))]

    def answered(self, sent: Sent, output: list[Any]) -> None:
        """The request ``sent`` was answered with ``output``: the server appended both to
        the conversation (a request that failed added nothing)."""
        with self._lock:
            state = self._states.get(sent.conversation)
            if state is not None:
                state.items = sent.items + output

    def _items(self, items: list[Any], problems: list[Problem]) -> list[Any]:
        """Items the client added, typed as a request's are."""
        if not items:
            return []
        body, found = normalize_request({"input": to_plain(items)}, known=self._known)
        problems.extend(found)
        typed: list[Any] = body["input"]
        return typed


#: Every rollout's conversations in this process (a fork gives each a fresh lock).
_LIVE: weakref.WeakSet[Conversations] = weakref.WeakSet()


def _fresh_locks_in_child() -> None:
    """In a forked child: fresh locks. The parent's may have been held by one of its threads,
    which the child does not have: the child's next request on a conversation waited for it
    for good."""
    CLIENT_LOG._lock = threading.Lock()
    for conversations in list(_LIVE):
        conversations._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_fresh_locks_in_child)


def _continues_a_response(sent: Any) -> bool:
    """Whether the request sends ``previous_response_id`` too (the API refuses it)."""
    if isinstance(sent, Mapping):
        return sent.get("previous_response_id") is not None
    return getattr(sent, "previous_response_id", None) is not None
