"""More live scenarios, for Codex behaviours the others do not record: call and item ids a
model repeats, huge and odd texts (a 4.5 MB message that rotates schema-3 shards, control
characters, a lone surrogate, reasoning alone), output items Codex does not run, MCP servers
that time out or die mid-call, sub-agents interrupted then given more work, compacting, or
resumed by a later process (Codex then refuses its own bundle), inferences and compactions cut
by an interrupt or a steer, a running code cell and worker interrupted, and capture limits on
a remote compaction and on sub-agents, code cells and images."""

from __future__ import annotations

from typing import Any

from tests.live.script import (
    CODE_MODE,
    HIGH_USAGE,
    LIMIT,
    MCP,
    MULTI_AGENT,
    PNG,
    SMALL_CONTEXT,
    Scenario,
    after,
    call,
    collab,
    custom,
    first,
    mcp,
    message,
    worker,
)


def _step(step: int, *items: dict[str, Any]) -> dict[str, Any]:
    """A rule for the request holding ``step`` tool outputs (call ids repeat, so ``after``
    cannot tell the requests apart)."""
    return {"name": f"step_{step}", "match": {"step": step}, "items": list(items)}


def _reasoning(rid: str, text: str, encrypted: str) -> dict[str, Any]:
    return {
        "type": "reasoning",
        "id": rid,
        "summary": [{"type": "summary_text", "text": text}],
        "encrypted_content": encrypted,
    }


def _spawn(task: str, text: str, call_id: str) -> dict[str, Any]:
    arguments = {"task_name": task, "message": text, "fork_turns": "none"}
    return collab("spawn_agent", arguments, call_id)


def _with_id(item: dict[str, Any], item_id: str) -> dict[str, Any]:
    return {**item, "id": item_id}


#: A tool search that loads the demo MCP server's tools.
_SEARCH_DEMO = {
    "type": "tool_search_call",
    "call_id": "c_search",
    "execution": "client",
    "status": "completed",
    "arguments": {"query": "demo slow die echo", "limit": 8},
}
_CONTROLS = "ctl:\x00\x07\x1b[0m\x7f\u2028\u2029\ufeff é 😀 漢字"
_PATCH = "*** Begin Patch\n*** Add File: j.txt\n+j\n*** End Patch\n"
#: Items a model may send that Codex does not run: a file search, a server-side tool search
#: and its output, a hosted MCP call, a web search without an action, an image still being
#: generated.
_NOT_RUN: list[dict[str, Any]] = [
    {
        "type": "file_search_call",
        "id": "fs_1",
        "status": "completed",
        "queries": ["notes"],
        "results": None,
    },
    {
        "type": "tool_search_call",
        "id": "tsc_1",
        "call_id": "ts_server",
        "execution": "server",
        "status": "completed",
        "arguments": {"query": "anything"},
    },
    {
        "type": "tool_search_output",
        "id": "tso_1",
        "call_id": "ts_server",
        "execution": "server",
        "status": "completed",
        "tools": [],
    },
    {
        "type": "mcp_call",
        "id": "mcp_1",
        "server_label": "hosted",
        "name": "lookup",
        "arguments": "{}",
        "output": "found",
    },
    {"type": "web_search_call", "id": "ws_none", "status": "completed"},
    {"type": "image_generation_call", "id": "ig_pending", "status": "generating"},
]
#: Raw reasoning text, no encrypted content; a cited text and a refusal in one message.
_ODD_CONTENTS: list[dict[str, Any]] = [
    {
        "type": "reasoning",
        "id": "rs_odd",
        "summary": [{"type": "summary_text", "text": "sum"}],
        "content": [{"type": "reasoning_text", "text": "raw thought"}],
        "encrypted_content": None,
    },
    {
        "type": "message",
        "role": "assistant",
        "content": [
            {
                "type": "output_text",
                "text": "see [x](https://example.com)",
                "annotations": [
                    {
                        "type": "url_citation",
                        "url": "https://example.com",
                        "title": "x",
                        "start_index": 4,
                        "end_index": 29,
                    }
                ],
            },
            {"type": "refusal", "refusal": "cannot do that part"},
        ],
    },
]

MORE_SCENARIOS = [
    # Codex refuses the bundle it writes for this (two calls of one id with different
    # arguments: "model-visible call id dup was reused with different content"); so do we
    Scenario(
        "call_id_repeated_in_one_response",
        "Repeat.",
        [
            first(
                call("exec_command", {"cmd": "echo a"}, "dup"),
                call("exec_command", {"cmd": "echo b"}, "dup"),
            ),
            _step(2, message("Two calls, one id.")),
        ],
    ),
    Scenario(
        "item_ids_repeated_across_responses",
        "Repeat ids.",
        [
            # the first response's reasoning, message and call item ids again in the second
            # (a call id used again makes Codex refuse its bundle: "duplicate tool call start")
            first(
                _with_id(_reasoning("rs_same", "one", "gAAAA1"), "rs_same"),
                _with_id(message("First.", phase="commentary"), "msg_same"),
                _with_id(call("exec_command", {"cmd": "echo one"}, "k1"), "fc_same"),
            ),
            _step(
                1,
                _with_id(_reasoning("rs_same", "two", "gAAAA2"), "rs_same"),
                _with_id(message("Second.", phase="commentary"), "msg_same"),
                _with_id(custom("apply_patch", "not a patch", "k2"), "fc_same"),
            ),
            _step(2, _with_id(message("Done.", phase="final_answer"), "msg_same")),
        ],
    ),
    Scenario(
        "huge_and_odd_texts_over_three_runs",
        "Big.",
        [
            # 100 KB of arguments, control characters in a custom input and a message, then a
            # 4.5 MB message (kept twice: the schema-3 shard rotates); a later run that only
            # reasons; a last one whose message holds a lone surrogate. The later runs'
            # requests hold two tool outputs as well, so their rules come first.
            {
                "name": "t2",
                "match": {"last_user": "Think only"},
                "items": [_reasoning("rs_only", "just thinking", "gAAAAonly")],
            },
            {
                "name": "t3",
                "match": {"last_user": "Surrogate"},
                "items": [message("bad \ud800 half", phase="final_answer")],
            },
            first(
                call(
                    "exec_command",
                    {"cmd": ": '" + "x" * 100_000 + "'; printf 'é😀\\001\\033[31mred'"},
                    "big",
                ),
                custom("apply_patch", _CONTROLS, "ctl"),
            ),
            _step(2, message(_CONTROLS), message("h" * 4_500_000)),
        ],
        then=("Think only.", "Surrogate."),
    ),
    Scenario(
        "odd_items_contents_and_arguments",
        "Odd.",
        [
            first(
                *_NOT_RUN,
                *_ODD_CONTENTS,
                call("exec_command", "", "empty_args"),
                call("update_plan", {"plan": "not a list"}, "bad_plan"),
                call("apply_patch", {"input": _PATCH}, "json_patch"),
                call("view_image", {"path": "."}, "dir_image"),
            ),
            _step(4, message("Odd things done.")),
        ],
    ),
    Scenario(
        "mcp_server_times_out_then_dies",
        "Use the demo MCP server badly.",
        [
            first(_SEARCH_DEMO),
            after("c_search", mcp("slow", {"seconds": 2}, "m_slow")),
            after("m_slow", mcp("die", {}, "m_die")),
            after("m_die", mcp("echo", {"text": "anyone?"}, "m_after")),
            after("m_after", message("The server is gone.")),
        ],
        extra=(*MCP, "-c", "mcp_servers.demo.tool_timeout_sec=1"),
    ),
    Scenario(
        "worker_interrupted_then_followup",
        "Stop a worker, then give it more.",
        [
            {
                "name": "follow_0",
                "match": {"any_contains": "FOLLOW-UP: echo", "lacks_call_id": "c_f2"},
                "items": [call("exec_command", {"cmd": "echo again"}, "c_f2")],
            },
            {"name": "follow_1", "match": {"last_call_id": "c_f2"}, "items": [message("again")]},
            *worker("wf", {"cmd": "sleep 2; echo late"}, "c_f1", "first done"),
            {
                "name": "root0",
                "match": {"thread": "Stop a worker", "step": 0},
                "items": [_spawn("wf", "CHILD-F: sleep.", "s_f")],
            },
            after("s_f", collab("interrupt_agent", {"target": "/root/wf"}, "i_f")),
            after(
                "i_f",
                collab("followup_task", {"target": "wf", "message": "FOLLOW-UP: echo."}, "u_f"),
            ),
            after("u_f", collab("wait_agent", {"timeout_ms": 20000}, "w_f")),
            after("w_f", message("The worker did the follow-up.")),
        ],
        extra=MULTI_AGENT,
    ),
    Scenario(
        "compactions_in_the_root_and_a_worker",
        "Start a worker; context is tiny.",
        [
            # the root compacts while its worker runs; the worker compacts its own history
            {
                "name": "summarize_child",
                "match": {
                    "last_user": "CONTEXT CHECKPOINT COMPACTION",
                    "any_contains": "Task name: /root/wz",
                },
                "items": [message("SUMMARY: the child ran a command.")],
            },
            {
                "name": "summarize_root",
                "match": {"last_user": "CONTEXT CHECKPOINT COMPACTION"},
                "items": [message("SUMMARY: a worker was started.")],
            },
            {
                "name": "child0",
                "match": {"any_contains": "Task name: /root/wz", "lacks_call_id": "c_z1"},
                "items": [call("exec_command", {"cmd": "sleep 1; echo z1"}, "c_z1")],
                "usage": HIGH_USAGE,
            },
            {
                "name": "child1",
                "match": {"any_contains": "SUMMARY: the child", "lacks_call_id": "c_z2"},
                "items": [call("exec_command", {"cmd": "echo z2"}, "c_z2")],
            },
            {"name": "child2", "match": {"last_call_id": "c_z2"}, "items": [message("child done")]},
            {
                "name": "root0",
                "match": {"thread": "Start a worker", "step": 0},
                "items": [_spawn("wz", "CHILD-Z: two commands.", "s_z")],
                "usage": HIGH_USAGE,
                "times": 1,
            },
            {
                "name": "root1",
                "match": {"any_contains": "SUMMARY: a worker", "lacks_call_id": "w_z"},
                "items": [collab("wait_agent", {"timeout_ms": 20000}, "w_z")],
            },
            after("w_z", message("Compacted while the worker ran.")),
        ],
        extra=(*MULTI_AGENT, *SMALL_CONTEXT),
    ),
    # the later process resumes the worker: Codex writes thread_resumed for a thread its
    # bundle never started, and its own reducer refuses that bundle (so do we, in its words)
    Scenario(
        "worker_resumed_in_a_later_process",
        "First: start a worker.",
        [
            *worker("wr", {"cmd": "echo first", "yield_time_ms": 1000}, "c_r1", "first report"),
            {
                "name": "again_0",
                "match": {"any_contains": "AGAIN: echo", "lacks_call_id": "c_r2"},
                "items": [call("exec_command", {"cmd": "echo again"}, "c_r2")],
            },
            {"name": "again_1", "match": {"last_call_id": "c_r2"}, "items": [message("second")]},
            {
                "name": "root0",
                "match": {"last_user": "First: start", "step": 0},
                "items": [_spawn("wr", "CHILD-R: echo.", "s_r")],
            },
            after("s_r", collab("wait_agent", {"timeout_ms": 20000}, "w_r1")),
            after("w_r1", message("The worker reported once.")),
            {
                "name": "root2",
                "match": {"last_user": "Second: again", "lacks_call_id": "u_r"},
                "items": [
                    collab("followup_task", {"target": "wr", "message": "AGAIN: echo."}, "u_r")
                ],
            },
            after("u_r", collab("wait_agent", {"timeout_ms": 20000}, "w_r2")),
            after("w_r2", message("The resumed worker reported again.")),
        ],
        extra=MULTI_AGENT,
        then=("Second: again.",),
    ),
    Scenario(
        "app_server_inferences_cut_by_interrupt_and_steer",
        "",
        [
            {"name": "one", "match": {"last_user": "one"}, "items": [message("One.")]},
            {  # interrupted after the reasoning and the message, before the call
                "name": "slow",
                "match": {"last_user": "slow"},
                "items": [
                    _reasoning("rs_cut", "thinking", "gAAAAcut"),
                    message("Partial.", phase="commentary"),
                    call("exec_command", {"cmd": "echo never"}, "c_never"),
                ],
                "delay": 3,
                "delay_after": 5,
            },
            {  # steered while streaming: Codex drops the stream and asks again
                "name": "steer_me",
                "match": {"last_user": "steer me", "lacks_call_id": "c_st"},
                "items": [
                    message("Working.", phase="commentary"),
                    call("exec_command", {"cmd": "echo st"}, "c_st"),
                ],
                "delay": 1.5,
                "delay_after": 3,
            },
            after("c_st", message("Steered answer.")),
            {"name": "last", "match": {"last_user": "last"}, "items": [message("Last.")]},
        ],
        app_server=(
            {"op": "turn", "text": "one"},
            {"op": "turn", "text": "slow", "interrupt_after": 0.8},
            # most often before its inference starts, else after it ended (both kept)
            {"op": "turn", "text": "at once", "interrupt_after": 0.0},
            {"op": "turn", "text": "steer me", "steer_after": 0.5, "steer": "and mention it"},
            {"op": "turn", "text": "last"},
        ),
    ),
    Scenario(
        "app_server_interrupted_during_compaction",
        "",
        [
            # the remote compaction after the command is interrupted; the next turn compacts
            # before its inference
            {
                "name": "compact",
                "match": {"last_type": "compaction_trigger"},
                "items": [{"type": "compaction", "encrypted_content": "ENC_LATE"}],
                "delay": 2,
                "times": 1,
            },
            {
                "name": "compact_again",
                "match": {"last_type": "compaction_trigger"},
                "items": [{"type": "compaction", "encrypted_content": "ENC_AGAIN"}],
            },
            {
                "name": "t1",
                "match": {"last_user": "fill it", "step": 0},
                "items": [call("exec_command", {"cmd": "echo full"}, "c_full")],
                "usage": HIGH_USAGE,
            },
            {"name": "t2", "match": {"last_user": "after"}, "items": [message("After.")]},
        ],
        app_server=(
            {"op": "turn", "text": "fill it", "interrupt_after": 0.8},
            {"op": "turn", "text": "after"},
        ),
        extra=(*SMALL_CONTEXT, "-c", 'model_providers.fake.name="OpenAI"'),
    ),
    Scenario(
        "app_server_interrupt_a_running_cell_and_worker",
        "",
        [
            *worker("wi", {"cmd": "sleep 5; echo late"}, "c_wi", "never"),
            {
                "name": "t1",
                "match": {"last_user": "busy", "lacks_call_id": "s_wi"},
                "items": [
                    _spawn("wi", "CHILD-I: sleep.", "s_wi"),
                    custom(
                        "exec",
                        'const r = await tools.exec_command({cmd: "sleep 5; echo cell",'
                        " yield_time_ms: 10000});\ntext(r.output);\n",
                        "cell_i",
                    ),
                ],
            },
            {"name": "t2", "match": {"last_user": "after"}, "items": [message("After.")]},
        ],
        app_server=(
            {"op": "turn", "text": "busy", "interrupt_after": 1.5},
            {"op": "turn", "text": "after"},
        ),
        extra=(*MULTI_AGENT, *CODE_MODE),
    ),
    Scenario(
        "limit_remote_compaction_with_reasoning",
        "Reason, then compact (remote, limited).",
        [
            {
                "name": "compact",
                "match": {"last_type": "compaction_trigger"},
                "items": [{"type": "compaction", "encrypted_content": "ENC_" + "z" * 900}],
            },
            {
                "name": "after_compact",
                "match": {"any_contains": "ENC_zzz", "lacks_call_id": "r2"},
                "items": [
                    _reasoning("rs_b", "b" * 900, "e" * 900),
                    call("exec_command", {"cmd": "echo two"}, "r2"),
                ],
            },
            after("r2", message("Done after the limited compaction.")),
            {
                "name": "first",
                "match": {"step": 0},
                "items": [
                    _reasoning("rs_a", "a" * 900, "gAAAA" + "q" * 900),
                    call("exec_command", {"cmd": "echo " + "o" * 900}, "r1"),
                ],
                "usage": HIGH_USAGE,
            },
        ],
        extra=(*SMALL_CONTEXT, *LIMIT, "-c", 'model_providers.fake.name="OpenAI"'),
        schemas=(3,),
    ),
    # both capture limits: every payload past 40 bytes cut (a sub-agent's task text among
    # them: an agent message whose text is a placeholder), and the budget running out near
    # the end (payloads omitted; the log may stop before it closes)
    Scenario(
        "limit_tiny_payloads_and_budget_with_worker_cell_and_image",
        "Tiny limit.",
        [
            *worker("wt", {"cmd": "echo tiny", "yield_time_ms": 1000}, "c_wt", "tiny worker"),
            {
                "name": "root0",
                "match": {"thread": "Tiny limit", "step": 0},
                "items": [
                    _reasoning("rs_t", "t" * 100, "e" * 100),
                    message("m" * 100, phase="commentary"),
                    call("view_image", {"path": "dot.png"}, "c_img"),
                    custom(
                        "exec",
                        'const r = await tools.exec_command({cmd: "echo nested"});\n'
                        "text(r.output);\n",
                        "cell",
                    ),
                    _spawn("wt", "CHILD-T: echo.", "s_t"),
                ],
            },
            {
                "name": "root1",
                "match": {"step": 3, "lacks_call_id": "w_t"},
                "items": [collab("wait_agent", {"timeout_ms": 20000}, "w_t")],
            },
            after("w_t", message("Done on a budget.")),
        ],
        files={"dot.png": PNG},
        extra=(
            *MULTI_AGENT,
            *CODE_MODE,
            "-c",
            "rollout_trace.max_payload_bytes=40",
            "-c",
            "rollout_trace.max_bytes=100000",
        ),
        schemas=(3,),
    ),
]
