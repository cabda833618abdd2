"""Terminal control characters spelled out, for every text a command prints that someone
else chose: model and tool output, ids, paths. Its own small module: the reducer's CLI
prints bundle paths and must not pay for the transcript module's import."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import re

__all__ = ["BIDI_CONTROLS", "INVISIBLE", "SPELLED", "json_visible", "one_line", "visible"]

#: Bidirectional controls (ALM, LRM and RLM, the embeddings and overrides, the isolates): text
#: after one is shown reordered, so agent text could make a line read other than it is.
BIDI_CONTROLS: Final = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
#: Characters shown as nothing that carry no meaning of their own in an id, a command or a
#: name: ``call_a`` and ``call_\u200ba`` read alike, and tag characters (U+E0000-U+E007F) hide
#: whole sentences a model reads ("ASCII smuggling"). Soft hyphen, combining grapheme joiner,
#: the Hangul fillers, Khmer's inherent vowels, the Mongolian vowel separator, zero-width
#: space, word joiner and the invisible operators, the deprecated format controls, the
#: byte-order mark, the tags. Left as they are: the zero-width (non-)joiners and the variation
#: selectors, which emoji and several scripts need to be written at all.
INVISIBLE: Final = (
    0x00AD,
    0x034F,
    0x115F,
    0x1160,
    0x17B4,
    0x17B5,
    0x180E,
    0x200B,
    *range(0x2060, 0x2065),
    *range(0x206A, 0x2070),
    0x3164,
    0xFEFF,
    0xFFA0,
    *range(0xE0000, 0xE0080),
)
#: Every character spelled ``\uNNNN`` (``\U000NNNNN`` past the BMP) rather than shown; the
#: page's ``vis`` (static/util.js) spells the same ones (``tests/view/test_visible.py``).
SPELLED: Final = (*BIDI_CONTROLS, *INVISIBLE)


def _utf16(code: int) -> tuple[int, ...]:
    if code <= 0xFFFF:
        return (code,)
    code -= 0x10000
    return (0xD800 | code >> 10, 0xDC00 | code & 0x3FF)


def _spelling(code: int) -> str:
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


#: Control characters (C0 but newline and tab, DEL, C1) spelled out: model and tool output
#: must not move the cursor, retitle the window or recolour the terminal that shows it; nor
#: reorder what it shows, nor hide text (:data:`SPELLED`, spelled ``\\uNNNN``).
_CONTROLS: Final = {
    **{
        code: f"\\x{code:02x}"
        for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))
        if code not in (9, 10)
    },
    **{code: _spelling(code) for code in SPELLED},
}


#: From this length on, a text that is not ASCII is searched for the characters to spell by a
#: regular expression (compiled on first use: a short text does not pay for ``re``) instead of
#: ``str.translate``, which looks each character of such a text up in the table: 100 MB of
#: JSON with an accented letter or a dash a line took 4 s, 0.4 s searched (review40; ASCII
#: text is translated in 0.1 s either way).
_LONG: Final = 1 << 16


@functools.cache
def _class(codes: tuple[int, ...]) -> re.Pattern[str]:
    """A character class of ``codes`` (sorted), runs of consecutive ones as ranges."""
    import re

    runs: list[list[int]] = []
    for code in codes:
        if runs and runs[-1][1] == code - 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    parts = (re.escape(chr(lo)) + (f"-{re.escape(chr(hi))}" if hi > lo else "") for lo, hi in runs)
    return re.compile(f"[{''.join(parts)}]")


def _spell(text: str, table: dict[int, str]) -> str:
    """``text`` with each character of ``table`` replaced by its spelling."""
    if len(text) < _LONG or text.isascii():
        return text.translate(table)
    return _class(tuple(sorted(table))).sub(lambda found: table[ord(found.group())], text)


def visible(text: str) -> str:
    """``text`` with its terminal control characters spelled as ``\\xNN`` (bidi controls and
    invisible characters as ``\\uNNNN``, ``\\U000NNNNN`` past the BMP).

    Args:
        text: what is about to be printed.

    Returns:
        The same text, each control character replaced by its escape.
    """
    return _spell(text, _CONTROLS)


def one_line(name: str) -> str:
    """``name`` with its newlines spelled ``\\n``: for a name (a path) quoted in a message,
    whose lines are the message's own. :func:`visible` keeps newlines (a message may have
    several lines), so a directory named ``b\\n  run: rollout-trace ...`` printed a line of
    its own choosing under the command's (found by review34).

    Args:
        name: a path or name about to be put in a message.

    Returns:
        The same name on one line.
    """
    return name.replace("\n", "\\n")


#: The controls JSON allows raw inside strings (DEL, C1, bidi, invisible; orjson escapes C0
#: only), as the ``\\uNNNN`` escapes that mean the same characters (a surrogate pair past the
#: BMP, as JSON spells it).
_JSON_CONTROLS: Final = {
    code: "".join(f"\\u{unit:04x}" for unit in _utf16(code))
    for code in (0x7F, *range(0x80, 0xA0), *SPELLED)
}


def json_visible(text: str) -> str:
    """JSON ``text`` with the controls it may hold raw written as escapes: the same JSON
    value, and nothing that reaches a terminal as a control (they occur only inside
    strings, where the escape means the same character).

    Args:
        text: JSON text.

    Returns:
        The same JSON value, those characters escaped.
    """
    return _spell(text, _JSON_CONTROLS)
