"""Event lines and the manifest read into the vocabulary's classes as strictly as serde does:
the structure side of the one converter, without cattrs.

Each schema has one :class:`Structurer`: a hook per type of the vocabulary (an attrs class's
hook checks its fields in declaration order, serde's way: required ones present, ``Option``
ones missing or null, unknown keys ignored), made on first use and kept. The converter
(:mod:`.codec`) registers these very hooks, so what it structures and what the reducer reads
here are one definition; the reducer reads here because ``import cattrs`` (with
``typing_extensions``) and building a converter were ~12 ms of the ``reduce`` command's
start-up. A type outside the vocabulary has no hook (``TypeError`` when its plan is made), so a
new field type cannot be read one way here and another way there.
"""

from __future__ import annotations

import json
import re
import sys
import types
import typing
from collections.abc import Callable
from functools import partial
from typing import Any, Final, Literal, get_args, get_origin

import attrs
import orjson

from . import event_tags
from . import events as ev
from .duplicate_keys import manifest_repeat, may_repeat_keys
from .json_check import manifest_value
from .serde_read import (
    SUMMARY_CLASSES,
    DecodeError,
    enum_tag,
    first_error_in_order,
    internal_tag,
    missing_field,
    need_map,
    ref_sequence,
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
)

Hook = Callable[[Any, Any], Any]

#: Each summary variant's field count, for a summary given as a sequence (``tag_first``).
_SUMMARY_FIELDS: Final = {tag: len(attrs.fields(cls)) for tag, cls in SUMMARY_CLASSES.items()}
_SUMMARY_VARIANTS: Final = tuple(SUMMARY_CLASSES)
#: Fields serde fills with a default when absent but refuses as null (``#[serde(default)]``).
_SERDE_DEFAULT: Final = {(ev.InferenceStartedV3, "stripped_tool_output_ids")}
# Envelope integers: seq is a u64 and wall time an i64 in Codex; schema_version a u32. Checked
# on the parsed envelope first (``event_from_dict``), then structured by the same hooks (any
# other integer field is an i64).
_ENVELOPE_INTS: Final[dict[str, Hook]] = {"schema_version": structure_u32, "seq": structure_u64}
#: Integer fields that are not Codex's default ``i64``.
_INT_FIELDS: Final[dict[tuple[type, str], Hook]] = {
    (ev.TraceEvent, name): hook for name, hook in _ENVELOPE_INTS.items()
}
#: Rust struct names where ours differ (serde's messages name the Rust struct).
_RUST_NAMES: Final[dict[type, str]] = {ev.InferenceStartedV3: "InferenceStarted"}
#: ``stripped_tool_output_ids``' type.
STRIPPED: Final = tuple[tuple[int, str], ...]


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


def _is_optional(tp: Any) -> bool:
    return get_origin(tp) in (typing.Union, types.UnionType) and type(None) in get_args(tp)


def _identity(value: Any, _: Any) -> Any:
    return value


class Structurer:
    """One schema's structure hooks (schema 3 reads references with shards, captures and
    parts, and has its own tag table), each made on first use."""

    def __init__(self, schema: int) -> None:
        self.schema = schema
        ref = structure_ref_v3 if schema == ev.SCHEMA_VERSION_V3 else structure_ref
        self._hooks: dict[Any, Hook] = {
            str: structure_str,
            int: structure_i64,
            ev.RawPayloadRef: ref,
            list[ev.RawPayloadRef]: ref_sequence(ref),
            STRIPPED: structure_stripped_ids,
            ev.ToolCallKind: structure_tool_kind,
            ev.ToolCallRequester: structure_requester,
            ev.ToolCallSummary: self._summary,
            ev.EventPayload: self._payload_hook(event_tags.event_types(schema)),
            Any: _identity,
        }

    def handles(self, tp: Any) -> bool:
        """Whether ``tp`` is a type of the vocabulary this structurer reads (the converter's
        predicate for :meth:`hook`).

        Args:
            tp: a type, as cattrs or a plan asks for it.

        Returns:
            True when :meth:`hook` has a hook for it.
        """
        try:
            if tp in self._hooks:
                return True
        except TypeError:  # unhashable
            return False
        return get_origin(tp) is Literal or (isinstance(tp, type) and attrs.has(tp))

    def hook(self, tp: Any) -> Hook:
        """``tp``'s hook, made on first use.

        Args:
            tp: a type of the vocabulary (``TypeError`` for any other).

        Returns:
            A function called as ``hook(value, tp)``: the value built, or
            :class:`DecodeError` in serde's words.
        """
        found = self._hooks.get(tp)
        if found is None:
            if get_origin(tp) is Literal:
                found = structure_literal(tp)
            elif attrs.has(tp):
                found = self._attrs_plan(tp)
            else:
                raise TypeError(f"no structure hook for {tp!r}")
            self._hooks[tp] = found
        return found

    def _summary(self, value: Any, _: Any) -> ev.ToolCallSummary:
        value = tag_first(value, "type", "ToolCallSummary", _SUMMARY_VARIANTS, _SUMMARY_FIELDS)
        cls = SUMMARY_CLASSES[internal_tag(value, _SUMMARY_VARIANTS, "ToolCallSummary")]
        return self.hook(cls)(value, cls)  # type: ignore[no-any-return]

    def _payload_hook(self, variants: dict[str, type[ev.EventPayload]]) -> Hook:
        tags = tuple(variants)
        #: each variant's hook, looked up once
        hooks: dict[str, Hook] = {}

        def structure(value: Any, _: Any) -> ev.EventPayload:
            # read straight from the line (not buffered): a name only, never an index
            tag = enum_tag(
                value, "internally tagged enum RawTraceEventPayload", tags, by_index=False
            )
            hook = hooks.get(tag)
            if hook is None:
                hook = hooks[tag] = self.hook(variants[tag])
            return hook(value, variants[tag])  # type: ignore[no-any-return]

        return structure

    def _attrs_plan(self, cls: type) -> Hook:
        """Structure an attrs class the way serde derives do: required fields must be
        present, ``Option`` fields may be missing or null, unknown keys are ignored."""
        hints = field_hints(cls)
        plan: list[tuple[str, bool, bool, Hook, Any]] = []
        for field in attrs.fields(cls):
            tp = hints[field.name]
            defaulted = (cls, field.name) in _SERDE_DEFAULT
            optional = _is_optional(tp) and not defaulted
            inner = tp
            if _is_optional(tp):
                rest = tuple(a for a in get_args(tp) if a is not type(None))
                inner = rest[0] if len(rest) == 1 else typing.Union[rest]  # noqa: UP007
            hook = _INT_FIELDS.get((cls, field.name)) or self.hook(inner)
            plan.append((field.name, optional, defaulted, hook, inner))
        what = f"struct {_RUST_NAMES.get(cls, cls.__name__)}"
        checks = {
            name: partial(_field_check, optional, hook, inner)
            for name, optional, _, hook, inner in plan
        }
        return _generated(cls, what, plan, checks)


#: Hooks whose usual case a generated structure function tests inline, calling the hook only
#: for anything else (to convert it, or to raise serde's error): the value's exact class, and
#: for integers the range the hook accepts.
_INLINE_STR: Final = frozenset({structure_str})
_INLINE_INT: Final = {
    structure_i64: (-(2**63), 2**63 - 1),
    structure_u64: (0, 2**64 - 1),
    structure_u32: (0, 2**32 - 1),
}
#: What the generated source is compiled as (a name ``_attrs_code`` keeps between runs).
_GENERATED_NAME: Final = "<rollout_trace_sdk generated structure {}.{}>"


def _generated(
    cls: type, what: str, plan: list[tuple[str, bool, bool, Hook, Any]], checks: dict[str, Any]
) -> Hook:
    """``cls``'s structure function, written out field by field (as cattrs generates its
    own): ~half the time of a loop over the plan, for the hundreds of event lines a bundle
    holds. It reads each field as the plan says: a required one present (else serde's
    "missing field"), an ``Option`` one missing or null, a defaulted one missing (not null);
    the usual value (a ``str`` for a string, an ``int`` in range) is taken as it is, anything
    else goes through the field's hook. On an error, the one serde meets first in the
    document's key order is raised (``first_error_in_order``), as from the plan."""
    names: dict[str, Any] = {
        "cls": cls,
        "what": what,
        "checks": checks,
        "need_map": need_map,
        "missing_field": missing_field,
        "first_error_in_order": first_error_in_order,
        "DecodeError": DecodeError,
        "MISSING": _MISSING,
        "dict": dict,
        "str": str,
        "int": int,
    }
    body: list[str] = []
    for index, (name, optional, defaulted, hook, inner) in enumerate(plan):
        value = f"v{index}"
        names[f"h{index}"] = hook
        names[f"t{index}"] = inner
        convert = _conversion(value, index, hook, inner, names)
        if optional:
            body.append(f"{value} = obj.get({name!r})")
            if convert:
                body.append(f"if {value} is not None:")
                body.extend(f"    {line}" for line in convert)
            continue
        body.append(f"{value} = obj.get({name!r}, MISSING)")
        body.append(f"if {value} is MISSING:")
        body.append(f"    {value} = None" if defaulted else f"    raise missing_field({name!r})")
        if convert:
            body.append("else:")
            body.extend(f"    {line}" for line in convert)
    arguments = ", ".join(f"v{index}" for index in range(len(plan)))
    source = "\n".join(
        [
            "def structure(value, _):",
            "    obj = value if value.__class__ is dict else need_map(value, what)",
            "    try:",
            *(f"        {line}" for line in body or ["pass"]),
            "    except DecodeError:",
            "        first_error_in_order(obj, checks)",
            "        raise",
            f"    return cls({arguments})",
        ]
    )
    from .._attrs_code import compile_kept

    exec(compile_kept(source, _GENERATED_NAME.format(cls.__module__, cls.__qualname__)), names)
    return names["structure"]  # type: ignore[no-any-return]


def _conversion(value: str, index: int, hook: Hook, inner: Any, names: dict[str, Any]) -> list[str]:
    """The lines that read one field's present, non-null ``value`` (none: taken as it is)."""
    call = f"{value} = h{index}({value}, t{index})"
    if hook is _identity:
        return []
    if hook in _INLINE_STR:
        return [f"if {value}.__class__ is not str:", f"    {call}"]
    bounds = _INLINE_INT.get(hook)
    if bounds is not None:
        low, high = bounds
        return [
            f"if {value}.__class__ is not int or not {low} <= {value} <= {high}:",
            f"    {call}",
        ]
    if get_origin(inner) is Literal and all(isinstance(arg, str) for arg in get_args(inner)):
        names[f"a{index}"] = frozenset(get_args(inner))
        return [f"if {value}.__class__ is not str or {value} not in a{index}:", f"    {call}"]
    return [call]


#: A field's absence, told apart from a null.
_MISSING: Final = object()


def _field_check(optional: bool, hook: Hook, inner: Any, item: Any) -> object:
    """One field of an attrs class read as its plan reads it (``Option`` ones may be null)."""
    return None if optional and item is None else hook(item, inner)


_STRUCTURERS: Final[dict[int, Structurer]] = {}


def structurer(schema: int) -> Structurer:
    """The structurer of ``schema`` (2 or 3; anything else reads as 2, as the converter)."""
    key = ev.SCHEMA_VERSION_V3 if schema == ev.SCHEMA_VERSION_V3 else ev.SCHEMA_VERSION
    found = _STRUCTURERS.get(key)
    if found is None:
        found = _STRUCTURERS[key] = Structurer(key)
    return found


def event_from_dict(
    obj: Any, schema: int = ev.SCHEMA_VERSION, line: bytes | None = None
) -> ev.TraceEvent:
    """Check and build an event of ``schema`` (the manifest's: events are parsed by the
    bundle's rules, then their own ``schema_version`` is gated); raises :class:`DecodeError`
    with serde's wording, or without it for an envelope number that may have been ``-0`` in
    ``line`` (the parsed line's text, when the caller has it): serde reads the envelope's
    numbers straight from the text, where ``-0`` is a float (the caller recomputes serde's
    message, or reads the line again, from the text)."""
    envelope = obj if obj.__class__ is dict else need_map(obj, "struct TraceEvent")
    for name, hook in _ENVELOPE_INTS.items():
        value = envelope.get(name, _MISSING)
        if value is not _MISSING and (value.__class__ is not int or not 0 <= value < 2**32):
            hook(value, int)  # anything but a small integer: the hook decides, as serde would
    read = _EVENT_HOOKS.get(schema)
    if read is None:
        read = _EVENT_HOOKS[schema] = structurer(schema).hook(ev.TraceEvent)
    event: ev.TraceEvent = read(envelope, ev.TraceEvent)
    zero = not (event.seq and event.wall_time_unix_ms and event.schema_version)
    if zero and line is not None and _NEGATIVE_ZERO.search(line):
        raise DecodeError("an envelope number may be -0 (a float to serde)")
    return event


#: Each schema's ``TraceEvent`` hook, by the schema asked for.
_EVENT_HOOKS: Final[dict[int, Hook]] = {}


def parse_event_line(line: bytes | str, schema: int = ev.SCHEMA_VERSION) -> ev.TraceEvent:
    """The event on one ``trace.jsonl`` line; :class:`DecodeError` for one serde may refuse
    (the caller recomputes serde's exact message), a key given twice included."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(json_error_message(exc)) from None
    raw = line if isinstance(line, bytes) else line.encode()
    if may_repeat_keys(raw, obj):
        raise DecodeError("a key is given twice")
    return event_from_dict(obj, schema, raw)


def manifest_from_bytes(raw: bytes) -> ev.Manifest:
    """``manifest.json``; :class:`DecodeError` (or orjson's) for one serde refuses, a known
    field given twice included (the caller recomputes serde's message)."""
    obj = manifest_value(raw)
    if isinstance(obj, list) and len(obj) == len(attrs.fields(ev.Manifest)):
        # serde takes a struct as a sequence of its fields, in declaration order
        obj = dict(zip((field.name for field in attrs.fields(ev.Manifest)), obj, strict=True))
    elif manifest_repeat(raw) is not None:
        raise DecodeError("a key is given twice")
    manifest = manifest_from_dict(obj)
    if not (manifest.schema_version and manifest.started_at_unix_ms) and _NEGATIVE_ZERO.search(raw):
        from .serde_errors import manifest_error  # only for a manifest holding a zero

        problem = manifest_error(raw)
        if problem is not None:  # -0 in a number field: a float to serde
            raise DecodeError(problem)
    return manifest


def manifest_from_dict(obj: Any) -> ev.Manifest:
    """Check and build a manifest from its parsed JSON; :class:`DecodeError` with serde's
    wording for what Codex's ``TraceBundleManifest`` refuses."""
    manifest = need_map(obj, "struct TraceBundleManifest")
    if "schema_version" in manifest:
        structure_u32(manifest["schema_version"], int)
    return structurer(ev.SCHEMA_VERSION).hook(ev.Manifest)(manifest, ev.Manifest)  # type: ignore[no-any-return]


def json_error_message(exc: orjson.JSONDecodeError) -> str:
    """orjson's message for a syntax error, trimmed to the part a person needs."""
    return str(exc.msg if hasattr(exc, "msg") else exc)


#: ``-0`` as a number token (not in a longer number, an id or a float such as ``-0.5``):
#: serde_json's number visitors read it as the float -0.0, where its ``Value`` (and orjson,
#: and Python) hold the integer 0. A match inside a string only costs a slower read.
_NEGATIVE_ZERO: Final = re.compile(rb"(?<![\w.+-])-0(?![\w.])")


def as_number_visitor_reads(text: bytes, value: Any) -> Any:
    """The number at ``text`` (parsed: ``value``) as serde_json's number visitors read it
    straight from the text (a typed field such as an envelope's ``seq``): ``-0`` is -0.0."""
    return -0.0 if text == b"-0" else value


#: Python refuses to turn longer digit strings into ``int`` (CVE-2020-10735 guard).
_INT_DIGITS_LIMIT: Final = 4_000


def int_or_float(text: str) -> int | float:
    """An integer literal as serde_json reads it into a ``Value``: exact while it fits, else a
    float (infinite beyond f64). Never raises on length."""
    digits = len(text) - text.startswith("-")
    return int(text) if digits <= _INT_DIGITS_LIMIT else float(text)


def loads_value(raw: bytes | str) -> Any:
    """JSON text as serde_json reads it into a ``Value`` (Codex parses payloads and the JSON
    inside them, such as a call's arguments, so): orjson's parse, or for a number orjson
    refuses (beyond f64: serde keeps its text) the lenient one.

    Raises:
        orjson.JSONDecodeError: for text serde refuses too.
    """
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "infinity" not in str(exc):
            raise
        from .serde_errors import syntax_error  # only for such a number

        data = raw if isinstance(raw, bytes) else raw.encode("utf-8")
        if syntax_error(data) is not None:
            raise
        try:
            return loads_wide_numbers(raw)
        except ValueError:
            raise exc from None


def loads_wide_numbers(raw: bytes | str) -> Any:
    """Parse JSON that orjson refused only for its numbers (beyond f64 / i64 / u64).

    Call only once serde's rules (``serde_errors``) have accepted ``raw``: integers of any
    length are accepted, as serde does, instead of failing on Python's digit limit."""
    return json.loads(raw, parse_int=int_or_float)
