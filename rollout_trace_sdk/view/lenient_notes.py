"""What lenient reduction skipped, said in as few lines as say it all.

A bundle that lost one shard gives hundreds of notes saying the same thing (every event whose
payload was in it, and every payload left unchecked at the end: 396 lines for a three-episode
demo, 563 of 765 identical for a big one, found by user39), which buried the few that differ.
Notes alike but for the line and seq they name (and the UUIDs in them: every completion of a
call whose start was skipped names another call) are said once, with the others' lines; notes
alike in full once, with their count. The reducer's list stays one note per thing skipped
(``reduce_bundle(..., skipped=notes)``): this is how commands print it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

__all__ = ["grouped_notes", "lenient_lines"]

#: ``replay``'s prefix of a note about one event
_AT_LINE: Final = re.compile(r"line (\d+) \(seq -?\d+\): ")
#: an id that differs from note to note of one kind (a call's, a thread's)
_UUID: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
#: how many other lines a grouped note lists before "…"
_LINES_SHOWN: Final = 8


def grouped_notes(notes: Sequence[str]) -> list[str]:
    """``notes`` with the alike said once, in the order each first came.

    Args:
        notes: what lenient reduction skipped, one note each (``reduce_bundle``'s list).

    Returns:
        One line per different note: a note about an event (``line L (seq S): ...``) that
        others repeat for other events ends ``(and N more like it: lines ...)``; a note that
        recurs word for word ends ``(N times)``.
    """
    order: list[str] = []
    groups: dict[str, list[str]] = {}
    lines: dict[str, list[str]] = {}
    for note in notes:
        found = _AT_LINE.match(note)
        key = _UUID.sub("…", note[found.end() :] if found else note)
        group = groups.get(key)
        if group is None:
            order.append(key)
            groups[key] = [note]
            lines[key] = []
        else:
            group.append(note)
        if found:
            lines[key].append(found.group(1))
    said = []
    for key in order:
        group = groups[key]
        first = group[0]
        if len(group) == 1:
            said.append(first)
            continue
        others = lines[key][1:]
        if len(others) == len(group) - 1:
            shown = ", ".join(others[:_LINES_SHOWN]) + (", …" if len(others) > _LINES_SHOWN else "")
            said.append(f"{first} (and {len(others)} more like it: lines {shown})")
        else:
            said.append(f"{first} ({len(group)} times)")
    return said


def lenient_lines(notes: Sequence[str]) -> list[str]:
    """The lines a command prints for ``notes``: a heading counting every thing skipped, then
    :func:`grouped_notes`, indented; none when nothing was skipped."""
    if not notes:
        return []
    return [f"lenient: skipped {len(notes)} thing(s):", *(f"  {n}" for n in grouped_notes(notes))]
