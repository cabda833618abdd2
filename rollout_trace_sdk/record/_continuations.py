"""Requests continuing a response (``previous_response_id``) as the reducers can read them.

Both reducers (Codex 0.169 and 0.171, and ours) rebuild a request with
``previous_response_id`` R as R's call's request items, then its output, then the request's
own items (the *delta*), and check the delta against the thread's *last snapshot*: the
items of the thread's latest request, followed by that request's answer (its output, or the
partial output of a failed or cancelled attempt) when the answer came before the next
request and while no compaction waits for a full request. The delta's k-th item, at index
``len(prefix) + k``, must match the snapshot's item at that index, where the snapshot has
one; past the snapshot's end it is new. Nothing else is compared. A loop continuing the
thread's latest response (a linear chain) always passes: the snapshot is that prefix. A
retry of a failed request with the same input passes too. A retry with another input, or a
second continuation of one response (tree search: several branches of a response on one
thread), or a request after another one longer than R's history, does not: both reducers
refuse the whole bundle ("model conversation mismatch ... at item index i").

Such a request is recorded as the whole history it stands for (R's request items and output,
then its own items) without ``previous_response_id``: a full request, which both reducers
match item by item against the last snapshot and never refuse for its order. Everything
else is recorded as sent, byte for byte as before. This module follows the thread's
snapshot as the reducers will (the same requests, answers and compactions, in the same
order) and decides; the items are compared as recorded (ids filled in), equal items being
ones both reducers match (two items the reducers would match but that differ as recorded
make a whole history where the continuation would have done: also read alike).

Histories share storage: a *tape* is an append-only list of recorded items, and a history is
the first ``length`` items of a tape followed by a ``tail`` (a response's output not yet on
it). A request that continues the history at a tape's end (``previous_response_id`` of the
latest answer, or a whole request resending the snapshot first: the usual loops) extends
that tape in place, so a linear conversation is one list however many answers it holds; a
branch copies its prefix to a tape of its own. A whole request resending something else
(a window sliding over the history, a new conversation) gets a tape of its own: the recorded
list itself, copied only if something extends it.

What is kept: every response id the thread answered with, and its history's length (the
decision needs no more); the histories themselves for the :data:`KEPT` latest answers, and
no more than :data:`KEPT_ITEMS` tape slots among them (the latest answer's whatever its
size; a history's items are the recorded objects, shared with the requests, so a sliding
window would otherwise keep every window's items alive). A request continuing a response
whose history was let go, when the reducers would refuse it as sent, is recorded without
``previous_response_id`` (its input alone) and reported, as a response the thread never
recorded is.
"""

from __future__ import annotations

from typing import Any, Final

from ._held import same_items
from ._problems import Problem
from ._text import shown

__all__ = ["KEPT", "KEPT_ITEMS", "Continuations", "History"]

#: How many answered responses (the latest) a thread keeps the histories of.
KEPT: Final = 1024
#: How many tape slots (item references) those histories may hold among them; the latest
#: answer's is kept whatever its size.
KEPT_ITEMS: Final = 1 << 14


class _Unknown:
    """An item of a history that was let go: equal to nothing."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = object.__hash__


_UNKNOWN: Final = _Unknown()


class _Tape:
    """An append-only list of recorded items that several histories view."""

    __slots__ = ("counted", "items", "owned", "users")

    def __init__(self, items: list[Any], *, owned: bool) -> None:
        self.items = items
        #: whether ``items`` is ours to extend (else it is a recorded request's list)
        self.owned = owned
        #: kept answers viewing the tape, and the slots counted for them
        self.users = 0
        self.counted = 0

    def extend(self, *parts: list[Any] | tuple[Any, ...]) -> None:
        if not self.owned:
            self.items = list(self.items)
            self.owned = True
        for part in parts:
            self.items.extend(part)


class History:
    """The items a request or an answer stands for, as the reducers rebuild them."""

    __slots__ = ("length", "tail", "tape")

    def __init__(self, tape: _Tape, length: int, tail: list[Any] | tuple[Any, ...] = ()) -> None:
        self.tape = tape
        #: how many of the tape's items are this history's (then ``tail``)
        self.length = length
        self.tail = tail

    def __len__(self) -> int:
        return self.length + len(self.tail)

    def items(self, start: int = 0, stop: int | None = None) -> list[Any]:
        """The history's items ``start:stop``, as a new list."""
        end = len(self) if stop is None else min(stop, len(self))
        length = self.length
        if end <= length:
            return self.tape.items[start:end]
        return self.tape.items[start:length] + list(
            self.tail[max(0, start - length) : end - length]
        )

    def extended(self, more: list[Any] | tuple[Any, ...]) -> History:
        """This history, then ``more``: on the same tape when the history ends where the
        tape does (the tape grows; this history still names the same items)."""
        tape = self.tape
        if len(tape.items) != self.length:
            items = self.items()
            items.extend(more)
            return History(_Tape(items, owned=True), len(items))
        tape.extend(self.tail, more)
        return History(tape, len(tape.items))


def _whole(items: list[Any], *, owned: bool = False) -> History:
    return History(_Tape(items, owned=owned), len(items))


def _then(history: History, output: list[Any]) -> History:
    """``history``, then ``output`` (a response's), without touching the tape yet."""
    if not output:
        return history
    if history.tail:
        return history.extended(output)
    return History(history.tape, history.length, output)


class _Answer:
    """A response the thread answered with."""

    __slots__ = ("blind", "call", "history", "length")

    def __init__(self, call: str, history: History, *, blind: bool) -> None:
        #: the inference call that answered (the reducers take the first in id order)
        self.call = call
        self.length = len(history)
        #: the request's items and the output, None once let go
        self.history: History | None = history
        #: a request or output the bundle does not hold (schema 3): the reducers then match
        #: a continuation's items against this answer's alone, which always passes
        self.blind = blind


class Continuations:
    """One thread's snapshot as the reducers will see it, and the responses it answered
    with (see the module's docstring). One event loop owns a thread's handles."""

    __slots__ = ("_answers", "_kept", "_owner", "_pending", "_slots", "_snapshot")

    def __init__(self) -> None:
        self._answers: dict[str, _Answer] = {}
        #: response ids whose history is kept, oldest first
        self._kept: dict[str, None] = {}
        self._slots = 0
        self._snapshot: History | None = None
        #: the call whose request the snapshot is
        self._owner: str | None = None
        #: a compaction was installed and no full request has followed yet
        self._pending = False

    def knows(self, response_id: str) -> bool:
        """Whether the thread answered with ``response_id``."""
        return response_id in self._answers

    def request(self, body: dict[str, Any], problems: list[Problem]) -> History:
        """Decide how the request ``body`` (``input`` recorded, with ids) is recorded: as
        sent, or as a whole history (``body`` updated in place; see the module's docstring).

        Args:
            body: the request as recorded.
            problems: what is reported for the request (appended to).

        Returns:
            The request's history (for :meth:`started`).
        """
        items = body["input"]
        previous = body.get("previous_response_id")
        if previous.__class__ is not str:
            return self._whole(items)
        answer = self._answers.get(previous)
        if answer is None:  # not ours to judge (the memo leaves such an id out)
            return self._whole(items)
        history = answer.history
        if answer.blind or self._passes(answer.length, items):
            if history is None:  # the reducers rebuild it; the recorder no longer can
                return _whole([_UNKNOWN] * answer.length + items, owned=True)
            return history.extended(items)
        del body["previous_response_id"]
        if history is None:
            problems.append(
                Problem(
                    "previous response not kept",
                    f"request previous_response_id {shown(previous)} continues a response whose"
                    " items this thread no longer keeps, and the reducers would not read it as"
                    " sent (the thread's last request was another); recorded without it (its"
                    " input alone)",
                )
            )
            return self._whole(items)
        whole = history.items()
        whole.extend(items)
        body["input"] = whole
        return _whole(whole)

    def _whole(self, items: list[Any]) -> History:
        """A whole request's history: on the snapshot's tape when it resends the snapshot
        first (a loop resending its history), else on a tape of its own."""
        snapshot = self._snapshot
        if snapshot is not None:
            tape = snapshot.tape.items
            length = snapshot.length
            known = length + len(snapshot.tail)
            if (
                known
                and len(items) >= known
                and len(tape) == length  # the snapshot ends the tape: no slice of it
                and same_items(items[:length], tape)
                and same_items(items[length:known], list(snapshot.tail))
            ):
                return snapshot.extended(items[known:])
        return _whole(items)

    def _passes(self, start: int, items: list[Any]) -> bool:
        """Whether ``items``, after ``start`` items, match the snapshot where it has items."""
        snapshot = self._snapshot
        if snapshot is None:
            return True
        stop = min(len(snapshot), start + len(items))
        if stop <= start:
            return True
        try:
            return bool(snapshot.items(start, stop) == items[: stop - start])
        except Exception:  # an item whose == raises: not the same
            return False

    def started(self, call: str, history: History, *, full: bool, kept: bool = True) -> History:
        """The request of ``call`` was recorded (``full``: without previous_response_id;
        ``kept``: its items are in the bundle, which schema 3 may leave out).

        Returns:
            The request's items as the reducers hold them (none when not kept).
        """
        self._owner = call
        if full:
            self._pending = False
        if not kept:  # the snapshot stays; the call's own items are none
            return _whole([])
        self._snapshot = history
        return history

    def answered(
        self,
        call: str,
        history: History,
        response_id: str | None,
        output: list[Any],
        *,
        kept: bool = True,
        request_kept: bool = True,
    ) -> None:
        """``call``, whose request's items are ``history``, completed with ``output``
        (``kept``: the response is in the bundle)."""
        answer = _then(history, output) if kept else history
        if kept and self._owner == call and not self._pending:
            self._snapshot = answer
        if not isinstance(response_id, str):
            return
        known = self._answers.get(response_id)
        if known is not None:
            if known.call < call:
                return  # the reducers continue the first call in id order
            self._let_go(response_id)
        self._answers[response_id] = _Answer(call, answer, blind=not (kept and request_kept))
        self._keep(response_id)

    def cut(self, call: str, history: History, output: list[Any]) -> None:
        """``call`` failed or was cancelled after ``output`` (recorded)."""
        if output and self._owner == call and not self._pending:
            self._snapshot = _then(history, output)

    def compacted(self) -> None:
        """A compaction was installed: until a full request, answers leave the snapshot."""
        self._pending = True

    # --- what is kept ---------------------------------------------------------------------

    def _keep(self, response_id: str) -> None:
        answer = self._answers[response_id]
        history = answer.history
        assert history is not None
        tape = history.tape
        if tape.users == 0:
            tape.counted = len(tape.items)
            self._slots += tape.counted
        else:
            grown = len(tape.items) - tape.counted
            tape.counted += grown
            self._slots += grown
        tape.users += 1
        self._slots += len(history.tail)
        self._kept[response_id] = None
        while len(self._kept) > 1 and (len(self._kept) > KEPT or self._slots > KEPT_ITEMS):
            self._let_go(next(iter(self._kept)))

    def _let_go(self, response_id: str) -> None:
        if response_id not in self._kept:
            return
        del self._kept[response_id]
        answer = self._answers[response_id]
        history = answer.history
        if history is None:
            return
        answer.history = None
        self._slots -= len(history.tail)
        tape = history.tape
        tape.users -= 1
        if tape.users == 0:
            self._slots -= tape.counted
            tape.counted = 0
