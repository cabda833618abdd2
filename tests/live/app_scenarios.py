"""Live scenarios driven through ``codex app-server`` (``tests.live.app_server``): forks,
steering, injected items, shell commands, manual compaction, review, revert, the client's own
(dynamic) tools, plan mode's questions, image inputs and a structured output."""

from __future__ import annotations

import base64
from typing import Any

from tests.live.script import (
    ASK_SCOPE,
    CRM_TOOLS,
    MCP,
    PNG,
    TICKET_TOOLS,
    Scenario,
    after,
    call,
    mcp,
    message,
    object_schema,
)


def _namespaced(namespace: str, name: str, arguments: str, call_id: str) -> dict[str, Any]:
    call_item = {"type": "function_call", "name": name, "arguments": arguments, "call_id": call_id}
    return {**call_item, "namespace": namespace}


#: Tools the app-server client runs itself (``item/tool/call``): a plain one, one in a
#: namespace, and a deferred one the model finds through tool_search.
_LOOKUP = {
    "type": "function",
    "name": "lookup_ticket",
    "description": "Look up a ticket by id.",
    "inputSchema": object_schema(id="string"),
}


def _answer(text: str, success: bool = True, image: str | None = None) -> dict[str, Any]:
    """A client's answer to a dynamic tool call."""
    items: list[dict[str, Any]] = [{"type": "inputText", "text": text}]
    if image is not None:
        items.append({"type": "inputImage", "imageUrl": image})
    return {"contentItems": items, "success": success}


_PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()

APP_SERVER_SCENARIOS = [
    Scenario(
        "app_server_fork_then_turn_on_the_fork",
        "",
        [
            {
                "name": "t1",
                "match": {"last_user": "base turn", "lacks_call_id": "b1"},
                "items": [call("exec_command", {"cmd": "echo base"}, "b1")],
            },
            after("b1", message("Base done.")),
            {
                "name": "t2",
                "match": {"last_user": "on the fork"},
                "items": [message("Answered on the fork.")],
            },
        ],
        app_server=(
            {"op": "turn", "text": "base turn"},
            {"op": "fork"},
            {"op": "turn", "text": "on the fork"},
        ),
    ),
    Scenario(
        "app_server_steer_a_running_turn",
        "",
        [
            {
                "name": "t1",
                "match": {"last_user": "slow turn", "lacks_call_id": "s1"},
                "items": [call("exec_command", {"cmd": "sleep 1; echo slow"}, "s1")],
            },
            {
                "name": "steered",
                "match": {"any_contains": "also say hi"},
                "items": [message("Saying hi as steered.")],
            },
            after("s1", message("Slow done.")),
        ],
        app_server=(
            {"op": "turn", "text": "slow turn", "steer_after": 0.3, "steer": "also say hi"},
        ),
    ),
    Scenario(
        "app_server_inject_and_shell_then_turn",
        "",
        [
            {
                "name": "t1",
                "match": {"last_user": "after injection"},
                "items": [message("Saw the injected items.")],
            },
        ],
        app_server=(
            {
                "op": "inject",
                "items": [
                    {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "injected note"}],
                    },
                    {
                        "type": "message",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": "injected answer"}],
                    },
                ],
            },
            {"op": "shell", "command": "echo from-shell"},
            {"op": "turn", "text": "after injection"},
        ),
    ),
    Scenario(
        "app_server_manual_compaction_twice",
        "",
        [
            {
                "name": "summarize",
                "match": {"last_user": "CONTEXT CHECKPOINT COMPACTION"},
                "items": [message("SUMMARY: two turns so far.")],
            },
            {
                "name": "t1",
                "match": {"last_user": "first", "lacks_call_id": "m1"},
                "items": [call("exec_command", {"cmd": "echo first"}, "m1")],
            },
            after("m1", message("First done.")),
            {"name": "t2", "match": {"last_user": "second"}, "items": [message("Second done.")]},
        ],
        app_server=(
            {"op": "turn", "text": "first"},
            {"op": "compact"},
            {"op": "turn", "text": "second"},
            {"op": "compact"},
        ),
    ),
    Scenario(
        "app_server_revert_then_turn",
        "",
        [
            {
                "name": "t1",
                "match": {"last_user": "keep this"},
                "items": [message("Kept.")],
            },
            {
                "name": "t2",
                "match": {"last_user": "undo this", "lacks_call_id": "u1"},
                "items": [call("exec_command", {"cmd": "echo undone"}, "u1")],
            },
            after("u1", message("Will be reverted.")),
            {"name": "t3", "match": {"last_user": "after revert"}, "items": [message("Reverted.")]},
        ],
        app_server=(
            {"op": "turn", "text": "keep this"},
            {"op": "turn", "text": "undo this"},
            {"op": "revert"},
            {"op": "turn", "text": "after revert"},
        ),
    ),
    Scenario(
        "app_server_interrupt_then_fork",
        "",
        [
            {
                "name": "t1",
                "match": {"last_user": "long", "lacks_call_id": "l1"},
                "items": [call("exec_command", {"cmd": "sleep 5; echo late"}, "l1")],
            },
            {"name": "t2", "match": {"last_user": "forked after"}, "items": [message("Fork ok.")]},
        ],
        app_server=(
            {"op": "turn", "text": "long", "interrupt_after": 0.5},
            {"op": "fork"},
            {"op": "turn", "text": "forked after"},
        ),
    ),
    Scenario(
        "app_server_named_thread_model_switch_and_direct_mcp_call",
        "",
        [
            {"name": "t1", "match": {"last_user": "first"}, "items": [message("First.")]},
            {
                "name": "t2",
                "match": {"last_user": "second", "lacks_call_id": "m2"},
                "items": [mcp("echo", {"text": "in a turn"}, "m2")],
            },
            after("m2", message("Second.")),
        ],
        app_server=(
            {
                "op": "rpc",
                "method": "thread/name/set",
                "params": {"threadId": "$THREAD", "name": "Named"},
            },
            {"op": "turn", "text": "first", "params": {"effort": "high"}},
            {
                "op": "rpc",
                "method": "mcpServer/tool/call",
                "params": {
                    "threadId": "$THREAD",
                    "server": "demo",
                    "tool": "add",
                    "arguments": {"a": 1, "b": 2},
                },
            },
            {"op": "turn", "text": "second", "params": {"model": "gpt-5.5", "effort": "low"}},
        ),
        extra=MCP,
    ),
    Scenario(
        "app_server_review",
        "",
        [
            {
                "name": "review",
                "match": {"any_contains": "Review the notes"},
                "items": [message('{"findings": [], "overall_correctness": "patch is correct"}')],
            },
        ],
        app_server=({"op": "review", "instructions": "Review the notes file."},),
        files={"notes.txt": b"a note\n"},
    ),
    Scenario(  # a turn moves the thread out of the git workspace: Codex refuses the
        # base-branch review with an error and ends no turn (found by live47, seed 343410)
        "app_server_review_outside_git",
        "",
        [
            {"name": "moved", "match": {"last_user": "move"}, "items": [message("moved")]},
            {"name": "after", "match": {"last_user": "after"}, "items": [message("went on")]},
        ],
        app_server=(
            {"op": "turn", "text": "move", "params": {"cwd": "/tmp"}},
            {"op": "review", "target": {"type": "baseBranch", "branch": "main"}},
            {"op": "turn", "text": "after"},
        ),
        git=True,
    ),
    Scenario(
        "app_server_dynamic_tools",
        "",
        [
            {
                "name": "t1",
                "match": {"last_user": "look it up", "lacks_call_id": "call_dyn1"},
                "items": [call("lookup_ticket", {"id": "T-1"}, "call_dyn1")],
            },
            after("call_dyn1", call("lookup_ticket", {"id": "T-404"}, "call_dyn2")),
            after("call_dyn2", message("T-1 is open; T-404 does not exist.")),
        ],
        app_server=(
            {"op": "start", "experimental": True, "params": {"dynamicTools": [_LOOKUP]}},
            {
                "op": "answer",
                "method": "item/tool/call",
                "results": [
                    _answer("ticket T-1 is open"),
                    _answer("no such ticket", success=False, image=_PNG_URL),
                ],
            },
            {"op": "turn", "text": "look it up"},
        ),
    ),
    Scenario(
        "app_server_dynamic_namespace_and_deferred_tool",
        "",
        [
            {
                "name": "t1",
                "match": {"last_user": "crm work", "lacks_call_id": "call_ns1"},
                "items": [_namespaced("crm", "find_customer", '{"q": "acme"}', "call_ns1")],
            },
            after(
                "call_ns1",
                {
                    "type": "tool_search_call",
                    "call_id": "call_ts1",
                    "status": "completed",
                    "execution": "client",
                    "arguments": {"query": "archive ticket"},
                },
            ),
            after(
                "call_ts1", _namespaced("tickets", "archive_ticket", '{"id": "T-9"}', "call_arc1")
            ),
            after("call_arc1", message("CRM done.")),
        ],
        app_server=(
            {
                "op": "start",
                "experimental": True,
                "params": {"dynamicTools": [CRM_TOOLS, TICKET_TOOLS]},
            },
            {"op": "answer", "method": "item/tool/call", "results": [_answer("acme: customer 7")]},
            {"op": "turn", "text": "crm work"},
        ),
    ),
    Scenario(
        "app_server_plan_mode_asks_the_user",
        "",
        [
            {
                "name": "t1",
                "match": {"last_user": "plan with me", "lacks_call_id": "call_ask1"},
                "items": [call("request_user_input", ASK_SCOPE, "call_ask1")],
            },
            after("call_ask1", message("<proposed_plan>\n1. API\n2. UI\n</proposed_plan>")),
        ],
        app_server=(
            {"op": "start", "experimental": True},
            {
                "op": "answer",
                "method": "item/tool/requestUserInput",
                "results": [{"answers": {"q1": {"answers": ["API (Recommended)"]}}}],
            },
            {
                "op": "turn",
                "text": "plan with me",
                "params": {"collaborationMode": {"mode": "plan", "settings": {"model": "gpt-5.5"}}},
            },
        ),
    ),
    Scenario(
        "app_server_image_inputs_and_output_schema",
        "",
        [{"name": "t1", "match": {"step": 0}, "items": [message('{"answer": "a picture"}')]}],
        files={"pic.png": PNG},
        app_server=(
            {
                "op": "turn",
                "text": "describe",
                "params": {
                    "input": [
                        {"type": "text", "text": "describe these"},
                        {"type": "image", "url": _PNG_URL},
                        {"type": "localImage", "path": "$WORKSPACE/pic.png"},
                    ],
                    "outputSchema": {
                        **object_schema(answer="string"),
                        "required": ["answer"],
                        "additionalProperties": False,
                    },
                },
            },
        ),
    ),
    # thread/sample answers a prompt on a copy of the thread: a second bundle
    Scenario(
        "app_server_sample_beside_the_thread",
        "",
        [
            {"name": "t1", "match": {"last_user": "base"}, "items": [message("Base answer.")]},
            {"name": "s", "match": {"any_contains": "sample this"}, "items": [message("Sampled.")]},
        ],
        app_server=(
            {"op": "start", "experimental": True},
            {"op": "turn", "text": "base"},
            {
                "op": "rpc",
                "method": "thread/sample",
                "params": {
                    "threadId": "$THREAD",
                    "expectedTurnId": "$TURN",
                    "prompt": "sample this",
                },
            },
            {"op": "turn", "text": "after sampling"},
        ),
    ),
    Scenario(
        "app_server_unsubscribe_then_resume",
        "",
        [
            {"name": "t1", "match": {"last_user": "one"}, "items": [message("One.")]},
            {"name": "t2", "match": {"last_user": "two"}, "items": [message("Two.")]},
        ],
        app_server=(
            {"op": "turn", "text": "one"},
            {"op": "rpc", "method": "thread/unsubscribe", "params": {"threadId": "$THREAD"}},
            {
                "op": "rpc",
                "method": "thread/resume",
                "params": {"threadId": "$THREAD"},
                "switch": True,
            },
            {"op": "turn", "text": "two"},
        ),
    ),
    Scenario(
        "app_server_queued_turn",
        "",
        [
            {"name": "t1", "match": {"last_user": "first"}, "items": [message("First.")]},
            {"name": "t2", "match": {"last_user": "queued"}, "items": [message("Queued one.")]},
        ],
        app_server=(
            {"op": "start", "experimental": True},
            {"op": "turn", "text": "first"},
            {"op": "queue", "id": "cm1", "input": [{"type": "text", "text": "queued"}]},
        ),
    ),
    Scenario(
        "app_server_background_terminals_cleaned",
        "",
        [
            # a command left running in each turn; the client cleans them up (all, then one)
            {
                "name": "t1",
                "match": {"last_user": "start", "lacks_call_id": "c_bg1"},
                "items": [call("exec_command", {"cmd": "sleep 30", "yield_time_ms": 300}, "c_bg1")],
            },
            after("c_bg1", message("Started.")),
            {
                "name": "t2",
                "match": {"last_user": "again", "lacks_call_id": "c_bg2"},
                "items": [call("exec_command", {"cmd": "sleep 40", "yield_time_ms": 300}, "c_bg2")],
            },
            after("c_bg2", message("Again.")),
            {"name": "t3", "match": {"last_user": "after"}, "items": [message("After.")]},
        ],
        app_server=(
            {"op": "start", "experimental": True},
            {"op": "turn", "text": "start"},
            {
                "op": "rpc",
                "method": "thread/backgroundTerminals/clean",
                "params": {"threadId": "$THREAD"},
            },
            {"op": "turn", "text": "again"},
            {
                "op": "rpc",
                "method": "thread/backgroundTerminals/terminate",
                "params": {"threadId": "$THREAD", "processId": "1001"},
            },
            {"op": "turn", "text": "after"},
        ),
    ),
]
