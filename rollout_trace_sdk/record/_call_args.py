"""A call's content told apart in bounded time, for ``_call_ids``: which of the calls made
with one id a mention names is decided by their arguments (a call item's) and outputs.

Arguments match as given or as JSON values (keys sorted, spacing dropped), so arguments
serialised again or given parsed still match. Content is compared by fingerprints: whole up
to 1 KB, sampled beyond (a call's arguments or an output may be 100 KB, and a tool's output
is fingerprinted on the event loop).
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from .._signals import raise_interrupt
from ._held import TO_HOOK, known_hook

#: Texts up to this length are hashed whole (1 KB: ~0.6 µs; a tool's output is
#: fingerprinted on the event loop); longer ones by their length and evenly spread samples.
_WHOLE: Final = 1024
_SAMPLES: Final = 32
_SORTED: Final = orjson.OPT_SORT_KEYS | TO_HOOK


def fingerprint(value: Any) -> int | None:
    """A text (or a JSON value, as its canonical JSON) told apart in bounded time: hashed
    whole up to :data:`_WHOLE` characters, else by its length and evenly spread samples."""
    text: str | bytes
    if value.__class__ is str:
        text = value
    elif value is None:
        return None
    else:
        try:
            text = orjson.dumps(value, known_hook, _SORTED)
        except (TypeError, orjson.JSONEncodeError) as exc:
            raise_interrupt(exc)
            return None
    if len(text) <= _WHOLE:
        return hash(text)
    step = len(text) // _SAMPLES
    return hash((len(text), *(text[i : i + 16] for i in range(0, len(text), step))))


#: A call's arguments: fingerprints of their text as given and of their JSON value (keys
#: sorted, spacing dropped), so arguments serialised again, or given parsed, still match.
Args = tuple[int | None, int | None]
NO_ARGS: Final[Args] = (None, None)


def args_of(value: Any) -> Args:
    if value is None:
        return NO_ARGS
    if value.__class__ is not str:
        if not isinstance(value, str):
            canonical = fingerprint(value)
            return canonical, canonical
        value = str.__str__(value)  # a str subclass: its text (orjson would quote it)
    raw = fingerprint(value)
    if len(value) > _WHOLE:
        return raw, raw
    try:
        parsed = orjson.loads(value)
    except (orjson.JSONDecodeError, RecursionError):
        return raw, raw
    return raw, fingerprint(parsed)


def call_arguments(item: dict[str, Any]) -> Args:
    """A call item's arguments (a function's), input (a custom tool's) or command (a local
    shell's)."""
    for key in ("arguments", "input"):
        value = item.get(key)
        if value is not None:
            return args_of(value)
    action = item.get("action")
    if action.__class__ is dict:
        return args_of(action.get("command"))
    return NO_ARGS


def same_args(a: Args, b: Args) -> bool:
    return (a[0] is not None and a[0] == b[0]) or (a[1] is not None and a[1] == b[1])
