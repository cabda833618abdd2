"""Where serde's derived visitors stop in typed documents (event lines, the manifest)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

from .. import serde_read, structure
from ..duplicate_keys import payload_as_met
from ..serde_read import DecodeError, missing_field_text
from ._numbers import (
    _NUMERIC,
    _Check,
    _number_visitor_reads,
    _OutOfRange,
    _stream_number,
    _unexpected,
    _unsigned,
)
from ._syntax import (
    EOF_VALUE,
    NUMBER_OUT_OF_RANGE,
    TRAILING_CHARACTERS,
    _Fail,
    _patterns,
    _Scanner,
    at,
    syntax_error,
)

_describe = serde_read.describe
_unknown_variant = serde_read.unknown_variant

# --- typed documents: where serde's derived visitors stop ---------------------------------------
#
# Codex deserialises lines and the manifest straight into typed structs, so a schema error can
# stop serde before it ever reaches a later syntax error (a stray ``}`` closes the event early
# and yields ``missing field``). ``_TypedScan`` walks the bytes once, checking each field as serde
# would at the moment the field's value ends. How a numeric field's value is read and worded
# is ``_numbers``'.


def _load(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:  # numbers beyond f64 that serde keeps as text
        return structure.loads_wide_numbers(raw)


def _load_content(raw: bytes) -> Any:
    """An event's ``payload`` as serde buffers it: as :func:`_load`, but a ``-0`` number token
    is a :class:`~..serde_read.SignedZero` (serde's ``Content`` holds it as a signed integer,
    which a variant identifier refuses)."""
    if b"-0" not in raw:
        return _load(raw)
    return json.loads(raw, parse_int=_content_int)


def _content_int(text: str) -> Any:
    return serde_read.SignedZero() if text == "-0" else structure.int_or_float(text)


def _value_start(data: bytes, i: int) -> int:
    match = _patterns().whitespace.match(data, i)
    return match.end() if match else i


def _hook(tp: Any) -> _Check:
    hook = structure.structurer(2).hook(tp)
    return lambda value: hook(value, tp)


_Nested = Callable[["_TypedScan"], None]


class _TypedScan:
    def __init__(
        self,
        data: bytes,
        name: str,
        fields: dict[str, tuple[bool, _Check]],
        *,
        io_read: bool = False,
    ) -> None:
        self.s = _Scanner(data, validate_utf8=True)
        self.s.io_read = io_read
        self.data = data
        self.name = name
        #: field -> (optional, check) in declaration order.
        self.fields = fields
        self.nested: dict[str, _Nested] = {}
        #: read through serde_json's ``IoRead`` (``from_reader``): see :meth:`stopped`
        self.io_read = io_read
        #: (start, end) of each unknown member's value: serde skipped it without reading it.
        self.skipped: list[tuple[int, int]] = []

    def document(self) -> None:
        self.struct()
        if self.s.whitespace() is not None:
            raise self.s.peek_error(TRAILING_CHARACTERS)

    def struct(self) -> None:
        s = self.s
        peek = s.whitespace()
        if peek is None:
            raise s.peek_error(EOF_VALUE)
        if peek == 0x5B:
            # fields are read one by one (a wrong element is refused before a later syntax
            # error); with nested structs, one that reads whole is not modelled: refused below
            mark = s.i
            self.sequence()
            if not self.nested:
                return
            s.i = mark
            s.value()
            value = _load(self.data[_value_start(self.data, 0) : s.i])
            wanted = len(self.fields)
            if len(value) < wanted:
                raise _Fail(
                    f"invalid length {len(value)}, expected {self.name} with {wanted} elements",
                    s.i,
                )
            raise s.peek_error(TRAILING_CHARACTERS)
        if peek != 0x7B:
            self.scalar_type_error(self.name)
        s.depth -= 1
        s.i += 1
        seen: set[str] = set()
        for _ in s.members():
            key = self.key()
            if key in seen and (key in self.fields or key in self.nested):
                # serde's derived visitor, on meeting a known key again (before its colon)
                raise _Fail(f"duplicate field `{key}`", s.i + self.io_read)
            s.colon()
            seen.add(key)
            if key in self.nested:
                self.nested[key](self)
            elif key in self.fields:
                self.field(*self.fields[key])
            else:
                start = _value_start(self.data, s.i)
                s.skip()
                self.skipped.append((start, s.i))
        for name, (optional, _) in self.fields.items():
            if not optional and name not in seen:
                raise _Fail(missing_field_text(name), s.i)

    def sequence(self) -> None:
        """The struct given as a JSON array: serde reads its fields in declaration order, each
        checked as it comes; fewer is "invalid length", more is trailing characters."""
        s = self.s
        s.i += 1
        s.depth -= 1
        fields = list(self.fields.items())
        count = 0
        for _ in s.elements():
            if count == len(fields):
                raise _Fail(TRAILING_CHARACTERS, s.i + self.io_read)
            name, (optional, check) = fields[count]
            if name in self.nested:
                self.nested[name](self)
            else:
                self.field(optional, check)
            count += 1
        s.depth += 1
        if count < len(fields):
            raise _Fail(
                f"invalid length {count}, expected {self.name} with {len(fields)} elements", s.i
            )

    def key(self) -> str:
        start = self.s.i
        self.s.i += 1
        self.s.string()
        key = _load(self.data[start : self.s.i])
        return key if isinstance(key, str) else ""

    def field(self, optional: bool, check: _Check) -> None:
        """A scalar field: serde reads the value, then complains about its type (a list or
        map it refuses at the bracket, without reading it)."""
        s = self.s
        peek = s.whitespace()
        if peek is None:
            raise s.peek_error(EOF_VALUE)
        start = s.i
        if peek in (0x5B, 0x7B):
            value: Any = [] if peek == 0x5B else {}
            typed = value
        else:
            s.value()
            value = _stream_number(_load(self.data[start : s.i]))
            if optional and value is None:
                return
            # a number visitor reads `-0` as the float -0.0 (any other visitor: integer 0)
            typed = structure.as_number_visitor_reads(self.data[start : s.i], value)
        try:
            check(typed)
        except DecodeError as exc:
            message = str(exc)
            if message.startswith("invalid type: "):
                wanted = message.rsplit(", expected ", 1)[-1]
                typed = self.visited(typed, start) if wanted in _NUMERIC else value
                message = f"invalid type: {_unexpected(typed, wanted)}, expected {wanted}"
            raise _Fail(message, self.stopped(start)) from None

    def visited(self, value: Any, start: int) -> Any:
        """``value`` (read from ``start``) as a number visitor (a numeric field) meets it: a
        number literal is parsed by serde_json's own rules first (:func:`_number_visitor_reads`),
        which may find it "number out of range". Any other visitor meets it as serde_json's
        ``arbitrary_precision`` text: no range, just "number" (see :func:`_unexpected`)."""
        if self.data[start] not in b"-0123456789":
            return value
        try:
            return _number_visitor_reads(self.data[start : self.s.i])
        except _OutOfRange as exc:
            if exc.end < self.s.i - start:  # an exponent past i32: at its digit that overflowed
                raise _Fail(NUMBER_OUT_OF_RANGE, start + exc.end) from None
            raise _Fail(NUMBER_OUT_OF_RANGE, self.stopped(start)) from None

    def stopped(self, start: int) -> int:
        """Where serde stands after refusing the value at ``start``. A reader over a stream
        (``from_reader``, used for the manifest) has also counted the byte it peeked at: the
        bracket it refused, or the byte after a number."""
        end = self.s.i
        if not self.io_read:
            return end
        if self.data[start] in b"[{":
            return start + 1
        if self.data[start] in b"-0123456789" and end < len(self.data):
            return end + 1
        return end

    def scalar_type_error(self, expected: str) -> None:
        s = self.s
        start = s.i
        if s.data[start] not in b"[{":
            s.value()
            value: Any = _load(self.data[start : s.i])
            if expected in _NUMERIC:
                value = self.visited(value, start)
        else:
            value = [] if s.data[start] == 0x5B else {}
        raise _Fail(
            f"invalid type: {_unexpected(value, expected)}, expected {expected}",
            self.stopped(start),
        )

    def end_of_member(self) -> int:
        """Where serde stamps an error that surfaced once a member's value was complete: it
        first tries to close the enclosing map, consuming ``}`` if that comes next."""
        i = _value_start(self.data, self.s.i)
        peeked = i < len(self.data) and (self.io_read or self.data[i] == 0x7D)
        return i + 1 if peeked else i


def _payload_sequence(scan: _TypedScan, types: dict[str, Any]) -> None:
    """``payload`` as a JSON array: serde's visitor for an internally tagged enum takes a
    sequence too, its first element being the tag. An empty one lacks the tag; a first
    element that is not a known variant's name is refused as the tag. (A known name would go
    on to read the variant's fields from the rest: not modelled, refused as a sequence.)"""
    s = scan.s
    bracket = s.i
    s.i += 1
    peek = s.whitespace()
    if peek == 0x5D:
        s.i += 1
        raise s.error(missing_field_text("type"))
    if peek is not None and peek != 0x22:
        scan.scalar_type_error("variant identifier")
    if peek == 0x22:
        start = s.i
        s.i += 1
        s.string()
        tag = _load(scan.data[start : s.i])
        if tag not in types:
            raise _Fail(str(_unknown_variant(str(tag), tuple(types))), s.i)
    s.i = bracket


def _event_payload(scan: _TypedScan, schema: int) -> None:
    """``payload``: an internally tagged enum. serde reads the whole map (syntax only), deciding
    the variant as soon as it meets ``type``; the variant's fields are checked afterwards."""
    from .. import event_tags

    types = event_tags.event_types(schema)
    s = scan.s
    peek = s.whitespace()
    if peek is None:
        raise s.peek_error(EOF_VALUE)
    if peek == 0x5B:
        _payload_sequence(scan, types)
    if peek == 0x2D or 0x30 <= peek <= 0x39:
        start = s.i
        s.value()
        if serde_read.is_wide_number(_load(scan.data[start : s.i])):
            # serde_json's one-entry map for a number kept as text: no tag in it
            raise s.error(missing_field_text("type"))
        s.i = start
    if peek != 0x7B:
        scan.scalar_type_error("internally tagged enum RawTraceEventPayload")
    start = s.i
    s.depth -= 1
    s.i += 1
    tag: str | None = None
    for _ in s.members():
        key = scan.key()
        after_key = s.i
        s.colon()
        if key != "type":
            s.value()
            continue
        if tag is not None:  # the tag met again: refused as soon as its key is read
            raise _Fail("duplicate field `type`", after_key)
        peek = s.whitespace()
        if peek != 0x22:
            if peek is None:
                raise s.peek_error(EOF_VALUE)
            scan.scalar_type_error("variant identifier")
        s.i += 1
        tag_start = s.i - 1
        s.string()
        tag = _load(scan.data[tag_start : s.i])
        if tag not in types:
            raise _Fail(str(_unknown_variant(str(tag), tuple(types))), s.i)
    s.depth += 1
    if tag is None:
        raise _Fail(missing_field_text("type"), s.i)
    body = scan.data[start : s.i]
    cls = types[tag]
    read = structure.structurer(schema).hook(cls)
    try:
        repeated = payload_as_met(body, cls)
        if repeated is None:
            with serde_read.exact_zeros():
                read(_load_content(body), cls)
        else:  # serde refuses whichever it meets first: a wrong member, or the key again
            try:
                with serde_read.exact_zeros():
                    read(repeated[1], cls)
            except DecodeError as exc:
                # the members after the repeated key were never read: not missing
                if not str(exc).startswith("missing field"):
                    raise
            raise DecodeError(f"duplicate field `{repeated[0]}`")
    except DecodeError as exc:
        raise _Fail(str(exc), scan.end_of_member()) from None


def _event_scan(line: bytes, schema: int) -> _TypedScan:
    text = _hook(str)
    scan = _TypedScan(
        line,
        "struct RawTraceEvent",
        {
            "schema_version": (False, _unsigned(32)),
            "seq": (False, _unsigned(64)),
            "wall_time_unix_ms": (False, _hook(int)),
            "rollout_id": (False, text),
            "thread_id": (True, text),
            "codex_turn_id": (True, text),
            "payload": (False, lambda _: None),
        },
    )
    scan.nested["payload"] = lambda scan: _event_payload(scan, schema)
    scan.s.validate_utf8 = False  # Codex reads lines as text: UTF-8 was checked on reading
    return scan


def event_line_error(line: bytes, schema: int = 2) -> str | None:
    """serde's message (with position) for a ``trace.jsonl`` line (newline included, as Codex
    passes it) that is not a valid event of ``schema``, or None when serde would accept it."""
    scan = _event_scan(line, schema)
    try:
        scan.document()
    except _Fail as fail:
        return at(fail.message, line, fail.index)
    return None


def event_line_read(line: bytes, schema: int = 2) -> Any:
    """The JSON value of an event line serde accepts (``event_line_error`` returned None) but
    orjson refused: numbers beyond f64, or unknown fields nested too deeply for any JSON
    parser here (serde skips those without reading them; so do we, by blanking them to 0)."""
    scan = _event_scan(line, schema)
    scan.document()
    return structure.loads_wide_numbers(_blanked(line, scan.skipped))


def event_line_event(line: bytes, schema: int = 2) -> Any:
    """The event on a line serde accepts (``event_line_error`` returned None) but the fast
    parse refused: built from :func:`event_line_read`'s value, whose variant indexes serde's
    rules already judged (a 0 there was ``0``, not ``-0``)."""
    with serde_read.exact_zeros():
        return structure.event_from_dict(event_line_read(line, schema), schema)


def _blanked(data: bytes, skipped: list[tuple[int, int]]) -> bytes:
    """``data`` with each value serde skipped unread (``skipped``: start, end) replaced by 0."""
    parts = []
    last = 0
    for start, end in skipped:
        parts += [data[last:start], b"0"]
        last = end
    parts.append(data[last:])
    return b"".join(parts)


def _manifest_scan(data: bytes) -> _TypedScan:
    text = _hook(str)
    return _TypedScan(
        data,
        "struct TraceBundleManifest",
        {
            "schema_version": (False, _unsigned(32)),
            "trace_id": (False, text),
            "rollout_id": (False, text),
            "root_thread_id": (False, text),
            "started_at_unix_ms": (False, _hook(int)),
            "raw_event_log": (False, text),
            "payloads_dir": (False, text),
        },
        io_read=True,  # Codex reads the manifest through serde_json::from_reader
    )


def manifest_error(data: bytes) -> str | None:
    """serde's message (with position) for ``manifest.json`` bytes, or None if acceptable."""
    try:
        _manifest_scan(data).document()
    except _Fail as fail:
        return at(fail.message, data, fail.index)
    return None


def manifest_read(data: bytes) -> Any:
    """The JSON value of ``manifest.json`` bytes orjson refused, as serde reads them; a
    :class:`DecodeError` with serde's message if it refuses them too. serde skips an unknown
    field's value without decoding its strings (``ignore_str``: bytes not UTF-8 and lone
    surrogate escapes pass, as Codex 0.169 and 0.171 accept them, found by the string
    differential); those values are blanked to 0 here, as :func:`event_line_read` does."""
    scan = _manifest_scan(data)
    try:
        scan.document()
    except _Fail as fail:
        raise DecodeError(at(fail.message, data, fail.index)) from None
    return structure.loads_wide_numbers(_blanked(data, scan.skipped))


def _check_string(value: Any) -> object:
    """A string field's check (:meth:`_TypedScan.field` words a refusal as serde would)."""
    if not isinstance(value, str):
        raise DecodeError(f"invalid type: {_describe(value)}, expected a string")
    return value


def string_struct_error(data: bytes, name: str, fields: tuple[str, ...]) -> str | None:
    """serde's message (with position) for JSON ``data`` read as struct ``name`` whose
    ``fields`` are required strings, or None when it reads."""
    problem = syntax_error(data)
    if problem is not None:
        return problem
    scan = _TypedScan(data, f"struct {name}", {field: (False, _check_string) for field in fields})
    try:
        scan.document()
    except _Fail as fail:
        return at(fail.message, data, fail.index)
    return None


def string_list_error(data: bytes) -> str | None:
    """serde's message (with position) for JSON ``data`` read as ``Vec<String>`` straight from
    the text (a template body), or None when it reads. An element of another type is refused
    where serde stands after it (before it, for a bracket), a float there being "number"."""
    scan = _TypedScan(data, "a sequence", {})
    s = scan.s
    try:
        peek = s.whitespace()
        if peek != 0x5B:
            return None  # not a sequence: the caller's words
        s.i += 1
        s.depth -= 1
        for _ in s.elements():
            scan.field(False, _check_string)
        if s.whitespace() is not None:
            raise s.peek_error(TRAILING_CHARACTERS)
    except _Fail as fail:
        return at(fail.message, data, fail.index)
    return None
