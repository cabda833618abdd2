"""Terminal control characters spelled out, for every text a command prints that someone
else chose: model and tool output, ids, paths. Its own small module: the reducer's CLI
prints bundle paths and must not pay for the transcript module's import."""

from __future__ import annotations

from typing import Final

__all__ = ["BIDI_CONTROLS", "json_visible", "visible"]

#: Bidirectional controls (ALM, LRM and RLM, the embeddings and overrides, the isolates): text
#: after one is shown reordered, so agent text could make a line read other than it is.
BIDI_CONTROLS: Final = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
#: Control characters (C0 but newline and tab, DEL, C1) spelled out: model and tool output
#: must not move the cursor, retitle the window or recolour the terminal that shows it; nor
#: reorder what it shows (bidi controls, spelled ``\\uNNNN``).
_CONTROLS: Final = {
    **{
        code: f"\\x{code:02x}"
        for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))
        if code not in (9, 10)
    },
    **{code: f"\\u{code:04x}" for code in BIDI_CONTROLS},
}


def visible(text: str) -> str:
    """``text`` with its terminal control characters spelled as ``\\xNN`` (bidi controls as
    ``\\uNNNN``).

    Args:
        text: what is about to be printed.

    Returns:
        The same text, each control character replaced by its escape.
    """
    return text.translate(_CONTROLS)


#: The controls JSON allows raw inside strings (DEL, C1, bidi; orjson escapes C0 only), as
#: the ``\\uNNNN`` escapes that mean the same characters.
_JSON_CONTROLS: Final = {
    code: f"\\u{code:04x}" for code in (0x7F, *range(0x80, 0xA0), *BIDI_CONTROLS)
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
    return text.translate(_JSON_CONTROLS)
