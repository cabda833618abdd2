"""Shared helpers for the recorder tests: reading bundles back, and checking that a bundle
reduces with Codex (when its binary is available) and with our reducer, to the same state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from rollout_trace_sdk.reduce import reduce_bundle, state_bytes

from ..codex_oracle import codex_bin, codex_reduce


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
    assert ref is not None
    return orjson.loads((bundle / ref["path"]).read_bytes())


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
