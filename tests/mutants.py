"""Edits that keep a bundle's JSON well formed but change what it says: a key dropped or
renamed, a value of another type, a value another line gives the same key (an id of another
thread, a status of another event), in a log line, the manifest, a schema-2 payload file or a
schema-3 record inside its shard; or an event moved elsewhere, seqs renumbered; an event's
thread and turn ids both taken from another line; one stored payload's body put in place of
another's (a payload file, or a record of a shard); a template's part pointed at another
stored payload, dropped, or two parts swapped; in schema 3, a payload cut by capture limits
after the fact (``tests/cut_parts.py``: a string of it a part kept, cut or left out, or the
whole payload cut or left out). With
:func:`tests.hostile.mutate` (damage to the bytes) these drive the mutation differential
against Codex."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import zstandard

from tests.cut_parts import cut_part
from tests.reduce.v3_bundles import read_records, shard_bytes

#: What a value may become: every JSON type, numbers serde_json keeps as text included.
VALUES: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    1.5,
    "",
    "x",
    [],
    {},
    2**62,
    "mystery",
    [1],
    {"a": 1},
)

_Path = tuple[str | int, ...]


def _paths(value: Any, at: _Path = ()) -> Iterator[_Path]:
    yield at
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*at, index))


def _get(value: Any, path: _Path) -> Any:
    for step in path:
        value = value[step]
    return value


def _move_line(log: Path, rng: random.Random) -> str:
    """Move one event to another place, copy it there, or drop it, the seqs renumbered in file
    order (so the log stays ordered and only what the events mean there is wrong: an event
    out of its place, one recorded twice, one missing)."""
    events = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    if len(events) < 2:
        return "nothing to edit"
    op = rng.choice(["move", "move", "copy", "drop"])
    source = rng.randrange(len(events))
    moved = events[source] if op == "copy" else events.pop(source)
    target = rng.randrange(len(events) + 1)
    if op != "drop":
        events.insert(target, dict(moved) if isinstance(moved, dict) else moved)
    for seq, event in enumerate(events, start=1):
        if isinstance(event, dict):
            event["seq"] = seq
    log.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    if op == "drop":
        return f"drop trace.jsonl line {source + 1}"
    return f"{op} trace.jsonl line {source + 1} to {target + 1}"


def _edit_record(shard: Path, rng: random.Random) -> str:
    """Change one value, key or member of a schema-3 record's JSON, inside its shard."""
    records = read_records(shard)
    payload_id = rng.choice(sorted(records))
    try:
        doc = orjson.loads(records[payload_id])
    except orjson.JSONDecodeError:
        return "nothing to edit"
    done = _edit(doc, rng, [])
    records[payload_id] = orjson.dumps(doc)
    shard.write_bytes(shard_bytes(records))
    return f"{done} in {shard.name} record {payload_id}"


def _swap_context(log: Path, rng: random.Random) -> str:
    """Give one event the thread id and turn id of another line, together (an event filed
    under another thread's turn, rather than one id of a pair changed alone)."""
    lines = log.read_bytes().splitlines()
    events = [orjson.loads(line) for line in lines]
    pairs = sorted(
        {
            (e.get("thread_id"), e.get("codex_turn_id"))
            for e in events
            if isinstance(e, dict) and ("thread_id" in e or "codex_turn_id" in e)
        },
        key=repr,
    )
    index = rng.randrange(len(events))
    event = events[index]
    if not isinstance(event, dict):
        return "nothing to edit"
    mine = (event.get("thread_id"), event.get("codex_turn_id"))
    others = [pair for pair in pairs if pair != mine]
    if not others:
        return "nothing to edit"
    thread_id, turn_id = rng.choice(others)
    for key, value in (("thread_id", thread_id), ("codex_turn_id", turn_id)):
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    lines[index] = orjson.dumps(event)
    log.write_bytes(b"\n".join(lines) + b"\n")
    return f"context of line {index + 1} set to {thread_id}/{turn_id}"


def _substitute_payload(bundle: Path, rng: random.Random) -> str:
    """Put one stored payload's body in place of another's: a schema-2 payload file over
    another, or a schema-3 record's body over another record's (any shards)."""
    payloads = bundle / "payloads"
    shards = sorted(payloads.glob("*.zst"))
    if shards:
        bodies = {
            (shard, payload_id): body
            for shard in shards
            for payload_id, body in read_records(shard).items()
        }
        if len(bodies) < 2:
            return "nothing to edit"
        (shard, target), source = rng.sample(sorted(bodies), 2)
        records = read_records(shard)
        records[target] = bodies[source]
        shard.write_bytes(shard_bytes(records))
        return f"record {target} in {shard.name} given the body of {source[1]}"
    files = sorted(payloads.glob("*.json"))
    if len(files) < 2:
        return "nothing to edit"
    target_file, source_file = rng.sample(files, 2)
    target_file.write_bytes(source_file.read_bytes())
    return f"{target_file.name} given the body of {source_file.name}"


def _crash_cut(bundle: Path, rng: random.Random) -> str:
    """What a crash or a full disk leaves: the log cut after a line (or only its closing line
    gone), and in schema 3 maybe one shard cut short or left with a frame begun but not
    finished (unsealed)."""
    log = bundle / "trace.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    keep = len(lines) - 1 if rng.random() < 0.5 else rng.randrange(1, len(lines) + 1)
    log.write_bytes(b"".join(lines[:keep]))
    done = f"log cut after line {keep} of {len(lines)}"
    shards = sorted((bundle / "payloads").glob("*.zst"))
    if shards and rng.random() < 0.7:
        shard = rng.choice(shards)
        data = shard.read_bytes()
        if rng.random() < 0.5:
            begun = zstandard.ZstdCompressor(write_checksum=True).compress(b"x" * 64)
            shard.write_bytes(data + begun[: rng.randrange(1, len(begun))])
            done += f"; {shard.name} unsealed"
        else:
            cut = rng.randrange(len(data) + 1)
            shard.write_bytes(data[:cut])
            done += f"; {shard.name} cut at {cut} of {len(data)}"
    return done


def _refs(value: Any) -> Iterator[dict[str, Any]]:
    """Every payload reference in a parsed line (a map with a ``raw_payload_id``)."""
    if isinstance(value, dict):
        if isinstance(value.get("raw_payload_id"), str):
            yield value
        for item in value.values():
            yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _repoint_part(log: Path, rng: random.Random) -> str:
    """Change a schema-3 template's parts in its event line: one part pointed at another
    stored payload (its whole reference, or only its id), one dropped, or two swapped."""
    lines = log.read_bytes().splitlines()
    events = [orjson.loads(line) for line in lines]
    every = [ref for event in events for ref in _refs(event)]
    templates = [
        (index, ref)
        for index, event in enumerate(events)
        for ref in _refs(event)
        if isinstance(ref.get("parts"), list) and ref["parts"]
    ]
    if not templates:
        return "nothing to edit"
    index, ref = rng.choice(templates)
    parts = ref["parts"]
    at = rng.randrange(len(parts))
    op = rng.choice(["ref", "id", "drop", "swap"])
    if op == "drop":
        del parts[at]
    elif op == "swap" and len(parts) > 1:
        other = rng.choice([k for k in range(len(parts)) if k != at])
        parts[at], parts[other] = parts[other], parts[at]
    elif op == "id" and isinstance(parts[at], dict):
        parts[at]["raw_payload_id"] = rng.choice(every)["raw_payload_id"]
    else:
        op = "ref"
        parts[at] = orjson.loads(orjson.dumps(rng.choice(every)))
    lines[index] = orjson.dumps(events[index])
    log.write_bytes(b"\n".join(lines) + b"\n")
    return f"{op} part {at} of {ref['raw_payload_id']} on line {index + 1}"


def _edit(doc: Any, rng: random.Random, lines: list[bytes]) -> str:
    """Change one value, key or member of ``doc`` in place (``lines``: the log's lines, for
    a value another line gives the same key)."""
    paths = [p for p in _paths(doc) if p]
    if not paths:
        return "nothing to edit"
    path = rng.choice(paths)
    parent, key = _get(doc, path[:-1]), path[-1]
    op = rng.choice(["del", "set", "set", "same_key", "rename"])
    if op == "del" and isinstance(parent, dict):
        del parent[key]
    elif op == "rename" and isinstance(parent, dict):
        parent[f"{key}_x"] = parent.pop(key)
    elif op == "same_key" and lines:
        others = [
            _get(other, p)
            for line in lines
            for other in [orjson.loads(line)]
            for p in _paths(other)
            if p and p[-1] == key and _get(other, p) != parent[key]
        ]
        if not others:
            return "nothing to edit"
        parent[key] = rng.choice(others)
    else:
        op = "set"
        parent[key] = rng.choice(VALUES)
    return f"{op} at {'/'.join(map(str, path))}"


def json_mutate(bundle: Path, rng: random.Random) -> str:
    """Change one value, key or member of a line of ``trace.jsonl`` (most often), of the
    manifest, of a schema-2 payload file or of a schema-3 record; or move one event
    elsewhere, refile one under another thread and turn, substitute one stored body for
    another, change a template's parts, cut the bundle as a crash would, or (schema 3) put
    capture limits on a payload. Returns what was done."""
    log = bundle / "trace.jsonl"
    shards = sorted((bundle / "payloads").glob("*.zst"))
    # drawn apart (without drawing from ``rng``), so each seed's other mutants stay as they were
    apart = random.Random(repr(rng.getstate()))
    if shards and apart.random() < 0.08:
        return cut_part(bundle, apart)
    draw = rng.random()
    if draw < 0.1:
        return _move_line(log, rng)
    if draw < 0.15:
        return _swap_context(log, rng)
    if draw < 0.2:
        return _substitute_payload(bundle, rng)
    if draw < 0.23:
        return _crash_cut(bundle, rng)
    if shards and draw < 0.27:
        return _repoint_part(log, rng)
    if shards and rng.random() < 0.25:
        return _edit_record(rng.choice(shards), rng)
    files = [log] * 6 + [bundle / "manifest.json"]
    files += sorted((bundle / "payloads").glob("*.json"))
    target = rng.choice(files)
    lines = target.read_bytes().splitlines() if target.name == "trace.jsonl" else []
    index = rng.randrange(len(lines)) if lines else 0
    doc = orjson.loads(lines[index] if lines else target.read_bytes())
    done = _edit(doc, rng, lines)
    if done == "nothing to edit":
        return done
    if lines:
        lines[index] = orjson.dumps(doc)
        target.write_bytes(b"\n".join(lines) + b"\n")
        where = f"trace.jsonl line {index + 1}"
    else:
        pretty = target.parent.name == "payloads" or target.name == "manifest.json"
        target.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2 if pretty else 0))
        where = str(target.relative_to(bundle))
    return f"{done} in {where}"
