"""Schema 3: the item store of work the bundle will not hold (``Runtime.counted_only``).

Work started past a bundle's ceiling goes on counting what it would record, its events and
payloads never offered to the writer. Its conversation items went to the writer's item store
all the same, which serialised and hashed each new one and kept a reference to it by content
(an omitted one: the bundle had no room) for the rest of the rollout: ~1 kB a turn that a long
agent past its ceiling kept for nothing the bundle would hold (2.6 kB with the thread's ids,
where the null twins handed out before kept 0.2 kB). This store answers as the item store
does, with omitted references, and keeps nothing; each payload it would have made is counted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..model.events import PayloadCapture, PayloadKind, RawPayloadRef
from ._item_store import ItemStore, RequestRefs

#: What every reference it hands out says: not stored (its size never known, as the
#: payload was never serialised).
_OMITTED = PayloadCapture("omitted", 0)


def _omitted(kind: PayloadKind) -> RawPayloadRef:
    return RawPayloadRef("", kind, "", None, _OMITTED, ())


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
        return _omitted("model_item")

    def tool_output(self, item: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
        return None  # as :meth:`item` then :meth:`tool_result`

    def tool_result(self, item_ref: RawPayloadRef, item: Any) -> RawPayloadRef:
        self._lost()
        return _omitted("tool_result")

    def request(self, thread_id: str, body: Mapping[str, Any], items: Sequence[Any]) -> RequestRefs:
        self._lost()  # the request
        self._lost()  # its prompt
        item = _omitted("model_item")
        return RequestRefs(
            _omitted("inference_request"), _omitted("prepared_prompt"), False, (item,) * len(items)
        )

    def response(
        self,
        thread_id: str,
        body: Mapping[str, Any],
        output_items: Sequence[Any],
        *,
        request: RequestRefs | None = None,
    ) -> RawPayloadRef:
        self._lost()
        return _omitted("inference_response")

    def reset(self, thread_id: str) -> None:
        return None
