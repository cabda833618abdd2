"""Random scenarios for the live differential: a few model steps, each a random mix of
messages, reasoning, web searches and tool calls of every kind Codex runs (commands that
succeed, fail, print Unicode or bytes, or keep running; plans; images; patches good and bad;
unknown tools), chained by their last call id; sometimes with code mode, MCP (tools and
resources), compaction, sub-agents, hooks, a read-only sandbox or, for schema 3, a payload
size limit; and, drawn apart so that each seed's other choices stay as they were, failed
answers (HTTP 500, a cut stream and an error event, each retried once; an incomplete or
failed last answer), an empty last answer, the legacy ``local_shell_call``, polls of a
running command through ``write_stdin`` and a turn resumed in a second process; and, drawn
apart again, the kinds of :mod:`tests.live.random_kinds` (images, ``request_user_input``,
tool searches, a total budget, the multi-agent tools after a spawn; then generated images, page
searches, two-part messages, goals, a terminal fed stdin, reviews, named threads, per-turn model
switches, approved patches, failing workers; then a sibling spawned beside a spawn, a worker
trying a spawn of its own, a multi-agent v1 sub-agent before the first step, call items
carrying an item id; and, drawn apart once more, the kinds of :mod:`tests.live.random_edges`:
HTTP 429 / 503 with or without ``Retry-After``, a stream cut inside an item, the context window
exceeded, ``--output-schema``; and, drawn apart last, the tight capture limits of
:mod:`tests.live.random_limits`). App-server
sessions mix turns (some needing approvals or calling the client's dynamic tools, some
leaving a command running) with compactions, forks, reverts, injected items, shell commands,
cleaned background terminals, samples, queued turns and resumed threads (and now and then
images in a turn's input, or a turn that spawns a worker and talks to it, or code mode with
cells in turns and waits on them, or call items carrying an item id; and from
:mod:`tests.live.random_edges` namespaced and deferred dynamic tools, the approvals reviewer,
direct MCP calls, an output schema, a throttled or cut answer; and tight capture limits)."""

from __future__ import annotations

import json
import random
from typing import Any

from tests.live.random_edges import vary_app_edges, vary_error_codes, vary_exec_edges
from tests.live.random_kinds import (
    app_agents_turn,
    app_cells,
    app_turn_images,
    exec_options,
    fail_workers,
    roughen_calls,
    turn_params,
    v1_agent,
    vary_app_actions,
    vary_more,
    vary_steps,
    vary_usage,
    with_item_ids,
)
from tests.live.random_limits import draw_limits
from tests.live.scenarios import MCP, PNG, Scenario, after, call, custom, message
from tests.live.script import MULTI_AGENT, collab, worker

_COMMANDS = (
    {"cmd": "echo hello"},
    {"cmd": "echo oops >&2; exit 4"},
    {"cmd": "printf 'ünïcødé ✓ 漢字\\n'"},
    {"cmd": "printf '\\377\\000bytes'"},
    {"cmd": "seq 1 200"},
    {"cmd": "cat missing.txt"},
    {"cmd": "sleep 1; echo late", "yield_time_ms": 200},
    {"cmd": "echo a; echo b >&2", "workdir": "."},
)
_PATCHES = (
    "*** Begin Patch\n*** Add File: made.txt\n+made\n*** End Patch\n",
    "*** Begin Patch\n*** Update File: notes.txt\n@@\n-old line\n+new line\n*** End Patch\n",
    "*** Begin Patch\n*** Update File: absent.txt\n@@\n-x\n+y\n*** End Patch\n",
    "not a patch at all",
)


_CELLS = (
    'text("plain text from a cell");\n',
    'const r = await tools.exec_command({cmd: "echo nested"});\ntext(r.output);\n',
    'const r = await tools.exec_command({cmd: "exit 5"});\ntext(JSON.stringify(r));\n',
    'throw new Error("cell failed");\n',
    'const [a, b] = await Promise.all([tools.exec_command({cmd: "echo a"}),'
    ' tools.exec_command({cmd: "echo b"})]);\ntext(a.output + b.output);\n',
    "const r = await tools.demo_echo ? 1 : 0;\ntext(String(r));\n",
)


#: Codex's MCP resource tools, on the demo server's resources (and ones it lacks).
_RESOURCE_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("list_mcp_resources", {}),
    ("list_mcp_resource_templates", {"server": "demo"}),
    ("read_mcp_resource", {"server": "demo", "uri": "demo://notes"}),
    ("read_mcp_resource", {"server": "demo", "uri": "demo://pixel"}),
    ("read_mcp_resource", {"server": "demo", "uri": "demo://gone"}),
]


def _call_item(rng: random.Random, call_id: str, modes: set[str]) -> dict[str, Any]:
    kinds = ["exec"] * 5 + ["plan", "image", "patch", "unknown", "bad_args"]
    if "code" in modes:
        kinds += ["cell"] * 4
    if "mcp" in modes:
        kinds += ["mcp"] * 3
    kind = rng.choice(kinds)
    if kind == "cell":
        return custom("exec", rng.choice(_CELLS), call_id)
    if kind == "mcp":
        name, arguments = rng.choice(
            [
                ("echo", {"text": "hi ✓"}),
                ("add", {"a": 1, "b": 2}),
                ("add", {"a": "x"}),
                ("pixel", {}),
                ("boom", {}),
                *_RESOURCE_CALLS,
            ]
        )
        if (name, arguments) in _RESOURCE_CALLS:  # Codex's own tools, not the server's
            return call(name, arguments, call_id)
        return {**call(name, arguments, call_id), "namespace": "mcp__demo"}
    if kind == "exec":
        return call("exec_command", rng.choice(_COMMANDS), call_id)
    if kind == "plan":
        steps = [
            {"step": f"s{i}", "status": rng.choice(["pending", "in_progress", "completed"])}
            for i in range(rng.randint(1, 3))
        ]
        return call("update_plan", {"plan": steps}, call_id)
    if kind == "image":
        return call("view_image", {"path": rng.choice(["dot.png", "nope.png"])}, call_id)
    if kind == "patch":
        return custom("apply_patch", rng.choice(_PATCHES), call_id)
    if kind == "unknown":
        return call("no_such_tool", {"x": 1}, call_id)
    return call("exec_command", "{not json", call_id)


def _extras(rng: random.Random, step: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if rng.random() < 0.3:
        summary = [{"type": "summary_text", "text": "thinking " * rng.randint(1, 80)}]
        item: dict[str, Any] = {"type": "reasoning", "id": f"rs_{step}", "summary": summary}
        if rng.random() < 0.5:
            item["encrypted_content"] = "gAAAA" + "x" * rng.randint(0, 50)
        out.append(item)
    if rng.random() < 0.2:
        out.append(
            {
                "type": "web_search_call",
                "id": f"ws_{step}",
                "status": "completed",
                "action": {"type": "search", "query": "q" * rng.randint(1, 30)},
            }
        )
    if rng.random() < 0.4:
        out.append(message("note " * rng.randint(1, 300), phase="commentary"))
    return out


#: A poll of the latest running command (``$SESSION_ID``: the fake's latest session id seen;
#: left as it is, unparsable, when no command is running yet).
_POLL = '{"session_id": $SESSION_ID, "chars": "", "yield_time_ms": 300}'


def _legacy_shell(step: int) -> dict[str, Any]:
    """A legacy ``local_shell_call`` (Codex records it and runs nothing)."""
    action = {"type": "exec", "command": ["echo", f"legacy {step}"], "timeout_ms": 5000}
    return {
        "type": "local_shell_call",
        "call_id": f"ls{step}",
        "status": "completed",
        "action": action,
    }


def _failure(more: random.Random, rule: dict[str, Any], last: bool) -> dict[str, Any]:
    """A rule answering ``rule``'s request once before it, with a failure: one Codex retries
    (HTTP 500, a stream cut after the items, an ``error`` event), or, for the last answer,
    one that ends the turn (``response.incomplete`` / ``response.failed`` after the items)."""
    kinds = ["http_500", "cut", "error"] + ["incomplete", "failed"] * last
    kind = more.choice(kinds)
    failing: dict[str, Any] = {"name": f"fail_{rule['name']}", "match": rule["match"], "times": 1}
    if kind == "http_500":
        failing["http_status"] = 500
        failing["body"] = {"error": {"message": "scripted outage", "type": "server_error"}}
    elif kind == "error":
        failing.update(items=[], end="error", error={"code": "server_error", "message": "boom"})
    else:
        failing.update(items=rule["items"][: more.randint(0, len(rule["items"]))], end=kind)
        if kind == "failed":
            failing["error"] = {"code": "invalid_prompt", "message": "scripted refusal"}
    return failing


def _hook(text: str) -> dict[str, Any]:
    return {"type": "command", "command": text}


def _context_hook(event: str, text: str) -> dict[str, Any]:
    out = json.dumps({"hookSpecificOutput": {"hookEventName": event, "additionalContext": text}})
    return _hook(f"cat > /dev/null; echo '{out}'")


def _random_hooks(rng: random.Random) -> dict[str, Any]:
    """A ``hooks.json``: some of context on prompts and after tools, commands blocked by a
    word, outputs rejected, a Stop hook that sends the first final answer back once."""
    hooks: dict[str, Any] = {}
    if rng.random() < 0.5:
        hooks["UserPromptSubmit"] = [{"hooks": [_context_hook("UserPromptSubmit", "be brief")]}]
    word = rng.choice(["seq", "oops", "echo", "made"])
    hooks["PreToolUse"] = [
        {"matcher": "*", "hooks": [_hook(f"grep -q {word} && {{ echo no >&2; exit 2; }}; exit 0")]}
    ]
    post = rng.choice(["context", "reject", "none"])
    if post == "context":
        hooks["PostToolUse"] = [{"matcher": "*", "hooks": [_context_hook("PostToolUse", "noted")]}]
    elif post == "reject":
        reject = """cat > /dev/null; echo '{"decision": "block", "reason": "no"}'"""
        hooks["PostToolUse"] = [{"matcher": "*", "hooks": [_hook(reject)]}]
    if rng.random() < 0.3:
        again = "grep -q 'final final' || exit 0; grep -q 'once more' && exit 0; echo 'once more' >&2; exit 2"
        hooks["Stop"] = [{"hooks": [_hook(again)]}]
    return {"hooks": hooks}


def _spawn(
    rng: random.Random, step: int, call_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A spawn_agent call and its worker's rules (a command, then an answer)."""
    task = f"w{step}"
    command = rng.choice(_COMMANDS[:6])
    arguments = {"task_name": task, "message": f"CHILD-{step}: work.", "fork_turns": "none"}
    return collab("spawn_agent", arguments, call_id), worker(
        task, command, f"{task}c", f"{task} done"
    )


def random_scenario(seed: int) -> Scenario:
    """The scenario of ``seed`` (the same seed, the same scenario)."""
    rng = random.Random(seed)
    rules: list[dict[str, Any]] = []
    workers: list[dict[str, Any]] = []
    previous: str | None = None
    modes = {mode for mode in ("code", "mcp", "compact") if rng.random() < 0.2}
    modes |= {mode for mode in ("agents", "hooks") if rng.random() < 0.15}
    steps = rng.randint(1, 4)
    more = random.Random(f"more-{seed}")  # the kinds added later, drawn apart
    running = False  # a command left running that a later call may poll
    for step in range(steps):
        items = _extras(rng, step)
        calls = (
            []
            if step == steps - 1
            else [f"c{step}_{k}" for k in range(rng.choice([1, 1, 1, 2, 3]))]
        )
        for k, call_id in enumerate(calls):
            if "agents" in modes and k == 0 and rng.random() < 0.6:
                spawn, its_rules = _spawn(rng, step, call_id)
                items.append(spawn)
                workers += its_rules
            elif "agents" in modes and k == 0 and workers and rng.random() < 0.5:
                items.append(collab("wait_agent", {"timeout_ms": 5000}, call_id))
            else:
                item = _call_item(rng, call_id, modes)
                if running and more.random() < 0.3:
                    item = call("write_stdin", _POLL, call_id)
                running |= "yield_time_ms" in str(item.get("arguments"))
                items.append(item)
        if not calls:
            items.append(message("final " * rng.randint(1, 200), phase="final_answer"))
        match = {"step": 0} if previous is None else {"last_call_id": previous}
        rule: dict[str, Any] = {"name": f"step{step}", "match": match, "items": items}
        if "compact" in modes and step == 0:
            rule["usage"] = {"input_tokens": 9000, "total_tokens": 9100}  # compacts next
        rules.append(rule)
        previous = calls[-1] if calls else None
    _roughen(more, rules)
    new = random.Random(f"new-{seed}")  # the kinds added last (tests.live.random_kinds)
    roughen_calls(new, rules)
    vary_steps(random.Random(f"newer-{seed}"), rules)  # added after those
    fail_workers(random.Random(f"child-{seed}"), workers)  # and after those
    newest = random.Random(f"newest-{seed}")  # and after those (sibling and nested spawns)
    workers[:0] = vary_more(newest, [*rules, *workers])
    rules[:0] = workers  # a sub-agent's requests are told by its task name, first
    extra: tuple[str, ...] = ()
    home_files: dict[str, bytes] = {}
    if "agents" in modes:
        extra += MULTI_AGENT
    if "hooks" in modes:
        home_files["hooks.json"] = json.dumps(_random_hooks(rng)).encode()
        extra += ("--dangerously-bypass-hook-trust",)
    if "code" in modes:
        extra += ("--enable", "code_mode")
    if "mcp" in modes:
        extra += MCP
    if "compact" in modes:
        # the summary request (local compaction) answers with a summary; the request after
        # it holds the summary and none of the first step's call outputs (step 0 again), so
        # the second step answers it (the first step's rule did: Codex compacted again and
        # again until the fake refused its 41st request, and no later step was reached)
        summarize = {
            "name": "summarize",
            "match": {"last_user": "CONTEXT CHECKPOINT COMPACTION"},
            "items": [message("SUMMARY: so far so good.")],
        }
        summarized = [
            {
                "name": "summarized",
                "match": {"any_contains": "SUMMARY: so far so good.", "step": 0},
                "items": rule["items"],
            }
            for rule in rules
            if rule["name"] == "step1"
        ]
        extra += ("-c", "model_auto_compact_token_limit=5000")
        # half of them compact remotely (a compaction item), half of those fail to (HTTP 500)
        remote = random.Random(f"remote-{seed}").choice(["local", "local", "ok", "failed"])
        if remote != "local":
            extra += ("-c", 'model_providers.fake.name="OpenAI"')
            summarize = _remote_compaction(remote == "failed")
            for rule in summarized:  # told by the compaction item, until its calls are answered
                ids = [str(item["call_id"]) for item in rule["items"] if "call_id" in item]
                last = ids[-1] if ids else "no call"
                rule["match"] = {"any_contains": "ENC_RANDOM", "lacks_call_id": last}
        rules[:0] = [summarize, *summarized]
    then: tuple[str, ...] = ()
    if more.random() < 0.2:  # a second turn, in ``codex exec resume``
        then = ("Again: one more.",)
        rules[:0] = [
            {
                "name": "again",
                "match": {"last_user": "Again", "lacks_call_id": "again"},
                "items": [call("exec_command", {"cmd": "echo again"}, "again")],
            },
            after("again", message("again done")),
        ]
    if any(rule["name"].startswith("fail_") for rule in rules):
        # a stream retry, so that Codex records the failed attempt (a request retry is
        # made below the trace, as if the failure never was)
        extra += ("-c", "model_providers.fake.stream_max_retries=1")
    schemas: tuple[int, ...] = (2, 3)
    if rng.random() < 0.25:
        limit = rng.choice([300, 800, 2000])
        extra += ("-c", f"rollout_trace.max_payload_bytes={limit}")
        schemas = (3,)
    # sometimes the sandbox refuses the writes (the commands and patches go on regardless)
    sandbox = "read-only" if rng.random() < 0.15 else "danger-full-access"
    images, budget, schemas = exec_options(new, schemas)
    extra += budget
    if not {"agents", "compact"} & modes:
        rules[:0] = v1_agent(newest, rules)
    with_item_ids(newest, rules)
    edges, files = vary_exec_edges(random.Random(f"edges-{seed}"), rules)  # drawn apart again
    extra += edges + vary_error_codes(random.Random(f"codes-{seed}"), rules)  # and again
    limits = draw_limits(random.Random(f"limits-{seed}"), rules, extra)  # and again
    vary_usage(random.Random(f"usage-{seed}"), rules, extra)  # and again
    if limits:
        extra += limits
        schemas = (3,)
    return Scenario(
        f"random_{seed}",
        "Do what the script says.",
        rules,
        files={"dot.png": PNG, "pic.png": PNG, "notes.txt": b"old line\n", **files},
        images=images,
        home_files=home_files,
        extra=extra,
        schemas=schemas,
        sandbox=sandbox,
        then=then,
    )


def _remote_compaction(failed: bool) -> dict[str, Any]:
    """The answer to a remote compaction's request: a compaction item, or HTTP 500."""
    rule: dict[str, Any] = {"name": "summarize", "match": {"last_type": "compaction_trigger"}}
    if failed:
        rule["http_status"] = 500
        rule["body"] = {"error": {"message": "compaction outage", "type": "server_error"}}
    else:
        rule["items"] = [{"type": "compaction", "encrypted_content": "ENC_RANDOM"}]
    return rule


def _roughen(more: random.Random, rules: list[dict[str, Any]]) -> None:
    """The kinds :func:`random_scenario` added later, drawn from ``more`` into its ``rules``
    (one per model step): a legacy shell call before a step's items, an empty last answer,
    and a failed answer before some steps."""
    for step, rule in enumerate(rules):
        if more.random() < 0.15:
            rule["items"].insert(0, _legacy_shell(step))
    if more.random() < 0.1:
        rules[-1]["items"] = []
    failed = [
        (at, _failure(more, rule, at == len(rules) - 1))
        for at, rule in enumerate(rules)
        if more.random() < 0.15
    ]
    for at, failing in reversed(failed):
        rules.insert(at, failing)


def describe(scenario: Scenario) -> str:
    told = {
        "extra": scenario.extra,
        "images": scenario.images,
        "then": scenario.then,
        "rules": scenario.rules,
    }
    return json.dumps(told)[:3000]


#: The dynamic tool of random app-server sessions (answered by the driver).
_LOOKUP = {
    "type": "function",
    "name": "lookup_ticket",
    "description": "Look up a ticket by id.",
    "inputSchema": {"type": "object", "properties": {"id": {"type": "string"}}},
}


def random_app_scenario(seed: int) -> Scenario:
    """A random ``codex app-server`` session of ``seed``: turns (answered at once, after a
    command, or cut off while a slow command runs; some steered; some leaving a command
    running; with approvals, some asking to run outside the sandbox; with dynamic tools, some
    calling one), manual compactions, forks, reverts, injected items, shell commands,
    background terminals cleaned, samples, queued turns and threads unsubscribed and resumed,
    in random order."""
    rng = random.Random(seed)
    rules: list[dict[str, Any]] = [
        {
            "name": "summarize",
            "match": {"last_user": "CONTEXT CHECKPOINT COMPACTION"},
            "items": [message("SUMMARY: the session so far.")],
        },
        {"name": "sampled", "match": {"any_contains": "SAMPLE"}, "items": [message("sampled")]},
    ]
    setup = rng.choice(["plain", "approvals", "dynamic"])
    new = random.Random(f"new-{seed}")  # the kinds added last (tests.live.random_kinds)
    agents = new.random() < 0.3  # multi-agent v2: some turns spawn a worker and talk to it
    newer = random.Random(f"newer-{seed}")  # added after those (tests.live.random_kinds)
    start: dict[str, Any] = {"op": "start", "experimental": True, "params": {}}
    actions: list[dict[str, Any]] = [start]
    styles = ["answer", "command", "slow_interrupt", "slow_steer", "background"]
    if setup == "approvals":
        start["params"] = {"approvalPolicy": "on-request", "sandbox": "read-only"}
        decisions = [{"decision": rng.choice(["accept", "decline", "cancel"])} for _ in range(4)]
        actions.append(
            {
                "op": "answer",
                "method": "item/commandExecution/requestApproval",
                "results": decisions,
            }
        )
        styles += ["escalated"] * 2
    elif setup == "dynamic":
        start["params"] = {"dynamicTools": [_LOOKUP]}
        answers = [
            {"contentItems": [{"type": "inputText", "text": f"ticket {n}"}], "success": n % 3 > 0}
            for n in range(4)
        ]
        actions.append({"op": "answer", "method": "item/tool/call", "results": answers})
        styles += ["dynamic"] * 2
    turns = 0
    here = 0  # turns of the thread the actions are on (a fork has none; a revert drops one)
    for k in range(rng.randint(2, 6)):
        actions += vary_app_actions(newer, k, setup, rules)
        kind = rng.choice(
            ["turn"] * 5
            + ["compact", "inject", "shell", "queue", "clean"]
            + ["revert", "fork"] * (turns > 0)
            + ["sample", "resume"] * (here > 0)
        )
        if kind == "fork":
            here = 0
        elif kind == "revert":
            here = max(here - 1, 0)
        elif kind in ("turn", "queue"):
            here += 1
        if kind == "clean":  # end the commands left running (a "background" turn's)
            clean = {"threadId": "$THREAD"}
            actions.append(
                {"op": "rpc", "method": "thread/backgroundTerminals/clean", "params": clean}
            )
            continue
        if kind == "sample":
            sample = {"threadId": "$THREAD", "expectedTurnId": "$TURN", "prompt": f"SAMPLE {k}"}
            actions.append({"op": "rpc", "method": "thread/sample", "params": sample})
            continue
        if kind == "queue":
            text = f"Q{k} queued"
            rules.append({"name": f"q{k}", "match": {"last_user": text}, "items": [message(text)]})
            actions.append(
                {"op": "queue", "id": f"q{k}", "input": [{"type": "text", "text": text}]}
            )
            turns += 1
            continue
        if kind == "resume":
            actions.append(
                {"op": "rpc", "method": "thread/unsubscribe", "params": {"threadId": "$THREAD"}}
            )
            actions.append(
                {
                    "op": "rpc",
                    "method": "thread/resume",
                    "params": {"threadId": "$THREAD"},
                    "switch": True,
                }
            )
            continue
        if kind != "turn":
            action: dict[str, Any] = {"op": kind}
            if kind == "inject":
                action["items"] = [
                    {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": f"note {k}"}],
                    }
                ]
            elif kind == "shell":
                action["command"] = rng.choice(["echo shell", "exit 3", "printf 'ü\\n'"])
            actions.append(action)
            continue
        turns += 1
        text, call_id = f"T{k} go", f"t{k}c"
        action = {"op": "turn", "text": text}
        images = app_turn_images(new)
        if images:
            action["images"] = images
        params = turn_params(newer)
        if params:
            action["params"] = params
        style = rng.choice(styles)
        if agents and new.random() < 0.4:
            rules += app_agents_turn(new, k, text, _extras(rng, k))
        elif style in ("escalated", "dynamic"):
            if style == "escalated":
                arguments = {
                    "cmd": f"echo w{k} > w{k}.txt",
                    "sandbox_permissions": "require_escalated",
                }
                asked = call("exec_command", arguments, call_id)
            else:
                asked = call("lookup_ticket", {"id": f"T-{k}"}, call_id)
            rules.append(
                {
                    "name": f"r{k}",
                    "match": {"last_user": text, "lacks_call_id": call_id},
                    "items": [*_extras(rng, k), asked],
                }
            )
            rules.append(after(call_id, message(f"done {k}")))
        elif style == "answer":
            rules.append(
                {
                    "name": f"r{k}",
                    "match": {"last_user": text},
                    "items": [*_extras(rng, k), message(f"answer {k}")],
                }
            )
        else:
            cmd = {
                "command": {"cmd": "echo quick"},
                "background": {"cmd": "sleep 20", "yield_time_ms": 300},  # left running
            }.get(style, {"cmd": "sleep 2; echo slow"})
            rules.append(
                {
                    "name": f"r{k}",
                    "match": {"last_user": text, "lacks_call_id": call_id},
                    "items": [*_extras(rng, k), call("exec_command", cmd, call_id)],
                }
            )
            rules.append(after(call_id, message(f"done {k}")))
            if style == "slow_interrupt":
                action["interrupt_after"] = 0.4
            elif style == "slow_steer":
                action["steer_after"] = 0.3
                action["steer"] = f"S{k} more"
                rules.insert(
                    1,
                    {
                        "name": f"s{k}",
                        "match": {"last_user": f"S{k} more"},
                        "items": [message(f"steered {k}")],
                    },
                )
        actions.append(action)
    if not turns:
        actions.append({"op": "turn", "text": "last go"})
    code = app_cells(random.Random(f"cells-{seed}"), rules)  # drawn apart, as the kinds above
    with_item_ids(random.Random(f"newest-{seed}"), rules)
    code += vary_app_edges(random.Random(f"edges-{seed}"), setup, actions, rules)  # and again
    code += vary_error_codes(random.Random(f"codes-{seed}"), rules, app=True)
    limits = draw_limits(random.Random(f"limits-{seed}"), [*rules, *actions], code)
    vary_usage(random.Random(f"usage-{seed}"), rules, code)
    return Scenario(
        f"random_app_{seed}",
        "",
        rules,
        files={"dot.png": PNG, "pic.png": PNG},
        extra=(MULTI_AGENT if agents else ()) + code + limits,
        app_server=tuple(actions),
        schemas=(3,) if limits else (2, 3),
    )
