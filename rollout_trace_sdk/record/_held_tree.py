"""A container the agent holds in a type of its own, and everything inside it, read as plain
dicts and lists with bounded work in all.

``_held`` bounds the reading of one container. That is not enough for a container whose items
are made as they are read and are containers of the same kind: a lazy tree, each node's
children made anew at each reading. Read node by node (the encoder's hook is called for one
container at a time, and knows nothing of the others), two children a node, 100 levels deep,
is 2**100 nodes: the recording call never returned and took the memory of the machine. So the
first such container met is read here with everything below it: itself up to
:data:`~._held.MAX_HELD_ITEMS` items, what it holds up to :data:`TREE_ITEMS` items made as
they were read in all (and up to ``MAX_HELD_ITEMS`` in all: data the agent holds in memory,
a ``UserList`` of 200,000 ``UserDict``, is read whole, as it was container by container),
``levels`` deep; what is past is a :class:`Marked` text, which the value encoder counts when
it writes it (``object``, ``depth``; a container met again on its own path: ``cycle``). Below
the first
one, every container the walk can read is read by it (dicts, lists and tuples that are not
plain JSON throughout, other mappings and sequences, dataclasses, attrs instances); anything
else (a model, a set, a datetime) is left for the encoder's hook, one value at a time.
Pure: no I/O, never raises.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, Final

import attrs

from ._held import MAX_HELD_ITEMS, held_dict, held_fields, held_list, plain_json
from ._text import cycle_text, too_deep_text, unread_text, unserialisable_text

__all__ = ["Marked", "held_tree"]

_LEAVES: Final = frozenset({str, int, float, bool, type(None)})
#: The most items made as they were read (a lazy tree's) read below the first container
#: (which may hold up to ``MAX_HELD_ITEMS``): a walk in Python, ~1 µs an item, and a value is
#: encoded more than once (its payload, its preview, its digest). Plain JSON below is not
#: walked (one check in C). Items the agent holds in memory (the same object when read again)
#: count only against ``MAX_HELD_ITEMS`` in all below the first container, which bounds a
#: container held at several places (``v = UserList([v, v])``, 60 deep: 2**60 paths).
TREE_ITEMS: Final = 100_000
_NOT_SEQUENCES: Final = (str, bytes, bytearray, memoryview)


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
    __slots__ = ("held", "left", "levels", "path")

    def __init__(self, levels: int) -> None:
        self.levels = levels
        #: items made as they are read still to be read (the first container's: up to
        #: MAX_HELD_ITEMS), and items in all (those held in memory too)
        self.left = MAX_HELD_ITEMS
        self.held = MAX_HELD_ITEMS
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
        if (cls is dict or cls is list) and plain_json(value):
            return value  # plain JSON all the way down: nothing made as it is read
        try:
            items = self._items(value)
        except Exception:  # its own __getattr__, __len__ or fields raise
            items = _UNREADABLE
        if items is None:
            return value  # a leaf for the encoder's hook (a model, a set, a datetime, ...)
        if items is _UNREADABLE:  # (below the first container: no repr, see unread_text)
            return Marked("object", unread_text(value) if self.path else unserialisable_text(value))
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
        again: Any = None  # how to read one item again (None: read from storage)
        limit = min(self.left, self.held)
        if isinstance(value, dict):  # a dict subclass too: orjson reads its storage
            items: Any = dict(dict.items(value))
        elif isinstance(value, list):  # a subclass too, as orjson reads it
            items = list(list.__iter__(value))
        elif isinstance(value, tuple):
            items = list(tuple.__iter__(value))
        elif isinstance(value, Mapping):
            items, again = held_dict(value, limit), value.__getitem__
        elif isinstance(value, Sequence) and not isinstance(value, _NOT_SEQUENCES):
            items, again = held_list(value, limit), value.__getitem__
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            items, again = held_fields(value), partial(getattr, value)
        elif attrs.has(type(value)) and not callable(getattr(value, "model_dump", None)):
            try:
                items = attrs.asdict(value, recurse=False)
            except Exception:
                items = None
            again = partial(getattr, value)
        else:
            return None
        if items is None:
            return _UNREADABLE
        size = len(items)
        if not self.path:  # the first container: up to MAX_HELD_ITEMS, however read
            self.left, self.held = TREE_ITEMS, MAX_HELD_ITEMS
            return items
        # below it: TREE_ITEMS made as they were read in all (the item read again to tell
        # counted too), and MAX_HELD_ITEMS in all
        made = again is not None and _made_as_read(items, again)
        if size + made > (self.left if made else self.held):
            return _UNREADABLE
        self.held -= size
        if made:
            self.left -= size + 1
        return items


def _made_as_read(items: dict[Any, Any] | list[Any], again: Any) -> bool:
    """Whether the container ``items`` were read from makes them as they are read: its first
    item that is no JSON leaf, read ``again`` (by its key, index or attribute name), is
    another object (or cannot be read). One item is enough for what matters here, a lazy
    tree's nodes; a container making only some items anew is bounded by the count in all."""
    pairs = items.items() if items.__class__ is dict else enumerate(items)
    for key, item in pairs:
        if item.__class__ not in _LEAVES:
            try:
                return again(key) is not item
            except Exception:
                return True
    return False


#: The read of a container that cannot be read within the budget (or whose hooks raise).
_UNREADABLE: Final = object()
