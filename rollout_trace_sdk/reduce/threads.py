"""Rollout, thread and Codex-turn lifecycle."""

from __future__ import annotations

from typing import Any, Literal

from ..model import state as st
from ..model.events import (
    CodexTurnEnded,
    CodexTurnStarted,
    RawPayloadRef,
    RolloutEnded,
    RolloutStarted,
    ThreadEnded,
    ThreadResumed,
    ThreadStarted,
    TraceEvent,
)
from ..model.serde_errors import invalid_type, struct_error
from . import code_cells, inference, terminals
from .context import ReplayContext
from .errors import ReduceError
from .typed_payloads import as_fields, optional_string, struct_fields_error

#: ThreadStartedMetadata's string fields, in declaration order (then ``session_source``, any
#: JSON): a metadata payload given as a sequence is read field by field in this order.
_METADATA_STRINGS = ("agent_path", "task_name", "nickname", "agent_role", "model")
_METADATA_FIELDS = (*_METADATA_STRINGS, "session_source")
_METADATA_CHECKS = {
    **dict.fromkeys(_METADATA_STRINGS, optional_string),
    "session_source": lambda value: None,
}


def rollout_started(replay: ReplayContext, started: RolloutStarted) -> None:
    replay.trace.trace_id = started.trace_id
    replay.trace.root_thread_id = started.root_thread_id


def rollout_ended(replay: ReplayContext, event: TraceEvent, ended: RolloutEnded) -> None:
    replay.trace.status = ended.status
    replay.trace.ended_at_unix_ms = event.wall_time_unix_ms


def _metadata(replay: ReplayContext, ref: RawPayloadRef) -> dict[str, Any] | None:
    found, value = replay.load_optional(ref)
    if not found:
        return None
    error = f"parse thread metadata {ref.raw_payload_id}"
    if isinstance(value, list):  # read field by field, in declaration order
        problem = struct_fields_error(
            value, "ThreadStartedMetadata", _METADATA_CHECKS, (), fields=6
        )
        if problem is not None:
            raise ReduceError(error, cause=problem)
        value = as_fields(value, _METADATA_FIELDS)
    problem = struct_error(value, "ThreadStartedMetadata", 6)
    if problem is not None:
        raise ReduceError(error, cause=problem)
    for name in _METADATA_STRINGS:
        field = value.get(name)
        if field is not None and not isinstance(field, str):
            raise ReduceError(error, cause=invalid_type(field, "a string"))
    metadata: dict[str, Any] = value
    return metadata


def _str(obj: dict[str, Any], name: str) -> str | None:
    value = obj.get(name)
    return value if isinstance(value, str) else None


def _first(*values: str | None) -> str | None:
    """The first value that is present (an empty string counts: Codex uses it as given)."""
    for value in values:
        if value is not None:
            return value
    return None


def _last_segment(path: str | None) -> str | None:
    if path is None:
        return None
    return path.rstrip("/").rsplit("/", 1)[-1] or None


def thread_started(replay: ReplayContext, event: TraceEvent, started: ThreadStarted) -> None:
    thread_id = started.thread_id
    if thread_id in replay.trace.threads:
        raise ReduceError(f"duplicate thread start for {thread_id}")
    metadata: dict[str, Any] = {}
    if started.metadata_payload is not None:
        metadata = _metadata(replay, started.metadata_payload) or {}
    spawn: dict[str, Any] | None = None
    source = metadata.get("session_source")
    if isinstance(source, dict):
        subagent = source.get("subagent")
        if isinstance(subagent, dict):
            candidate = subagent.get("thread_spawn")
            if isinstance(candidate, dict) and isinstance(candidate.get("parent_thread_id"), str):
                spawn = candidate
    agent_path = started.agent_path
    origin: st.SpawnedOrigin | Literal["unknown"] | None = None
    if started.metadata_payload is not None and not started.metadata_payload.available:
        # 0.171, metadata cut or omitted (a null one means root): the rollout's own thread
        # (its id is the rollout id) is still the root, any other's origin is unknown
        origin = None if thread_id == replay.trace.rollout_id else "unknown"
    elif spawn is not None:
        spawn_path = _str(spawn, "agent_path")
        chosen = _first(spawn_path, _str(metadata, "agent_path"))
        agent_path = agent_path if chosen is None else chosen
        task_name = _first(
            _str(spawn, "task_name"),
            _str(metadata, "task_name"),
            _last_segment(spawn_path),
            _last_segment(agent_path),
            "",
        )
        agent_role = _first(_str(spawn, "agent_role"), _str(metadata, "agent_role"), "")
        parent = spawn["parent_thread_id"]
        origin = st.SpawnedOrigin(
            parent, f"edge:spawn:{parent}:{thread_id}", task_name or "", agent_role or ""
        )
    else:
        given = _str(metadata, "agent_path")
        agent_path = agent_path if given is None else given
    replay.trace.threads[thread_id] = st.AgentThread(
        thread_id=thread_id,
        agent_path=agent_path,
        nickname=_str(metadata, "nickname"),
        origin=origin,
        execution=st.ExecutionWindow(event.wall_time_unix_ms, event.seq),
        default_model=_str(metadata, "model"),
    )


def thread_ended(replay: ReplayContext, event: TraceEvent, ended: ThreadEnded) -> None:
    thread = replay.thread(ended.thread_id)
    thread.execution.end(event.wall_time_unix_ms, event.seq, ended.status)


def thread_resumed(replay: ReplayContext, resumed: ThreadResumed) -> None:
    thread = replay.trace.threads.get(resumed.thread_id)
    if thread is None:
        raise ReduceError(
            f"cannot resume thread {resumed.thread_id}: it was not started in this trace; "
            "resuming threads from an earlier trace is not supported",
            cause=f"trace event referenced unknown thread {resumed.thread_id}",
        )
    if thread.execution.ended_at_unix_ms is None:
        raise ReduceError(f"resumed thread {resumed.thread_id} has not ended")
    thread.execution.ended_at_unix_ms = None
    thread.execution.ended_seq = None
    thread.execution.status = "running"
    # A resumed thread runs in a new runtime: Codex forgets which code cell each runtime cell
    # id named and which session each process id named (its history and snapshots it keeps).
    code_cells.forget_runtime_cells(replay, resumed.thread_id)
    terminals.forget_processes(replay, resumed.thread_id)


def turn_started(replay: ReplayContext, event: TraceEvent, started: CodexTurnStarted) -> None:
    turn_id = started.codex_turn_id
    if turn_id in replay.trace.codex_turns:
        raise ReduceError(f"duplicate codex turn start for {turn_id}")
    replay.thread(started.thread_id)
    replay.trace.codex_turns[turn_id] = st.CodexTurn(
        codex_turn_id=turn_id,
        thread_id=started.thread_id,
        execution=st.ExecutionWindow(event.wall_time_unix_ms, event.seq),
    )


def turn_ended(replay: ReplayContext, event: TraceEvent, ended: CodexTurnEnded) -> None:
    turn_id = ended.codex_turn_id
    turn = replay.turn(turn_id)
    if turn is None:
        raise ReduceError(f"codex turn end referenced unknown turn {turn_id}")
    if event.thread_id is not None and event.thread_id != turn.thread_id:
        raise ReduceError(
            f"codex turn end for {turn_id} used thread {event.thread_id}, but the turn "
            f"belongs to {turn.thread_id}"
        )
    at, seq = event.wall_time_unix_ms, event.seq
    turn.execution.end(at, seq, ended.status)
    code_cells.close_for_turn_end(replay, turn_id, ended.status, at, seq)
    inference.close_for_turn_end(replay, turn_id, ended.status, at, seq)
