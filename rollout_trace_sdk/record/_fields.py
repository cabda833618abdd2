"""Event fields of a type the format fixes (a text, a process's exit code, a status), given
a value of another type: recorded as the nearest value of the field's type, held in a
:class:`._values.Mistyped` so that the value encoder counts it (``mistyped``) when it writes
the line. Codex's reader refuses a line whose field has the wrong type, and an agent's
status words are not always the trace's ("done", "error", "canceled").
"""

from __future__ import annotations

from typing import Any, Final

from ._text import text_of
from ._values import Mistyped

_I32_MIN: Final = -(2**31)
_I32_MAX: Final = 2**31 - 1
#: Status words agents use for the ones the trace knows.
_STATUS_WORDS: Final = {
    "done": "completed",
    "ok": "completed",
    "success": "completed",
    "succeeded": "completed",
    "complete": "completed",
    "finished": "completed",
    "error": "failed",
    "errored": "failed",
    "failure": "failed",
    "cancel": "cancelled",
    "canceled": "cancelled",
    "interrupted": "aborted",
}
#: Two words for a stop that was not an end: a status set has one or the other.
_STOPPED: Final = ("cancelled", "aborted")


def as_text(value: Any) -> Any:
    """A string field's value: ``value`` when it is a string (a ``str`` subclass, an enum
    member with a string value: its string, not its name), bytes as they are (the encoder
    writes them as base64, counted), else a :class:`Mistyped` holding its text (``None``
    becomes the empty string)."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return value
    return Mistyped("" if value is None else text_of(value))


def as_optional_text(value: Any) -> Any:
    """:func:`as_text` for a field that may be ``null`` (``None`` stays ``None``)."""
    return None if value is None else as_text(value)


def as_exit_code(value: Any) -> Any:
    """A process's exit code as Codex holds it (an ``i32``): ``value`` when it is one (an
    ``int`` subclass's number, not counted), else
    a :class:`Mistyped` holding it as one (``True``, ``3.0``, ``"2"``) or as -1 (``None``,
    a process whose end was not seen, and anything else)."""
    if value.__class__ is int and _I32_MIN <= value <= _I32_MAX:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and _I32_MIN <= value <= _I32_MAX:
        return int(value)  # an int subclass (an IntEnum member) is the number it is
    number = -1
    if isinstance(value, int | float | str):
        try:
            whole = None if isinstance(value, float) and not value.is_integer() else int(value)
        except (ValueError, OverflowError):
            whole = None
        if whole is not None and _I32_MIN <= whole <= _I32_MAX:
            number = whole
    return Mistyped(number)


def as_status(value: Any, allowed: tuple[str, ...]) -> Any:
    """A status field's value: one of ``allowed`` (the field's statuses) as given, else a
    :class:`Mistyped` holding the nearest: the same word in another case or spelling
    ("done", "ok", "success" -> completed; "error" -> failed; "canceled" -> cancelled, or
    aborted where there is no cancelled, and the other way), else failed. A string subclass
    naming one of ``allowed`` (an enum member) is that status, not counted."""
    if isinstance(value, str):
        word = str.__str__(value)
        if word in allowed:
            return word
    else:
        word = "" if value is None else text_of(value)
    word = word.strip().lower()
    word = _STATUS_WORDS.get(word, word)
    if word in _STOPPED and word not in allowed:
        word = next((w for w in _STOPPED if w in allowed), word)
    if word not in allowed:
        word = "failed" if "failed" in allowed else allowed[0]
    return Mistyped(word)
