"""``state.json`` bytes in pieces: the same bytes as one ``orjson`` pretty dump of
``RolloutTrace.to_json()``, without ever holding the whole state as plain values nor as one
bytes object.

A large rollout's state is tens of megabytes of JSON; building it as one dict tree and then as
one string doubled the reducer's peak memory. Here each top-level map is written a batch of
entries at a time: the batch is dumped with 2-space indentation and re-indented one level,
which is exact because pretty JSON never has a newline inside a string (serde and orjson
escape it) and every nested line gains the same two spaces.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any, Final

import orjson

if TYPE_CHECKING:
    from .state import RolloutTrace

#: Map entries dumped together: large enough that orjson's per-call cost vanishes, small enough
#: that their plain-value form stays a few hundred kilobytes.
_BATCH: Final = 256
_PRETTY: Final = orjson.OPT_INDENT_2


def state_chunks(trace: RolloutTrace) -> Iterator[bytes]:
    """The bytes ``codex debug trace-reduce`` writes (2-space pretty JSON, no trailing newline),
    in pieces whose concatenation is :func:`~rollout_trace_sdk.model.state.state_bytes`.

    Args:
        trace: a reduced state.

    Returns:
        An iterator of byte strings to write one after another.
    """
    yield b"{"
    first = True
    for name, value, entries in trace.json_fields():
        yield b'\n  "' if first else b',\n  "'
        first = False
        yield name.encode() + b'": '
        if entries is None:
            yield orjson.dumps(value, option=_PRETTY).replace(b"\n", b"\n  ")
        else:
            yield from _map_chunks(entries)
    yield b"\n}"


def _map_chunks(entries: Iterator[tuple[str, Any]]) -> Iterator[bytes]:
    """A map one level down (``{`` ... ``  }``), a batch of entries per dump."""
    batch = dict(islice(entries, _BATCH))
    if not batch:
        yield b"{}"
        return
    yield b"{\n"
    separator = b""
    while batch:
        dumped = orjson.dumps(batch, option=_PRETTY)
        # b'{\n  "k": v,\n  ...\n}' -> the entries' lines, indented by two more spaces
        yield separator + b"  " + dumped[2:-2].replace(b"\n", b"\n  ")
        separator = b",\n"
        batch = dict(islice(entries, _BATCH))
    yield b"\n  }"
