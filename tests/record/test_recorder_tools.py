"""Tool calls and what runs under them, recorded the way Codex records them, so that the
reducer builds the same terminal sessions, code cells and MCP links (multi-agent calls:
``test_recorder_agents.py``)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, cast

import orjson
import pytest

from rollout_trace_sdk.record import RecorderWarning, Turn, open_rollout, task_message
from rollout_trace_sdk.record._handle import Emitter, Handle, ToolWork
from rollout_trace_sdk.record.runtime import Runtime

from ..conftest import CONFORMANCE, needs_conformance
from .recorder_support import (
    bundle_in,
    check_bundle,
    loss_report,
    of_type,
    payload,
    types,
)
from .tool_loop import USER, Loop, function_call, function_output

pytestmark = pytest.mark.anyio


def _corpus_payload(scenario: str, number: int) -> Any:
    bundle = next((CONFORMANCE / scenario).glob("trace-*"))
    return orjson.loads((bundle / "payloads" / f"{number}.json").read_bytes())


async def test_terminal_session_with_write_stdin(tmp_path: Path, schema: int) -> None:
    async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
        loop = Loop(turn)
        await loop.infer(function_call("call_sess", "exec_command", {"cmd": "cat", "tty": True}))
        async with turn.tool_call("call_sess", "exec_command", arguments={"cmd": "cat"}) as tool:
            session = tool.exec_started(["/bin/sh", "-c", "cat"], process_id=98033, cwd="/work")
            loop.tool_done(tool, "call_sess", "Process running with session ID 98033")
        for n, chars in enumerate(["ping\n", ""], start=1):
            call_id = f"call_w{n}"
            args = {"session_id": 98033, "chars": chars}
            await loop.infer(function_call(call_id, "write_stdin", args))
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
        loop = Loop(turn)
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
        loop = Loop(turn)
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
        await loop.infer(function_call("call_wait", "wait", wait_args))
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
    """The MCP call's runtime events, its correlation id and ``meta``; its end records the
    server's answer as Codex does (``{"result": {"Ok": ...}}``, status completed): with
    ``completed`` passing its two arguments to ``_end`` swapped, the bundle held the status
    as the payload and a coerced "failed", and this test passed (mutation audit mut40)."""
    args = {"text": "hi from mcp ✓"}
    async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
        loop = Loop(turn)
        await loop.infer(function_call("call_mcp", "echo", args, namespace="mcp__demo"))
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
    ended = of_type(bundle, "tool_call_runtime_ended")[0]["payload"]
    assert ended["status"] == "completed"
    answer = {"content": [{"type": "text", "text": "echo: hi"}], "isError": False}
    assert payload(bundle, ended["runtime_payload"]) == {"result": {"Ok": answer}}
    state = check_bundle(bundle, tmp_path)
    call = state["tool_calls"]["call_mcp"]
    assert call["kind"] == {"type": "mcp", "server": "demo", "tool": "echo"}
    assert call["mcp_call_id"] == mcp.mcp_call_id


async def test_compaction_attempts_and_checkpoint(tmp_path: Path) -> None:
    async with open_rollout(tmp_path, model="big") as rollout, rollout.root.turn() as turn:
        loop = Loop(turn)
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
        loop = Loop(turn)
        await loop.infer(function_call("call_exec", "exec_command", {"cmd": "sleep 9"}))
        async with turn.tool_call("call_exec", "exec_command", arguments={"cmd": "x"}) as tool:
            async with tool.exec_started(["sleep", "9"], process_id=7) as session:
                pass
            assert session.ended
            loop.tool_done(tool, "call_exec", "killed")
        await loop.infer(function_call("call_mcp", "echo", {}, namespace="mcp__demo"))
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
        # its end still goes to the first rollout, which ended it at close: a late end
        with pytest.warns(RecorderWarning, match="had already ended"):
            shell.exited(0, "bye")
    bundle = bundle_in(tmp_path / "two")
    assert of_type(bundle, "stdin_target_resolved") == []
    state = check_bundle(bundle, tmp_path)
    assert [c["execution"]["status"] for c in state["tool_calls"].values()] == ["completed"]
    check_bundle(bundle_in(tmp_path / "one"), tmp_path)


async def _after_its_end(turn: Turn, case: str) -> None:
    """Runtime work started on a tool call that has ended (a late task still holding it)."""
    name, arguments, custom = {
        "exec": ("exec_command", {"cmd": "ls"}, None),
        "mcp": ("echo", {}, None),
        "runtime": ("image_gen", {}, None),
        "cell": ("exec", None, "text('a')"),
    }[case]
    async with turn.tool_call("c1", name, arguments=arguments, input=custom) as tool:
        tool.completed({"type": "function_call_output", "call_id": "c1", "output": "done"})
    if case == "exec":
        session = tool.exec_started(["ls"], process_id=5)
        assert not session.enabled
        session.exited(0, "a")
    elif case == "mcp":
        mcp = tool.mcp("demo", "echo", {})
        assert not mcp.enabled and mcp.meta() is None
        mcp.completed({"content": []})
    elif case == "runtime":
        tool.runtime_started({"anything": 1})
    else:
        cell = tool.code_cell("1", "text('a')")
        assert not cell.enabled
        cell.finished([{"type": "input_text", "text": "a"}])


@pytest.mark.parametrize("case", ["exec", "mcp", "runtime", "cell"])
async def test_nothing_starts_on_a_tool_call_after_its_end(
    tmp_path: Path, schema: int, case: str
) -> None:
    """A process, MCP call, runtime or code cell started on a tool call that had ended was
    recorded without a word: the state showed the call running work after its end (a
    terminal operation or cell begun after the call's ``ended_seq``; found by review of the
    recording API, ended19). It is refused as on an ended turn: a null handle, one
    ``RecorderWarning``, counted ``after end``."""
    with pytest.warns(RecorderWarning, match="that had ended"):
        async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
            turn.accept(USER)
            await _after_its_end(turn, case)
    bundle = bundle_in(tmp_path)
    assert of_type(bundle, "tool_call_runtime_started") == []
    assert of_type(bundle, "code_cell_started") == []
    assert "1 turns, threads, calls, runtimes" in loss_report(bundle)
    state = check_bundle(bundle, tmp_path)
    assert state["terminal_operations"] == {} and state["code_cells"] == {}
    assert state["tool_calls"]["c1"]["mcp_call_id"] is None


def test_a_tool_work_sets_every_field_its_bases_set() -> None:
    # ToolWork.__init__ sets Handle's and Emitter's fields itself (one call per tool call)
    rt = cast(Runtime, object())
    handle, work = Handle(rt, "th", "tu"), ToolWork(rt, "th", "tu", "call")
    for slot in (*Emitter.__slots__, *Handle.__slots__):
        assert getattr(work, slot) == getattr(handle, slot), slot
    assert work.tool_call_id == "call"


async def test_an_exception_given_as_the_error_is_recorded_as_its_type_and_text(
    tmp_path: Path, schema: int
) -> None:
    """``except Exception as exc: tool.failed(exc)`` is what a loop writes: the exception is
    recorded as a block it leaves records it, ``Type: message``. It was recorded as an
    unserialisable object (``<unserialisable RuntimeError: RuntimeError('boom')>``), with a
    warning and a loss-report count (review user36); so were an inference call's,
    a compaction request's, an MCP call's and a turn's."""
    boom = RuntimeError("boom")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecorderWarning)
        async with open_rollout(tmp_path) as rollout:
            turn = rollout.root.turn()
            async with turn:
                call = turn.inference({"input": [USER]})
                call.failed(boom)
                attempt = turn.compaction().request({"input": [USER]})
                attempt.failed(boom)
                async with turn.tool_call("c1", "mcp__srv__t", arguments={}) as tool:
                    tool.mcp("srv", "t", {}).failed(boom)
                    tool.failed(boom)
                turn.end("failed", error=boom)
    bundle = bundle_in(tmp_path)
    check_bundle(bundle, tmp_path)
    text = "RuntimeError: boom"
    [inference] = of_type(bundle, "inference_failed")
    [compaction] = of_type(bundle, "compaction_request_failed")
    assert inference["payload"]["error"] == compaction["payload"]["error"] == text  # were "boom"
    [ended] = of_type(bundle, "tool_call_ended")
    assert payload(bundle, ended["payload"]["result_payload"]) == {"type": "error", "error": text}
    [mcp] = of_type(bundle, "tool_call_runtime_ended")
    assert payload(bundle, mcp["payload"]["runtime_payload"])["result"] == {"Err": text}
    errors = [
        payload(bundle, e["payload"]["event_payload"])
        for e in of_type(bundle, "protocol_event_observed")
        if e["payload"]["event_type"] == "error"
    ]
    assert text in orjson.dumps(errors).decode()
    assert not loss_report(bundle)


async def test_a_call_kept_past_its_turn_ends_in_the_turn_that_runs_it(
    tmp_path: Path, schema: int
) -> None:
    """A tool call kept past its turn (``outlive_turn``: an Agents SDK run paused with it
    waiting for an approval) and run in a later turn (``resume_in``) is one call, started in
    the first turn and ended in the later one, its output accepted there and answering the
    model's call in the request that follows; one ended after its turn without moving ends
    with its result, accepted into no turn (none is open), unwarned and uncounted."""
    asked = [
        function_call("call_a", "get_weather", {"city": "Oslo"}),
        function_call("call_b", "get_weather", {"city": "Bergen"}),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecorderWarning)
        async with open_rollout(tmp_path) as rollout:
            first = rollout.root.turn()
            async with first:
                loop = Loop(first)
                await loop.infer(*asked)
                ran = first.tool_call("call_a", "get_weather", arguments=asked[0]["arguments"])
                left = first.tool_call("call_b", "get_weather", arguments=asked[1]["arguments"])
                ran.outlive_turn()
                left.outlive_turn()
            second = rollout.root.turn()
            async with second:
                ran.resume_in(second)
                loop.turn = second
                loop.tool_done(ran, "call_a", "rain")
                left.completed(function_output("call_b", "None"))
                await loop.infer({"type": "message", "role": "assistant", "content": []})
    bundle = bundle_in(tmp_path)
    state = check_bundle(bundle, tmp_path)
    tools = state["tool_calls"]
    assert {tool["started_by_codex_turn_id"] for tool in tools.values()} == {first.turn_id}
    assert [tool["execution"]["status"] for tool in tools.values()] == ["completed"] * 2
    [ended_a, ended_b] = of_type(bundle, "tool_call_ended")
    assert ended_a["codex_turn_id"] == second.turn_id  # where it ran
    [output] = tools["call_a"]["model_visible_output_item_ids"]
    assert state["conversation_items"][output]["codex_turn_id"] == second.turn_id
    [request] = [
        c for c in state["inference_calls"].values() if c["codex_turn_id"] == second.turn_id
    ]
    assert output in request["request_item_ids"]
    assert tools["call_b"]["model_visible_output_item_ids"] == []  # no request carried it
    assert (
        payload(bundle, ended_b["payload"]["result_payload"])["response_item"]["output"] == "None"
    )
    assert not loss_report(bundle)


async def test_a_call_left_open_stays_running_past_the_rollouts_end(
    tmp_path: Path, schema: int
) -> None:
    """A tool call left open (``left_open``: an Agents SDK run paused with it waiting for an
    approval, to be resumed in another bundle) is not cut off by its turn's, thread's or the
    rollout's end (``cancelled`` / ``aborted``): it stays ``running`` with no result, as
    Codex leaves an exec waiting for approval; a later end records nothing."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecorderWarning)
        async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
            loop = Loop(turn)
            await loop.infer(function_call("call_a", "get_weather", {"city": "Oslo"}))
            waiting = turn.tool_call("call_a", "get_weather", arguments='{"city":"Oslo"}')
            waiting.left_open()
    bundle = bundle_in(tmp_path)
    state = check_bundle(bundle, tmp_path)
    [tool] = state["tool_calls"].values()
    assert tool["execution"]["status"] == "running"
    assert tool["execution"]["ended_seq"] is None
    assert not of_type(bundle, "tool_call_ended")
    assert not loss_report(bundle)


async def test_both_runtime_events_refused_on_an_exec_call_say_what_to_use(
    tmp_path: Path,
) -> None:
    """runtime_started and runtime_ended on an exec_command call are two mistakes, each
    with its own remedy (exec_started; TerminalSession.exited): one kind of warning for
    both showed only the first remedy under Python's default filters (review43)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        async with (
            open_rollout(tmp_path) as rollout,
            rollout.root.turn() as turn,
            turn.tool_call("c1", "exec_command", arguments={"cmd": "ls"}) as tool,
        ):
            tool.runtime_started({"anything": 1})
            tool.runtime_ended({"anything": 2})
            tool.completed({"type": "function_call_output", "call_id": "c1", "output": "ok"})
    said = [str(w.message) for w in caught if issubclass(w.category, RecorderWarning)]
    assert len(said) == 2, said
    assert "use exec_started" in said[0]
    assert "use TerminalSession.exited" in said[1]
