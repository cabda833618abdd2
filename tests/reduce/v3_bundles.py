"""Editing copies of schema-3 corpus bundles, for probes like those v3.md cites.

A probe copies a bundle of ``../shared/conformance-v3`` into a temporary directory, changes one
thing (an event, a shard record) and reduces it. Tests using this skip when the corpus is absent.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard

from rollout_trace_sdk.model import layout
from tests.conftest import CONFORMANCE_V3

Event = dict[str, Any]


def corpus_bundle(scenario: str) -> Path:
    """The (first) bundle of a schema-3 corpus scenario; skips the test when it is absent."""
    found = sorted((CONFORMANCE_V3 / scenario).glob("trace-*"))
    if not found:
        pytest.skip(f"../shared/conformance-v3/{scenario} is not present")
    return found[0]


def copy_bundle(scenario: str, into: Path) -> Path:
    target = into / "bundle"
    shutil.copytree(corpus_bundle(scenario), target)
    (target / "expected_state.json").unlink()
    return target


def read_events(bundle: Path) -> list[Event]:
    return [orjson.loads(line) for line in (bundle / layout.EVENT_LOG).read_bytes().splitlines()]


def write_events(bundle: Path, events: list[Event]) -> None:
    (bundle / layout.EVENT_LOG).write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))


def edit_events(bundle: Path, edit: Callable[[list[Event]], list[Event] | None]) -> None:
    events = read_events(bundle)
    changed = edit(events)
    write_events(bundle, events if changed is None else changed)


def read_records(shard: Path) -> dict[str, bytes]:
    """A shard's records in file order."""
    data = zstandard.ZstdDecompressor().decompressobj().decompress(shard.read_bytes())
    records: dict[str, bytes] = {}
    offset = 0
    header = layout.SHARD_RECORD_HEADER
    while offset < len(data):
        id_len, body_len = header.unpack_from(data, offset)
        start = offset + header.size
        payload_id = data[start : start + id_len].decode()
        records[payload_id] = data[start + id_len : start + id_len + body_len]
        offset = start + id_len + body_len
    return records


def shard_bytes(records: dict[str, bytes]) -> bytes:
    raw = b"".join(layout.shard_record(pid, body) for pid, body in records.items())
    return zstandard.ZstdCompressor(write_checksum=True).compress(raw)


def edit_shard(
    bundle: Path, number: int, edit: Callable[[dict[str, bytes]], dict[str, bytes] | None]
) -> None:
    path = bundle / layout.shard_path(number)
    records = read_records(path)
    changed = edit(records)
    path.write_bytes(shard_bytes(records if changed is None else changed))


def payload_of(event: Event) -> dict[str, Any]:
    payload: dict[str, Any] = event["payload"]
    return payload
