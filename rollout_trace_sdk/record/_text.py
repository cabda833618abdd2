"""Text the recorder makes of the agent's values: ``str`` that never raises, and previews cut
without keeping part of a secret."""

from __future__ import annotations

import base64
import re
from typing import Any, Final

__all__ = [
    "REPR_CHARS",
    "base64_text",
    "clip",
    "cycle_text",
    "int_digits",
    "shown",
    "text_of",
    "too_deep_text",
    "unread_text",
    "unserialisable_text",
]

#: A run of characters a secret can be made of (a token, ``NAME=value``, a URL with its
#: password, an AWS key pair with its comma-free secret), read backwards from a cut
_RUN: Final = re.compile(r"[^\s\"'`,;(){}\[\]<>|&]*")
#: How much of an unserialisable value's ``repr`` is recorded.
REPR_CHARS: Final = 200


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, then ``...`` (whole when it fits).

    A cut inside a run of characters a secret can hold drops the whole run: redaction, later
    in the writer's thread, knows a secret by its whole shape (a GitHub token's 36
    characters, an AWS secret key's 40), and a secret cut short no longer has it (a tool
    call's 160-character preview kept 39 of an AWS secret key's 40 characters, 29 of a
    GitHub token's 36, verbatim in the log line).
    """
    if len(text) <= limit:
        return text
    head = text[:limit]
    if _run(text, limit):  # the cut falls inside a run: its head goes too
        head = head[: limit - _run(head[::-1], 0)]
    return head + "..."


def _run(text: str, start: int) -> int:
    """How many characters of a :data:`_RUN` start at ``start``."""
    found = _RUN.match(text, start)
    return 0 if found is None else found.end() - start


def text_of(value: Any) -> str:
    """``str(value)`` that never raises (a 2,000-deep list overflows ``repr``)."""
    if value.__class__ is str:
        return value
    try:
        return str(value)
    except Exception:  # RecursionError, or a broken __str__
        return f"<unprintable {value.__class__.__qualname__}>"


def group_leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    """The exceptions an exception group holds, nested groups opened, in order; at most 100
    groups are opened (a group a loop keeps wrapping)."""
    leaves: list[BaseException] = []
    stack: list[BaseException] = [group]
    opened = 0
    while stack:
        exc = stack.pop()
        if not isinstance(exc, BaseExceptionGroup):
            leaves.append(exc)
        elif opened < 100:  # past it, a group is left closed: its leaves are not said
            opened += 1
            stack.extend(reversed(exc.exceptions))
    return leaves


def bytes_text(value: bytes | bytearray | memoryview) -> str:
    """Bytes a tool answered with, as text for the model: their UTF-8 text, else (no UTF-8:
    binary data) the recorder's lossless form for bytes, ``base64:<data>`` (docs/guarantees.md's
    value table), rather than text with its bytes replaced or Python's ``b'...'``."""
    data = bytes(value)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return base64_text(data)


def shown(value: Any) -> str:
    """``repr(value)`` that never raises, for messages naming one of the agent's values (a
    dataclass whose field has no value yet raises in its ``repr``; a message must not make
    the recording call fail)."""
    try:
        return repr(value)
    except Exception:
        return f"<unprintable {value.__class__.__qualname__}>"


def unserialisable_text(value: Any) -> str:
    """What is recorded for a value no writer can take: its type and its ``repr``, cut."""
    try:
        text = repr(value)
    except Exception:
        text = "?"
    return f"<unserialisable {value.__class__.__qualname__}: {clip(text, REPR_CHARS)}>"


def unread_text(value: Any) -> str:
    """What is recorded for a container held inside another that was not read (past the
    items read of one value, or its own methods raise): its type alone. Its ``repr`` would
    read it all, and a container held at several places (``v = UserList([v, v])``, 60 deep)
    has a ``repr`` of 2**60 parts."""
    return f"<unserialisable {value.__class__.__qualname__}: not read>"


def cycle_text(value: Any) -> str:
    """What is recorded for a container met again inside itself."""
    return f"<cycle: {value.__class__.__name__}>"


def too_deep_text(levels: int) -> str:
    """What is recorded for a container nested deeper than ``levels``."""
    return f"<truncated: nested deeper than {levels} levels>"


def int_digits(value: int) -> str:
    """``value``'s decimal digits, however many: ``str`` refuses past Python's limit
    (``sys.get_int_max_str_digits``, 4,300 by default), so a longer one is written in parts."""
    if value < 0:
        return "-" + int_digits(-value)
    if value < _DIGITS_PART:
        return str(value)
    parts: list[int] = []
    while value:
        value, low = divmod(value, _DIGITS_PART)
        parts.append(low)
    return str(parts[-1]) + "".join(str(part).zfill(_PART_DIGITS) for part in reversed(parts[:-1]))


#: The digits :func:`int_digits` writes at a time (under Python's limit).
_PART_DIGITS: Final = 4000
_DIGITS_PART: Final = 10**_PART_DIGITS


def base64_text(data: bytes | bytearray | memoryview) -> str:
    """Bytes as the recorder writes them, lossless, where JSON wants text: ``base64:<data>``
    (docs/guarantees.md's value table)."""
    return "base64:" + base64.b64encode(bytes(data)).decode()
