"""The bodies of the protocol events Codex emits when a thread or turn starts and ends.

Codex records these alongside its trace events (``protocol_event_observed``); its reducer
reads a few of their fields (a turn's ``last_agent_message``, a failed turn's error) and the
viewer reads the rest. Their shapes live here, apart from the handles that decide *when* they
are written, so that a change in what Codex writes is one edit.
"""

from __future__ import annotations

from typing import Any

#: Codex's ``session_source`` for a thread the user started with ``codex exec``
EXEC_SESSION: str = "exec"


def session_metadata(
    *,
    thread_id: str,
    agent_path: str,
    task_name: str | None,
    nickname: str | None,
    role: str | None,
    session_source: Any,
    cwd: str,
    model: str,
    provider_name: str,
    approval_policy: Any,
    sandbox_policy: Any,
) -> dict[str, Any]:
    """The ``session_metadata`` payload a ``thread_started`` event cites."""
    return {
        "thread_id": thread_id,
        "agent_path": agent_path,
        "task_name": task_name,
        "nickname": nickname,
        "agent_role": role,
        "session_source": session_source,
        "cwd": cwd,
        "rollout_path": None,
        "model": model,
        "provider_name": provider_name,
        "approval_policy": approval_policy,
        "sandbox_policy": sandbox_policy,
    }


def spawned_session(
    parent_thread_id: str, depth: int, agent_path: str, nickname: str | None, role: str | None
) -> dict[str, Any]:
    """A spawned thread's ``session_source``: who spawned it, and how deep it sits."""
    return {
        "subagent": {
            "thread_spawn": {
                "parent_thread_id": parent_thread_id,
                "depth": depth,
                "agent_path": agent_path,
                "agent_nickname": nickname,
                "agent_role": role,
            }
        }
    }


def session_configured(
    *,
    session_id: str,
    thread_id: str,
    parent_thread_id: str | None,
    model: str,
    provider_name: str,
    approval_policy: Any,
    cwd: str,
) -> dict[str, Any]:
    """``session_configured``, the first protocol event of every thread (in Codex's key
    order: a spawned thread's ``parent_thread_id`` comes right after its own id)."""
    body: dict[str, Any] = {
        "type": "session_configured",
        "session_id": session_id,
        "thread_id": thread_id,
    }
    if parent_thread_id is not None:
        body["parent_thread_id"] = parent_thread_id
    body.update(
        thread_source="user" if parent_thread_id is None else "subagent",
        model=model,
        model_provider_id=provider_name,
        approval_policy=approval_policy,
        cwd=cwd,
    )
    return body


def task_started(turn_id: str, initiating_agent_path: str | None, started_s: int) -> dict[str, Any]:
    """``task_started`` (recorded as ``turn_started``): a turn begins.

    Args:
        turn_id: the turn.
        initiating_agent_path: the parent agent's path for a spawned thread's turn.
        started_s: the start, in whole seconds since the epoch.
    """
    return {
        "type": "task_started",
        "turn_attribution": {
            "turn_id": turn_id,
            "turn_trigger": "exec",
            "parent_turn_id": None,
            "initiating_agent_path": initiating_agent_path,
            "root_turn_id": turn_id,
        },
        "turn_id": turn_id,
        "root_turn_id": turn_id,
        "started_at": started_s,
        "model_context_window": None,
        "collaboration_mode_kind": "default",
    }


def turn_aborted(turn_id: str, started_s: int, done_s: int) -> dict[str, Any]:
    """``turn_aborted``: how Codex closes a cancelled (interrupted) turn."""
    return {
        "type": "turn_aborted",
        "root_turn_id": turn_id,
        "turn_id": turn_id,
        "reason": "interrupted",
        "started_at": started_s,
        "completed_at": done_s,
    }


def task_complete(
    turn_id: str, last_agent_message: str | None, error: str | None, started_s: int, done_s: int
) -> dict[str, Any]:
    """``task_complete`` (recorded as ``turn_complete``): how Codex closes a turn that
    completed or failed; a failed one carries its ``error`` before the times."""
    body: dict[str, Any] = {
        "type": "task_complete",
        "root_turn_id": turn_id,
        "turn_id": turn_id,
        "last_agent_message": last_agent_message,
    }
    if error is not None:
        body["error"] = {"message": error}
    body.update(started_at=started_s, completed_at=done_s)
    return body


def error(message: str) -> dict[str, Any]:
    """``error``: what Codex reports just before a failed turn ends."""
    return {"type": "error", "message": message}


def shutdown_complete() -> dict[str, Any]:
    """``shutdown_complete``: a thread's last protocol event, just before it ends."""
    return {"type": "shutdown_complete"}
