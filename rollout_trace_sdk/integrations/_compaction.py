"""``responses.compact(...)``: the API's conversation compaction, recorded as Codex records
its *remote* compaction, as one compaction of the current turn with one request.

* the request, as sent (``compaction_request_started``; the reducers read no compaction
  request, see :mod:`..record.compactions`);
* on success, the response's ``output`` (``compaction_request_completed``) and, at once,
  ``compaction_installed`` with the request's ``input`` as the history replaced and that
  output as its replacement. Codex installs a remote compaction's output as the thread's
  history the moment it has it, and a loop calling ``compact`` sends its output as the next
  request's history (the API's whole point); recording the install here lets both reducers
  reuse the replacement items when that request comes, as they do for Codex. A loop that
  keeps its old history instead shows the compaction installed all the same: the call
  cannot see what the loop does next;
* an exception: the request failed with the error's text (``cancelled`` when the calling
  task was cancelled: a compaction request has no cancelled end), and nothing installed, as
  Codex records a remote compaction that failed. The exception propagates unchanged;
* through ``with_raw_response``: the same, its answer read with the raw response's
  ``parse()`` (:func:`._answers.raw_answer`), the raw response handed back.

The token usage of a compaction has no place in the format (a compaction request records
its output items only) and is not recorded.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from ..record._guard import quietly
from ..record.compactions import Compaction, CompactionRequest
from ..record.current import current_turn
from ..record.runtime import error_text, outcome_of
from ..record.turns import Turn
from ._answers import UNREAD, raw_answer, raw_answer_async
from ._sent import passed_through, raw_kind, read_once, sent_request

__all__ = ["async_compact", "sync_compact"]


@attrs.frozen
class _Started:
    """A compaction whose one request is on its way."""

    compaction: Compaction
    attempt: CompactionRequest
    input_history: list[Any]


@quietly("a compaction request")
def _start(turn: Turn, sent: dict[str, Any]) -> _Started | None:
    request = sent_request(sent)
    compaction = turn.compaction()
    attempt = compaction.request(request)
    return _Started(compaction, attempt, _history(request.get("input")))


def _history(sent: Any) -> list[Any]:
    """The history a compaction replaces: the request's ``input`` (a string is one user
    message; none, with ``previous_response_id`` alone, is an empty one: the history the
    server keeps is not the loop's to record; an iterable is a list by now: ``read_once``)."""
    if isinstance(sent, str):
        return [sent]
    if isinstance(sent, list | tuple):
        return list(sent)
    return []


@quietly("a compaction response")
def _compacted(started: _Started, result: Any) -> None:
    output = getattr(result, "output", None)
    items = list(output) if isinstance(output, list | tuple) else []
    started.attempt.completed(items)
    started.compaction.installed(input_history=started.input_history, replacement_history=items)


@quietly("a failed compaction request")
def _ended_by(started: _Started, exc: BaseException) -> None:
    cancelled = outcome_of(exc) == "cancelled" or isinstance(exc, GeneratorExit)
    started.attempt.failed("cancelled" if cancelled else error_text(exc))


def async_compact(original: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """An async ``compact`` that records the call made inside a turn (see the module)."""

    @functools.wraps(original)
    async def compact(*args: Any, **kwargs: Any) -> Any:
        turn = current_turn()
        if turn is None or passed_through(kwargs):
            return await original(*args, **kwargs)
        started = _start(turn, read_once(kwargs))  # (the loop's iterables: read as sent)
        try:
            if started is not None:
                await started.attempt.__aenter__()  # waits for the writer when told to
            result = await original(*args, **kwargs)
        except BaseException as exc:
            if started is not None:
                _ended_by(started, exc)
            raise
        if started is not None:
            answer = result
            if raw_kind(kwargs) is not None:  # with_raw_response: its answer read first
                answer = await raw_answer_async(result, functools.partial(_ended_by, started))
            if answer is not UNREAD:
                _compacted(started, answer)
        return result

    return compact


def sync_compact(original: Callable[..., Any]) -> Callable[..., Any]:
    """The same for a sync client."""

    @functools.wraps(original)
    def compact(*args: Any, **kwargs: Any) -> Any:
        turn = current_turn()
        if turn is None or passed_through(kwargs):
            return original(*args, **kwargs)
        started = _start(turn, read_once(kwargs))  # (the loop's iterables: read as sent)
        try:
            result = original(*args, **kwargs)
        except BaseException as exc:
            if started is not None:
                _ended_by(started, exc)
            raise
        if started is not None:
            answer = result
            if raw_kind(kwargs) is not None:  # with_raw_response: its answer read first
                answer = raw_answer(result, functools.partial(_ended_by, started))
            if answer is not UNREAD:
                _compacted(started, answer)
        return result

    return compact
