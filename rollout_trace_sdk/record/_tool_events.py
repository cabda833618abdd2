"""A tool call's events kept flat until written (see ``_encode.FLAT_BUILDERS``): its start
(and the start as an event object, off the hot path), its end and its output's acceptance.
The flat tuples are made by ``tools.ToolCall`` and ``_tool_fast.FastTools``; the writer's
thread turns them into the lines Codex writes, through the builders here."""

from __future__ import annotations

from typing import Any, Final

from ..model import events as ev
from . import tool_kinds
from ._encode import FLAT_AT, flat_builder, flat_hook, flat_payload, flat_ref_at, generic_summary

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


_started_payload = flat_payload(ev.ToolCallStarted)
_requester_json = flat_hook(ev.ToolCallStarted, "requester")
_kind_json = flat_hook(ev.ToolCallStarted, "kind")
_MODEL_REQUESTER_JSON: Final = _requester_json(_MODEL_REQUESTER)
_ended_payload = flat_payload(ev.ToolCallEnded)
_accepted_payload = flat_payload(ev.HistoryItemAcceptedV3)
# each builder's reference, last in its queued tuple: after the values of the builders below
# (they read value k at index FLAT_AT + k, written out: FLAT_AT is 5)
_invocation_ref = flat_ref_at(FLAT_AT + 7)
_result_ref = flat_ref_at(FLAT_AT + 2)
_output_ref = flat_ref_at(FLAT_AT + 1)


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


def _started_flat(f: tuple[Any, ...]) -> dict[str, Any]:
    """``(*envelope, _STARTED, *fields of _started, *invocation reference flat or None)``."""
    cell_id = f[8]
    name = f[9]
    source = f[11]
    return _started_payload(
        f[5],
        f[6],
        f[7],
        _MODEL_REQUESTER_JSON
        if cell_id is None
        else _requester_json(ev.CodeCellRequester(cell_id)),
        _kind_of(name),
        generic_summary(
            tool_kinds.label(name, f[10]),
            None if source is None else tool_kinds.preview(source),
        ),
        None if f[12] is None else _invocation_ref(f),
    )


# Each builder is given the queued tuple: the envelope (seq, wall time, thread, turn), its
# index, then the values below (from _encode.FLAT_AT on); a reference is its flat items, last.
#: ``(_STARTED, *fields of _started, *invocation reference flat or None)``
_STARTED: Final = flat_builder(_started_flat)
#: ``(_ENDED, tool call id, status, *result reference flat or None)``
_ENDED: Final = flat_builder(
    lambda f: _ended_payload(f[5], f[6], None if f[7] is None else _result_ref(f))
)
#: ``(_ACCEPTED, item id, *the output item's reference flat)``
_ACCEPTED: Final = flat_builder(lambda f: _accepted_payload(f[5], None, _output_ref(f)))
