"""The protocol-event bodies we write keep the keys, and the order, of what Codex writes.

Codex's own payloads come from the schema-2 corpus (pretty JSON files); ours may leave out
fields Codex fills from its session (``duration_ms``, ``permission_profile``, ...), but every
key we write must be one Codex writes, in Codex's order, so the viewer and the reducer read
ours as they read Codex's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from rollout_trace_sdk.record import _codex_protocol as protocol
from tests.conftest import CONFORMANCE, needs_conformance

pytestmark = needs_conformance


def _codex_payloads() -> Iterator[dict[str, Any]]:
    for path in sorted(CONFORMANCE.glob("*/trace-*/payloads/*.json")):
        try:
            body = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(body, dict):
            yield body


def _assert_like_codex(ours: dict[str, Any], match: dict[str, Any]) -> None:
    """Some payload Codex wrote with the fields of ``match`` has ``ours``'s keys in order
    (Codex leaves out a few fields in some of its payloads of one type)."""
    seen: list[str] = []
    for body in _codex_payloads():
        if all(_get(body, key) == value for key, value in match.items()):
            try:
                _assert_keys_in_codex_order(ours, body)
            except AssertionError as exc:
                seen.append(str(exc).splitlines()[0])
            else:
                return
    pytest.fail(f"no payload in {CONFORMANCE} with {match} is like ours: {seen or 'none'}")


def _get(body: dict[str, Any], dotted: str) -> Any:
    value: Any = body
    for key in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _assert_keys_in_codex_order(ours: Any, codex: Any, where: str = "$") -> None:
    if not isinstance(ours, dict):
        return
    assert isinstance(codex, dict), where
    codex_keys = list(codex)
    missing = [key for key in ours if key not in codex]
    assert not missing, f"{where}: keys Codex does not write: {missing}"
    positions = [codex_keys.index(key) for key in ours]
    assert positions == sorted(positions), f"{where}: {list(ours)} vs Codex {codex_keys}"
    for key, value in ours.items():
        _assert_keys_in_codex_order(value, codex[key], f"{where}.{key}")


def test_turn_bodies_follow_codex() -> None:
    _assert_like_codex(protocol.task_started("t", None, 1), {"type": "task_started"})
    _assert_like_codex(protocol.task_complete("t", "hi", None, 1, 2), {"type": "task_complete"})
    _assert_like_codex(protocol.task_complete("t", None, "x", 1, 2), {"type": "task_complete"})
    _assert_like_codex(protocol.turn_aborted("t", 1, 2), {"type": "turn_aborted"})
    _assert_like_codex(protocol.error("boom"), {"type": "error"})
    _assert_like_codex(protocol.shutdown_complete(), {"type": "shutdown_complete"})


def test_a_failed_turns_task_complete_carries_its_error_as_codex_writes_it() -> None:
    """A failed turn's ``task_complete`` says why (``{"error": {"message": ...}}``, as in the
    corpus's failed turns); a completed one has no ``error``. The key-order check above
    passes on a body without the key: with the error left out no test failed (mutation
    audit mut40)."""
    assert protocol.task_complete("t", None, "boom", 1, 2)["error"] == {"message": "boom"}
    assert "error" not in protocol.task_complete("t", "hi", None, 1, 2)


def test_thread_bodies_follow_codex() -> None:
    configured = protocol.session_configured(
        session_id="s",
        thread_id="t",
        parent_thread_id=None,
        model="m",
        provider_name="p",
        approval_policy="never",
        cwd="/",
    )
    _assert_like_codex(configured, {"type": "session_configured"})
    spawned_configured = protocol.session_configured(
        session_id="s",
        thread_id="t",
        parent_thread_id="p",
        model="m",
        provider_name="p",
        approval_policy="never",
        cwd="/",
    )
    _assert_like_codex(spawned_configured, {"type": "session_configured"})
    spawned = protocol.spawned_session("p", 1, "/root/a", "Ada", "worker")
    metadata = protocol.session_metadata(
        thread_id="t",
        agent_path="/root/a",
        task_name="a",
        nickname="Ada",
        role="worker",
        session_source=spawned,
        cwd="/",
        model="m",
        provider_name="p",
        approval_policy="never",
        sandbox_policy="DangerFullAccess",
    )
    _assert_like_codex(metadata, {"session_source.subagent.thread_spawn.depth": 1})
