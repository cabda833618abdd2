"""Schema 3: the item store of work the bundle will not hold (``Runtime.counted_only``).

Work started past a bundle's ceiling goes on counting what it would record, its events and
payloads never offered to the writer. Its conversation items went to the writer's item store
all the same, which serialised and hashed each new one and kept a reference to it by content
(an omitted one: the bundle had no room) for the rest of the rollout: ~1 kB a turn that a long
agent past its ceiling kept for nothing the bundle would hold (2.6 kB with the thread's ids,
where the null twins handed out before kept 0.2 kB). This store answers as the item store
does, with references to nothing, and keeps nothing; each payload it would have made is
counted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..model.events import PayloadKind, RawPayloadRef
from ._item_store import ItemStore, RequestRefs


def _unstored(kind: PayloadKind) -> RawPayloadRef:
    """A reference of counted work: it reaches no event the bundle holds, and says the
    payload is whole (``available``) so that what follows from it (a continued response,
    the request's history) is decided as in the uncapped run, whose payload it stands for."""
    return RawPayloadRef("", kind, "", None, None, ())


class CountedItems(ItemStore):
    """An :class:`ItemStore` that stores and remembers nothing (see the module's docstring).

    Its references reach no event the bundle holds: every event of counted work is counted,
    not written. It keeps no state, so the real store's view of a thread (its last request,
    which the next one extends) is left as the recorded work left it."""

    __slots__ = ("_lost",)

    def __init__(self, lost_payload: Callable[[], None]) -> None:  # no store's state
        self._lost = lost_payload

    def after_fork(self) -> None:
        return None

    def item(self, item: Any) -> RawPayloadRef:
        self._lost()
        return _unstored("model_item")

    def tool_output(self, item: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
        return None  # as :meth:`item` then :meth:`tool_result`

    def tool_result(self, item_ref: RawPayloadRef, item: Any) -> RawPayloadRef:
        self._lost()
        return _unstored("tool_result")

    def request(self, thread_id: str, body: Mapping[str, Any], items: Sequence[Any]) -> RequestRefs:
        self._lost()  # the request
        self._lost()  # its prompt
        item = _unstored("model_item")
        return RequestRefs(
            _unstored("inference_request"),
            _unstored("prepared_prompt"),
            False,
            (item,) * len(items),
        )

    def response(
        self,
        thread_id: str,
        body: Mapping[str, Any],
        output_items: Sequence[Any],
        *,
        request: RequestRefs | None = None,
        kept: bool = False,
    ) -> RawPayloadRef:
        self._lost()
        return _unstored("inference_response")

    def reset(self, thread_id: str) -> None:
        return None
