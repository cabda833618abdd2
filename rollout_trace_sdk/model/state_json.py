"""``state.json`` bytes in pieces, and the state's top-level keys as plain values (what
``RolloutTrace.to_json()`` builds whole): the same bytes as one ``orjson`` pretty dump of it,
without ever holding the whole state as plain values nor as one bytes object.

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

import attrs
import orjson

from .events import SCHEMA_VERSION_V3, RawPayloadRef
from .payload_refs import ref_to_dict_v3

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
    for name, value, entries in state_fields(trace):
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


def state_fields(
    trace: RolloutTrace,
) -> Iterator[tuple[str, Any, Iterator[tuple[str, Any]] | None]]:
    """The state's top-level keys in Codex's order, one at a time.

    Schema 3 replaces ``recording_complete`` with ``recording_status`` and writes references
    with ``shard`` (and ``capture``/``parts``) instead of ``path``.

    Args:
        trace: a reduced state.

    Returns:
        ``(key, value, None)`` per plain key; for the maps of objects ``(key, None, entries)``,
        where ``entries`` yields ``(id, plain JSON)`` sorted by id, so a writer need not hold
        them all.
    """
    v3 = trace.schema_version == SCHEMA_VERSION_V3
    for field in attrs.fields(type(trace)):
        if field.metadata.get("written") is False:
            continue
        name = field.name
        value = getattr(trace, name)
        if name == "recording_complete" and v3:
            yield "recording_status", trace.recording_status, None
        elif name == "raw_payloads":
            yield name, None, _payload_entries(value, v3)
        elif isinstance(value, dict):
            yield name, None, _sorted_entries(value)
        else:
            yield name, value, None


def _sorted_entries(objects: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    # Python's str ordering is by code point, which equals Rust's byte-wise BTreeMap order
    # for UTF-8 strings.
    for key in sorted(objects):
        yield key, objects[key].to_json()


def _payload_entries(refs: dict[str, RawPayloadRef], v3: bool) -> Iterator[tuple[str, Any]]:
    for key in sorted(refs):
        ref = refs[key]
        if v3:
            yield key, ref_to_dict_v3(ref)
            continue
        yield (
            key,
            {"raw_payload_id": ref.raw_payload_id, "kind": {"type": ref.kind}, "path": ref.path},
        )
