"""The items of a container the agent holds in a type of its own (a ``Mapping`` that is no
dict, a ``Sequence`` that is no list nor tuple), read with bounded work; and a dataclass's
fields.

Such a container may make its items as they are read rather than hold them: a
``range(10**9)``, a library's lazy sequence, or a broken one whose ``__getitem__`` never
raises ``IndexError`` (its iteration never ends). Reading one whole took the recording call
seconds and gigabytes, or never returned. So a container is read only when it claims at most
:data:`MAX_HELD_ITEMS` items (``len``), and no further than one item past what it claims;
what cannot be read so (its hooks raise, it claims more, it yields more than it claims) is
``None``, and the caller records it as an unserialisable object (counted ``object``).
Pure: no I/O, never raises.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["MAX_HELD_ITEMS", "held_dict", "held_fields", "held_list"]

#: The most items read from a container of the agent's own type (a list of this many
#: pointers is 8 MB; a longer one is no JSON a trace can carry whole anyway).
MAX_HELD_ITEMS: Final = 1_000_000


def held_list(value: Sequence[Any]) -> list[Any] | None:
    """``value``'s items as a list; ``None`` when it cannot be read within the bound."""
    try:
        size = len(value)
        if not 0 <= size <= MAX_HELD_ITEMS:
            return None
        items = list(itertools.islice(iter(value), size + 1))
    except Exception:  # its own hooks raise (MemoryError too)
        return None
    return items if len(items) <= size else None


def held_dict(value: Mapping[Any, Any]) -> dict[Any, Any] | None:
    """``value`` as a dict (what ``dict(value)`` reads: its keys, then each key's value);
    ``None`` when it cannot be read within the bound."""
    try:
        size = len(value)
        if not 0 <= size <= MAX_HELD_ITEMS:
            return None
        keys = list(itertools.islice(iter(value.keys()), size + 1))
        if len(keys) > size:
            return None
        return {key: value[key] for key in keys}
    except Exception:  # its own hooks raise (MemoryError too)
        return None


def held_fields(value: Any) -> dict[str, Any] | None:
    """A dataclass instance's fields as a dict (as orjson writes it, in the order declared);
    ``None`` for what is no dataclass instance (a dataclass itself is a type)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    return None
