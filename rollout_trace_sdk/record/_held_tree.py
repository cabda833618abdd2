"""A container the agent holds in a type of its own, and everything inside it, read as plain
dicts and lists with bounded work in all.

``_held`` bounds the reading of one container. That is not enough for a container whose items
are made as they are read and are containers of the same kind: a lazy tree, each node's
children made anew at each reading. Read node by node (the encoder's hook is called for one
container at a time, and knows nothing of the others), two children a node, 100 levels deep,
is 2**100 nodes: the recording call never returned and took the memory of the machine. So the
first such container met is read here with everything below it: itself up to
:data:`~._held.MAX_HELD_ITEMS` items, what it holds up to :data:`TREE_ITEMS` in all, ``levels``
deep; what is past is a :class:`Marked` text, which the value encoder counts when it writes
it (``object``, ``depth``; a container met again on its own path: ``cycle``). Below the first
one, every container the walk can read is read by it (dicts, lists and tuples that are not
plain JSON throughout, other mappings and sequences, dataclasses, attrs instances); anything
else (a model, a set, a datetime) is left for the encoder's hook, one value at a time.
Pure: no I/O, never raises.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs
import orjson

from ._held import MAX_HELD_ITEMS, TO_HOOK, held_dict, held_fields, held_list
from ._text import cycle_text, too_deep_text, unserialisable_text

__all__ = ["Marked", "held_tree"]

_LEAVES: Final = frozenset({str, int, float, bool, type(None)})
#: The most items read below the first container (which may hold up to ``MAX_HELD_ITEMS``):
#: a walk in Python, ~1 µs an item, and a value is encoded more than once (its payload, its
#: preview, its digest). Plain JSON below is not walked (one check in C), so this bounds the
#: nesting of containers made as they are read, not the size of a value.
TREE_ITEMS: Final = 100_000
_NOT_SEQUENCES: Final = (str, bytes, bytearray, memoryview)
#: The check that a dict or list is plain JSON throughout: nothing orjson would hand a hook,
#: no subclass (read here from its storage, as orjson writes it)
_PLAIN_ONLY: Final = TO_HOOK | orjson.OPT_PASSTHROUGH_SUBCLASS


class Marked:
    """What a value is recorded as, and the loss kind it is counted under when written.
    orjson does not know this class: the value encoder's hook writes :attr:`text` and counts
    :attr:`kind` (``Mistyped`` does the same for event fields)."""

    __slots__ = ("kind", "text")

    def __init__(self, kind: str, text: str) -> None:
        self.kind = kind
        self.text = text


def held_tree(value: Mapping[Any, Any] | Sequence[Any], levels: int) -> Any:
    """``value`` (a mapping that is no dict, or a sequence that is no list nor tuple) and
    what it holds, as dicts and lists.

    Args:
        value: the container.
        levels: how deep to read: a container further down is marked as cut (``depth``).

    Returns:
        The dict or list it holds, or a :class:`Marked` text when it cannot be read.
    """
    return _Tree(levels).read(value, levels)


class _Tree:
    __slots__ = ("left", "levels", "path")

    def __init__(self, levels: int) -> None:
        self.levels = levels
        #: items still to be read (the first container's: up to MAX_HELD_ITEMS)
        self.left = MAX_HELD_ITEMS
        #: ids of the containers on the path being read (a cycle meets one again)
        self.path: set[int] = set()

    def read(self, value: Any, levels: int) -> Any:
        cls = type(value)  # (``__class__`` may be the agent's property)
        if cls in _LEAVES:
            return value
        if levels <= 0:
            return Marked("depth", too_deep_text(self.levels))
        key = id(value)
        if key in self.path:
            return Marked("cycle", cycle_text(value))
        if (cls is dict or cls is list) and _plain(value):
            return value  # plain JSON all the way down: nothing made as it is read
        try:
            items = self._items(value)
        except Exception:  # its own __getattr__, __len__ or fields raise
            items = _UNREADABLE
        if items is None:
            return value  # a leaf for the encoder's hook (a model, a set, a datetime, ...)
        if items is _UNREADABLE:
            return Marked("object", unserialisable_text(value))
        self.path.add(key)
        try:
            if isinstance(items, dict):
                return {k: self.read(v, levels - 1) for k, v in items.items()}
            return [self.read(v, levels - 1) for v in items]
        finally:
            self.path.discard(key)

    def _items(self, value: Any) -> Any:
        """What the walk reads of ``value`` (a dict or a list, charged to the budget), ``None``
        for a leaf, or :data:`_UNREADABLE`."""
        if isinstance(value, dict):  # a dict subclass too: orjson reads its storage
            items: Any = dict(dict.items(value))
        elif isinstance(value, list):  # a subclass too, as orjson reads it
            items = list(list.__iter__(value))
        elif isinstance(value, tuple):
            items = list(tuple.__iter__(value))
        elif isinstance(value, Mapping):
            items = held_dict(value, self.left)
        elif isinstance(value, Sequence) and not isinstance(value, _NOT_SEQUENCES):
            items = held_list(value, self.left)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            items = held_fields(value)
        elif attrs.has(type(value)) and not callable(getattr(value, "model_dump", None)):
            try:
                items = attrs.asdict(value, recurse=False)
            except Exception:
                items = None
        else:
            return None
        if items is None:
            return _UNREADABLE
        if len(items) > self.left:
            return _UNREADABLE
        # the first container may hold up to MAX_HELD_ITEMS; below it, TREE_ITEMS in all
        self.left = min(self.left - len(items), TREE_ITEMS)
        return items


def _plain(value: dict[Any, Any] | list[Any]) -> bool:
    """Whether orjson writes ``value`` as it is (plain JSON at every depth), in C."""
    try:
        orjson.dumps(value, None, _PLAIN_ONLY)
    except Exception:  # TypeError, or an object's own hook raising inside
        return False
    return True


#: The read of a container that cannot be read within the budget (or whose hooks raise).
_UNREADABLE: Final = object()
