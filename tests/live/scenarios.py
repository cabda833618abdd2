"""Scenarios the conformance corpora do not hold, recorded afresh by the real Codex CLI against
:mod:`tests.live.fake_responses` (each run by Codex 0.169 for schema 2 and 0.171 for schema 3).

A scenario is the user prompt, the scripted model's rules, files to put in the workspace and
extra ``codex exec`` arguments; ``schemas`` says which Codex versions record it (capture
limits exist only in 0.171)."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import attrs

#: A 1x1 PNG, for view_image and image generation.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@attrs.frozen
class Scenario:
    name: str
    prompt: str
    rules: list[dict[str, Any]]
    files: dict[str, bytes] = attrs.field(factory=dict)
    extra: tuple[str, ...] = ()
    schemas: tuple[int, ...] = (2, 3)
    #: later prompts, each in ``codex exec resume --last`` (the same session, a new process)
    then: tuple[str, ...] = ()
    #: driven through ``codex app-server`` instead of ``codex exec`` (``prompt`` unused): the
    #: actions of ``tests.live.app_server.run_actions``
    app_server: tuple[dict[str, Any], ...] = ()


def message(text: str, phase: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    if phase is not None:
        item["phase"] = phase
    return item


def call(name: str, arguments: Any, call_id: str) -> dict[str, Any]:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"type": "function_call", "name": name, "arguments": text, "call_id": call_id}


def custom(name: str, text: str, call_id: str) -> dict[str, Any]:
    return {"type": "custom_tool_call", "name": name, "input": text, "call_id": call_id}


def first(*items: dict[str, Any]) -> dict[str, Any]:
    return {"name": "first", "match": {"step": 0}, "items": list(items)}


def after(call_id: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"name": f"after_{call_id}", "match": {"last_call_id": call_id}, "items": list(items)}


_LIMIT = ("-c", "rollout_trace.max_payload_bytes=600")
_CODE_MODE = ("--enable", "code_mode")
_MULTI_AGENT = ("--enable", "multi_agent_v2")
_SMALL_CONTEXT = ("-c", "model_auto_compact_token_limit=5000")
_ONE_RETRY = (
    "-c",
    "model_providers.fake.request_max_retries=1",
    "-c",
    "model_providers.fake.stream_max_retries=1",
)
#: usage past the small context limit: Codex compacts before its next request
_HIGH_USAGE = {"input_tokens": 9000, "total_tokens": 9100}
MCP = (
    "-c",
    f'mcp_servers.demo={{command="{sys.executable}", args=["{Path(__file__).parent / "mcp_server.py"}"]}}',
)


def _mcp(name: str, arguments: Any, call_id: str) -> dict[str, Any]:
    """A call of a tool of the demo MCP server (``tests/live/mcp_server.py``)."""
    return {**call(name, arguments, call_id), "namespace": "mcp__demo"}


#: A tool search that loads the deferred multi_agent_v1 tools.
_SEARCH_AGENTS = {
    "type": "tool_search_call",
    "call_id": "ts",
    "execution": "client",
    "status": "completed",
    "arguments": {"query": "spawn agent wait close", "limit": 8},
}


def _v1(name: str, arguments: Any, call_id: str) -> dict[str, Any]:
    """A multi-agent v1 tool call (deferred: loaded by a tool search first)."""
    return {**call(name, arguments, call_id), "namespace": "multi_agent_v1"}


def _worker(task: str, command: dict[str, Any], call_id: str, answer: str) -> list[dict[str, Any]]:
    """A sub-agent's two rules: its first request (told by its task name) runs ``command``,
    the next one answers."""
    return [
        {
            "name": f"{task}_0",
            "match": {"any_contains": f"Task name: /root/{task}", "lacks_call_id": call_id},
            "items": [call("exec_command", command, call_id)],
        },
        {"name": f"{task}_1", "match": {"last_call_id": call_id}, "items": [message(answer)]},
    ]


def _collab(name: str, arguments: Any, call_id: str) -> dict[str, Any]:
    """A multi-agent tool call (multi_agent_v2 puts them in the collaboration namespace)."""
    return {**call(name, arguments, call_id), "namespace": "collaboration"}


SCENARIOS = [
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
        extra=_CODE_MODE,
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
        extra=_CODE_MODE,
    ),
    Scenario(
        "two_workers_in_parallel",
        "Coordinate two workers.",
        [
            *_worker("wa", {"cmd": "echo a-work", "yield_time_ms": 1000}, "c_a", "worker a done"),
            *_worker(
                "wb", {"cmd": "exit 2", "yield_time_ms": 1000}, "c_b", "worker b failed its command"
            ),
            {
                "name": "root0",
                "match": {"thread": "Coordinate", "step": 0},
                "items": [
                    _collab(
                        "spawn_agent",
                        {"task_name": "wa", "message": "CHILD-A: echo.", "fork_turns": "none"},
                        "s_a",
                    ),
                    _collab(
                        "spawn_agent",
                        {"task_name": "wb", "message": "CHILD-B: fail.", "fork_turns": "none"},
                        "s_b",
                    ),
                ],
            },
            {
                "name": "root1",
                "match": {"step": 2, "lacks_call_id": "w_1"},
                "items": [_collab("wait_agent", {"timeout_ms": 20000}, "w_1")],
            },
            # (a sub-agent's command runs until its yield time, 10 s by default, here)
            after(
                "w_1",
                _collab("interrupt_agent", {"target": "/root/wa"}, "x_a"),
                _collab("interrupt_agent", {"target": "/root/wb"}, "x_b"),
            ),
            {"name": "end", "match": {"step": 5}, "items": [message("Both workers reported.")]},
        ],
        extra=_MULTI_AGENT,
    ),
    Scenario(
        "worker_interrupted_while_running",
        "Start and stop a worker.",
        [
            *_worker("wc", {"cmd": "sleep 2; echo late"}, "c_c", "worker c done"),
            {
                "name": "root0",
                "match": {"thread": "Start and stop", "step": 0},
                "items": [
                    _collab(
                        "spawn_agent",
                        {"task_name": "wc", "message": "CHILD-C: sleep.", "fork_turns": "none"},
                        "s_c",
                    )
                ],
            },
            after("s_c", _collab("interrupt_agent", {"target": "/root/wc"}, "i_c")),
            after("i_c", message("Stopped the worker.")),
        ],
        extra=_MULTI_AGENT,
    ),
    Scenario(
        "worker_forked_with_history",
        "Fork a worker with history.",
        [
            *_worker(
                "forky", {"cmd": "echo forked", "yield_time_ms": 1000}, "c_f", "forked worker done"
            ),
            {
                "name": "root0",
                "match": {"step": 0},
                "items": [
                    message("Forking now.", phase="commentary"),
                    _collab(
                        "spawn_agent",
                        {"task_name": "forky", "message": "FORK: echo.", "fork_turns": "all"},
                        "s_f",
                    ),
                ],
            },
            after("s_f", _collab("wait_agent", {"timeout_ms": 20000}, "w_f")),
            after("w_f", _collab("interrupt_agent", {"target": "/root/forky"}, "x_f")),
            after("x_f", message("The fork reported.")),
        ],
        extra=_MULTI_AGENT,
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
            after("c_search", _mcp("echo", {"text": "hi ✓"}, "m_echo")),
            after(
                "m_echo",
                _mcp("add", {"a": 2, "b": 40}, "m_add"),
                _mcp("add", {"a": "x"}, "m_bad"),
            ),
            {
                "name": "pixel",
                "match": {"step": 4, "lacks_call_id": "m_pixel"},
                "items": [_mcp("pixel", {}, "m_pixel")],
            },
            after("m_pixel", _mcp("boom", {}, "m_boom")),
            after("m_boom", _mcp("missing", {}, "m_missing")),
            after("m_missing", message("MCP tools answered in every way.")),
        ],
        extra=MCP,
    ),
    Scenario(
        "compaction_local_twice",
        "Run two commands; context is tiny.",
        [
            {
                "name": "summarize",
                "match": {"last_user": "CONTEXT CHECKPOINT COMPACTION"},
                "items": [message("SUMMARY: commands ran so far.")],
            },
            {
                "name": "again",
                "match": {"any_contains": "SUMMARY: commands"},
                "times": 1,
                "items": [call("exec_command", {"cmd": "echo two"}, "k2")],
                "usage": _HIGH_USAGE,
            },
            {  # after the second compaction (k2 is summarised away)
                "name": "end",
                "match": {"any_contains": "SUMMARY: commands"},
                "items": [message("Two commands, two compactions.")],
            },
            {
                "name": "first",
                "match": {"step": 0},
                "items": [call("exec_command", {"cmd": "echo one"}, "k1")],
                "usage": _HIGH_USAGE,
            },
        ],
        extra=_SMALL_CONTEXT,
    ),
    Scenario(
        "compaction_remote_mid_turn",
        "Run two commands; context is tiny (remote).",
        [
            {
                "name": "compact",
                "match": {"last_type": "compaction_trigger"},
                "items": [{"type": "compaction", "encrypted_content": "ENC_SUMMARY_X"}],
            },
            {
                "name": "after_compact",
                "match": {"any_contains": "ENC_SUMMARY_X", "lacks_call_id": "r2"},
                "items": [
                    {"type": "reasoning", "id": "rs_x", "summary": [], "encrypted_content": "e"},
                    call("exec_command", {"cmd": "echo two"}, "r2"),
                ],
            },
            after("r2", message("Done after remote compaction.")),
            {
                "name": "first",
                "match": {"step": 0},
                "items": [call("exec_command", {"cmd": "echo one"}, "r1")],
                "usage": _HIGH_USAGE,
            },
        ],
        extra=(*_SMALL_CONTEXT, "-c", 'model_providers.fake.name="OpenAI"'),
    ),
    Scenario(
        "resumed_twice",
        "First turn: write a file.",
        [
            {
                "name": "t1",
                "match": {"last_user": "First turn", "step": 0},
                "items": [call("exec_command", {"cmd": "echo one > f.txt"}, "t1")],
            },
            after("t1", message("Wrote it.")),
            {
                "name": "t2",
                "match": {"last_user": "Second turn"},
                "items": [message("Nothing to do.", phase="final_answer")],
            },
            {
                "name": "t3",
                "match": {"last_user": "Third turn", "lacks_call_id": "t3"},
                "items": [call("exec_command", {"cmd": "cat f.txt"}, "t3")],
            },
            after("t3", message("It says one.")),
        ],
        then=("Second turn: nothing.", "Third turn: read it."),
    ),
    Scenario(
        "stream_cut_after_a_call_then_retried",
        "Cut.",
        [
            {
                "name": "cut",
                "match": {"step": 0},
                "times": 1,
                "items": [call("exec_command", {"cmd": "echo never"}, "c_cut")],
                "end": "cut",
            },
            first(
                message("Partial", phase="commentary"),
                call("exec_command", {"cmd": "echo ok"}, "c_ok"),
            ),
            after("c_ok", message("Done after the retry.")),
        ],
        extra=_ONE_RETRY,
    ),
    Scenario(
        "response_failed_mid_turn",
        "Fail later.",
        [
            first(call("exec_command", {"cmd": "echo one"}, "c1")),
            {
                "name": "failed",
                "match": {"last_call_id": "c1"},
                "items": [message("half an answer")],
                "end": "failed",
                "error": {"code": "invalid_prompt", "message": "scripted refusal"},
            },
        ],
    ),
    Scenario(
        "response_incomplete_with_deltas",
        "Run long.",
        [
            {
                "name": "incomplete",
                "match": {"step": 0},
                "items": [message("This answer was cut")],
                "deltas": ["This answer ", "was cut"],
                "end": "incomplete",
            }
        ],
    ),
    Scenario(
        "error_event_then_retried",
        "Error event.",
        [
            {
                "name": "error",
                "match": {"step": 0},
                "times": 1,
                "items": [],
                "end": "error",
                "error": {"code": "server_error", "message": "scripted stream error"},
            },
            first(message("Recovered after the error event.")),
        ],
        extra=_ONE_RETRY,
    ),
    Scenario(
        "http_429_then_retried",
        "Rate limited.",
        [
            {
                "name": "busy",
                "match": {"step": 0},
                "times": 1,
                "http_status": 429,
                "body": {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}},
            },
            first(call("exec_command", {"cmd": "echo later"}, "c_l")),
            after("c_l", message("Done after the rate limit.")),
        ],
        extra=_ONE_RETRY,
    ),
    Scenario(
        "context_window_exceeded",
        "Too long.",
        [
            first(call("exec_command", {"cmd": "echo fits"}, "c_fit")),
            {
                "name": "too_long",
                "match": {"last_call_id": "c_fit"},
                "http_status": 400,
                "body": {
                    "error": {
                        "message": "Your input exceeds the context window of this model.",
                        "type": "invalid_request_error",
                        "code": "context_length_exceeded",
                    }
                },
            },
        ],
    ),
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
                "items": [_mcp("echo", {"text": "in a turn"}, "m2")],
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
    Scenario(
        "multi_agent_v1_spawn_wait_close",
        "Use a v1 sub-agent.",
        [
            {
                "name": "child0",
                "match": {"any_contains": "V1-CHILD", "lacks_call_id": "ce"},
                "items": [call("exec_command", {"cmd": "echo child", "yield_time_ms": 1000}, "ce")],
            },
            {"name": "child1", "match": {"last_call_id": "ce"}, "items": [message("child done")]},
            first(_SEARCH_AGENTS),
            after("ts", _v1("spawn_agent", {"message": "V1-CHILD: echo."}, "sp")),
            after("sp", _v1("wait_agent", {"targets": ["$AGENT_ID"], "timeout_ms": 20000}, "wt")),
            after("wt", _v1("close_agent", {"target": "$AGENT_ID"}, "cl")),
            after("cl", message("The v1 agent finished and was closed.")),
        ],
    ),
    Scenario(
        "multi_agent_v1_send_input_and_resume",
        "Steer a v1 sub-agent.",
        [
            {
                "name": "child0",
                "match": {"any_contains": "V1-OTHER", "lacks_call_id": "ce"},
                "items": [call("exec_command", {"cmd": "echo other", "yield_time_ms": 1000}, "ce")],
            },
            {"name": "child1", "match": {"last_call_id": "ce"}, "items": [message("other done")]},
            first(_SEARCH_AGENTS),
            after(
                "ts",
                _v1("spawn_agent", {"message": "V1-OTHER: echo.", "fork_context": True}, "sp"),
            ),
            after(
                "sp",
                _v1(
                    "send_input",
                    {"target": "$AGENT_ID", "message": "NOTE", "interrupt": True},
                    "si",
                ),
            ),
            after("si", _v1("wait_agent", {"targets": ["$AGENT_ID"], "timeout_ms": 20000}, "wt")),
            after("wt", _v1("close_agent", {"target": "$AGENT_ID"}, "cl")),
            after("cl", _v1("resume_agent", {"id": "$AGENT_ID"}, "rs")),
            after("rs", _v1("close_agent", {"target": "$AGENT_ID"}, "c2")),
            after("c2", message("Steered, closed, resumed, closed.")),
        ],
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
    Scenario(
        "limit_parallel_exec",
        "Three, limited.",
        [
            first(
                call("exec_command", {"cmd": "seq 1 400"}, "c1"),
                call("exec_command", {"cmd": "echo small"}, "c2"),
            ),
            {"name": "end", "match": {"step": 2}, "items": [message("Limited.")]},
        ],
        extra=_LIMIT,
        schemas=(3,),
    ),
    Scenario(
        "limit_reasoning_and_image",
        "Limited image.",
        [
            first(call("view_image", {"path": "dot.png"}, "c_v")),
            after(
                "c_v",
                {
                    "type": "reasoning",
                    "id": "rs_1",
                    "summary": [{"type": "summary_text", "text": "x" * 900}],
                },
                message("y" * 900),
            ),
        ],
        files={"dot.png": PNG},
        extra=_LIMIT,
        schemas=(3,),
    ),
    Scenario(
        "limit_long_texts_everywhere",
        "Long texts.",
        [
            first(
                {
                    "type": "reasoning",
                    "id": "rs_1",
                    "summary": [{"type": "summary_text", "text": "s" * 900}],
                    "content": [{"type": "reasoning_text", "text": "r" * 900}],
                },
                call("exec_command", {"cmd": "echo " + "a" * 900}, "c1"),
            ),
            after(
                "c1",
                custom(
                    "apply_patch",
                    "*** Begin Patch\n*** Add File: a.txt\n+" + "p" * 900 + "\n*** End Patch\n",
                    "c2",
                ),
            ),
            after("c2", call("exec_command", {"cmd": "seq 1 300"}, "c3")),
            after(
                "c3",
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [
                        {"type": "output_text", "text": "o" * 900, "annotations": []},
                        {"type": "refusal", "refusal": "f" * 900},
                    ],
                },
            ),
        ],
        extra=_LIMIT,
        schemas=(3,),
    ),
    Scenario(
        "limit_workers_metadata_cut",
        "Coordinate a limited worker.",
        [
            {
                "name": "w0",
                "match": {"any_contains": "Task name: /root/wl", "lacks_call_id": "c_w"},
                "items": [call("exec_command", {"cmd": "echo w", "yield_time_ms": 1000}, "c_w")],
            },
            {"name": "w1", "match": {"last_call_id": "c_w"}, "items": [message("worker done")]},
            {
                "name": "root0",
                "match": {"step": 0},
                "items": [
                    _collab(
                        "spawn_agent",
                        {"task_name": "wl", "message": "LIMITED: echo.", "fork_turns": "none"},
                        "s_w",
                    )
                ],
            },
            after("s_w", _collab("wait_agent", {"timeout_ms": 20000}, "w_w")),
            after("w_w", _collab("interrupt_agent", {"target": "/root/wl"}, "x_w")),
            after("x_w", message("The limited worker reported.")),
        ],
        extra=(*_MULTI_AGENT, "-c", "rollout_trace.max_payload_bytes=300"),
        schemas=(3,),
    ),
    Scenario(
        "limit_total_bytes",
        "Out of budget.",
        [
            first(call("exec_command", {"cmd": "seq 1 3000"}, "c1")),
            after("c1", message("Budget gone.")),
        ],
        extra=("-c", "rollout_trace.max_bytes=40000"),
        schemas=(3,),
    ),
]
