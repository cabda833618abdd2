"""Multi-agent tool calls (spawn, message, wait, stop), recorded the way Codex records them, so
that the reducer builds the same interaction edges and agent activity
(``record/_agent_tools.py``)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.record import RecorderWarning, open_rollout, task_message

from .recorder_support import (
    bundle_in,
    check_bundle,
    loss_report,
    of_type,
    payload,
)
from .tool_loop import USER, Loop, function_call, function_output

pytestmark = pytest.mark.anyio


async def test_multi_agent_edges(tmp_path: Path, schema: int) -> None:
    async with open_rollout(tmp_path) as rollout:
        root = rollout.root
        async with root.turn() as turn:
            loop = Loop(turn)
            spawn_args = {"task_name": "worker", "message": "CHILD: run one echo and report."}
            await loop.infer(
                function_call("call_spawn", "spawn_agent", spawn_args, namespace="collaboration")
            )
            async with turn.tool_call(
                "call_spawn", "spawn_agent", namespace="collaboration", arguments=spawn_args
            ) as tool:
                child = tool.spawn_agent("worker", nickname="Nash", role="helper")
                loop.tool_done(tool, "call_spawn", '{"task_name":"/root/worker"}')

            async def child_turn(message: str, kind: Any) -> dict[str, Any]:
                async with child.turn() as ct:
                    delivered = ct.accept_agent_message(
                        task_message("/root", child.agent_path, message, message_type=kind)
                    )
                    async with ct.inference({"input": [delivered]}) as call:
                        call.completed(
                            output_items=[
                                {
                                    "type": "message",
                                    "role": "assistant",
                                    "content": [{"type": "output_text", "text": f"did: {message}"}],
                                }
                            ]
                        )
                return ct.report_result()

            result = await child_turn(spawn_args["message"], "NEW_TASK")
            wait_args = {"timeout_ms": 1000}
            await loop.infer(
                function_call("call_wait", "wait_agent", wait_args, namespace="collaboration")
            )
            async with turn.tool_call(
                "call_wait", "wait_agent", namespace="collaboration", arguments=wait_args
            ) as tool:
                tool.wait_started()
                tool.wait_ended({child.thread_id: {"completed": "did it"}})
                loop.tool_done(tool, "call_wait", "Wait completed.")
            loop.history.append(turn.accept_agent_message(result))

            for call_id, name, kind in [
                ("call_send", "send_message", "MESSAGE"),
                ("call_follow", "followup_task", "NEW_TASK"),
            ]:
                args = {"target": "worker", "message": f"{name} payload"}
                await loop.infer(function_call(call_id, name, args, namespace="collaboration"))
                async with turn.tool_call(
                    call_id, name, namespace="collaboration", arguments=args
                ) as tool:
                    tool.agent_interacted(child)
                    loop.tool_done(tool, call_id, "")
                reply = await child_turn(args["message"], kind)
                loop.history.append(turn.accept_agent_message(reply))

            args = {"target": "/root/worker"}
            await loop.infer(
                function_call("call_interrupt", "interrupt_agent", args, namespace="collaboration")
            )
            async with turn.tool_call(
                "call_interrupt", "interrupt_agent", namespace="collaboration", arguments=args
            ) as tool:
                with pytest.warns(RecorderWarning, match="cannot record agent activity"):
                    tool.agent_interacted(child)  # wrong activity for close_agent: refused
                tool.agent_interrupted(child)
                loop.tool_done(tool, "call_interrupt", "{}")
            await loop.infer({"type": "message", "role": "assistant", "content": []})
    bundle = bundle_in(tmp_path)
    child_started = of_type(bundle, "thread_started")[1]
    metadata = payload(bundle, child_started["payload"]["metadata_payload"])
    assert metadata["session_source"] == {
        "subagent": {
            "thread_spawn": {
                "parent_thread_id": root.thread_id,
                "depth": 1,
                "agent_path": "/root/worker",
                "agent_nickname": "Nash",
                "agent_role": "helper",
            }
        }
    }
    results = of_type(bundle, "agent_result_observed")
    assert len(results) == 3
    first = results[0]
    assert first["payload"]["edge_id"] == (
        f"edge:agent_result:{child.thread_id}:{first['codex_turn_id']}:{root.thread_id}"
    )
    assert payload(bundle, first["payload"]["carried_payload"])["status"] == {
        "completed": f"did: {spawn_args['message']}"
    }

    state = check_bundle(bundle, tmp_path)
    assert state["threads"][child.thread_id]["origin"]["type"] == "spawned"
    assert state["threads"][child.thread_id]["nickname"] == "Nash"
    edges = state["interaction_edges"]
    items = state["conversation_items"]
    spawn = edges[f"edge:spawn:{root.thread_id}:{child.thread_id}"]
    assert spawn["source"] == {"type": "tool_call", "tool_call_id": "call_spawn"}
    target = items[spawn["target"]["item_id"]]
    assert target["thread_id"] == child.thread_id
    assert target["agent_message"] == {"author": "/root", "recipient": "/root/worker"}
    for call_id, kind in [("call_send", "send_message"), ("call_follow", "assign_agent_task")]:
        edge = edges[f"edge:tool:{call_id}"]
        assert edge["kind"] == kind
        assert items[edge["target"]["item_id"]]["thread_id"] == child.thread_id
    close = edges["edge:tool:call_interrupt"]
    assert close["kind"] == "close_agent"
    assert close["target"] == {"type": "thread", "thread_id": child.thread_id}
    agent_results = [e for e in edges.values() if e["kind"] == "agent_result"]
    assert len(agent_results) == 3
    for edge in agent_results:
        assert items[edge["source"]["item_id"]]["thread_id"] == child.thread_id
        assert items[edge["target"]["item_id"]]["thread_id"] == root.thread_id


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("arguments", ['{"seconds": 5}', "{not json", '{"cell_id": 7}'])
async def test_an_agents_own_wait_tool_keeps_the_bundle_readable(
    tmp_path: Path, schema: int, arguments: str
) -> None:
    """Codex 0.169 reads every tool named ``wait`` as code mode's, whose arguments name a
    cell; an agent's own ``wait`` made the whole schema-2 bundle unreadable. Schema 2 now
    leaves such a call's invocation out (counted); schema 3 keeps it (0.171 links waits
    from ``code_cell_wait_target_resolved`` only)."""
    warned = pytest.warns(RecorderWarning, match="tool named wait")
    with warned if schema == 2 else contextlib.nullcontext():
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            turn.accept(USER)
            async with turn.tool_call("call_1", "wait", arguments=arguments) as tool:
                tool.completed(function_output("call_1", "waited"))
    bundle = bundle_in(tmp_path)
    (started,) = of_type(bundle, "tool_call_started")
    assert (started["payload"]["invocation_payload"] is None) is (schema == 2)
    state = check_bundle(bundle)
    assert len(state["tool_calls"]) == 1


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_turn_reporting_twice_gives_two_result_edges(tmp_path: Path, schema: int) -> None:
    """A progress report, then the final one, from one child turn: both edges had one id,
    and both reducers refused the bundle (found by review)."""
    async with (
        open_rollout(tmp_path, schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        async with turn.tool_call("s", "spawn_agent", arguments={"message": "go"}) as tool:
            child = tool.spawn_agent("w")
        async with child, child.turn() as child_turn:
            child_turn.accept_agent_message(task_message("/root", child.agent_path, "go"))
            progress = child_turn.report_result("half way")
            final = child_turn.report_result("done")
        turn.accept_agent_message(progress)
        turn.accept_agent_message(final)
    state = check_bundle(bundle_in(tmp_path))
    kinds = sorted(e["kind"] for e in state["interaction_edges"].values())
    assert kinds == ["agent_result", "agent_result", "spawn_agent"]


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("activity", ["interacted", "interrupted"])
async def test_an_agent_spawned_when_the_queue_is_full_is_recorded(
    tmp_path: Path, schema: int, activity: str
) -> None:
    """With ``overflow="drop"``, a spawn whose child start found the queue full handed out a
    null thread: the sub-agent and all it did were missing, and the loss report did not
    count it (found by review: a 20 KB budget lost whole turns). Starts are kept as ends
    are; the child is recorded, and so is the activity naming it."""
    async with (
        open_rollout(
            tmp_path, schema_version=schema, overflow="drop", max_queued_bytes=1 << 16
        ) as rollout,
        rollout.root.turn() as turn,
    ):
        turn.accept(USER)
        async with turn.tool_call("s", "spawn_agent", arguments={"message": "go"}) as tool:
            big = turn.inference({"input": "x" * 50_000})  # the queue fills...
            for _ in range(200):
                rollout.root.protocol_event("note")  # ...to the brim
            child = tool.spawn_agent("w")
            assert child.enabled  # its start was kept
            tool.completed(function_output("s", "{}"))
            big.cancelled("not sent")
        await rollout.flush()
        name = "send_message" if activity == "interacted" else "close_agent"
        async with turn.tool_call("m", name, arguments={"message": "hi"}) as tool:
            getattr(tool, f"agent_{activity}")(child)
            tool.completed(function_output("m", "{}"))
    state = check_bundle(bundle_in(tmp_path))
    assert len(state["threads"]) == 2


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("activity", ["interacted", "interrupted"])
async def test_an_activity_naming_an_unrecorded_thread_is_left_out(
    tmp_path: Path, schema: int, activity: str
) -> None:
    """A send_message / close_agent naming a thread that was not recorded (here spawned
    from a thread that had ended, which hands out a null thread) recorded an activity with
    an empty thread id, and both reducers refused the whole bundle ("invalid length:
    expected length 32 for simple format, found 0"; found by review, killing a busy agent).
    The activity is left out, with a warning."""
    with pytest.warns(RecorderWarning, match="names an agent thread that was not recorded"):
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            turn.accept(USER)
            ended = rollout.root.spawn("gone")
            async with ended:
                pass
            with pytest.warns(RecorderWarning, match="had ended"):
                child = ended.spawn("w")
            assert not child.enabled
            name = "send_message" if activity == "interacted" else "close_agent"
            async with turn.tool_call("m", name, arguments={"message": "hi"}) as tool:
                getattr(tool, f"agent_{activity}")(child)
                tool.completed(function_output("m", "{}"))
    state = check_bundle(bundle_in(tmp_path))
    assert state["interaction_edges"] == {}


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("name", ["send_message", "spawn_agent"])
async def test_an_activity_whose_invocation_was_dropped_is_left_out(
    tmp_path: Path, schema: int, name: str
) -> None:
    """With ``overflow="drop"``, a send_message / spawn_agent call whose invocation found the
    queue full starts without it; its activity then made both reducers refuse the whole
    schema-2 bundle ("agent activity tool call m missing invocation payload": they read the
    delivered message from the invocation; found by review, killing a busy agent). The
    activity is left out, with a warning. Schema 3 keeps the dropped payload as omitted,
    which both reducers read (no edge)."""
    refused = pytest.warns(RecorderWarning, match="lost its invocation")
    with refused if schema == 2 else contextlib.nullcontext():
        async with (
            open_rollout(
                tmp_path, schema_version=schema, overflow="drop", max_queued_bytes=1 << 16
            ) as rollout,
            rollout.root.turn() as turn,
        ):
            turn.accept(USER)
            child = rollout.root.spawn("w")
            await rollout.flush()
            big = turn.inference({"input": "x" * 30_000})  # the queue is half full
            arguments = {"task_name": "v", "message": "y" * 40_000}  # does not fit
            tool = turn.tool_call("m", name, arguments=arguments)
            if name == "spawn_agent":
                tool.spawn_agent("v")
            else:
                tool.agent_interacted(child)
            tool.completed(function_output("m", "{}"))
            big.cancelled("not sent")
            async with child, child.turn() as child_turn:
                child_turn.accept_agent_message(task_message("/root", child.agent_path, "hi"))
    state = check_bundle(bundle_in(tmp_path))
    assert state["interaction_edges"] == {}


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("name", ["send_message", "spawn_agent"])
@pytest.mark.parametrize("arguments", [{"task_name": "v"}, '{"msg": "hi"}', "not json", None])
async def test_an_activity_whose_arguments_hold_no_message_is_left_out(
    tmp_path: Path, schema: int, name: str, arguments: Any
) -> None:
    """Both reducers read a spawned or messaged agent's message from the call's ``message``
    argument, and refused the whole bundle when it had none ("parse agent activity tool call
    m arguments"; found by review). The activity is left out, with a warning."""
    with pytest.warns(RecorderWarning, match="hold no message text"):
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            turn.accept(USER)
            child = rollout.root.spawn("w")
            async with turn.tool_call("m", name, arguments=arguments) as tool:
                if name == "spawn_agent":
                    tool.spawn_agent("v")
                else:
                    tool.agent_interacted(child)
                tool.completed(function_output("m", "{}"))
            async with child, child.turn() as child_turn:
                child_turn.accept_agent_message(task_message("/root", child.agent_path, "hi"))
    state = check_bundle(bundle_in(tmp_path))
    assert state["interaction_edges"] == {}


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_message_to_an_agent_whose_thread_ended_warns(tmp_path: Path, schema: int) -> None:
    """The docs' example ends a child with its first turn (``async with child,
    child.turn()``); a later ``send_message`` to it can never be delivered, so its edge never
    lands, and nothing said so (found by newuser19). It warns now; the activity is what the
    tool did, and stays."""
    async with (
        open_rollout(tmp_path, schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        turn.accept(USER)
        child = rollout.root.spawn("w")
        async with child, child.turn() as child_turn:
            child_turn.accept_agent_message(task_message("/root", child.agent_path, "hi"))
        arguments = {"target": "/root/w", "message": "one more thing"}
        async with turn.tool_call("m", "send_message", arguments=arguments) as tool:
            with pytest.warns(RecorderWarning, match="had ended"):
                tool.agent_interacted(child)
            tool.completed(function_output("m", "{}"))
    check_bundle(bundle_in(tmp_path))


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_wait_on_a_thread_never_recorded_names_only_recorded_ones(
    tmp_path: Path, schema: int
) -> None:
    """``wait_started`` given a null thread (a disabled rollout's, or one whose start was
    dropped) wrote its empty id among ``receiver_thread_ids``, naming no thread (found in
    review). Only recorded threads are named."""
    async with (
        open_rollout(tmp_path / "off", enabled=False) as disabled,
        open_rollout(tmp_path / "on", schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        turn.accept(USER)
        child = rollout.root.spawn("w")
        async with turn.tool_call("c", "wait_agent", arguments={"targets": []}) as tool:
            tool.wait_started([child, disabled.root])
            tool.wait_ended({})
            tool.completed(function_output("c", "{}"))
    bundle = bundle_in(tmp_path / "on")
    check_bundle(bundle)
    (started,) = [
        body
        for event in of_type(bundle, "tool_call_runtime_started")
        if isinstance(body := payload(bundle, event["payload"]["runtime_payload"]), dict)
        and "receiver_thread_ids" in body
    ]
    assert started["receiver_thread_ids"] == [child.thread_id]


_TOOL_OF: dict[str, str] = {
    "spawn": "spawn_agent",
    "interacted": "send_message",
    "interrupted": "close_agent",
    "wait": "wait_agent",
}


@pytest.mark.parametrize("activity", list(_TOOL_OF))
async def test_no_agent_activity_on_a_tool_call_after_its_end(
    tmp_path: Path, schema: int, activity: str
) -> None:
    """A spawn, a message, a stop or a wait recorded on a multi-agent tool call that had
    ended (a late task still holding the call) was written without a word: the state showed
    the call's edge (a spawned child, a delivered message) made after its end (found by
    review of the recording API, ended19). It is refused as on an ended turn: a null thread
    for a spawn, one ``RecorderWarning``, counted ``after end``."""
    with pytest.warns(RecorderWarning, match="that had ended"):
        async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
            turn.accept(USER)
            child = rollout.root.spawn("w")
            arguments = {"task_name": "v", "message": "hi"}
            async with turn.tool_call("m", _TOOL_OF[activity], arguments=arguments) as tool:
                tool.completed(function_output("m", "{}"))
            if activity == "spawn":
                late = tool.spawn_agent("v")
                assert not late.enabled
                async with late, late.turn() as late_turn:
                    late_turn.accept_agent_message(task_message("/root", "/root/v", "hi"))
            elif activity == "wait":
                tool.wait_started([child])
            else:
                getattr(tool, f"agent_{activity}")(child)
            async with child, child.turn() as child_turn:
                child_turn.accept_agent_message(task_message("/root", child.agent_path, "hi"))
    bundle = bundle_in(tmp_path)
    assert of_type(bundle, "tool_call_runtime_started") == []
    assert of_type(bundle, "tool_call_runtime_ended") == []
    assert "1 turns, threads, calls, runtimes" in loss_report(bundle)
    state = check_bundle(bundle)
    assert state["interaction_edges"] == {} and len(state["threads"]) == 2


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_spawn_from_a_tool_named_otherwise_says_what_to_do(
    tmp_path: Path, schema: int
) -> None:
    """A loop whose own sub-agent tool is called ``delegate`` (with a ``task`` argument) gets
    no spawn edge: both reducers take spawns only from a ``spawn_agent`` call whose arguments
    hold ``message``. The warning said "a other tool call cannot record agent activity
    started" (found by newuser25): it names the call and the tool now, and says how to record
    it so that the edge lands; recorded that way, it does."""
    task = "Summarise the forecast"
    with pytest.warns(RecorderWarning) as caught:
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            turn.accept(USER)
            async with turn.tool_call("c1", "delegate", arguments={"task": task}) as tool:
                child = tool.spawn_agent("summariser")
                tool.completed(function_output("c1", "done"))
            async with child, child.turn() as child_turn:
                child_turn.accept_agent_message(task_message("/root", child.agent_path, task))
    (message,) = [str(w.message) for w in caught]
    assert "tool call c1 (delegate)" in message
    assert "spawn_agent" in message and '"message"' in message
    assert "a other" not in message
    assert check_bundle(bundle_in(tmp_path))["interaction_edges"] == {}

    # what the warning says to do: the call recorded as spawn_agent, the task as its message
    again = tmp_path / "again"
    async with (
        open_rollout(again, schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        turn.accept(USER)
        arguments = {"task_name": "summariser", "message": task}
        async with turn.tool_call("c1", "spawn_agent", arguments=arguments) as tool:
            child = tool.spawn_agent("summariser")
            tool.completed(function_output("c1", "done"))
        async with child, child.turn() as child_turn:
            child_turn.accept_agent_message(task_message("/root", child.agent_path, task))
    edges = check_bundle(bundle_in(again))["interaction_edges"]
    assert [edge["kind"] for edge in edges.values()] == ["spawn_agent"]


async def test_a_thread_id_already_in_the_bundle_is_replaced(tmp_path: Path, schema: int) -> None:
    """A child given the id of a thread the bundle already holds (a sibling's, the root's)
    gets a fresh id, with a warning. Before, the bundle started that thread twice and both
    reducers refused it whole ("duplicate thread start"); the exotic-value sweep found it
    (tests/record/exotic_sweep.py: every thread id given as one ``UUID`` subclass)."""
    root_id = "0190b7c4-0000-7000-8000-000000000001"
    child_id = "0190b7c4-0000-7000-8000-000000000002"
    with pytest.warns(RecorderWarning, match="already a thread's"):
        async with open_rollout(tmp_path, thread_id=root_id, schema_version=schema) as r:
            children = [
                r.root.spawn(name, thread_id=tid)
                for name, tid in (("a", child_id), ("b", child_id), ("c", root_id))
            ]
            for child in children:
                async with child.turn() as turn:
                    turn.accept(USER)
    ids = [child.thread_id for child in children]
    assert ids[0] == child_id
    assert len({root_id, *ids}) == 4
    check_bundle(bundle_in(tmp_path), tmp_path)
