"""What cancelled a block: a deadline, a sibling task that failed, an explicit cancel, Ctrl-C.

A cancelled turn, tool call or model call reads ``interrupted``/``aborted``/``cancelled`` and
nothing more, while the event loop usually knows why, and a developer debugging timeouts
asks exactly that (user51). trio says it on the exception (``Cancelled.source``: ``deadline``,
``nursery`` when a sibling task raised, ``explicit``, ``KeyboardInterrupt``; and a
``reason``); anyio on asyncio in the ``CancelledError``'s message (``Cancelled via cancel scope
… [by <task>][; reason: …]``, ``deadline exceeded`` for a deadline); ``task.cancel(msg)``
gives its message; asyncio's runner, that it took a Ctrl-C (its count of them). Only what
the library says is said: a cancellation it gives no reason for (anyio's task group
cancelling its tasks on asyncio says nothing) has no cause.

Read only when a block is left cancelled, never on the way in: nothing here touches the hot
path. Never raises (the exception's attributes are the library's).
"""

from __future__ import annotations

import re
import signal
import sys
from typing import Final

import anyio

#: Longest cause kept: a reason is the library's or the agent's text, a task's repr.
_MOST: Final = 300
#: anyio's message on asyncio: the scope, the task that cancelled it, the reason.
_ANYIO: Final = re.compile(
    r"Cancelled via cancel scope [0-9a-f]+(?: by (?P<by>.*?))?(?:; reason: (?P<reason>.*))?",
    re.S,
)
#: A task's name in its repr (asyncio's ``name='…'``, trio's ``<Task '…' at 0x…>``).
_TASK_NAME: Final = re.compile(r"name='([^']*)'|<Task '([^']*)'")
#: anyio's reason for a deadline (``CancelScope._timeout``).
_ANYIO_DEADLINE: Final = "deadline exceeded"
#: trio's ``Cancelled.source`` values, in our words (the reason follows when trio gives one).
_TRIO_SOURCES: Final = {
    "deadline": "deadline exceeded",
    "nursery": "a sibling task failed",
    "explicit": "cancel scope cancelled",
    "KeyboardInterrupt": "Ctrl-C (KeyboardInterrupt)",
    "shutdown": "the event loop shut down",
}


def cancel_cause(exc: BaseException) -> str | None:
    """Why the cancellation ``exc`` (or a group of them: its first leaf's) happened, as the
    event loop says it, or ``None`` when it says nothing. Worded to follow ``cancelled: ``.

    Args:
        exc: what the block was left with: a cancellation, ``KeyboardInterrupt`` or a group
            of them.

    Returns:
        ``deadline exceeded``, ``a sibling task failed: child task raised exception
        RuntimeError('x')``, the reason given to ``cancel(reason)`` or ``task.cancel(msg)``,
        ``cancel scope cancelled by task main``, ``Ctrl-C (KeyboardInterrupt)``..., at most
        300 characters; ``None``: not known.
    """
    try:
        return _cut(_cause(exc, 0))
    except Exception:  # the library's attributes: never the agent's problem
        return None


def _cause(exc: BaseException, depth: int) -> str | None:
    if isinstance(exc, KeyboardInterrupt):
        return _TRIO_SOURCES["KeyboardInterrupt"]
    if isinstance(exc, BaseExceptionGroup):
        if depth > 8 or not exc.exceptions:
            return None
        return _cause(exc.exceptions[0], depth + 1)
    source = getattr(exc, "source", None)
    if type(exc).__module__.startswith("trio") and isinstance(source, str):
        reason = getattr(exc, "reason", None)
        reason = reason if isinstance(reason, str) and reason else None
        if source == "explicit":
            return reason or _by(_TRIO_SOURCES[source], getattr(exc, "source_task", None))
        words = _TRIO_SOURCES.get(source)
        if words is None:
            return reason
        return f"{words}: {reason}" if reason else words
    message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""
    if not message:
        return _TRIO_SOURCES["KeyboardInterrupt"] if _asyncio_took_ctrl_c(exc) else None
    anyio = _ANYIO.fullmatch(message)
    if anyio is None:  # ``task.cancel(msg)``: the message is the reason
        return message
    reason, by = anyio.group("reason"), anyio.group("by")
    if reason:
        return reason
    return _by(_TRIO_SOURCES["explicit"], by) if by else None


def _asyncio_took_ctrl_c(exc: BaseException) -> bool:
    """Whether asyncio's runner (``asyncio.run``, ``anyio.run``, on uvloop too) took a Ctrl-C:
    it cancels the main task with no message, and raises ``KeyboardInterrupt`` only once the
    task is done, so a block it cancels says nothing of it. Its SIGINT handler, while it
    runs, is a ``partial`` of its ``_on_sigint``, which counts the interrupts it took."""
    asyncio = sys.modules.get("asyncio")  # not loaded: no asyncio cancellation to read
    if asyncio is None or not isinstance(exc, asyncio.CancelledError):
        return False
    handler = signal.getsignal(signal.SIGINT)
    runner = getattr(getattr(handler, "func", None), "__self__", None)
    count = getattr(runner, "_interrupt_count", None)
    return isinstance(count, int) and count > 0


def _by(words: str, task: object) -> str:
    """``words`` and the task that cancelled, by its name when its repr has one; not the
    task that was cancelled itself (a task cancelling its own scope says nothing more)."""
    if not isinstance(task, str) or not task:
        return words
    named = _TASK_NAME.search(task)
    name = next((n for n in named.groups() if n), None) if named else None
    if name is not None and name == _current_task_name():
        return words
    return f"{words} by task {name or task}"


def _current_task_name() -> str | None:
    try:
        return anyio.get_current_task().name
    except Exception:  # no event loop here: no task to be
        return None


def _cut(text: str | None) -> str | None:
    if text is None or len(text) <= _MOST:
        return text
    return text[: _MOST - 1] + "…"
