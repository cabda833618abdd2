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

Only a model's response makes a new call (in a response cut off too: its retry makes the
same calls again), or a call item the agent accepts with arguments no call with its id had (a
loop that records no responses); requests never do, so a call resent with its arguments
rebuilt stays the call it was. A request naming calls its thread never saw but another
thread made (a handoff's or a fork's history) names those calls, under their names: such an
id is *shared*, and its mentions go the long way below over this thread's calls and the
others' (taken again whenever a thread has made another call with the id). Every other
mention names one of the calls already made with its id; which one matters only once there
are two:

- a call item: the one its item id was recorded with, if the request has not gone past it;
  else (a history lists calls in the order they were made) the next with its arguments,
  else the one its id names, else the next one;
- an output: the one its tool call ran (``ToolCall.completed``) or its item id was recorded
  with (an output's id is made from its call's name); else, in a request, the call whose
  output has its text (told by length, head and tail), else the request's first call still
  unanswered; else (``accept``) the first unanswered call of the latest response;
- a tool call: of the calls no tool call has yet (those with its arguments, input or
  command, if any), the first of the latest response's.

Arguments match as given or as JSON values (``_call_args``); an item id (a provider may give
every item the same) is not trusted against arguments that say otherwise. A call cut off
mid-arguments and its retry are two contents to the reducers, so two calls here too.

Two calls with one id and the same arguments, and outputs of parallel same-id calls accepted
(or tools given no arguments) in another order than the calls, cannot be told apart: order
decides. Content is compared by fingerprints (``_call_args``), and an id with one call costs
a few dict operations per mention.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from ._call_args import NO_ARGS, Args, args_of, call_arguments, fingerprint, same_args
from ._renaming import Names

#: Items that answer a call of a tool the agent runs, by ``type``.
CALL_OUTPUT_TYPES: Final = frozenset({"function_call_output", "custom_tool_call_output"})
#: Every call a call id names, as the reducers read them (server-side calls too), and every
#: item that mentions one (the only items this module looks at).
_CALLS: Final = frozenset(
    {"function_call", "custom_tool_call", "local_shell_call", "tool_search_call"}
)
MENTIONS: Final = _CALLS | CALL_OUTPUT_TYPES | {"tool_search_output"}


def is_call_output(item: Any) -> bool:
    """Whether ``item`` is a mapping typed as a tool call's output (``CALL_OUTPUT_TYPES``).
    A type that is an object or a list is not one (rather than unhashable, which would lose
    the whole recording call)."""
    try:
        return isinstance(item, Mapping) and item.get("type") in CALL_OUTPUT_TYPES
    except TypeError:
        return False


def as_str(value: Any) -> str | None:
    """A call id or item id as the string it is: a ``str`` subclass (an enum member, a
    library's string type) as its own string, so it names the call the same string names;
    ``None`` for what is no string. For the slow branch of a ``__class__ is str`` check."""
    return str.__str__(value) if isinstance(value, str) else None


def _mention(item: Any) -> tuple[str, str] | None:
    """An item's type and the call id it mentions (a str subclass, an enum member, as its
    string), or ``None`` when it mentions no call by a usable id."""
    try:
        if item.__class__ is not dict or (kind := item.get("type")) not in MENTIONS:
            return None
    except TypeError:  # an unhashable type (an object, a list): no call's
        return None
    call_id = item.get("call_id")
    if call_id.__class__ is not str and (call_id := as_str(call_id)) is None:
        return None
    return kind, call_id


def _unanswered(calls: list[_Call]) -> _Call:
    """The call an output the agent accepts answers: of those with no output yet, the
    first the latest response made; else the latest."""
    unanswered = [c for c in calls if not c.outputs]
    if not unanswered:
        return calls[-1]
    latest = unanswered[-1].response
    return next(c for c in unanswered if c.response is latest)


class _Call:
    """One call the model made with some id."""

    __slots__ = ("arguments", "name", "outputs", "response")

    def __init__(self, name: str, response: object, arguments: Args) -> None:
        #: its id in the trace
        self.name = name
        #: the response that made it (None: only a mention was seen)
        self.response = response
        #: its arguments' fingerprints
        self.arguments = arguments
        #: its outputs' fingerprints, as they entered the history
        self.outputs: list[int | None] = []


#: The "response" of a call another thread of the rollout made, seen here in a request (a
#: history handed over or forked): not this thread's model's, so a response of this thread
#: that makes a call with the id makes a new one.
_ELSEWHERE: Final = object()


class RolloutCallNames:
    """The call ids recorded in a rollout, over all its threads: Codex's reducer (and ours)
    links a tool call to a model-visible call id across the whole rollout, so two threads
    whose models both said ``call_0`` record it under two names too."""

    __slots__ = ("claimed", "shared", "threads", "used")

    def __init__(self) -> None:
        #: every recorded call id
        self.used: Names = {}
        #: the recorded call ids a tool call links to
        self.claimed: Names = {}
        #: each thread's calls (read only when a thread's request names another's calls)
        self.threads: list[CallIds] = []
        #: model call ids more than one thread has calls with -> how many times a thread has
        #: made one since: a request naming one may name another thread's call (a history
        #: handed over), so its mentions take the long way, adopting what is new
        self.shared: dict[str, int] = {}

    def made_elsewhere(self, call_id: str, here: CallIds, known: list[_Call]) -> list[_Call]:
        """The calls other threads made with this model id that ``known`` (``here``'s) lacks,
        as ``here`` may name them (its own copies: names, arguments and outputs'
        fingerprints), in each thread's order."""
        names = {call.name for call in known}
        found = []
        for ids in self.threads:
            if ids is not here:
                for call in ids.calls_made(call_id):
                    if call.name not in names:
                        names.add(call.name)
                        copy = _Call(call.name, _ELSEWHERE, call.arguments)
                        copy.outputs = list(call.outputs)
                        found.append(copy)
        return found


class RequestCalls:
    """What one request's item list named so far, for ids with more than one call: the last
    call it named (by index) and the calls still unanswered in it, in order."""

    __slots__ = ("last", "pending")

    def __init__(self) -> None:
        self.last: dict[str, int] = {}
        self.pending: dict[str, list[_Call]] = {}


class CallIds:
    """One thread's calls by model-visible id (names unique in the rollout, see
    :class:`RolloutCallNames`). Not thread-safe, like :class:`.items.ItemIds`.

    Args:
        note: counts a loss-report kind (``"call id"`` for each call recorded under a new
            name).
        names: the rollout's recorded call ids (a new one each when not given).
    """

    __slots__ = ("_adopted", "_calls", "_cut", "_named", "_names", "_note", "_original", "_solo")

    def __init__(self, note: Callable[[str], None], names: RolloutCallNames | None = None) -> None:
        self._note = note
        self._names = RolloutCallNames() if names is None else names
        # the model's call id → the calls made with it, in order
        self._calls: dict[str, list[_Call]] = {}
        # item id (a call's, an output's) → the call id it was recorded with
        self._named: dict[str, str] = {}
        # recorded name → the model's call id, for the names that differ
        self._original: dict[str, str] = {}
        # call id → the calls cut-off responses made with it, in order: a retry that makes
        # one again makes the same call
        self._cut: dict[str, list[_Call]] = {}
        # ids of one call known only by its tool call or output, named as they are: no
        # record until it takes one (a loop that records no responses makes many, and each
        # record would be one more object for the garbage collector to walk)
        self._solo: Names = {}
        # shared call id -> the rollout's count of its calls when this thread last took
        # the other threads' calls with it
        self._adopted: dict[str, int] = {}
        self._names.threads.append(self)

    # --- calls -----------------------------------------------------------------------------

    def _adopt(self, call_id: str, calls: list[_Call] | None) -> None:
        """Add the calls other threads made with this id to this thread's (none, ``calls``):
        the id is shared from now on."""
        known = [] if calls is None else calls
        found = self._names.made_elsewhere(call_id, self, known)
        if not found and calls is None:
            found = [_Call(call_id, _ELSEWHERE, NO_ARGS)]  # another thread's solo id
        for call in found:
            if call.name != call_id:
                self._original[call.name] = call_id
        self._calls[call_id] = known + found

    def calls_made(self, call_id: str) -> list[_Call]:
        """This thread's calls with the model id (its solo id's one call too), without
        recording anything."""
        calls = self._calls.get(call_id)
        if calls is not None:
            return calls
        return [_Call(call_id, None, NO_ARGS)] if call_id in self._solo else []

    def _calls_of(self, call_id: str) -> list[_Call] | None:
        """The calls made with this id (a solo id's one call recorded now), if any."""
        calls = self._calls.get(call_id)
        if calls is None and call_id in self._solo:
            del self._solo[call_id]
            calls = self._calls[call_id] = [_Call(call_id, None, NO_ARGS)]
        return calls

    def _new_solo(self, call_id: str) -> bool:
        """Make an id new to the rollout (solo ids are in ``used`` too) a solo id: one call
        known only by mentions, named as it is. Returns whether it was new."""
        if call_id in self._calls or call_id in self._names.used:
            return False
        self._names.used[call_id] = None
        self._solo[call_id] = None
        return True

    def _new_call(self, call_id: str, response: object, arguments: Args) -> _Call:
        used = self._names.used
        calls = self._calls_of(call_id)
        if calls is None:
            calls = self._calls[call_id] = []
        shared = self._names.shared
        if call_id in shared:
            shared[call_id] += 1  # one more call others may be handed
        elif not calls and call_id in used:
            shared[call_id] = 1  # another thread has calls with this id
        name = self._next_name(call_id, calls)
        call = _Call(name, response, arguments)
        calls.append(call)
        used[name] = None
        if name != call_id:
            self._original[name] = call_id
            self._note("call id")
        return call

    def _next_name(self, call_id: str, calls: list[_Call] | None) -> str:
        """The name the next call with this id gets."""
        used = self._names.used
        if not calls and call_id not in used:
            return call_id
        n = len(calls) + 1 if calls else 2
        while (name := f"{call_id}#{n}") in used or name in self._calls:
            n += 1  # the model's own ids may look like ours
        return name

    def _known(self, call_id: str) -> list[_Call]:
        """The calls with this id; a mention of one this thread has not seen (a tool call or
        an output of a loop that records no responses) makes it known."""
        calls = self._calls_of(call_id)
        if calls is None:
            self._new_call(call_id, None, NO_ARGS)
            calls = self._calls[call_id]
        return calls

    def _as(self, item: dict[str, Any], item_id: str | None, call_id: str, name: str) -> Any:
        """``item`` as recorded under ``name``; its id remembers it."""
        if item_id is not None:
            self._named[item_id] = name
        if name == call_id:
            return item
        copy = dict(item)
        copy["call_id"] = name
        return copy

    def _which_call(
        self, calls: list[_Call], item: dict[str, Any], item_id: str | None, after: int
    ) -> int:
        """Which of several calls a call item (not from a response) names, as an index into
        ``calls``. A history lists calls in the order they were made, so: the one its id was
        recorded with, if after index ``after``; else the first after ``after`` with its
        arguments (an id derived from the content is the same for two calls with the same
        arguments); else the one its id names; else the first with its arguments; else the
        first after ``after``; else the latest."""
        named = self._named.get(item_id) if item_id is not None else None
        by_id = next((i for i, c in enumerate(calls) if c.name == named), None)
        arguments = call_arguments(item)
        known = calls[by_id].arguments if by_id is not None else NO_ARGS
        if known[1] is not None and not same_args(known, arguments):
            by_id = None  # an id the provider gives every item: the arguments say no
        if by_id is not None and by_id > after:
            return by_id
        same = [i for i, c in enumerate(calls) if same_args(c.arguments, arguments)]
        later = next((i for i in same if i > after), None)
        if later is not None:
            return later
        if by_id is not None:
            return by_id
        return same[0] if same else min(after + 1, len(calls) - 1)

    @staticmethod
    def _answered(calls: list[_Call], output: int | None, pending: list[_Call]) -> _Call | None:
        """The call whose output (fingerprinted) this is, by its text: one still unanswered
        in the request first (two calls may give the same text)."""
        if output is None:
            return None
        found = [c for c in calls if output in c.outputs]
        return next((c for c in pending if c in found), found[0] if found else None)

    # --- mentions ------------------------------------------------------------------------------

    def produced(self, item: Any, item_id: str | None, response: object) -> Any:
        """An item the model just produced in ``response``: a call item is a new call, even
        with an id and arguments seen before (the model called the same thing again)."""
        try:
            is_call = item.__class__ is dict and item.get("type") in _CALLS
        except TypeError:  # an unhashable type (an object, a list): no call
            is_call = False
        if not is_call:
            return self.entered(item, item_id)
        call_id = item.get("call_id")
        if call_id.__class__ is not str and (call_id := as_str(call_id)) is None:
            return item  # (a str subclass, an enum member, is its string)
        arguments = call_arguments(item)
        calls = self._calls_of(call_id)
        used = self._names.used
        if calls is None and call_id not in used and not self._cut:
            # the common case, kept short: the first call with this id in the rollout
            used[call_id] = None
            self._calls[call_id] = [_Call(call_id, response, arguments)]
            if item_id is not None:
                self._named[item_id] = call_id
            return item
        call = self._retried(call_id, arguments) if self._cut else None
        if call is not None:
            call.response, call.arguments = response, arguments
        else:
            if calls is not None and len(calls) == 1 and calls[0].response is None:
                call = calls[0]  # known from its tool call or output only: this is it
                call.response, call.arguments = response, arguments
            else:
                call = self._new_call(call_id, response, arguments)
        return self._as(item, item_id, call_id, call.name)

    def _retried(self, call_id: str, arguments: Args) -> _Call | None:
        """A call a cut-off response made that this one makes again (same id and
        arguments), taken off the calls cut off. A call cut off mid-arguments is not the
        one its retry makes: the reducers see two contents, so two names are needed."""
        cut = self._cut.get(call_id)
        if not cut:
            return None
        for n, call in enumerate(cut):
            if same_args(call.arguments, arguments):
                del cut[n]
                if not cut:
                    del self._cut[call_id]
                return call
        return None

    def cut(self, item: Any, response: object) -> Any:
        """An item of a response cut off (failed, cancelled): its calls are calls the
        model made, as in :meth:`produced`, and a retry making them again makes the same."""
        try:
            is_call = item.__class__ is dict and item.get("type") in _CALLS
        except TypeError:  # an unhashable type (an object, a list): no call
            is_call = False
        if not is_call:
            return self.seen(item)
        call_id = item.get("call_id")
        if call_id.__class__ is not str and (call_id := as_str(call_id)) is None:
            return item  # (a str subclass, an enum member, is its string)
        arguments = call_arguments(item)
        cut = self._cut.setdefault(call_id, [])
        # the same call cut off before (a retry cut off again), else a new one
        call = next(
            (c for c in cut if c.response is not response and same_args(c.arguments, arguments)),
            None,
        )
        if call is None:
            call = self._new_call(call_id, response, arguments)
            cut.append(call)
        call.response = response
        # no item id remembers it: a snapshot's ids are not counted, others may have them
        return self._as(item, None, call_id, call.name)

    def entered(self, item: Any, item_id: str | None, call: str | None = None) -> Any:
        """An item entering the history from the agent (``accept``, a tool's output):
        ``call`` is the recorded id of the call a tool ran, when a tool gives its output."""
        mention = _mention(item)
        if mention is None:
            return item
        kind, call_id = mention
        if kind in _CALLS:
            return self._as(item, item_id, call_id, self._accepted_call(call_id, item, item_id))
        if call_id in self._solo or self._new_solo(call_id):
            return self._as(item, item_id, call_id, call_id)  # a loop recording no responses
        calls = self._known(call_id)
        if len(calls) == 1:  # the common case: nothing to choose
            answered = calls[0]
        else:
            ran = None
            if call is not None and (call == call_id or self._original.get(call) == call_id):
                ran = next((c for c in calls if c.name == call), None)
            answered = ran or _unanswered(calls)
        answered.outputs.append(fingerprint(item.get("output")))
        return self._as(item, item_id, call_id, answered.name)

    def remember(self, item_id: str, item: Any) -> None:
        """An output's id, given once it was named (its id comes from its call's name)."""
        name = item.get("call_id")
        if name.__class__ is str or (name := as_str(name)) is not None:
            self._named[item_id] = name

    def _accepted_call(self, call_id: str, item: dict[str, Any], item_id: str | None) -> str:
        """The call a call item the agent accepts is: the one recorded with its id, else the
        latest with its arguments, else a new one (a loop recording no responses accepts
        the model's calls itself)."""
        named = self._named.get(item_id) if item_id is not None else None
        if named is not None:
            return named
        arguments = call_arguments(item)
        calls = self._calls_of(call_id)
        if calls is None:
            return self._new_call(call_id, None, arguments).name
        if len(calls) == 1 and calls[0].arguments == NO_ARGS:
            calls[0].arguments = arguments  # known from its tool call or output only
            return calls[0].name
        same = [c for c in calls if same_args(c.arguments, arguments)]
        return same[-1].name if same else self._new_call(call_id, None, arguments).name

    def sent(self, item: Any, item_id: str | None, request: RequestCalls) -> Any:
        """An item of a request's list, in list order (see the module docstring)."""
        mention = _mention(item)
        if mention is None:
            return item
        kind, call_id = mention
        if call_id in self._solo:
            if kind in _CALLS:
                request.last[call_id] = 0
            return self._as(item, item_id, call_id, call_id)
        calls = self._calls.get(call_id)
        shared = self._names.shared
        if calls is not None and len(calls) == 1 and call_id not in shared:
            # the common case, kept short
            if kind in _CALLS:
                request.last[call_id] = 0  # the order matters once there are two
            name = calls[0].name
            return item if name == call_id else self._as(item, item_id, call_id, name)
        version = shared.get(call_id)
        if version is None and calls is None and call_id in self._names.used:
            version = shared[call_id] = 1  # another thread's call, named here
        if version is not None and self._adopted.get(call_id) != version:
            # calls this thread never saw but others made (a handoff's or a fork's history):
            # the same calls, under the names the rollout knows them by
            self._adopt(call_id, calls)
            self._adopted[call_id] = version
        calls = self._known(call_id)
        if len(calls) == 1:
            return self._as(item, item_id, call_id, calls[0].name)
        if kind in _CALLS:
            index = self._which_call(calls, item, item_id, request.last.get(call_id, -1))
            request.last[call_id] = index
            found = calls[index]
            request.pending.setdefault(call_id, []).append(found)
        else:
            pending = request.pending.get(call_id) or []
            output = fingerprint(item.get("output"))
            named = self._named.get(item_id) if item_id is not None else None
            by_id = next((c for c in calls if c.name == named), None)
            if by_id is not None and by_id.outputs and output not in by_id.outputs:
                by_id = None  # an id given to every output: the text says no
            found = (
                by_id
                or self._answered(calls, output, pending)
                or (pending[0] if pending else calls[-1])
            )
            if found in pending:
                pending.remove(found)
            if output not in found.outputs:
                found.outputs.append(output)
        return self._as(item, item_id, call_id, found.name)

    def seen(self, item: Any) -> Any:
        """An item outside the history (a snapshot of a tool's output, a compaction's):
        named as a mention would be, without making any call known."""
        mention = _mention(item)
        if mention is None:
            return item
        kind, call_id = mention
        calls = self._calls.get(call_id)
        version = self._names.shared.get(call_id)
        if (version is not None and self._adopted.get(call_id) != version) or (
            calls is None and call_id not in self._solo and call_id in self._names.used
        ):
            # other threads' calls with this id, as a request would adopt them (looked at
            # only: a snapshot makes nothing known)
            known = [] if calls is None else calls
            calls = known + self._names.made_elsewhere(call_id, self, known) or None
        if calls is None:
            name = call_id if call_id in self._solo else self._next_name(call_id, None)
        elif len(calls) == 1:
            name = calls[0].name
        elif kind in _CALLS:
            item_id = item.get("id")
            name = calls[
                self._which_call(calls, item, item_id if item_id.__class__ is str else None, -1)
            ].name
        else:
            output = fingerprint(item.get("output"))
            name = (self._answered(calls, output, []) or calls[-1]).name
        return self._as(item, None, call_id, name)

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

    def unrenamed_item(self, item: Any) -> Any:
        """:meth:`unrenamed` for one item."""
        if not self._original:  # nothing was renamed: the item as it is
            return item
        return self.unrenamed([item])[0]

    def claim(self, call_id: str, arguments: Any = None) -> str | None:
        """The recorded id of the call a tool call runs: of the calls with ``call_id`` no
        tool call has yet (those with its arguments or custom input, if any), the first the
        latest response made; ``None`` when every one has its tool call (one call, one
        link)."""
        claimed = self._names.claimed
        if self._new_solo(call_id):
            claimed[call_id] = None  # the common case of a loop that records no responses
            return call_id
        calls = self._known(call_id)
        if len(calls) == 1:  # the common case: nothing to choose
            name = calls[0].name
            if name in claimed:
                return None
            claimed[name] = None
            return name
        free = [c for c in calls if c.name not in claimed]
        if not free:
            return None
        wanted = args_of(arguments)
        pool = [c for c in free if same_args(c.arguments, wanted)] or free
        latest = pool[-1].response
        found = next(c for c in pool if c.response is latest)
        claimed[found.name] = None
        return found.name
