"""How serde reads what Codex deserialises from an event line's buffered ``payload`` (and the
leaf types the envelope shares), as strict structure hooks for the converter, with serde's
error wording: fieldless enums (``deserialize_enum``), internally and adjacently tagged enums,
payload refs, and the numbers serde_json keeps as text (Codex is built with
``arbitrary_precision``). :mod:`.codec` registers these hooks; the positions of errors are
:mod:`.serde_errors`' job.
"""

from __future__ import annotations

import contextlib
import math
import threading
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final, get_args

from . import events as ev


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


class TextNumber(float):
    """A number serde_json (``arbitrary_precision``) hands a visitor as its text, a one-entry
    map keyed by its number token, though the number came from a ``Value``: a float whose
    text is not an f64's own spelling (``1.50``, ``1e5``, ``1e-400``), or an integer past
    u128 / i128. Its value is the nearest f64 (infinite beyond f64's range)."""

    __slots__ = ()


class SignedZero(int):
    """``-0`` as a number token inside an event's buffered ``payload``: serde_json hands it
    over as the *signed* integer 0, which a variant identifier refuses ("invalid type:
    integer `0`, expected variant identifier") where it takes ``0`` (unsigned) as the first
    variant's index. orjson and Python read both as 0; only the slow path's loader of a
    payload's text (``serde_errors``) makes one."""

    __slots__ = ()


#: whether the value being read came from a loader that keeps ``-0`` apart
#: (:class:`SignedZero`): only then is an integer 0 known to be unsigned
_EXACT_ZEROS = threading.local()


@contextlib.contextmanager
def exact_zeros() -> Iterator[None]:
    """Read values whose ``-0`` tokens the loader kept as :class:`SignedZero` (or whose text
    serde's rules already accepted), so that a plain 0 taken as a variant's index is ``0``.
    Outside it, such a 0 may have been ``-0`` and is refused for the slow path to decide."""
    before = getattr(_EXACT_ZEROS, "on", False)
    _EXACT_ZEROS.on = True
    try:
        yield
    finally:
        _EXACT_ZEROS.on = before


def rust_float(value: float) -> str:
    """An f64 as serde_json spells it in its messages: the shortest digits that read back
    (``repr``'s), written out in full from 1e-5 up to below 1e16 (``0.00001``, ``100000.0``),
    else as ``1e-6`` / ``1e+16`` (Python pads the exponent and writes 1e-5 as ``1e-05``)."""
    text = repr(value)
    mantissa, _, exponent = text.partition("e")
    if not exponent:
        return text
    power = int(exponent)
    if power == -5:
        sign = "-" if mantissa.startswith("-") else ""
        return f"{sign}0.0000{mantissa.lstrip('-').replace('.', '')}"
    return f"{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"


def describe(value: Any) -> str:
    """serde's words for an unexpected value in an "invalid type" error."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        # an infinite literal is no f64 to serde_json: it stays its number token, a map
        if value.__class__ is TextNumber or not math.isfinite(value):
            return "map"
        return f"floating point `{rust_float(value)}`"
    if isinstance(value, str):
        return f"string {rust_debug(value)}"
    if isinstance(value, list):
        return "sequence"
    return "map"


#: The map serde_json (``arbitrary_precision``) hands a visitor for a number kept as text.
_NUMBER_TOKEN: Final = "$serde_json::private::Number"


def is_wide_number(value: Any) -> bool:
    """A number serde_json (built with ``arbitrary_precision``, as Codex is) keeps as text: a
    float, or an integer beyond both u64 and i64."""
    if isinstance(value, float):
        return True
    return isinstance(value, int) and not -(2**63) <= value < 2**64 and value is not True


def _invalid_type(value: Any, expected: str) -> DecodeError:
    """serde's error for a value of the wrong type inside an event's ``payload``. Codex reads
    that internally tagged enum through serde's buffered ``Content``, where a number kept as
    text is a one-entry map (serde_json's private number token), so it is called a "map"."""
    shown = "map" if is_wide_number(value) else describe(value)
    return DecodeError(f"invalid type: {shown}, expected {expected}")


def unknown_variant_text(value: str, allowed: Sequence[str]) -> str:
    """serde's words for a tag no variant has, listing the variants as serde words it (none,
    one, two, or ``one of`` more)."""
    if not allowed:
        return f"unknown variant `{value}`, there are no variants"
    if len(allowed) == 1:
        expected = f"`{allowed[0]}`"
    elif len(allowed) == 2:
        expected = f"`{allowed[0]}` or `{allowed[1]}`"
    else:
        expected = "one of " + ", ".join(f"`{a}`" for a in allowed)
    return f"unknown variant `{value}`, expected {expected}"


def unknown_variant(value: str, allowed: tuple[str, ...]) -> DecodeError:
    """serde's error for a tag no variant has (:func:`unknown_variant_text`)."""
    return DecodeError(unknown_variant_text(value, allowed))


def missing_field_text(name: str) -> str:
    """serde's words for a required field a struct lacks."""
    return f"missing field `{name}`"


def missing_field(name: str) -> DecodeError:
    """serde's error for a required field a struct lacks."""
    return DecodeError(missing_field_text(name))


def need_map(value: Any, what: str) -> dict[str, Any]:
    """A struct's map. A number kept as text is serde_json's one-entry map (see
    :func:`_invalid_type`): a map whose only key no struct knows, so it lacks every field."""
    if isinstance(value, dict):
        return value
    if is_wide_number(value):
        return {_NUMBER_TOKEN: str(value)}
    raise _invalid_type(value, what)


def _struct_sequence(value: list[Any], what: str, fields: int, first: str) -> DecodeError:
    """serde's derived visitors take a sequence for a struct too (fields in order): the
    error for ``value``, whose first element must be a string (``first``)."""
    if not value:
        return DecodeError(f"invalid length 0, expected {what} with {fields} elements")
    if not isinstance(value[0], str):
        return _invalid_type(value[0], "a string")
    if len(value) == 1:
        return DecodeError(f"invalid length 1, expected {what} with {fields} elements")
    return _invalid_type(value, first)


# --- leaf structure hooks ----------------------------------------------------------------------


def structure_str(value: Any, _: Any) -> str:
    """A ``String`` field: anything else is refused in serde's words."""
    if not isinstance(value, str):
        raise _invalid_type(value, "a string")
    return value


def _int_hook(expected: str, lo: int, hi: int) -> Callable[[Any, Any], int]:
    def structure(value: Any, _: Any) -> int:
        """A Rust integer field: a JSON integer in the type's range, else serde's error."""
        if value.__class__ is int and lo <= value <= hi:  # the usual case, first (no bool)
            return value
        if isinstance(value, bool) or not isinstance(value, int) or is_wide_number(value):
            raise _invalid_type(value, expected)
        if not lo <= value <= hi:
            raise DecodeError(f"invalid value: integer `{value}`, expected {expected}")
        return value

    return structure


structure_u64 = _int_hook("u64", 0, 2**64 - 1)
structure_u32 = _int_hook("u32", 0, 2**32 - 1)
structure_i64 = _int_hook("i64", -(2**63), 2**63 - 1)
structure_usize = _int_hook("usize", 0, 2**64 - 1)


def unit_variant(value: Any, allowed: tuple[str, ...]) -> str:
    """A fieldless enum inside an event's ``payload``, as serde's ``deserialize_enum`` reads
    it from buffered ``Content``: a string names the variant, and so does the one key of a
    map whose value is null or ``{}`` (a float is such a map, keyed by serde_json's number
    token); anything else is refused in serde's words.

    Args:
        value: the parsed JSON value.
        allowed: the variant names, in Codex's declaration order.

    Returns:
        The variant's name.
    """
    if isinstance(value, str):
        name = value
    elif is_wide_number(value):
        name = _NUMBER_TOKEN
    elif isinstance(value, dict):
        if len(value) != 1:
            raise DecodeError("invalid value: map, expected map with a single key")
        ((name, inner),) = value.items()
        if name not in allowed:
            raise unknown_variant(name, allowed)
        if inner is not None and inner != {}:
            raise _invalid_type(inner, "unit")
        return str(name)
    else:
        raise _invalid_type(value, "string or map")
    if name not in allowed:
        raise unknown_variant(name, allowed)
    return name


def structure_literal(tp: Any) -> Callable[[Any, Any], str]:
    """The hook for a ``Literal`` of strings (a Rust unit-variant enum): one of its values,
    anything else refused in serde's words."""
    allowed: tuple[str, ...] = get_args(tp)

    def structure(value: Any, _: Any) -> str:
        if value.__class__ is str and value in allowed:
            return value
        return unit_variant(value, allowed)

    return structure


def enum_tag(
    value: Any, what: str, allowed: tuple[str, ...], *, key: str = "type", by_index: bool = True
) -> str:
    """The tag of an internally tagged enum inside an event's ``payload``, checked as serde
    does over buffered ``Content``: a map, the key present, then the tag as a variant
    identifier: a name, or (``by_index``) an unsigned integer taken as the variant's index in
    ``allowed`` (Codex's declaration order); a signed one, ``-0`` too (:class:`SignedZero`),
    is refused."""
    obj = need_map(value, what)
    if key not in obj:
        raise missing_field(key)
    tag = obj[key]
    if tag.__class__ is str:
        if tag not in allowed:
            raise unknown_variant(tag, allowed)
        return tag
    if by_index and tag.__class__ is int and 0 <= tag < 2**64:
        if tag == 0 and not getattr(_EXACT_ZEROS, "on", False):
            # ``0`` is the first variant, ``-0`` (signed) is refused; the text decides
            raise DecodeError("a variant index 0 may have been -0 (a signed integer to serde)")
        if tag >= len(allowed):
            raise DecodeError(
                f"invalid value: integer `{tag}`, expected variant index 0 <= i < {len(allowed)}"
            )
        return allowed[tag]
    raise _invalid_type(tag, "variant identifier")


def tag_first(
    value: Any, key: str, enum: str, allowed: tuple[str, ...], fields: dict[str, int]
) -> Any:
    """serde's visitor for an internally tagged enum also takes a sequence: its first element
    is the tag, the rest the variant's fields by position. An empty one lacks the tag; a lone
    tag of a fieldless variant reads as ``{key: tag}``; ``fields`` counts each other
    variant's fields (a sequence that holds them is left to be refused as a sequence)."""
    if value.__class__ is not list:
        return value
    if not value:
        raise missing_field(key)
    tag = enum_tag({key: value[0]}, f"internally tagged enum {enum}", allowed, key=key)
    wanted = fields.get(tag, 0)
    given = len(value) - 1
    if wanted == 0 and given:
        raise DecodeError(f"invalid length {given}, expected 0 elements in sequence")
    if wanted and not given:
        variant = tag.title().replace("_", "")
        plural = "" if wanted == 1 else "s"
        raise DecodeError(
            f"invalid length 0, expected struct variant {enum}::{variant} with {wanted} element{plural}"
        )
    return {key: value[0]} if wanted == 0 else value


def internal_tag(value: Any, allowed: tuple[str, ...], enum: str) -> str:
    """The ``type`` tag of an internally tagged enum ``enum`` (one of ``allowed``)."""
    return enum_tag(value, f"internally tagged enum {enum}", allowed)


def _payload_kind(kind: Any, allowed: tuple[str, ...]) -> ev.PayloadKind:
    """``{"type": K}``: serde reads an adjacent tag with ``deserialize_enum``; as a sequence,
    the tag then the (missing) content."""
    what = "adjacently tagged enum RawPayloadKind"
    if isinstance(kind, list):
        if kind:
            enum_tag({"type": kind[0]}, what, allowed)
        raise DecodeError(f"invalid length {min(len(kind), 1)}, expected {what}")
    obj = need_map(kind, what)
    if "type" not in obj:
        raise missing_field("type")
    return unit_variant(obj["type"], allowed)  # type: ignore[return-value]


def structure_ref(value: Any, _: Any) -> ev.RawPayloadRef:
    """Schema 2: ``{raw_payload_id, kind, path}``, checked as Codex 0.169's serde does."""
    if value.__class__ is dict:  # the usual reference, taken as it is (every event cites one)
        kind = value.get("kind")
        if kind.__class__ is dict:
            tag = kind.get("type")
            payload_id = value.get("raw_payload_id")
            path = value.get("path")
            if (
                tag.__class__ is str
                and tag in _KINDS_V2
                and payload_id.__class__ is str
                and path.__class__ is str
            ):
                return ev.RawPayloadRef(payload_id, tag, path)  # type: ignore[arg-type]
    if isinstance(value, list):
        raise _struct_sequence(value, "struct RawPayloadRef", 3, "struct RawPayloadRef")
    obj = need_map(value, "struct RawPayloadRef")
    try:
        for name in ("raw_payload_id", "kind", "path"):
            if name not in obj:
                raise missing_field(name)
        kind = _payload_kind(obj["kind"], ev.PAYLOAD_KINDS)
        return ev.RawPayloadRef(
            structure_str(obj["raw_payload_id"], str), kind, structure_str(obj["path"], str)
        )
    except DecodeError:
        first_error_in_order(obj, _REF_CHECKS)
        raise


_KINDS_V2: Final = frozenset(ev.PAYLOAD_KINDS)


def structure_capture(value: Any) -> ev.PayloadCapture | None:
    """Schema 3's ``capture`` (internally tagged by ``status``); complete is None."""
    what = "internally tagged enum PayloadCapture"
    value = tag_first(
        value, "status", "PayloadCapture", ev.CAPTURE_STATUSES, {"truncated": 2, "omitted": 1}
    )
    status = enum_tag(value, what, ev.CAPTURE_STATUSES, key="status")
    obj: dict[str, Any] = value
    if status == "complete":
        return None
    if "original_bytes" not in obj:
        raise missing_field("original_bytes")
    original = structure_usize(obj["original_bytes"], int)
    if status == "omitted":
        return ev.PayloadCapture("omitted", original)
    if "retained_bytes" not in obj:
        raise missing_field("retained_bytes")
    retained = structure_usize(obj["retained_bytes"], int)
    return ev.PayloadCapture("truncated", original, retained)


def structure_ref_v3(value: Any, _: Any) -> ev.RawPayloadRef:
    """Schema 3: ``{raw_payload_id, kind, shard, capture?, parts?}``; ``path`` is ignored."""
    if isinstance(value, list):
        raise _struct_sequence(value, "struct RawPayloadRef", 5, "struct RawPayloadRef")
    obj = need_map(value, "struct RawPayloadRef")
    try:
        for name in ("raw_payload_id", "kind"):
            if name not in obj:
                raise missing_field(name)
        payload_id = structure_str(obj["raw_payload_id"], str)
        kind = _payload_kind(obj["kind"], ev.PAYLOAD_KINDS_V3)
        shard = obj.get("shard")
        if shard is not None:
            shard = structure_u64(shard, int)
        capture = obj.get("capture")
        if capture is not None or "capture" in obj:  # defaulted when absent, null refused
            capture = structure_capture(capture)
        parts: tuple[ev.RawPayloadRef, ...] = ()
        raw_parts = obj.get("parts")
        if raw_parts is not None or "parts" in obj:  # a defaulted list: null is refused
            parts = _ref_parts(raw_parts)
        return ev.RawPayloadRef(payload_id, kind, "", shard, capture, parts)
    except DecodeError:
        first_error_in_order(obj, _REF_V3_CHECKS)
        raise


def _ref_parts(value: Any) -> tuple[ev.RawPayloadRef, ...]:
    if not isinstance(value, list):
        raise _invalid_type(value, "a sequence")
    return tuple(structure_ref_v3(part, None) for part in value)


def first_error_in_order(
    obj: dict[str, Any], checks: Mapping[str, Callable[[Any], object]]
) -> None:
    """A struct was refused: raise the error serde meets first. Its derived visitor reads the
    fields in the order the JSON gives them and refuses the first bad one, and a missing one
    only once the map has ended; the readers here check in declaration order (the same
    answer when one field is wrong), so on failure the fields are gone through again in the
    document's order. Returns when every present field is fine (the caller's error stands).

    Args:
        obj: the struct's JSON object (its keys in document order).
        checks: each known field's reader.
    """
    for key, item in obj.items():
        check = checks.get(key)
        if check is not None:
            check(item)


_REF_CHECKS: Final[dict[str, Callable[[Any], object]]] = {
    "raw_payload_id": lambda v: structure_str(v, str),
    "kind": lambda v: _payload_kind(v, ev.PAYLOAD_KINDS),
    "path": lambda v: structure_str(v, str),
}
_REF_V3_CHECKS: Final[dict[str, Callable[[Any], object]]] = {
    "raw_payload_id": lambda v: structure_str(v, str),
    "kind": lambda v: _payload_kind(v, ev.PAYLOAD_KINDS_V3),
    "shard": lambda v: v is None or structure_u64(v, int),
    "capture": structure_capture,
    "parts": _ref_parts,
}


def ref_sequence(
    structure_ref: Callable[[Any, Any], ev.RawPayloadRef],
) -> Callable[[Any, Any], list[ev.RawPayloadRef]]:
    """A ``Vec<RawPayloadRef>`` (``other``'s ``payloads``): a sequence, each element a ref
    (``structure_ref``: the schema's); anything else is refused in serde's words, as a
    sequence's first bad element is."""

    def structure(value: Any, _: Any) -> list[ev.RawPayloadRef]:
        if value.__class__ is not list:
            raise _invalid_type(value, "a sequence")
        return [structure_ref(item, ev.RawPayloadRef) for item in value]

    return structure


def structure_stripped_ids(value: Any, _: Any) -> tuple[tuple[int, str], ...]:
    """``stripped_tool_output_ids``: a sequence of ``[usize, string]`` (null refused)."""
    if not isinstance(value, list):
        raise _invalid_type(value, "a sequence")
    out = []
    for entry in value:
        if not isinstance(entry, list):
            raise _invalid_type(entry, "a tuple of size 2")
        if len(entry) != 2:
            raise DecodeError(f"invalid length {len(entry)}, expected a tuple of size 2")
        out.append((structure_usize(entry[0], int), structure_str(entry[1], str)))
    return tuple(out)


def structure_tool_kind(value: Any, _: Any) -> ev.ToolCallKind:
    """A tool call's ``kind`` (``{"type": ...}``, ``mcp`` and ``other`` with their fields)."""
    value = tag_first(
        value, "type", "ToolCallKind", ev.TOOL_CALL_KIND_TYPES, {"mcp": 2, "other": 1}
    )
    tag = internal_tag(value, ev.TOOL_CALL_KIND_TYPES, "ToolCallKind")
    if tag == "other":
        if "name" not in value:
            raise missing_field("name")
        return ev.ToolCallKind("other", name=structure_str(value["name"], str))
    if tag == "mcp":
        for name in ("server", "tool"):
            if name not in value:
                raise missing_field(name)
        return ev.ToolCallKind.mcp(
            structure_str(value["server"], str), structure_str(value["tool"], str)
        )
    return ev.ToolCallKind(tag)  # type: ignore[arg-type]


REQUESTER_TAGS: Final = ("model", "code_cell")


def structure_requester(value: Any, _: Any) -> ev.ToolCallRequester:
    """Who asked for a tool call: the model, or a code cell by its runtime id."""
    value = tag_first(value, "type", "RawToolCallRequester", REQUESTER_TAGS, {"code_cell": 1})
    if internal_tag(value, REQUESTER_TAGS, "RawToolCallRequester") == "model":
        return ev.ModelRequester()
    if "runtime_cell_id" not in value:
        raise missing_field("runtime_cell_id")
    return ev.CodeCellRequester(structure_str(value["runtime_cell_id"], str))


#: Each summary variant by its tag (``tool_events``' table).
SUMMARY_CLASSES: Final[dict[str, type[Any]]] = ev.SUMMARY_TYPES
