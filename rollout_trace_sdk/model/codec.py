"""The one cattrs converter, and Codex-exact bytes.

Codex writes with Rust's serde_json: compact event lines, 2-space pretty files with no trailing
newline, raw UTF-8, struct fields in declaration order. ``orjson`` produces the same bytes for
the same dict, so the whole job here is building dicts in the right order (unstructure) and
checking incoming dicts as strictly as serde does (structure), with serde's error wording so
our reducer can repeat Codex's messages.
"""

from __future__ import annotations

import json
import types
import typing
import unicodedata
from collections.abc import Callable
from typing import Any, Final, Literal, TypeVar, get_args, get_origin

import attrs
import cattrs
import orjson
from cattrs.gen import make_dict_unstructure_fn, override

from . import events as ev
from . import layout

T = TypeVar("T")

_LINE: Final = orjson.OPT_APPEND_NEWLINE


class DecodeError(ValueError):
    """Input does not fit the schema; ``str(err)`` is serde's wording (without a position)."""


# --- serde-style messages --------------------------------------------------------------------


_DEBUG_ESCAPES: Final = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\0": "\\0",
}
_UNPRINTABLE: Final = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"})


def rust_debug(text: str) -> str:
    """A string as Rust's ``{:?}`` prints it: serde quotes strings in its errors that way."""
    out = ['"']
    for char in text:
        escaped = _DEBUG_ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif unicodedata.category(char) in _UNPRINTABLE:
            out.append(f"\\u{{{ord(char):x}}}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def describe(value: Any) -> str:
    """serde's words for an unexpected value in an "invalid type" error."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f"string {rust_debug(value)}"
    if isinstance(value, list):
        return "sequence"
    return "map"


def _invalid_type(value: Any, expected: str) -> DecodeError:
    return DecodeError(f"invalid type: {describe(value)}, expected {expected}")


def unknown_variant(value: str, allowed: tuple[str, ...]) -> DecodeError:
    if not allowed:
        return DecodeError(f"unknown variant `{value}`, there are no variants")
    if len(allowed) == 1:
        expected = f"`{allowed[0]}`"
    elif len(allowed) == 2:
        expected = f"`{allowed[0]}` or `{allowed[1]}`"
    else:
        expected = "one of " + ", ".join(f"`{a}`" for a in allowed)
    return DecodeError(f"unknown variant `{value}`, expected {expected}")


def _missing(name: str) -> DecodeError:
    return DecodeError(f"missing field `{name}`")


def _need_map(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid_type(value, what)
    return value


# --- leaf structure hooks ----------------------------------------------------------------------


def _structure_str(value: Any, _: Any) -> str:
    if not isinstance(value, str):
        raise _invalid_type(value, "a string")
    return value


def _int_hook(expected: str, lo: int, hi: int) -> Callable[[Any, Any], int]:
    def structure(value: Any, _: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid_type(value, expected)
        if not lo <= value <= hi:
            raise DecodeError(f"invalid value: integer `{value}`, expected {expected}")
        return value

    return structure


_structure_u64 = _int_hook("u64", 0, 2**64 - 1)
_structure_u32 = _int_hook("u32", 0, 2**32 - 1)
_structure_i64 = _int_hook("i64", -(2**63), 2**63 - 1)
_structure_usize = _int_hook("usize", 0, 2**64 - 1)


def _structure_literal(tp: Any) -> Callable[[Any, Any], str]:
    allowed: tuple[str, ...] = get_args(tp)

    def structure(value: Any, _: Any) -> str:
        if not isinstance(value, str):
            raise _invalid_type(value, "a string")
        if value not in allowed:
            raise unknown_variant(value, allowed)
        return value

    return structure


def _tag(
    value: Any, what: str, allowed: tuple[str, ...], *, key: str = "type", kind: str = "a string"
) -> str:
    """The tag of a tagged enum, checked as serde does: a map, the key present, a string
    (``kind`` is serde's word for what it expected), one of ``allowed``."""
    obj = _need_map(value, what)
    if key not in obj:
        raise _missing(key)
    tag = obj[key]
    if not isinstance(tag, str):
        raise _invalid_type(tag, kind)
    if tag not in allowed:
        raise unknown_variant(tag, allowed)
    return tag


def _tag_of(value: Any, allowed: tuple[str, ...], enum: str) -> str:
    return _tag(value, f"internally tagged enum {enum}", allowed)


def _payload_kind(kind: Any, allowed: tuple[str, ...]) -> ev.PayloadKind:
    what = "adjacently tagged enum RawPayloadKind"
    return _tag(kind, what, allowed, kind="variant identifier")  # type: ignore[return-value]


def _structure_ref(value: Any, _: Any) -> ev.RawPayloadRef:
    obj = _need_map(value, "struct RawPayloadRef")
    for name in ("raw_payload_id", "kind", "path"):
        if name not in obj:
            raise _missing(name)
    kind = _payload_kind(obj["kind"], ev.PAYLOAD_KINDS)
    return ev.RawPayloadRef(
        _structure_str(obj["raw_payload_id"], str), kind, _structure_str(obj["path"], str)
    )


_PARTIAL_CAPTURES: Final = ("truncated", "omitted")


def structure_capture(value: Any) -> ev.PayloadCapture | None:
    """Schema 3's ``capture`` (internally tagged by ``status``); complete is None."""
    what = "internally tagged enum PayloadCapture"
    status = _tag(value, what, ev.CAPTURE_STATUSES, key="status", kind="variant identifier")
    obj: dict[str, Any] = value
    if status == "complete":
        return None
    if "original_bytes" not in obj:
        raise _missing("original_bytes")
    original = _structure_u64(obj["original_bytes"], int)
    if status == "omitted":
        return ev.PayloadCapture("omitted", original)
    if "retained_bytes" not in obj:
        raise _missing("retained_bytes")
    return ev.PayloadCapture("truncated", original, _structure_u64(obj["retained_bytes"], int))


def _structure_ref_v3(value: Any, _: Any) -> ev.RawPayloadRef:
    """Schema 3: ``{raw_payload_id, kind, shard, capture?, parts?}``; ``path`` is ignored."""
    obj = _need_map(value, "struct RawPayloadRef")
    for name in ("raw_payload_id", "kind"):
        if name not in obj:
            raise _missing(name)
    payload_id = _structure_str(obj["raw_payload_id"], str)
    kind = _payload_kind(obj["kind"], ev.PAYLOAD_KINDS_V3)
    shard = obj.get("shard")
    if shard is not None:
        shard = _structure_u64(shard, int)
    capture = obj.get("capture")
    if capture is not None:
        capture = structure_capture(capture)
    parts: tuple[ev.RawPayloadRef, ...] = ()
    raw_parts = obj.get("parts")
    if raw_parts is not None:
        if not isinstance(raw_parts, list):
            raise _invalid_type(raw_parts, "a sequence")
        parts = tuple(_structure_ref_v3(part, None) for part in raw_parts)
    return ev.RawPayloadRef(payload_id, kind, "", shard, capture, parts)


def _structure_stripped_ids(value: Any, _: Any) -> tuple[tuple[int, str], ...]:
    """``stripped_tool_output_ids``: a sequence of ``[usize, string]`` (null refused)."""
    if not isinstance(value, list):
        raise _invalid_type(value, "a sequence")
    out = []
    for entry in value:
        if not isinstance(entry, list):
            raise _invalid_type(entry, "a tuple of size 2")
        if len(entry) != 2:
            raise DecodeError(f"invalid length {len(entry)}, expected a tuple of size 2")
        out.append((_structure_usize(entry[0], int), _structure_str(entry[1], str)))
    return tuple(out)


def _opt_str(obj: dict[str, Any], name: str) -> str | None:
    value = obj.get(name)
    return None if value is None else _structure_str(value, str)


def _structure_tool_kind(value: Any, _: Any) -> ev.ToolCallKind:
    tag = _tag_of(value, ev.TOOL_CALL_KIND_TYPES, "ToolCallKind")
    if tag == "other":
        if "name" not in value:
            raise _missing("name")
        return ev.ToolCallKind("other", name=_structure_str(value["name"], str))
    if tag == "mcp":
        for name in ("server", "tool"):
            if name not in value:
                raise _missing(name)
        return ev.ToolCallKind.mcp(
            _structure_str(value["server"], str), _structure_str(value["tool"], str)
        )
    return ev.ToolCallKind(tag)  # type: ignore[arg-type]


_REQUESTER_TAGS: Final = ("model", "code_cell")


def _structure_requester(value: Any, _: Any) -> ev.ToolCallRequester:
    if _tag_of(value, _REQUESTER_TAGS, "RawToolCallRequester") == "model":
        return ev.ModelRequester()
    if "runtime_cell_id" not in value:
        raise _missing("runtime_cell_id")
    return ev.CodeCellRequester(_structure_str(value["runtime_cell_id"], str))


_SUMMARY_CLASSES: Final[dict[str, type[Any]]] = {
    "terminal": ev.TerminalSummary,
    "agent": ev.AgentSummary,
    "wait_agent": ev.WaitAgentSummary,
    "generic": ev.GenericSummary,
}
_SUMMARY_TAGS: Final = {cls: tag for tag, cls in _SUMMARY_CLASSES.items()}


def _structure_summary(value: Any, _: Any) -> ev.ToolCallSummary:
    tag = _tag_of(value, tuple(_SUMMARY_CLASSES), "ToolCallSummary")
    return converter.structure(value, _SUMMARY_CLASSES[tag])  # type: ignore[no-any-return]


def _payload_hook(
    conv: cattrs.Converter, types: dict[str, type[ev.EventPayload]]
) -> Callable[[Any, Any], ev.EventPayload]:
    tags = tuple(types)

    def structure(value: Any, _: Any) -> ev.EventPayload:
        tag = _tag_of(value, tags, "RawTraceEventPayload")
        return conv.structure(value, types[tag])

    return structure


def _is_optional(tp: Any) -> bool:
    return get_origin(tp) in (typing.Union, types.UnionType) and type(None) in get_args(tp)


#: Fields serde fills with a default when absent but refuses as null (``#[serde(default)]``).
_SERDE_DEFAULT: Final = {(ev.InferenceStartedV3, "stripped_tool_output_ids")}
#: Rust struct names where ours differ (serde's messages name the Rust struct).
_RUST_NAMES: Final[dict[type, str]] = {ev.InferenceStartedV3: "InferenceStarted"}


def _strict_attrs_structure(conv: cattrs.Converter) -> Callable[[type[T]], Callable[[Any, Any], T]]:
    def factory(cls: type[T]) -> Callable[[Any, Any], T]:
        return _strict_attrs_plan(conv, cls)

    return factory


def _strict_attrs_plan(conv: cattrs.Converter, cls: type[T]) -> Callable[[Any, Any], T]:
    """Structure an attrs class the way serde derives do: required fields must be present,
    ``Option`` fields may be missing or null, unknown keys are ignored."""
    hints = typing.get_type_hints(cls, vars(ev))
    plan: list[tuple[str, bool, bool, Callable[[Any, Any], Any], Any]] = []
    for field in attrs.fields(cls):  # type: ignore[arg-type]
        tp = hints[field.name]
        defaulted = (cls, field.name) in _SERDE_DEFAULT
        optional = _is_optional(tp) and not defaulted
        inner = tp
        if _is_optional(tp):
            rest = tuple(a for a in get_args(tp) if a is not type(None))
            inner = rest[0] if len(rest) == 1 else typing.Union[rest]  # noqa: UP007
        plan.append((field.name, optional, defaulted, conv.get_structure_hook(inner), inner))
    names: dict[type, str] = _RUST_NAMES
    what = f"struct {names.get(cls, cls.__name__)}"

    def structure(value: Any, _: Any) -> T:
        obj = _need_map(value, what)
        args = []
        for name, optional, defaulted, hook, inner in plan:
            if name in obj:
                item = obj[name]
                args.append(None if optional and item is None else hook(item, inner))
            elif optional or defaulted:
                args.append(None)
            else:
                raise _missing(name)
        return cls(*args)

    return structure


# --- unstructure hooks -------------------------------------------------------------------------


def _unstructure_ref(ref: ev.RawPayloadRef) -> dict[str, Any]:
    return {"raw_payload_id": ref.raw_payload_id, "kind": {"type": ref.kind}, "path": ref.path}


def capture_to_dict(capture: ev.PayloadCapture) -> dict[str, Any]:
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
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_i64)
    conv.register_structure_hook(ev.RawPayloadRef, _structure_ref_v3 if v3 else _structure_ref)
    conv.register_structure_hook_func(_equals(_STRIPPED), _structure_stripped_ids)
    conv.register_structure_hook(ev.ToolCallKind, _structure_tool_kind)
    conv.register_structure_hook_func(_is(ev.ToolCallRequester), _structure_requester)
    conv.register_structure_hook_func(_is(ev.ToolCallSummary), _structure_summary)
    conv.register_structure_hook_func(
        _is(ev.EventPayload), _payload_hook(conv, ev.event_types(schema))
    )
    conv.register_structure_hook_factory(_is_literal, _structure_literal)
    conv.register_structure_hook_func(_is(Any), _identity)
    conv.register_structure_hook_factory(attrs.has, _strict_attrs_structure(conv))

    conv.register_unstructure_hook(ev.RawPayloadRef, ref_to_dict_v3 if v3 else _unstructure_ref)
    conv.register_unstructure_hook_func(_equals(_STRIPPED), _unstructure_stripped)
    conv.register_unstructure_hook(ev.ToolCallKind, _unstructure_tool_kind)
    conv.register_unstructure_hook(ev.ModelRequester, _unstructure_requester)
    conv.register_unstructure_hook(ev.CodeCellRequester, _unstructure_requester)
    for union in (ev.ToolCallRequester, ev.ToolCallSummary, ev.EventPayload):
        conv.register_unstructure_hook_func(_is(union), _unstructure_union(conv))
    tagged = {cls: tag for tag, cls in (*_SUMMARY_CLASSES.items(), *ev.event_types(schema).items())}
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
    strategies for attrs classes, for one) gets types, not strings."""
    for value in vars(ev).values():
        if isinstance(value, type) and attrs.has(value) and value.__module__ == ev.__name__:
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


# Envelope integers: seq is a u64 and wall time an i64 in Codex; schema_version a u32.
_ENVELOPE_INTS: Final = {"schema_version": _structure_u32, "seq": _structure_u64}


# --- public helpers ----------------------------------------------------------------------------


def event_to_dict(event: ev.TraceEvent, schema: int = ev.SCHEMA_VERSION) -> dict[str, Any]:
    return converter_for(schema).unstructure(event)  # type: ignore[no-any-return]


def payload_to_dict(payload: ev.EventPayload, schema: int = ev.SCHEMA_VERSION) -> dict[str, Any]:
    return converter_for(schema).unstructure(payload, payload.__class__)  # type: ignore[no-any-return]


def event_line(event: ev.TraceEvent, schema: int = ev.SCHEMA_VERSION) -> bytes:
    """One ``trace.jsonl`` line of ``schema``, newline included."""
    return orjson.dumps(converter_for(schema).unstructure(event), option=_LINE)


def event_from_dict(obj: Any, schema: int = ev.SCHEMA_VERSION) -> ev.TraceEvent:
    """Check and build an event of ``schema`` (the manifest's: events are parsed by the
    bundle's rules, then their own ``schema_version`` is gated); raises :class:`DecodeError`
    with serde's wording."""
    envelope = _need_map(obj, "struct TraceEvent")
    for name, hook in _ENVELOPE_INTS.items():
        if name in envelope:
            hook(envelope[name], int)
    return converter_for(schema).structure(envelope, ev.TraceEvent)


def parse_event_line(line: bytes | str, schema: int = ev.SCHEMA_VERSION) -> ev.TraceEvent:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(json_error_message(exc)) from None
    return event_from_dict(obj, schema)


def manifest_from_dict(obj: Any) -> ev.Manifest:
    manifest = _need_map(obj, "struct TraceBundleManifest")
    if "schema_version" in manifest:
        _structure_u32(manifest["schema_version"], int)
    return converter.structure(manifest, ev.Manifest)


def manifest_bytes(manifest: ev.Manifest) -> bytes:
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
