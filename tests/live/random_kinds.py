"""Kinds of real Codex bundle the random live scenarios (:mod:`tests.live.random_scenarios`)
made last, each drawn from a generator of its own so that a seed's other choices stay as they
were: images attached to the prompt (``codex exec -i``, an app-server turn's ``localImage``),
``request_user_input`` (unavailable outside plan mode: the corpora's ``request_user_input``),
client tool searches, a schema-3 total budget (``rollout_trace.max_bytes``: Codex's log stops
where it runs out, v3.md §6), and the multi-agent v2 tools after a spawn (``send_message``,
``followup_task``, ``interrupt_agent``, ``list_agents``; a spawn forking the parent's turns),
as the corpora's ``multi_agent_v2_lifecycle`` and ``multi_agent_v2_nested_fork`` hold them;
and after those, families of the fixed live scenarios the random ones never made: generated
images, web searches opening or searching a page, messages of two parts, goal calls, a terminal
command fed a line through ``write_stdin`` (:func:`vary_steps`), and in app-server sessions
reviews, named threads, a turn's model or effort switched and patches approved or declined
(:func:`vary_app_actions`, :func:`turn_params`); and after those, two workers spawned in one
answer, a worker trying to spawn its own (:func:`vary_more`), a multi-agent v1 sub-agent
(:func:`v1_agent`), and call items carrying an item id as the Responses API gives them
(:func:`with_item_ids`); and after those, token counts of every shape (:func:`vary_usage`)."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

from tests.live.script import (
    ASK_SCOPE,
    CODE_MODE,
    PNG,
    SEARCH_AGENTS,
    after,
    call,
    collab,
    custom,
    following,
    message,
    v1,
    worker,
)

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


#: the ``codex exec`` kinds of :func:`vary_steps`, each a family of the fixed live scenarios
#: (:mod:`tests.live.exec_scenarios`) the random ones never made before
_WEB_ACTIONS = (
    {"type": "open_page", "url": "https://example.com"},
    {"type": "find_in_page", "url": "https://example.com", "pattern": "x"},
)
_GOALS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("create_goal", {"objective": "ship the feature"}),
    ("get_goal", {}),
    ("update_goal", {"status": "complete"}),
)
#: a terminal command reading two lines, and a poll of it writing one (``$SESSION_ID``: the
#: fake's latest session id; left unparsable when no command is running)
_TTY = {"cmd": "read a; echo got:$a; read b; echo got:$b", "tty": True, "yield_time_ms": 300}
_FEED = '{"session_id": $SESSION_ID, "chars": "line\\n", "yield_time_ms": 300}'


def _generated(step: int) -> dict[str, Any]:
    return {
        "type": "image_generation_call",
        "id": f"ig_{step}",
        "status": "completed",
        "revised_prompt": f"a dot {step}",
        "result": base64.b64encode(PNG).decode(),
    }


def _two_parts(step: int) -> dict[str, Any]:
    parts = [
        {"type": "output_text", "text": f"Part {n} of {step}.", "annotations": []} for n in (1, 2)
    ]
    return {"type": "message", "role": "assistant", "content": parts}


def vary_steps(newer: random.Random, rules: list[dict[str, Any]]) -> None:
    """The ``codex exec`` kinds added after :func:`roughen_calls`, drawn from ``newer``: some
    steps open with a generated image, a web search opening or searching a page, or a message
    of two parts; some calls become goal calls or a terminal command that waits for input (if
    a later step calls a tool: most often its first call writes a line to it) (each keeps its
    call id)."""
    steps = [rule for rule in rules if rule["name"].startswith("step")]
    calls = [[n for n, item in enumerate(rule["items"]) if _plain(item)] for rule in steps]
    waiting = False  # a terminal command is waiting for input
    for step, rule in enumerate(steps):
        items = rule["items"]
        for n in calls[step]:
            roll = newer.random()
            call_id = str(items[n]["call_id"])
            if waiting and n == calls[step][0] and roll < 0.7:
                items[n] = call("write_stdin", _FEED, call_id)
            elif roll < 0.07:
                name, arguments = newer.choice(_GOALS)
                items[n] = call(name, arguments, call_id)
            elif roll < 0.16 and any(calls[step + 1 :]):
                items[n] = call("exec_command", _TTY, call_id)
                waiting = True
        roll = newer.random()
        if roll < 0.1:
            items.insert(0, _generated(step))
        elif roll < 0.2:
            action = newer.choice(_WEB_ACTIONS)
            web = {"type": "web_search_call", "id": f"wp_{step}", "status": "completed"}
            items.insert(0, {**web, "action": action})
        elif roll < 0.28:
            items.insert(0, _two_parts(step))


def _plain(item: dict[str, Any]) -> bool:
    """Whether ``item`` calls one of Codex's own function tools (not a namespaced one)."""
    return item.get("type") == "function_call" and not item.get("namespace")


def vary_app_actions(
    newer: random.Random, k: int, setup: str, rules: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The app-server actions added after :func:`app_agents_turn`, drawn from ``newer`` before
    action ``k``: now and then a review of the workspace's notes, the thread named, or (with
    approvals) a turn that patches a file, its approval declined or accepted. Reviews are
    rare: Codex (0.169 and 0.171) logs a review turn's end in the parent thread's bundle, which
    neither reducer then reads ("codex turn end referenced unknown turn"; the review's own
    bundle reduces), so each one spends its session's main bundle on that refusal."""
    roll = newer.random()
    if roll < 0.03:
        text = f"Review the notes {k}."
        verdict = '{"findings": [], "overall_correctness": "patch is correct"}'
        # last: the thread's later requests (holding the review's text) match their own rules
        rules.append(
            {"name": f"rv{k}", "match": {"any_contains": text}, "items": [message(verdict)]}
        )
        return [{"op": "review", "instructions": text}]
    if roll < 0.09:
        named = {"threadId": "$THREAD", "name": f"Named {k}"}
        return [{"op": "rpc", "method": "thread/name/set", "params": named}]
    if setup == "approvals" and roll < 0.3:
        text, call_id = f"P{k} patch", f"p{k}c"
        patch = f"*** Begin Patch\n*** Add File: p{k}.txt\n+p{k}\n*** End Patch\n"
        rules.append(
            {
                "name": f"p{k}",
                "match": {"last_user": text, "lacks_call_id": call_id},
                "items": [
                    {
                        "type": "custom_tool_call",
                        "name": "apply_patch",
                        "input": patch,
                        "call_id": call_id,
                    }
                ],
            }
        )
        rules.append(after(call_id, message(f"patched {k}")))
        decision = {"decision": newer.choice(["accept", "decline"])}
        answer = {
            "op": "answer",
            "method": "item/fileChange/requestApproval",
            "results": [decision],
        }
        return [answer, {"op": "turn", "text": text}]
    return []


def turn_params(newer: random.Random) -> dict[str, Any]:
    """A turn's model or effort switched (now and then), as a client may per turn."""
    if newer.random() >= 0.15:
        return {}
    return newer.choice(
        [{"effort": "high"}, {"effort": "low"}, {"model": "gpt-5.5", "effort": "minimal"}]
    )


def fail_workers(child: random.Random, workers: list[dict[str, Any]]) -> None:
    """Some workers' answers fail (drawn from ``child``), as the corpora's
    ``multi_agent_v2_child_failure``: the first request refused (HTTP 400, not retried), or an
    answer ending the worker's turn (``response.failed``, ``response.incomplete``), or one
    retried (an ``error`` event). Each failing rule answers once, before the worker's own."""
    for at in reversed(range(len(workers))):
        rule = workers[at]
        if child.random() >= 0.3:
            continue
        kind = child.choice(["http_400", "failed", "incomplete", "error"])
        failing: dict[str, Any] = {
            "name": f"fail_{rule['name']}",
            "match": rule["match"],
            "times": 1,
        }
        if kind == "http_400":
            failing["http_status"] = 400
            failing["body"] = {
                "error": {"message": "scripted child refusal", "type": "invalid_request_error"}
            }
        elif kind == "error":
            failing.update(
                items=[], end="error", error={"code": "server_error", "message": "child boom"}
            )
        else:
            failing.update(items=rule["items"][: child.randint(0, len(rule["items"]))], end=kind)
            if kind == "failed":
                failing["error"] = {"code": "invalid_prompt", "message": "scripted child failure"}
        workers.insert(at, failing)


#: model items that carry a call id (the Responses API gives each an item id as well)
_CALL_TYPES = ("function_call", "custom_tool_call", "tool_search_call", "local_shell_call")


def vary_more(newest: random.Random, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``codex exec`` kinds added after :func:`fail_workers`, drawn from ``newest``: some
    spawns get a sibling spawned in the same answer (two workers at once, as the fixed
    ``two_workers_in_parallel``), some workers try a spawn of their own (a grandchild, as the
    corpora's ``multi_agent_v2_nested_fork``: Codex offers workers no such tool). Returns the
    new workers' rules (told by their task names, so they go first)."""
    workers: list[dict[str, Any]] = []
    for rule in rules:
        items = rule.get("items", [])  # an HTTP failure has none
        spawns = [n for n, item in enumerate(items) if item.get("name") == "spawn_agent"]
        if rule["name"].startswith("step") and spawns and newest.random() < 0.5:
            call_id = f"{items[spawns[0]]['call_id']}x"
            task = f"x{rule['name'][4:]}"  # not a prefix of another worker's name
            message = f"SIBLING-{task}: work."
            arguments = {"task_name": task, "message": message, "fork_turns": "none"}
            # before the first spawn: the step's last call, which the next step is told by,
            # stays last
            items.insert(spawns[0], collab("spawn_agent", arguments, call_id))
            command = newest.choice([{"cmd": "echo sibling"}, {"cmd": "exit 3"}])
            workers += worker(task, command, f"{task}c", f"{task} done")
        elif _first_of_worker(rule) and newest.random() < 0.4:
            task = rule["name"][:-2]
            for n, item in enumerate(items):
                if item.get("type") == "function_call":
                    grandchild = {"task_name": f"{task}g", "message": "GRANDCHILD: echo."}
                    items[n] = collab("spawn_agent", grandchild, str(item["call_id"]))
    return workers


def _first_of_worker(rule: dict[str, Any]) -> bool:
    """Whether ``rule`` answers a worker's first request (:func:`tests.live.script.worker`)."""
    match = rule.get("match", {})
    told = str(match.get("any_contains", "")).startswith("Task name: /root/")
    return told and rule["name"].endswith("_0") and not rule["name"].startswith("fail_")


def with_item_ids(newest: random.Random, rules: list[dict[str, Any]]) -> None:
    """Now and then (drawn from ``newest``) every call item of every answer carries an item
    id, as the Responses API gives one (``fc_...``; the fake server gives messages theirs)."""
    if newest.random() >= 0.3:
        return
    for rule in rules:
        for item in rule.get("items", []):
            if item.get("type") in _CALL_TYPES and "id" not in item:
                item["id"] = f"fc_{item['call_id']}"


def v1_agent(newest: random.Random, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Now and then (drawn from ``newest``), before the first step, a multi-agent v1 sub-agent
    (the fixed ``multi_agent_v1_*`` scenarios, which the random ones never made): its tools
    loaded by a tool search, spawned (with the parent's context now and then), sent input
    (interrupting it now and then), waited for and closed, sometimes resumed and closed again.
    The first step is then told by the last of those calls. Returns the rules to put first
    (``[]`` when none); for scenarios without v2 sub-agents or compaction (whose rules are told
    by a first request without tool outputs)."""
    if newest.random() >= 0.2:
        return []
    spawn: dict[str, Any] = {"message": "V1-CHILD: echo."}
    if newest.random() < 0.3:
        spawn["fork_context"] = True
    chain = [v1("spawn_agent", spawn, "v1sp")]
    if newest.random() < 0.4:
        note = {"target": "$AGENT_ID", "message": "NOTE", "interrupt": newest.random() < 0.5}
        chain.append(v1("send_input", note, "v1si"))
    chain.append(v1("wait_agent", {"targets": ["$AGENT_ID"], "timeout_ms": 20000}, "v1wt"))
    chain.append(v1("close_agent", {"target": "$AGENT_ID"}, "v1cl"))
    if newest.random() < 0.3:
        chain.append(v1("resume_agent", {"id": "$AGENT_ID"}, "v1rs"))
        chain.append(v1("close_agent", {"target": "$AGENT_ID"}, "v1c2"))
    search = {**SEARCH_AGENTS, "call_id": "v1ts"}
    told = ["v1ts", *(str(item["call_id"]) for item in chain)]
    out: list[dict[str, Any]] = [
        {  # the child's rules: told by its prompt, a user message in its thread only
            "name": "v1child0",
            "match": {"thread": "V1-CHILD", "lacks_call_id": "v1ce"},
            "items": [call("exec_command", {"cmd": "echo child", "yield_time_ms": 1000}, "v1ce")],
        },
        {
            "name": "v1child1",
            "match": {"thread": "V1-CHILD", "last_call_id": "v1ce"},
            "items": [message("child done")],
        },
        {"name": "v1first", "match": {"step": 0}, "items": [search]},
    ]
    out += [following(before, item) for before, item in zip(told[:-1], chain, strict=True)]
    for rule in rules:  # the first step (and a failure before it: the same match) comes after
        if rule["name"] == "step0":
            ids = [str(item["call_id"]) for item in rule["items"] if "call_id" in item]
            rule["match"].clear()
            rule["match"]["has_call_id"] = told[-1]
            if ids:
                rule["match"]["lacks_call_id"] = ids[-1]
    return out


#: app-server cells: quick, with a nested command, yielding while a slow command runs (it
#: outlives its turn), throwing
_APP_CELLS = (
    'text("cell says hi");\n',
    'const r = await tools.exec_command({cmd: "echo nested"});\ntext(r.output);\n',
    '// @exec: {"yield_time_ms": 200}\n'
    'const r = await tools.exec_command({cmd: "sleep 1; echo late"});\ntext(r.output);\n',
    'throw new Error("cell failed");\n',
)


def app_cells(cells: random.Random, rules: list[dict[str, Any]]) -> tuple[str, ...]:
    """Now and then (drawn from ``cells``) code mode in an app-server session (the fixed
    ``app_server_cells_yielded_across_turns`` family, which random sessions never made): some
    turns' commands become cells (some yielding, to be collected in a later turn; a slow
    command, which an interrupt or a steer cuts or which is left running, is nested as it
    was, so the turn lasts as long), some answers first wait on cell 1 (running, collected,
    or never made). Returns the options code mode needs (``()`` when it was not drawn)."""
    if cells.random() >= 0.25:
        return ()
    for rule in list(rules):
        name, items = rule["name"], rule.get("items", [])
        turn = name[1:] if name[1:].isdigit() else name.removeprefix("after_t")[:-1]
        if not turn.isdigit() or not items or not name.startswith(("r", "after_t")):
            continue  # a turn's rule: its first answer (r3) or the one after its call (after_t3c)
        if items[-1].get("name") == "exec_command" and cells.random() < 0.6:
            call_id, arguments = str(items[-1]["call_id"]), str(items[-1]["arguments"])
            source = cells.choice(_APP_CELLS)
            if "sleep" in arguments:  # a turn to interrupt, steer or leave running: as slow
                source = f"const r = await tools.exec_command({arguments});\ntext(r.output);\n"
            items[-1] = custom("exec", source, call_id)
        elif items[-1].get("type") == "message" and cells.random() < 0.4:
            wait_id = f"cw{turn}"
            answer = items.pop()
            items.append(call("wait", {"cell_id": "1", "yield_time_ms": 2000}, wait_id))
            if "last_user" in rule["match"]:  # told again once the wait answered: not by it
                rule["match"] = {**rule["match"], "lacks_call_id": wait_id}
            rules.append(after(wait_id, answer))
    return CODE_MODE


def vary_usage(usage: random.Random, rules: list[dict[str, Any]], extra: tuple[str, ...]) -> None:
    """Token counts as providers report them, on about half the streamed answers (the fake's
    default, 100 in and 10 out, on every other): cached input up to the whole input, reasoning
    up to the whole output, a total that is not the sum, a cache write count beside the cached
    one, and, when no small context window makes Codex compact on a large count, counts past
    2^31 and 2^53. A rule that sets its own usage (a compaction's trigger) keeps it."""
    small_context = any("model_auto_compact_token_limit" in part for part in extra)
    for rule in rules:
        if "http_status" in rule or "usage" in rule or usage.random() < 0.5:
            continue
        input_tokens, output = usage.randint(0, 3000), usage.randint(0, 1500)
        if not small_context and usage.random() < 0.2:
            output = usage.choice([2**31 + 7, 2**53 + 1, 10**15])
        cached = usage.choice([0, input_tokens // 2, input_tokens])
        reasoning = usage.choice([0, output // 3, output])
        total = input_tokens + output if usage.random() < 0.7 else usage.randint(0, 5000)
        input_details: dict[str, Any] = {"cached_tokens": cached}
        if usage.random() < 0.2:
            input_details["cache_write_tokens"] = usage.randint(0, 500)
        rule["usage"] = {
            "input_tokens": input_tokens,
            "input_tokens_details": input_details,
            "output_tokens": output,
            "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": total,
        }
