"""Model-visible call ids made unique: one call, one id, in the whole rollout.

Both reducers (ours and Codex's) take a call id to name one call: a second call item of the
thread with that id and other content makes them refuse the whole bundle ("model-visible call
id X was reused with different content"), and so does a second tool call for it anywhere in
the rollout ("duplicate tool call for model-visible call id X"). Models and servers do send
that: an OpenAI-compatible server numbering tool calls from ``call_0`` in every response,
sub-agents numbering their own. The recorder must not change what the agent sends the
provider, but it can record the calls so that the trace keeps one id per call: a call the
model makes with an id an earlier call of the rollout had is recorded as ``X#2`` (``#3``,
...; the first keeps ``X``), and so is every later mention of that call (the item resent in a
request, its output, the tool call that ran it, its code cell). The agent's own copies (what
``completed``, ``accept`` and ``installed`` return) keep the model's ids:
:meth:`CallIds.unrenamed`.

Which call a mention means:

- a call item in a response is a new call (in a response cut off too; its retry makes the
  same calls again);
- an item whose id was recorded before (ids are handed out by :class:`.items.ItemIds`, or
  the model's own) names the call it was recorded with;
- a call item sent in a request otherwise: the first call with that id and content the
  request has not named yet (a resend), else a new call (one the loop made up);
- an output: the call its tool call ran, else the call item before it in the same request,
  else the latest call with its id;
- a tool call: of the calls with its id no tool call has yet, the first with its arguments.

Where no id is reused this costs a few dict operations per call item.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import orjson

#: Items that are a call (the model's) and items that answer one, by ``type``.
CALL_TYPES: Final = frozenset({"function_call", "custom_tool_call"})
CALL_OUTPUT_TYPES: Final = frozenset({"function_call_output", "custom_tool_call_output"})
_MENTIONS: Final = CALL_TYPES | CALL_OUTPUT_TYPES

_Content = tuple[Any, Any, Any, Any]


def _content(item: dict[str, Any]) -> _Content:
    """What tells two calls with one id apart."""
    return (item.get("type"), item.get("name"), item.get("arguments"), item.get("input"))


def _same_content(a: _Content, b: _Content) -> bool:
    if a == b:
        return True
    # arguments the loop serialised again ('{"a": 1}' for '{"a":1}') are still one call, as
    # the reducers see it
    if a[:2] != b[:2] or a[3] != b[3] or a[2].__class__ is not str or b[2].__class__ is not str:
        return False
    try:
        return bool(orjson.loads(a[2]) == orjson.loads(b[2]))
    except (orjson.JSONDecodeError, RecursionError):
        return False


def _same(known: dict[str, Any], item: dict[str, Any]) -> bool:
    """Whether ``item`` is the call ``known`` (the item that call was recorded from)."""
    return known is item or _same_content(_content(known), _content(item))


def _runs(known: dict[str, Any] | None, arguments: Any) -> bool:
    """Whether a tool call given ``arguments`` (JSON text, its parsed object, or a custom
    input) runs the call recorded from ``known``."""
    if known is None or arguments is None:
        return False
    kind, name, recorded, custom = _content(known)
    if arguments.__class__ is str:
        return arguments == custom or _same_content(
            (kind, name, recorded, custom), (kind, name, arguments, custom)
        )
    if recorded.__class__ is not str:
        return bool(recorded == arguments)
    try:
        return bool(orjson.loads(recorded) == arguments)
    except (orjson.JSONDecodeError, RecursionError):
        return False


class RequestCalls:
    """What one request's item list said so far: the call each id last named, and the
    calls it mentioned (a resend names each call once)."""

    __slots__ = ("current", "taken")

    def __init__(self) -> None:
        self.current: dict[str, str] = {}
        self.taken: set[str] = set()


class RolloutCallNames:
    """The call ids recorded in a rollout, over all its threads: Codex's reducer (and ours)
    links a tool call to a model-visible call id across the whole rollout, so two threads
    whose models both said ``call_0`` record it under two names too."""

    __slots__ = ("claimed", "used")

    def __init__(self) -> None:
        #: every recorded call id
        self.used: set[str] = set()
        #: the recorded call ids a tool call links to
        self.claimed: set[str] = set()


class CallIds:
    """One thread's calls by model-visible id (names unique in the rollout, see
    :class:`RolloutCallNames`). Not thread-safe, like :class:`.items.ItemIds`.

    Args:
        note: counts a loss-report kind (``"call id"`` for each call recorded under a new
            name).
        names: the rollout's recorded call ids (a new one each when not given).
    """

    __slots__ = ("_calls", "_cut", "_named", "_names", "_note", "_original")

    def __init__(self, note: Callable[[str], None], names: RolloutCallNames | None = None) -> None:
        self._note = note
        self._names = RolloutCallNames() if names is None else names
        # the model's call id → (recorded name, the item it was recorded from) of each call
        # made with it, in order; no item when only its output or tool call was seen so far
        self._calls: dict[str, list[tuple[str, dict[str, Any] | None]]] = {}
        # item id → the call id it was recorded with
        self._named: dict[str, str] = {}
        # recorded name → the model's call id, for the names that differ
        self._original: dict[str, str] = {}
        # item id → the call a cut-off response made with it: a retry that makes it again
        # makes the same call
        self._cut: dict[str, str] = {}

    # --- naming --------------------------------------------------------------------------------

    def _new_call(self, call_id: str, item: dict[str, Any] | None) -> str:
        used = self._names.used
        calls = self._calls.get(call_id)
        if calls is None:
            if call_id not in used:  # the common case: the first call with this id
                used.add(call_id)
                self._calls[call_id] = [(call_id, item)]
                return call_id
            calls = self._calls[call_id] = []
        n = len(calls) + 1
        while (name := f"{call_id}#{n}") in used or name in self._calls or n < 2:
            n += 1  # the model's own ids may look like ours
        calls.append((name, item))
        used.add(name)
        self._original[name] = call_id
        self._note("call id")
        return name

    def _next_name(self, call_id: str) -> str:
        """The name the next call with this id will get (nothing recorded)."""
        calls = self._calls.get(call_id)
        used = self._names.used
        if calls is None and call_id not in used:
            return call_id
        n = 1 if calls is None else len(calls) + 1
        while (name := f"{call_id}#{n}") in used or name in self._calls or n < 2:
            n += 1
        return name

    def _as(self, item: dict[str, Any], item_id: str | None, call_id: str, name: str) -> Any:
        """``item`` as recorded under ``name``; remembers the name of its id (a later
        mention by id is that call, whatever calls have the id by then)."""
        if item_id is not None:
            self._named[item_id] = name
        if name == call_id:
            return item
        copy = dict(item)
        copy["call_id"] = name
        return copy

    def _latest(self, call_id: str) -> str:
        """The latest call with this id; an output or a tool call of a call this thread
        has not seen yet makes it known (its item comes with its first call item)."""
        calls = self._calls.get(call_id)
        if calls is not None:
            return calls[-1][0]
        return self._new_call(call_id, None)

    def _matching(self, call_id: str, item: dict[str, Any], taken: set[str] | None) -> str | None:
        """The first call with this id and content not in ``taken``; with no ``taken``, the
        latest such call. A call known only by its output takes this item."""
        calls = self._calls.get(call_id)
        if calls is None:
            return None
        found = None
        for i, (name, known) in enumerate(calls):
            if known is None:
                calls[i] = (name, item)
            elif not _same(known, item):
                continue
            if taken is None:
                found = name
            elif name not in taken:
                return name
        return found

    # --- mentions ------------------------------------------------------------------------------

    def produced(self, item: Any, item_id: str | None) -> Any:
        """An item the model just produced: a call item is a new call, even with an id and
        content seen before (the model called the same thing again)."""
        if item.__class__ is not dict or item.get("type") not in CALL_TYPES:
            return self.entered(item, item_id)
        call_id = item.get("call_id")
        if call_id.__class__ is not str:
            return item
        name = self._cut.pop(item_id, None) if self._cut and item_id is not None else None
        return self._as(item, item_id, call_id, name or self._new_call(call_id, item))

    def cut(self, item: Any) -> Any:
        """An item of a response cut off (failed, cancelled): its calls are calls the
        model made, as in :meth:`produced`, and a retry making them again makes the same."""
        if item.__class__ is not dict or item.get("type") not in CALL_TYPES:
            return self.seen(item)
        call_id = item.get("call_id")
        item_id = item.get("id")
        if call_id.__class__ is not str or item_id.__class__ is not str:
            return item
        name = self._cut.get(item_id) or self._new_call(call_id, item)
        self._cut[item_id] = name
        return self._as(item, item_id, call_id, name)

    def entered(self, item: Any, item_id: str | None, call: str | None = None) -> Any:
        """An item entering the history from the agent (``accept``, a tool's output): a
        call item is the latest call it matches, else a new one; an output answers ``call``
        (the recorded id of the tool call's call) when it names that call, else the latest
        call with its id."""
        if item.__class__ is not dict or (kind := item.get("type")) not in _MENTIONS:
            return item
        call_id = item.get("call_id")
        if call_id.__class__ is not str:
            return item
        if call is not None and (call == call_id or self._original.get(call) == call_id):
            name = call
        elif kind in CALL_TYPES:
            name = self._matching(call_id, item, None) or self._new_call(call_id, item)
        else:
            calls = self._calls.get(call_id)
            name = self._new_call(call_id, None) if calls is None else calls[-1][0]
        return self._as(item, item_id, call_id, name)

    def sent(self, item: Any, item_id: str | None, request: RequestCalls) -> Any:
        """An item of a request's list, in list order (see the module docstring)."""
        if item.__class__ is not dict or (kind := item.get("type")) not in _MENTIONS:
            return item
        call_id = item.get("call_id")
        if call_id.__class__ is not str:
            return item
        name = None if item_id is None else self._named.get(item_id)
        if kind in CALL_TYPES:
            if name is None:
                name = self._matching(call_id, item, request.taken) or (
                    self._matching(call_id, item, None) or self._new_call(call_id, item)
                )
            request.current[call_id] = name
            request.taken.add(name)
        elif name is None:
            name = request.current.get(call_id) or self._latest(call_id)
        return self._as(item, item_id, call_id, name)

    def seen(self, item: Any) -> Any:
        """An item outside the history (a partial output, a snapshot): named as a mention
        would be, without counting a call."""
        if item.__class__ is not dict or (kind := item.get("type")) not in _MENTIONS:
            return item
        call_id = item.get("call_id")
        if call_id.__class__ is not str:
            return item
        item_id = item.get("id")
        name = self._named.get(item_id) if item_id.__class__ is str else None
        if name is None:
            calls = self._calls.get(call_id)
            if calls is not None and kind not in CALL_TYPES:
                name = calls[-1][0]
            else:
                # a call seen before, or the name the next call will get
                name = (calls and self._matching(call_id, item, None)) or self._next_name(call_id)
        if name == call_id:
            return item
        copy = dict(item)
        copy["call_id"] = name
        return copy

    # --- the agent's side ----------------------------------------------------------------------

    def unrenamed(self, items: Sequence[Any]) -> list[Any]:
        """``items`` with the model's call ids back (copies where a name differs)."""
        if not self._original:
            return list(items)
        original = self._original
        out = []
        for item in items:
            name = item.get("call_id") if item.__class__ is dict else None
            if name.__class__ is str and name in original:
                item = dict(item)
                item["call_id"] = original[name]
            out.append(item)
        return out

    def claim(self, call_id: str, arguments: Any = None) -> str | None:
        """The recorded id of the call a tool call runs: of the calls with ``call_id`` no
        tool call has yet, the first whose arguments (or custom input) are ``arguments``,
        else the latest; ``None`` when every one has its tool call (one call, one link)."""
        claimed = self._names.claimed
        calls = self._calls.get(call_id)
        if calls is None:
            name: str | None = self._new_call(call_id, None)
        elif len(calls) == 1:  # the common case: nothing to choose
            name = calls[0][0]
        else:
            free = [(name, known) for name, known in calls if name not in claimed]
            name = next(
                (name for name, known in free if _runs(known, arguments)),
                free[-1][0] if free else None,
            )
        if name is None or name in claimed:
            return None
        claimed.add(name)
        return name
