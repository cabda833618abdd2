"""The ``codex app-server`` kinds of :mod:`tests.live.test_codex_gaps` (beside the ``codex
exec`` ones of :mod:`tests.live.random_gaps`): a thread resumed by a new process (the corpora's
``app_server_thread_resume``; the ``restart`` action of :mod:`tests.live.app_server`), and turns
interrupted while several commands, a cell, a worker or the model's stream run."""

from __future__ import annotations

import random
from typing import Any

from tests.live.random_gaps import FILES, cell
from tests.live.script import CODE_MODE, MULTI_AGENT, Scenario, after, call, collab, message, worker


def _restart_resume(rng: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Turns on a thread, then the thread resumed by a new app-server process (once or
    twice), more turns (a command, one left running when the process ends, a compaction or
    a fork of the resumed thread now and then)."""
    rules: list[dict[str, Any]] = [
        {
            "name": "summarize",
            "match": {"last_user": "CONTEXT CHECKPOINT COMPACTION"},
            "items": [message("SUMMARY: before the restart.")],
        }
    ]
    actions: list[dict[str, Any]] = [{"op": "start", "params": {}}]
    for k in range(rng.randint(3, 5)):
        if k and rng.random() < 0.4:
            actions.append({"op": "restart"})
        if k and rng.random() < 0.2:
            actions.append({"op": rng.choice(["compact", "fork"])})
        text, call_id = f"T{k} go", f"t{k}c"
        if rng.random() < 0.5:
            command = rng.choice(
                [{"cmd": "echo t"}, {"cmd": "exit 2"}, {"cmd": "sleep 20", "yield_time_ms": 300}]
            )
            rules.append(
                {
                    "name": f"r{k}",
                    "match": {"last_user": text, "lacks_call_id": call_id},
                    "items": [call("exec_command", command, call_id)],
                }
            )
            rules.append(after(call_id, message(f"done {k}")))
        else:
            rules.append(
                {"name": f"r{k}", "match": {"last_user": text}, "items": [message(f"a{k}")]}
            )
        actions.append({"op": "turn", "text": text})
    if not any(action["op"] == "restart" for action in actions):
        actions.insert(-1, {"op": "restart"})
    return rules, actions


def _interrupts(
    rng: random.Random,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], tuple[str, ...]]:
    """Turns interrupted while two or three commands run, while a cell waits on a slow
    command, while a worker runs, or while the model's answer is still streaming; each
    followed by a turn (and a compaction now and then)."""
    rules: list[dict[str, Any]] = [
        {
            "name": "summarize",
            "match": {"last_user": "CONTEXT CHECKPOINT COMPACTION"},
            "items": [message("SUMMARY: interrupted.")],
        }
    ]
    actions: list[dict[str, Any]] = [{"op": "start", "params": {}}]
    features: dict[str, tuple[str, ...]] = {}
    for k in range(rng.randint(1, 3)):
        text = f"I{k} go"
        how = rng.choice(["commands", "cell", "worker", "stream"])
        match = {"last_user": text, "lacks_call_id": f"i{k}_0"}
        if how == "commands":
            slow = [{"cmd": "sleep 3; echo s"}, {"cmd": "sleep 2; echo t"}, {"cmd": "echo quick"}]
            items = [call("exec_command", slow[n], f"i{k}_{n}") for n in range(rng.randint(2, 3))]
        elif how == "cell":
            js = 'const r = await tools.exec_command({cmd: "sleep 3; echo late"});\ntext(r.output);\n'
            items = [cell(js, f"i{k}_0", yield_ms=rng.choice([None, 10000]))]
            features["code"] = CODE_MODE
        elif how == "worker":
            rules[:0] = worker(f"iw{k}", {"cmd": "sleep 3; echo worker"}, f"iw{k}c", "w done")
            spawn = {"task_name": f"iw{k}", "message": f"CHILD-iw{k}: work.", "fork_turns": "none"}
            items = [collab("spawn_agent", spawn, f"i{k}_0")]
            rules.append(after(f"i{k}_0", collab("wait_agent", {"timeout_ms": 10000}, f"i{k}_w")))
            features["agents"] = MULTI_AGENT
        else:
            items = [message("streaming " * 50)]
            rules.append(
                {"name": f"r{k}", "match": match, "items": items, "delay": 3, "delay_after": 2}
            )
        if how != "stream":
            rules.append({"name": f"r{k}", "match": match, "items": items})
            rules.append(after(str(items[-1]["call_id"]), message(f"finished {k}")))
        actions.append({"op": "turn", "text": text, "interrupt_after": rng.choice([0.5, 1.0])})
        if rng.random() < 0.3:
            actions.append({"op": "compact"})
        then = f"A{k} next"
        rules.append(
            {"name": f"a{k}", "match": {"last_user": then}, "items": [message(f"next {k}")]}
        )
        actions.append({"op": "turn", "text": then})
    return rules, actions, tuple(part for feature in features.values() for part in feature)


def gap_app_scenario(seed: int) -> Scenario:
    """The ``codex app-server`` session of ``seed``: a thread resumed by a new process (even
    seeds) or interrupted turns (odd ones)."""
    rng = random.Random(seed)
    extra: tuple[str, ...] = ()
    if seed % 2 == 0:
        kind = "restart_resume"
        rules, actions = _restart_resume(rng)
    else:
        kind = "interrupts"
        rules, actions, extra = _interrupts(rng)
    return Scenario(
        f"gap_app_{kind}_{seed}", "", rules, files=FILES, extra=extra, app_server=tuple(actions)
    )
