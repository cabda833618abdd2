"""Live scenarios run by ``codex exec``: tools of every kind (plans, commands, patches,
web search, images, code cells, MCP, goals, a terminal session fed stdin), then those of
:mod:`tests.live.exec_run_scenarios` (compaction, resumed sessions, model failures, schema-3
capture limits)."""

from __future__ import annotations

import base64

from tests.live.exec_run_scenarios import EXEC_RUN_SCENARIOS
from tests.live.script import (
    CODE_MODE,
    MCP,
    PNG,
    Scenario,
    after,
    call,
    custom,
    first,
    mcp,
    message,
)

EXEC_SCENARIOS = [
    Scenario(
        "update_plan",
        "Plan it.",
        [
            first(
                call(
                    "update_plan",
                    {
                        "explanation": "two steps",
                        "plan": [
                            {"step": "read", "status": "completed"},
                            {"step": "write", "status": "in_progress"},
                        ],
                    },
                    "call_plan",
                )
            ),
            after("call_plan", message("Planned.")),
        ],
    ),
    Scenario(
        "exec_fails",
        "Fail.",
        [
            first(call("exec_command", {"cmd": "echo oops >&2; exit 3"}, "call_f")),
            after("call_f", message("It failed.")),
        ],
    ),
    Scenario(
        "exec_three_parallel",
        "Three.",
        [
            first(
                call("exec_command", {"cmd": "echo a"}, "c1"),
                call("exec_command", {"cmd": "ls /nonexistent"}, "c2"),
                call("exec_command", {"cmd": "printf 'x\\ty'"}, "c3"),
            ),
            {"name": "end", "match": {"step": 3}, "items": [message("Three done.")]},
        ],
    ),
    Scenario(
        "apply_patch_add_delete",
        "Patch.",
        [
            first(
                custom(
                    "apply_patch",
                    "*** Begin Patch\n*** Add File: new.txt\n+hello\n*** Delete File: old.txt\n"
                    "*** End Patch\n",
                    "call_p",
                )
            ),
            after("call_p", message("Patched.")),
        ],
        files={"old.txt": b"old\n"},
    ),
    Scenario(
        "reasoning_and_phases",
        "Think.",
        [
            first(
                {
                    "type": "reasoning",
                    "id": "rs_1",
                    "summary": [{"type": "summary_text", "text": "Thinking **hard**"}],
                    "encrypted_content": "gAAAA",
                },
                message("Let me check.", phase="commentary"),
                call("exec_command", {"cmd": "echo hi"}, "c_r"),
            ),
            after(
                "c_r",
                {"type": "reasoning", "id": "rs_2", "summary": []},
                message("All good.", phase="final_answer"),
            ),
        ],
    ),
    Scenario(
        "web_search_actions",
        "Search.",
        [
            first(
                {
                    "type": "web_search_call",
                    "id": "ws_1",
                    "status": "completed",
                    "action": {"type": "search", "query": "rust serde"},
                },
                {
                    "type": "web_search_call",
                    "id": "ws_2",
                    "status": "completed",
                    "action": {"type": "open_page", "url": "https://example.com"},
                },
                {
                    "type": "web_search_call",
                    "id": "ws_3",
                    "status": "completed",
                    "action": {
                        "type": "find_in_page",
                        "url": "https://example.com",
                        "pattern": "x",
                    },
                },
                message("Found it."),
            )
        ],
    ),
    Scenario(
        "image_generation",
        "Draw.",
        [
            first(
                {
                    "type": "image_generation_call",
                    "id": "ig_1",
                    "status": "completed",
                    "revised_prompt": "a dot",
                    "result": base64.b64encode(PNG).decode(),
                },
                message("Drawn."),
            )
        ],
    ),
    Scenario(
        "message_of_two_parts",
        "Two parts.",
        [
            first(
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [
                        {"type": "output_text", "text": "Part one.", "annotations": []},
                        {"type": "output_text", "text": "Part two.", "annotations": []},
                    ],
                }
            )
        ],
    ),
    Scenario(
        "exec_arguments_not_json",
        "Bad.",
        [first(call("exec_command", "{bad json", "c_bad")), after("c_bad", message("Recovered."))],
    ),
    Scenario(
        "custom_tool_unknown",
        "Custom.",
        [first(custom("mystery_tool", "abc", "c_m")), after("c_m", message("Unknown tool."))],
    ),
    Scenario(
        "exec_then_http_400",
        "Then fail.",
        [
            first(call("exec_command", {"cmd": "echo one"}, "c1")),
            {
                "name": "fail",
                "match": {"last_call_id": "c1"},
                "http_status": 400,
                "body": {
                    "error": {"message": "scripted bad request", "type": "invalid_request_error"}
                },
            },
        ],
    ),
    Scenario(
        "view_image_png",
        "Look.",
        [first(call("view_image", {"path": "dot.png"}, "c_v")), after("c_v", message("Saw it."))],
        files={"dot.png": PNG},
    ),
    Scenario(
        "exec_binary_output",
        "Bytes.",
        [
            first(call("exec_command", {"cmd": "printf '\\377\\376abc\\000def'"}, "c_b")),
            after("c_b", message("Bytes seen.")),
        ],
    ),
    Scenario(
        "exec_session_left_running",
        "Leave it.",
        [
            first(call("exec_command", {"cmd": "sleep 3; echo late", "yield_time_ms": 250}, "c_s")),
            after("c_s", message("Left it running.")),
        ],
    ),
    Scenario(
        "two_messages_one_response",
        "Two.",
        [first(message("First.", phase="commentary"), message("Second.", phase="final_answer"))],
    ),
    Scenario(
        "message_then_call_in_one_response",
        "Mixed.",
        [
            first(message("Running now."), call("exec_command", {"cmd": "echo mixed"}, "c_x")),
            after("c_x", message("Mixed done.")),
        ],
    ),
    Scenario(
        "code_cell_throws",
        "Throw.",
        [
            first(
                custom("exec", 'text("before");\nthrow new Error("scripted failure");\n', "cell")
            ),
            after("cell", message("The cell threw.")),
        ],
        extra=CODE_MODE,
    ),
    Scenario(
        "code_cell_nested_tool_fails",
        "Nested fail.",
        [
            first(
                custom(
                    "exec",
                    'const r = await tools.exec_command({cmd: "exit 7"});\ntext(r.output);\n',
                    "cell",
                )
            ),
            after("cell", message("Nested failure seen.")),
        ],
        extra=CODE_MODE,
    ),
    Scenario(
        "mcp_tools_of_every_result",
        "Use the demo MCP server.",
        [
            first(
                {
                    "type": "tool_search_call",
                    "call_id": "c_search",
                    "execution": "client",
                    "status": "completed",
                    "arguments": {"query": "demo echo add pixel boom", "limit": 8},
                }
            ),
            after("c_search", mcp("echo", {"text": "hi ✓"}, "m_echo")),
            after(
                "m_echo",
                mcp("add", {"a": 2, "b": 40}, "m_add"),
                mcp("add", {"a": "x"}, "m_bad"),
            ),
            {
                "name": "pixel",
                "match": {"step": 4, "lacks_call_id": "m_pixel"},
                "items": [mcp("pixel", {}, "m_pixel")],
            },
            after("m_pixel", mcp("boom", {}, "m_boom")),
            after("m_boom", mcp("missing", {}, "m_missing")),
            after("m_missing", message("MCP tools answered in every way.")),
        ],
        extra=MCP,
    ),
    Scenario(
        "mcp_resources",
        "Read the demo server's resources.",
        [
            # Codex's own resource tools (no tool search): all servers' resources, a text and
            # a blob read in parallel, then templates, a missing resource, an unknown server
            first(call("list_mcp_resources", {}, "r_list")),
            after(
                "r_list",
                call("read_mcp_resource", {"server": "demo", "uri": "demo://notes"}, "r_text"),
                call("read_mcp_resource", {"server": "demo", "uri": "demo://pixel"}, "r_blob"),
            ),
            {
                "name": "templates",
                "match": {"step": 3},
                "items": [
                    call("list_mcp_resource_templates", {"server": "demo"}, "r_templates"),
                    call("read_mcp_resource", {"server": "demo", "uri": "demo://gone"}, "r_gone"),
                    call("list_mcp_resources", {"server": "nope"}, "r_nope"),
                ],
            },
            {"name": "end", "match": {"step": 4}, "items": [message("Resources read.")]},
        ],
        extra=MCP,
    ),
    Scenario(
        "goals_set_read_update",
        "Track a goal.",
        [
            first(call("create_goal", {"objective": "ship the feature"}, "g1")),
            after("g1", call("get_goal", {}, "g2")),
            after("g2", call("update_goal", {"status": "complete"}, "g3")),
            after("g3", message("Goal tracked.")),
        ],
    ),
    Scenario(
        "terminal_session_with_stdin",
        "Talk to a program.",
        [
            first(
                call(
                    "exec_command",
                    {
                        "cmd": "read a; echo got:$a; read b; echo got:$b",
                        "tty": True,
                        "yield_time_ms": 300,
                    },
                    "t1",
                )
            ),
            after(
                "t1",
                call(
                    "write_stdin",
                    '{"session_id": $SESSION_ID, "chars": "one\\n", "yield_time_ms": 300}',
                    "t2",
                ),
            ),
            after(
                "t2",
                call(
                    "write_stdin",
                    '{"session_id": $SESSION_ID, "chars": "", "yield_time_ms": 300}',
                    "t3",
                ),
            ),
            after(
                "t3",
                call(
                    "write_stdin",
                    '{"session_id": $SESSION_ID, "chars": "two\\n", "yield_time_ms": 500}',
                    "t4",
                ),
            ),
            after("t4", call("write_stdin", {"session_id": 99999, "chars": "x"}, "t5")),
            after("t5", message("Talked to it.")),
        ],
    ),
    *EXEC_RUN_SCENARIOS,
]
