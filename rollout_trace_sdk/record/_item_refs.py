"""Item references, resolved to the items they name.

With a stored response (``store=True``, the default), the Responses API lets a request name an
item the server returned earlier by its id instead of sending it again:
``{"type": "item_reference", "id": "rs_..."}`` (or just ``{"id": ...}``: the type is
optional). Both reducers refuse a whole bundle for an item type they do not know, so a
reference used to be dropped (reported), and the recorded request lacked an item the model
saw: a reasoning item, a call, the assistant's answer.

The recorder has seen those items: the answers of the rollout's earlier responses
(``call.completed``), and items accepted into a history with the server's id. They are kept
here by id, as a request would send them back (typed by :mod:`.requests`), so a reference is
recorded as that item: the request shows what the model saw, and both reducers, which match
items by content, take it for the earlier item (no second copy in the state). A reference to
an item this rollout never recorded (a response answered before it opened) is still dropped
and reported; so is an id two different items came with (a server that numbers its items
anew in each response), which names neither for sure.

The items are kept rollout-wide (ids are the server's, and a sub-agent may be handed its
parent's items by reference), the :data:`KEPT` latest ids: a reference names an item of the
history the agent sends, which is recent. They are the objects recorded, not copies, but
nothing else holds them once the agent's history window has moved on: kept for the whole
rollout, every answer's reasoning and messages stayed in memory (review21: an agent keeping
a 40-item window, 2 KB of encrypted reasoning an answer, grew 5.2 KB a turn instead of 1.7).
A reference to an item dropped from them is dropped and reported, as one to an item never
recorded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any, Final

from ._text import shown

__all__ = ["KEPT", "KnownItems", "is_reference"]

#: How many ids (the latest) a rollout keeps the items of.
KEPT: Final = 1024

#: What an id two different items came with maps to.
_AMBIGUOUS: Final = object()


def is_reference(item: Mapping[str, Any]) -> bool:
    """Whether ``item`` is an item reference: typed ``item_reference``, or untyped with only
    an id (neither ``role`` nor ``content``: the openai SDK's own test of the untyped form)."""
    kind = item.get("type")
    if kind == "item_reference":
        return True
    return kind is None and "id" in item and "role" not in item and "content" not in item


class KnownItems:
    """The rollout's items by the ids they came with (the :data:`KEPT` latest). Not locked:
    each update is one dict operation (atomic under the GIL), and a reference only ever
    reads."""

    __slots__ = ("_by_id",)

    def __init__(self) -> None:
        self._by_id: dict[str, Any] = {}

    def remember(self, items: Iterable[Any]) -> None:
        """Keep ``items`` (typed, as :mod:`.requests` makes them) by their string ids; an id
        already kept for a different item names neither from now on."""
        by_id = self._by_id
        for item in items:
            if item.__class__ is not dict:
                continue
            item_id = item.get("id")
            if item_id.__class__ is not str:
                continue
            kept = by_id.get(item_id)
            if kept is None:
                by_id[item_id] = item
                if len(by_id) > KEPT:  # the oldest id goes (insertion order)
                    with contextlib.suppress(RuntimeError, StopIteration, KeyError):
                        del by_id[next(iter(by_id))]  # (another thread's update: next time)
            elif kept is not item and kept is not _AMBIGUOUS and kept != item:
                by_id[item_id] = _AMBIGUOUS

    def resolve(self, reference: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str]:
        """The item ``reference`` names, or ``None`` and why not (for the problem report).

        Args:
            reference: an item reference (:func:`is_reference`).

        Returns:
            The item as recorded earlier (the same object) and ``""``; or ``None`` and the
            reason, a phrase.
        """
        item_id = reference.get("id")
        if not isinstance(item_id, str):
            return None, "has no string id"
        kept = self._by_id.get(item_id)
        if kept is None:
            return None, (
                f"names {shown(item_id)}, an item this rollout did not record (or not among its "
                f"{KEPT} latest)"
            )
        if kept is _AMBIGUOUS:
            return (
                None,
                f"names {shown(item_id)}, the id of two different items this rollout recorded",
            )
        found: dict[str, Any] = kept
        return found, ""
