"""Methods trio's KeyboardInterrupt must not land in, marked for trio only when trio runs.

trio raises ``KeyboardInterrupt`` wherever unprotected code runs; a chunk interrupted between
leaving the queue and reaching the disk would lose its records silently (the crash soak
caught 16 seqs missing after SIGINT). Protected, the interrupt goes to the main task, whose
unwinding closes the rollout, which drains through the protected methods. asyncio needs
nothing: its runner turns SIGINT into a cancellation the chunk's shield already holds off.
The methods are only noted when their class is made (:func:`ki_protected`) and marked when
a writer is made under trio (:func:`protect_from_trio_interrupts`), so that an asyncio
program never imports trio (48 ms, which the first rollout's open spent on the event loop).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

__all__ = ["ki_protected", "protect_from_trio_interrupts"]

_F = TypeVar("_F", bound=Callable[..., Any])

#: The names of the methods noted by :func:`ki_protected`.
_NOTED: Final[list[str]] = []
#: The classes whose noted methods are marked already.
_MARKED: Final[set[type]] = set()


def ki_protected(function: _F) -> _F:
    """Note ``function`` (a method) as one trio's ``KeyboardInterrupt`` must not land in;
    it is returned unchanged (marked later, under trio only)."""
    _NOTED.append(function.__name__)
    return function


def protect_from_trio_interrupts(owner: type) -> None:
    """Mark ``owner``'s noted methods for trio (once; the caller checks that trio runs). A
    trio that wraps rather than marks gets the wrapper.

    Args:
        owner: the class that defines the noted methods.
    """
    if owner in _MARKED:
        return
    from trio.lowlevel import enable_ki_protection

    for name in _NOTED:
        method = owner.__dict__.get(name)
        if method is None:
            continue
        protected = enable_ki_protection(method)
        if protected is not method:
            setattr(owner, name, protected)
    _MARKED.add(owner)
