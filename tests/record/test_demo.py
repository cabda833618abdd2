"""The demo writes one bundle that reduces, with the structure it means to show: a terminal
session reused by write_stdin, a sub-agent spawned and reporting back, reasoning, a
compaction."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rollout_trace_sdk import error_texts
from rollout_trace_sdk.demo import bundle_summary, run_demo

from .recorder_support import check_bundle, recorded_whole, types


def test_demo_counts_payloads_of_either_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's summary counts cited payloads whether they are files (2) or shard records (3)."""
    counts = {}
    for schema in ("2", "3"):
        monkeypatch.setenv("ROLLOUT_TRACE_SCHEMA", schema)
        counts[schema] = bundle_summary(run_demo(tmp_path / schema))
    assert counts["3"]["payloads"] > 30
    assert counts["3"]["events"] == counts["2"]["events"]


def test_demo_bundle(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        bundle = run_demo(tmp_path / "new" / "out")
    finally:
        os.umask(old)
    # the traces root and its missing parents are private, as the recorder makes them (0755)
    for made in (tmp_path / "new", bundle.parent):
        assert made.stat().st_mode & 0o777 == 0o700
    counts = bundle_summary(bundle)
    assert counts["events"] > 50 and counts["payloads"] > 30
    assert bundle.parent == tmp_path / "new" / "out"
    assert types(bundle)[-1] == "recording_completed"

    state = check_bundle(bundle, tmp_path)
    assert state["status"] == "completed" and recorded_whole(state)
    threads = state["threads"]
    root = state["root_thread_id"]
    [child] = [t for t in threads.values() if t["thread_id"] != root]
    assert child["agent_path"] == "/root/helper_0"
    assert child["origin"]["parent_thread_id"] == root

    items = state["conversation_items"]
    edges = state["interaction_edges"]
    spawn = edges[f"edge:spawn:{root}:{child['thread_id']}"]
    assert spawn["target"]["type"] == "conversation_item"
    delivered = items[spawn["target"]["item_id"]]
    assert delivered["thread_id"] == child["thread_id"]
    assert delivered["agent_message"]["recipient"] == "/root/helper_0"
    [result] = [e for e in edges.values() if e["kind"] == "agent_result"]
    assert items[result["source"]["item_id"]]["thread_id"] == child["thread_id"]
    assert items[result["target"]["item_id"]]["thread_id"] == root

    sessions = state["terminal_sessions"]
    reused = [s for s in sessions.values() if len(s["operation_ids"]) == 3]
    assert len(reused) == 1  # cat: exec_command + two write_stdin
    operations = state["terminal_operations"]
    kinds = sorted(operations[o]["kind"] for o in reused[0]["operation_ids"])
    assert kinds == ["exec_command", "write_stdin", "write_stdin"]
    assert "ping 0" in operations[reused[0]["created_by_operation_id"]]["result"]["stdout"]

    assert len(state["compactions"]) == 1
    assert any(i["kind"] == "reasoning" for i in items.values())
    assert all(t["execution"]["status"] == "completed" for t in state["tool_calls"].values())


def test_demo_scale_repeats_the_work(tmp_path: Path) -> None:
    one = bundle_summary(run_demo(tmp_path / "one", scale=1))
    bundle = run_demo(tmp_path / "three", scale=3)
    three = bundle_summary(bundle)
    assert three["events"] > 2.5 * one["events"]
    state = check_bundle(bundle, tmp_path)
    assert len(state["threads"]) == 4
    assert len(state["compactions"]) == 3
    assert len(state["codex_turns"]) == 6


@pytest.mark.parametrize("schema", ["2", "3"])
def test_demo_fail_every_fails_tools_and_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, schema: str
) -> None:
    """``fail_every=3``: every third tool call fails without running (the model reads the
    error, and the steps that needed the tool fail in turn), every third request fails once and
    is sent again; the rollout still completes, both Codex versions reduce it as we do, and
    ``error_texts`` says why each failed."""
    monkeypatch.setenv("ROLLOUT_TRACE_SCHEMA", schema)
    bundle = run_demo(tmp_path / "traces", fail_every=3)
    state = check_bundle(bundle, tmp_path)
    assert state["status"] == "completed" and recorded_whole(state)

    tools = state["tool_calls"].values()
    failed = [t for t in tools if t["execution"]["status"] == "failed"]
    assert len(tools) == 7 and len(failed) == 2  # calls 3 and 6 of the run's seven
    inferences = state["inference_calls"].values()
    refused = [c for c in inferences if c["execution"]["status"] == "failed"]
    assert len(refused) == 3 and len(inferences) == 12  # requests 3, 6, 9 refused, then sent again
    assert len(state["compactions"]) == 1

    why = error_texts(bundle)
    injected = "injected failure (demo --fail-every 3): the tool did not run"
    assert sorted(why.tool_calls) == sorted(t["tool_call_id"] for t in failed)
    assert all(injected in text for text in why.tool_calls.values())
    assert (
        sorted(why.inference_calls.values())
        == ["HTTP 503: demo provider overloaded (demo --fail-every 3)"] * 3
    )


def test_demo_without_fail_every_fails_nothing(tmp_path: Path) -> None:
    """The default run: no tool call or request fails (the test above is not vacuous)."""
    state = check_bundle(run_demo(tmp_path / "traces"), tmp_path)
    assert len(state["inference_calls"]) == 9
    assert not any(
        node["execution"]["status"] != "completed"
        for kind in ("tool_calls", "inference_calls")
        for node in state[kind].values()
    )


def test_minimal_loop_example(tmp_path: Path) -> None:
    """examples/minimal_loop.py runs as documented, traced and untraced."""
    example = Path(__file__).resolve().parents[2] / "examples" / "minimal_loop.py"
    env = {k: v for k, v in os.environ.items() if "ROLLOUT_TRACE_ROOT" not in k}
    traced = subprocess.run(
        [sys.executable, str(example), str(tmp_path / "traces")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    assert traced.stdout.startswith("It is ")
    [bundle] = (tmp_path / "traces").glob("trace-*")
    assert str(bundle) in traced.stdout
    state = check_bundle(bundle, tmp_path)
    assert [op["kind"] for op in state["terminal_operations"].values()] == ["exec_command"]
    untraced = subprocess.run(
        [sys.executable, str(example)], capture_output=True, text=True, env=env, timeout=120
    )
    assert untraced.returncode == 0 and "bundle: None" in untraced.stdout
