"""More kinds of real Codex bundle for :mod:`tests.live.test_codex_gaps` (``GAPS_MORE_EXAMPLES``),
beside :mod:`tests.live.random_gaps`'s, that no live generator made before: a session forked
with ``codex exec fork`` (the corpora's notes: a new bundle starting with the forked history),
from its first or its latest process, mixed with resumes, after a compaction, a goal or a
worker; code cells calling the nested tools no cell called yet (goals, MCP resources, many
commands at once or one after another, a patch that fails, a tool code mode does not offer,
a promise left unawaited, a cell printing a lot); workers in code mode running cells of their
own (yielding and waited on in the worker's thread, calling MCP, failing); and answers of odd
shapes in the middle of a turn (no items after a tool's output, two messages, a final answer
followed by a call, an empty text, an answer cut at ``max_output_tokens`` after its calls); and a
second MCP server that never comes up, its tools and resources called anyway; and two workers
whose turns overlap, the parent's message reaching one mid-command, its waits collecting their
answers in either order, their own multi-agent calls on each other refused. Through ``codex
app-server``: a thread goal the client sets, and the turns Codex then starts by itself.
A session not resumed runs with ``--ephemeral`` now and then. A seed picks its kind
(``seed % len(KINDS)``)."""

from __future__ import annotations

import random
from typing import Any

import attrs

from tests.live.random_gaps import FILES, cell
from tests.live.script import (
    CODE_MODE,
    HIGH_USAGE,
    MCP,
    MULTI_AGENT,
    SMALL_CONTEXT,
    Scenario,
    after,
    call,
    collab,
    custom,
    mcp,
    message,
)

_PATCH = "*** Begin Patch\n*** Add File: f{n}.txt\n+forked\n*** End Patch\n"
_FORK_CALLS = (
    lambda n: call("exec_command", {"cmd": f"echo fork{n}; cat notes.txt"}, f"f{n}c"),
    lambda n: call("exec_command", {"cmd": "exit 4"}, f"f{n}c"),
    lambda n: custom("apply_patch", _PATCH.format(n=n), f"f{n}c"),
    lambda n: call("get_goal", {}, f"f{n}c"),
    lambda n: call("update_goal", {"status": "complete"}, f"f{n}c"),
    lambda n: call("view_image", {"path": "dot.png"}, f"f{n}c"),
)


def _fork(rng: random.Random) -> Scenario:
    """A first process (a command, a goal set now and then, a worker or a compaction now and
    then), then one to three later ones, each forking the first or the latest session or
    resuming the latest, each a call and an answer (a refused request now and then)."""
    first_items: list[dict[str, Any]] = [call("exec_command", {"cmd": "echo base"}, "b0c")]
    if rng.random() < 0.5:
        first_items.append(call("create_goal", {"objective": "fork the work"}, "b0g"))
    extra: tuple[str, ...] = ()
    rules: list[dict[str, Any]] = []
    how = rng.choice(["plain", "plain", "worker", "compact"])
    first_rule: dict[str, Any] = {
        "name": "b0",
        "match": {"last_user": "Begin", "lacks_call_id": "b0c"},
        "items": first_items,
    }
    if how == "worker":
        extra = MULTI_AGENT
        first_items.append(
            collab(
                "spawn_agent",
                {"task_name": "fk", "message": "CHILD-FK: echo.", "fork_turns": "none"},
                "b0s",
            )
        )
        rules += [
            {
                "name": "fk0",
                "match": {"any_contains": "Task name: /root/fk", "lacks_call_id": "fkc"},
                "items": [call("exec_command", {"cmd": "echo child"}, "fkc")],
            },
            after("fkc", message("child done")),
        ]
        last = str(first_items[-1]["call_id"])
        rules.append(after(last, collab("wait_agent", {"timeout_ms": 20000}, "b0w")))
        rules.append(after("b0w", message("base done")))
    else:
        rules.append(after(str(first_items[-1]["call_id"]), message("base done")))
    if how == "compact":
        extra = SMALL_CONTEXT
        first_rule["usage"] = HIGH_USAGE
        rules.insert(
            0,
            {
                "name": "summarize",
                "match": {"last_user": "CONTEXT CHECKPOINT COMPACTION"},
                "items": [message("SUMMARY: the base ran.")],
            },
        )
    rules.append(first_rule)
    then, forks = [], []
    for n in range(1, rng.randint(2, 4)):
        text, item = f"F{n} go", rng.choice(_FORK_CALLS)(n)
        match = {"last_user": text, "lacks_call_id": str(item["call_id"])}
        if rng.random() < 0.2:
            refusal = {"error": {"message": "fork refused", "type": "invalid_request_error"}}
            fail = {"name": f"ffail{n}", "match": match, "times": 1, "http_status": 400}
            rules.append({**fail, "body": refusal})
        rules.append({"name": f"f{n}", "match": match, "items": [item]})
        rules.append(after(str(item["call_id"]), message(f"forked {n} done")))
        then.append(text)
        forks.append(rng.choice(["first", "last", "last", ""]))
    if "first" not in forks and "last" not in forks:
        forks[0] = "first"
    return Scenario("fork", "Begin.", rules, extra=extra, then=tuple(then), fork_from=tuple(forks))


_CELL_TOOLS = (
    'await tools.create_goal({objective: "cells"});\nconst g = await tools.get_goal({});\n'
    "text(JSON.stringify(g));\n",
    'const g = await tools.update_goal({status: "complete"});\ntext(JSON.stringify(g));\n',
    "const r = await tools.list_mcp_resources({});\ntext(JSON.stringify(r).slice(0, 200));\n",
    'const r = await tools.read_mcp_resource({server: "demo", uri: "demo://notes"});\n'
    "text(JSON.stringify(r));\n",
    'const r = await tools.read_mcp_resource({server: "demo", uri: "demo://none"});\n'
    "text(JSON.stringify(r));\n",
    "const t = await tools.list_mcp_resource_templates({});\ntext(JSON.stringify(t));\n",
    "const all = await Promise.all([1, 2, 3, 4, 5, 6].map((n) =>"
    " tools.exec_command({cmd: `echo n${n}`})));\ntext(all.map((r) => r.output).join(''));\n",
    "let out = '';\nfor (let n = 0; n < 8; n++) {\n"
    "  out += (await tools.exec_command({cmd: `echo s${n}`})).output;\n}\ntext(out);\n",
    'const p = await tools.apply_patch("*** Begin Patch\\n*** Update File: absent.txt\\n'
    '@@\\n-x\\n+y\\n*** End Patch\\n");\ntext(JSON.stringify(p));\n',
    'const s = await tools.spawn_agent({task_name: "x", message: "no"});\ntext(String(s));\n',
    'tools.exec_command({cmd: "sleep 0.3; echo unawaited"});\ntext("left");\n',
    'text("x".repeat(200000));\n',
    'const v = await tools.view_image({path: "dot.png"});\nimage(v);\n',
    'const w = await tools.write_stdin({session_id: 4242, chars: "x"});\ntext(String(w));\n',
)


def _cell_tools(rng: random.Random) -> Scenario:
    """One to three cells per answer over one or two answers, each calling nested tools no
    cell called before (goals, MCP resources, many commands, a failing patch, a tool code mode
    does not offer, an unawaited call, a long text, an image), one yielding now and then."""
    steps = []
    for step in range(rng.randint(1, 2)):
        steps.append(
            [
                cell(rng.choice(_CELL_TOOLS), f"ct{step}_{k}", yield_ms=rng.choice([None, 100]))
                for k in range(rng.randint(1, 3))
            ]
        )
    first = {"name": "step0", "match": {"step": 0}, "items": steps[0]}
    rules = _chain(first, [*steps[1:], [message("Cells done.")]])
    return Scenario("cell_tools", "Cells with tools.", rules, extra=(*CODE_MODE, *MCP))


_CHILD_CELLS = (
    'const r = await tools.exec_command({cmd: "echo in-child"});\ntext(r.output);\n',
    'const r = await tools.mcp__demo__echo({text: "child"});\ntext(JSON.stringify(r));\n',
    'throw new Error("child cell failed");\n',
    'const r = await tools.exec_command({cmd: "sleep 0.8; echo slow-child"});\ntext(r.output);\n',
)


def _child_cells(rng: random.Random) -> Scenario:
    """One or two workers in code mode, each running a cell (yielding now and then, then its
    own wait on it), or failing its next request; the parent runs a cell of its own beside the
    spawns now and then, waits for the workers, and answers."""
    rules: list[dict[str, Any]] = []
    spawns: list[dict[str, Any]] = []
    for n in range(rng.randint(1, 2)):
        task, first_cell = f"cc{n}", f"cc{n}x"
        yielding = rng.random() < 0.5
        source = _CHILD_CELLS[3] if yielding else rng.choice(_CHILD_CELLS)
        rules.append(
            {
                "name": f"{task}_0",
                "match": {"any_contains": f"Task name: /root/{task}", "lacks_call_id": first_cell},
                "items": [cell(source, first_cell, yield_ms=100 if yielding else None)],
            }
        )
        answer_after = first_cell
        if yielding:
            wait = call("wait", {"cell_id": "1", "yield_time_ms": 10000}, f"{task}w")
            rules.append(after(first_cell, wait))
            answer_after = f"{task}w"
        if rng.random() < 0.25:
            rules.append(
                {
                    "name": f"{task}_fail",
                    "match": {"last_call_id": answer_after},
                    "times": 1,
                    "http_status": 400,
                    "body": {"error": {"message": "child out", "type": "invalid_request_error"}},
                }
            )
        rules.append(after(answer_after, message(f"{task} done")))
        arguments = {"task_name": task, "message": f"CHILD-{task}: cells.", "fork_turns": "none"}
        spawns.append(collab("spawn_agent", arguments, f"cs{n}"))
    items = list(spawns)
    if rng.random() < 0.5:
        items.append(cell('text("parent cell");\n', "pcell"))
    first = {"name": "root0", "match": {"thread": "Delegate cells", "step": 0}, "items": items}
    waiting = {
        "name": "root1",
        "match": {"last_call_id": str(items[-1]["call_id"]), "lacks_call_id": "cw"},
        "items": [collab("wait_agent", {"timeout_ms": 20000}, "cw")],
    }
    rules += [first, waiting, after("cw", message("Workers ran cells."))]
    return Scenario("child_cells", "Delegate cells.", rules, extra=(*MULTI_AGENT, *CODE_MODE, *MCP))


def _odd_answers(rng: random.Random) -> Scenario:
    """A multi-step turn whose middle answers have odd shapes: no items at all after a tool's
    output (the turn ends there), two messages, a final answer followed by a call, an empty
    text, an answer cut at ``max_output_tokens`` after its calls."""
    rules: list[dict[str, Any]] = []
    previous = None
    for step in range(rng.randint(2, 4)):
        call_id = f"oa{step}"
        items: list[dict[str, Any]] = []
        shape = rng.choice(["two", "final_then_call", "empty_text", "plain", "incomplete"])
        if shape == "two":
            items += [message("first of two", phase="commentary"), message("second of two")]
        elif shape == "final_then_call":
            items.append(message("I am done (not really).", phase="final_answer"))
        elif shape == "empty_text":
            items.append(message("", phase=rng.choice([None, "commentary"])))
        items.append(call("exec_command", {"cmd": f"echo odd{step}"}, call_id))
        rule: dict[str, Any] = {"name": f"step{step}", "items": items}
        rule["match"] = {"step": 0} if previous is None else {"last_call_id": previous}
        if shape == "incomplete":
            rule["end"] = "incomplete"
        rules.append(rule)
        previous = call_id
    ending = rng.choice(["nothing", "message", "empty_text", "reasoning_only"])
    last: list[dict[str, Any]] = []
    if ending == "message":
        last = [message("Odd answers done.")]
    elif ending == "empty_text":
        last = [message("")]
    elif ending == "reasoning_only":
        last = [{"type": "reasoning", "id": "rs_odd", "summary": [], "encrypted_content": "gAAA"}]
    rules.append({"name": "last", "match": {"last_call_id": previous}, "items": last})
    return Scenario("odd_answers", "Odd answers.", rules)


_BROKEN_SERVERS = (
    'mcp_servers.broken={command="false"}',
    'mcp_servers.broken={command="/nonexistent/mcp-server"}',
    'mcp_servers.broken={command="sh", args=["-c", "sleep 5"], startup_timeout_sec=1}',
    'mcp_servers.broken={command="sh", args=["-c", "echo not-json; sleep 1"]}',
)


def _mcp_startup(rng: random.Random) -> Scenario:
    """A second MCP server that never comes up (exits at once, is not there, is too slow, or
    speaks no JSON-RPC) beside the demo one: calls of the working server's tools, of the broken
    one's, its resources listed and read, and now and then settings a user sets (reasoning
    summaries, effort, verbosity)."""
    kinds = [
        lambda c: mcp("echo", {"text": "up"}, c),
        lambda c: {**call("anything", {}, c), "namespace": "mcp__broken"},
        lambda c: call("list_mcp_resources", {"server": "broken"}, c),
        lambda c: call("read_mcp_resource", {"server": "broken", "uri": "x://y"}, c),
        lambda c: call("list_mcp_resources", {}, c),
        lambda c: mcp("boom", {}, c),
    ]
    steps = [
        [rng.choice(kinds)(f"ms{step}_{k}") for k in range(rng.randint(1, 3))]
        for step in range(rng.randint(1, 3))
    ]
    extra: tuple[str, ...] = (*MCP, "-c", rng.choice(_BROKEN_SERVERS))
    for setting in (
        "model_reasoning_summary=detailed",
        "model_reasoning_effort=high",
        "model_verbosity=low",
    ):
        if rng.random() < 0.3:
            extra += ("-c", setting)
    first = {"name": "step0", "match": {"step": 0}, "items": steps[0]}
    rules = _chain(first, [*steps[1:], [message("Servers tried.")]])
    return Scenario("mcp_startup", "Use the servers.", rules, extra=extra)


_CONTINUE = "Continue working toward the active thread goal"


def _goal_turns(rng: random.Random) -> Scenario:
    """``codex app-server``: a thread goal set by the client (a token budget now and then,
    set paused and resumed now and then, paused while Codex's own turn runs now and then) or
    by the model's ``create_goal``, a turn (its usage making Codex compact now and then), then
    the turns Codex starts by itself to pursue it (a command, a message, a failing request now
    and then) until the model marks it complete or the budget runs out; then now and then the
    goal read, cleared, and one more turn."""
    budget = rng.choice([None, None, 300, 800, 2000])
    goal: dict[str, Any] = {"threadId": "$THREAD", "objective": "ship the goal ✓"}
    if budget is not None:
        goal["tokenBudget"] = budget
    paused = rng.random() < 0.25
    if paused:
        goal["status"] = "paused"
    rules: list[dict[str, Any]] = [
        {
            "name": "goal_go",
            "match": {"last_user": "Goal go", "lacks_call_id": "gg"},
            "items": [call("exec_command", {"cmd": "echo goal"}, "gg")],
        },
        after("gg", message("started on the goal")),
    ]
    for n in range(rng.randint(0, 3)):
        step: dict[str, Any] = {"name": f"cont{n}", "match": {"last_user": _CONTINUE}, "times": 1}
        shape = rng.choice(["call", "message", "message", "refused"])
        if shape == "call":
            step["items"] = [call("exec_command", {"cmd": f"echo cont{n}"}, f"gc{n}")]
            rules.append(after(f"gc{n}", message(f"continued {n}")))
        elif shape == "message":
            step["items"] = [message(f"still on it {n}")]
        else:
            step["http_status"] = 400
            step["body"] = {"error": {"message": "goal refused", "type": "invalid_request_error"}}
        rules.append(step)
    done: dict[str, Any] = {
        "name": "goal_done",
        "match": {"last_user": _CONTINUE, "lacks_call_id": "gdone"},
    }
    done["items"] = [call("update_goal", {"status": "complete"}, "gdone")]
    rules += [done, after("gdone", message("Goal complete."))]
    actions: list[dict[str, Any]] = [
        {"op": "start", "params": {}, "experimental": True},
        {"op": "rpc", "method": "thread/goal/set", "params": goal},
        {"op": "turn", "text": "Goal go"},
    ]
    resume = {"threadId": "$THREAD", "status": "active"}
    if paused:
        actions.append({"op": "rpc", "method": "thread/goal/set", "params": resume})
    if rng.random() < 0.25:  # paused while Codex's own turn may run, then resumed
        pause = {"threadId": "$THREAD", "status": "paused"}
        actions.append({"op": "rpc", "method": "thread/goal/set", "params": pause})
        actions.append({"op": "idle", "seconds": 1})
        actions.append({"op": "rpc", "method": "thread/goal/set", "params": resume})
    actions.append({"op": "idle", "seconds": 3})
    if rng.random() < 0.3:  # the model sets the goal itself (create_goal), not the client
        del actions[1]
        rules[0]["items"] = [call("create_goal", {"objective": "model's goal"}, "gg")]
    for method in ("thread/goal/get", "thread/goal/clear"):
        if rng.random() < 0.5:
            actions.append({"op": "rpc", "method": method, "params": {"threadId": "$THREAD"}})
    if rng.random() < 0.5:
        rules.append(
            {"name": "after", "match": {"last_user": "After goal"}, "items": [message("ok")]}
        )
        actions.append({"op": "turn", "text": "After goal"})
    extra: tuple[str, ...] = ()
    if rng.random() < 0.3:  # Codex compacts between its own turns (its usage past the limit)
        extra = SMALL_CONTEXT
        rules[1]["usage"] = HIGH_USAGE
        summary = {"last_user": "CONTEXT CHECKPOINT COMPACTION"}
        rules.insert(
            0, {"name": "summarize", "match": summary, "items": [message("SUMMARY: goal.")]}
        )
    return Scenario("goal_turns", "", rules, app_server=tuple(actions), extra=extra)


def _siblings(rng: random.Random) -> Scenario:
    """Two workers whose turns overlap, and a parent waiting two or three times for their
    answers (they arrive in either order): one worker runs a slow command, which the parent's
    ``send_message`` now and then reaches mid-command (or its ``followup_task`` reaches once
    it is done: a second turn in that thread); each worker now and then tries a multi-agent
    call on its sibling (``send_message``, ``followup_task``, ``wait_agent``, ``list_agents``),
    which Codex 0.169 / 0.171 give no worker (a failed call, "unsupported call"), beside its
    command in one answer."""
    busy, quick = "sb0", "sb1"

    def told(task: str, **more: str) -> dict[str, str]:
        return {"any_contains": f"Task name: /root/{task}", **more}

    def sibling_call(call_id: str, sibling: str) -> dict[str, Any]:
        kind = rng.choice(["send_message", "followup_task", "wait_agent", "list_agents"])
        if kind in ("send_message", "followup_task"):
            target = rng.choice([sibling, f"/root/{sibling}"])
            return collab(kind, {"target": target, "message": "FROM-SIBLING: go on."}, call_id)
        return collab(kind, {"timeout_ms": 300} if kind == "wait_agent" else {}, call_id)

    rules: list[dict[str, Any]] = []
    for task, sibling, command in (
        (busy, quick, f"sleep {rng.choice([0.5, 1, 2])}; echo busy"),
        (quick, busy, "echo quick"),
    ):
        items = [call("exec_command", {"cmd": command}, f"{task}c")]
        if rng.random() < 0.5:
            items.insert(rng.randint(0, 1), sibling_call(f"{task}s", sibling))
        rules.append({"name": f"{task}_0", "match": told(task, lacks_call_id=f"{task}c")})
        rules[-1]["items"] = items
        answer = [message(f"{task} done")]
        rules.append({"name": f"{task}_1", "match": told(task, has_call_id=f"{task}c")})
        rules[-1]["items"] = answer
    spawns = [
        collab(
            "spawn_agent",
            {"task_name": task, "message": f"CHILD-{task}.", "fork_turns": "none"},
            f"ss{n}",
        )
        for n, task in enumerate((busy, quick))
    ]
    rng.shuffle(spawns)
    steps: list[list[dict[str, Any]]] = []
    nudge = rng.choice(["none", "send_message", "followup_task"])
    if nudge != "none":
        target = busy if nudge == "send_message" else rng.choice([busy, quick])
        steps.append([collab(nudge, {"target": target, "message": "FROM-ROOT: more."}, "sn")])
    waits = rng.randint(2, 3)
    for n in range(waits):  # a third wait finds nothing more now and then: short, it times out
        wait = {"timeout_ms": 20000 if n < 2 else 2000}
        steps.append([collab("wait_agent", wait, f"sw{n}")])
    first = {"name": "root0", "match": {"thread": "Siblings", "step": 0}, "items": spawns}
    rules += _chain(first, steps)
    for rule in rules[-len(steps) :]:  # a wait's output may be followed by a worker's answer
        before = rule["match"].pop("last_call_id")
        mine = str(rule["items"][0]["call_id"])
        rule["match"].update(thread="Siblings", has_call_id=before, lacks_call_id=mine)
    last = {"thread": "Siblings", "has_call_id": f"sw{waits - 1}"}
    rules.append({"name": "root_end", "match": last, "items": [message("Siblings done.")]})
    return Scenario("siblings", "Siblings.", rules, extra=MULTI_AGENT)


def _chain(first: dict[str, Any], steps: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """``first``, then each step answering the last call of the answer before."""
    rules = [first]
    previous = [item for item in first["items"] if "call_id" in item]
    for n, items in enumerate(steps):
        last = str(previous[-1]["call_id"])
        rules.append({"name": f"step{n + 1}", "match": {"last_call_id": last}, "items": items})
        previous = [item for item in items if "call_id" in item]
    return rules


KINDS = {
    "fork": _fork,
    "cell_tools": _cell_tools,
    "child_cells": _child_cells,
    "odd_answers": _odd_answers,
    "mcp_startup": _mcp_startup,
    "siblings": _siblings,
}


APP_KINDS = {"goal_turns": _goal_turns}


def more_gap_app_scenario(seed: int) -> Scenario:
    """The ``codex app-server`` scenario of ``seed``: kind ``seed % len(APP_KINDS)``."""
    kind = list(APP_KINDS)[seed % len(APP_KINDS)]
    made = APP_KINDS[kind](random.Random(seed))
    return attrs.evolve(made, name=f"more_{kind}_{seed}", files={**FILES, **made.files})


def more_gap_scenario(seed: int) -> Scenario:
    """The ``codex exec`` scenario of ``seed``: kind ``seed % len(KINDS)``, drawn from it."""
    kind = list(KINDS)[seed % len(KINDS)]
    made = KINDS[kind](random.Random(seed))
    extra = made.extra
    if not made.then and random.Random(f"ephemeral-{seed}").random() < 0.2:
        extra += ("--ephemeral",)  # no session file kept (nothing to resume): a bundle still
    return Scenario(
        f"more_{kind}_{seed}",
        made.prompt,
        made.rules,
        files={**FILES, **made.files},
        extra=extra,
        then=made.then,
        fork_from=made.fork_from,
        model=made.model,
    )
