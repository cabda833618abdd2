"""Shared helpers for the recorder tests: a user message to record, reading bundles back, and
checking that a bundle reduces with Codex (when its binary is available) and with our reducer,
to the same state."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

from rollout_trace_sdk.model import codec
from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.reduce import reduce_bundle, state_bytes
from rollout_trace_sdk.reduce.bundle import Bundle

from ..codex_oracle import codex_bin, codex_reduce


def user_message(text: str) -> dict[str, Any]:
    """A user message item with one text part, as a turn accepts it."""
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def bundle_in(root: Path) -> Path:
    """The one bundle directory a test wrote under ``root``."""
    bundles = sorted(root.glob("trace-*"))
    assert len(bundles) == 1, bundles
    return bundles[0]


def events(bundle: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (bundle / "trace.jsonl").read_bytes().splitlines()]


def types(bundle: Path) -> list[str]:
    return [e["payload"]["type"] for e in events(bundle)]


def of_type(bundle: Path, kind: str) -> list[dict[str, Any]]:
    return [e for e in events(bundle) if e["payload"]["type"] == kind]


def payload(bundle: Path, ref: dict[str, Any] | None) -> Any:
    """The value a payload ref (as an event line holds it) names."""
    return orjson.loads(payload_text(bundle, ref))


def payload_text(bundle: Path, ref: dict[str, Any] | None) -> bytes:
    """The JSON text a payload ref names: a schema-2 file, or a schema-3 shard record with
    its template spliced (read as the reducer reads it)."""
    assert ref is not None
    if "path" in ref:
        return Path(bundle, ref["path"]).read_bytes()
    opened = Bundle.open(bundle)
    try:
        return opened.read_payload_bytes(codec.converter_for(3).structure(ref, ev.RawPayloadRef))
    finally:
        opened.files.close()


_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# (payloads are indented JSON: a space may follow the colon)
_CLOCK = re.compile(rb'"(wall_time_unix_ms|\w+_at|\w+_at_ms)":\s*\d+')


def normalised(text: bytes, seen: dict[bytes, bytes]) -> bytes:
    """``text`` with its times left out and the UUIDs numbered in order of appearance (a
    rollout's ids and clock are its own; everything else must be the same); ``seen`` keeps
    the numbering across the texts of one bundle."""
    text = _CLOCK.sub(rb'"\1":0', text)
    return _UUID.sub(lambda m: seen.setdefault(m[0], b"uuid%d" % len(seen)), text)


def normalised_lines(bundle: Path) -> list[bytes]:
    """The bundle's event lines, each followed by the texts of the payloads it cites, all
    :func:`normalised`: two recordings of the same calls compare equal."""
    seen: dict[bytes, bytes] = {}
    out: list[bytes] = []
    for line, event in zip(
        (bundle / "trace.jsonl").read_bytes().splitlines(), events(bundle), strict=True
    ):
        out.append(normalised(line, seen))
        for value in event["payload"].values():
            if isinstance(value, dict) and "raw_payload_id" in value:
                out.append(normalised(payload_text(bundle, value), seen))
    return out


def schema_of(bundle: Path) -> int:
    """The schema a bundle was written in (its manifest's)."""
    return int(orjson.loads((bundle / "manifest.json").read_bytes())["schema_version"])


def loss_report(bundle: Path) -> str:
    """The loss report's text (a ``warning`` protocol event's payload), or ""."""
    for event in of_type(bundle, "protocol_event_observed"):
        text = payload_text(bundle, event["payload"]["event_payload"]).decode()
        if "rollout_trace_sdk: dropped" in text:
            return text
    return ""


def our_reduce(bundle: Path) -> bytes:
    """Our reducer's state bytes."""
    return state_bytes(reduce_bundle(bundle))


def check_bundle(bundle: Path, tmp: Path | None = None, *, compare: bool = True) -> dict[str, Any]:
    """Reduce ``bundle`` with Codex and with our reducer; both must succeed and (unless
    ``compare`` is false) agree. Returns the reduced state (Codex's when available)."""
    theirs: dict[str, Any] | None = None
    if codex_bin() is not None:
        ok, stderr, theirs = codex_reduce(bundle)
        assert ok, f"codex rejected {bundle}:\n{stderr}"
    mine: dict[str, Any] = orjson.loads(our_reduce(bundle))
    if compare and theirs is not None:
        assert mine == theirs, f"our reducer disagrees with Codex on {bundle}"
    return theirs if theirs is not None else mine


def recorded_whole(state: dict[str, Any]) -> bool:
    """Whether the reduced state says the recording closed with nothing cut: schema 2's
    ``recording_complete``, schema 3's ``recording_status``."""
    if "recording_status" in state:
        return bool(state["recording_status"] == "complete")
    return state["recording_complete"] is True


def cut_off_status(bundle: Path) -> str:
    """How a tool call cut off by cancellation ends: ``aborted`` in schema 3 (as Codex 0.171
    records it), ``cancelled`` in schema 2."""
    return "aborted" if schema_of(bundle) == 3 else "cancelled"
