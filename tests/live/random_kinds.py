"""Kinds of real Codex bundle the random live scenarios (:mod:`tests.live.random_scenarios`)
made last, each drawn from a generator of its own so that a seed's other choices stay as they
were: images attached to the prompt (``codex exec -i``, an app-server turn's ``localImage``),
``request_user_input`` (unavailable outside plan mode: the corpora's ``request_user_input``),
client tool searches, a schema-3 total budget (``rollout_trace.max_bytes``: Codex's log stops
where it runs out, v3.md §6), and the multi-agent v2 tools after a spawn (``send_message``,
``followup_task``, ``interrupt_agent``, ``list_agents``; a spawn forking the parent's turns),
as the corpora's ``multi_agent_v2_lifecycle`` and ``multi_agent_v2_nested_fork`` hold them."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

from tests.live.script import ASK_SCOPE, PNG, after, call, collab, message, worker

#: the images a prompt may attach (workspace files; both hold :data:`tests.live.script.PNG`)
IMAGES = ("dot.png", "pic.png")


def _search(call_id: str, query: str) -> dict[str, Any]:
    arguments = {"query": query, "limit": 4}
    return {
        "type": "tool_search_call",
        "call_id": call_id,
        "execution": "client",
        "status": "completed",
        "arguments": arguments,
    }


def _agent_call(new: random.Random, task: str, call_id: str) -> dict[str, Any]:
    """A multi-agent v2 call naming worker ``task`` (spawned in an earlier step)."""
    kind = new.choice(["send_message", "followup_task", "interrupt_agent", "list_agents"])
    if kind == "list_agents":
        return collab(kind, {}, call_id)
    if kind == "interrupt_agent":
        return collab(kind, {"target": f"/root/{task}"}, call_id)
    return collab(kind, {"target": task, "message": f"MORE-{call_id}: echo."}, call_id)


def roughen_calls(new: random.Random, rules: list[dict[str, Any]]) -> None:
    """Some of the steps' calls become a ``request_user_input``, a client tool search or,
    once a worker is spawned, a multi-agent call naming it (half its waits too) (each keeps its call id, so the
    step after it is told as before); some spawns fork the parent's turns."""
    spawned: list[str] = []
    for rule in rules:
        if not rule["name"].startswith("step"):
            continue
        items = rule["items"]
        for n, item in enumerate(items):
            if item.get("type") not in ("function_call", "custom_tool_call"):
                continue
            if item.get("name") == "spawn_agent":
                arguments = json.loads(item["arguments"])
                if new.random() < 0.3:
                    arguments["fork_turns"] = "all"
                    item["arguments"] = json.dumps(arguments)
                spawned.append(arguments["task_name"])
                continue
            roll = new.random()
            call_id = str(item["call_id"])
            if item.get("namespace") == "collaboration":  # a wait: half become another call
                if spawned and roll < 0.5:
                    items[n] = _agent_call(new, new.choice(spawned), call_id)
                continue
            if roll < 0.06:
                items[n] = call("request_user_input", ASK_SCOPE, call_id)
            elif roll < 0.12:
                items[n] = _search(call_id, new.choice(["demo echo", "spawn agent", "nothing"]))
            elif spawned and roll < 0.5:
                items[n] = _agent_call(new, new.choice(spawned), call_id)


def exec_options(
    new: random.Random, schemas: tuple[int, ...]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[int, ...]]:
    """Images for ``-i`` (now and then), and (now and then) a schema-3 total budget: the
    images, the extra ``codex exec`` options and the schemas then recorded."""
    images: tuple[str, ...] = ()
    if new.random() < 0.15:
        images = IMAGES[: new.randint(1, 2)]
    extra: tuple[str, ...] = ()
    if 3 in schemas and new.random() < 0.12:
        budget = new.choice([3000, 8000, 20000, 60000])
        extra = ("-c", f"rollout_trace.max_bytes={budget}")
        schemas = (3,)
    return images, extra, schemas


def app_turn_images(new: random.Random) -> list[dict[str, Any]]:
    """An app-server turn's image inputs (now and then one): a workspace file or a data URL."""
    if new.random() >= 0.15:
        return []
    if new.random() < 0.5:
        return [{"type": "localImage", "path": f"$WORKSPACE/{new.choice(IMAGES)}"}]
    return [{"type": "image", "url": f"data:image/png;base64,{base64.b64encode(PNG).decode()}"}]


def app_agents_turn(
    new: random.Random, k: int, text: str, extras: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The rules of an app-server turn that spawns worker ``a{k}`` (forking the thread's turns
    now and then) after ``extras``, then sends it a message, a follow-up or an interrupt,
    waits and answers."""
    task = f"a{k}"
    fork = "all" if new.random() < 0.3 else "none"
    spawn = {"task_name": task, "message": f"CHILD-{task}: work.", "fork_turns": fork}
    then = _agent_call(new, task, f"m{k}")
    return [
        *worker(task, {"cmd": "echo worker"}, f"{task}c", f"{task} done"),
        {
            "name": f"r{k}",
            "match": {"last_user": text, "lacks_call_id": f"s{k}"},
            "items": [*extras, collab("spawn_agent", spawn, f"s{k}")],
        },
        after(f"s{k}", then),
        after(f"m{k}", collab("wait_agent", {"timeout_ms": 5000}, f"w{k}")),
        after(f"w{k}", message(f"agents done {k}")),
    ]
