"""Reducer scenarios 28-31: terminal operations and sessions (schema 2 session naming)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.model import events as ev
from tests.reduce.builder import ROOT, TURN, Scenario, message, request, response, start_tool

EXEC = ev.ToolCallKind("exec_command")
STDIN = ev.ToolCallKind("write_stdin")


def fc(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": f"fc-{call_id}",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def fco(call_id: str, output: str) -> dict[str, Any]:
    return {
        "type": "function_call_output",
        "id": f"fco-{call_id}",
        "call_id": call_id,
        "output": output,
    }


def exec_runtime(
    bundle: Scenario,
    call_id: str,
    process_id: str | None,
    output: str = "ok\n",
    *,
    kind: ev.ToolCallKind = EXEC,
    stdin: str | None = None,
) -> None:
    begin: dict[str, Any] = {"call_id": call_id}
    if process_id is not None:
        begin["process_id"] = process_id
    begin.update(
        {
            "turn_id": TURN,
            "command": ["/bin/bash", "-lc", "cat"],
            "cwd": "/work",
            "parsed_cmd": [],
            "source": "unified_exec_startup",
        }
    )
    if stdin is not None:
        begin["interaction_input"] = stdin
    ref = bundle.payload("tool_runtime_event", begin)
    bundle.event(ev.ToolCallRuntimeStarted(call_id, kind, ref), thread=ROOT, turn=TURN)
    end = {
        **begin,
        "stdout": "ignored",
        "stderr": "ignored",
        "aggregated_output": output,
        "exit_code": 0,
        "duration": {"secs": 0, "nanos": 1},
        "formatted_output": "ignored",
        "status": "completed",
    }
    ref = bundle.payload("tool_runtime_event", end)
    bundle.event(ev.ToolCallRuntimeEnded(call_id, "completed", ref), thread=ROOT, turn=TURN)


def end_tool(bundle: Scenario, call_id: str, result: dict[str, Any]) -> None:
    ref = bundle.payload("tool_result", result)
    bundle.event(ev.ToolCallEnded(call_id, "completed", ref), thread=ROOT, turn=TURN)


def test_28_exec_command_operation_session_and_observation(bundle: Scenario) -> None:
    call = fc("call-e", "exec_command", '{"cmd": "cat"}')
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "go", "u1")), response(call))
    start_tool(bundle, "call-e", EXEC, "exec_command", '{"cmd": "cat"}')
    exec_runtime(bundle, "call-e", "4242", output="hello\n")
    end_tool(bundle, "call-e", {"type": "direct_response", "response_item": fco("call-e", "hello")})
    bundle.infer("inf-2", request(message("user", "go", "u1"), call, fco("call-e", "hello")))
    state = bundle.reduce()
    operation = state["terminal_operations"]["terminal_operation:1"]
    assert operation["terminal_id"] == "terminal_session:terminal_operation:1"
    assert operation["request"]["display_command"] == "/bin/bash -lc cat"
    assert operation["result"] == {
        "exit_code": 0,
        "stdout": "hello\n",
        "stderr": "",
        "formatted_output": None,
        "original_token_count": None,
        "chunk_id": None,
    }
    assert operation["model_observations"] == [
        {
            "call_item_ids": ["conversation_item:2"],
            "output_item_ids": ["conversation_item:3"],
            "source": "direct_tool_call",
        }
    ]
    session = state["terminal_sessions"]["terminal_session:terminal_operation:1"]
    assert session["operation_ids"] == ["terminal_operation:1"]
    assert session["execution"]["ended_seq"] is None
    assert state["tool_calls"]["call-e"]["summary"] == {
        "type": "terminal",
        "operation_id": "terminal_operation:1",
    }


def test_29_write_stdin_runtime_begin_joins_the_process_session(bundle: Scenario) -> None:
    bundle.begin()
    start_tool(bundle, "call-e", EXEC, "exec_command", '{"cmd": "cat"}')
    exec_runtime(bundle, "call-e", "77")
    start_tool(bundle, "call-w", STDIN, "write_stdin", "", invocation=False)
    exec_runtime(bundle, "call-w", "77", kind=STDIN, stdin="more\n")
    state = bundle.reduce()
    operation = state["terminal_operations"]["terminal_operation:2"]
    assert operation["kind"] == "write_stdin"
    assert operation["request"]["stdin"] == "more\n"
    assert operation["terminal_id"] == "terminal_session:terminal_operation:1"


def test_30_dispatch_write_stdin_with_numeric_session_id(bundle: Scenario) -> None:
    bundle.begin()
    start_tool(bundle, "call-e", EXEC, "exec_command", '{"cmd": "cat"}')
    exec_runtime(bundle, "call-e", "98033")
    arguments = '{"session_id": 98033, "chars": "ping\\n", "yield_time_ms": 300}'
    start_tool(bundle, "call-w", STDIN, "write_stdin", arguments)
    bundle.event(ev.StdinTargetResolved("call-w", "call-e"), thread=ROOT, turn=TURN)
    end_tool(bundle, "call-w", {"type": "direct_response", "response_item": fco("call-w", "pong")})
    state = bundle.reduce()
    operation = state["terminal_operations"]["terminal_operation:2"]
    assert operation["request"] == {
        "type": "write_stdin",
        "stdin": "ping\n",
        "yield_time_ms": 300,
        "max_output_tokens": None,
    }
    assert operation["result"]["stdout"] == operation["result"]["formatted_output"] == "pong"
    assert operation["raw_payload_ids"] == ["raw_payload:4", "raw_payload:5"]
    session = state["terminal_sessions"]["terminal_session:terminal_operation:1"]
    assert session["operation_ids"] == ["terminal_operation:1", "terminal_operation:2"]


def test_30b_stdin_target_moves_an_operation_between_sessions(bundle: Scenario) -> None:
    bundle.begin()
    start_tool(bundle, "call-e", EXEC, "exec_command", '{"cmd": "cat"}')
    exec_runtime(bundle, "call-e", "1")
    start_tool(bundle, "call-w", STDIN, "write_stdin", '{"session_id": "2"}')
    assert "terminal_session:terminal_operation:2" in bundle.reduce()["terminal_sessions"]
    bundle.event(ev.StdinTargetResolved("call-w", "call-e"), thread=ROOT, turn=TURN)
    state = bundle.reduce()
    assert list(state["terminal_sessions"]) == ["terminal_session:terminal_operation:1"]
    assert (
        state["terminal_operations"]["terminal_operation:2"]["terminal_id"]
        == "terminal_session:terminal_operation:1"
    )


@pytest.mark.parametrize("limit", ['"300"', "-1", "true", "18446744073709551616", "1.5"])
def test_30c_write_stdin_with_a_limit_that_is_no_u64_is_no_terminal_operation(
    bundle: Scenario, limit: str
) -> None:
    """Codex reads ``yield_time_ms`` as an ``Option<u64>``: a string of digits, a negative
    number, a boolean, a number past u64 or a float does not read, so the call is no
    terminal operation (found by mutation audit mut48: no test gave one, so accepting a
    number past u64 went unseen). Checked against Codex when it is here."""
    bundle.begin()
    start_tool(bundle, "call-e", EXEC, "exec_command", '{"cmd": "cat"}')
    exec_runtime(bundle, "call-e", "98033")
    arguments = f'{{"session_id": 98033, "chars": "ping\\n", "yield_time_ms": {limit}}}'
    start_tool(bundle, "call-w", STDIN, "write_stdin", arguments)
    state = bundle.reduce()
    assert list(state["terminal_operations"]) == ["terminal_operation:1"]


def test_31_code_mode_write_stdin_result_projection(bundle: Scenario) -> None:
    bundle.begin()
    start_tool(bundle, "call-w", STDIN, "write_stdin", '{"session_id": "5", "chars": "x"}')
    end_tool(
        bundle,
        "call-w",
        {
            "type": "code_mode_response",
            "value": {
                "output": "done",
                "exit_code": 3,
                "original_token_count": 9,
                "chunk_id": "c1",
            },
        },
    )
    state = bundle.reduce()
    assert state["terminal_operations"]["terminal_operation:1"]["result"] == {
        "exit_code": 3,
        "stdout": "done",
        "stderr": "",
        "formatted_output": "done",
        "original_token_count": 9,
        "chunk_id": "c1",
    }


def test_write_stdin_error_result(bundle: Scenario) -> None:
    bundle.begin()
    start_tool(bundle, "call-w", STDIN, "write_stdin", '{"session_id": "5"}')
    end_tool(bundle, "call-w", {"type": "error", "error": "no such session"})
    result = bundle.reduce()["terminal_operations"]["terminal_operation:1"]["result"]
    assert result["stderr"] == "no such session"


def test_write_stdin_without_session_id_makes_no_operation(bundle: Scenario) -> None:
    bundle.begin()
    start_tool(bundle, "call-w", STDIN, "write_stdin", '{"chars": "x"}')
    state = bundle.reduce()
    assert state["terminal_operations"] == {}
    assert state["tool_calls"]["call-w"]["terminal_operation_id"] is None


def test_exec_end_without_exit_code(bundle: Scenario) -> None:
    bundle.begin()
    start_tool(bundle, "call-e", EXEC, "exec_command", "{}")
    begin = bundle.payload(
        "tool_runtime_event", {"call_id": "call-e", "command": ["ls"], "cwd": "/"}
    )
    bundle.event(ev.ToolCallRuntimeStarted("call-e", EXEC, begin), thread=ROOT, turn=TURN)
    end = bundle.payload("tool_runtime_event", {"call_id": "call-e", "aggregated_output": ""})
    bundle.event(ev.ToolCallRuntimeEnded("call-e", "completed", end), thread=ROOT, turn=TURN)
    error = bundle.reduce_error()
    assert error.message == "parse exec terminal response raw_payload:3"
    assert error.cause == "missing field `exit_code`"


def test_second_terminal_operation_is_refused(bundle: Scenario) -> None:
    bundle.begin()
    start_tool(bundle, "call-w", STDIN, "write_stdin", '{"session_id": "5"}')
    exec_runtime(bundle, "call-w", "5", kind=STDIN)
    assert (
        bundle.reduce_error().message
        == "tool runtime start would create a second terminal operation for call-w"
    )


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("where", ["output", "value"])
def test_a_dispatch_result_written_as_json_keeps_its_number_text(
    tmp_path: Path, schema: int, where: str
) -> None:
    """Codex writes a dispatch result's JSON from serde_json's ``Value``, each number as the
    file spelled it: ours wrote orjson's floats (``1.5`` for ``1.50``, ``100000.0`` for
    ``1E5``, ``null`` for ``1e400``) and stopped on an integer past 64 bits ("internal
    error: TypeError: Integer exceeds 64-bit range"). Found by numbers23's probe."""
    huge = "1" + "0" * 400
    value = f'{{"a": 1.50, "b": 1E5, "c": 1e400, "d": {huge}, "e": [-0.0, 4.9e-324]}}'
    if where == "output":
        text = (
            '{"type": "direct_response", "response_item": '
            f'{{"type": "function_call_output", "call_id": "call-w", "output": {value}}}}}'
        )
    else:
        text = f'{{"type": "code_mode_response", "value": {value}}}'
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    start_tool(bundle, "call-w", STDIN, "write_stdin", '{"session_id": 5}')
    ref = bundle.raw_payload("tool_result", text)
    bundle.event(ev.ToolCallEnded("call-w", "completed", ref), thread=ROOT, turn=TURN)
    result = bundle.reduce()["terminal_operations"]["terminal_operation:1"]["result"]
    assert result["stdout"] == (f'{{"a":1.50,"b":1e+5,"c":1e+400,"d":{huge},"e":[-0.0,4.9e-324]}}')


@pytest.mark.parametrize("schema", [2, 3])
def test_a_namespaced_write_stdin_makes_no_operation(tmp_path: Path, schema: int) -> None:
    """A write_stdin call whose invocation names a tool namespace is some other tool's
    write_stdin, not the built-in one: no terminal operation (checked with Codex 0.169 and
    0.171). Reading it as the built-in passed every test (mut32)."""
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    for call_id, namespace in (("call-n", "mcp__term"), ("call-w", None)):
        invocation = bundle.payload(
            "tool_invocation",
            {
                "tool_name": "write_stdin",
                "tool_namespace": namespace,
                "payload": {"type": "function", "arguments": '{"session_id": 5}'},
            },
        )
        summary = ev.GenericSummary("write_stdin", None)
        started = ev.ToolCallStarted(
            call_id, call_id, None, ev.ModelRequester(), STDIN, summary, invocation
        )
        bundle.event(started, thread=ROOT, turn=TURN)
    state = bundle.reduce()
    assert [op["tool_call_id"] for op in state["terminal_operations"].values()] == ["call-w"]
    assert state["tool_calls"]["call-n"]["terminal_operation_id"] is None


@pytest.mark.parametrize("schema", [2, 3])
def test_an_exec_that_ends_in_another_process_is_refused(tmp_path: Path, schema: int) -> None:
    """An exec_command whose runtime end names another process id than its begin did is
    refused, as Codex 0.169 and 0.171 refuse it; the same id again is fine. Never checking
    passed every test (mut32)."""
    for ended in ("41", "42"):
        bundle = Scenario(tmp_path / ended, schema=schema)
        bundle.begin()
        start_tool(bundle, "call-e", EXEC, "exec_command", '{"cmd": "cat"}')
        begin = {"call_id": "call-e", "process_id": "41", "command": ["cat"], "cwd": "/w"}
        ref = bundle.payload("tool_runtime_event", begin)
        bundle.event(ev.ToolCallRuntimeStarted("call-e", EXEC, ref), thread=ROOT, turn=TURN)
        end = {**begin, "process_id": ended, "aggregated_output": "x", "exit_code": 0}
        ref = bundle.payload("tool_runtime_event", end)
        bundle.event(ev.ToolCallRuntimeEnded("call-e", "completed", ref), thread=ROOT, turn=TURN)
        if ended == "41":
            session = bundle.reduce()["terminal_sessions"]["terminal_session:terminal_operation:1"]
            assert session["operation_ids"] == ["terminal_operation:1"]
        else:
            assert bundle.reduce_error().message == (
                "terminal operation terminal_operation:1 changed process id from 41 to 42"
            )
