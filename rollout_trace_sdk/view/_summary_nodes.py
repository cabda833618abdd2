"""How ``summary`` reads the state's nodes: a map's nodes in the order they started, and a
node's execution (status, start order, window, duration) read leniently, a field a damaged
or foreign state lacks or mistypes read as unknown.

Apart from :mod:`.summary` because both its sections and its failures list
(:mod:`._summary_failures`) read nodes this way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_Obj = Mapping[str, Any]


def objects(state: _Obj, key: str) -> list[_Obj]:
    """One state map's objects in the order they started (maps are sorted by id, which for
    UUIDs is no order a reader can follow)."""
    value = state.get(key)
    if not isinstance(value, dict):
        return []
    found: list[_Obj] = [v for v in value.values() if isinstance(v, dict)]
    found.sort(key=started_seq)
    return found


def started_seq(obj: _Obj) -> int:
    execution = obj.get("execution")
    seq = execution.get("started_seq") if isinstance(execution, dict) else None
    return seq if isinstance(seq, int) else 0


def status(obj: _Obj) -> str:
    execution = obj.get("execution")
    value = execution.get("status") if isinstance(execution, dict) else None
    return value if isinstance(value, str) else "running"


def window(obj: _Obj) -> tuple[int | None, int | None]:
    execution = obj.get("execution")
    if not isinstance(execution, dict):
        return None, None
    start, end = execution.get("started_at_unix_ms"), execution.get("ended_at_unix_ms")
    return (start if isinstance(start, int) else None, end if isinstance(end, int) else None)


def duration(obj: _Obj) -> int | None:
    start, end = window(obj)
    return end - start if start is not None and end is not None else None


def so_far(obj: _Obj, known: int | None) -> int | None:
    """While ``obj`` runs in a rollout with no end, its time up to the rollout's last known
    time ``known`` (``show``'s "N so far"); else ``None``."""
    start, end = window(obj)
    return (
        max(known - start, 0) if known is not None and start is not None and end is None else None
    )


def int_of(value: Any) -> int:
    """An integer field, 0 when absent or not an integer (a bool is not one)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
