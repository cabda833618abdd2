"""The recorder writes the events Codex writes, in Codex's order and envelopes; disabled, it
writes nothing."""

from __future__ import annotations

import inspect
import json
import uuid
import warnings
from pathlib import Path
from typing import Any

import anyio
import pytest

from rollout_trace_sdk.record import (
    CALL_ID_HEADER,
    RecorderWarning,
    TokenUsage,
    code_cells,
    compactions,
    inference,
    mcp,
    open_rollout,
    task_message,
    terminals,
    threads,
    tools,
    turns,
)
from rollout_trace_sdk.record.items import content_id
from rollout_trace_sdk.record.rollout import NULL_ROLLOUT, Rollout

from .recorder_support import (
    bundle_in,
    check_bundle,
    events,
    loss_report,
    of_type,
    payload,
    recorded_whole,
    types,
)

pytestmark = pytest.mark.anyio

USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]}
BASE = {
    "type": "message",
    "role": "developer",
    "content": [{"type": "input_text", "text": "be brief"}],
}
ANSWER = {
    "type": "message",
    "id": "msg_answer",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "hi there"}],
}


async def test_minimal_rollout_lines(tmp_path: Path, schema: int) -> None:
    async with open_rollout(tmp_path, model="gpt-test", provider_name="test-provider") as rollout:
        assert rollout.enabled
        root = rollout.root
        async with root.turn("turn-1") as turn:
            turn.accept(USER)
            async with turn.inference({"model": "gpt-test", "input": [BASE, USER]}) as call:
                assert call.headers == {CALL_ID_HEADER: call.inference_call_id}
                call.completed(
                    response_id="resp-1",
                    upstream_request_id="req-1",
                    output_items=[ANSWER],
                    token_usage=TokenUsage(input_tokens=5, output_tokens=2),
                )
    bundle = bundle_in(tmp_path)
    assert rollout.bundle_dir == bundle
    assert bundle.name == f"trace-{rollout.trace_id}-{root.thread_id}"
    assert types(bundle) == [
        "rollout_started",
        "thread_started",
        "protocol_event_observed",  # session_configured
        "codex_turn_started",
        "protocol_event_observed",  # turn_started
        "history_item_accepted",
        "inference_started",
        "inference_completed",
        "history_item_accepted",
        "codex_turn_ended",
        "protocol_event_observed",  # turn_complete
        "protocol_event_observed",  # shutdown_complete
        "thread_ended",
        "rollout_ended",
        "recording_completed",
    ]
    lines = events(bundle)
    assert [e["seq"] for e in lines] == list(range(1, len(lines) + 1))
    assert {e["rollout_id"] for e in lines} == {root.thread_id}
    contexts = [(e["thread_id"], e["codex_turn_id"]) for e in lines]
    in_turn = (root.thread_id, "turn-1")
    none = (None, None)
    assert contexts[:9] == [none, none, none, in_turn, none, in_turn, in_turn, in_turn, in_turn]
    assert contexts[9:] == [in_turn, none, none, none, none, none]
    assert [e["payload"].get("event_type") for e in of_type(bundle, "protocol_event_observed")] == [
        "session_configured",
        "turn_started",
        "turn_complete",
        "shutdown_complete",
    ]

    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["schema_version"] == schema
    assert manifest["rollout_id"] == manifest["root_thread_id"] == root.thread_id
    assert manifest["trace_id"] == rollout.trace_id

    started = lines[1]["payload"]
    assert started["agent_path"] == "/root"
    metadata = payload(bundle, started["metadata_payload"])
    assert list(metadata) == [
        "thread_id",
        "agent_path",
        "task_name",
        "nickname",
        "agent_role",
        "session_source",
        "cwd",
        "rollout_path",
        "model",
        "provider_name",
        "approval_policy",
        "sandbox_policy",
    ]
    assert metadata["session_source"] == "exec"

    accepted_user = lines[5]["payload"]["item_id"]
    assert accepted_user == content_id(USER)
    request = payload(bundle, lines[6]["payload"]["request_payload"])
    assert [item["id"] for item in request["input"]] == [content_id(BASE), accepted_user]
    assert lines[6]["payload"]["model"] == "gpt-test"
    assert lines[6]["payload"]["provider_name"] == "test-provider"
    completed = lines[7]["payload"]
    assert (completed["response_id"], completed["upstream_request_id"]) == ("resp-1", "req-1")
    response = payload(bundle, completed["response_payload"])
    assert list(response) == ["response_id", "upstream_request_id", "token_usage", "output_items"]
    assert response["token_usage"] == {
        "input_tokens": 5,
        "cached_input_tokens": 0,
        "cache_write_input_tokens": 0,
        "output_tokens": 2,
        "reasoning_output_tokens": 0,
        "total_tokens": 7,
    }
    assert lines[8]["payload"] == {"type": "history_item_accepted", "item_id": "msg_answer"}
    assert lines[9]["payload"]["status"] == "completed"
    complete = payload(bundle, lines[10]["payload"]["event_payload"])
    assert complete["type"] == "task_complete"
    assert complete["last_agent_message"] == "hi there"
    assert lines[12]["payload"]["status"] == lines[13]["payload"]["status"] == "completed"

    state = check_bundle(bundle, tmp_path)
    assert state["status"] == "completed"
    assert recorded_whole(state)
    call = next(iter(state["inference_calls"].values()))
    assert call["execution"]["status"] == "completed"
    assert call["upstream_request_id"] == "req-1"
    items = state["conversation_items"]
    assert all("accepted_seq" in items[i] for i in call["request_item_ids"][1:])
    assert "accepted_seq" not in items[call["request_item_ids"][0]]  # base instructions


async def _exercise_every_call(rollout: Rollout) -> None:
    """Every public recording call once, against whatever the rollout gives out."""
    root = rollout.root
    root.protocol_event("warning", {"message": "x"})
    async with root.turn() as turn:
        turn.accept(USER)
        turn.accept_item_id("id-1")
        async with turn.inference([BASE, USER]) as call:
            assert isinstance(call.headers, dict)
            call.completed(response_id="r", output_items=[ANSWER])
        call.failed("late")
        async with turn.tool_call("c1", "exec_command", arguments={"cmd": "cat"}) as tool:
            session = tool.exec_started(["cat"], process_id=7)
            tool.completed({"type": "function_call_output", "call_id": "c1", "output": "x"})
        async with turn.tool_call("c2", "write_stdin", arguments={"session_id": 7}) as tool:
            tool.stdin_target(session)
            tool.completed_value({"output": ""})
        session.exited(0, "x")
        async with turn.tool_call("c2b", "lookup", arguments={"q": 1}) as tool:
            tool.runtime_started({"x": 1})
            tool.runtime_ended({"x": 2})
            tool.completed({"type": "function_call_output", "call_id": "c2b", "output": "ok"})
        async with turn.tool_call("c3", "exec", input="text('hi')") as tool:
            async with tool.code_cell("1", "text('hi')") as cell:
                nested = cell.tool_call("n1", "echo", runtime_tool_id="tool-1", arguments="{}")
                mcp = nested.mcp("demo", "echo", {})
                assert mcp.meta({"a": 1})["a"] == 1
                mcp.completed({"content": []})
                nested.completed_value(1)
                cell.yielded()
                cell.finished([{"type": "input_text", "text": "hi"}])
                cell.terminated()
            tool.failed("boom")
        async with turn.tool_call("c4", "spawn_agent", arguments={"message": "go"}) as tool:
            child = tool.spawn_agent("w", nickname="N")
            tool.cancelled()
        async with turn.tool_call("c5", "send_message", arguments={"message": "note"}) as tool:
            tool.agent_interacted(child)
        async with turn.tool_call("c6", "wait_agent") as tool:
            tool.wait_started([child])
            tool.wait_ended({})
        async with turn.tool_call("c7", "interrupt_agent") as tool:
            tool.agent_interrupted(child)
        async with child, child.turn() as child_turn:
            child_turn.accept_agent_message(task_message("/root", child.agent_path, "go"))
        turn.accept_agent_message(child_turn.report_result("done"))
        other = root.spawn("plain")
        other.end()
        compaction = turn.compaction()
        async with compaction.request({"input": [USER]}) as attempt:
            attempt.completed([{"type": "compaction", "encrypted_content": "S"}])
        compaction.installed(input_history=[USER], replacement_history=[USER])
        async with compaction.request({"input": [USER]}) as attempt:
            attempt.failed("no")
        turn.end("completed")
    await rollout.flush()


@pytest.mark.parametrize("schema", [2, 3])
async def test_task_names_codex_refuses_are_recorded_in_its_alphabet(
    tmp_path: Path, schema: int
) -> None:
    """Both reducers refuse a whole bundle whose agent name is not ``[a-z0-9_]+`` or is
    ``root``: such a task name was recorded as given (found by review)."""
    names = ["code-reviewer", "Worker 1", "", "root", ".."]
    paths = []
    with pytest.warns(RecorderWarning, match="agent name"):
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            for n, name in enumerate(names):
                args = {"task_name": name, "message": "go"}
                async with turn.tool_call(f"s{n}", "spawn_agent", arguments=args) as tool:
                    child = tool.spawn_agent(name)
                async with child, child.turn() as child_turn:
                    child_turn.accept_agent_message(task_message("/root", child.agent_path, "go"))
                paths.append(child.agent_path)
    assert paths == [
        "/root/code_reviewer",
        "/root/worker_1",
        "/root/agent",
        "/root/root_agent",
        "/root/agent",
    ]
    bundle = bundle_in(tmp_path)
    assert "5 task names Codex refuses as an agent name" in loss_report(bundle)
    check_bundle(bundle)


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize(
    "extra",
    [
        {"role": "user", "content": "summarize"},  # an easy message: typed
        {"role": "tool", "tool_call_id": "c1", "content": "x"},  # a Chat message: typed
        {"type": "item_reference", "id": "msg_abc"},  # names no item recorded: dropped
    ],
    ids=["easy", "chat", "item_reference"],
)
async def test_compaction_checkpoints_are_typed_as_requests_are(
    tmp_path: Path, schema: int, extra: dict[str, Any]
) -> None:
    """A compaction's checkpoint histories were recorded as given: an easy or Chat message,
    fine in an inference, made both reducers refuse the whole bundle at the compaction
    (found by review). The compaction request is kept as sent (no reducer reads it): Codex's
    remote one ends with a ``compaction_trigger`` item, which an inference may not hold."""
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            history = [*turn.accept({"role": "user", "content": "hello"}), extra]
            async with turn.inference({"input": history}) as call:
                history += call.completed(output_items=[{"role": "assistant", "content": "hi"}])
            compaction = turn.compaction()
            request = {"input": [*history, {"type": "compaction_trigger"}]}
            async with compaction.request(request) as attempt:
                summary = attempt.completed([{"role": "assistant", "content": "summary"}])
            compaction.installed(input_history=history, replacement_history=[*summary, extra])
    dropped = [str(w.message) for w in shown if "(item_reference) names" in str(w.message)]
    # the inference's request, then both checkpoint histories
    assert len(dropped) == (3 if extra.get("type") == "item_reference" else 0)
    bundle = bundle_in(tmp_path)
    [started] = of_type(bundle, "compaction_request_started")
    sent = payload(bundle, started["payload"]["request_payload"])
    assert sent["input"][-1]["type"] == "compaction_trigger"
    state = check_bundle(bundle)
    [compaction_state] = state["compactions"].values()
    assert compaction_state["replacement_item_ids"]


@pytest.mark.parametrize("schema", [2, 3])
async def test_nothing_starts_on_a_turn_or_thread_after_its_end(
    tmp_path: Path, schema: int
) -> None:
    """A late task driving a thread that was ended, or a call started in a turn that has
    ended: they were recorded, and the state showed work starting after its turn's or
    thread's end (found by review). Now they get null handles, warned and counted."""
    with pytest.warns(
        RecorderWarning, match="started on a turn, thread, tool call or code cell that had ended"
    ):
        async with open_rollout(tmp_path, schema_version=schema) as rollout:
            child = rollout.root.spawn("kid")
            child.end("aborted")
            late_turn = child.turn()
            assert not late_turn.enabled and not child.spawn("grandkid").enabled
            async with rollout.root.turn() as turn:
                pass
            late_call = turn.tool_call("c1", "read", arguments="{}")
            late_inference = turn.inference({"input": "after"})
            assert not late_call.enabled and not late_inference.enabled
            assert not turn.compaction().enabled
            assert late_inference.completed(output_items=[]) == []
    bundle = bundle_in(tmp_path)
    assert "5 turns, threads, calls, runtimes" in loss_report(bundle)
    state = check_bundle(bundle)
    assert len(state["codex_turns"]) == 1 and len(state["threads"]) == 2
    assert state["inference_calls"] == {} and state["tool_calls"] == {}


@pytest.mark.parametrize("schema", [2, 3])
async def test_nothing_enters_the_history_in_a_turn_after_its_end(
    tmp_path: Path, schema: int
) -> None:
    """Items accepted in a turn that had ended (``accept``, ``accept_item_id``,
    ``accept_agent_message``) were recorded without a word: both reducers take an acceptance
    in any turn, so the state showed an item of the turn made after its end (a delivered
    message; in schema 3 a tool output too). Codex never writes one (none of its 74
    conformance bundles). Now refused as work on an ended turn: warned, counted, the items
    returned as given. ``report_result`` still records: Codex writes the agent result after
    the child's turn ends (found by review of the recording API, ended19)."""
    output = {"type": "function_call_output", "call_id": "c1", "output": "late"}
    with pytest.warns(RecorderWarning, match="that had ended"):
        async with open_rollout(tmp_path, schema_version=schema) as rollout:
            child = rollout.root.spawn("kid")
            async with rollout.root.turn() as turn, child, child.turn() as child_turn:
                turn.accept(USER)
            assert turn.accept(output) == [output]
            turn.accept_item_id("msg_late")
            message = task_message("/root", child.agent_path, "too late")
            assert turn.accept_agent_message(message) == message
            child_turn.report_result("done")
    bundle = bundle_in(tmp_path)
    recorded = [e["payload"]["type"] for e in events(bundle)]
    ended = recorded.index("codex_turn_ended")
    assert "history_item_accepted" not in recorded[ended:]
    assert len(of_type(bundle, "agent_result_observed")) == 1
    assert "3 turns, threads, calls, runtimes" in loss_report(bundle)
    state = check_bundle(bundle)
    assert state["conversation_items"] == {}


async def test_disabled_without_root_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ROLLOUT_TRACE_ROOT", "CODEX_ROLLOUT_TRACE_ROOT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    async with open_rollout() as rollout:
        assert rollout is NULL_ROLLOUT
        assert not rollout.enabled
        assert rollout.bundle_dir is None
        await _exercise_every_call(rollout)
    assert list(tmp_path.iterdir()) == []


async def test_enabled_false_ignores_root(tmp_path: Path) -> None:
    async with open_rollout(tmp_path, enabled=False) as rollout:
        await _exercise_every_call(rollout)
    assert list(tmp_path.iterdir()) == []


async def test_every_call_enabled_reduces(tmp_path: Path, schema: int) -> None:
    # the exercise ends some handles twice: the second ending is counted and said
    with pytest.warns(RecorderWarning, match="had already ended"):
        async with open_rollout(tmp_path) as rollout:
            await _exercise_every_call(rollout)
    bundle = bundle_in(tmp_path)
    state = check_bundle(bundle, tmp_path)
    assert recorded_whole(state)
    assert len(state["threads"]) == 3


async def test_uncreatable_bundle_warns_and_disables(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.warns(RecorderWarning, match="cannot create a bundle"):
        async with open_rollout(blocker) as rollout:
            assert not rollout.enabled
            await _exercise_every_call(rollout)
    assert blocker.read_text() == "not a directory"


_TWINS = [
    (threads.AgentThread, threads._NullAgentThread),
    (turns.Turn, turns._NullTurn),
    (inference.InferenceCall, inference._NullInferenceCall),
    (tools.ToolCall, tools._NullToolCall),
    (terminals.TerminalSession, terminals._NullTerminalSession),
    (mcp.McpCall, mcp._NullMcpCall),
    (code_cells.CodeCell, code_cells._NullCodeCell),
    (compactions.Compaction, compactions._NullCompaction),
    (compactions.CompactionRequest, compactions._NullCompactionRequest),
]


@pytest.mark.parametrize(("live", "null"), _TWINS, ids=[live.__name__ for live, _ in _TWINS])
def test_null_twin_overrides_every_method(live: type[Any], null: type[Any]) -> None:
    """A method the twin inherits would run live code on a handle with nothing behind it:
    the live class's own and its private bases' (a tool call's ``_tool_runtime`` and
    ``_agent_tools``), all but the shared ``_handle`` lifecycle the twins replace whole."""
    names = [
        name
        for cls in live.__mro__
        if cls.__module__.startswith("rollout_trace_sdk.record.")
        and cls.__module__ != "rollout_trace_sdk.record._handle"
        for name, value in vars(cls).items()
        if (inspect.isfunction(value) or isinstance(value, property))
        and (not name.startswith("_") or name in {"__aenter__", "__aexit__", "_close_at_shutdown"})
    ]
    missing = [
        name
        for name in names
        if inspect.getattr_static(null, name) is inspect.getattr_static(live, name)
    ]
    assert missing == []
    assert null.enabled is False and live.enabled is True


async def test_only_first_terminal_call_counts(tmp_path: Path, schema: int) -> None:
    late = pytest.warns(RecorderWarning, match="had already ended")  # counted as late ends
    async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
        call = turn.inference([USER])
        call.failed("first", partial_items=[ANSWER])
        tool = turn.tool_call("c", "shell", command=["ls", "-l"])
        tool.failed("no such file")
        with late:
            call.completed(response_id="r", output_items=[ANSWER])
            call.cancelled("third")
            tool.completed({"type": "function_call_output", "call_id": "c", "output": ""})
    bundle = bundle_in(tmp_path)
    ends = [t for t in types(bundle) if t.startswith("inference_") and t != "inference_started"]
    assert ends == ["inference_failed"]
    failed = of_type(bundle, "inference_failed")[0]["payload"]
    partial = payload(bundle, failed["partial_response_payload"])
    assert partial["output_items"] == [ANSWER] and partial["response_id"] is None
    started = of_type(bundle, "tool_call_started")[0]["payload"]
    assert started["kind"] == {"type": "exec_command"}
    assert started["summary"]["input_preview"] == "ls -l"
    assert [e["payload"]["status"] for e in of_type(bundle, "tool_call_ended")] == ["failed"]
    check_bundle(bundle, tmp_path)


async def test_thread_ids_are_uuids(tmp_path: Path) -> None:
    with pytest.warns(RecorderWarning, match="not a UUID"):
        async with open_rollout(tmp_path, thread_id="root-thread") as rollout:
            pass
    uuid.UUID(rollout.root.thread_id)
    given = str(uuid.uuid4())
    async with open_rollout(tmp_path / "b", thread_id=given) as rollout:
        assert rollout.root.thread_id == given
    check_bundle(bundle_in(tmp_path / "b"), tmp_path)


def test_sync_callers_can_record(tmp_path: Path) -> None:
    """Point events are plain calls: a worker thread records through ``from_thread``."""

    async def main() -> None:
        async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:

            def work() -> None:
                anyio.from_thread.run_sync(turn.accept_item_id, "from-a-thread")

            await anyio.to_thread.run_sync(work)

    anyio.run(main)
    accepted = of_type(bundle_in(tmp_path), "history_item_accepted")
    assert [e["payload"]["item_id"] for e in accepted] == ["from-a-thread"]
    check_bundle(bundle_in(tmp_path), tmp_path)


class _SdkObject:
    """Quacks like the pydantic models provider SDKs return."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def model_dump(self, *, mode: str, exclude_none: bool) -> dict[str, Any]:
        assert mode == "json"
        return {k: v for k, v in self._data.items() if v is not None or not exclude_none}


async def test_sdk_objects_are_recorded_as_plain_json(tmp_path: Path) -> None:
    async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
        async with turn.inference({"input": [_SdkObject(USER)]}) as call:
            out = call.completed(
                output_items=[_SdkObject({**ANSWER, "status": None})],
                token_usage=_SdkObject({"input_tokens": 3, "output_tokens": 1}),
            )
        async with turn.inference(_SdkObject({"input": [USER, *out]})) as call:
            call.completed(output_items=[])
    assert out == [ANSWER]
    bundle = bundle_in(tmp_path)
    [first, second] = of_type(bundle, "inference_started")
    assert payload(bundle, first["payload"]["request_payload"])["input"] == [
        {**USER, "id": content_id(USER)}
    ]
    assert len(payload(bundle, second["payload"]["request_payload"])["input"]) == 2
    response = payload(
        bundle, of_type(bundle, "inference_completed")[0]["payload"]["response_payload"]
    )
    assert response["output_items"] == [ANSWER]
    assert response["token_usage"]["total_tokens"] == 4
    check_bundle(bundle, tmp_path)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_a_rollout_closed_in_another_task_closes_without_raising(
    tmp_path: Path, schema: int
) -> None:
    """An async-generator fixture whose setup and teardown run in tasks of their own (as some
    asyncio test runners run them) opens the rollout in one task and closes it in another.
    The bundle was complete, but leaving the writer's task group there raised anyio's
    ``RuntimeError`` ("Attempted to exit cancel scope in a different task") into the agent.
    (Trio forbids a task to end inside a nursery it entered, so this is asyncio's case.)"""
    import asyncio

    scope = open_rollout(tmp_path)
    rollout = await asyncio.create_task(scope.__aenter__())
    async with rollout.root.turn() as turn:
        turn.accept({"type": "message", "role": "user", "content": "hi"})
    with pytest.warns(RecorderWarning, match="closed in another task"):
        await asyncio.create_task(scope.__aexit__(None, None, None))
    bundle = bundle_in(tmp_path)
    assert types(bundle)[-1] == "recording_completed"
    check_bundle(bundle, tmp_path)


@pytest.mark.anyio
async def test_a_scope_entered_again_records_nothing_and_raises_nothing(tmp_path: Path) -> None:
    """One ``open_rollout()`` scope kept and entered once per episode (or again inside
    itself): the second entry raised ``RuntimeError`` into the agent. It now gets a disabled
    rollout and a warning; the first entry's bundle is whole, and the inner exit of a nested
    entry closes nothing."""
    scope = open_rollout(tmp_path)
    async with scope as first:
        with pytest.warns(RecorderWarning, match="entered before"):
            async with scope as again:
                assert again.bundle_dir is None
                again.root.protocol_event("ignored")
        first.root.protocol_event("after the nested entry")  # still recorded
    with pytest.warns(RecorderWarning, match="entered before"):
        async with scope as episode_two, episode_two.root.turn() as turn:
            turn.accept({"type": "message", "role": "user", "content": "hi"})
    bundle = bundle_in(tmp_path)
    recorded = [e["payload"]["event_type"] for e in of_type(bundle, "protocol_event_observed")]
    assert "ignored" not in recorded
    assert "after the nested entry" in recorded
    assert types(bundle)[-1] == "recording_completed"
    check_bundle(bundle, tmp_path)
