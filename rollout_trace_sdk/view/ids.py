"""Ids as people give them back: whole or as a prefix, as stored or as printed (``show``
prints ``head…tail``, and spells the characters a terminal would hide), for ``show --call``,
``show --thread`` and ``summary --thread``."""

from __future__ import annotations

from typing import Any

from .visible import visible


def abbreviates(short: str, ident: str) -> bool:
    """Whether ``short`` names ``ident`` as people write ids: a prefix of it, or the
    ``head…tail`` form the transcript and the page print; of the id as stored or as printed
    (:func:`names`).

    Args:
        short: what the user typed.
        ident: a full id.

    Returns:
        True when ``short`` may stand for ``ident``.
    """
    if _shortens(short, ident):
        return True
    shown = visible(ident)  # as printed: ``call_\u200ba`` for a zero-width space
    return shown != ident and _shortens(short, shown)


def names(given: str, ident: Any) -> bool:
    """Whether ``given`` is ``ident`` as stored or as printed (:func:`~.visible.visible`: an
    id holding a character shown as nothing, or a control, is printed spelled, and given
    back the way it was read)."""
    return given == ident or (ident.__class__ is str and visible(ident) == given)


def _shortens(short: str, ident: str) -> bool:
    head, cut, tail = short.partition("…")
    if cut:
        return (
            len(ident) >= len(head) + len(tail) and ident.startswith(head) and ident.endswith(tail)
        )
    return ident.startswith(short)
