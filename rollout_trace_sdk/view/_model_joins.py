"""The view model's records that join the state's maps: each compaction with its requests
(a request that installed nothing is a record of its own, so the model track shows every
one), and each interaction edge with the lanes its two ends sit in.

Apart from :mod:`.model`, whose builder numbers the state's objects and writes one record
per object, because these are the records built from more than one object: they read the
builder's numbering (:class:`.model._Builder`) and are given the objects they join.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from ..model.state_execution import ANCHOR_ID_FIELDS
from .checkpoints import checkpoint_words
from .item_text import clip

if TYPE_CHECKING:
    from .model import _Builder as Builder

_Obj = Mapping[str, Any]
#: Edge anchor type -> (its id field, the state table whose object says the anchor's thread).
#: the state's table of each kind of edge end that lives in one (its id key: ANCHOR_ID_FIELDS)
_ANCHOR_TABLES: Final = {"conversation_item": "conversation_items", "tool_call": "tool_calls"}


def compaction_records(
    b: Builder, ordered: list[_Obj], compactions: list[_Obj]
) -> list[dict[str, Any]]:
    """One record per compaction installed (timed by its last request) and one per
    request that installed nothing (failed, cancelled, retried: ``"req": True``), so the
    model track shows every compaction request: ``ordered`` are the requests in recording
    order, ``compactions`` the compactions installed."""
    requests = {str(r.get("compaction_id")): r for r in ordered}
    done = {str(c.get("compaction_id")) for c in compactions}
    out = [
        _request_only(b, request)
        for request in ordered
        if str(request.get("compaction_id")) not in done
        or requests[str(request.get("compaction_id"))] is not request
    ]
    for compaction in compactions:
        request = requests.get(str(compaction.get("compaction_id")))
        installed = b.rel(compaction.get("installed_at_unix_ms"))
        window = (
            b.window(request) if request else {"s": installed, "e": installed, "st": "completed"}
        )
        out.append(
            {
                "id": compaction.get("compaction_id"),
                "t": b.thread(compaction.get("thread_id")),
                **window,
                "at": installed,
                "marker": b.item_ix.get(compaction.get("marker_item_id"), -1),  # type: ignore[arg-type]
                "inputs": len(compaction.get("input_item_ids") or []),
                "in": b.indexes(b.item_ix, compaction.get("input_item_ids")),  # replaced
                "repl": b.indexes(b.item_ix, compaction.get("replacement_item_ids")),
                "rq": request.get("raw_request_payload_id") if request else None,
                "rs": request.get("raw_response_payload_id") if request else None,
                # its checkpoint cut by a capture limit: said in place of "0 items → 0"
                **({"cut": cut} if (cut := checkpoint_words(compaction)) else {}),
            }
        )
    out.sort(key=lambda c: c["at"] if c["at"] is not None else 0)
    return out


def _request_only(b: Builder, request: _Obj) -> dict[str, Any]:
    """A compaction request that installed nothing, as a compaction record."""
    window = b.window(request)
    return {
        "id": request.get("compaction_request_id"),
        "t": b.thread(request.get("thread_id")),
        **window,
        "at": window["e"] if window["e"] is not None else window["s"],
        "marker": -1,
        "inputs": 0,
        "in": [],
        "repl": [],
        "rq": request.get("raw_request_payload_id"),
        "rs": request.get("raw_response_payload_id"),
        "req": True,
        # from the log, as an inference call's (see reduce/failures.py)
        **(
            {"err": clip(request["error_text"])}
            if isinstance(request.get("error_text"), str)
            else {}
        ),
    }


def _anchor_thread(b: Builder, anchor: Any) -> tuple[int, str]:
    """The lane an edge end sits in, and a label for it."""
    if not isinstance(anchor, Mapping):
        return -1, "?"
    kind = anchor.get("type")
    if not isinstance(kind, str) or kind not in ANCHOR_ID_FIELDS:
        return -1, str(kind)
    ident = anchor.get(ANCHOR_ID_FIELDS[kind])
    if kind not in _ANCHOR_TABLES:  # a thread
        return b.thread(ident), str(ident)
    objects = b.state.get(_ANCHOR_TABLES[kind]) or {}
    obj = objects.get(ident) if isinstance(objects, Mapping) else None
    thread = b.thread(obj.get("thread_id")) if isinstance(obj, Mapping) else -1
    return thread, str(ident)


def edge_records(b: Builder, edges: list[_Obj]) -> list[dict[str, Any]]:
    """The interaction ``edges``, each with its ends' lanes and labels, in start order."""
    out = []
    for edge in edges:
        source, source_label = _anchor_thread(b, edge.get("source"))
        target, target_label = _anchor_thread(b, edge.get("target"))
        record: dict[str, Any] = {
            "id": edge.get("edge_id"),
            "kind": edge.get("kind"),
            "from": source,
            "to": target,
            "src": source_label,
            "dst": target_label,
            "s": b.rel(edge.get("started_at_unix_ms")),
            "e": b.rel(edge.get("ended_at_unix_ms")),
            "items": b.indexes(b.item_ix, edge.get("carried_item_ids")),
        }
        source_anchor = edge.get("source")
        if isinstance(source_anchor, Mapping) and source_anchor.get("type") == "tool_call":
            record["tool"] = b.tool_ix.get(source_anchor.get("tool_call_id"), -1)  # type: ignore[arg-type]
        out.append(record)
    out.sort(key=lambda e: e["s"] if e["s"] is not None else 0)
    return out
