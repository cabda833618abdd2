"""Code cells that outlive their turn, recorded as the real Codex records them (seen in
``tests/live`` scenario ``app_server_cells_yielded_across_turns``): a yielded cell runs on
after its turn ends, its later nested calls are still its first turn's, and a wait in a later
turn collects its result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.record import RecorderWarning, Turn, open_rollout

from .recorder_support import bundle_in, check_bundle, events, loss_report, of_type

pytestmark = pytest.mark.anyio

SOURCE = "const a = await tools.exec_command({cmd: 'sleep 1'});\ntext(a.output);\n"


def _user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def _message(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }


class _History:
    """The thread's history over its turns, and inference with canned output."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def user(self, turn: Turn, text: str) -> None:
        self.items += turn.accept(_user(text))

    async def infer(self, turn: Turn, *output: dict[str, Any]) -> None:
        async with turn.inference({"model": "m", "input": list(self.items)}) as call:
            self.items += call.completed(response_id=f"r{len(self.items)}", output_items=output)


async def test_a_yielded_cell_runs_on_after_its_turn_ends(tmp_path: Path, schema: int) -> None:
    """Codex 0.169 and 0.171 keep a yielded cell running when its turn completes: its nested
    call goes on (its end comes between turns), the next one starts in a later turn, both
    credited to the cell's turn, and a wait two turns later collects the cell (its end is
    written in the wait's turn). The nested call was ended ``aborted`` with its turn, and its
    result was lost; the cell's end was written in the cell's turn."""
    history = _History()
    async with open_rollout(tmp_path) as rollout:
        async with rollout.root.turn() as first:
            history.user(first, "start the cell")
            await history.infer(
                first,
                {"type": "custom_tool_call", "call_id": "cell", "name": "exec", "input": SOURCE},
            )
            async with first.tool_call("cell", "exec", input=SOURCE) as tool:
                cell = tool.code_cell("1", SOURCE)
                sleeping = cell.tool_call(
                    "nested-1",
                    "exec_command",
                    runtime_tool_id="tool-1",
                    arguments={"cmd": "sleep 1"},
                )
                cell.yielded()
                output = {"type": "custom_tool_call_output", "call_id": "cell", "output": "running"}
                history.items.append(tool.completed(output))
            await history.infer(first, _message("Turn one ends."))
        sleeping.completed_value({"output": "one"})  # between the turns
        async with rollout.root.turn() as third:
            history.user(third, "wait for it")
            arguments = {"cell_id": "1", "yield_time_ms": 10000}
            wait_call = {
                "type": "function_call",
                "name": "wait",
                "arguments": json.dumps(arguments),
                "call_id": "wait",
            }
            await history.infer(third, wait_call)
            async with third.tool_call("wait", "wait", arguments=arguments) as wait:
                echo = cell.tool_call(
                    "nested-2", "exec_command", runtime_tool_id="tool-2", arguments={"cmd": "echo"}
                )
                echo.completed_value({"output": "two"})
                cell.finished([{"type": "input_text", "text": "one two"}])
                output = {"type": "function_call_output", "call_id": "wait", "output": "done"}
                history.items.append(wait.completed(output))
            await history.infer(third, _message("Waited."))
    bundle = bundle_in(tmp_path)
    state = check_bundle(bundle, tmp_path)
    first_turn, later_turn = first.turn_id, third.turn_id
    for nested in ("nested-1", "nested-2"):
        call = state["tool_calls"][nested]
        assert call["execution"]["status"] == "completed", nested
        assert call["started_by_codex_turn_id"] == first_turn
        assert call["requester"] == {"type": "code_cell", "code_cell_id": "code_cell:cell"}
    assert state["tool_calls"]["wait"]["started_by_codex_turn_id"] == later_turn
    code_cell = state["code_cells"]["code_cell:cell"]
    assert code_cell["codex_turn_id"] == first_turn
    assert code_cell["runtime_status"] == "completed"
    assert code_cell["nested_tool_call_ids"] == ["nested-1", "nested-2"]
    assert code_cell["wait_tool_call_ids"] == ["wait"]
    envelopes = {
        e["payload"].get("tool_call_id"): e["codex_turn_id"]
        for e in events(bundle)
        if e["payload"]["type"] == "tool_call_ended"
    }
    assert envelopes["nested-1"] == envelopes["nested-2"] == first_turn
    # the wait collects the cell: Codex writes its end in the wait's turn
    [ended] = [e for e in events(bundle) if e["payload"]["type"] == "code_cell_ended"]
    assert ended["codex_turn_id"] == later_turn


async def test_a_cell_ends_the_calls_it_left_running(tmp_path: Path) -> None:
    """A cell stopped while its nested call runs ends that call first (cut off), as a turn
    ends its calls: the call was left running past its cell's end, until its turn ended."""
    history = _History()
    async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
        history.user(turn, "go")
        await history.infer(
            turn, {"type": "custom_tool_call", "call_id": "cell", "name": "exec", "input": SOURCE}
        )
        async with turn.tool_call("cell", "exec", input=SOURCE) as tool:
            cell = tool.code_cell("1", SOURCE)
            cell.tool_call("nested", "exec_command", runtime_tool_id="tool-1", arguments={})
            cell.terminated()
            tool.completed({"type": "custom_tool_call_output", "call_id": "cell", "output": "x"})
    bundle = bundle_in(tmp_path)
    order = [
        e["payload"].get("tool_call_id", e["payload"]["type"])
        for e in events(bundle)
        if e["payload"]["type"] in ("tool_call_ended", "code_cell_ended")
    ]
    assert order == ["nested", "code_cell_ended", "cell"]
    state = check_bundle(bundle, tmp_path)
    assert state["tool_calls"]["nested"]["execution"]["status"] in ("aborted", "cancelled")


async def test_a_thread_ends_its_yielded_cell_before_its_own_end(tmp_path: Path) -> None:
    """A child thread that ends with a yielded cell still running ends the cell, and the
    call the cell is in, before ``thread_ended``: both were left to the rollout's close,
    recorded after the thread's end."""
    async with open_rollout(tmp_path) as rollout, rollout.root.turn():
        child = rollout.root.spawn("worker")
        async with child, child.turn() as turn:
            turn.accept(_user("go"))
            await _History().infer(
                turn, {"type": "custom_tool_call", "call_id": "c", "name": "exec", "input": SOURCE}
            )
            async with turn.tool_call("c", "exec", input=SOURCE) as tool:
                cell = tool.code_cell("1", SOURCE)
                cell.tool_call("nested", "exec_command", runtime_tool_id="tool-1", arguments={})
                cell.yielded()
                tool.completed({"type": "custom_tool_call_output", "call_id": "c", "output": "x"})
    bundle = bundle_in(tmp_path)
    recorded = events(bundle)
    child_end = next(
        n
        for n, e in enumerate(recorded)
        if e["payload"]["type"] == "thread_ended" and e["payload"]["thread_id"] == child.thread_id
    )
    after_end = [
        e["payload"]["type"] for e in recorded[child_end:] if e["thread_id"] == child.thread_id
    ]
    assert after_end == []
    assert "code_cell_ended" in [e["payload"]["type"] for e in recorded[:child_end]]
    state = check_bundle(bundle, tmp_path)
    assert state["code_cells"]["code_cell:c"]["runtime_status"] == "terminated"


async def _cell_waited_on(history: _History, turn: Turn, call_id: str, wait_id: str) -> None:
    """An exec call whose cell, given runtime id ``1``, yields; then a wait on ``1`` that
    collects it."""
    await history.infer(
        turn, {"type": "custom_tool_call", "call_id": call_id, "name": "exec", "input": SOURCE}
    )
    async with turn.tool_call(call_id, "exec", input=SOURCE) as tool:
        cell = tool.code_cell("1", SOURCE)
        nested = cell.tool_call(f"{call_id}-nested", "exec_command", runtime_tool_id="tool-1")
        cell.yielded()
        output = {"type": "custom_tool_call_output", "call_id": call_id, "output": "running"}
        history.items.append(tool.completed(output))
    arguments = json.dumps({"cell_id": "1", "yield_time_ms": 10000})
    await history.infer(
        turn, {"type": "function_call", "name": "wait", "arguments": arguments, "call_id": wait_id}
    )
    async with turn.tool_call(wait_id, "wait", arguments=arguments) as wait:
        nested.completed_value({"output": "done"})
        cell.finished([{"type": "input_text", "text": "done"}])
        output = {"type": "function_call_output", "call_id": wait_id, "output": "done"}
        history.items.append(wait.completed(output))


async def test_a_runtime_cell_id_used_again_is_renamed(tmp_path: Path, schema: int) -> None:
    """A code-mode runtime that restarts numbers its cells from 1 again: the second cell
    given ``1`` in a thread is recorded as ``1#2``, with its nested call and the wait that
    names ``1`` after it (Codex 0.169's reducer reads the wait's invocation, so it names
    ``1#2`` too). Both reducers refuse one id for two cells of a thread; the second cell, its
    call and its wait link were left out."""
    history = _History()
    with pytest.warns(RecorderWarning, match="runtime cell ids used twice in a thread"):
        async with open_rollout(tmp_path) as rollout:
            async with rollout.root.turn() as turn:
                history.user(turn, "first")
                await _cell_waited_on(history, turn, "exec_a", "wait_a")
            async with rollout.root.turn() as turn:  # the runtime restarted in between
                history.user(turn, "second")
                await _cell_waited_on(history, turn, "exec_b", "wait_b")
    bundle = bundle_in(tmp_path)
    state = check_bundle(bundle, tmp_path)
    first, second = state["code_cells"]["code_cell:exec_a"], state["code_cells"]["code_cell:exec_b"]
    assert (first["runtime_cell_id"], second["runtime_cell_id"]) == ("1", "1#2")
    assert first["wait_tool_call_ids"] == ["wait_a"]
    assert second["wait_tool_call_ids"] == ["wait_b"]
    assert second["nested_tool_call_ids"] == ["exec_b-nested"]
    assert second["runtime_status"] == "completed"
    wait_b = next(
        e["payload"]
        for e in events(bundle)
        if e["payload"]["type"] == "tool_call_started" and e["payload"]["tool_call_id"] == "wait_b"
    )
    assert '"cell_id":"1#2"' in wait_b["summary"]["input_preview"]


async def test_a_cell_whose_script_threw_fails_its_call_with_the_answer(
    tmp_path: Path, schema: int
) -> None:
    """Codex 0.169 and 0.171 end the ``exec`` call of a cell whose script threw ``failed``
    and still give the model its answer ("Script failed ...") as the call's result and a
    history item (recorded live: ``code_cells_in_parallel_with_nested_calls_of_every_kind``).
    ``failed(error)`` could only record the error text, with no item for the history;
    ``failed(output_item=...)`` records the answer as Codex does."""
    history = _History()
    script = "text('before');\nthrow new Error('scripted failure');\n"
    answer = {
        "type": "custom_tool_call_output",
        "call_id": "cell",
        "output": [{"type": "input_text", "text": "Script failed\nScript error: scripted"}],
    }
    async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
        history.user(turn, "run it")
        await history.infer(
            turn, {"type": "custom_tool_call", "call_id": "cell", "name": "exec", "input": script}
        )
        async with turn.tool_call("cell", "exec", input=script) as tool:
            cell = tool.code_cell("1", script)
            cell.finished(error_text="Error: scripted failure")
            sent = tool.failed("script failed", output_item=answer)
        assert sent["call_id"] == "cell" and sent["output"] == answer["output"]
        history.items.append(sent)
        await history.infer(turn, _message("It failed."))
    state = check_bundle(bundle_in(tmp_path))
    (call,) = [c for c in state["tool_calls"].values() if c["model_visible_call_id"] == "cell"]
    assert call["execution"]["status"] == "failed"
    outputs = call["model_visible_output_item_ids"]
    assert len(outputs) == 1
    assert state["conversation_items"][outputs[0]]["kind"] == "custom_tool_call_output"


async def test_no_call_starts_on_a_cell_after_its_end(tmp_path: Path, schema: int) -> None:
    """A nested call made on a cell that had finished (a late task still holding the cell)
    was recorded without a word: the state listed it among the cell's nested calls, started
    after the cell's end (found by review of the recording API, ended19). It is refused as
    on an ended turn: a null call, one ``RecorderWarning``, counted ``after end``."""
    history = _History()
    with pytest.warns(RecorderWarning, match="that had ended"):
        async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
            history.user(turn, "go")
            await history.infer(
                turn,
                {"type": "custom_tool_call", "call_id": "cell", "name": "exec", "input": SOURCE},
            )
            async with turn.tool_call("cell", "exec", input=SOURCE) as tool:
                cell = tool.code_cell("1", SOURCE)
                cell.finished([{"type": "input_text", "text": "done"}])
                late = cell.tool_call("late", "exec_command", runtime_tool_id="t1", arguments={})
                assert not late.enabled
                late.completed_value({"output": "x"})
                output = {"type": "custom_tool_call_output", "call_id": "cell", "output": "done"}
                history.items.append(tool.completed(output))
            await history.infer(turn, _message("Done."))
    bundle = bundle_in(tmp_path)
    assert "1 turns, threads, calls, runtimes" in loss_report(bundle)
    state = check_bundle(bundle, tmp_path)
    assert list(state["tool_calls"]) == ["cell"]
    assert state["code_cells"]["code_cell:cell"]["nested_tool_call_ids"] == []


async def test_a_wait_still_running_collects_the_cell_when_another_wait_ended_first(
    tmp_path: Path,
) -> None:
    """Two waits on one yielded cell: the first gives up (it ends before the cell), the
    second is still running when the cell ends and collects it (schema 3 writes its
    ``code_cell_wait_target_resolved``). The runtime forgets the first wait only: with the
    whole cell's list of waits dropped when one of several closed, the second was never
    resolved, and no test saw it (mutation audit mut40)."""
    history = _History()
    async with open_rollout(tmp_path, schema_version=3) as rollout, rollout.root.turn() as turn:
        history.user(turn, "start the cell")
        started = {"type": "custom_tool_call", "call_id": "cell", "name": "exec"}
        await history.infer(turn, {**started, "input": SOURCE})
        async with turn.tool_call("cell", "exec", input=SOURCE) as tool:
            cell = tool.code_cell("1", SOURCE)
            cell.yielded()
            output = {"type": "custom_tool_call_output", "call_id": "cell", "output": "running"}
            history.items.append(tool.completed(output))
        arguments = {"cell_id": "1", "yield_time_ms": 10}
        await history.infer(
            turn,
            *(
                {
                    "type": "function_call",
                    "name": "wait",
                    "arguments": json.dumps(arguments),
                    "call_id": call_id,
                }
                for call_id in ("wait-a", "wait-b")
            ),
        )
        async with (
            turn.tool_call("wait-a", "wait", arguments=arguments) as first,
            turn.tool_call("wait-b", "wait", arguments=arguments) as second,
        ):
            output = {"type": "function_call_output", "call_id": "wait-a", "output": "running"}
            history.items.append(first.completed(output))
            cell.finished([{"type": "input_text", "text": "done"}])
            output = {"type": "function_call_output", "call_id": "wait-b", "output": "done"}
            history.items.append(second.completed(output))
        await history.infer(turn, _message("Waited."))
    bundle = bundle_in(tmp_path)
    resolved = of_type(bundle, "code_cell_wait_target_resolved")
    assert [e["payload"]["tool_call_id"] for e in resolved] == ["wait-b"]
    check_bundle(bundle, tmp_path)
