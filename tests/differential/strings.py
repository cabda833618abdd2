"""Odd strings and JSON text shapes put in a real bundle, for the string differential
(``test_strings_vs_codex.py``; ``benchmarks/values_vs_codex.py --values strings`` for long
runs).

A string value (of an event line, the manifest, a payload file, a schema-3 shard record or
template, or inside a JSON string a payload holds) is written with escapes that decode to the
same text (``\\u0041`` for ``A``, ``\\/``, escaped surrogate pairs) or the other way, gets a
piece inserted (lone surrogates, NUL, control characters raw and escaped, invalid and overlong
UTF-8, a BOM), or is replaced whole (empty, 1 MB, ids with ``/``, ``..``, spaces, newlines,
non-ASCII) or by another type (and a number or literal by a string or an object). A text's
shape changes: a key given twice (same or other value), a key in another case (renamed or
added) or escaped, an object's keys shuffled, whitespace between tokens, a key no reader
knows holding an odd value, and for the log ``\\r\\n`` line endings, a blank line, no final
newline, spaces at a line's end or start, a BOM at the start of the file or of a line. The
plumbing (the texts, the sites, the replacing, the probe) is ``mutation.py``'s.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from pathlib import Path

from .mutation import Files, kind_of, replace_scalar, shown

#: pieces put inside a string literal, as the file spells them (not all valid JSON or UTF-8)
PIECES: tuple[bytes, ...] = (
    rb"\ud800",
    rb"\udc00",
    rb"\ud800\u0041",
    rb"\udbff\udfff",
    rb"\ud83d\ude00",
    rb"\u0000",
    b"\x00",
    b"\x01",
    b"\x1f",
    b"\t",
    b"\x7f",
    rb"\u0001",
    rb"\b\f",
    rb"\u007f",
    rb"\u2028",
    b"\xe2\x80\xa8",
    b"\xef\xbb\xbf",
    rb"\ufeff",
    b"\xff",
    b"\xc3\x28",
    b"\xc0\xaf",
    b"\xe0\x80\xaf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xe2\x82",
    rb"\/",
    rb"\u0041",
    rb"\uD800",
    rb"\x41",
    rb"\u12",
)

#: whole strings, as the file spells them
WHOLE: tuple[bytes, ...] = (
    b'""',
    b'" "',
    b'"a/b"',
    b'"../x"',
    b'".."',
    b'"/"',
    b'"a b"',
    rb'"a\nb"',
    '"é"'.encode(),
    rb'"\u00e9"',
    '"🙂"'.encode(),
    b'"' + b"x" * 1_000_000 + b'"',
    b'"' + "é".encode() * 500_000 + b'"',
)

#: another type in place of a value
OTHER_TYPES: tuple[bytes, ...] = (
    b"{}",
    b"[]",
    b'{"a":"b"}',
    b'["x"]',
    b"1",
    b"1.5",
    b"true",
    b"null",
)


def _literal(text: str) -> bytes:
    """A JSON string's inside, with only the escapes JSON needs."""
    return json.dumps(text, ensure_ascii=False)[1:-1].encode()


def _escaped(text: str, rng: random.Random) -> bytes:
    """``text`` as a JSON string's inside, some characters escaped that need not be."""
    out = []
    for char in text:
        code = ord(char)
        if rng.random() < 0.5:
            out.append(_literal(char).decode())
        elif char == "/":
            out.append("\\/")
        elif code > 0xFFFF:
            code -= 0x10000
            pair = (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF))
            out.append("".join(f"\\u{c:04x}" for c in pair))
        else:
            out.append(f"\\u{code:04X}" if rng.random() < 0.5 else f"\\u{code:04x}")
    return "".join(out).encode()


def _string(family: list[str]) -> Callable[[bytes, str, random.Random], bytes | None]:
    """A replacement maker that notes the family of what it made in ``family``."""

    def replace(original: bytes, kind: str, rng: random.Random) -> bytes | None:
        if kind != "string" or rng.random() < 0.15:
            family.append("type")
            if kind == "number" or kind == "other":
                return rng.choice((b'"' + original + b'"', *OTHER_TYPES))
            return rng.choice(OTHER_TYPES)
        text: str = json.loads(original)
        choice = rng.choice(("alike", "raw", "insert", "insert", "whole"))
        family.append(choice)
        if choice == "alike":
            return b'"' + _escaped(text, rng) + b'"'
        if choice == "raw":
            return json.dumps(text, ensure_ascii=False).encode()
        if choice == "insert":
            at = rng.randint(0, len(text))
            piece = rng.choice(PIECES)
            return b'"' + _literal(text[:at]) + piece + _literal(text[at:]) + b'"'
        return rng.choice(WHOLE)

    return replace


_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[{}\[\],:]')
_DECODER = json.JSONDecoder()


def _structure(text: str) -> list[tuple[int, str]]:
    """(position, character) of each structural character outside strings."""
    return [(m.start(), m.group()) for m in _TOKEN.finditer(text) if m.group()[0] != '"']


def _members(text: str, brace: int) -> list[tuple[int, int, int]] | None:
    """The object at ``brace``: (key start, value start, value end) of each member."""
    found: list[tuple[int, int, int]] = []
    at = brace + 1
    try:
        while True:
            while text[at] in " \t\r\n":
                at += 1
            if text[at] == "}":
                return found
            start = at
            _, at = _DECODER.raw_decode(text, at)
            while text[at] in " \t\r\n:":
                at += 1
            value = at
            _, at = _DECODER.raw_decode(text, at)
            found.append((start, value, at))
            while text[at] in " \t\r\n,":
                at += 1
    except (ValueError, IndexError):
        return None


def _object_shape(text: str, rng: random.Random, log: bool) -> tuple[str, str] | None:
    """A key given twice, a key in another case, the keys shuffled or whitespace put between
    two tokens of one object: (family, new text)."""
    structure = _structure(text)
    choice = rng.choice(("duplicate", "case", "key-alike", "shuffle", "space", "extra"))
    if choice == "space":
        if not structure:
            return None
        at = rng.choice(structure)[0] + rng.randint(0, 1)
        spaces = rng.choice((" ", "\t", "  \t ", "\r", *(() if log else ("\n", "\r\n"))))
        return choice, text[:at] + spaces + text[at:]
    braces = [at for at, char in structure if char == "{"]
    if not braces:
        return None
    brace = rng.choice(braces)
    members = _members(text, brace)
    if not members:
        return None
    key, value, end = rng.choice(members)
    name = text[key:value].rstrip(" \t\r\n:")
    if choice == "extra":  # a key no reader knows, holding an odd value (skipped, or not)
        odd = rng.choice((b'"' + rng.choice(PIECES) + b'"', *WHOLE, *OTHER_TYPES))
        extra = '"zz_extra":' + odd.decode(errors="surrogateescape")
        return choice, text[:key] + extra + "," + text[key:]
    if choice == "duplicate":
        other = rng.choice(members)
        again = rng.choice((text[value:end], text[other[1] : other[2]], "null", '"x"', "0"))
        member = f"{name}:{again}"
        if rng.random() < 0.5:
            return choice, text[:key] + member + "," + text[key:]
        return choice, text[:end] + "," + member + text[end:]
    if choice == "key-alike":  # the same key, escaped: serde compares it decoded
        escaped = b'"' + _escaped(json.loads(name), rng) + b'"'
        return choice, text[:key] + escaped.decode() + text[key + len(name) :]
    if choice == "case":
        inner = json.loads(name)
        cased = rng.choice((inner.upper(), inner.capitalize(), inner.swapcase()))
        if cased == inner:
            return None
        if rng.random() < 0.5:
            return choice, text[:key] + json.dumps(cased) + text[key + len(name) :]
        return choice, text[:end] + "," + json.dumps(cased) + ":" + text[value:end] + text[end:]
    if len(members) < 2:
        return None
    parts = [text[k:e] for k, _, e in members]
    order = parts[:]
    while order == parts:
        rng.shuffle(order)
    return choice, text[: brace + 1] + ",".join(order) + "}" + text[members[-1][2] :].lstrip(
        " \t\r\n"
    )[1:]


_BOM = "\ufeff"
#: how often the log is the text changed: serde reads its lines into structs, the strictest
_LOG_SHARE = 0.4


def _log_shape(text: str, rng: random.Random) -> tuple[str, str] | None:
    """The log's lines: ``\\r\\n`` endings, a blank line, no final newline, spaces at a line's
    end or start, a BOM at the start of the file or of a line."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if len(lines) < 2:
        return None
    at = rng.randint(1, len(lines) - 1)
    choice = rng.choice(("crlf", "blank", "end", "trailing", "leading", "bom"))
    if choice == "crlf":
        if rng.random() < 0.5:
            return choice, "".join(line + "\r\n" for line in lines)
        lines[at] += "\r"
    elif choice == "blank":
        lines.insert(at, rng.choice(("", " ", "\t", "\r")))
    elif choice == "end":
        return choice, "\n".join(lines)
    elif choice == "trailing":
        lines[at] += rng.choice((" ", "\t", " \t "))
    elif choice == "leading":
        lines[at] = rng.choice((" ", "\t")) + lines[at]
    else:
        lines[at if rng.random() < 0.5 else 0] = _BOM + lines[at]
        return choice, "\n".join(lines) + "\n"
    return choice, "\n".join(lines) + "\n"


def _reshape(bundle: Path, rng: random.Random) -> tuple[str, str]:
    files = Files(bundle)
    for _ in range(20):
        key = files.pick(rng, _LOG_SHARE)
        text = files.texts[key].decode(errors="surrogateescape")
        log = key[0] == "trace.jsonl"
        if log and rng.random() < 0.4:
            changed = _log_shape(text, rng)
        elif rng.random() < 0.1:
            changed = ("bom", _BOM + text)
        else:
            changed = _object_shape(text, rng, log)
        if changed is None:
            continue
        family, new = changed
        files.texts[key] = new.encode(errors="surrogateescape")
        files.write()
        return f"{kind_of(key)}:shape:{family}", f"{shown(key, 0)}: {family}"
    return "none", "no shape"


def mutate(bundle: Path, rng: random.Random) -> tuple[str, str]:
    """An odd string in place of one scalar (60%), or a text's shape changed; returns (place,
    what was done)."""
    if rng.random() < 0.4:
        return _reshape(bundle, rng)
    family: list[str] = []
    weights = {"string": 6, "json-string": 3, "number": 1, "other": 1}
    where, done = replace_scalar(bundle, rng, weights, _string(family), _LOG_SHARE)
    return f"{where}:{family[-1] if family else '?'}", done
