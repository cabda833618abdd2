"""The checks :func:`~.recorder.open_rollout` makes of its options at the call, where a wrong
one is the caller's to see (found later, in the writer, it could only stop the recording)."""

from __future__ import annotations

import math


def whole(name: str, value: object, *, optional: bool = False) -> None:
    """A byte count must be an ``int`` (``None`` too when ``optional``)."""
    if value is None and optional:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        wanted = "an int or None" if optional else "an int"
        raise TypeError(f"{name} must be {wanted}, not {value!r}")


def seconds(name: str, value: object) -> None:
    """A duration must be a finite, non-negative number of seconds."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number of seconds, not {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and not negative, not {value!r}")


def text_or_none(name: str, value: object) -> None:
    """A display name must be text or ``None`` (a ``str`` subclass is text)."""
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be a str or None, not {value!r}")
