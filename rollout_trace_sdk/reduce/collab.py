"""Codex's collab protocol payloads (sub-agent activity, spawn/interaction/close events),
checked the way Codex's serde structs read them: field types, UUID thread ids (in canonical
form afterwards), agent paths, agent statuses, required fields in declaration order; the
collab events given as sequences too, element by element (a sub-agent activity is told by
its ``agent_thread_id`` key, so a sequence never is one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ..model.serde_errors import (
    agent_path_error,
    canonical_thread_id,
    integer_error,
    invalid_type,
    missing_field_text,
    unknown_variant_text,
    uuid_error,
)
from .errors import ReduceError
from .typed_payloads import as_fields, optional_string, string, struct_fields_error


def field(payload: dict[str, Any], name: str, kind: type) -> Any:
    """A field the reducer goes on to use (the struct checks have run)."""
    if name not in payload:
        raise ReduceError(missing_field_text(name))
    value = payload[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ReduceError(invalid_type(value, "a string"))
    return value


@attrs.frozen
class _Struct:
    """One of Codex's collab protocol events, as serde reads it."""

    name: str
    #: every field, in declaration order (how a payload given as a sequence is read)
    fields: tuple[str, ...]
    #: fields with ``#[serde(default)]`` (a sequence may stop before them)
    defaults: tuple[str, ...]

    @property
    def required(self) -> tuple[str, ...]:
        """The fields a map must hold, in declaration order (serde reports the first one
        missing): those without a default that are no ``Option``."""
        return tuple(f for f in self.fields if f not in self.defaults and f not in _OPTIONAL)


#: The collab events' ``Option`` fields (a map may leave them out; a sequence may not).
_OPTIONAL = frozenset(
    {
        "new_thread_id",
        "new_agent_nickname",
        "new_agent_role",
        "receiver_agent_nickname",
        "receiver_agent_role",
    }
)


_STRUCTS: dict[tuple[str, str], _Struct] = {
    ("spawn_agent", "end"): _Struct(
        "CollabAgentSpawnEndEvent",
        (
            "call_id",
            "completed_at_ms",
            "sender_thread_id",
            "new_thread_id",
            "new_agent_nickname",
            "new_agent_role",
            "prompt",
            "model",
            "reasoning_effort",
            "status",
        ),
        ("completed_at_ms", "new_agent_nickname", "new_agent_role"),
    ),
    ("message", "begin"): _Struct(
        "CollabAgentInteractionBeginEvent",
        ("call_id", "started_at_ms", "sender_thread_id", "receiver_thread_id", "prompt"),
        ("started_at_ms",),
    ),
    ("message", "end"): _Struct(
        "CollabAgentInteractionEndEvent",
        (
            "call_id",
            "completed_at_ms",
            "sender_thread_id",
            "receiver_thread_id",
            "receiver_agent_nickname",
            "receiver_agent_role",
            "prompt",
            "status",
        ),
        ("completed_at_ms", "receiver_agent_nickname", "receiver_agent_role"),
    ),
    ("close_agent", "begin"): _Struct(
        "CollabCloseBeginEvent",
        ("call_id", "started_at_ms", "sender_thread_id", "receiver_thread_id"),
        ("started_at_ms",),
    ),
    ("close_agent", "end"): _Struct(
        "CollabCloseEndEvent",
        (
            "call_id",
            "completed_at_ms",
            "sender_thread_id",
            "receiver_thread_id",
            "receiver_agent_nickname",
            "receiver_agent_role",
            "status",
        ),
        ("completed_at_ms", "receiver_agent_nickname", "receiver_agent_role"),
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
        elif key == "reasoning_effort" and value == "":
            raise ReduceError(_EMPTY_EFFORT)
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
                raise ReduceError(unknown_variant_text(value, _ACTIVITY_KINDS))
    for name in required:
        if name not in payload:
            raise ReduceError(missing_field_text(name))


_AGENT_STATUSES = (
    "pending_init",
    "running",
    "interrupted",
    "completed",
    "errored",
    "shutdown",
    "not_found",
)


#: Codex's reasoning effort is any text but the empty one.
_EMPTY_EFFORT = "reasoning_effort must not be empty"

#: serde_json's ``Value::deserialize_enum`` on a map with no key or several.
_NOT_ONE_KEY = "invalid value: map, expected map with a single key"


#: The agent statuses that carry a value: ``Completed(Option<String>)``, ``Errored(String)``.
_NEWTYPE_STATUSES = {"completed": True, "errored": False}  # name -> whether null is allowed


def _status_error(value: Any) -> str | None:
    """An agent status is an externally tagged enum: a variant name (a unit variant), or a
    one-key map (a variant and its value: null for a unit variant, the message of a completed
    or errored agent)."""
    if isinstance(value, dict) and len(value) != 1:
        return _NOT_ONE_KEY
    inner: Any = None
    given = isinstance(value, dict)
    if given:
        ((value, inner),) = value.items()
    elif not isinstance(value, str):
        return invalid_type(value, "string or map")
    if value not in _AGENT_STATUSES:
        return unknown_variant_text(value, _AGENT_STATUSES)
    if value not in _NEWTYPE_STATUSES:
        return None if inner is None else invalid_type(inner, "unit")
    if not given:
        return "invalid type: unit variant, expected newtype variant"
    if isinstance(inner, str) or (inner is None and _NEWTYPE_STATUSES[value]):
        return None
    return invalid_type(inner, "a string")


def collab_payload(payload: Any, kind: str, phase: str) -> dict[str, Any]:
    """A begin or end event of an agent tool (``kind``), checked as Codex reads it: a map
    field by field, a sequence element by element in declaration order (see
    :func:`~.typed_payloads.struct_fields_error`). Returns it as a map, thread ids in
    canonical form."""
    group = kind if kind in ("spawn_agent", "close_agent") else "message"
    struct = _STRUCTS[(group, phase)]
    checks = {name: _FIELD_CHECKS[name] for name in struct.fields}
    problem = struct_fields_error(
        payload,
        struct.name,
        checks,
        struct.required,
        fields=len(struct.fields),
        defaults=struct.defaults,
    )
    if problem is not None:
        raise ReduceError(problem)
    checked: dict[str, Any] = as_fields(payload, struct.fields)
    for key in _THREAD_ID_FIELDS:
        value = checked.get(key)
        if isinstance(value, str):
            checked[key] = canonical_thread_id(value)
    return checked


def _thread_id(value: Any) -> str | None:
    """A ``ThreadId``: a string the uuid crate parses."""
    if not isinstance(value, str):
        return invalid_type(value, "a string")
    return uuid_error(value)


def _optional_thread_id(value: Any) -> str | None:
    return None if value is None else _thread_id(value)


def _i64(value: Any) -> str | None:
    return integer_error(value, 64)


#: Each collab event field's check (its type, as serde reads it from a ``Value``).
_FIELD_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "call_id": string,
    "prompt": string,
    "model": string,
    "reasoning_effort": lambda value: string(value) or (_EMPTY_EFFORT if value == "" else None),
    "started_at_ms": _i64,
    "completed_at_ms": _i64,
    "sender_thread_id": _thread_id,
    "receiver_thread_id": _thread_id,
    "new_thread_id": _optional_thread_id,
    "new_agent_nickname": optional_string,
    "new_agent_role": optional_string,
    "receiver_agent_nickname": optional_string,
    "receiver_agent_role": optional_string,
    "status": lambda value: _status_error(value),
}


# --- delivery items --------------------------------------------------------------------------------
