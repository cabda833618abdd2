"""The summary's figures (view/summary.py) and its layout (summary_text.py), on a state made
by hand and on the demo's."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from rollout_trace_sdk.view.summary import SUMMARY_VERSION, build_summary
from rollout_trace_sdk.view.summary_text import summary_lines


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
        ("m-2", 1, None),  # its one call recorded no usage: unknown, not zero
    ]
    root, child = summary["agents"]  # by tokens in, most first
    assert (root["agent_path"], root["input_tokens"], root["tool_calls"]) == ("/root", 70, 1)
    assert (child["nickname"], child["failures"], child["wall_ms"]) == ("Kim", 3, None)
    kinds = {k["kind"]: k for k in summary["tools_by_kind"]}
    assert kinds["exec_command"] == {
        "kind": "exec_command",
        "calls": 2,
        "failed": 1,
        "nonzero_exit": 0,
        "total_ms": 400,
        "max_ms": 300,
        "mean_ms": 200,
    }
    assert kinds["fs/read"]["calls"] == 1


def test_tokens_no_call_recorded_are_unknown_not_zero() -> None:
    """A call without usage (a failed one, or one whose response a capture limit left out:
    ``max_bundle_bytes`` leaves every response out) says nothing of its tokens. The summary
    counted such calls as 0 tokens ("0 in · 0 out") where the export's ``rollouts.input_tokens``
    is null (found by review user35): a field no call recorded is null, and the text says so."""
    state = {
        **STATE,
        "inference_calls": {
            key: {**call, "usage": None} for key, call in STATE["inference_calls"].items()
        },
    }
    summary = build_summary(state)
    assert summary["totals"]["tokens"] == dict.fromkeys(
        ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens")
    )
    assert {m["model"]: m["input_tokens"] for m in summary["models"]} == {"m-1": None, "m-2": None}
    assert [a["output_tokens"] for a in summary["agents"]] == [None, None]
    text = "\n".join("".join(run for run, _ in line) for line in summary_lines(summary, 100))
    assert "tokens               not recorded (no inference call has its usage)" in text
    assert " 0 in" not in text
    # a call with usage beside one without: the known ones are summed
    partial = build_summary(STATE)
    assert partial["totals"]["tokens"]["input_tokens"] == 75


def test_tool_time_per_kind_skips_running_calls_and_keeps_the_longest() -> None:
    """A kind's mean is over the calls that have a duration (a call still running has none),
    and its max is the longest whatever the order the calls ran in. Dividing by every call,
    or keeping the last call's duration as the max, passed every summary test: the kind's
    longest call was its last and none was running (mut31)."""
    state = orjson.loads(orjson.dumps(STATE))
    thread = "bbbb2222-0000-0000-0000-000000000000"
    state["tool_calls"]["c4"] = {
        "tool_call_id": "c4",
        "thread_id": thread,
        "kind": {"type": "exec_command"},
        "execution": _execution(1_600, 1_650, "completed", 12),
    }
    state["tool_calls"]["c5"] = {
        "tool_call_id": "c5",
        "thread_id": thread,
        "kind": {"type": "exec_command"},
        "execution": _execution(1_700, None, "running", 13),
    }
    kinds = {k["kind"]: k for k in build_summary(state)["tools_by_kind"]}
    assert kinds["exec_command"] == {
        "kind": "exec_command",
        "calls": 4,
        "failed": 1,
        "nonzero_exit": 0,
        "total_ms": 100 + 300 + 50,
        "max_ms": 300,
        "mean_ms": 150,
    }


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


def test_compactions_are_listed_in_the_order_they_were_installed() -> None:
    """Compactions have no start of their own (the state's map is in id order): the list is
    by install time. Listing them in the map's order passed every summary test, which had one
    compaction (mut31)."""
    state = orjson.loads(orjson.dumps(STATE))
    later = {**state["compactions"]["k"], "compaction_id": "a", "installed_at_unix_ms": 9_000}
    state["compactions"] = {"a": later, **state["compactions"]}
    listed = build_summary(state)["compactions"]
    assert [(c["compaction_id"], c["installed_at_unix_ms"]) for c in listed] == [
        ("k", 3_000),
        ("a", 9_000),
    ]
    assert [c["request_status"] for c in listed] == ["completed", None]


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


def test_a_kind_whose_calls_all_run_has_no_time() -> None:
    """A kind none of whose calls has ended read ``max 0 ms`` beside ``mean -`` (``max_ms``
    0, ``mean_ms`` null in ``--json``; found by view38): no time is known, and none is 0 ms.
    It sorts as no time, after the kinds that took some."""
    state = orjson.loads(orjson.dumps(STATE))
    thread = "bbbb2222-0000-0000-0000-000000000000"
    state["tool_calls"]["c9"] = {
        "tool_call_id": "c9",
        "thread_id": thread,
        "kind": {"type": "write_stdin"},
        "execution": _execution(1_700, None, "running", 13),
    }
    rows = build_summary(state)["tools_by_kind"]
    running = rows[-1]
    assert running == {
        "kind": "write_stdin",
        "calls": 1,
        "failed": 0,
        "nonzero_exit": 0,
        "total_ms": None,
        "max_ms": None,
        "mean_ms": None,
    }
    assert all(row["max_ms"] is not None for row in rows[:-1])
    text = "\n".join("".join(run for run, _ in line) for line in _text_lines(state))
    assert "0 ms" not in next(line for line in text.splitlines() if "write_stdin" in line)


def _text_lines(state: Any) -> list[Any]:
    return summary_lines(build_summary(state), 120)


def test_a_terminal_operation_whose_tool_failed_before_it_ran_says_why(tmp_path: Any) -> None:
    """A write_stdin call that failed before it ran (``demo --fail-every 2``) leaves a failed
    terminal operation with no result: its failure gives its tool call's error text, which
    is why it failed, where it read "(no error text was recorded)"."""
    from rollout_trace_sdk.demo import run_demo
    from rollout_trace_sdk.reduce import reduce_bundle, state_bytes

    bundle = run_demo(tmp_path, fail_every=2)
    state = orjson.loads(state_bytes(reduce_bundle(bundle)))
    failures = build_summary(state)["failures"]
    ops = [f for f in failures if f["type"] == "terminal_operation" and f["name"] == "write_stdin"]
    assert ops and all("injected failure" in (f["error"] or "") for f in ops)


def test_a_command_that_exited_non_zero_is_counted_beside_the_failed_calls() -> None:
    """A tool call whose command ran and exited non-zero is ``completed`` (the tool ran): the
    summary's ``failed`` said 2 where the ``tool-failure-rates`` recipe, which counts both,
    said 10 (review user40). ``nonzero_exit`` counts them (``exit≠0`` in the text); a failed
    call whose command also exited non-zero is counted once, as failed, and exit 0 or no
    exit code is not counted."""
    state = orjson.loads(orjson.dumps(STATE))
    ops = state["terminal_operations"]
    ops["terminal_operation:1"]["result"] = {"exit_code": 2, "stdout": "ls: x: No such file"}
    ops["terminal_operation:2"] = {
        "operation_id": "terminal_operation:2",
        "tool_call_id": "c2",  # the failed call
        "execution": _execution(1_030, 1_130, "failed", 9),
        "result": {"exit_code": 1},
    }
    (row,) = [k for k in build_summary(state)["tools_by_kind"] if k["kind"] == "exec_command"]
    assert (row["calls"], row["failed"], row["nonzero_exit"]) == (2, 1, 1)
    text = "\n".join(
        "".join(run for run, _ in line) for line in summary_lines(build_summary(state), 100)
    )
    header = next(line for line in text.splitlines() if "exit≠0" in line)
    exec_row = next(line for line in text.splitlines() if line.lstrip().startswith("exec_command"))
    assert header.split()[:4] == ["tool", "calls", "failed", "exit≠0"]
    assert exec_row.split()[1:4] == ["2", "1", "1"]
    ops["terminal_operation:1"]["result"] = {"exit_code": 0}
    (row,) = [k for k in build_summary(state)["tools_by_kind"] if k["kind"] == "exec_command"]
    assert row["nonzero_exit"] == 0


def test_agents_sdk_approvals_are_counted_beside_the_tool_calls_statuses() -> None:
    """A call an Agents SDK run paused at for an approval read ``1 running`` with no word of
    why (agents51): the totals count each ``approval`` (``view/approvals.py``, put on the
    calls from the log) beside the statuses, as ``show`` says it; none: ``{}``, no words."""
    state = orjson.loads(orjson.dumps(STATE))
    tools = state["tool_calls"]
    tools["c1"]["approval"], tools["c3"]["approval"] = "pending", "approved"
    tools["c1"]["execution"].update(ended_at_unix_ms=None, status="running")
    summary = build_summary(state)
    counts = summary["totals"]["tool_calls"]
    assert counts["by_approval"] == {"approved": 1, "pending": 1}
    text = "\n".join("".join(part for part, _ in line) for line in summary_lines(summary, 120))
    lines = [line.strip() for line in text.splitlines()]
    at = next(n for n, line in enumerate(lines) if line.startswith("tool calls"))
    assert lines[at].split(maxsplit=2)[2] == "3 (1 completed, 1 failed, 1 running)"
    assert lines[at + 1].split(maxsplit=1) == ["approvals", "1 waiting for approval, 1 approved"]
    styled = dict(part for line in summary_lines(summary, 120) for part in line)
    assert styled["1 waiting for approval"] == "yellow"  # it waits on someone: coloured
    assert styled["1 approved"] == ""
    plain = build_summary(STATE)["totals"]["tool_calls"]
    assert plain["by_approval"] == {}
    assert "approv" not in "".join(
        p for line in summary_lines(build_summary(STATE), 120) for p, _ in line
    )
