"""Live scenarios where something outside the model decides what a tool call may do: the
sandbox, approvals answered by the client (accept, decline, cancel) or by Codex's
auto-reviewer, and hooks (``hooks.json`` in CODEX_HOME) that add context, block a call or
continue a turn."""

from __future__ import annotations

import json
from typing import Any

from tests.live.script import Scenario, after, call, custom, first, message


def _escalated(cmd: str, call_id: str) -> dict[str, Any]:
    """An exec_command call asking to run outside the sandbox (so it needs an approval)."""
    arguments = {"cmd": cmd, "sandbox_permissions": "require_escalated", "justification": "write"}
    return call("exec_command", arguments, call_id)


def _patch(name: str, text: str) -> str:
    return f"*** Begin Patch\n*** Add File: {name}\n+{text}\n*** End Patch\n"


def _context(event: str, text: str) -> dict[str, Any]:
    """A hook command that adds ``text`` to the model's context."""
    out = json.dumps({"hookSpecificOutput": {"hookEventName": event, "additionalContext": text}})
    return {"type": "command", "command": f"cat > /dev/null; echo '{out}'"}


def _command(text: str) -> dict[str, Any]:
    return {"type": "command", "command": text}


#: Context at session start, prompt and after each tool; a tool call naming "forbidden" is
#: blocked before it runs.
_HOOKS = {
    "hooks": {
        "SessionStart": [{"hooks": [_context("SessionStart", "session note")]}],
        "UserPromptSubmit": [{"hooks": [_context("UserPromptSubmit", "prompt note")]}],
        "PreToolUse": [
            {
                "matcher": "*",
                "hooks": [_command("grep -q forbidden && { echo blocked >&2; exit 2; }; exit 0")],
            }
        ],
        "PostToolUse": [{"matcher": "*", "hooks": [_context("PostToolUse", "post note")]}],
        "Stop": [{"hooks": [_command("cat > /dev/null; exit 0")]}],
    }
}
#: The turn's first answer is sent back once by the Stop hook; every tool output is rejected.
_HOOKS_CONTINUE = {
    "hooks": {
        "Stop": [
            {
                "hooks": [
                    _command("grep -q 'First answer' || exit 0; echo 'check again' >&2; exit 2")
                ]
            }
        ],
        "PostToolUse": [
            {
                "matcher": "*",
                "hooks": [
                    _command("""cat > /dev/null; echo '{"decision": "block", "reason": "no"}'""")
                ],
            }
        ],
    }
}
_TRUST_HOOKS = ("--dangerously-bypass-hook-trust",)
_APPROVALS = {"approvalPolicy": "on-request", "sandbox": "read-only"}

POLICY_SCENARIOS = [
    Scenario(
        "exec_read_only_sandbox",
        "Write.",
        [
            # writes the sandbox refuses; an escalation with no one to approve it (exec never
            # asks); a patch outside the workspace
            first(call("exec_command", {"cmd": "echo x > /etc/x.txt; touch out.txt"}, "sb1")),
            after("sb1", _escalated("echo y > y.txt", "sb2")),
            after("sb2", custom("apply_patch", _patch("../outside.txt", "x"), "sb3")),
            after("sb3", message("The sandbox held.")),
        ],
        sandbox="read-only",
    ),
    Scenario(
        "app_server_exec_approved_then_declined",
        "",
        [
            {
                "name": "t1",
                "match": {"last_user": "write files", "lacks_call_id": "call_apr1"},
                "items": [_escalated("echo one > one.txt", "call_apr1")],
            },
            after("call_apr1", _escalated("echo two > two.txt", "call_apr2")),
            after("call_apr2", message("One written, two declined.")),
        ],
        app_server=(
            {"op": "start", "params": _APPROVALS},
            {
                "op": "answer",
                "method": "item/commandExecution/requestApproval",
                "results": [{"decision": "accept"}, {"decision": "decline"}],
            },
            {"op": "turn", "text": "write files"},
        ),
    ),
    Scenario(
        "app_server_approval_cancels_the_turn",
        "",
        [
            {
                "name": "t1",
                "match": {"last_user": "cancel me", "lacks_call_id": "call_cnl1"},
                "items": [_escalated("echo c > c.txt", "call_cnl1")],
            },
            after("call_cnl1", message("Not reached.")),
            {"name": "t2", "match": {"last_user": "after"}, "items": [message("Fine.")]},
        ],
        app_server=(
            {"op": "start", "params": _APPROVALS},
            {
                "op": "answer",
                "method": "item/commandExecution/requestApproval",
                "results": [{"decision": "cancel"}],
            },
            {"op": "turn", "text": "cancel me"},
            {"op": "turn", "text": "after"},
        ),
    ),
    Scenario(
        "app_server_patch_declined_then_accepted",
        "",
        [
            {
                "name": "t1",
                "match": {"last_user": "patch it", "lacks_call_id": "call_pat1"},
                "items": [custom("apply_patch", _patch("new.txt", "hello"), "call_pat1")],
            },
            after("call_pat1", custom("apply_patch", _patch("other.txt", "bye"), "call_pat2")),
            after("call_pat2", message("Patched after one refusal.")),
        ],
        app_server=(
            {"op": "start", "params": {"approvalPolicy": "untrusted", "sandbox": "read-only"}},
            {
                "op": "answer",
                "method": "item/fileChange/requestApproval",
                "results": [{"decision": "decline"}, {"decision": "accept"}],
            },
            {"op": "turn", "text": "patch it"},
        ),
    ),
    # the auto-reviewer is a rollout of its own: two bundles
    Scenario(
        "app_server_auto_review",
        "",
        [
            {
                "name": "t1",
                "match": {"last_user": "guarded write", "lacks_call_id": "call_grd1"},
                "items": [_escalated("echo g > g.txt", "call_grd1")],
            },
            after("call_grd1", message("Guarded write handled.")),
        ],
        app_server=(
            {"op": "start", "params": {**_APPROVALS, "approvalsReviewer": "auto_review"}},
            {"op": "turn", "text": "guarded write"},
        ),
    ),
    Scenario(
        "hooks_add_context_and_block_tools",
        "Run things.",
        [
            {
                "name": "t1",
                "match": {"step": 0},
                "items": [call("exec_command", {"cmd": "echo allowed"}, "call_hk1")],
            },
            after("call_hk1", call("exec_command", {"cmd": "echo forbidden"}, "call_hk2")),
            after("call_hk2", custom("apply_patch", _patch("forbidden.txt", "x"), "call_hk3")),
            after("call_hk3", message("Hooks done.")),
        ],
        home_files={"hooks.json": json.dumps(_HOOKS).encode()},
        extra=_TRUST_HOOKS,
    ),
    Scenario(
        "hooks_stop_continues_and_outputs_rejected",
        "Run once.",
        [
            {
                "name": "t1",
                "match": {"step": 0},
                "items": [call("exec_command", {"cmd": "echo once"}, "call_hs1")],
            },
            after("call_hs1", message("First answer.")),
            {
                "name": "again",
                "match": {"any_contains": "check again"},
                "items": [message("Checked again.")],
                "times": 1,
            },
        ],
        home_files={"hooks.json": json.dumps(_HOOKS_CONTINUE).encode()},
        extra=_TRUST_HOOKS,
    ),
]
