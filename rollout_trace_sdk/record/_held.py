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

import orjson

__all__ = [
    "DATACLASSES_TO_HOOK",
    "MAX_HELD_ITEMS",
    "dataclass_hook",
    "held_dict",
    "held_fields",
    "held_list",
]

#: The orjson option of every encoding of the agent's values: a dataclass goes to the
#: encoder's ``default`` hook (:func:`held_fields`, the same dict) instead of orjson's own
#: writer, which kills the process (a segmentation fault, orjson 3.13.0) on a ``slots``
#: dataclass whose field has no value yet. Passed by position (``dumps(v, hook, option)``):
#: as a keyword it costs ~0.1 µs a call.
DATACLASSES_TO_HOOK: Final = orjson.OPT_PASSTHROUGH_DATACLASS

#: The most items read from a container of the agent's own type (a list of this many
#: pointers is 8 MB; a longer one is no JSON a trace can carry whole anyway).
MAX_HELD_ITEMS: Final = 1_000_000


def held_list(value: Sequence[Any], limit: int = MAX_HELD_ITEMS) -> list[Any] | None:
    """``value``'s items as a list; ``None`` when it cannot be read within the bound (or
    within ``limit`` items)."""
    try:
        size = len(value)
        if not 0 <= size <= limit:
            return None
        items = list(itertools.islice(iter(value), size + 1))
    except Exception:  # its own hooks raise (MemoryError too)
        return None
    return items if len(items) <= size else None


def held_dict(value: Mapping[Any, Any], limit: int = MAX_HELD_ITEMS) -> dict[Any, Any] | None:
    """``value`` as a dict (what ``dict(value)`` reads: its keys, then each key's value);
    ``None`` when it cannot be read within the bound (or within ``limit`` items)."""
    try:
        size = len(value)
        if not 0 <= size <= limit:
            return None
        keys = list(itertools.islice(iter(value.keys()), size + 1))
        if len(keys) > size:
            return None
        return {key: value[key] for key in keys}
    except Exception:  # its own hooks raise (MemoryError too)
        return None


def held_fields(value: Any) -> dict[str, Any] | None:
    """A dataclass instance as the dict orjson writes it (the recorder's payloads are orjson's
    text, so an item's id and the plain form readers see are that text's); ``None`` for what
    is no dataclass instance (a dataclass itself is a type) or cannot be read.

    orjson's rule: an instance with a ``__dict__`` (a class without ``__slots__``) is its
    ``__dict__`` in insertion order, attributes set after ``__init__`` included; otherwise its
    declared fields in order; either way without the names starting with ``_`` (private by
    convention, as pydantic leaves its private attributes out of a dump). A field with no
    value yet (``init=False`` and no default) makes the instance unreadable, as orjson
    refuses it."""
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        return None
    try:
        attributes = getattr(value, "__dict__", None)
        if attributes.__class__ is dict and "__slots__" not in type(value).__dict__:
            return {k: v for k, v in attributes.items() if not _private(k)}
        return {
            field.name: getattr(value, field.name)
            for field in dataclasses.fields(value)
            if not _private(field.name)
        }
    except Exception:  # a field with no value, a property that raises
        return None


def _private(name: Any) -> bool:
    """Whether orjson leaves a dataclass's attribute ``name`` out."""
    return name.__class__ is not str or name[:1] == "_"


def dataclass_hook(value: Any) -> dict[str, Any]:
    """An orjson ``default`` for encodings that take only what orjson knows: a dataclass as
    orjson would write it (:func:`held_fields`), anything else refused as orjson refuses it.

    Raises:
        TypeError: ``value`` is no readable dataclass instance.
    """
    fields = held_fields(value)
    if fields is None:
        raise TypeError(f"Type is not JSON serializable: {value.__class__.__name__}")
    return fields
