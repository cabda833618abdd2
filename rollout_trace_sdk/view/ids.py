"""Ids as people give them back: whole or as a prefix, as stored or as printed (``show``
prints ``head…tail``, and spells the characters a terminal would hide), for ``show --call``,
``show --thread`` and ``summary --thread``; and the agent such a name picks (an agent also
goes by its path, nickname or label)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def find_agent(threads: Sequence[Mapping[str, Any]], wanted: str) -> Mapping[str, Any]:
    """The agent named by its path, its thread id, its nickname, its label as the agents
    table prints it (``/root/fixer (Plato)``) or an unambiguous thread id prefix (as short
    ids print it). A nickname is the only name of a multi-agent v1 sub-agent other than its
    thread id: Codex gives it its parent's path (``/root (Mendel)``), so a path names the
    first thread that has it, the parent.

    Args:
        threads: the state's threads, the root first (a path names the first that has it).
        wanted: what the user typed.

    Returns:
        The thread.

    Raises:
        LookupError: nothing, or more than one agent, matches.
    """
    for thread in threads:
        if names(wanted, thread.get("agent_path")) or names(wanted, thread.get("thread_id")):
            return thread
    named = [
        t
        for t in threads
        if t.get("nickname") is not None
        and (names(wanted, t["nickname"]) or names(wanted, _agent_label(t)))
    ]
    if len(named) == 1:
        return named[0]
    if named:
        raise LookupError(f"{len(named)} agents are named {wanted!r}; give a thread id")
    matches = [t for t in threads if abbreviates(wanted, str(t.get("thread_id", "")))]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise LookupError(f"{wanted!r} starts {len(matches)} thread ids; give more of it")
    raise LookupError(
        f"no agent with path, nickname or thread id {wanted!r} in this rollout"
        + _paths_ending(threads, wanted)
    )


#: How many agents a refusal names whose path ends with the name given.
_SUGGESTED = 5


def _paths_ending(threads: Sequence[Mapping[str, Any]], wanted: str) -> str:
    """The agents whose path ends with ``wanted`` as a segment (a task name, as the spawn
    gave it: ``worker_1`` for ``/root/worker_1``), said after a refusal: what names them."""
    paths = [
        visible(str(t["agent_path"]))
        for t in threads
        if isinstance(t.get("agent_path"), str)
        and "/" not in wanted
        and any(names(wanted, seg) for seg in t["agent_path"].rsplit("/", 1)[1:])
    ]
    if not paths:
        return ""
    more = f", … ({len(paths) - _SUGGESTED} more)" if len(paths) > _SUGGESTED else ""
    return f" (a path that ends so: {', '.join(paths[:_SUGGESTED])}{more})"


def _agent_label(thread: Mapping[str, Any]) -> str:
    """An agent as the agents table and ``show`` name it: its path, and its nickname in
    brackets when it has one (``/root/fixer (Plato)``)."""
    path = str(thread.get("agent_path") or "?")
    nickname = thread.get("nickname")
    return f"{path} ({nickname})" if nickname else path
