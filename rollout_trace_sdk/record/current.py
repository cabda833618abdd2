"""The turn the running code is in, for integrations that record calls on the user's behalf.

``async with turn:`` makes ``turn`` current for the code inside the block (and the tasks it
starts, which copy the context); an instrumented client asks :func:`current_turn` and
records only when there is one. The turn is current only in the OS thread that entered it:
the recorder's handles may be used from the event loop's thread alone, so code running in a
worker thread sees no turn and is simply not recorded.

Nested turns (a sub-agent's turn run inline inside its parent's) stack: leaving the inner one
makes the outer one current again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .turns import Turn

__all__ = ["current_turn", "use_turn"]

# (turn, the OS thread that entered it, the entry below it)
_Entry = tuple["Turn", int, "_Entry | None"]
_current: ContextVar[_Entry | None] = ContextVar("rollout_trace_current_turn", default=None)


def current_turn() -> Turn | None:
    """The innermost open turn entered by this task (or a task it started), in this OS thread.

    Returns:
        The turn, or ``None`` outside any turn, in another OS thread, or once it has ended.
    """
    entry = _current.get()
    if entry is None:
        return None
    turn = entry[0]
    if entry[1] != threading.get_ident() or turn.ended:
        return None
    return turn


def entered(turn: Turn) -> None:
    """``turn`` becomes current (``Turn.__aenter__``)."""
    _current.set((turn, threading.get_ident(), _current.get()))


def left(turn: Turn) -> None:
    """``turn`` stops being current (``Turn.__aexit__``); the one below it is current again."""
    entry = _current.get()
    if entry is not None and entry[0] is turn:
        _current.set(entry[2])


@contextmanager
def use_turn(turn: Turn) -> Iterator[Turn]:
    """Make ``turn`` current for a block, for loops that do not use ``async with turn``.

    Args:
        turn: the turn instrumented clients should record into.

    Returns:
        A context manager yielding ``turn``.
    """
    entered(turn)
    try:
        yield turn
    finally:
        left(turn)
