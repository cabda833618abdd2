"""Capture limits put on a real schema-3 bundle after the fact: one payload's string value cut
out of its body into a ``content_value`` part, as Codex 0.171 writes a payload under
``rollout_trace.max_payload_bytes`` (the body becomes a template, the part is kept, truncated
or left out), or one payload marked cut or left out whole (``rollout_trace.max_bytes``), at
every reference to it so that they stay identical; now and then at one reference only, which
Codex refuses as conflicting. A mutation of :func:`tests.mutants.json_mutate`, and what the
probes of the readers that refuse a partial template start from.

The corpus holds capture metadata in two bundles only, and there only where Codex's limits
happened to fall; this puts it on any payload of any bundle."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import orjson

from rollout_trace_sdk.model import layout
from tests.reduce.v3_bundles import read_records, shard_bytes

#: a JSON string in a body (a key is one followed by a colon)
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def refs_of(value: Any) -> list[dict[str, Any]]:
    """Every payload reference in a parsed line, template parts included, outermost first."""
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        if isinstance(value.get("raw_payload_id"), str):
            found.append(value)
        for item in value.values():
            found += refs_of(item)
    elif isinstance(value, list):
        for item in value:
            found += refs_of(item)
    return found


def _next_id(events: list[Any]) -> str:
    numbers = [
        int(ref["raw_payload_id"].rpartition(":")[2])
        for event in events
        for ref in refs_of(event)
        if ref["raw_payload_id"].rpartition(":")[2].isdigit()
    ]
    return layout.raw_payload_id(max(numbers, default=0) + 1)


def cut_part(
    bundle: Path,
    rng: random.Random,
    target: str | None = None,
    how: str | None = None,
    *,
    only_first: bool | None = None,
) -> str:
    """Cut a payload of ``bundle`` (``target``, else one drawn among the stored plain ones):
    ``how`` is ``part-kept``, ``part-truncated``, ``part-omitted`` (a string value of it made
    a template part), ``omitted`` or ``truncated`` (the whole payload), else drawn;
    ``only_first``: change its first reference only (else drawn, 10%). Returns what was
    done."""
    log = bundle / layout.EVENT_LOG
    events = [orjson.loads(line) for line in log.read_bytes().splitlines()]
    stored = sorted(
        {
            ref["raw_payload_id"]: ref
            for event in events
            for ref in refs_of(event)
            if isinstance(ref.get("shard"), int) and "capture" not in ref and not ref.get("parts")
        }.items()
    )
    if target is None:
        if not stored:
            return "nothing to edit"
        target = rng.choice(stored)[0]
    ref = dict(stored).get(target)
    if ref is None:
        return "nothing to edit"
    shard = bundle / layout.shard_path(ref["shard"])
    records = read_records(shard)
    body = records.get(target)
    if body is None:
        return "nothing to edit"
    how = how or rng.choice(
        ["part-omitted", "part-omitted", "part-truncated", "part-kept", "omitted", "truncated"]
    )
    changed: dict[str, Any] = {"raw_payload_id": target, "kind": ref["kind"]}
    done = f"{target} ({ref['kind'].get('type')}) {how}"
    if how == "omitted":
        changed.update(shard=None, capture={"status": "omitted", "original_bytes": len(body)})
    elif how == "truncated":
        kept = rng.randrange(len(body))
        records[target] = body[:kept]
        changed["shard"] = ref["shard"]
        changed["capture"] = {"status": "truncated", "original_bytes": len(body)}
        changed["capture"]["retained_bytes"] = kept
    else:
        strings = [s for s in _STRING.finditer(body) if body[s.end() :].lstrip()[:1] != b":"]
        if not strings:
            return "nothing to edit"
        found = rng.choice(strings)
        token = found.group()
        part: dict[str, Any] = {"raw_payload_id": _next_id(events)}
        part.update(kind={"type": "content_value"}, shard=ref["shard"])
        if how == "part-omitted":
            part.update(shard=None, capture={"status": "omitted", "original_bytes": len(token)})
        elif how == "part-truncated":
            kept = rng.randrange(len(token))
            records[part["raw_payload_id"]] = token[:kept]
            part["capture"] = {"status": "truncated", "original_bytes": len(token)}
            part["capture"]["retained_bytes"] = kept
        else:
            records[part["raw_payload_id"]] = token
        fragments = [body[: found.start()].decode(), body[found.end() :].decode()]
        records[target] = orjson.dumps(fragments)
        changed.update(shard=ref["shard"], parts=[part])
        done += f" at byte {found.start()}: {token[:40]!r}"
    shard.write_bytes(shard_bytes(records))
    only_first = rng.random() < 0.1 if only_first is None else only_first
    edited = 0
    for event in events:
        for found_ref in refs_of(event):
            if found_ref["raw_payload_id"] == target and not (only_first and edited):
                found_ref.clear()
                found_ref.update(changed)
                edited += 1
    log.write_bytes(b"".join(orjson.dumps(event) + b"\n" for event in events))
    return f"{done} (at its first reference only)" if only_first else done
