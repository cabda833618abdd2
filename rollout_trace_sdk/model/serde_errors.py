"""serde_json's error messages, recomputed only after a fast parse has already failed.

Codex parses with Rust's serde_json and prints its messages verbatim ("EOF while parsing a string
at line 1 column 97"). orjson words its errors differently and counts positions differently, so
when orjson (or the codec) rejects some bytes we scan them again here, the way serde's
``Deserializer`` over a byte slice walks them, to repeat serde's message and position. Nothing
here runs on the happy path.

Positions follow serde's ``SliceRead``: lines count from 1, the column is the number of bytes
already consumed on the current line (so a newline itself sits at column 0 of the next line).
An error serde raises *at* a byte it only peeked at reports the position one byte further on.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from typing import Any, Final

import orjson

from . import codec

_describe = codec.describe
_unknown_variant = codec.unknown_variant

_RECURSION_LIMIT: Final = 128
_WHITESPACE: Final = re.compile(rb"[ \n\t\r]*")
_PLAIN_STRING_RUN: Final = re.compile(rb'[^"\\\x00-\x1f]*')
_DIGITS: Final = re.compile(rb"[0-9]*")
_HEX: Final = frozenset(b"0123456789abcdefABCDEF")
_SIMPLE_ESCAPES: Final = frozenset(b'"\\/bfnrt')

EOF_VALUE: Final = "EOF while parsing a value"
EOF_STRING: Final = "EOF while parsing a string"
EOF_OBJECT: Final = "EOF while parsing an object"
EOF_LIST: Final = "EOF while parsing a list"
EXPECTED_VALUE: Final = "expected value"
EXPECTED_IDENT: Final = "expected ident"
EXPECTED_COLON: Final = "expected `:`"
EXPECTED_LIST_END: Final = "expected `,` or `]`"
EXPECTED_OBJECT_END: Final = "expected `,` or `}`"
KEY_NOT_STRING: Final = "key must be a string"
TRAILING_COMMA: Final = "trailing comma"
TRAILING_CHARACTERS: Final = "trailing characters"
CONTROL_CHARACTER: Final = "control character (\\u0000-\\u001F) found while parsing a string"
INVALID_ESCAPE: Final = "invalid escape"
INVALID_NUMBER: Final = "invalid number"
INVALID_CODE_POINT: Final = "invalid unicode code point"
LONE_SURROGATE: Final = "lone leading surrogate in hex escape"
END_OF_HEX_ESCAPE: Final = "unexpected end of hex escape"
RECURSION_LIMIT: Final = "recursion limit exceeded"
NUMBER_OUT_OF_RANGE: Final = "number out of range"


def position(data: bytes, index: int) -> tuple[int, int]:
    """serde's (line, column) for a byte offset."""
    start_of_line = data.rfind(b"\n", 0, index) + 1
    return 1 + data.count(b"\n", 0, start_of_line), index - start_of_line


def at(message: str, data: bytes, index: int) -> str:
    line, column = position(data, index)
    return f"{message} at line {line} column {column}"


class _Fail(Exception):
    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.message = message
        self.index = index


class _Scanner:
    """A byte-for-byte model of serde_json's value parser (``from_slice::<Value>``)."""

    def __init__(self, data: bytes, *, validate_utf8: bool) -> None:
        self.data = data
        self.size = len(data)
        self.i = 0
        self.depth = _RECURSION_LIMIT
        self.validate_utf8 = validate_utf8

    # serde's two ways to report: at the current index, or just past the byte it peeked at.
    def error(self, message: str) -> _Fail:
        return _Fail(message, self.i)

    def peek_error(self, message: str) -> _Fail:
        return _Fail(message, min(self.size, self.i + 1))

    def whitespace(self) -> int | None:
        match = _WHITESPACE.match(self.data, self.i)
        self.i = match.end() if match else self.i
        return self.data[self.i] if self.i < self.size else None

    def document(self) -> None:
        self.value()
        if self.whitespace() is not None:
            raise self.peek_error(TRAILING_CHARACTERS)

    def value(self) -> None:
        peek = self.whitespace()
        if peek is None:
            raise self.peek_error(EOF_VALUE)
        if peek == 0x6E:  # n
            self.i += 1
            self.ident(b"ull")
        elif peek == 0x74:  # t
            self.i += 1
            self.ident(b"rue")
        elif peek == 0x66:  # f
            self.i += 1
            self.ident(b"alse")
        elif peek == 0x2D:  # -
            self.i += 1
            self.number()
        elif 0x30 <= peek <= 0x39:
            self.number()
        elif peek == 0x22:
            self.i += 1
            self.string()
        elif peek == 0x5B:
            self.nested(self.list_body)
        elif peek == 0x7B:
            self.nested(self.object_body)
        else:
            raise self.peek_error(EXPECTED_VALUE)

    def nested(self, body: Callable[[], None]) -> None:
        self.depth -= 1
        if self.depth == 0:
            raise self.peek_error(RECURSION_LIMIT)
        self.i += 1
        body()
        self.depth += 1

    def ident(self, rest: bytes) -> None:
        for expected in rest:
            if self.i >= self.size:
                raise self.error(EOF_VALUE)
            got = self.data[self.i]
            self.i += 1
            if got != expected:
                raise self.error(EXPECTED_IDENT)

    def number(self) -> None:
        if self.i >= self.size:
            raise self.error(EOF_VALUE)
        first = self.data[self.i]
        self.i += 1
        if first == 0x30:
            if self.i < self.size and 0x30 <= self.data[self.i] <= 0x39:
                raise self.peek_error(INVALID_NUMBER)
        elif 0x31 <= first <= 0x39:
            self.i = _DIGITS.match(self.data, self.i).end()  # type: ignore[union-attr]
        else:
            raise self.error(INVALID_NUMBER)
        start = self.i
        peek = self.data[self.i] if self.i < self.size else None
        if peek == 0x2E:  # .
            self.i = _DIGITS.match(self.data, self.i + 1).end()  # type: ignore[union-attr]
            if self.i == start + 1:
                if self.i < self.size:
                    raise self.peek_error(INVALID_NUMBER)
                raise self.peek_error(EOF_VALUE)
            peek = self.data[self.i] if self.i < self.size else None
        if peek in (0x65, 0x45):  # e E
            self.exponent()

    def exponent(self) -> None:
        self.i += 1
        if self.i < self.size and self.data[self.i] in (0x2B, 0x2D):
            self.i += 1
        if self.i >= self.size:
            raise self.error(EOF_VALUE)
        if not 0x30 <= self.data[self.i] <= 0x39:
            self.i += 1
            raise self.error(INVALID_NUMBER)
        # Codex's serde_json keeps numbers as text (arbitrary precision): no range check.
        self.i = _DIGITS.match(self.data, self.i).end()  # type: ignore[union-attr]

    def string(self) -> None:
        start = self.i
        while True:
            self.i = _PLAIN_STRING_RUN.match(self.data, self.i).end()  # type: ignore[union-attr]
            if self.i >= self.size:
                raise self.error(EOF_STRING)
            byte = self.data[self.i]
            if byte == 0x22:
                self.i += 1
                if self.validate_utf8:
                    try:
                        self.data[start : self.i - 1].decode("utf-8")
                    except UnicodeDecodeError:
                        raise self.error(INVALID_CODE_POINT) from None
                return
            if byte == 0x5C:
                self.i += 1
                self.escape()
                continue
            self.i += 1
            raise self.error(CONTROL_CHARACTER)

    def escape(self) -> None:
        if self.i >= self.size:
            raise self.error(EOF_STRING)
        byte = self.data[self.i]
        self.i += 1
        if byte in _SIMPLE_ESCAPES:
            return
        if byte != 0x75:  # u
            raise self.error(INVALID_ESCAPE)
        unit = self.hex4()
        if 0xDC00 <= unit <= 0xDFFF:
            raise self.error(LONE_SURROGATE)
        if not 0xD800 <= unit <= 0xDBFF:
            return
        for expected in (0x5C, 0x75):
            if self.i >= self.size:
                raise self.error(EOF_STRING)
            got = self.data[self.i]
            self.i += 1
            if got != expected:
                raise self.error(END_OF_HEX_ESCAPE)
        low = self.hex4()
        if not 0xDC00 <= low <= 0xDFFF:
            raise self.error(LONE_SURROGATE)

    def hex4(self) -> int:
        if self.i + 4 > self.size:
            self.i = self.size
            raise self.error(EOF_STRING)
        digits = self.data[self.i : self.i + 4]
        self.i += 4
        if not all(d in _HEX for d in digits):
            raise self.error(INVALID_ESCAPE)
        return int(digits, 16)

    def list_body(self) -> None:
        first = True
        while True:
            peek = self.whitespace()
            if peek == 0x5D:
                self.i += 1
                return
            if peek == 0x2C and not first:
                self.i += 1
                peek = self.whitespace()
            elif peek is None:
                raise self.peek_error(EOF_LIST)
            elif not first:
                raise self.peek_error(EXPECTED_LIST_END)
            if peek is None:
                raise self.peek_error(EOF_VALUE)
            if peek == 0x5D:
                raise self.peek_error(TRAILING_COMMA)
            first = False
            self.value()

    def members(self) -> Iterator[None]:
        """Walk an object after its ``{``, checking separators as serde does; stops at each
        member with the key's opening quote next, and consumes the closing ``}``."""
        first = True
        while True:
            peek = self.whitespace()
            if peek == 0x7D:
                self.i += 1
                return
            if peek == 0x2C and not first:
                self.i += 1
                peek = self.whitespace()
            elif peek is None:
                raise self.peek_error(EOF_OBJECT)
            elif not first:
                raise self.peek_error(EXPECTED_OBJECT_END)
            if peek is None:
                raise self.peek_error(EOF_VALUE)
            if peek == 0x7D:
                raise self.peek_error(TRAILING_COMMA)
            if peek != 0x22:
                raise self.peek_error(KEY_NOT_STRING)
            first = False
            yield

    def colon(self) -> None:
        peek = self.whitespace()
        if peek is None:
            raise self.peek_error(EOF_OBJECT)
        if peek != 0x3A:
            raise self.peek_error(EXPECTED_COLON)
        self.i += 1

    def object_body(self) -> None:
        for _ in self.members():
            self.i += 1
            self.string()
            self.colon()
            self.value()

    # serde's ``ignore_value``: how a value nobody reads (an unknown field of a struct, an
    # ``IgnoredAny`` document) is walked. No recursion limit and no recursion (a stack of
    # open brackets), strings checked only for escapes and control characters, and slightly
    # different separator errors: ``[1,]`` is "expected value", ``{"a":1,}`` "key must be a
    # string".

    def skip(self) -> None:
        stack: list[int] = []
        while True:
            peek = self.whitespace()
            if peek is None:
                raise self.peek_error(EOF_VALUE)
            if peek in (0x5B, 0x7B):
                self.i += 1
                frame = peek
                accept_comma = False
            else:
                self.skip_scalar(peek)
                if not stack:
                    return
                frame = stack.pop()
                accept_comma = True
            while True:
                after = self.whitespace()
                if after == 0x2C and accept_comma:
                    self.i += 1
                    break
                closing = (frame == 0x5B and after == 0x5D) or (frame == 0x7B and after == 0x7D)
                if after is None:
                    raise self.peek_error(EOF_LIST if frame == 0x5B else EOF_OBJECT)
                if not closing:
                    if accept_comma:
                        raise self.peek_error(
                            EXPECTED_LIST_END if frame == 0x5B else EXPECTED_OBJECT_END
                        )
                    break
                self.i += 1
                if not stack:
                    return
                frame = stack.pop()
                accept_comma = True
            if frame == 0x7B:
                key = self.whitespace()
                if key is None:
                    raise self.peek_error(EOF_OBJECT)
                if key != 0x22:
                    raise self.peek_error(KEY_NOT_STRING)
                self.i += 1
                self.ignore_string()
                self.colon()
            stack.append(frame)

    def skip_scalar(self, peek: int) -> None:
        if peek == 0x6E:  # n
            self.i += 1
            self.ident(b"ull")
        elif peek == 0x74:  # t
            self.i += 1
            self.ident(b"rue")
        elif peek == 0x66:  # f
            self.i += 1
            self.ident(b"alse")
        elif peek == 0x2D:  # -
            self.i += 1
            self.number()
        elif 0x30 <= peek <= 0x39:
            self.number()
        elif peek == 0x22:
            self.i += 1
            self.ignore_string()
        else:
            raise self.peek_error(EXPECTED_VALUE)

    def ignore_string(self) -> None:
        while True:
            self.i = _PLAIN_STRING_RUN.match(self.data, self.i).end()  # type: ignore[union-attr]
            if self.i >= self.size:
                raise self.error(EOF_STRING)
            byte = self.data[self.i]
            self.i += 1
            if byte == 0x22:
                return
            if byte != 0x5C:
                raise self.error(CONTROL_CHARACTER)
            if self.i >= self.size:
                raise self.error(EOF_STRING)
            escaped = self.data[self.i]
            self.i += 1
            if escaped == 0x75:  # u: four hex digits, whatever code point they make
                self.hex4()
            elif escaped not in _SIMPLE_ESCAPES:
                raise self.error(INVALID_ESCAPE)


def syntax_error(data: bytes, *, validate_utf8: bool = True) -> str | None:
    """serde_json's message (with position) for ``data`` as one JSON document, or None when
    serde would accept it. ``validate_utf8`` is True for files (``from_slice``) and False for
    lines Codex already read as text."""
    scanner = _Scanner(data, validate_utf8=validate_utf8)
    try:
        scanner.document()
    except _Fail as fail:
        return at(fail.message, data, fail.index)
    return None


def ignored_error(data: bytes) -> str | None:
    """serde's message for ``data`` read as ``IgnoredAny`` (a document nobody reads, as Codex's
    end-of-replay payload check does once the text is known to be UTF-8), or None if accepted."""
    scanner = _Scanner(data, validate_utf8=False)
    try:
        scanner.skip()
        if scanner.whitespace() is not None:
            raise scanner.peek_error(TRAILING_CHARACTERS)
    except _Fail as fail:
        return at(fail.message, data, fail.index)
    return None


_STRING_LITERAL: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")
_SAME_BRACKETS: Final = bytes.maketrans(b"{}", b"[]")


def recursion_error(data: bytes) -> str | None:
    """serde_json's "recursion limit exceeded" for JSON that *parsed* (orjson allows 1024
    levels, serde's ``Value`` 128), or None when it nests less deeply.

    This one runs on the happy path, so it is cheap for ordinary documents: a count of opening
    brackets first, then (only for documents with 128 or more of them) strings are cut out and
    innermost bracket pairs removed one nesting level per pass, all in C; the exact position is
    recomputed by the scanner only when the limit is really reached."""
    if data.count(b"[") + data.count(b"{") < _RECURSION_LIMIT:
        return None
    brackets = _STRING_LITERAL.sub(b"", data).translate(_SAME_BRACKETS, _NOT_BRACKETS)
    for _ in range(_RECURSION_LIMIT - 1):
        if not brackets:
            return None
        brackets = brackets.replace(b"[]", b"")
    if not brackets:
        return None
    return syntax_error(data)


# --- locating values in JSON that did parse ----------------------------------------------------
# --- typed documents: where serde's derived visitors stop ---------------------------------------
#
# Codex deserialises lines and the manifest straight into typed structs, so a schema error can
# stop serde before it ever reaches a later syntax error (a stray ``}`` closes the event early
# and yields ``missing field``). ``_TypedScan`` walks the bytes once, checking each field as serde
# would at the moment the field's value ends.

_Check = Callable[[Any], object]


def _load(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:  # numbers beyond f64 that serde keeps as text
        return codec.loads_wide_numbers(raw)


def _value_start(data: bytes, i: int) -> int:
    match = _WHITESPACE.match(data, i)
    return match.end() if match else i


def _hook(tp: Any) -> _Check:
    hook = codec.converter.get_structure_hook(tp)
    return lambda value: hook(value, tp)


def _unsigned(bits: int) -> _Check:
    def check(value: Any) -> object:
        kind = f"u{bits}"
        if isinstance(value, bool) or not isinstance(value, int):
            raise codec.DecodeError(f"invalid type: {_unexpected(value)}, expected {kind}")
        if not 0 <= value < 2**bits:
            raise codec.DecodeError(f"invalid value: integer `{value}`, expected {kind}")
        return value

    return check


def _unexpected(value: Any) -> str:
    """serde_json's wording for a value of the wrong type."""
    if isinstance(value, list):
        return "sequence"
    if isinstance(value, dict):
        return "map"
    return _describe(value)


_Nested = Callable[["_TypedScan"], None]


class _TypedScan:
    def __init__(self, data: bytes, name: str, fields: dict[str, tuple[bool, _Check]]) -> None:
        self.s = _Scanner(data, validate_utf8=True)
        self.data = data
        self.name = name
        #: field -> (optional, check) in declaration order.
        self.fields = fields
        self.nested: dict[str, _Nested] = {}
        self.io_read = False
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
                raise _Fail(f"missing field `{name}`", s.i)

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
        else:
            s.value()
            value = _load(self.data[start : s.i])
            if optional and value is None:
                return
            self.finite(value, start)
        try:
            check(value)
        except codec.DecodeError as exc:
            message = str(exc)
            if message.startswith("invalid type: "):
                wanted = message.rsplit(", expected ", 1)[-1]
                message = f"invalid type: {_unexpected(value)}, expected {wanted}"
            raise _Fail(message, self.stopped(start)) from None

    def finite(self, value: Any, start: int) -> None:
        """serde turns a number literal into an f64 before any visitor sees it (a typed field
        is never skipped), and an infinite one is "number out of range" whatever type the
        field wanted."""
        if isinstance(value, float) and math.isinf(value):
            raise _Fail(NUMBER_OUT_OF_RANGE, self.stopped(start))

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
            self.finite(value, start)
        else:
            value = [] if s.data[start] == 0x5B else {}
        raise _Fail(f"invalid type: {_unexpected(value)}, expected {expected}", self.stopped(start))

    def end_of_member(self) -> int:
        """Where serde stamps an error that surfaced once a member's value was complete: it
        first tries to close the enclosing map, consuming ``}`` if that comes next."""
        i = _value_start(self.data, self.s.i)
        peeked = i < len(self.data) and (self.io_read or self.data[i] == 0x7D)
        return i + 1 if peeked else i


def _event_payload(scan: _TypedScan, schema: int) -> None:
    """``payload``: an internally tagged enum. serde reads the whole map (syntax only), deciding
    the variant as soon as it meets ``type``; the variant's fields are checked afterwards."""
    from . import events as ev

    types = ev.event_types(schema)
    s = scan.s
    peek = s.whitespace()
    if peek is None:
        raise s.peek_error(EOF_VALUE)
    if peek != 0x7B:
        scan.scalar_type_error("internally tagged enum RawTraceEventPayload")
    start = s.i
    s.depth -= 1
    s.i += 1
    tag: str | None = None
    for _ in s.members():
        key = scan.key()
        s.colon()
        if key != "type":
            s.value()
            continue
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
        raise _Fail("missing field `type`", s.i)
    try:
        codec.converter_for(schema).structure(_load(scan.data[start : s.i]), types[tag])
    except codec.DecodeError as exc:
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
    if scan.skipped:
        parts = []
        last = 0
        for start, end in scan.skipped:
            parts += [line[last:start], b"0"]
            last = end
        parts.append(line[last:])
        line = b"".join(parts)
    return codec.loads_wide_numbers(line)


def manifest_error(data: bytes) -> str | None:
    """serde's message (with position) for ``manifest.json`` bytes, or None if acceptable."""
    text = _hook(str)
    scan = _TypedScan(
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
    )
    scan.io_read = True  # Codex reads the manifest through serde_json::from_reader
    try:
        scan.document()
    except _Fail as fail:
        return at(fail.message, data, fail.index)
    return None


def string_struct_error(data: bytes, name: str, fields: tuple[str, ...]) -> str | None:
    """serde's message (with position) for JSON ``data`` read as struct ``name`` whose
    ``fields`` are required strings, or None when it reads."""
    from .codec import DecodeError, describe

    def check_str(value: Any) -> object:
        if not isinstance(value, str):
            raise DecodeError(f"invalid type: {describe(value)}, expected a string")
        return value

    problem = syntax_error(data)
    if problem is not None:
        return problem
    scan = _TypedScan(data, f"struct {name}", {field: (False, check_str) for field in fields})
    try:
        scan.document()
    except _Fail as fail:
        return at(fail.message, data, fail.index)
    return None
