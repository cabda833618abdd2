"""Where a tool call's output went (view/sent_in.py): the request that carried it back, in the
view model and in ``show --call``, on the demo, Codex's corpora and recorded handoffs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.view.load import load_state
from rollout_trace_sdk.view.model import build_view_model

from ..conftest import CONFORMANCE, CONFORMANCE_V3, needs_conformance, needs_conformance_v3
from .conftest import open_tool_call_state, plain_transcript


def _tool(model: Any, call_id: str) -> Any:
    return next(t for t in model["tools"] if call_id in (t.get("call_id"), t["id"]))


def _corpus(corpus: Path, case: str) -> Any:
    [bundle] = sorted((corpus / case).glob("trace-*"))
    return load_state(bundle)


def test_each_demo_tool_links_to_the_first_request_of_its_agent_that_carried_its_output(
    demo_state: Any,
) -> None:
    """A tool call's details named the call that asked for it, not the one its answer went
    back in. Each of the demo's tool calls now links to the first inference call of its own
    agent whose request holds its output; the last, which a compaction replaced before any
    request carried it, names that compaction."""
    model = build_view_model(demo_state)
    sent = [t for t in model["tools"] if "so" in t]
    assert len(sent) == len(model["tools"]) - 1
    for tool in sent:
        carried = [
            n
            for n, c in enumerate(model["calls"])
            if c["t"] == tool["t"] and set(tool["oi"]) & set(c["req"])
        ]
        assert tool["so"] == carried[0], tool["call_id"]
    close = _tool(model, "call_0_close")
    assert close["sn"] == "none (a compaction replaced it before any request carried it)"
    assert set(close["oi"]) <= set(model["compactions"][close["sc"]]["in"])
    said = plain_transcript(demo_state, call="call_0_close")
    assert "output sent in: none (a compaction replaced it" in said
    assert f"compaction {model['compactions'][close['sc']]['id'][:8]}" in said
    assert "output sent in inference " in plain_transcript(demo_state, call="call_0_cat")


def _handoff(root: Path, *, answered: bool) -> Any:
    """A parent runs ``get_weather`` c1 and hands its history to a child ``/root/writer``
    (an Agents SDK handoff), after answering it itself when ``answered``."""
    call = {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"}
    user = {"role": "user", "content": "Weather in Oslo, then write it up."}

    async def record() -> None:
        async with open_rollout(root, model="m") as rollout, rollout.root.turn() as turn:
            turn.accept(user)
            async with turn.inference({"input": [user]}) as inference:
                inference.completed(output_items=[call])
            async with turn.tool_call("c1", "get_weather", arguments="{}") as tool:
                output = tool.completed(
                    {"type": "function_call_output", "call_id": "c1", "output": "Oslo: rain"}
                )
            if answered:
                async with turn.inference({"input": [user, call, output]}) as inference:
                    inference.completed(output_items=[{"role": "assistant", "content": "ok"}])
            child = rollout.root.spawn("writer")
            async with (
                child,
                child.turn() as child_turn,
                child_turn.inference({"input": [user, call, output]}) as inference,
            ):
                inference.completed(output_items=[{"role": "assistant", "content": "Report"}])

    anyio.run(record)
    (bundle,) = root.glob("trace-*")
    return load_state(bundle)


def test_an_output_only_a_handoff_carried_links_to_the_agent_it_reached(tmp_path: Path) -> None:
    """A parent that handed its tool's answer to another agent without sending it itself:
    the link goes to that agent's request (and says which agent); once the parent sent it
    itself, to the parent's own, the child's copy left out."""
    state = _handoff(tmp_path / "handed", answered=False)
    model = build_view_model(state)
    tool = _tool(model, "c1")
    target = model["calls"][tool["so"]]
    assert model["threads"][target["t"]]["path"] == "/root/writer"
    said = plain_transcript(state, call="c1")
    assert f"output sent in inference {target['id'][:8]}" in said
    assert said.split("output sent in inference ")[1].split("\n")[0].endswith(" in /root/writer")

    state = _handoff(tmp_path / "answered", answered=True)
    model = build_view_model(state)
    tool = _tool(model, "c1")
    assert model["calls"][tool["so"]]["t"] == tool["t"] == 0
    said = plain_transcript(state, call="c1")
    assert "in /root/writer" not in said.split("output sent in inference ")[1].split("\n")[0]


@needs_conformance
@needs_conformance_v3
@pytest.mark.parametrize("corpus", [CONFORMANCE, CONFORMANCE_V3], ids=["v2", "v3"])
def test_a_forked_childs_copy_is_not_where_the_output_was_sent(corpus: Path) -> None:
    """Codex's nested fork: the root's ``spawn_agent`` answer is in the requests of the
    forked planner too (a fork copies its parent's history); the link is the root's own
    request that answered it."""
    state = _corpus(corpus, "multi_agent_v2_nested_fork")
    model = build_view_model(state)
    tool = _tool(model, "call_r_spawn")
    outputs = set(state["tool_calls"][tool["id"]]["model_visible_output_item_ids"])
    carriers = {
        c["thread_id"]
        for c in state["inference_calls"].values()
        if outputs & set(c["request_item_ids"])
    }
    assert len(carriers) == 2  # the root's requests and the forked planner's
    assert model["calls"][tool["so"]]["t"] == tool["t"]
    wait = _tool(model, "call_p_wait")  # the planner's own: its own request
    assert model["threads"][model["calls"][wait["so"]]["t"]]["path"] == "/root/planner"


@needs_conformance_v3
@pytest.mark.parametrize(
    ("case", "call_id", "said"),
    [
        (
            "auto_compaction_remote",
            "call_r1",
            "none (a compaction replaced it before any request carried it): compaction ",
        ),
        (
            "capture_total_limit_multi_step",
            "call_cap_s3",
            "not known (a capture limit left out its agent's next request: raw_payload:35)",
        ),
        (
            "capture_payload_limit_exec",
            "call_cap_big",
            "not known (a capture limit cut its result: raw_payload:12, truncated: 2,048 of",
        ),
        (
            "auto_compaction_local",
            "call_c1",
            "never (no later request of its agent carried it)",
        ),
        (
            "interrupt_during_tool",
            "call_sleep",
            "never (its agent made no inference call after it; the rollout ended)",
        ),
        (
            "code_mode_nested_tool",
            "exec-",
            "none (its output went to the code cell that called it): code cell code_cell:",
        ),
    ],
)
def test_an_output_no_request_carried_says_why(case: str, call_id: str, said: str) -> None:
    """Where no request carried a tool call's output, the page and ``show`` say why in plain
    words: a compaction took it, a capture limit cut it, the run ended, a code cell got it."""
    state = _corpus(CONFORMANCE_V3, case)
    model = build_view_model(state)
    tool = next(t for t in model["tools"] if (t.get("call_id") or t["id"]).startswith(call_id))
    assert "so" not in tool
    shown = plain_transcript(state, call=tool["id"])
    assert f"output sent in: {said}" in shown


def test_a_running_call_has_not_sent_its_output_yet(tmp_path: Path) -> None:
    """A call still running in a rollout still recording: not yet, and why."""
    state = anyio.run(open_tool_call_state, tmp_path)
    tool = _tool(build_view_model(state), "c_open")
    assert tool["sn"] == "not yet (the call is running)"


def test_an_answer_in_a_rollout_still_recording_is_not_sent_yet(tmp_path: Path) -> None:
    """A tool call that ended while its rollout is still being recorded, its agent's next
    inference call not made yet: not yet, not never."""

    async def record() -> Any:
        async with open_rollout(tmp_path, model="m") as rollout, rollout.root.turn() as turn:
            async with turn.tool_call("c_done", "exec_command", arguments="{}") as tool:
                tool.completed_value({"output": "done"})
            await rollout.flush()
            assert rollout.bundle_dir is not None
            return load_state(rollout.bundle_dir)

    state = anyio.run(record)
    tool = _tool(build_view_model(state), "c_done")
    assert tool["sn"] == "not yet (its agent has made no inference call since)"
