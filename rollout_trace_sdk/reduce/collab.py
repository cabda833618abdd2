"""Codex's collab protocol payloads (sub-agent activity, spawn/interaction/close events),
checked the way Codex's serde structs read them: field types, UUID thread ids (in canonical
form afterwards), agent paths, agent statuses, required fields in declaration order.
"""

from __future__ import annotations

from typing import Any

from ..model.serde_errors import (
    agent_path_error,
    canonical_thread_id,
    integer_error,
    invalid_type,
    struct_error,
    uuid_error,
)
from .errors import ReduceError


def field(payload: dict[str, Any], name: str, kind: type) -> Any:
    """A field the reducer goes on to use (the struct checks have run)."""
    if name not in payload:
        raise ReduceError(f"missing field `{name}`")
    value = payload[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ReduceError(invalid_type(value, "a string"))
    return value


#: Codex's collab protocol events: struct name, field count, required fields in declaration
#: order (serde reports the first one missing).
_STRUCTS: dict[tuple[str, str], tuple[str, int, tuple[str, ...]]] = {
    ("spawn_agent", "end"): (
        "CollabAgentSpawnEndEvent",
        10,
        ("call_id", "sender_thread_id", "prompt", "model", "reasoning_effort", "status"),
    ),
    ("message", "begin"): (
        "CollabAgentInteractionBeginEvent",
        5,
        ("call_id", "sender_thread_id", "receiver_thread_id", "prompt"),
    ),
    ("message", "end"): (
        "CollabAgentInteractionEndEvent",
        8,
        ("call_id", "sender_thread_id", "receiver_thread_id", "prompt", "status"),
    ),
    ("close_agent", "begin"): (
        "CollabCloseBeginEvent",
        4,
        ("call_id", "sender_thread_id", "receiver_thread_id"),
    ),
    ("close_agent", "end"): (
        "CollabCloseEndEvent",
        7,
        ("call_id", "sender_thread_id", "receiver_thread_id", "status"),
    ),
}
_THREAD_ID_FIELDS = ("sender_thread_id", "receiver_thread_id", "new_thread_id", "agent_thread_id")
_ACTIVITY_KINDS = ("started", "interacted", "interrupted", "completed")
ACTIVITY_FIELDS = ("event_id", "agent_thread_id", "agent_path", "kind")
ACTIVITY_KNOWN = frozenset((*ACTIVITY_FIELDS, "occurred_at_ms", "model", "reasoning_effort"))


def check_fields(payload: dict[str, Any], required: tuple[str, ...], known: frozenset[str]) -> None:
    """Thread ids must be UUIDs, strings strings; then every required field must be there.
    Only the struct's own fields (``known``) are read; other keys are ignored, as serde does."""
    activity = "agent_thread_id" in known
    for key, value in payload.items():
        if key not in known:
            continue
        if key in _THREAD_ID_FIELDS:
            if value is None and key == "new_thread_id":
                continue
            if not isinstance(value, str):
                raise ReduceError(invalid_type(value, "a string"))
            problem = uuid_error(value)
            if problem is not None:
                raise ReduceError(problem)
            payload[key] = canonical_thread_id(value)
        elif key in ("prompt", "call_id", "event_id", "agent_path") and not isinstance(value, str):
            raise ReduceError(invalid_type(value, "a string"))
        elif key == "agent_path" and (problem := agent_path_error(value)) is not None:
            raise ReduceError(problem)
        elif key in ("model", "reasoning_effort") and not isinstance(value, str | None):
            raise ReduceError(invalid_type(value, "a string"))
        elif key in ("occurred_at_ms", "status"):
            problem = integer_error(value, 64) if key == "occurred_at_ms" else _status_error(value)
            if problem is not None:
                raise ReduceError(problem)
        elif key == "kind" and activity:
            if isinstance(value, dict):  # an enum read from a Value: a one-key map names it
                if len(value) != 1:
                    raise ReduceError(_NOT_ONE_KEY)
                ((value, inner),) = value.items()
                if value in _ACTIVITY_KINDS and inner is not None:
                    raise ReduceError(invalid_type(inner, "unit"))
                payload[key] = value
            if not isinstance(value, str):
                raise ReduceError(invalid_type(value, "string or map"))
            if value not in _ACTIVITY_KINDS:
                raise ReduceError(
                    f"unknown variant `{value}`, expected one of "
                    + ", ".join(f"`{k}`" for k in _ACTIVITY_KINDS)
                )
    for name in required:
        if name not in payload:
            raise ReduceError(f"missing field `{name}`")


_AGENT_STATUSES = (
    "pending_init",
    "running",
    "interrupted",
    "completed",
    "errored",
    "shutdown",
    "not_found",
)


#: serde_json's ``Value::deserialize_enum`` on a map with no key or several.
_NOT_ONE_KEY = "invalid value: map, expected map with a single key"


def _status_error(value: Any) -> str | None:
    """An agent status is an externally tagged enum: a variant name, or a one-key map."""
    if isinstance(value, dict) and len(value) != 1:
        return _NOT_ONE_KEY
    if isinstance(value, dict):
        value = next(iter(value))
    elif not isinstance(value, str):
        return invalid_type(value, "string or map")
    if value not in _AGENT_STATUSES:
        return f"unknown variant `{value}`, expected one of " + ", ".join(
            f"`{s}`" for s in _AGENT_STATUSES
        )
    return None


def collab_payload(payload: Any, kind: str, phase: str) -> dict[str, Any]:
    """A begin or end event of an agent tool (``kind``), checked as Codex reads it."""
    group = kind if kind in ("spawn_agent", "close_agent") else "message"
    name, count, required = _STRUCTS[(group, phase)]
    problem = struct_error(payload, name, count)
    if problem is not None:
        raise ReduceError(problem)
    known = {"call_id", "sender_thread_id", "prompt"} if group != "close_agent" else {"call_id"}
    if phase == "end":
        known.add("status")
    known.add("new_thread_id" if group == "spawn_agent" else "receiver_thread_id")
    if group == "close_agent":
        known.add("sender_thread_id")
    checked: dict[str, Any] = payload
    check_fields(checked, required, frozenset(known))
    return checked


# --- delivery items --------------------------------------------------------------------------------
