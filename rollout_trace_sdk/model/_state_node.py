"""How a reduced-state node becomes JSON: its fields in declaration order, Codex's key order.

Private to the ``state_*`` modules (their nodes derive from ``Node`` or ``TaggedNode``);
``state.json`` as a whole is ``state_json``'s. Field order is Codex's key order: ``node_json``
writes attrs fields as declared (the big classes are ``kw_only`` so their order can follow
Codex rather than Python's defaults-last rule). Keys named in a class's ``_OMIT_NONE`` are
left out when unset, as Codex does; any other None is null.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def field_names(cls: type) -> tuple[str, ...]:
    """``cls``'s field names in declaration order, cached in ``FIELD_NAMES``."""
    names = FIELD_NAMES[cls] = tuple(f.name for f in attrs.fields(cls))
    return names


def node_json(obj: Any) -> dict[str, Any]:
    """A node's fields as JSON values, in declaration order (nested nodes by their ``to_json``),
    None left out for the names in the class's ``_OMIT_NONE``."""
    cls = type(obj)
    names = FIELD_NAMES.get(cls) or field_names(cls)
    omit: frozenset[str] = getattr(cls, "_OMIT_NONE", frozenset())
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(obj, name)
        if value is None:
            if name not in omit:
                out[name] = None
        elif isinstance(value, list):
            objects = value and hasattr(value[0], "to_json")
            out[name] = [v.to_json() for v in value] if objects else value
        elif hasattr(value, "to_json"):
            out[name] = value.to_json()
        else:
            out[name] = value
    return out


class Node:
    """Serialises as its fields, in declaration order."""

    __slots__ = ()
    #: None left out for none of the fields, unless a class says otherwise. Here so that
    #: ``node_json`` finds it on every node: a class lookup that misses formats and drops an
    #: ``AttributeError`` each time (~2.4 M instructions over the 1,200 nodes of the 3.3 MB
    #: benchmark bundle's state).
    _OMIT_NONE: ClassVar[frozenset[str]] = frozenset()

    def to_json(self) -> dict[str, Any]:
        """The node as Codex writes it.

        Returns:
            Its fields in declaration order (Codex's key order) as plain JSON values.
        """
        return node_json(self)


class TaggedNode:
    """A variant of one of Codex's tagged enums: serialises as ``{"type": TYPE}`` followed by
    its fields, which are plain JSON values (a leaner loop than ``node_json``'s: a request has
    a part or two per item)."""

    __slots__ = ()
    TYPE: ClassVar[str]
    _OMIT_NONE: ClassVar[frozenset[str]] = frozenset()

    def to_json(self) -> dict[str, Any]:
        """The variant as Codex writes it.

        Returns:
            ``{"type": TYPE}`` followed by its fields in declaration order.
        """
        out: dict[str, Any] = {"type": self.TYPE}
        omit = self._OMIT_NONE
        for name in FIELD_NAMES.get(type(self)) or field_names(type(self)):
            value = getattr(self, name)
            if value is not None or name not in omit:
                out[name] = value
        return out
