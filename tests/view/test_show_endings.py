"""``rollout-trace show`` of what ended badly or has not ended: the error texts of failed
inference calls, tool calls (from their raw results too), turns and compaction requests, a
result no request carried; a tool call that never ended in a completed rollout, and open
records of a rollout still being recorded (their time so far). Split out of
``test_show.py``."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import anyio
import orjson

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.view.load import load_state
from rollout_trace_sdk.view.model import build_view_model
from rollout_trace_sdk.view.show_format import ms

from ..conftest import CONFORMANCE, needs_conformance
from .conftest import (
    COMPACTION_ERROR,
    PLANTED_ERROR,
    TOOL_ERROR,
    TURN_ERROR,
    UNSENT_RESULT,
    line_of,
    open_tool_call_state,
    plain_transcript,
    reduced_state_file,
)


def test_failed_call_shows_its_error(failing_state: Path) -> None:
    state = orjson.loads(failing_state.read_bytes())
    text = plain_transcript(state)
    assert "exec_command call_0_sum · failed" in text
    assert f"error: {PLANTED_ERROR}" in text
    assert "1 failed" in text.splitlines()[0]


def test_a_failed_tool_calls_error_is_read_from_its_raw_result(failed_tool_bundle: Path) -> None:
    """``tool.failed(error)`` keeps the text in the raw result payload only: ``summary``
    showed it, ``show`` and the page said no error text was recorded (found by review)."""
    for source in (failed_tool_bundle, reduced_state_file(failed_tool_bundle)):
        out = io.StringIO()
        assert main(["show", str(source)], out=out, err=io.StringIO()) == 0
        assert f"error: {TOOL_ERROR}" in out.getvalue()
        assert "no error text" not in out.getvalue()
        (tool,) = build_view_model(load_state(source))["tools"]
        assert tool["err"] == TOOL_ERROR


def test_a_result_no_request_carried_is_shown(stopped_bundle: Path) -> None:
    """The last tool call before a run stopped (``max_turns`` exceeded, ``stop_on_first_tool``)
    printed no "→" line: its output was no model-visible item, as no request carried it,
    though its raw result payload holds it (found by review viewfix19, with real Agents SDK
    runs). Both schemas (schema 3 writes the result as a template over the item)."""
    for source in (stopped_bundle, reduced_state_file(stopped_bundle)):
        out = io.StringIO()
        assert main(["show", str(source)], out=out, err=io.StringIO()) == 0
        text = out.getvalue()
        at, _ = line_of(text, "⚙ get_weather c1 · completed")
        assert text.splitlines()[at + 2].strip() == f"→ {UNSENT_RESULT}", text
        (tool,) = build_view_model(load_state(source))["tools"]
        assert tool["oi"] == [] and tool["result"] == UNSENT_RESULT


def test_a_failed_turns_error_is_shown(stopped_bundle: Path) -> None:
    """A failed turn's error (in its ``error`` and ``turn_complete`` protocol events) was not
    shown anywhere: the agent just read "failed" (found by review viewfix19)."""
    for source in (stopped_bundle, reduced_state_file(stopped_bundle)):
        out = io.StringIO()
        assert main(["show", str(source)], out=out, err=io.StringIO()) == 0
        text = out.getvalue()
        at, line = line_of(text, "✗ turn ")
        assert line.strip().endswith(f" failed: {TURN_ERROR}"), text
        assert at == len(text.splitlines()) - 1  # at the turn's end, after its calls
        (turn,) = build_view_model(load_state(source))["turns"]
        assert turn["err"] == TURN_ERROR


def test_a_failed_compaction_requests_error_is_shown(failed_compaction_bundle: Path) -> None:
    """A failed compaction request read "failed" alone, though the log holds its error and a
    failed inference call prints its own (review polish27): printed under it the same way,
    in the transcript and alone (``--call``), from the bundle or its state file."""
    bundle = failed_compaction_bundle
    for source in (bundle, reduced_state_file(bundle)):
        (request,) = build_view_model(load_state(source))["compactions"]
        assert request["err"] == COMPACTION_ERROR
        for args in ([], ["--call", request["id"]]):
            out = io.StringIO()
            assert main(["show", str(source), *args], out=out, err=io.StringIO()) == 0
            lines = out.getvalue().splitlines()
            at, _ = line_of(out.getvalue(), "⟲ compaction request ")
            assert lines[at + 1].strip() == f"error: {COMPACTION_ERROR}", lines
    # a state with no log at hand: where to look, as for an inference call
    state = orjson.loads((bundle / "state.json").read_bytes())
    text = plain_transcript(state)
    at, _ = line_of(text, "⟲ compaction request ")
    assert text.splitlines()[at + 1].strip() == "error: the request failed; see raw response (none)"


def test_a_failed_tool_call_says_every_error_text_the_page_says(tmp_path: Path) -> None:
    """A failed tool call whose output the model saw printed that output alone: the error
    ``tool.failed(error)`` recorded, which the page shows under it, was left out, though the
    docs say ``show`` finds the error as the page does (review viewer26, on a loop whose
    tool answered the model with its own words for the failure)."""
    recorded = "no such file: step0.txt"
    told = "error: could not read step0.txt"

    async def record() -> Path:
        call_item = {"type": "function_call", "name": "cat", "call_id": "c1", "arguments": "{}"}
        async with open_rollout(tmp_path, model="m") as rollout, rollout.root.turn() as turn:
            history = turn.accept({"type": "message", "role": "user", "content": "go"})
            async with turn.inference({"model": "m", "input": history}) as call:
                history += call.completed(output_items=[call_item])
            async with turn.tool_call("c1", "cat", arguments="{}") as tool:
                tool.failed(recorded)
            history.append({"type": "function_call_output", "call_id": "c1", "output": told})
            async with turn.inference({"model": "m", "input": history}) as call:
                call.completed(output_items=[])
        assert rollout.bundle_dir is not None
        return rollout.bundle_dir

    bundle = anyio.run(record)
    for source in (bundle, reduced_state_file(bundle)):
        out = io.StringIO()
        assert main(["show", str(source)], out=out, err=io.StringIO()) == 0
        lines = out.getvalue().splitlines()
        at, _ = line_of(out.getvalue(), f"error: {told}")
        assert lines[at + 1].strip() == recorded, out.getvalue()
        out = io.StringIO()
        assert main(["show", str(source), "--call", "c1"], out=out, err=io.StringIO()) == 0
        assert f"error: {told}" in out.getvalue() and recorded in out.getvalue()


@needs_conformance
def test_a_tool_call_that_never_ended_says_so_once() -> None:
    """A tool call an interrupt left open in a completed rollout (schema 2
    ``interrupt_during_tool``) read "running · running": its status is Codex's, kept, and
    its duration says what it means, once."""
    [bundle] = sorted((CONFORMANCE / "interrupt_during_tool").glob("trace-*"))
    state = load_state(bundle)
    assert state["tool_calls"]["call_sleep"]["execution"]["status"] == "running"  # Codex's
    for text in (plain_transcript(state), plain_transcript(state, call="call_sleep")):
        line = line_of(text, "⚙ exec_command call_sleep")[1].strip()
        assert line == "⚙ exec_command call_sleep · running · never ended (the rollout is complete)"
        assert "running · running" not in text


def test_an_open_record_of_an_unfinished_rollout_says_how_long_so_far(tmp_path: Path) -> None:
    """A thread or tool call of a rollout still being recorded (or killed) read "running ·
    running": its status, then in place of its duration its status again. It now reads its
    time up to the rollout's last event, as the page draws it and ``summary`` says the
    rollout's wall time."""
    state = anyio.run(open_tool_call_state, tmp_path)
    assert state.get("ended_at_unix_ms") is None
    text = plain_transcript(state)
    assert "running · running" not in text
    tool = line_of(text, "⚙ exec_command c_open")[1].strip()
    assert re.fullmatch(r"⚙ exec_command c_open · running · \d+ ms so far", tool), tool
    thread = line_of(text, "━━ /root ")[1]
    took = int(re.search(r"· (\d+) ms so far", thread).group(1))  # type: ignore[union-attr]
    assert took >= 5, thread  # from the thread's start to the tool call's start at least


@needs_conformance
def test_a_tool_call_of_a_rollout_still_running_is_running_not_never_ended() -> None:
    """A tool call "never ended" only once the rollout has ended: the same open tool call in a
    rollout still being recorded (no end time yet) is running, as far as anyone knows."""
    [bundle] = sorted((CONFORMANCE / "interrupt_during_tool").glob("trace-*"))
    state = load_state(bundle)
    del state["ended_at_unix_ms"]
    line = line_of(plain_transcript(state), "⚙ exec_command call_sleep")[1].strip()
    assert line.startswith("⚙ exec_command call_sleep · running"), line
    assert "never ended" not in line


async def _open_beside_an_ended_call_state(root: Path) -> Any:
    """The state of a rollout still being recorded whose last time is an end: a tool call
    still open, and one started after it that ended 5 ms after its start."""
    async with (
        open_rollout(root, model="m") as rollout,
        rollout.root.turn() as turn,
        turn.tool_call("c_open", "exec_command", arguments={"cmd": "sleep"}),
    ):
        async with turn.tool_call("c_done", "exec_command", arguments={"cmd": "true"}) as t:
            await anyio.sleep(0.005)
            t.completed({"type": "function_call_output", "call_id": "c_done", "output": ""})
        await rollout.flush()
        assert rollout.bundle_dir is not None
        return load_state(rollout.bundle_dir)


def test_an_open_record_runs_to_the_last_end_when_that_is_the_last_time(tmp_path: Path) -> None:
    """The rollout's last known time is the latest start or end of any record (the page's
    ``S.known``): an open tool call beside one that ended after it started runs to that end.
    Reading the starts alone passed every show test (review27)."""
    state = anyio.run(_open_beside_an_ended_call_state, tmp_path)
    by_id = {tool["tool_call_id"]: tool["execution"] for tool in state["tool_calls"].values()}
    opened, done = by_id["c_open"], by_id["c_done"]
    assert done["ended_at_unix_ms"] > done["started_at_unix_ms"] >= opened["started_at_unix_ms"]
    so_far = ms(done["ended_at_unix_ms"] - opened["started_at_unix_ms"])
    line = line_of(plain_transcript(state), "⚙ exec_command c_open")[1].strip()
    assert line == f"⚙ exec_command c_open · running · {so_far} so far", line
