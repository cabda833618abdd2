"""What client libraries hand out, as plain JSON-like data: pydantic models, dataclasses,
other mappings, tuples and other sequences become dicts and lists, recursively; what is plain already comes
back as the same object, after one check in C.

Every reader of an SDK's objects goes through :func:`to_plain` first: the request and output
normalisation (``requests``), token usage (``_usage``) and the integrations. Pure: no I/O;
the caller's objects are never modified.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ._held import held_fields, model_dumped, plain_json
from ._held_tree import Marked, held_tree
from ._values import MAX_DEPTH

__all__ = ["SCALARS", "to_plain"]

#: Values every walk passes over as they are (and that are never a usage object).
SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def to_plain(value: Any) -> Any:
    """``value`` as plain JSON-like data: pydantic models (anything with ``model_dump``) and
    dataclasses become dicts, recursively inside dicts, lists and tuples. Plain values come
    back as they are (the same object when nothing changed), so a request that is already
    plain costs one walk and no copy; a tuple inside such a value stays a tuple (orjson
    writes it as an array, and the readers of ``requests`` take it for a list), the other
    tuples become lists.

    Args:
        value: anything a client library hands out.

    Returns:
        The plain value; objects this cannot convert are returned unchanged.
    """
    # Already plain JSON is by far the common case: one pass in C says so (dataclasses are
    # made to fail it, so they are converted below).
    if (value.__class__ is dict or value.__class__ is list) and plain_json(value):
        return value
    return _walk(value, 0, set())


def _walk(value: Any, depth: int, path: set[int]) -> Any:
    cls = type(value)  # (not __class__, which an object may make a property that lies)
    if cls in SCALARS or depth > MAX_DEPTH:
        # Past the encoder's depth limit (absurd nesting) the value is left as it is: the
        # encoder cuts it there and counts it, so this walk never recurses unbounded.
        return value
    key = id(value)
    if key in path:
        # A value met again inside itself (a list or a UserList in itself, a dataclass
        # node's parent) is left as it is too, for the encoder to write as a cycle: walked
        # again, each level walked each of its items again (2 items: 2**100 walks).
        return value
    path.add(key)
    try:
        return _plain_of(value, cls, depth, path)
    finally:
        path.discard(key)


def _plain_of(value: Any, cls: type, depth: int, path: set[int]) -> Any:
    if cls is dict or cls is list:
        out: Any = None  # a copy, made at the first item that changes
        # read from a copy: the agent's code run below (a model_dump, a mapping's __len__)
        # may change the container being read (a dict then refused to go on, a list that
        # grew at every item never ended)
        for key, item in list(value.items()) if cls is dict else enumerate(list.copy(value)):
            if item.__class__ in SCALARS:
                continue
            plain = _walk(item, depth + 1, path)
            if plain is not item:
                if out is None:
                    out = cls(value)
                out[key] = plain
        return value if out is None else out
    if cls is tuple:
        return _plain_of(list(value), list, depth, path)
    # a dict or list subclass: what orjson writes of it, read in C as orjson reads it (its
    # own keys, items or __len__ may tell of something else, and the readers then saw
    # other items than the bundle holds: Codex refused it)
    if issubclass(cls, dict):
        return _plain_of(dict.copy(value), dict, depth, path)
    if issubclass(cls, list):
        return _plain_of(list.copy(value), list, depth, path)
    try:
        return _object_plain(value, cls, depth, path)
    except Exception:  # its own __getattr__ or __class__ raises: left for the encoder
        return value


def _object_plain(value: Any, cls: type, depth: int, path: set[int]) -> Any:
    if issubclass(cls, Mapping) or (
        issubclass(cls, Sequence) and not issubclass(cls, str | bytes | bytearray | memoryview)
    ):
        # another mapping, or a UserList, a deque, a range: what it holds, read with all it
        # holds within one bound (see _held_tree); one that cannot be read (its hooks raise,
        # it is too long) is left as it is, for the encoder to stand in and count
        held = held_tree(value, MAX_DEPTH - depth)
        return value if held.__class__ is Marked else _plain_of(held, type(held), depth, path)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return model_dumped(dump, exclude_none=True)  # plain all the way down
        except Exception:
            return value
    fields = held_fields(value)
    return value if fields is None else _plain_of(fields, dict, depth, path)
