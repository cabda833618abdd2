"""How deep a value nests, told cheaply: the value encoder's depth checks (:mod:`._values`).

Codex's JSON reader (serde_json) refuses nesting beyond 128 levels, so the encoder cuts
containers nested deeper than :data:`MAX_DEPTH`. orjson writes up to its own limit of 254
without a word, so what it wrote is checked here, by the cheapest test that can tell: the
text's size, its brackets counted, a line indented past the limit, a walk of a few dozen
containers. Apart from the encoder so that the encoder's module holds its conversions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import orjson

from .._signals import raise_interrupt
from ._held import TO_HOOK

#: Deepest container nesting written as is (serde_json, which Codex reads with, stops at 128).
MAX_DEPTH: Final = 100
PRETTY: Final = orjson.OPT_INDENT_2 | TO_HOOK
#: A pretty line indented past MAX_DEPTH levels: the only way such text can appear (string
#: contents never hold a raw newline), so one C-speed search tells a too-deep payload.
TOO_DEEP_MARK: Final = b"\n" + b" " * (2 * (MAX_DEPTH + 1))
TOO_DEEP_MIN_SIZE: Final = MAX_DEPTH * MAX_DEPTH  # less text cannot hold that indentation
#: Compact text shorter than this cannot nest deeper than MAX_DEPTH (two brackets a level).
COMPACT_TOO_DEEP_MIN_SIZE: Final = 2 * (MAX_DEPTH + 1)
#: Up to this size, counting brackets is the cheaper first test of a compact body; past it,
#: counting (about three times slower per byte than orjson writes) costs more than the walk.
COUNT_UP_TO: Final = 2048
#: Past counting and up to this size, ``ValueEncoder.compact_body`` leaves the depth check
#: to the worker thread (it reads the text back: ~1 ms of the GIL per MB at most); larger
#: bodies are checked on the loop as before, so no single read holds the GIL long.
DEFER_CHECK_UP_TO: Final = 1 << 20
_WALK_CONTAINERS: Final = 64
_LEAVES: Final = frozenset({str, int, float, bool, type(None)})


def nests_too_deep(
    value: Any,
    size: int,
    hook: Callable[[Any], Any],
    interrupted: Callable[[BaseException], None] = raise_interrupt,
) -> bool:
    """Whether ``value`` (whose compact text is ``size`` bytes) holds containers nested more
    than :data:`MAX_DEPTH` deep (where the encoder's slow path cuts).

    orjson writes it again with indentation (``hook`` its ``default``, one that counts
    nothing) and one search looks for a line indented past the limit (as
    ``ValueEncoder.cut_too_deep`` does): at most one more encoding. A body past
    :data:`COUNT_UP_TO` is first walked instead, container by container, which costs nothing
    for the text that makes most long bodies long; past a few dozen containers the walk gives
    up. (orjson's own depth limit is no answer: it does not count every kind of container, a
    dataclass between lists for one, and orjson 3.11 corrupts its heap serialising lists of
    numbers nested 136 deep or more.) ``interrupted`` raises again an interrupt its pass's
    hook met (the encoder's also drops the notes of the pass before, which it follows)."""
    if size > COUNT_UP_TO:
        verdict = _walk_too_deep(value)
        if verdict is not None:
            return verdict
    try:
        pretty = orjson.dumps(value, hook, PRETTY)
    except Exception as exc:  # (TypeError, ValueError, RecursionError, the agent's code's own)
        interrupted(exc)
        return True  # let the slow path decide
    return TOO_DEEP_MARK in pretty


def _walk_too_deep(value: Any) -> bool | None:
    """The verdict of :func:`nests_too_deep` from a walk of dicts, lists and tuples; ``None``
    when the value holds more than :data:`_WALK_CONTAINERS` containers or anything else (a
    dataclass, a model, a set: serialised their own way)."""
    cls = value.__class__
    if cls is not dict and cls is not list and cls is not tuple:
        return None
    stack: list[tuple[Any, int]] = [(value, 1)]
    budget = _WALK_CONTAINERS
    while stack:
        node, level = stack.pop()
        for child in node.values() if node.__class__ is dict else node:
            kind = child.__class__
            if kind is dict or kind is list or kind is tuple:
                if level >= MAX_DEPTH:  # also ends a cycle's walk
                    return True
                budget -= 1
                if not budget:
                    return None
                stack.append((child, level + 1))
            elif kind not in _LEAVES:
                return None
    return False
