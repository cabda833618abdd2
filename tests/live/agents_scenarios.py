"""Live scenarios with sub-agents: multi_agent v2 (workers in parallel, interrupted, forked
with the history, with cut metadata) and v1 (spawn, wait, close, send_input, resume)."""

from __future__ import annotations

from tests.live.script import (
    MULTI_AGENT,
    SEARCH_AGENTS,
    Scenario,
    after,
    call,
    collab,
    first,
    following,
    message,
    v1,
    worker,
)

AGENT_SCENARIOS = [
    Scenario(
        "two_workers_in_parallel",
        "Coordinate two workers.",
        [
            *worker("wa", {"cmd": "echo a-work", "yield_time_ms": 1000}, "c_a", "worker a done"),
            *worker(
                "wb", {"cmd": "exit 2", "yield_time_ms": 1000}, "c_b", "worker b failed its command"
            ),
            {
                "name": "root0",
                "match": {"thread": "Coordinate", "step": 0},
                "items": [
                    collab(
                        "spawn_agent",
                        {"task_name": "wa", "message": "CHILD-A: echo.", "fork_turns": "none"},
                        "s_a",
                    ),
                    collab(
                        "spawn_agent",
                        {"task_name": "wb", "message": "CHILD-B: fail.", "fork_turns": "none"},
                        "s_b",
                    ),
                ],
            },
            {
                "name": "root1",
                "match": {"step": 2, "lacks_call_id": "w_1"},
                "items": [collab("wait_agent", {"timeout_ms": 20000}, "w_1")],
            },
            # (a sub-agent's command runs until its yield time, 10 s by default, here)
            after(
                "w_1",
                collab("interrupt_agent", {"target": "/root/wa"}, "x_a"),
                collab("interrupt_agent", {"target": "/root/wb"}, "x_b"),
            ),
            {"name": "end", "match": {"step": 5}, "items": [message("Both workers reported.")]},
        ],
        extra=MULTI_AGENT,
    ),
    Scenario(
        "worker_interrupted_while_running",
        "Start and stop a worker.",
        [
            *worker("wc", {"cmd": "sleep 2; echo late"}, "c_c", "worker c done"),
            {
                "name": "root0",
                "match": {"thread": "Start and stop", "step": 0},
                "items": [
                    collab(
                        "spawn_agent",
                        {"task_name": "wc", "message": "CHILD-C: sleep.", "fork_turns": "none"},
                        "s_c",
                    )
                ],
            },
            after("s_c", collab("interrupt_agent", {"target": "/root/wc"}, "i_c")),
            after("i_c", message("Stopped the worker.")),
        ],
        extra=MULTI_AGENT,
    ),
    Scenario(
        "worker_forked_with_history",
        "Fork a worker with history.",
        [
            *worker(
                "forky", {"cmd": "echo forked", "yield_time_ms": 1000}, "c_f", "forked worker done"
            ),
            {
                "name": "root0",
                "match": {"step": 0},
                "items": [
                    message("Forking now.", phase="commentary"),
                    collab(
                        "spawn_agent",
                        {"task_name": "forky", "message": "FORK: echo.", "fork_turns": "all"},
                        "s_f",
                    ),
                ],
            },
            after("s_f", collab("wait_agent", {"timeout_ms": 20000}, "w_f")),
            after("w_f", collab("interrupt_agent", {"target": "/root/forky"}, "x_f")),
            after("x_f", message("The fork reported.")),
        ],
        extra=MULTI_AGENT,
    ),
    # the child's rules are told by its prompt (a user message of its thread alone: the
    # parent's requests hold it too, in the spawn's arguments); the parent's by the call
    # before (a wait's output is followed by Codex's <subagent_notification> message)
    Scenario(
        "multi_agent_v1_spawn_wait_close",
        "Use a v1 sub-agent.",
        [
            {
                "name": "child0",
                "match": {"thread": "V1-CHILD", "lacks_call_id": "ce"},
                "items": [call("exec_command", {"cmd": "echo child", "yield_time_ms": 1000}, "ce")],
            },
            {
                "name": "child1",
                "match": {"thread": "V1-CHILD", "last_call_id": "ce"},
                "items": [message("child done")],
            },
            first(SEARCH_AGENTS),
            following("ts", v1("spawn_agent", {"message": "V1-CHILD: echo."}, "sp")),
            following(
                "sp", v1("wait_agent", {"targets": ["$AGENT_ID"], "timeout_ms": 20000}, "wt")
            ),
            following("wt", v1("close_agent", {"target": "$AGENT_ID"}, "cl")),
            {
                "name": "closed",
                "match": {"has_call_id": "cl"},
                "items": [message("The v1 agent finished and was closed.")],
            },
        ],
    ),
    Scenario(
        "multi_agent_v1_send_input_and_resume",
        "Steer a v1 sub-agent.",
        [
            {
                "name": "child0",
                "match": {"thread": "V1-OTHER", "lacks_call_id": "ce"},
                "items": [call("exec_command", {"cmd": "echo other", "yield_time_ms": 1000}, "ce")],
            },
            {
                "name": "child1",
                "match": {"thread": "V1-OTHER", "last_call_id": "ce"},
                "items": [message("other done")],
            },
            first(SEARCH_AGENTS),
            following(
                "ts",
                v1("spawn_agent", {"message": "V1-OTHER: echo.", "fork_context": True}, "sp"),
            ),
            following(
                "sp",
                v1(
                    "send_input",
                    {"target": "$AGENT_ID", "message": "NOTE", "interrupt": True},
                    "si",
                ),
            ),
            following(
                "si", v1("wait_agent", {"targets": ["$AGENT_ID"], "timeout_ms": 20000}, "wt")
            ),
            following("wt", v1("close_agent", {"target": "$AGENT_ID"}, "cl")),
            following("cl", v1("resume_agent", {"id": "$AGENT_ID"}, "rs")),
            following("rs", v1("close_agent", {"target": "$AGENT_ID"}, "c2")),
            {
                "name": "closed",
                "match": {"has_call_id": "c2"},
                "items": [message("Steered, closed, resumed, closed.")],
            },
        ],
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
                    collab(
                        "spawn_agent",
                        {"task_name": "wl", "message": "LIMITED: echo.", "fork_turns": "none"},
                        "s_w",
                    )
                ],
            },
            after("s_w", collab("wait_agent", {"timeout_ms": 20000}, "w_w")),
            after("w_w", collab("interrupt_agent", {"target": "/root/wl"}, "x_w")),
            after("x_w", message("The limited worker reported.")),
        ],
        extra=(*MULTI_AGENT, "-c", "rollout_trace.max_payload_bytes=300"),
        schemas=(3,),
    ),
]
