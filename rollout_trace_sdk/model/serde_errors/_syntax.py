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

import re
from collections.abc import Callable, Iterator
from functools import cache
from typing import Final

from .. import serde_read

_describe = serde_read.describe
_unknown_variant = serde_read.unknown_variant

_RECURSION_LIMIT: Final = 128
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


class _Patterns:
    """The scanner's regular expressions, compiled when the first scanner is made: it runs only
    once a fast parse has failed (or for a payload nobody reads that is not surely JSON), so a
    reduction that never needs it does not compile them (~0.5 ms of ``reduce``'s start-up)."""

    def __init__(self) -> None:
        self.whitespace = re.compile(rb"[ \n\t\r]*")
        self.plain_string_run = re.compile(rb'[^"\\\x00-\x1f]*')
        self.digits = re.compile(rb"[0-9]*")
        #: Array elements serde skips without a word, each followed by its comma: numbers,
        #: literals, strings without escapes, empty containers. A long run of them is passed
        #: over in one match (a 30 MB ``[0,0,...`` cut off at its end took 15 s element by
        #: element); whatever does not match, and the last element, are walked as before, so
        #: errors and positions are unchanged.
        self.simple_elements = re.compile(
            rb"(?:[ \n\t\r]*"
            rb"(?:-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
            rb'|true|false|null|"[^"\\\x00-\x1f]*"|\[[ \n\t\r]*\]|\{[ \n\t\r]*\})'
            rb"[ \n\t\r]*,){1,1024}"  # bounded: the engine keeps state for every repetition
        )


@cache
def _patterns() -> _Patterns:
    return _Patterns()


class _Scanner:
    """A byte-for-byte model of serde_json's value parser (``from_slice::<Value>``)."""

    def __init__(self, data: bytes, *, validate_utf8: bool) -> None:
        self.data = data
        self.size = len(data)
        self.i = 0
        self.depth = _RECURSION_LIMIT
        self.validate_utf8 = validate_utf8
        #: serde_json's ``IoRead`` (``from_reader``, the manifest), which counts a byte once it
        #: has taken it: a skipped string's control character is reported consumed
        self.io_read = False
        patterns = _patterns()
        self.whitespace_run = patterns.whitespace
        self.plain_string_run = patterns.plain_string_run
        self.digits = patterns.digits
        self.simple_elements = patterns.simple_elements

    # serde's two ways to report: at the current index, or just past the byte it peeked at.
    def error(self, message: str) -> _Fail:
        return _Fail(message, self.i)

    def peek_error(self, message: str) -> _Fail:
        return _Fail(message, min(self.size, self.i + 1))

    def whitespace(self) -> int | None:
        match = self.whitespace_run.match(self.data, self.i)
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
        if peek == 0x22:  # a string is checked (escapes, UTF-8), not just skipped
            self.i += 1
            self.string()
        elif peek == 0x5B:
            self.nested(self.list_body)
        elif peek == 0x7B:
            self.nested(self.object_body)
        else:
            self.skip_scalar(peek, EOF_VALUE)

    def nested(self, body: Callable[[], None]) -> None:
        self.depth -= 1
        if self.depth == 0:
            raise self.peek_error(RECURSION_LIMIT)
        self.i += 1
        body()
        self.depth += 1

    def ident(self, rest: bytes) -> None:
        self.expect(rest, EOF_VALUE, EXPECTED_IDENT)

    def expect(self, rest: bytes, eof: str, wrong: str) -> None:
        """Consume the bytes ``rest``, one by one (serde reports the byte after the wrong one)."""
        for expected in rest:
            if self.take(eof) != expected:
                raise self.error(wrong)

    def take(self, eof: str) -> int:
        """The next byte, consumed (serde's ``next_char``); at the end, the error ``eof``."""
        if self.i >= self.size:
            raise self.error(eof)
        byte = self.data[self.i]
        self.i += 1
        return byte

    def number(self, eof: str = EOF_VALUE) -> None:
        """A number; one the text's end cuts off is ``eof``: serde's ``Value`` parser says "EOF
        while parsing a value", its ``IgnoredAny`` walk (:meth:`skip`) "invalid number", at
        the same place."""
        first = self.take(eof)
        if first == 0x30:
            if self.i < self.size and 0x30 <= self.data[self.i] <= 0x39:
                raise self.peek_error(INVALID_NUMBER)
        elif 0x31 <= first <= 0x39:
            self.i = self.digits.match(self.data, self.i).end()  # type: ignore[union-attr]
        else:
            raise self.error(INVALID_NUMBER)
        start = self.i
        peek = self.data[self.i] if self.i < self.size else None
        if peek == 0x2E:  # .
            self.i = self.digits.match(self.data, self.i + 1).end()  # type: ignore[union-attr]
            if self.i == start + 1:
                if self.i < self.size:
                    raise self.peek_error(INVALID_NUMBER)
                raise self.peek_error(eof)
            peek = self.data[self.i] if self.i < self.size else None
        if peek in (0x65, 0x45):  # e E
            self.exponent(eof)

    def exponent(self, eof: str) -> None:
        self.i += 1
        if self.i < self.size and self.data[self.i] in (0x2B, 0x2D):
            self.i += 1
        if self.i >= self.size:
            raise self.error(eof)
        if not 0x30 <= self.data[self.i] <= 0x39:
            self.i += 1
            raise self.error(INVALID_NUMBER)
        # Codex's serde_json keeps numbers as text (arbitrary precision): no range check.
        self.i = self.digits.match(self.data, self.i).end()  # type: ignore[union-attr]

    def string(self) -> None:
        start = self.i
        while True:
            self.i = self.plain_string_run.match(self.data, self.i).end()  # type: ignore[union-attr]
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
        byte = self.take(EOF_STRING)
        if byte in _SIMPLE_ESCAPES:
            return
        if byte != 0x75:  # u
            raise self.error(INVALID_ESCAPE)
        unit = self.hex4()
        if 0xDC00 <= unit <= 0xDFFF:
            raise self.error(LONE_SURROGATE)
        if not 0xD800 <= unit <= 0xDBFF:
            return
        self.expect(b"\\u", EOF_STRING, END_OF_HEX_ESCAPE)
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

    def _elements(self, close: int, eof: str, expected_end: str) -> Iterator[int]:
        """Walk the elements of an array or object after its opening bracket, checking the
        separators as serde does; yields the first byte of each element and consumes the
        closing ``close`` bracket."""
        first = True
        while True:
            peek = self.whitespace()
            if peek == close:
                self.i += 1
                return
            if peek == 0x2C and not first:
                self.i += 1
                peek = self.whitespace()
            elif peek is None:
                raise self.peek_error(eof)
            elif not first:
                raise self.peek_error(expected_end)
            if peek is None:
                raise self.peek_error(EOF_VALUE)
            if peek == close:
                raise self.peek_error(TRAILING_COMMA)
            first = False
            yield peek

    def elements(self) -> Iterator[int]:
        """Walk an array after its ``[`` (see :meth:`members` for objects)."""
        return self._elements(0x5D, EOF_LIST, EXPECTED_LIST_END)

    def list_body(self) -> None:
        for _ in self._elements(0x5D, EOF_LIST, EXPECTED_LIST_END):
            self.value()

    def members(self) -> Iterator[None]:
        """Walk an object after its ``{``, checking separators as serde does; stops at each
        member with the key's opening quote next, and consumes the closing ``}``."""
        for peek in self._elements(0x7D, EOF_OBJECT, EXPECTED_OBJECT_END):
            if peek != 0x22:
                raise self.peek_error(KEY_NOT_STRING)
            yield

    def colon(self) -> None:
        self.in_object(0x3A, EXPECTED_COLON)

    def in_object(self, byte: int, wrong: str) -> None:
        """Consume ``byte`` (a ``:``, a key's opening quote) after whitespace in an object."""
        peek = self.whitespace()
        if peek is None:
            raise self.peek_error(EOF_OBJECT)
        if peek != byte:
            raise self.peek_error(wrong)
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
            if stack and stack[-1] == 0x5B:  # at an array element: pass over simple ones
                run = self.simple_elements.match(self.data, self.i)
                while run is not None:
                    self.i = run.end()
                    run = self.simple_elements.match(self.data, self.i)
            peek = self.whitespace()
            if peek is None:
                raise self.peek_error(EOF_VALUE)
            if peek in (0x5B, 0x7B):
                self.i += 1
                frame = peek
                accept_comma = False
            else:
                self.skip_scalar(peek, INVALID_NUMBER)
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
                self.in_object(0x22, KEY_NOT_STRING)
                self.ignore_string()
                self.colon()
            stack.append(frame)

    def skip_scalar(self, peek: int, number_eof: str) -> None:
        """A scalar; ``number_eof`` is what a number cut off by the text's end is (see
        :meth:`number`)."""
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
            self.number(number_eof)
        elif 0x30 <= peek <= 0x39:
            self.number(number_eof)
        elif peek == 0x22:
            self.i += 1
            self.ignore_string()
        else:
            raise self.peek_error(EXPECTED_VALUE)

    def ignore_string(self) -> None:
        while True:
            self.i = self.plain_string_run.match(self.data, self.i).end()  # type: ignore[union-attr]
            byte = self.take(EOF_STRING)
            if byte == 0x22:
                return
            if byte != 0x5C:
                # ``SliceRead::ignore_str`` reports the control character unconsumed (its
                # ``parse_str`` consumes it first): one column earlier, no new line counted;
                # ``IoRead`` takes every byte before looking at it
                self.i -= not self.io_read
                raise self.error(CONTROL_CHARACTER)
            escaped = self.take(EOF_STRING)
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


#: Kept by the first pass: quotes, brackets, backslashes and every character a backslash may
#: escape in JSON but the quote and the backslash themselves (``/bfnrtu``). Each backslash is
#: then still followed by the character it escapes, so escaped backslashes and quotes pair up as
#: in the document, at a fraction of its length.
_NOT_ESCAPES: Final = bytes(b for b in range(256) if b not in b'"[]{}\\/bfnrtu')
#: Deleted from that to leave the skeleton: everything but quotes and brackets.
_ESCAPE_RESIDUE: Final = b"\\/bfnrtu"
_SAME_BRACKETS: Final = bytes.maketrans(b"{}", b"[]")


def recursion_error(data: bytes) -> str | None:
    """serde_json's "recursion limit exceeded" for JSON that *parsed* (orjson allows 1024
    levels, serde's ``Value`` 128), or None when it nests less deeply.

    This one runs on the happy path (every payload the reducer reads), so it is cheap for
    ordinary documents, all in C: one pass keeps what can matter (quotes, brackets, backslashes
    and the letters they may escape), so that escaped backslashes and quotes are dropped from a
    copy a sixth of the size rather than from the document (the 3.3 MB benchmark bundle's 603
    payloads: 4.4 ms, was 11.4 ms); the brackets are counted there; then the rest cut down to
    quotes and brackets, the strings cut out, and innermost bracket pairs removed one nesting
    level per pass. The exact position is recomputed by the scanner
    only when the limit is really reached. A document that is not JSON is the scanner's
    business (``parse_payload_json``): what this says of it does not matter."""
    kept = data.translate(None, _NOT_ESCAPES)
    if kept.count(b"[") + kept.count(b"{") < _RECURSION_LIMIT:
        return None
    skeleton = kept.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = skeleton.translate(_SAME_BRACKETS, _ESCAPE_RESIDUE)
    # Most strings hold no bracket: their quotes now touch. Two touching quotes are an empty
    # string, or one string's end and the next one's start with no bracket between (the two
    # become one string): dropping them leaves the brackets outside strings as they were. The
    # strings left (those holding brackets) are cut out by position.
    brackets = skeleton.replace(b'""', b"")
    if b'"' in brackets:
        brackets = b"".join(brackets.split(b'"')[::2])
    for _ in range(_RECURSION_LIMIT - 1):
        if not brackets:
            return None
        brackets = brackets.replace(b"[]", b"")
    if not brackets:
        return None
    return syntax_error(data)
