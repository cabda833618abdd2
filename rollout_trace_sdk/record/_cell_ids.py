"""Runtime cell ids made unique in a thread, and the ``wait`` calls that name them.

Both reducers map (thread, runtime cell id) to one code cell: a second cell of the thread
with an id a cell had before makes them refuse the whole bundle ("runtime code cell R in
thread X mapped to both A and B"), even when the first has ended. Codex never does that in
one bundle (its runtime numbers cells on across the turns of a thread, and a session resumed
by a later process, which numbers from 1 again, writes a bundle of its own), but an agent
whose code-mode runtime restarts inside one rollout does. Such a cell is recorded as ``1#2``
(``#3``, ...; the first keeps ``1``), and so is every later mention of it: its start,
responses and end, the runtime id its nested calls are requested by, and a ``wait`` that
names ``1`` (which means the latest cell given that id): its ``code_cell_wait_target_resolved``
and, because Codex 0.169's reducer links a wait by it, its invocation's ``cell_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ._renaming import Names, unique_name
from .tool_kinds import parsed_arguments


class CellNames:
    """The runtime cell ids of a rollout's threads, as given and as recorded."""

    __slots__ = ("_latest", "_used")

    def __init__(self) -> None:
        #: (thread id, id as given) -> the id its latest cell was recorded under
        self._latest: dict[tuple[str, str], str] = {}
        #: thread id -> the ids of every cell recorded in it
        self._used: dict[str, Names] = {}

    def claim(self, thread_id: str, given: str) -> tuple[str, bool]:
        """The id a new cell of ``thread_id`` given ``given`` is recorded under, and whether
        it was renamed (another cell of the thread had ``given``)."""
        candidate, renamed = unique_name(self._used, thread_id, given)
        self._latest[(thread_id, given)] = candidate
        return candidate, renamed

    def named(self, thread_id: str, given: str) -> str:
        """The recorded id of the latest cell of ``thread_id`` given ``given`` (``given``
        itself when there is none: a wait on a cell never recorded)."""
        return self._latest.get((thread_id, given), given)


def wait_target(name: str, arguments: str | Mapping[str, Any] | None) -> str | None:
    """The cell a code-mode ``wait`` call names (its ``cell_id`` argument), if any."""
    if name != "wait":
        return None
    parsed = parsed_arguments(arguments)
    cell_id = parsed.get("cell_id") if parsed is not None else None
    return cell_id if isinstance(cell_id, str) else None


def renamed_wait(arguments: str | Mapping[str, Any], cell_id: str) -> str | dict[str, Any]:
    """A wait call's arguments naming ``cell_id`` instead (JSON text stays text)."""
    parsed = dict(parsed_arguments(arguments) or {})
    parsed["cell_id"] = cell_id
    return orjson.dumps(parsed).decode() if isinstance(arguments, str) else parsed
