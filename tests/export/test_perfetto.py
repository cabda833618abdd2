"""The Perfetto / Chrome trace-event export, checked against the format's rules.

Perfetto's own ``trace_processor`` Python package downloads its binary at run time, which
cannot happen here, so this is a schema check of what its JSON importer relies on: event
phases and fields, one named track per tid, complete events that nest on every track, flow
pairs bound to slices, and counts equal to the reduced state's.
"""

from __future__ import annotations

import io
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.export.perfetto import chrome_trace

from .tables_util import crash_cut, fresh_copy

_PHASES = {"X", "M", "s", "f", "i"}


def check_trace(trace: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    """Assert the trace-event rules; return the complete events per track."""
    assert trace["displayTimeUnit"] == "ms"
    events = trace["traceEvents"]
    names: dict[int, str] = {}
    slices: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        assert event["ph"] in _PHASES, event
        assert isinstance(event["pid"], int) and isinstance(event["name"], str)
        if event["ph"] == "M":
            if event["name"] == "thread_name":
                assert event["tid"] not in names
                names[event["tid"]] = event["args"]["name"]
            continue
        assert isinstance(event["tid"], int) and isinstance(event["ts"], int) and event["ts"] >= 0
        if event["ph"] == "X":
            assert isinstance(event["dur"], int) and event["dur"] >= 0
            slices[event["tid"]].append(event)
        if event["ph"] == "i":
            assert event["s"] == "t"  # on its track, not across the process
    for tid in {e["tid"] for e in events if e["ph"] == "i"}:
        assert tid in names, f"track {tid} has no thread_name"
    for tid, track in slices.items():
        assert tid in names, f"track {tid} has no thread_name"
        stack: list[int] = []  # end times of the open slices
        for event in sorted(track, key=lambda e: (e["ts"], -e["dur"])):
            while stack and stack[-1] <= event["ts"]:
                stack.pop()
            end = event["ts"] + event["dur"]
            assert not stack or end <= stack[-1], f"{names[tid]}: {event['name']} overlaps"
            stack.append(end)
    flows: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
    for event in events:
        if event["ph"] in ("s", "f"):
            assert event["ph"] not in flows[event["id"]]
            flows[event["id"]][event["ph"]] = event
    for pair in flows.values():
        assert set(pair) == {"s", "f"}
        start, finish = pair["s"], pair["f"]
        # Perfetto sorts events by time: a finish before its start is dropped as unmatched
        assert finish["ts"] >= start["ts"], (start, finish)
        assert any(x["ts"] <= start["ts"] <= x["ts"] + x["dur"] for x in slices[start["tid"]])
        if finish.get("bp") == "e":
            assert any(x["ts"] <= finish["ts"] <= x["ts"] + x["dur"] for x in slices[finish["tid"]])
        else:
            assert any(x["ts"] >= finish["ts"] for x in slices[finish["tid"]])
    return slices


def _count(slices: dict[int, list[dict[str, Any]]], cat: str) -> int:
    return sum(1 for track in slices.values() for e in track if e["cat"] == cat)


def test_export_matches_the_state(demo_state: Any) -> None:
    trace = chrome_trace(demo_state)
    slices = check_trace(trace)
    cats = Counter(e["cat"] for track in slices.values() for e in track)
    assert cats["turn"] == len(demo_state["codex_turns"])
    assert cats["inference"] == len(demo_state["inference_calls"])
    assert cats["tool"] == len(demo_state["tool_calls"])
    assert cats["terminal"] == len(demo_state["terminal_operations"])
    assert cats["compaction"] == len(demo_state["compactions"])
    flows = [e for e in trace["traceEvents"] if e["ph"] == "s"]
    assert len(flows) == len(demo_state["interaction_edges"])
    names = [e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"]
    assert names[0] == "/root · turns"
    assert "/root/helper_0 (Helper 0) · tools" in names
    # the demo's terminal operations overlap (a long-lived `cat` session): a second track
    assert "/root · terminal 2" in names
    inference = next(e for track in slices.values() for e in track if e["cat"] == "inference")
    assert inference["args"]["input_tokens"] > 0


def test_parallel_tool_calls_get_their_own_tracks(demo_state: Any) -> None:
    state = orjson.loads(orjson.dumps(demo_state))
    cat = state["tool_calls"]["call_0_cat"]["execution"]
    ping = state["tool_calls"]["call_0_ping"]["execution"]
    # cat runs 10 ms (the demo's may take under 1 ms); ping starts inside it and ends after
    cat["ended_at_unix_ms"] = cat["started_at_unix_ms"] + 10
    ping["started_at_unix_ms"] = cat["started_at_unix_ms"] + 1
    ping["ended_at_unix_ms"] = cat["ended_at_unix_ms"] + 5
    slices = check_trace(chrome_trace(state))
    tids = {
        e["args"]["tool_call_id"]: tid
        for tid, track in slices.items()
        for e in track
        if e["cat"] == "tool"
    }
    assert tids["call_0_cat"] != tids["call_0_ping"]


def test_failed_slices_are_marked(failing_state: Path) -> None:
    trace = chrome_trace(orjson.loads(failing_state.read_bytes()))
    failed = [e for e in trace["traceEvents"] if e.get("args", {}).get("status") == "failed"]
    assert [e["args"]["tool_call_id"] for e in failed] == ["call_0_sum"]
    assert failed[0]["cname"] == "terrible"


def test_cli_export_of_a_large_rollout(
    demo_bundle: Path, demo_bundle_200: Path, demo_state_200: Any, tmp_path: Path
) -> None:
    out = io.StringIO()
    target = tmp_path / "trace.json"
    argv = ["export", "--format", "perfetto", str(demo_bundle_200), "-o", str(target)]
    assert main(argv, out=out) == 0
    trace = orjson.loads(target.read_bytes())
    slices = check_trace(trace)
    assert _count(slices, "tool") == len(demo_state_200["tool_calls"])
    assert _count(slices, "inference") == len(demo_state_200["inference_calls"])
    flows = sum(1 for e in trace["traceEvents"] if e["ph"] == "f")
    assert flows == len(demo_state_200["interaction_edges"])
    err = io.StringIO()
    missing = str(tmp_path / "no" / "t.json")
    assert main(["export", str(demo_bundle), "-o", missing], out=out, err=err) == 1
    assert "cannot write" in err.getvalue()


def _corpus_state(scenario: str) -> Any:
    from rollout_trace_sdk.view.load import load_state

    from ..conftest import CONFORMANCE_V3

    found = sorted((CONFORMANCE_V3 / scenario).glob("trace-*"))
    if not found:
        import pytest

        pytest.skip("the conformance corpus is not present")
    return load_state(found[0])


def test_every_edge_is_a_flow_and_every_compaction_request_a_slice() -> None:
    """A ``close_agent`` reaching an agent after its last turn, and every edge into a turn
    still running, were dropped; a compaction request that installed nothing (failed) had no
    slice (found by review)."""
    import copy

    state = _corpus_state("multi_agent_v2_lifecycle")
    for running in (False, True):
        edited = copy.deepcopy(state)
        if running:  # the worker's turns never ended: their slices reach the rollout's end
            root = edited["root_thread_id"]
            for turn in edited["codex_turns"].values():
                if turn["thread_id"] != root:
                    turn["execution"].update(ended_at_unix_ms=None, ended_seq=None)
                    turn["execution"]["status"] = "running"
        trace = chrome_trace(edited)
        check_trace(trace)
        flows = [e for e in trace["traceEvents"] if e["ph"] == "s"]
        assert len(flows) == len(edited["interaction_edges"]), running
    failed = _corpus_state("compaction_remote_failed")
    assert failed["compaction_requests"] and not failed["compactions"]
    slices = check_trace(chrome_trace(failed))
    [request] = [e for track in slices.values() for e in track if e["cat"] == "compaction"]
    assert request["name"] == "compaction request"


def test_an_edge_its_tool_call_caused_starts_inside_that_call() -> None:
    """An edge whose recorded start falls outside the tool call that caused it (before, or
    after the call ended: clocks of two processes) starts at the nearest point of the call's
    slice. Only starts before the call were ever met: clamping from below alone passed every
    Perfetto test (mut31)."""
    state = _corpus_state("multi_agent_v2_lifecycle")
    tools = state["tool_calls"]
    moved = 0
    for n, edge in enumerate(state["interaction_edges"].values()):
        source = edge["source"]
        if source.get("type") != "tool_call":
            continue
        execution = tools[source["tool_call_id"]]["execution"]
        # after the call ended, or before it started, in turn
        if n % 2:
            edge["started_at_unix_ms"] = execution["ended_at_unix_ms"] + 5_000
        else:
            edge["started_at_unix_ms"] = execution["started_at_unix_ms"] - 5_000
        edge["ended_at_unix_ms"] = max(edge["ended_at_unix_ms"], edge["started_at_unix_ms"])
        moved += 1
    assert moved == 4
    trace = chrome_trace(state)
    check_trace(trace)  # each arrow starts inside a slice of its track
    starts = {e["args"]["edge_id"]: e for e in trace["traceEvents"] if e["ph"] == "s"}
    for edge in state["interaction_edges"].values():
        if edge["source"].get("type") == "tool_call":
            execution = tools[edge["source"]["tool_call_id"]]["execution"]
            t0 = state["started_at_unix_ms"]
            ts = starts[edge["edge_id"]]["ts"] // 1000 + t0
            assert execution["started_at_unix_ms"] <= ts <= execution["ended_at_unix_ms"]


def test_an_edge_from_an_agent_without_turns_is_an_arrow() -> None:
    """An edge whose source is an agent with no turn (a child that failed, or was closed,
    before its first turn began) was dropped: its arrow had no turn to start in, though the
    agent has its own slice on its turns track (found by review)."""
    state = _corpus_state("multi_agent_v2_child_failure")
    root = state["root_thread_id"]
    state["codex_turns"] = {
        key: turn for key, turn in state["codex_turns"].items() if turn["thread_id"] == root
    }
    trace = chrome_trace(state)
    slices = check_trace(trace)
    starts = [e for e in trace["traceEvents"] if e["ph"] == "s"]
    assert len(starts) == len(state["interaction_edges"]) == 2
    [result] = [e for e in starts if e["name"] == "agent_result"]
    [agent] = [e for e in slices[result["tid"]] if e["cat"] == "agent"]
    assert agent["args"]["agent_path"] == "/root/doomed"
    assert agent["ts"] <= result["ts"] <= agent["ts"] + agent["dur"]


def test_a_failed_calls_error_text_is_in_its_args() -> None:
    """A red slice said ``status: failed`` and nothing of why, though the export reads the
    bundle's error texts (an inference call's from the log, a tool call's from its raw
    result) as ``show`` and the page do (found by review)."""
    state = _corpus_state("inference_fatal_error")
    slices = check_trace(chrome_trace(state))
    [call] = [e for track in slices.values() for e in track if e["cat"] == "inference"]
    assert call["args"]["status"] == "failed"
    assert "scripted invalid request" in call["args"]["error"]
    [turn] = [e for track in slices.values() for e in track if e["cat"] == "turn"]
    assert turn["args"]["status"] == "failed"
    assert "scripted invalid request" in turn["args"]["error"]  # the turn's own closing event
    tools = _corpus_state("single_exec")
    [tool] = tools["tool_calls"].values()
    tool["execution"]["status"] = "failed"
    tool["error_text"] = "permission denied"
    slices = check_trace(chrome_trace(tools))
    [drawn] = [e for track in slices.values() for e in track if e["cat"] == "tool"]
    assert drawn["args"]["error"] == "permission denied"


def test_the_guardrails_a_turn_ran_are_marks_on_its_track() -> None:
    """An Agents SDK turn's guardrails (their protocol events, which ``show`` and the page
    list, passed or tripped) were nowhere in the trace: a run a guardrail stopped read as a
    failed turn with nothing on it (user49). Each is now an instant event on its agent's
    turns track, at the time it ended, named and saying whether it tripped."""
    state = _corpus_state("single_exec")
    [turn] = state["codex_turns"].values()
    start = turn["execution"]["started_at_unix_ms"]
    turn["guardrails"] = [
        {"name": "no_card_numbers", "triggered": True, "at_unix_ms": start + 1},
        {"name": "polite", "triggered": False, "at_unix_ms": None},  # no time: the turn's start
    ]
    trace = chrome_trace(state)
    slices = check_trace(trace)
    [drawn] = [e for track in slices.values() for e in track if e["cat"] == "turn"]
    marks = [e for e in trace["traceEvents"] if e["ph"] == "i"]
    assert [(m["name"], m["cat"], m["args"], m["tid"]) for m in marks] == [
        ("guardrail no_card_numbers tripped", "guardrail", {"triggered": True}, drawn["tid"]),
        ("guardrail polite passed", "guardrail", {"triggered": False}, drawn["tid"]),
    ]
    assert [m["ts"] for m in marks] == [drawn["ts"] + 1000, drawn["ts"]]


def _tool_slices(trace: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        e["args"]["tool_call_id"]: e
        for e in trace["traceEvents"]
        if e["ph"] == "X" and e["cat"] == "tool"
    }


def test_back_to_back_tool_calls_share_a_track(demo_state: Any) -> None:
    """A call starting the millisecond the previous one ended does not overlap it: one
    track, not a second one per neighbour. The two are moved past every other call's end
    (the demo's own times decide which calls overlap: another one running in their window
    took their track once)."""
    state = orjson.loads(orjson.dumps(demo_state))
    calls = state["tool_calls"].values()
    free = max(
        max(c["execution"]["started_at_unix_ms"], c["execution"]["ended_at_unix_ms"] or 0)
        for c in calls
    )
    cat = state["tool_calls"]["call_0_cat"]["execution"]
    ping = state["tool_calls"]["call_0_ping"]["execution"]
    cat["started_at_unix_ms"] = free + 1000
    cat["ended_at_unix_ms"] = cat["started_at_unix_ms"] + 10
    ping["started_at_unix_ms"] = cat["ended_at_unix_ms"]
    ping["ended_at_unix_ms"] = ping["started_at_unix_ms"] + 5
    trace = chrome_trace(state)
    check_trace(trace)
    tools = _tool_slices(trace)
    assert tools["call_0_cat"]["tid"] == tools["call_0_ping"]["tid"]


def test_a_call_still_running_reaches_the_end_of_the_trace(demo_state: Any) -> None:
    """A tool call with no end (the rollout was cut off) is drawn to the latest moment the
    trace knows, not as a zero-length slice at its start."""
    state = orjson.loads(orjson.dumps(demo_state))
    ping = state["tool_calls"]["call_0_ping"]["execution"]
    ping["ended_at_unix_ms"], ping["status"] = None, "running"
    trace = chrome_trace(state)
    ends = [e["ts"] + e["dur"] for e in trace["traceEvents"] if e["ph"] == "X"]
    slice_ = _tool_slices(trace)["call_0_ping"]
    assert slice_["dur"] > 0 and slice_["ts"] + slice_["dur"] == max(ends)


@pytest.mark.parametrize("status", ["cancelled", "aborted"])
def test_cancelled_and_aborted_slices_are_marked_as_failed_ones(
    demo_state: Any, status: str
) -> None:
    state = orjson.loads(orjson.dumps(demo_state))
    state["tool_calls"]["call_0_ping"]["execution"]["status"] = status
    tools = _tool_slices(chrome_trace(state))
    assert tools["call_0_ping"]["args"]["status"] == status
    assert tools["call_0_ping"]["cname"] == "terrible"
    assert "cname" not in tools["call_0_cat"]


@pytest.mark.parametrize("start", [2**63 - 1, -(2**63)])
def test_a_start_at_int64s_ends_is_exported(demo_bundle: Path, tmp_path: Path, start: int) -> None:
    """Codex reads a manifest's start of ``+-2^63`` ms (the number differential's values);
    times from it then pass int64 and orjson refused the document: an internal error
    (fuzz28). The document is written with the numbers as they are."""
    bundle = fresh_copy(demo_bundle, tmp_path / "b")
    manifest = orjson.loads((bundle / "manifest.json").read_bytes())
    (bundle / "manifest.json").write_bytes(orjson.dumps({**manifest, "started_at_unix_ms": start}))
    target, err = tmp_path / "trace.json", io.StringIO()
    argv = ["export", "--format", "perfetto", str(bundle), "-o", str(target)]
    assert main(argv, out=io.StringIO(), err=err) == 0, err.getvalue()
    trace = json.loads(target.read_bytes())
    assert any(abs(e.get("ts", 0)) >= 2**63 for e in trace["traceEvents"])


def test_a_partial_rollout_is_said_so_in_the_trace(demo_bundle: Path, tmp_path: Path) -> None:
    """A trace file is passed on without the terminal that wrote it: one from a bundle a crash
    cut short (``--lenient``) read as a whole rollout, the skipped events said only on stderr
    (review39; the tables say ``lenient``, the page its notice, the OTLP root its
    ``recording_status``). Its ``otherData`` says how the recording ended and what lenient
    reduction skipped."""
    whole = tmp_path / "whole.json"
    argv = ["export", "--format", "perfetto", str(demo_bundle), "-o", str(whole)]
    assert main(argv, out=io.StringIO(), err=io.StringIO()) == 0
    other = json.loads(whole.read_bytes())["otherData"]
    assert other["recording_status"] == "complete"
    assert "lenient_notes" not in other

    bundle = crash_cut(demo_bundle, tmp_path / "cut")
    target, err = tmp_path / "cut.json", io.StringIO()
    argv = ["export", "--format", "perfetto", str(bundle), "--lenient", "-o", str(target)]
    assert main(argv, out=io.StringIO(), err=err) == 0, err.getvalue()
    other = json.loads(target.read_bytes())["otherData"]
    assert other["recording_status"] == "unclosed"
    assert len(other["lenient_notes"]) == 1
    assert "truncated last line" in other["lenient_notes"][0]
    assert other["lenient_notes"][0] in err.getvalue()


def test_a_lossy_bundle_says_its_recorder_reports_in_other_data(tmp_path: Path) -> None:
    """The recorder's loss report was left out of the trace file (review ops41)."""
    from tests.test_log_status import record_one_turn

    lossy = record_one_turn(tmp_path / "traces", schema=3, drop=True)
    target = tmp_path / "lossy.json"
    argv = ["export", "--format", "perfetto", str(lossy), "-o", str(target)]
    assert main(argv, out=io.StringIO(), err=io.StringIO()) == 0
    other = json.loads(target.read_bytes())["otherData"]
    assert other["lossy"] is True and other["recorder_reports"][0].startswith("dropped ")


def test_a_tool_slice_says_the_agents_sdk_approval_its_call_waited_for(tmp_path: Path) -> None:
    """A call an Agents SDK run paused at for an approval was a slice ``running`` to the
    trace's end with no word of why (agents51): its args say ``approval`` (``pending``,
    ``approved``, ``rejected``: as ``show`` and the tables read it); no other call has it."""
    import anyio

    from rollout_trace_sdk.view.load import load_state

    from ..view.test_approvals import APPROVALS, record_approvals

    bundle = anyio.run(record_approvals, tmp_path)
    slices = check_trace(chrome_trace(load_state(bundle)))
    said = {
        e["args"]["call_id"]: e["args"].get("approval")
        for track in slices.values()
        for e in track
        if e["cat"] == "tool"
    }
    assert said == APPROVALS
