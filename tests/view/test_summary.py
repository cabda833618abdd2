"""The summary's figures (view/summary.py), its layout (summary_text.py), where its state comes
from (summary_source.py) and the reducer's progress reports (view/progress.py)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.reduce import reduce_bundle, state_bytes
from rollout_trace_sdk.view.progress import reduction_progress
from rollout_trace_sdk.view.summary import SUMMARY_VERSION, build_summary
from rollout_trace_sdk.view.summary_source import (
    failure_texts,
    fresh_state,
    load_summary_state,
    parse_for_summary,
)
from rollout_trace_sdk.view.summary_text import render_plain, summary_lines

from ..conftest import CONFORMANCE, CONFORMANCE_V3, conformance_bundles


def _execution(start: int, end: int | None, status: str, seq: int = 0) -> dict[str, Any]:
    return {
        "started_at_unix_ms": start,
        "started_seq": seq,
        "ended_at_unix_ms": end,
        "status": status,
    }


def _usage(tokens_in: int, tokens_out: int) -> dict[str, int]:
    return {
        "input_tokens": tokens_in,
        "cached_input_tokens": 1,
        "output_tokens": tokens_out,
        "reasoning_output_tokens": 2,
    }


STATE: dict[str, Any] = {
    "schema_version": 3,
    "rollout_id": "01a23541-191d-7796-a769-43055ab4f20f",
    "trace_id": "t1",
    "status": "running",
    "recording_status": "closed_with_partial_payloads",
    "started_at_unix_ms": 1_000,
    "ended_at_unix_ms": 13_500,
    "threads": {
        "aaaa1111-0000-0000-0000-000000000000": {
            "thread_id": "aaaa1111-0000-0000-0000-000000000000",
            "agent_path": "/root",
            "execution": _execution(1_000, 13_500, "completed", 1),
            "default_model": "m-1",
        },
        "bbbb2222-0000-0000-0000-000000000000": {
            "thread_id": "bbbb2222-0000-0000-0000-000000000000",
            "agent_path": "/root/child",
            "nickname": "Kim",
            "execution": _execution(1_005, None, "running", 5),
        },
    },
    "codex_turns": {
        "u": {
            "codex_turn_id": "u",
            "thread_id": "bbbb2222-0000-0000-0000-000000000000",
            "execution": _execution(1_010, 1_250, "failed", 6),
        }
    },
    "conversation_items": {
        "conversation_item:9": {
            "item_id": "conversation_item:9",
            "body": {"parts": [{"type": "text", "text": "permission denied: /etc/shadow"}]},
        }
    },
    "inference_calls": {
        "i1": {
            "inference_call_id": "i1",
            "thread_id": "aaaa1111-0000-0000-0000-000000000000",
            "model": "m-1",
            "execution": _execution(1_001, 1_003, "completed", 2),
            "usage": _usage(70, 30),
            "request_item_ids": ["x", "y"],
        },
        "i2": {
            "inference_call_id": "i2",
            "thread_id": "bbbb2222-0000-0000-0000-000000000000",
            "model": "m-2",
            "execution": _execution(1_020, 1_900, "failed", 7),
            "usage": None,
        },
        "i3": {
            "inference_call_id": "i3",
            "thread_id": "bbbb2222-0000-0000-0000-000000000000",
            "model": "m-1",
            "execution": _execution(2_000, 2_010, "completed", 8),
            "usage": _usage(5, 1),
        },
    },
    "tool_calls": {
        "c1": {
            "tool_call_id": "c1",
            "thread_id": "aaaa1111-0000-0000-0000-000000000000",
            "kind": {"type": "mcp", "server": "fs", "tool": "read"},
            "execution": _execution(1_004, 1_010, "completed", 3),
        },
        "c2": {
            "tool_call_id": "c2",
            "thread_id": "bbbb2222-0000-0000-0000-000000000000",
            "kind": {"type": "exec_command"},
            "execution": _execution(1_030, 1_130, "failed", 9),
            "model_visible_output_item_ids": ["conversation_item:9"],
        },
        "c3": {
            "tool_call_id": "c3",
            "thread_id": "bbbb2222-0000-0000-0000-000000000000",
            "kind": {"type": "exec_command"},
            "execution": _execution(1_200, 1_500, "completed", 10),
        },
    },
    "terminal_sessions": {
        "terminal_session:terminal_operation:1": {
            "terminal_id": "terminal_session:terminal_operation:1",
            "thread_id": "bbbb2222-0000-0000-0000-000000000000",
            "created_by_operation_id": "terminal_operation:1",
            "operation_ids": ["terminal_operation:1", "terminal_operation:2"],
            "execution": _execution(1_200, None, "running", 10),
        }
    },
    "terminal_operations": {
        "terminal_operation:1": {
            "operation_id": "terminal_operation:1",
            "tool_call_id": "c3",
            "execution": _execution(1_200, 1_500, "completed", 10),
            "request": {"type": "exec_command", "display_command": "/bin/sh -c ls"},
        }
    },
    "compactions": {
        "k": {
            "compaction_id": "k",
            "thread_id": "aaaa1111-0000-0000-0000-000000000000",
            "installed_at_unix_ms": 3_000,
            "input_item_ids": ["a", "b", "c"],
            "replacement_item_ids": ["d"],
        }
    },
    "compaction_requests": {
        "r": {"compaction_id": "k", "execution": _execution(2_900, 3_000, "completed", 11)}
    },
    "interaction_edges": {
        "e": {
            "kind": "spawn_agent",
            "source": {"type": "tool_call", "tool_call_id": "c1"},
            "target": {"type": "thread", "thread_id": "bbbb2222-0000-0000-0000-000000000000"},
        }
    },
}


# --- figures --------------------------------------------------------------------------------------


def test_totals_count_statuses_tokens_and_time() -> None:
    summary = build_summary(STATE)
    assert summary["summary_version"] == SUMMARY_VERSION
    assert summary["rollout"]["wall_ms"] == 12_500
    assert summary["rollout"]["recording"] == "closed_with_partial_payloads"
    totals = summary["totals"]
    assert totals["threads"] == 2
    assert totals["inference_calls"] == {"total": 3, "by_status": {"completed": 2, "failed": 1}}
    assert totals["tool_calls"]["by_status"] == {"completed": 2, "failed": 1}
    assert totals["turns"]["by_status"] == {"failed": 1}
    assert totals["tokens"] == {
        "input_tokens": 75,
        "cached_input_tokens": 2,
        "output_tokens": 31,
        "reasoning_output_tokens": 4,
    }
    assert totals["model_time_ms"] == 2 + 880 + 10 and totals["tool_time_ms"] == 6 + 100 + 300
    assert totals["interaction_edges"] == {"total": 1, "by_kind": {"spawn_agent": 1}}
    assert totals["terminal_sessions"]["by_status"] == {"running": 1}


def test_tokens_per_model_and_per_agent_and_tool_time_per_kind() -> None:
    summary = build_summary(STATE)
    assert [(m["model"], m["inference_calls"], m["input_tokens"]) for m in summary["models"]] == [
        ("m-1", 2, 75),
        ("m-2", 1, 0),
    ]
    root, child = summary["agents"]  # by tokens in, most first
    assert (root["agent_path"], root["input_tokens"], root["tool_calls"]) == ("/root", 70, 1)
    assert (child["nickname"], child["failures"], child["wall_ms"]) == ("Kim", 3, None)
    kinds = {k["kind"]: k for k in summary["tools_by_kind"]}
    assert kinds["exec_command"] == {
        "kind": "exec_command",
        "calls": 2,
        "failed": 1,
        "total_ms": 400,
        "max_ms": 300,
        "mean_ms": 200,
    }
    assert kinds["fs/read"]["calls"] == 1


def test_an_agents_failures_are_its_rows_in_the_failures_list() -> None:
    """The agents list counted a failed thread, inference call or tool call, not a failed turn,
    terminal operation, compaction request or code cell: /root/child read 2 failures above a
    list of its 3 (found by review: an interrupted turn's agent read 1 of its 3)."""
    state = orjson.loads(orjson.dumps(STATE))
    root = "aaaa1111-0000-0000-0000-000000000000"
    state["code_cells"] = {
        "cell": {"code_cell_id": "cell", "thread_id": root, "execution": _execution(5, 6, "failed")}
    }
    state["compaction_requests"]["r"].update(thread_id=root)
    state["compaction_requests"]["r"]["execution"]["status"] = "cancelled"
    state["terminal_operations"]["terminal_operation:1"]["execution"]["status"] = "failed"
    summary = build_summary(state)
    listed = {
        path: sum(f["agent_path"] == path for f in summary["failures"])
        for path in ("/root", "/root/child")
    }
    assert listed == {"/root": 2, "/root/child": 4}
    assert {a["agent_path"]: a["failures"] for a in summary["agents"]} == listed
    for path, count in listed.items():
        one = build_summary(state, thread=path, limit=0)
        assert one["thread"]["failures"] == count and one["omitted"]["failures"] == count


def test_failures_carry_their_error_text_in_start_order() -> None:
    failures = build_summary(STATE, errors={"i2": "HTTP 503: upstream overloaded"})["failures"]
    assert [(f["type"], f["id"]) for f in failures] == [
        ("turn", "u"),
        ("inference_call", "i2"),
        ("tool_call", "c2"),
    ]
    assert failures[1]["error"] == "HTTP 503: upstream overloaded"
    assert failures[2]["error"] == "permission denied: /etc/shadow"
    assert failures[2]["agent_path"] == "/root/child"


def test_compactions_and_terminal_sessions_are_listed() -> None:
    summary = build_summary(STATE)
    assert summary["compactions"] == [
        {
            "compaction_id": "k",
            "thread_id": "aaaa1111-0000-0000-0000-000000000000",
            "agent_path": "/root",
            "installed_at_unix_ms": 3_000,
            "input_items": 3,
            "replacement_items": 1,
            "request_status": "completed",
        }
    ]
    (session,) = summary["terminal_sessions"]
    assert (session["operations"], session["command"], session["status"]) == (
        2,
        "/bin/sh -c ls",
        "running",
    )


def test_limit_cuts_every_list_and_says_how_much() -> None:
    summary = build_summary(STATE, limit=1)
    assert len(summary["agents"]) == 1 and summary["omitted"]["agents"] == 1
    assert len(summary["failures"]) == 1 and summary["omitted"]["failures"] == 2
    assert summary["omitted"]["compactions"] == 0
    assert build_summary(STATE)["omitted"] == dict.fromkeys(summary["omitted"], 0)


def test_thread_restricts_everything_and_lists_its_calls_by_path_id_or_prefix() -> None:
    for name in ("/root/child", "bbbb2222-0000-0000-0000-000000000000", "bbbb"):
        summary = build_summary(STATE, thread=name)
        assert summary["thread"]["agent_path"] == "/root/child"
        assert summary["totals"]["inference_calls"]["total"] == 2
        assert summary["totals"]["interaction_edges"]["total"] == 1  # spawned it
        assert [(c["type"], c["id"]) for c in summary["calls"]] == [
            ("inference_call", "i2"),
            ("tool_call", "c2"),
            ("tool_call", "c3"),
            ("inference_call", "i3"),
        ]
    assert build_summary(STATE)["calls"] is None
    with pytest.raises(LookupError, match="no agent"):
        build_summary(STATE, thread="/nobody")


def test_empty_state_has_every_key() -> None:
    summary = build_summary({"threads": {}})
    assert summary["totals"]["threads"] == 0 and summary["failures"] == []
    assert summary["rollout"]["wall_ms"] is None
    assert summary_lines(summary, 80)[0][0][0].startswith("rollout ")


def test_demo_counts_equal_the_state(demo_state: Any) -> None:
    summary = build_summary(demo_state)
    totals = summary["totals"]
    for key in ("inference_calls", "tool_calls", "terminal_sessions", "terminal_operations"):
        assert totals[key]["total"] == len(demo_state[key])
    assert totals["compactions"] == len(demo_state["compactions"]) > 0
    assert totals["tokens"]["input_tokens"] == sum(
        c["usage"]["input_tokens"] for c in demo_state["inference_calls"].values() if c["usage"]
    )
    assert sum(a["inference_calls"] for a in summary["agents"]) == len(
        demo_state["inference_calls"]
    )


# --- layout -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [40, 60, 80, 132])
def test_no_line_is_wider_than_the_terminal(demo_state_200: Any, width: int) -> None:
    for thread in (None, "/root"):
        summary = build_summary(demo_state_200, thread=thread, limit=10)
        out = io.StringIO()
        render_plain(summary_lines(summary, width), out)
        lines = out.getvalue().splitlines()
        assert max(len(line) for line in lines) <= width
        assert any("first 10 shown" in line for line in lines)  # 201 agents, 10 shown


def test_text_shows_short_ids_statuses_and_errors() -> None:
    out = io.StringIO()
    summary = build_summary(STATE, errors={"i2": "HTTP 503: upstream overloaded"})
    render_plain(summary_lines(summary, 100), out)
    text = out.getvalue()
    assert text.startswith(
        "rollout 01a23541…f20f · running · recording closed with partial payloads"
    )
    assert "3 (2 completed, 1 failed)" in text
    assert "HTTP 503: upstream overloaded" in text and "permission denied" in text
    assert "/root/child (Kim)" in text and "/bin/sh -c ls" in text


# --- where the state comes from ----------------------------------------------------------------


@pytest.fixture
def bundle(demo_bundle: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(demo_bundle, copy, symlinks=True)
    (copy / "state.json").unlink(missing_ok=True)
    (copy / "view.html").unlink(missing_ok=True)
    return copy


def _reduce_into(bundle: Path) -> bytes:
    data = state_bytes(reduce_bundle(bundle))
    (bundle / "state.json").write_bytes(data)
    return data


def test_an_up_to_date_state_is_read_and_a_stale_one_is_not(bundle: Path) -> None:
    assert fresh_state(bundle) == (None, "no state.json")
    data = _reduce_into(bundle)
    state, why = fresh_state(bundle)
    assert state is not None and "newer" in why
    assert build_summary(state) == build_summary(orjson.loads(data))
    later = os.stat(bundle / "state.json").st_mtime_ns + 1_000_000
    os.utime(bundle / "trace.jsonl", ns=(later, later))
    assert fresh_state(bundle) == (None, "state.json is older than trace.jsonl")


def test_a_newer_payload_makes_the_state_stale(bundle: Path) -> None:
    _reduce_into(bundle)
    later = os.stat(bundle / "state.json").st_mtime_ns + 1_000_000
    payload = sorted((bundle / "payloads").iterdir())[-1]
    os.utime(payload, ns=(later, later))
    assert fresh_state(bundle) == (None, f"state.json is older than payloads/{payload.name}")


def test_a_state_of_another_bundle_is_not_used(bundle: Path) -> None:
    data = orjson.loads(_reduce_into(bundle))
    data["trace_id"] = "someone-else"
    (bundle / "state.json").write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    state, why = fresh_state(bundle)
    assert state is None and "trace_id differs" in why


def test_a_symlinked_state_is_not_followed(bundle: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes(_reduce_into(bundle))
    (bundle / "state.json").unlink()
    (bundle / "state.json").symlink_to(elsewhere)
    state, why = fresh_state(bundle)
    assert state is None and why.startswith("state.json unusable")


def test_load_says_what_it_did(bundle: Path) -> None:
    loaded = load_summary_state(str(bundle), lenient=False, err=io.StringIO())
    assert loaded.how.startswith(f"reduced {bundle} (no state.json;")
    _reduce_into(bundle)
    loaded = load_summary_state(str(bundle), lenient=False, err=io.StringIO())
    assert loaded.how == f"read {bundle}/state.json (state.json is newer than the bundle's files)"
    assert loaded.bundle == bundle


def test_parsing_only_what_the_summary_reads_gives_the_same_summary(demo_state: Any) -> None:
    raw = orjson.dumps(demo_state, option=orjson.OPT_INDENT_2)
    parsed = parse_for_summary(raw)
    assert "raw_payloads" not in parsed and "conversation_items" not in parsed
    assert build_summary(parsed) == build_summary(demo_state)
    assert parse_for_summary(orjson.dumps(demo_state)) == demo_state  # compact: parsed whole


def test_one_agents_summary_from_a_state_file_counts_the_edges_its_items_anchor(
    bundle: Path, demo_state: Any
) -> None:
    """An interaction edge anchored on conversation items is an agent's only through the
    items' ``thread_id``: with ``--thread``, reading ``state.json`` without its items counted
    1 edge of /root's 2 and none of the helper's 2 (found by review: the multi-agent
    conformance bundle's agents lost their ``agent_result`` edges)."""
    raw = _reduce_into(bundle)
    paths = [t["agent_path"] for t in demo_state["threads"].values()]
    for source in (str(bundle), str(bundle / "state.json")):
        for path in paths:
            loaded = load_summary_state(source, lenient=False, err=io.StringIO(), thread=path)
            assert loaded.how.startswith("read "), loaded.how
            got = build_summary(loaded.state, thread=path)["totals"]["interaction_edges"]
            assert got == build_summary(demo_state, thread=path)["totals"]["interaction_edges"]
    # without --thread the items are not needed, and still not parsed
    assert "conversation_items" not in parse_for_summary(raw)


def test_a_failed_tool_makes_the_items_parsed_for_its_error(demo_state: Any) -> None:
    state = orjson.loads(orjson.dumps(demo_state))
    state["tool_calls"]["call_0_sum"]["execution"]["status"] = "failed"
    parsed = parse_for_summary(orjson.dumps(state, option=orjson.OPT_INDENT_2))
    assert build_summary(parsed) == build_summary(state)
    (failure,) = build_summary(parsed)["failures"]
    assert failure["id"] == "call_0_sum" and failure["error"]


_RECORD = """
import sys, anyio
from rollout_trace_sdk.record import open_rollout

async def main(root):
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}
    call_item = {"type": "function_call", "name": "exec_command", "call_id": "c1", "arguments": "{}"}
    async with open_rollout(root, model="m-1") as rollout, rollout.root.turn() as turn:
        history = turn.accept(user)
        async with turn.inference({"model": "m-1", "input": history}) as call:
            call.failed("HTTP 503: upstream overloaded")
        async with turn.inference({"model": "m-1", "input": history}) as call:
            history += call.completed(output_items=[call_item])
        async with turn.tool_call("c1", "exec_command", arguments="{}") as tool:
            tool.failed("permission denied: /etc/shadow")
    print(rollout.bundle_dir)

anyio.run(main, sys.argv[1])
"""


@pytest.mark.parametrize("schema", ["2", "3"])
def test_error_texts_come_from_the_log_and_the_result_payload(tmp_path: Path, schema: str) -> None:
    """A real recording (both schemas): the inference error is only in trace.jsonl, the tool's
    only in its raw result payload."""
    done = subprocess.run(
        [sys.executable, "-c", _RECORD, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "ROLLOUT_TRACE_SCHEMA": schema},
    )
    bundle = Path(done.stdout.strip())
    state = orjson.loads(state_bytes(reduce_bundle(bundle)))
    texts = failure_texts(bundle, state)
    assert sorted(texts.values()) == [
        "HTTP 503: upstream overloaded",
        "permission denied: /etc/shadow",
    ]
    errors = [f["error"] for f in build_summary(state, errors=texts)["failures"]]
    assert errors == ["HTTP 503: upstream overloaded", "permission denied: /etc/shadow"]
    assert failure_texts(tmp_path / "missing", state) == {}
    # the state file named inside its bundle: the texts are read from the bundle as well
    from rollout_trace_sdk.cli import main

    (bundle / "state.json").write_bytes(state_bytes(reduce_bundle(bundle)))
    out = io.StringIO()
    assert main(["summary", str(bundle / "state.json")], out=out, err=io.StringIO()) == 0
    assert "HTTP 503: upstream overloaded" in out.getvalue(), out.getvalue()


def test_a_failed_turns_error_is_read_from_its_protocol_events(stopped_bundle: Path) -> None:
    """A failed turn (an Agents SDK run past ``max_turns``, a tripped guardrail) and its
    failed thread said "(no error text was recorded)": the text is in the turn's ``error``
    and ``turn_complete`` protocol events, which the state does not keep (found by review
    viewfix19)."""
    from rollout_trace_sdk.cli import main

    from .conftest import TURN_ERROR

    for source in (stopped_bundle, stopped_bundle / "state.json"):
        if source.name == "state.json":
            source.write_bytes(state_bytes(reduce_bundle(stopped_bundle)))
        out = io.StringIO()
        assert main(["summary", str(source), "--json"], out=out, err=io.StringIO()) == 0
        failures = orjson.loads(out.getvalue())["failures"]
        assert [(f["type"], f["error"]) for f in failures] == [
            ("thread", TURN_ERROR),
            ("turn", TURN_ERROR),
        ]
        out = io.StringIO()
        assert main(["summary", str(source)], out=out, err=io.StringIO()) == 0
        assert "no error text" not in out.getvalue() and TURN_ERROR in out.getvalue()


def _codex_turn_texts(bundle: Path) -> dict[str, str]:
    """What Codex said of each failed or interrupted turn of a bundle: the ``error`` (failed)
    or ``reason`` (interrupted) of its ``turn_complete`` / ``turn_aborted`` protocol event,
    read here without the view's code."""
    from ..record.recorder_support import of_type, payload

    texts = {}
    for event in of_type(bundle, "protocol_event_observed"):
        body = payload(bundle, event["payload"]["event_payload"])
        if body.get("type") == "task_complete" and body.get("error"):
            texts[body["turn_id"]] = body["error"]["message"]
        elif body.get("type") == "turn_aborted":
            texts[body["turn_id"]] = body["reason"]
    return texts


_ENDED_BADLY = [
    bundle
    for corpus in (CONFORMANCE, CONFORMANCE_V3)
    for bundle in conformance_bundles(corpus)
    if bundle.parent.name
    in {
        "inference_fatal_error",
        "inference_incomplete",
        "compaction_remote_failed",
        "multi_agent_v2_child_failure",
        "app_server_turn_interrupt",
        "interrupt_during_tool",
    }
]


@pytest.mark.parametrize(
    "bundle", _ENDED_BADLY, ids=[f"{b.parents[1].name}/{b.parent.name}" for b in _ENDED_BADLY]
)
def test_codexs_failed_turns_read_with_codexs_text(bundle: Path) -> None:
    """The corpora's failed and interrupted turns: the summary gives each Codex's text."""
    state = orjson.loads(state_bytes(reduce_bundle(bundle)))
    expected = _codex_turn_texts(bundle)
    turns = [
        t["codex_turn_id"]
        for t in state["codex_turns"].values()
        if t["execution"]["status"] in ("failed", "cancelled", "aborted")
    ]
    assert turns and set(turns) <= set(expected)
    failures = build_summary(state, errors=failure_texts(bundle, state))["failures"]
    shown = {f["id"]: f["error"] for f in failures if f["type"] == "turn"}
    assert shown == {turn: expected[turn] for turn in turns}


def test_a_state_file_inside_its_bundle_is_read_with_the_bundle(
    bundle: Path, tmp_path: Path
) -> None:
    """``summary BUNDLE/state.json`` read the state as a file alone: an inference call's
    error text, in the bundle's log, was "not in a state file alone", though docs/reducing.md
    says a state inside its bundle gets it, and ``show`` does (found by review). The bundle is
    used when the state is its rollout's; another rollout's state is read alone."""
    raw = _reduce_into(bundle)
    loaded = load_summary_state(str(bundle / "state.json"), lenient=False, err=io.StringIO())
    assert loaded.bundle == bundle and loaded.how == f"read {bundle}/state.json"
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes(raw)
    assert load_summary_state(str(elsewhere), lenient=False, err=io.StringIO()).bundle is None
    other = orjson.loads(raw)
    other["trace_id"] = "someone-else"
    (bundle / "other.json").write_bytes(orjson.dumps(other))
    loaded = load_summary_state(str(bundle / "other.json"), lenient=False, err=io.StringIO())
    assert loaded.bundle is None


# --- progress ------------------------------------------------------------------------------------


def test_the_reducer_reports_how_far_it_has_read(demo_bundle_200: Path) -> None:
    seen: list[tuple[int, int]] = []
    plain = state_bytes(reduce_bundle(demo_bundle_200))
    assert state_bytes(reduce_bundle(demo_bundle_200, progress=lambda *a: seen.append(a))) == plain
    size = (demo_bundle_200 / "trace.jsonl").stat().st_size
    assert len(seen) > 5 and {total for _, total in seen} == {size}
    done = [d for d, _ in seen]
    assert done == sorted(done) and 0 < done[-1] <= size


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_is_drawn_on_a_terminal_only(demo_bundle_200: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("TERM", raising=False)
    with reduction_progress(io.StringIO(), "x") as progress:
        assert progress is None  # piped: nothing to call at all
    terminal = _Terminal()
    with reduction_progress(terminal, "reducing demo", delay=0) as progress:
        assert progress is not None
        reduce_bundle(demo_bundle_200, progress=progress)
    assert "reducing demo" in terminal.getvalue()
    quick = _Terminal()
    with reduction_progress(quick, "reducing demo") as progress:  # under a second: no bar
        assert progress is not None
        progress(1, 2)
    assert quick.getvalue() == ""


def test_on_a_terminal_it_is_coloured_and_still_fits(demo_state_200: Any) -> None:
    import re

    from rich.console import Console

    from rollout_trace_sdk.view.summary_text import render_rich

    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=True, color_system="standard")
    render_rich(summary_lines(build_summary(demo_state_200, limit=10), 80), console)
    text = out.getvalue()
    assert "\x1b[" in text
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert max(len(line) for line in plain.splitlines()) <= 80


def test_terminal_control_characters_are_spelled_out_and_still_fit() -> None:
    """Agent text (model, agent path, terminal command, error text) reaches the terminal with
    its control characters escaped as ``show`` escapes them, piped and through rich."""
    import copy

    from rich.console import Console

    from rollout_trace_sdk.view.summary_text import render_rich

    hostile = "\x1b]0;PWNED\x07\x1b[41mRED\x9b"
    state = copy.deepcopy(STATE)
    state["inference_calls"]["i1"]["model"] = "m" + hostile
    state["threads"]["bbbb2222-0000-0000-0000-000000000000"]["agent_path"] = "/root/c" + hostile
    operation = state["terminal_operations"]["terminal_operation:1"]
    operation["request"]["display_command"] = "ls" + hostile
    summary = build_summary(state, errors={"i2": "HTTP 503" + hostile})
    lines = summary_lines(summary, 120)
    plain = io.StringIO()
    render_plain(lines, plain)
    console = Console(record=True, width=120, force_terminal=True, color_system="standard")
    render_rich(lines, console)
    shown = console.export_text(styles=False, clear=False)
    for text in (plain.getvalue(), shown):
        assert not any(ch in text for ch in "\x1b\x07\x9b")
        assert "m\\x1b]0;PWNED\\x07\\x1b[41mRED\\x9b" in text
        assert "HTTP 503\\x1b]0;PWNED" in text and "ls\\x1b]0;PWNED" in text
        assert max(len(line) for line in text.splitlines()) <= 120


def test_the_recorders_reports_are_said(tmp_path: Path) -> None:
    """The recorder's loss report (events it dropped: a full queue, the bundle's ceiling)
    is a protocol event the reducers skip; ``summary`` and ``show`` showed such a recording
    as "completed" and nothing more (found by review). They now say the report in full (and
    ``summary --json``); the text comes from the bundle, so its controls are spelled out."""
    import json

    from tests.test_cli import run
    from tests.test_cli_validate import _record_with_a_dropped_event

    bundle = _record_with_a_dropped_event(tmp_path / "ours")
    code, out, _ = run("summary", bundle)
    assert code == 0
    said = out.replace("\n          ", " ")
    dropped = re.compile(r"recorder: dropped [1-9]\d* events and [1-9]\d* payloads \(")
    assert dropped.search(said)
    assert "the writer's 2000-byte memory budget was full" in said
    code, out, _ = run("show", bundle)
    assert dropped.search(out)
    code, out, _ = run("summary", "--json", bundle)
    (report,) = json.loads(out)["rollout"]["recorder_reports"]
    assert re.match(r"dropped [1-9]\d* events", report)
    # a bundle whose warning holds terminal controls
    import anyio

    from rollout_trace_sdk.record import open_rollout

    async def record() -> None:
        async with open_rollout(tmp_path / "odd") as rollout:
            message = "rollout_trace_sdk: redacted 1 secrets\x1b[2J here"
            rollout.root.protocol_event("warning", {"message": message})

    anyio.run(record)
    (odd,) = (tmp_path / "odd").glob("trace-*")
    code, out, _ = run("summary", odd)
    assert "recorder: redacted 1 secrets\\x1b[2J here" in out and "\x1b" not in out
    code, out, _ = run("show", odd)
    assert "recorder: redacted 1 secrets\\x1b[2J here" in out and "\x1b" not in out
