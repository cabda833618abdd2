"""Tool calls and what runs under them, recorded the way Codex records them, so that the
reducer builds the same terminal sessions, code cells, MCP links and interaction edges."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.record import RecorderWarning, Turn, open_rollout, task_message

from ..conftest import CONFORMANCE, needs_conformance
from .recorder_support import (
    bundle_in,
    check_bundle,
    of_type,
    payload,
    types,
)

pytestmark = pytest.mark.anyio

USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}


def _call(call_id: str, name: str, args: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "function_call",
        "name": name,
        **extra,
        "arguments": json.dumps(args),
        "call_id": call_id,
    }


def _output(call_id: str, text: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": text}


class _Loop:
    """Just enough of an agent loop: history, inference with canned output, tool calls."""

    def __init__(self, turn: Turn) -> None:
        self.turn = turn
        self.history: list[Any] = [USER]
        turn.accept(USER)

    async def infer(self, *output: dict[str, Any]) -> None:
        async with self.turn.inference({"model": "m", "input": list(self.history)}) as call:
            self.history += call.completed(response_id=f"r{len(self.history)}", output_items=output)

    def tool_done(self, tool: Any, call_id: str, text: str) -> None:
        tool.completed(_output(call_id, text))
        self.history.append(_output(call_id, text))


def _corpus_payload(scenario: str, number: int) -> Any:
    bundle = next((CONFORMANCE / scenario).glob("trace-*"))
    return orjson.loads((bundle / "payloads" / f"{number}.json").read_bytes())


async def test_terminal_session_with_write_stdin(tmp_path: Path, schema: int) -> None:
    async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
        loop = _Loop(turn)
        await loop.infer(_call("call_sess", "exec_command", {"cmd": "cat", "tty": True}))
        async with turn.tool_call("call_sess", "exec_command", arguments={"cmd": "cat"}) as tool:
            session = tool.exec_started(["/bin/sh", "-c", "cat"], process_id=98033, cwd="/work")
            loop.tool_done(tool, "call_sess", "Process running with session ID 98033")
        for n, chars in enumerate(["ping\n", ""], start=1):
            call_id = f"call_w{n}"
            args = {"session_id": 98033, "chars": chars}
            await loop.infer(_call(call_id, "write_stdin", args))
            async with turn.tool_call(call_id, "write_stdin", arguments=args) as tool:
                tool.stdin_target(session)
                loop.tool_done(tool, call_id, chars or "Process exited with code 0")
        session.exited(0, "ping\n")
        await loop.infer({"type": "message", "role": "assistant", "content": []})
    bundle = bundle_in(tmp_path)
    sequence = types(bundle)
    first_stdin = sequence.index("stdin_target_resolved")
    assert sequence[first_stdin - 1] == "tool_call_started"
    resolved = of_type(bundle, "stdin_target_resolved")
    assert [e["payload"]["exec_tool_call_id"] for e in resolved] == ["call_sess", "call_sess"]
    begin = of_type(bundle, "tool_call_runtime_started")[0]["payload"]
    assert begin["kind"] == {"type": "exec_command"}
    end = of_type(bundle, "tool_call_runtime_ended")[0]["payload"]
    begin_body = payload(bundle, begin["runtime_payload"])
    end_body = payload(bundle, end["runtime_payload"])
    assert begin_body["process_id"] == "98033"
    assert begin_body["parsed_cmd"] == [{"type": "unknown", "cmd": "/bin/sh -c cat"}]
    assert end_body["aggregated_output"] == "ping\n" and end_body["exit_code"] == 0
    assert set(end_body["duration"]) == {"secs", "nanos"}
    if CONFORMANCE.is_dir():  # the same keys, in the same order, as Codex's own payloads
        assert list(begin_body) == list(_corpus_payload("single_exec", 7))
        assert list(end_body) == list(_corpus_payload("single_exec", 8))
    state = check_bundle(bundle, tmp_path)
    [session_state] = state["terminal_sessions"].values()
    assert len(session_state["operation_ids"]) == 3
    exec_op = state["terminal_operations"][session_state["created_by_operation_id"]]
    assert exec_op["result"]["stdout"] == "ping\n"


async def test_a_write_stdin_output_over_max_payload_bytes(tmp_path: Path) -> None:
    """A write_stdin printing more than ``max_payload_bytes``: its output item keeps its
    structure, the long text cut into a truncated content value, and its result was a
    template over that item, which Codex 0.171 reads whole and refuses ("partial payload
    <id>": the whole bundle; found by review). The result is now a body of its own, cut."""
    printed = "y" * 5000
    async with (
        open_rollout(tmp_path, schema_version=3, max_payload_bytes=2000) as rollout,
        rollout.root.turn() as turn,
    ):
        loop = _Loop(turn)
        async with turn.tool_call("call_sess", "exec_command", arguments={"cmd": "cat"}) as tool:
            session = tool.exec_started(["cat"], process_id=98033)
            loop.tool_done(tool, "call_sess", "Process running with session ID 98033")
        args = {"session_id": 98033, "chars": ""}
        async with turn.tool_call("call_w1", "write_stdin", arguments=args) as tool:
            tool.stdin_target(session)
            session.exited(0, printed)
            loop.tool_done(tool, "call_w1", printed)
    bundle = bundle_in(tmp_path)
    state = check_bundle(bundle, tmp_path)
    ended = of_type(bundle, "tool_call_ended")[-1]["payload"]["result_payload"]
    assert ended["capture"]["status"] == "truncated" and "parts" not in ended
    assert state["recording_status"] == "closed_with_partial_payloads"
    [stdin_op] = [op for op in state["terminal_operations"].values() if op["kind"] == "write_stdin"]
    assert stdin_op["execution"]["status"] == "completed" and stdin_op["result"] is None


async def test_one_shot_exec_without_process_id(tmp_path: Path) -> None:
    async with (
        open_rollout(tmp_path) as rollout,
        rollout.root.turn() as turn,
        turn.tool_call("c1", "shell", command=["echo", "hi"]) as tool,
    ):
        run = tool.exec_started(["echo", "hi"])
        run.exited(3, "hi\n")
        with pytest.warns(RecorderWarning, match="cannot start another process"):
            tool.exec_started(["echo", "again"])
        tool.failed("exit 3")
    bundle = bundle_in(tmp_path)
    begin = of_type(bundle, "tool_call_runtime_started")[0]["payload"]["runtime_payload"]
    assert "process_id" not in payload(bundle, begin)
    assert [e["payload"]["status"] for e in of_type(bundle, "tool_call_runtime_ended")] == [
        "failed"
    ]
    state = check_bundle(bundle, tmp_path)
    [operation] = state["terminal_operations"].values()
    assert operation["terminal_id"] is None
    assert operation["result"]["exit_code"] == 3


async def test_code_cell_with_nested_tool_yield_and_wait(tmp_path: Path, schema: int) -> None:
    source = "const r = await tools.exec_command({cmd: 'sleep 1; echo done'});\ntext(r.output);\n"
    async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
        loop = _Loop(turn)
        await loop.infer(
            {"type": "custom_tool_call", "call_id": "call_cell", "name": "exec", "input": source}
        )
        async with turn.tool_call("call_cell", "exec", input=source) as tool:
            cell = tool.code_cell("1", source)
            nested = cell.tool_call(
                "exec-nested-1",
                "exec_command",
                runtime_tool_id="tool-1",
                arguments={"cmd": "sleep 1"},
            )
            run = nested.exec_started(["/bin/sh", "-c", "sleep 1; echo done"], process_id=7)
            cell.yielded()
            output = {
                "type": "custom_tool_call_output",
                "call_id": "call_cell",
                "output": "Script running",
            }
            tool.completed(output)
            loop.history.append(output)
        wait_args = {"cell_id": "1", "yield_time_ms": 10000}
        await loop.infer(_call("call_wait", "wait", wait_args))
        async with turn.tool_call("call_wait", "wait", arguments=wait_args) as wait:
            run.exited(0, "done\n")
            nested.completed_value({"output": "done\n", "exit_code": 0})
            cell.finished([{"type": "input_text", "text": "done\n"}])
            loop.tool_done(wait, "call_wait", "Script completed")
        await loop.infer({"type": "message", "role": "assistant", "content": []})
    bundle = bundle_in(tmp_path)
    sequence = types(bundle)
    assert sequence.index("code_cell_started") == sequence.index("tool_call_started") + 1
    assert sequence.count("code_cell_initial_response") == sequence.count("code_cell_ended") == 1
    started = of_type(bundle, "tool_call_started")
    assert started[0]["payload"]["kind"] == {"type": "other", "name": "exec"}
    assert started[1]["payload"]["requester"] == {"type": "code_cell", "runtime_cell_id": "1"}
    assert started[1]["payload"]["code_mode_runtime_tool_id"] == "tool-1"
    assert started[1]["payload"]["model_visible_call_id"] is None
    initial = of_type(bundle, "code_cell_initial_response")[0]["payload"]
    assert payload(bundle, initial["response_payload"]) == {
        "response": {"Yielded": {"cell_id": "1", "content_items": []}}
    }
    state = check_bundle(bundle, tmp_path)
    cell_state = state["code_cells"]["code_cell:call_cell"]
    assert cell_state["runtime_status"] == "completed"
    assert cell_state["initial_response_status"] == "yielded"
    assert cell_state["nested_tool_call_ids"] == ["exec-nested-1"]
    assert cell_state["wait_tool_call_ids"] == ["call_wait"]
    assert state["tool_calls"]["call_cell"]["started_code_cell_id"] == "code_cell:call_cell"
    if schema == 3:  # 0.171 links waits only from this event, just before the cell's end
        [resolved] = of_type(bundle, "code_cell_wait_target_resolved")
        assert resolved["payload"]["tool_call_id"] == "call_wait"
        assert resolved["payload"]["runtime_cell_id"] == "1"
        assert sequence.index("code_cell_wait_target_resolved") + 1 == sequence.index(
            "code_cell_ended"
        )
        assert state["tool_calls"]["call_wait"]["resolved_wait_runtime_cell_id"] == "1"
    else:
        assert "code_cell_wait_target_resolved" not in sequence


async def test_mcp_call_correlation_and_meta(tmp_path: Path) -> None:
    args = {"text": "hi from mcp ✓"}
    async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
        loop = _Loop(turn)
        await loop.infer(_call("call_mcp", "echo", args, namespace="mcp__demo"))
        async with turn.tool_call(
            "call_mcp", "echo", namespace="mcp__demo", arguments=args
        ) as tool:
            mcp = tool.mcp("demo", "echo", args)
            mine = {"progressToken": 1}
            meta = mcp.meta(mine)
            assert meta == {"progressToken": 1, "codex_bridge_mcp_call_id": mcp.mcp_call_id}
            assert mine == {"progressToken": 1}
            assert mcp.meta() == {"codex_bridge_mcp_call_id": mcp.mcp_call_id}
            assert mcp.meta([1]) == [1]
            mcp.completed({"content": [{"type": "text", "text": "echo: hi"}], "isError": False})
            loop.tool_done(tool, "call_mcp", "echo: hi")
    bundle = bundle_in(tmp_path)
    sequence = types(bundle)
    at = sequence.index("tool_call_runtime_started")
    assert sequence[at : at + 4] == [
        "tool_call_runtime_started",
        "mcp_tool_call_correlation_assigned",
        "tool_call_runtime_ended",
        "tool_call_ended",
    ]
    started = of_type(bundle, "tool_call_started")[0]["payload"]
    assert started["kind"] == {"type": "other", "name": "echo"}
    assert started["summary"]["label"] == "mcp__demo.echo"
    correlation = of_type(bundle, "mcp_tool_call_correlation_assigned")[0]
    assert (correlation["thread_id"], correlation["codex_turn_id"]) == (None, None)
    state = check_bundle(bundle, tmp_path)
    call = state["tool_calls"]["call_mcp"]
    assert call["kind"] == {"type": "mcp", "server": "demo", "tool": "echo"}
    assert call["mcp_call_id"] == mcp.mcp_call_id


async def test_compaction_attempts_and_checkpoint(tmp_path: Path) -> None:
    async with open_rollout(tmp_path, model="big") as rollout, rollout.root.turn() as turn:
        loop = _Loop(turn)
        await loop.infer(
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "a"}],
            }
        )
        compaction = turn.compaction("cmp-1")
        async with compaction.request({"input": loop.history}, model="small") as first:
            first.failed("context window exceeded")
        async with compaction.request({"input": loop.history}) as second:
            summary = second.completed([{"type": "compaction", "encrypted_content": "SUMMARY"}])
        replacement = compaction.installed(
            input_history=loop.history, replacement_history=[USER, *summary]
        )
        loop.history = [USER, *summary]
        await loop.infer(
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "b"}],
            }
        )
    bundle = bundle_in(tmp_path)
    assert [r["id"] for r in replacement][1] == summary[0]["id"]
    started = of_type(bundle, "compaction_request_started")
    assert [e["payload"]["compaction_request_id"] for e in started] == [
        "compaction_request:1",
        "compaction_request:2",
    ]
    assert [e["payload"]["model"] for e in started] == ["small", "big"]
    installed = of_type(bundle, "compaction_installed")[0]
    assert installed["thread_id"] == rollout.root.thread_id
    assert installed["codex_turn_id"] == turn.turn_id
    state = check_bundle(bundle, tmp_path)
    compaction_state = state["compactions"]["cmp-1"]
    assert compaction_state["request_ids"] == ["compaction_request:1", "compaction_request:2"]
    last_call = max(state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"])
    assert last_call["request_item_ids"] == compaction_state["replacement_item_ids"]


async def test_multi_agent_edges(tmp_path: Path, schema: int) -> None:
    async with open_rollout(tmp_path) as rollout:
        root = rollout.root
        async with root.turn() as turn:
            loop = _Loop(turn)
            spawn_args = {"task_name": "worker", "message": "CHILD: run one echo and report."}
            await loop.infer(
                _call("call_spawn", "spawn_agent", spawn_args, namespace="collaboration")
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
            await loop.infer(_call("call_wait", "wait_agent", wait_args, namespace="collaboration"))
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
                await loop.infer(_call(call_id, name, args, namespace="collaboration"))
                async with turn.tool_call(
                    call_id, name, namespace="collaboration", arguments=args
                ) as tool:
                    tool.agent_interacted(child)
                    loop.tool_done(tool, call_id, "")
                reply = await child_turn(args["message"], kind)
                loop.history.append(turn.accept_agent_message(reply))

            args = {"target": "/root/worker"}
            await loop.infer(
                _call("call_interrupt", "interrupt_agent", args, namespace="collaboration")
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


async def test_preview_and_label(tmp_path: Path) -> None:
    long_input = "word " * 40
    async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
        turn.tool_call("c1", "apply_patch", input=long_input).completed()
        turn.tool_call("c2", "tool_search", search={"query": "demo echo", "limit": 4}).completed()
        turn.tool_call("c3", "imagegen", namespace="img", arguments='{"p": 1}').completed()
    started = [e["payload"] for e in of_type(bundle_in(tmp_path), "tool_call_started")]
    assert started[0]["kind"] == {"type": "apply_patch"}
    assert started[0]["summary"]["input_preview"] == "word " * 32 + "..."
    assert started[1]["summary"]["input_preview"] == "demo echo"
    assert started[2]["kind"] == {"type": "image_generation"}
    assert started[2]["summary"]["label"] == "img.imagegen"
    check_bundle(bundle_in(tmp_path), tmp_path)


@needs_conformance
def test_corpus_has_the_shapes_we_copy() -> None:
    """The corpus payloads the recorder imitates (guards against a corpus refresh)."""
    assert "agent_thread_id" in _corpus_payload("multi_agent_v2_lifecycle", 9)
    assert list(_corpus_payload("mcp_tool_call", 11)) == ["call_id", "turn_id", "invocation"]


async def test_terminal_and_mcp_blocks_left_without_an_end(tmp_path: Path) -> None:
    """A terminal session or MCP call whose ``async with`` is left without its ending call
    ends as when the rollout closes under it: exit code -1 failed; MCP failed."""
    async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
        loop = _Loop(turn)
        await loop.infer(_call("call_exec", "exec_command", {"cmd": "sleep 9"}))
        async with turn.tool_call("call_exec", "exec_command", arguments={"cmd": "x"}) as tool:
            async with tool.exec_started(["sleep", "9"], process_id=7) as session:
                pass
            assert session.ended
            loop.tool_done(tool, "call_exec", "killed")
        await loop.infer(_call("call_mcp", "echo", {}, namespace="mcp__demo"))
        async with turn.tool_call("call_mcp", "echo", namespace="mcp__demo", arguments={}) as tool:
            async with tool.mcp("demo", "echo", {}) as mcp:
                pass
            assert mcp.ended
            loop.tool_done(tool, "call_mcp", "no answer")
    bundle = bundle_in(tmp_path)
    ended = [e["payload"] for e in of_type(bundle, "tool_call_runtime_ended")]
    assert [e["status"] for e in ended] == ["failed", "failed"]
    state = check_bundle(bundle, tmp_path)
    assert state["tool_calls"]["call_mcp"]["kind"]["type"] == "mcp"


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
                tool.completed(_output("call_1", "waited"))
    bundle = bundle_in(tmp_path)
    (started,) = of_type(bundle, "tool_call_started")
    assert (started["payload"]["invocation_payload"] is None) is (schema == 2)
    state = check_bundle(bundle)
    assert len(state["tool_calls"]) == 1


async def _twice(turn: Turn, case: str) -> None:
    """What a careless loop does twice (found by review): each made both reducers refuse the
    whole bundle; the second is now refused at the call, with a warning."""
    if case == "mcp retried":
        async with turn.tool_call("c1", "search_docs", arguments="{}") as tool:
            tool.mcp("docs", "search", {"q": "a"}).completed({"content": []})
            tool.mcp("docs", "search", {"q": "a"}).completed({"content": []})
    elif case == "exec and mcp":
        async with turn.tool_call("c1", "exec_command", arguments={"cmd": "ls"}) as tool:
            tool.exec_started(["ls"]).exited(0, "a")
            tool.mcp("docs", "search", {}).completed({"content": []})
    elif case in ("send_message runtime", "spawn_agent runtime"):
        name = case.split()[0]
        async with turn.tool_call("c1", name, arguments={"message": "hi"}) as tool:
            tool.runtime_started({"anything": 1})
            tool.runtime_ended({"anything": 2})
    elif case == "cell twice":
        async with turn.tool_call("e1", "exec", input="text('a')") as tool:
            async with tool.code_cell("1", "text('a')") as cell:
                cell.finished([{"type": "input_text", "text": "a"}])
            async with tool.code_cell("2", "text('b')") as cell:
                cell.finished([{"type": "input_text", "text": "b"}])
    else:  # "message to two agents"
        a, b = turn.thread.spawn("a"), turn.thread.spawn("b")
        async with turn.tool_call("m", "send_message", arguments={"message": "hi"}) as tool:
            tool.agent_interacted(a)
            tool.agent_interacted(b)
        for child in (a, b):
            async with child, child.turn() as child_turn:
                child_turn.accept_agent_message(task_message("/root", child.agent_path, "hi"))


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize(
    "case",
    [
        "mcp retried",
        "exec and mcp",
        "send_message runtime",
        "spawn_agent runtime",
        "cell twice",
        "message to two agents",
    ],
)
async def test_runtime_work_a_call_cannot_hold_twice_is_refused(
    tmp_path: Path, schema: int, case: str
) -> None:
    refused = "another|recorded by its own calls|code cells not recorded|activity already"
    with pytest.warns(RecorderWarning, match=refused):
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            await _twice(turn, case)
    check_bundle(bundle_in(tmp_path))


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


async def test_a_cell_refused_on_a_busy_call_leaves_its_id_free(tmp_path: Path) -> None:
    """A second cell asked of one exec call is refused; its runtime id stays free for the
    call that does run it."""
    with pytest.warns(RecorderWarning, match="code cells not recorded"):
        async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
            async with turn.tool_call("e1", "exec", input="a") as tool:
                async with tool.code_cell("1", "a") as cell:
                    cell.finished([])
                assert not tool.code_cell("2", "b").enabled
            async with turn.tool_call("e2", "exec", input="b") as tool:
                assert tool.code_cell("2", "b").enabled
    bundle = bundle_in(tmp_path)
    started = [e["payload"]["runtime_cell_id"] for e in of_type(bundle, "code_cell_started")]
    assert started == ["1", "2"]
    check_bundle(bundle)


async def test_write_stdin_to_another_rollouts_terminal_is_not_linked(
    tmp_path: Path, schema: int
) -> None:
    """A shell kept across episodes (one rollout each): the second episode's write_stdin names
    the first one's terminal session. Its ``stdin_target_resolved`` named an exec the bundle
    does not hold, and both reducers refused the whole bundle ("stdin target referenced
    unknown exec e1"); the target is now left out, with a warning."""
    scope = open_rollout(tmp_path / "one")
    async with scope as first, first.root.turn() as turn:
        tool = turn.tool_call("e1", "exec_command", arguments={"cmd": "bash"})
        shell = tool.exec_started(["bash"], process_id=1)
        tool.completed({"type": "function_call_output", "call_id": "e1", "output": "up"})
    async with open_rollout(tmp_path / "two") as second, second.root.turn() as turn:
        arguments = {"session_id": 1, "chars": "ls\n"}
        async with turn.tool_call("w1", "write_stdin", arguments=arguments) as tool:
            with pytest.warns(RecorderWarning, match="names a terminal session"):
                tool.stdin_target(shell)
            tool.completed({"type": "function_call_output", "call_id": "w1", "output": "ok"})
        shell.exited(0, "bye")  # its end still goes to the first rollout (closed: dropped)
    bundle = bundle_in(tmp_path / "two")
    assert of_type(bundle, "stdin_target_resolved") == []
    state = check_bundle(bundle, tmp_path)
    assert [c["execution"]["status"] for c in state["tool_calls"].values()] == ["completed"]
    check_bundle(bundle_in(tmp_path / "one"), tmp_path)


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("activity", ["interacted", "interrupted"])
async def test_an_agent_thread_whose_start_was_dropped_gets_no_activity(
    tmp_path: Path, schema: int, activity: str
) -> None:
    """With ``overflow="drop"``, a spawn whose child start found the queue full hands out a
    null thread; a later send_message / close_agent naming it recorded an activity with an
    empty thread id, and both reducers refused the whole bundle ("invalid length: expected
    length 32 for simple format, found 0"; found by review, killing a busy agent). The
    activity is left out, with a warning."""
    with pytest.warns(RecorderWarning, match="names an agent thread that was not recorded"):
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
                assert not child.enabled  # its start was dropped
                tool.completed(_output("s", "{}"))
                big.cancelled("not sent")
            await rollout.flush()
            name = "send_message" if activity == "interacted" else "close_agent"
            async with turn.tool_call("m", name, arguments={"message": "hi"}) as tool:
                getattr(tool, f"agent_{activity}")(child)
                tool.completed(_output("m", "{}"))
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
            tool.completed(_output("m", "{}"))
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
                tool.completed(_output("m", "{}"))
            async with child, child.turn() as child_turn:
                child_turn.accept_agent_message(task_message("/root", child.agent_path, "hi"))
    state = check_bundle(bundle_in(tmp_path))
    assert state["interaction_edges"] == {}


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
            tool.completed(_output("c", "{}"))
    bundle = bundle_in(tmp_path / "on")
    check_bundle(bundle)
    (started,) = [
        body
        for event in of_type(bundle, "tool_call_runtime_started")
        if isinstance(body := payload(bundle, event["payload"]["runtime_payload"]), dict)
        and "receiver_thread_ids" in body
    ]
    assert started["receiver_thread_ids"] == [child.thread_id]
