"""Where the OTLP export hangs each span (``export/_otlp_tree.py``): a spawned agent under its
spawn call, a tree still when a damaged state's parents loop, in linear time for a deep
chain of agents."""

from __future__ import annotations

import time
from typing import Any

import orjson

from rollout_trace_sdk.export.otlp import OtlpTrace, otlp_trace, span_id_of

from .test_otlp import check_tree


def test_spawned_agent_hangs_under_its_spawn_call(demo_state: Any) -> None:
    trace = otlp_trace(demo_state)
    spawned = [t for t in demo_state["threads"].values() if t["origin"]["type"] == "spawned"]
    assert spawned
    for thread in spawned:
        edge = demo_state["interaction_edges"][thread["origin"]["spawn_edge_id"]]
        span = next(
            s for s in trace.spans if s.attributes.get("gen_ai.agent.id") == thread["thread_id"]
        )
        assert span.parent_id == span_id_of(trace.trace_id, "tool", edge["source"]["tool_call_id"])
        assert span.name == f"invoke_agent {thread['nickname'] or thread['origin']['task_name']}"


def test_spawn_cycle_is_cut_at_the_root(demo_state: Any) -> None:
    """A malformed state where two agents spawn each other still gives a tree."""
    state = orjson.loads(orjson.dumps(demo_state))
    root_id = state["root_thread_id"]
    child = next(t for t in state["threads"].values() if t["origin"]["type"] == "spawned")
    state["threads"][root_id]["origin"] = {
        "type": "spawned",
        "parent_thread_id": child["thread_id"],
        "spawn_edge_id": "edge:none",
        "task_name": "loop",
        "agent_role": "",
    }
    check_tree(otlp_trace(state))


def test_a_deep_chain_of_agents_maps_in_linear_time(demo_state: Any) -> None:
    """Each agent's parents were walked afresh to find a loop: 10,000 agents each spawned by
    the one before took 35 s (50 million steps; found by review). Bounded in steps, not
    seconds: with every answer kept, the chain is walked once, so 20,000 agents cost about
    four times what 5,000 do (sixteen times when each was walked afresh)."""

    def mapped(n: int) -> tuple[float, OtlpTrace]:
        state = orjson.loads(orjson.dumps(demo_state))
        parent = state["root_thread_id"]
        template = next(t for t in state["threads"].values() if t["thread_id"] != parent)
        for i in range(n):
            thread = {**template, "thread_id": f"chain-{i}", "agent_path": f"/root/a{i}"}
            thread["origin"] = {"type": "spawned", "parent_thread_id": parent}
            state["threads"][thread["thread_id"]] = thread
            parent = thread["thread_id"]
        started = time.process_time()
        trace = otlp_trace(state)
        return time.process_time() - started, trace

    small, _ = mapped(5_000)
    large, trace = mapped(20_000)
    names = {s.span_id: s for s in trace.spans}
    last = names[span_id_of(trace.trace_id, "thread", "chain-19999")]
    assert last.parent_id == span_id_of(trace.trace_id, "thread", "chain-19998")
    assert large < 10 * small + 1.0, f"{small:.2f} s for 5,000 agents, {large:.2f} s for 20,000"
