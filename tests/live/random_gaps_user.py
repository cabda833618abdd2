"""Kinds of real Codex bundle for :mod:`tests.live.test_codex_gaps` (``GAPS_USER_EXAMPLES``) that
come from how a user starts ``codex exec`` rather than from what the model answers, none of
which a live generator made before: ``codex exec review`` (uncommitted changes, a commit, a base
branch or the user's own instructions; the reviewer answering a JSON verdict, prose, a command
first, or failing), after which the session may be resumed (Codex records the review's turn end
and tool runtimes in the parent's bundle as well, which both reducers then refuse alike); the
context a user gives (an ``AGENTS.md`` in the workspace and in ``CODEX_HOME``, up to hundreds of
KB and past ``project_doc_max_bytes``, the environment and permissions texts the other scenarios
turn off switched back on by a later ``-c``, ``developer_instructions``, a profile file,
reasoning effort and summary, a prompt piped on stdin, ``--json`` with
``--output-last-message``, a git repository, ``--worktree``); escalations
(``sandbox_permissions`` with a ``justification`` and a ``prefix_rule``) under each approval
policy and sandbox, with the auto-reviewer (``approvals_reviewer``, as ``--approve-for-me`` sets
it, which may not be given with ``-s``: its own bundle, answering allow, deny or prose) or
``--add-dir``; and features still under development (a new context window, the clock,
permissions asked for, the command sessions' state) with the tools they add called. A seed picks
its kind (``seed % len(KINDS)``)."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import attrs

from tests.live.random_gaps import FILES
from tests.live.script import HIGH_USAGE, SMALL_CONTEXT, Scenario, after, call, custom, message

_VERDICT = {
    "findings": [
        {
            "title": "[P1] Uncommitted line",
            "body": "The line added to notes.txt is not committed.",
            "confidence_score": 0.8,
            "priority": 1,
            "code_location": {
                "absolute_file_path": "$WORKSPACE/notes.txt",
                "line_range": {"start": 1, "end": 2},
            },
        }
    ],
    "overall_correctness": "patch is incorrect",
    "overall_explanation": "One finding.",
    "overall_confidence_score": 0.7,
}
_CLEAN = {**_VERDICT, "findings": [], "overall_correctness": "patch is correct"}
_TARGETS = (
    ("--uncommitted",),
    ("--commit", "HEAD"),
    ("--base", "main"),
    ("Review notes.txt for typos.",),
    ("--uncommitted", "--title", "Notes ✓"),
)


def _review(rng: random.Random) -> Scenario:
    """``codex exec review`` of a git workspace: the reviewer (a thread of its own) runs a
    command or two first now and then, then answers a verdict, prose or an empty text, or its
    request fails; the session resumed after it now and then."""
    target = rng.choice(_TARGETS)
    rules: list[dict[str, Any]] = []
    last = ""
    for n in range(rng.choice([0, 0, 1, 2])):
        cmd = rng.choice(["git diff", "git status --short", "cat notes.txt", "git log -1"])
        item = call("exec_command", {"cmd": cmd}, f"rv{n}")
        match = {"lacks_call_id": f"rv{n}", "any_contains": "review"}
        rules.append({"name": f"rv{n}", "match": match, "items": [item]})
        if last:
            rules[-1]["match"]["has_call_id"] = last
        last = f"rv{n}"
    answer = rng.choice(["verdict", "verdict", "clean", "prose", "empty", "failed"])
    texts = {
        "verdict": json.dumps(_VERDICT),
        "clean": json.dumps(_CLEAN),
        "prose": "Looks fine to me, nothing to flag.",
        "empty": "",
    }
    final: dict[str, Any] = {"name": "verdict", "match": {"lacks_call_id": "after_review"}}
    if answer == "failed":
        final["end"] = "failed"
        final["items"] = []
    else:
        final["items"] = [message(texts[answer])]
    if last:
        final["match"]["last_call_id"] = last
    then: tuple[str, ...] = ()
    if rng.random() < 0.4:  # the user goes on in the reviewed session
        then = ("Fix what the review found.",)
        rules.insert(0, after("after_review", message("Fixed.")))
        fix = call("exec_command", {"cmd": "git diff --stat"}, "after_review")
        rules.insert(0, {"name": "fix", "match": {"last_user": "Fix what"}, "items": [fix]})
        rules[0]["match"]["lacks_call_id"] = "after_review"
    rules.append(final)
    return Scenario("review", "", rules, git=True, review=target, then=then)


def _agents_md(rng: random.Random) -> str:
    """An ``AGENTS.md`` of 200 bytes to 300 KB, some of it not ASCII."""
    line = rng.choice(["- Run the tests first.\n", "- Prefer small commits ✓ 日本語.\n"])
    return "# House rules\n\n" + line * (rng.choice([8, 400, 4000, 12000]))


def _user_context(rng: random.Random) -> Scenario:
    """A session under the context a user sets up, then a command and an answer (resumed now
    and then, in the same context)."""
    files = {"AGENTS.md": _agents_md(rng).encode()}
    home: dict[str, bytes] = {}
    extra: list[str] = []
    if rng.random() < 0.5:
        home["AGENTS.md"] = _agents_md(rng).encode()
    for setting, chance in (
        ("include_environment_context=true", 0.6),
        ("include_permissions_instructions=true", 0.5),
        (f"project_doc_max_bytes={rng.choice([0, 100, 4096, 65536])}", 0.4),
        ('developer_instructions="Answer briefly. ✓"', 0.4),
        (f'model_reasoning_effort="{rng.choice(["minimal", "low", "high", "xhigh"])}"', 0.5),
        (f'model_reasoning_summary="{rng.choice(["auto", "concise", "detailed", "none"])}"', 0.3),
        ('model_verbosity="low"', 0.2),
    ):
        if rng.random() < chance:
            extra += ["-c", setting]
    if rng.random() < 0.3:
        home["work.config.toml"] = b'model_reasoning_effort = "low"\n'
        extra += ["-p", "work"]
    if rng.random() < 0.4:
        extra += ["--json", "-o", "$WORKSPACE/last.txt"]
    stdin = b"piped context line\n" * rng.choice([1, 50]) if rng.random() < 0.4 else None
    rules: list[dict[str, Any]] = [
        {
            "name": "u0",
            "match": {"lacks_call_id": "u0c"},
            "items": [call("exec_command", {"cmd": "head -c 80 AGENTS.md"}, "u0c")],
        },
        after("u0c", message("Read the rules.")),
    ]
    git = rng.random() < 0.5
    if git and rng.random() < 0.4:  # the session in a managed worktree of the repository
        extra.append("--worktree")
    then: tuple[str, ...] = ()
    if rng.random() < 0.3:
        then = ("And again.",)
        rules.insert(0, {"name": "u1", "match": {"last_user": "And again"}, "items": []})
        rules[0]["items"] = [message("Again, done.")]
    return Scenario(
        "user_context",
        "Follow the house rules.",
        rules,
        files=files,
        home_files=home,
        extra=tuple(extra),
        then=then,
        git=git,
        stdin=stdin,
    )


#: the guardian's assessments when ``--approve-for-me`` routes an approval to it
_GUARDIAN = (
    '{"outcome": "allow", "risk_level": "low", "rationale": "a small write"}',
    '{"outcome": "deny", "risk_level": "high", "rationale": "not asked for"}',
    "cannot say",
)
_POLICIES = ("never", "on-request", "on-failure")


def _escalations(rng: random.Random) -> Scenario:
    """Calls asking to leave the sandbox (with a justification, a prefix rule), writes outside
    the workspace and a patch, under a drawn sandbox and approval policy, answered by the
    auto-reviewer now and then."""
    sandbox = rng.choice(["read-only", "workspace-write", "danger-full-access"])
    extra: list[str] = ["-c", f'approval_policy="{rng.choice(_POLICIES)}"']
    rules: list[dict[str, Any]] = []
    if rng.random() < 0.5:
        # ``--approve-for-me`` says this, but may not be given with ``-s``
        extra += ["-c", 'approvals_reviewer="auto_review"']
        verdict = rng.choice(_GUARDIAN)
        asked = {"any_contains": "APPROVAL REQUEST START"}
        rules.append({"name": "guardian", "match": asked, "items": [message(verdict)]})
    if rng.random() < 0.3:
        extra += ["--add-dir", "/tmp"]
    escalated: dict[str, Any] = {
        "cmd": "echo esc > ../outside.txt; cat ../outside.txt",
        "sandbox_permissions": "require_escalated",
        "justification": rng.choice(["write a file beside the workspace", "", "✓ needed"]),
    }
    if rng.random() < 0.5:
        escalated["prefix_rule"] = ["echo", "esc"]
    patch = "*** Begin Patch\n*** Add File: ../patched.txt\n+outside\n*** End Patch\n"
    calls = [
        call("exec_command", escalated, "e1"),
        call("exec_command", {"cmd": "touch inside.txt && ls"}, "e2"),
        custom("apply_patch", patch, "e3"),
        call(
            "exec_command",
            {"cmd": "echo x > /tmp/x_live.txt", "with_escalated_permissions": True},
            "e4",
        ),
    ]
    rng.shuffle(calls)
    chosen = calls[: rng.randint(1, 4)]
    if rng.random() < 0.4:  # all in one answer
        rules.append({"name": "e", "match": {"step": 0}, "items": chosen})
    else:
        rules.append({"name": "e", "match": {"step": 0}, "items": [chosen[0]]})
        for before, item in itertools.pairwise(chosen):
            rules.append(after(str(before["call_id"]), item))
    rules.append(after(str(chosen[-1]["call_id"]), message("Escalations done.")))
    return Scenario("escalations", "Write outside.", rules, extra=tuple(extra), sandbox=sandbox)


#: features still under development in both Codex versions that change what a turn sends or
#: records (the tools of some are called below)
_FEATURES = (
    "request_permissions_tool",
    "context_management",
    "token_budget",
    "current_time_reminder",
    "executed_tool_call_metadata",
    "command_sessions_world_state",
    "async_compaction",
    "concurrent_reasoning_summaries",
    "output_token_replay",
    "apply_patch_streaming_events",
    "cwd_relative_turn_diffs",
    "incremental_exec_tools",
    "exec_permission_approvals",
    "retain_client_developer_messages",
    "model_catalog_in_context",
)
_PERMISSIONS: tuple[dict[str, Any], ...] = (
    {"permissions": {"file_system": {"write": ["/tmp/live_perm"]}}},
    {"permissions": {"network": {"enabled": True}}, "justification": "fetch ✓"},
    {"permissions": {}},
)
_REASONING = {
    "type": "reasoning",
    "summary": [{"type": "summary_text", "text": "Thinking it over."}],
    "encrypted_content": "opaque",
}


def _feature_call(rng: random.Random, n: int) -> dict[str, Any]:
    """One call of a tool the drawn features add (or an ordinary one beside them)."""
    call_id = f"ft{n}"
    pick = rng.choice(["new", "remaining", "clock", "permissions", "command", "patch", "poll"])
    if pick == "new":
        return call("new_context", {}, call_id)
    if pick == "remaining":
        return call("get_context_remaining", {}, call_id)
    if pick == "clock":
        return {**call("curr_time", {}, call_id), "namespace": "clock"}
    if pick == "permissions":
        return call("request_permissions", rng.choice(_PERMISSIONS), call_id)
    if pick == "patch":
        patch = f"*** Begin Patch\n*** Add File: ft{n}.txt\n+feature\n*** End Patch\n"
        return custom("apply_patch", patch, call_id)
    if pick == "poll":
        return call("exec_command", {"cmd": "sleep 0.3; echo slow", "yield_time_ms": 50}, call_id)
    return call("exec_command", {"cmd": f"echo feature {n}"}, call_id)


def _features(rng: random.Random) -> Scenario:
    """A session with a few of :data:`_FEATURES` on (and a stable one off now and then): two to
    five steps calling the tools they add (a new context window, the tokens left, the clock,
    permissions asked for) among commands and patches, reasoning before some; compacted now
    and then."""
    extra: list[str] = []
    for feature in rng.sample(_FEATURES, rng.randint(2, 6)):
        extra += ["--enable", feature]
    if rng.random() < 0.5:  # the tools of context_management come with token_budget
        extra += ["--enable", "context_management", "--enable", "token_budget"]
    if rng.random() < 0.2:
        extra += ["--disable", rng.choice(["apps", "goals", "shell_snapshot", "view_image"])]
    steps = []
    for n in range(rng.randint(2, 5)):
        items = [_feature_call(rng, n)]
        if rng.random() < 0.3:
            items.insert(0, dict(_REASONING))
        steps.append(items)
    rules: list[dict[str, Any]] = []
    if rng.random() < 0.25:
        extra += list(SMALL_CONTEXT)
        rules.append(
            {
                "name": "summarize",
                "match": {"last_user": "CONTEXT CHECKPOINT COMPACTION"},
                "items": [message("SUMMARY: features ran.")],
            }
        )
    first_id = str(steps[0][-1]["call_id"])
    # once: a new context window (or a compaction) starts the input over, as at step 0
    opening = {"name": "ft", "match": {"step": 0, "lacks_call_id": first_id}, "times": 1}
    opening["items"] = steps[0]
    if extra.count("model_auto_compact_token_limit=5000"):
        opening["usage"] = HIGH_USAGE
    rules.append(opening)
    for before, items in itertools.pairwise(steps):
        rules.append(after(str(before[-1]["call_id"]), *items))
    rules.append(after(str(steps[-1][-1]["call_id"]), message("Features done.")))
    return Scenario("features", "Use the new tools.", rules, extra=tuple(extra))


_APP_TARGETS = (
    {"type": "uncommittedChanges"},
    {"type": "baseBranch", "branch": "main"},
    {"type": "commit", "sha": "HEAD", "title": "base ✓"},
    {"type": "custom", "instructions": "Review notes.txt."},
)
#: what a client may set on a turn it starts (each drawn now and then)
_TURN_SETTINGS = (
    ("effort", ("low", "high", "xhigh")),
    ("summary", ("auto", "concise", "detailed", "none")),
    ("personality", ("none", "friendly", "pragmatic")),
    ("serviceTier", ("flex", "default")),
    ("serviceTierForTurn", ("default",)),
    ("cwd", ("/tmp", "$WORKSPACE")),
    ("turnTrigger", ("automation", "user")),
)
#: a client's tool output starting a turn (no input beside it)
_TOOL_OUTPUTS = (
    {"name": "lookup", "output": "42 ✓", "retain": True},
    {"name": "lookup", "output": "forgotten", "retain": False},
    {"name": "find", "namespace": "crm", "output": [{"type": "input_text", "text": "acme"}]},
    {"name": "empty", "output": ""},
)


def _app_turns(rng: random.Random) -> Scenario:
    """A thread in a git workspace whose turns a client starts as users' clients do: with the
    settings it may give a turn (effort, summary, personality, service tier, a working
    directory, a trigger), on behalf of an earlier turn (``parentTurnId`` / ``rootTurnId``),
    from a tool output of its own (kept in the history or not), and reviews of the workspace
    (uncommitted changes, a base branch, a commit, instructions) between them."""
    actions: list[dict[str, Any]] = [{"op": "turn", "text": "T0 begin"}]
    rules: list[dict[str, Any]] = []
    reviews: list[dict[str, Any]] = []
    for k in range(rng.randint(2, 5)):
        how = rng.choice(["turn", "turn", "chained", "tool_output", "review"])
        if how == "review":
            actions.append({"op": "review", "target": rng.choice(_APP_TARGETS)})
            if not reviews:  # the reviewer: a verdict, prose or a command first
                answer = rng.choice([json.dumps(_VERDICT), json.dumps(_CLEAN), "Fine."])
                reviews.append({"name": "rv", "match": {"any_contains": "review"}})
                reviews[-1]["items"] = [message(answer)]
            continue
        params: dict[str, Any] = {}
        if how == "tool_output":
            params = {"input": [], "toolOutput": rng.choice(_TOOL_OUTPUTS)}
        else:
            text = f"T{k + 1} work"
            params["input"] = [{"type": "text", "text": text}]
            for key, values in _TURN_SETTINGS:
                if rng.random() < 0.3:
                    params[key] = rng.choice(values)
            item = call("exec_command", {"cmd": f"pwd; echo t{k + 1}"}, f"t{k + 1}c")
            rule = {
                "name": f"t{k + 1}",
                "match": {"last_user": text, "lacks_call_id": f"t{k + 1}c"},
            }
            rules += [{**rule, "items": [item]}, after(f"t{k + 1}c", message(f"T{k + 1} done"))]
        if how == "chained":
            params["parentTurnId"] = "$TURN"
            params["rootTurnId"] = "$TURN"
        rpc = {"threadId": "$THREAD", **params}
        actions.append({"op": "rpc", "method": "turn/start", "params": rpc, "wait_turn": True})
    rules.insert(
        0, {"name": "t0", "match": {"last_user": "T0 begin"}, "items": [message("Begun.")]}
    )
    # last: a reviewed thread's later requests hold the review's text too
    return Scenario("app_turns", "", [*rules, *reviews], app_server=tuple(actions), git=True)


KINDS = {
    "review": _review,
    "user_context": _user_context,
    "escalations": _escalations,
    "features": _features,
}


def user_gap_scenario(seed: int) -> Scenario:
    """The ``codex exec`` scenario of ``seed``: kind ``seed % len(KINDS)``, drawn from it."""
    kind = list(KINDS)[seed % len(KINDS)]
    made = KINDS[kind](random.Random(seed))
    return attrs.evolve(made, name=f"user_{kind}_{seed}", files={**FILES, **made.files})


APP_KINDS = {"app_turns": _app_turns}


def user_gap_app_scenario(seed: int) -> Scenario:
    """The ``codex app-server`` scenario of ``seed``: kind ``seed % len(APP_KINDS)``."""
    kind = list(APP_KINDS)[seed % len(APP_KINDS)]
    made = APP_KINDS[kind](random.Random(seed))
    return attrs.evolve(made, name=f"user_{kind}_{seed}", files={**FILES, **made.files})
