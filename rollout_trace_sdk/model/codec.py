"""The one cattrs converter, and Codex-exact bytes.

Codex writes with Rust's serde_json: compact event lines, 2-space pretty files with no trailing
newline, raw UTF-8, struct fields in declaration order. ``orjson`` produces the same bytes for
the same dict, so the whole job here is building dicts in the right order (unstructure) and
checking incoming dicts as strictly as serde does (structure), with serde's error wording so
our reducer can repeat Codex's messages. The structure hooks are :mod:`.structure`'s, where the
reducer calls them without loading cattrs; the reading functions are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import attrs
import cattrs
import orjson
from cattrs.gen import make_dict_unstructure_fn, override

from . import event_tags, layout
from . import events as ev
from .payload_refs import capture_to_dict, ref_to_dict, ref_to_dict_v3
from .serde_read import (
    DecodeError,
    describe,
    is_wide_number,
    rust_debug,
    unit_variant,
    unknown_variant,
)
from .structure import (
    STRIPPED,
    event_from_dict,
    field_hints,
    json_error_message,
    loads_wide_numbers,
    manifest_from_bytes,
    manifest_from_dict,
    parse_event_line,
    structurer,
)
from .tool_events import summary_to_dict, tool_kind_to_dict

_LINE: Final = orjson.OPT_APPEND_NEWLINE


__all__ = [
    "DecodeError",
    "capture_to_dict",
    "describe",
    "event_from_dict",
    "field_hints",
    "is_wide_number",
    "json_error_message",
    "loads_wide_numbers",
    "manifest_from_bytes",
    "manifest_from_dict",
    "parse_event_line",
    "ref_to_dict_v3",
    "rust_debug",
    "unit_variant",
    "unknown_variant",
]


# --- unstructure hooks -------------------------------------------------------------------------


def _unstructure_stripped(ids: tuple[tuple[int, str], ...]) -> list[list[Any]]:
    return [[index, output_id] for index, output_id in ids]


def _unstructure_requester(requester: ev.ToolCallRequester) -> dict[str, Any]:
    if isinstance(requester, ev.CodeCellRequester):
        return {"type": "code_cell", "runtime_cell_id": requester.runtime_cell_id}
    return {"type": "model"}


def _tagged(tag: str, fn: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    def unstructure(obj: Any) -> dict[str, Any]:
        out = {"type": tag}
        out.update(fn(obj))
        return out

    return unstructure


def _unstructure_union(conv: cattrs.Converter) -> Callable[[Any], Any]:
    return lambda obj: conv.unstructure(obj, obj.__class__)


def _is(target: object) -> Callable[[Any], bool]:
    return lambda tp: tp is target


def _equals(target: object) -> Callable[[Any], bool]:
    return lambda tp: bool(tp == target)


#: Schema-3 fields Codex leaves out when unset.
_OMIT_WHEN_NONE: Final = {
    ev.HistoryItemAccepted: ("agent_message_payload",),
    ev.HistoryItemAcceptedV3: ("agent_message_payload", "tool_output_payload"),
    ev.InferenceStartedV3: ("warmup_context_payload", "stripped_tool_output_ids"),
}


def _build_converter(schema: int) -> cattrs.Converter:
    """``schema``'s converter: its structure hooks are :mod:`.structure`'s (the one definition
    of reading; the reducer calls them without cattrs), its unstructure hooks write Codex's
    key order and omissions."""
    conv = cattrs.Converter()
    v3 = schema == ev.SCHEMA_VERSION_V3
    reading = structurer(schema)
    # cattrs answers plain classes (str, int) from its own table before any predicate
    conv.register_structure_hook(str, reading.hook(str))
    conv.register_structure_hook(int, reading.hook(int))
    conv.register_structure_hook_factory(reading.handles, reading.hook)

    conv.register_unstructure_hook(ev.RawPayloadRef, ref_to_dict_v3 if v3 else ref_to_dict)
    conv.register_unstructure_hook_func(_equals(STRIPPED), _unstructure_stripped)
    conv.register_unstructure_hook(ev.ToolCallKind, tool_kind_to_dict)
    conv.register_unstructure_hook(ev.ModelRequester, _unstructure_requester)
    conv.register_unstructure_hook(ev.CodeCellRequester, _unstructure_requester)
    for summary in ev.SUMMARY_TYPES.values():
        conv.register_unstructure_hook(summary, summary_to_dict)
    for union in (ev.ToolCallRequester, ev.ToolCallSummary, ev.EventPayload):
        conv.register_unstructure_hook_func(_is(union), _unstructure_union(conv))
    tagged = {cls: tag for tag, cls in event_tags.event_types(schema).items()}
    conv.register_unstructure_hook_factory(
        tagged.__contains__, lambda cls: _tagged_unstructure(conv, cls, tagged[cls])
    )
    return conv


def _tagged_unstructure(
    conv: cattrs.Converter, cls: type, tag: str
) -> Callable[[Any], dict[str, Any]]:
    """An event variant's hook, generated on first use (cattrs caches it): making
    all of them up front cost the reducer ~40 ms of start-up for hooks it never calls."""
    omit: dict[str, Any] = {
        name: override(omit_if_default=True) for name in _OMIT_WHEN_NONE.get(cls, ())
    }
    return _tagged(tag, make_dict_unstructure_fn(cls, conv, **omit))


def _resolve_annotations() -> None:
    """The event classes' string annotations turned into types once (1 ms), as generating
    every hook up front used to do: code reading ``attrs.fields(cls)[i].type`` (hypothesis's
    strategies for attrs classes, for one) gets types, not strings. ``events`` re-exports
    every class of the vocabulary and nothing else of attrs; each resolves in its own module."""
    for value in vars(ev).values():
        if isinstance(value, type) and attrs.has(value):
            attrs.resolve_types(value)


_resolve_annotations()
#: Schema 2's converter (the recorder's and the default).
converter: Final[cattrs.Converter] = _build_converter(ev.SCHEMA_VERSION)
#: Each schema's converter, schema 3's built on first use.
_CONVERTERS: Final[dict[int, cattrs.Converter]] = {ev.SCHEMA_VERSION: converter}


def converter_for(schema: int) -> cattrs.Converter:
    """The converter reading and writing ``schema`` (2 or 3)."""
    if schema != ev.SCHEMA_VERSION_V3:
        return converter
    found = _CONVERTERS.get(schema)
    if found is None:
        found = _CONVERTERS[schema] = _build_converter(schema)
    return found


# --- public helpers ----------------------------------------------------------------------------


def event_to_dict(event: ev.TraceEvent, schema: int = ev.SCHEMA_VERSION) -> dict[str, Any]:
    """``event`` as the JSON object of its ``trace.jsonl`` line in ``schema`` (key order and
    omitted fields as Codex's writer has them)."""
    return converter_for(schema).unstructure(event)  # type: ignore[no-any-return]


def event_line(event: ev.TraceEvent, schema: int = ev.SCHEMA_VERSION) -> bytes:
    """One ``trace.jsonl`` line of ``schema``, newline included."""
    return orjson.dumps(converter_for(schema).unstructure(event), option=_LINE)


def manifest_bytes(manifest: ev.Manifest) -> bytes:
    """``manifest.json`` as Codex writes it (pretty, 2 spaces, fields in declaration order)."""
    return layout.pretty_json(converter.unstructure(manifest))


def pretty_bytes(value: Any) -> bytes:
    """2-space pretty JSON with no trailing newline: payload files, manifest, state.json."""
    return layout.pretty_json(value)
