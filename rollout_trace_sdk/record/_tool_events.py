"""A tool call's events kept flat until written (see ``_encode.FLAT_BUILDERS``): its start
(and the start as an event object, off the hot path), its end and its output's acceptance.
The flat tuples are made by ``tools.ToolCall`` and ``_tool_fast.FastTools``; the writer's
thread turns them into the lines Codex writes, through the builders here."""

from __future__ import annotations

from typing import Any, Final

from ..model import events as ev
from . import tool_kinds
from ._encode import FLAT_AT, flat_event, flat_hook, generic_summary
from ._text import clip

_MODEL_REQUESTER: Final = ev.ModelRequester()


def _started(
    fields: tuple[Any, ...], kind: ev.ToolCallKind, ref: ev.RawPayloadRef | None
) -> ev.ToolCallStarted:
    """The start event of a call: ``fields`` are its ids, its requesting cell's runtime id
    (``None``: the model's), the tool's name and namespace and the text of its preview;
    ``kind`` the kind its name gave (``ToolCall.kind``)."""
    tool_call_id, visible_id, runtime_tool_id, cell_id, name, namespace, source = fields
    return ev.ToolCallStarted(
        tool_call_id,
        visible_id,
        runtime_tool_id,
        _MODEL_REQUESTER if cell_id is None else ev.CodeCellRequester(cell_id),
        kind,
        tool_kinds.summary(name, namespace, source),
        ref,
    )


_requester_json = flat_hook(ev.ToolCallStarted, "requester")
_kind_json = flat_hook(ev.ToolCallStarted, "kind")
_MODEL_REQUESTER_JSON: Final = _requester_json(_MODEL_REQUESTER)


#: a tool name's ``kind`` JSON, for the first :data:`_KINDS_KEPT` names (an agent has a few
#: tools; a name Codex has no kind for would make a new kind object each call). Shared
#: between lines, never changed.
_KIND_JSON: Final[dict[str, Any]] = {}
_KINDS_KEPT: Final = 256


def _kind_of(name: str) -> Any:
    kind = _KIND_JSON.get(name)
    if kind is None:
        kind = _kind_json(tool_kinds.tool_kind(name))
        if len(_KIND_JSON) < _KINDS_KEPT:
            _KIND_JSON[name] = kind
    return kind


# Each builder is given the queued tuple: the envelope (seq, wall time, thread, turn), its
# index, then the values below (from _encode.FLAT_AT on, written out: FLAT_AT is 5); a
# reference is its flat items, last ("REF").
#: ``(_STARTED, *fields of _started, *invocation reference flat or None)``
_STARTED: Final = flat_event(
    ev.ToolCallStarted,
    [
        "f[5]",
        "f[6]",
        "f[7]",
        "_MODEL_REQUESTER_JSON if f[8] is None else _requester_json(CodeCellRequester(f[8]))",
        "_KIND_JSON.get(f[9]) or _kind_of(f[9])",
        # generic_summary(label(name, namespace), preview(source)), label's and preview's
        # common cases inline (a line per tool call): no namespace, a source that stays whole
        "generic_summary(label(f[9], f[10]) if f[10] else f[9], None if f[11] is None"
        " else f[11] if len(f[11]) <= PREVIEW_CHARS else clip(f[11], PREVIEW_CHARS))",
        "REF",
    ],
    FLAT_AT + 7,
    optional=True,
    env={
        "_MODEL_REQUESTER_JSON": _MODEL_REQUESTER_JSON,
        "_requester_json": _requester_json,
        "CodeCellRequester": ev.CodeCellRequester,
        "_KIND_JSON": _KIND_JSON,
        "_kind_of": _kind_of,
        "generic_summary": generic_summary,
        "label": tool_kinds.label,
        "clip": clip,
        "PREVIEW_CHARS": tool_kinds.PREVIEW_CHARS,
    },
)
#: ``(_ENDED, tool call id, status, *result reference flat or None)``
_ENDED: Final = flat_event(
    ev.ToolCallEnded, ["f[5]", "f[6]", "REF"], FLAT_AT + 2, optional=True, env={}
)
#: ``(_ACCEPTED, item id, *the output item's reference flat)``
_ACCEPTED: Final = flat_event(
    ev.HistoryItemAcceptedV3, ["f[5]", "None", "REF"], FLAT_AT + 1, optional=False, env={}
)
