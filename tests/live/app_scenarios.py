"""Live scenarios driven through ``codex app-server`` (``tests.live.app_server``): forks,
steering, injected items, shell commands, manual compaction, review, revert."""

from __future__ import annotations

from tests.live.script import MCP, Scenario, after, call, mcp, message

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
]
