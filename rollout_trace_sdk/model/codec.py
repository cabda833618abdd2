"""The one cattrs converter, and Codex-exact bytes.

Codex writes with Rust's serde_json: compact event lines, 2-space pretty files with no trailing
newline, raw UTF-8, struct fields in declaration order. ``orjson`` produces the same bytes for
the same dict, so the whole job here is building dicts in the right order (unstructure) and
checking incoming dicts as strictly as serde does (structure), with serde's error wording so
our reducer can repeat Codex's messages.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from collections.abc import Callable
from typing import Any, Final, Literal, TypeVar, get_args, get_origin

import attrs
import cattrs
import orjson
from cattrs.gen import make_dict_unstructure_fn, override

from . import event_tags, layout
from . import events as ev
from .duplicate_keys import manifest_repeat, may_repeat_keys
from .serde_read import (
    SUMMARY_CLASSES,
    DecodeError,
    describe,
    enum_tag,
    internal_tag,
    is_wide_number,
    missing_field,
    need_map,
    ref_sequence,
    rust_debug,
    structure_i64,
    structure_literal,
    structure_ref,
    structure_ref_v3,
    structure_requester,
    structure_str,
    structure_stripped_ids,
    structure_tool_kind,
    structure_u32,
    structure_u64,
    tag_first,
    unit_variant,
    unknown_variant,
)

T = TypeVar("T")

_LINE: Final = orjson.OPT_APPEND_NEWLINE


__all__ = [
    "DecodeError",
    "describe",
    "is_wide_number",
    "rust_debug",
    "unit_variant",
    "unknown_variant",
]


#: Each summary variant's field count, for a summary given as a sequence (``tag_first``).
_SUMMARY_FIELDS: Final = {tag: len(attrs.fields(cls)) for tag, cls in SUMMARY_CLASSES.items()}
_SUMMARY_VARIANTS: Final = tuple(SUMMARY_CLASSES)


def _structure_summary(value: Any, _: Any) -> ev.ToolCallSummary:
    value = tag_first(value, "type", "ToolCallSummary", _SUMMARY_VARIANTS, _SUMMARY_FIELDS)
    tag = internal_tag(value, _SUMMARY_VARIANTS, "ToolCallSummary")
    return converter.structure(value, SUMMARY_CLASSES[tag])  # type: ignore[no-any-return]


def _payload_hook(
    conv: cattrs.Converter, types: dict[str, type[ev.EventPayload]]
) -> Callable[[Any, Any], ev.EventPayload]:
    tags = tuple(types)
    #: each variant's hook, as the converter dispatches it (looked up once, not per event)
    hooks: dict[str, Callable[[Any, Any], ev.EventPayload]] = {}

    def structure(value: Any, _: Any) -> ev.EventPayload:
        # read straight from the line (not buffered): a name only, never an index
        tag = enum_tag(value, "internally tagged enum RawTraceEventPayload", tags, by_index=False)
        hook = hooks.get(tag)
        if hook is None:
            hook = hooks[tag] = conv.get_structure_hook(types[tag])
        return hook(value, types[tag])

    return structure


def _is_optional(tp: Any) -> bool:
    return get_origin(tp) in (typing.Union, types.UnionType) and type(None) in get_args(tp)


#: Fields serde fills with a default when absent but refuses as null (``#[serde(default)]``).
_SERDE_DEFAULT: Final = {(ev.InferenceStartedV3, "stripped_tool_output_ids")}
# Envelope integers: seq is a u64 and wall time an i64 in Codex; schema_version a u32. Checked
# on the parsed envelope first (``event_from_dict``), then structured by the same hooks (any
# other integer field is an i64).
_ENVELOPE_INTS: Final[dict[str, Callable[[Any, Any], int]]] = {
    "schema_version": structure_u32,
    "seq": structure_u64,
}
#: Integer fields that are not Codex's default ``i64``.
_INT_FIELDS: Final[dict[tuple[type, str], Callable[[Any, Any], int]]] = {
    (ev.TraceEvent, name): hook for name, hook in _ENVELOPE_INTS.items()
}
#: Rust struct names where ours differ (serde's messages name the Rust struct).
_RUST_NAMES: Final[dict[type, str]] = {ev.InferenceStartedV3: "InferenceStarted"}


def field_hints(cls: type) -> dict[str, Any]:
    """``cls``'s annotations as types, read in the module that declares it: the vocabulary
    lives in several modules that ``events`` and ``state`` re-export, and each imports what
    its own annotations name. (Not ``get_type_hints(cls)`` alone: that reads the class's own
    namespace first, where a slot named ``type`` or ``id`` would shadow the builtin.)

    Args:
        cls: an attrs class of the vocabulary (an event, a state node).

    Returns:
        Every annotation of ``cls`` and its bases, by name.
    """
    return typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))


def _strict_attrs_structure(conv: cattrs.Converter) -> Callable[[type[T]], Callable[[Any, Any], T]]:
    def factory(cls: type[T]) -> Callable[[Any, Any], T]:
        return _strict_attrs_plan(conv, cls)

    return factory


def _strict_attrs_plan(conv: cattrs.Converter, cls: type[T]) -> Callable[[Any, Any], T]:
    """Structure an attrs class the way serde derives do: required fields must be present,
    ``Option`` fields may be missing or null, unknown keys are ignored."""
    hints = field_hints(cls)
    plan: list[tuple[str, bool, bool, Callable[[Any, Any], Any], Any]] = []
    for field in attrs.fields(cls):  # type: ignore[arg-type]
        tp = hints[field.name]
        defaulted = (cls, field.name) in _SERDE_DEFAULT
        optional = _is_optional(tp) and not defaulted
        inner = tp
        if _is_optional(tp):
            rest = tuple(a for a in get_args(tp) if a is not type(None))
            inner = rest[0] if len(rest) == 1 else typing.Union[rest]  # noqa: UP007
        hook = _INT_FIELDS.get((cls, field.name)) or conv.get_structure_hook(inner)
        plan.append((field.name, optional, defaulted, hook, inner))
    names: dict[type, str] = _RUST_NAMES
    what = f"struct {names.get(cls, cls.__name__)}"

    def structure(value: Any, _: Any) -> T:
        obj = need_map(value, what)
        args = []
        for name, optional, defaulted, hook, inner in plan:
            if name in obj:
                item = obj[name]
                args.append(None if optional and item is None else hook(item, inner))
            elif optional or defaulted:
                args.append(None)
            else:
                raise missing_field(name)
        return cls(*args)

    return structure


# --- unstructure hooks -------------------------------------------------------------------------


def _unstructure_ref(ref: ev.RawPayloadRef) -> dict[str, Any]:
    return {"raw_payload_id": ref.raw_payload_id, "kind": {"type": ref.kind}, "path": ref.path}


def capture_to_dict(capture: ev.PayloadCapture) -> dict[str, Any]:
    """A schema-3 ref's ``capture`` as Codex writes it: an omitted payload has no retained
    size, a truncated one has both sizes (v3.md, capture metadata)."""
    if capture.status == "omitted":
        return {"status": "omitted", "original_bytes": capture.original_bytes}
    return {
        "status": "truncated",
        "original_bytes": capture.original_bytes,
        "retained_bytes": capture.retained_bytes,
    }


def ref_to_dict_v3(ref: ev.RawPayloadRef) -> dict[str, Any]:
    """Schema 3's reference, as Codex writes it in events and in ``raw_payloads``."""
    out: dict[str, Any] = {
        "raw_payload_id": ref.raw_payload_id,
        "kind": {"type": ref.kind},
        "shard": ref.shard,
    }
    if ref.capture is not None:
        out["capture"] = capture_to_dict(ref.capture)
    if ref.parts:
        out["parts"] = [ref_to_dict_v3(part) for part in ref.parts]
    return out


def _unstructure_stripped(ids: tuple[tuple[int, str], ...]) -> list[list[Any]]:
    return [[index, output_id] for index, output_id in ids]


def _unstructure_tool_kind(kind: ev.ToolCallKind) -> dict[str, Any]:
    if kind.type == "other":
        return {"type": "other", "name": kind.name}
    if kind.type == "mcp":
        return {"type": "mcp", "server": kind.server, "tool": kind.tool}
    return {"type": kind.type}


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


_STRIPPED: Final = tuple[tuple[int, str], ...]


def _is_literal(tp: Any) -> bool:
    return get_origin(tp) is Literal


def _identity(value: Any, _: Any) -> Any:
    return value


#: Schema-3 fields Codex leaves out when unset.
_OMIT_WHEN_NONE: Final = {
    ev.HistoryItemAccepted: ("agent_message_payload",),
    ev.HistoryItemAcceptedV3: ("agent_message_payload", "tool_output_payload"),
    ev.InferenceStartedV3: ("warmup_context_payload", "stripped_tool_output_ids"),
}


def _build_converter(schema: int) -> cattrs.Converter:
    conv = cattrs.Converter()
    v3 = schema == ev.SCHEMA_VERSION_V3
    conv.register_structure_hook(str, structure_str)
    conv.register_structure_hook(int, structure_i64)
    ref_hook = structure_ref_v3 if v3 else structure_ref
    conv.register_structure_hook(ev.RawPayloadRef, ref_hook)
    conv.register_structure_hook_func(_equals(list[ev.RawPayloadRef]), ref_sequence(ref_hook))
    conv.register_structure_hook_func(_equals(_STRIPPED), structure_stripped_ids)
    conv.register_structure_hook(ev.ToolCallKind, structure_tool_kind)
    conv.register_structure_hook_func(_is(ev.ToolCallRequester), structure_requester)
    conv.register_structure_hook_func(_is(ev.ToolCallSummary), _structure_summary)
    conv.register_structure_hook_func(
        _is(ev.EventPayload), _payload_hook(conv, event_tags.event_types(schema))
    )
    conv.register_structure_hook_factory(_is_literal, structure_literal)
    conv.register_structure_hook_func(_is(Any), _identity)
    conv.register_structure_hook_factory(attrs.has, _strict_attrs_structure(conv))

    conv.register_unstructure_hook(ev.RawPayloadRef, ref_to_dict_v3 if v3 else _unstructure_ref)
    conv.register_unstructure_hook_func(_equals(_STRIPPED), _unstructure_stripped)
    conv.register_unstructure_hook(ev.ToolCallKind, _unstructure_tool_kind)
    conv.register_unstructure_hook(ev.ModelRequester, _unstructure_requester)
    conv.register_unstructure_hook(ev.CodeCellRequester, _unstructure_requester)
    for union in (ev.ToolCallRequester, ev.ToolCallSummary, ev.EventPayload):
        conv.register_unstructure_hook_func(_is(union), _unstructure_union(conv))
    tagged = {
        cls: tag for tag, cls in (*SUMMARY_CLASSES.items(), *event_tags.event_types(schema).items())
    }
    conv.register_unstructure_hook_factory(
        tagged.__contains__, lambda cls: _tagged_unstructure(conv, cls, tagged[cls])
    )
    return conv


def _tagged_unstructure(
    conv: cattrs.Converter, cls: type, tag: str
) -> Callable[[Any], dict[str, Any]]:
    """A summary or event variant's hook, generated on first use (cattrs caches it): making
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


def payload_to_dict(payload: ev.EventPayload, schema: int = ev.SCHEMA_VERSION) -> dict[str, Any]:
    """An event's ``payload`` object alone, tagged by its ``type``, as ``schema`` writes it."""
    return converter_for(schema).unstructure(payload, payload.__class__)  # type: ignore[no-any-return]


def event_line(event: ev.TraceEvent, schema: int = ev.SCHEMA_VERSION) -> bytes:
    """One ``trace.jsonl`` line of ``schema``, newline included."""
    return orjson.dumps(converter_for(schema).unstructure(event), option=_LINE)


def event_from_dict(obj: Any, schema: int = ev.SCHEMA_VERSION) -> ev.TraceEvent:
    """Check and build an event of ``schema`` (the manifest's: events are parsed by the
    bundle's rules, then their own ``schema_version`` is gated); raises :class:`DecodeError`
    with serde's wording."""
    envelope = need_map(obj, "struct TraceEvent")
    for name, hook in _ENVELOPE_INTS.items():
        if name in envelope:
            hook(envelope[name], int)
    return converter_for(schema).structure(envelope, ev.TraceEvent)


def parse_event_line(line: bytes | str, schema: int = ev.SCHEMA_VERSION) -> ev.TraceEvent:
    """The event on one ``trace.jsonl`` line; :class:`DecodeError` for one serde may refuse
    (the caller recomputes serde's exact message), a key given twice included."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(json_error_message(exc)) from None
    if may_repeat_keys(line if isinstance(line, bytes) else line.encode(), obj):
        raise DecodeError("a key is given twice")
    return event_from_dict(obj, schema)


def manifest_from_bytes(raw: bytes) -> ev.Manifest:
    """``manifest.json``; :class:`DecodeError` (or orjson's) for one serde refuses, a known
    field given twice included (the caller recomputes serde's message)."""
    obj = orjson.loads(raw)
    if isinstance(obj, list) and len(obj) == len(attrs.fields(ev.Manifest)):
        # serde takes a struct as a sequence of its fields, in declaration order
        obj = dict(zip((field.name for field in attrs.fields(ev.Manifest)), obj, strict=True))
    elif manifest_repeat(raw) is not None:
        raise DecodeError("a key is given twice")
    return manifest_from_dict(obj)


def manifest_from_dict(obj: Any) -> ev.Manifest:
    """Check and build a manifest from its parsed JSON; :class:`DecodeError` with serde's
    wording for what Codex's ``TraceBundleManifest`` refuses."""
    manifest = need_map(obj, "struct TraceBundleManifest")
    if "schema_version" in manifest:
        structure_u32(manifest["schema_version"], int)
    return converter.structure(manifest, ev.Manifest)


def manifest_bytes(manifest: ev.Manifest) -> bytes:
    """``manifest.json`` as Codex writes it (pretty, 2 spaces, fields in declaration order)."""
    return layout.pretty_json(converter.unstructure(manifest))


def pretty_bytes(value: Any) -> bytes:
    """2-space pretty JSON with no trailing newline: payload files, manifest, state.json."""
    return layout.pretty_json(value)


def json_error_message(exc: orjson.JSONDecodeError) -> str:
    """orjson's message for a syntax error, trimmed to the part a person needs."""
    return str(exc.msg if hasattr(exc, "msg") else exc)


#: Python refuses to turn longer digit strings into ``int`` (CVE-2020-10735 guard).
_INT_DIGITS_LIMIT: Final = 4_000


def _int_or_float(text: str) -> int | float:
    """An integer literal as serde_json reads it into a ``Value``: exact while it fits, else a
    float (infinite beyond f64). Never raises on length."""
    digits = len(text) - text.startswith("-")
    return int(text) if digits <= _INT_DIGITS_LIMIT else float(text)


def loads_wide_numbers(raw: bytes | str) -> Any:
    """Parse JSON that orjson refused only for its numbers (beyond f64 / i64 / u64).

    Call only once serde's rules (``serde_errors``) have accepted ``raw``: integers of any
    length are accepted, as serde does, instead of failing on Python's digit limit."""
    return json.loads(raw, parse_int=_int_or_float)
