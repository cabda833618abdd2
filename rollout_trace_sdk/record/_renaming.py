"""Ids used twice, made unique the one way both reducers read: ``id#2``, ``#3``, ...

Both reducers refuse a whole bundle that starts a turn or a tool call twice, or gives two code
cells of a thread one runtime id; an agent that reuses one (a server numbering its tool calls
from zero in each response, a code-mode runtime restarted) has the later one renamed. Turn and
tool call ids (``Runtime.unused_id``) and runtime cell ids (``_cell_ids``) share this rule.
"""

from __future__ import annotations


def unique_name(used: set[tuple[str, str]], space: str, wanted: str) -> tuple[str, bool]:
    """``wanted`` when no name of ``space`` in ``used`` is it, else the first free of
    ``wanted#2``, ``wanted#3``, ...; the name is added to ``used``.

    Args:
        used: the (space, name) pairs taken so far.
        space: where names must differ (an id's kind, a thread).
        wanted: the name asked for.

    Returns:
        The name, and whether it was renamed.
    """
    candidate, n = wanted, 1
    while (space, candidate) in used:
        n += 1
        candidate = f"{wanted}#{n}"
    used.add((space, candidate))
    return candidate, n > 1
