"""Ids used twice, made unique the one way both reducers read: ``id#2``, ``#3``, ...

Both reducers refuse a whole bundle that starts a turn or a tool call twice, or gives two code
cells of a thread one runtime id; an agent that reuses one (a server numbering its tool calls
from zero in each response, a code-mode runtime restarted) has the later one renamed. Turn and
tool call ids (``Runtime.unused_id``) and runtime cell ids (``_cell_ids``) share this rule.

The names are kept in dicts of ``None`` (:data:`Names`) rather than sets: a rollout keeps
every id it recorded, and a dict holding only strings is one the garbage collector does not
walk (a set always is, entry by entry, in each full collection: with a tool call's ids in
four sets, a 200,000-call rollout spent more time in the collector than recording, and
more each call).
"""

from __future__ import annotations

from typing import TypeAlias

#: A set of names that the garbage collector does not walk: ``name in names``,
#: ``names[name] = None`` to add, ``names.pop(name, None)`` to remove.
Names: TypeAlias = dict[str, None]


def unique_name(used: dict[str, Names], space: str, wanted: str) -> tuple[str, bool]:
    """``wanted`` when no name of ``space`` in ``used`` is it, else the first free of
    ``wanted#2``, ``wanted#3``, ...; the name is added to ``used``.

    Args:
        used: the names taken so far, by space.
        space: where names must differ (an id's kind, a thread).
        wanted: the name asked for.

    Returns:
        The name, and whether it was renamed.
    """
    taken = used.get(space)
    if taken is None:  # one call (atomic): another OS thread may be making the space too
        taken = used.setdefault(space, {})
    candidate, n = wanted, 1
    while candidate in taken:
        n += 1
        candidate = f"{wanted}#{n}"
    taken[candidate] = None
    return candidate, n > 1
