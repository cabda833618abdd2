"""``view/agent_tools.py``: an ``agents_sdk_agent_tool`` event links a thread spawned with no
spawn edge to its parent's tool call; a link naming a call of another thread or one the state
does not have is left out, and a thread that has its spawn edge keeps it. The real Agents SDK
run is in tests/integrations/agents_sdk/test_agent_tools.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.view.agent_tools import EVENT, KEY
from rollout_trace_sdk.view.load import load_state


async def _record(root: Path) -> tuple[Path, dict[str, str]]:
    async with open_rollout(root, model="m") as rollout, rollout.root.turn() as turn:
        caller = rollout.root
        ids: dict[str, str] = {}
        for name in ("linked", "elsewhere", "unknown"):
            call = turn.tool_call(f"call_{name}", name)
            child = caller.spawn(name)
            ids[name] = child.thread_id
            target = {"linked": call.tool_call_id, "elsewhere": "call_x", "unknown": "nope"}
            caller.protocol_event(
                EVENT, {"tool_call_id": target[name], "thread_id": child.thread_id}
            )
            async with child.turn():
                pass
            child.end()
            call.completed(None)
        # a thread its spawn_agent call's edge links keeps that call, whatever a link names
        spawn = turn.tool_call(
            "call_spawn", "spawn_agent", arguments={"task_name": "sub", "message": "go"}
        )
        sub = spawn.spawn_agent("sub")
        ids["sub"] = sub.thread_id
        caller.protocol_event(EVENT, {"tool_call_id": "call_linked", "thread_id": sub.thread_id})
        spawn.completed(None)
        sub.end()
    assert rollout.bundle_dir is not None
    return rollout.bundle_dir, ids


def test_a_link_reaches_its_thread_only_through_the_parents_call(tmp_path: Path) -> None:
    bundle, ids = anyio.run(_record, tmp_path)
    threads: dict[str, Any] = load_state(bundle)["threads"]
    linked = {name: threads[ids[name]].get(KEY) for name in ids}
    assert linked == {"linked": "call_linked", "elsewhere": None, "unknown": None, "sub": None}
