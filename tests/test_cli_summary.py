"""The summary table, on hand-written states (fields it does not know are ignored)."""

from __future__ import annotations

from typing import Any

from rollout_trace_sdk.reduce.summary import summarize


def _execution(start: int, end: int | None, status: str) -> dict[str, Any]:
    return {"started_at_unix_ms": start, "ended_at_unix_ms": end, "status": status}


STATE: dict[str, Any] = {
    "rollout_id": "r1",
    "trace_id": "t1",
    "status": "running",
    "recording_complete": False,
    "threads": {
        "a": {
            "thread_id": "a",
            "agent_path": "/root",
            "execution": _execution(0, 12_500, "completed"),
        },
        "b": {
            "thread_id": "b",
            "agent_path": "/root/child",
            "nickname": "Kim",
            "execution": _execution(5, None, "running"),
        },
    },
    "codex_turns": {
        "u": {"codex_turn_id": "u", "thread_id": "b", "execution": _execution(10, 250, "failed")}
    },
    "inference_calls": {
        "i": {
            "inference_call_id": "i",
            "thread_id": "a",
            "model": "m-1",
            "execution": _execution(1, 2, "completed"),
            "usage": {"input_tokens": 7, "output_tokens": 3},
            "request_item_ids": ["x", "y"],
            "response_item_ids": ["z"],
            "future_field": [1, 2, 3],
        }
    },
    "tool_calls": {
        "c1": {
            "tool_call_id": "c1",
            "thread_id": "a",
            "kind": {"type": "mcp", "server": "fs", "tool": "read"},
            "execution": _execution(3, 4, "completed"),
            "requester": {"type": "code_cell", "runtime_cell_id": "7"},
        },
        "c2": {
            "tool_call_id": "c2",
            "thread_id": "zz",
            "kind": {"type": "other", "name": "list_agents"},
            "execution": None,
        },
    },
    "interaction_edges": {
        "e": {
            "kind": "spawn_agent",
            "source": {"type": "tool_call", "tool_call_id": "c1"},
            "target": {"type": "thread", "thread_id": "b"},
            "carried_item_ids": ["q"],
        }
    },
}


def test_every_section_is_rendered_with_agent_paths() -> None:
    text = summarize(STATE)
    assert text.startswith("rollout r1  trace t1\nstatus running  recording: unclosed")
    for title in (
        "threads (2)",
        "turns (1)",
        "inference calls (1)",
        "tool calls (2)",
        "interaction edges (1)",
    ):
        assert title in text


def test_rows_show_status_duration_model_tokens_and_kind() -> None:
    lines = summarize(STATE).splitlines()
    thread_b = next(line for line in lines if line.strip().startswith("b "))
    assert (
        "/root/child" in thread_b
        and "Kim" in thread_b
        and "running" in thread_b
        and "open" in thread_b
    )
    assert any("12.5 s" in line for line in lines)  # long durations in seconds
    turn = next(line for line in lines if line.strip().startswith("u "))
    assert "/root/child" in turn and "failed" in turn and "240 ms" in turn
    call = next(line for line in lines if line.strip().startswith("i "))
    assert "m-1" in call and "7 in / 3 out" in call and "2/1" in call
    mcp = next(line for line in lines if line.strip().startswith("c1 "))
    assert "mcp fs/read" in mcp and "code_cell:7" in mcp
    other = next(line for line in lines if line.strip().startswith("c2 "))
    assert "other list_agents" in other and " zz " in f" {other} "
    edge = next(line for line in lines if "spawn_agent" in line)
    assert "tool_call:c1" in edge and "thread:b" in edge


def test_empty_state_says_none() -> None:
    text = summarize({"threads": {}})
    assert text.count("(none)") == 5


def test_rows_follow_the_order_things_happened_not_their_ids() -> None:
    def call(call_id: str, seq: int) -> dict[str, Any]:
        execution = _execution(seq, seq + 1, "completed") | {"started_seq": seq}
        return {"inference_call_id": call_id, "thread_id": "a", "execution": execution}

    state = STATE | {
        "inference_calls": {"aaa-late": call("aaa-late", 9), "zzz-early": call("zzz-early", 2)}
    }
    text = summarize(state)
    assert text.index("zzz-early") < text.index("aaa-late")


def test_summary_of_a_schema_3_state_shows_its_recording_status() -> None:
    state: dict[str, Any] = {"rollout_id": "r", "trace_id": "t", "status": "completed"}
    state["recording_status"] = "closed_with_partial_payloads"
    assert "recording: closed with partial payloads" in summarize(state)
