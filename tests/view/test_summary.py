"""The summary's figures (view/summary.py) and its layout (summary_text.py), on a state made
by hand and on the demo's."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from rollout_trace_sdk.view.load import load_state
from rollout_trace_sdk.view.show import render_plain as render_show
from rollout_trace_sdk.view.show import transcript_lines
from rollout_trace_sdk.view.show_format import ms as _ms
from rollout_trace_sdk.view.summary import SUMMARY_VERSION, build_summary
from rollout_trace_sdk.view.summary_text import render_plain, summary_lines

from ..codex_oracle import codex_bin
from ..conftest import CONFORMANCE_V3, needs_conformance_v3
from ..live.recording import record
from ..live.script import SEARCH_AGENTS, Scenario, call, first, following, message, v1
from .conftest import open_tool_call_state


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


def test_on_a_terminal_it_is_coloured_and_still_fits(demo_state_200: Any) -> None:

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


def test_a_failed_thread_names_its_agent_once() -> None:
    """A failed thread's line read ``thread 01a24900…eb10 /root /root failed``: its name is
    its agent path, printed beside the path (found by newuser25, an Agents SDK run a
    guardrail stopped)."""
    state = orjson.loads(orjson.dumps(STATE))
    child = state["threads"]["bbbb2222-0000-0000-0000-000000000000"]
    child["execution"]["status"] = "failed"
    out = io.StringIO()
    render_plain(summary_lines(build_summary(state), 100), out)
    (line,) = [row for row in out.getvalue().splitlines() if row.startswith("  thread ")]
    assert line.count("/root/child") == 1 and " /root/child failed after " in line, line


@pytest.mark.parametrize("width", [40, 80])
def test_the_headings_wrap_and_lose_nothing(demo_state: Any, width: int) -> None:
    """The rollout's line was cut at the width (``... · trace 0e2…`` under ``COLUMNS=80``,
    the schema gone) and an agent's behind a long path; both wrap as the recorder's reports
    do, continuation lines indented, every part whole (found by newuser25)."""
    from rich.console import Console

    from rollout_trace_sdk.view.show_format import short_id
    from rollout_trace_sdk.view.summary_text import render_rich

    state = orjson.loads(orjson.dumps(demo_state))
    thread = next(iter(state["threads"].values()))
    thread["agent_path"] = "/root/" + "a_long_agent_name_" * 5
    for agent in (None, thread["agent_path"]):
        summary = build_summary(state, thread=agent)
        lines = summary_lines(summary, width)
        plain = io.StringIO()
        render_plain(lines, plain)
        console = Console(record=True, width=width, force_terminal=True, color_system="standard")
        render_rich(lines, console)
        for text in (plain.getvalue(), console.export_text(styles=False, clear=False)):
            rows = text.splitlines()
            assert max(len(row) for row in rows) <= width
            heading = " ".join(row.strip() for row in rows[: rows.index("")])
            rollout = summary["rollout"]
            for ident in (rollout["rollout_id"], rollout["trace_id"]):  # shortened, not cut
                heading = heading.replace(short_id(ident), "ID")
            assert "…" not in heading
            assert f"schema {rollout['schema_version']}" in heading
            assert " wall" in heading and "trace " in heading
            if agent is not None:
                assert "".join(heading.split()).count("".join(agent.split())) == 1
                assert summary["thread"]["status"] in heading


@needs_conformance_v3
@pytest.mark.parametrize(
    ("scenario", "title", "agents_failed"),
    [
        ("app_server_turn_interrupt", "failures (1 call · also 1 turn, 1 terminal operation)", 1),
        ("multi_agent_v2_child_failure", "failures (1 call · also 1 turn)", 1),
        ("compaction_remote_failed", "failures (1 call · also 1 turn)", 1),
        ("unknown_tool", "failures (1 call)", 1),
    ],
)
def test_the_failure_count_is_what_the_pages_counts(
    scenario: str, title: str, agents_failed: int
) -> None:
    """The page's header read "1 failed" and summary "failures (3)" (viewer26): summary also
    counted failed turns and terminal operations. Its title leads with the page's count
    (failed calls: inference calls, tool calls, compaction requests, code cells), then says
    what else it lists; the agents table's "failed" is the page's Agents tab's."""
    from rollout_trace_sdk.view.model import build_view_model
    from rollout_trace_sdk.view.show_format import FAILED

    [bundle] = sorted((CONFORMANCE_V3 / scenario).glob("trace-*"))
    state = load_state(bundle)
    model = build_view_model(state)
    rows = model["calls"] + model["tools"] + model["compactions"] + model["cells"]
    page = sum(1 for row in rows if row.get("st") in FAILED)  # static/list.js failedCount
    summary = build_summary(state)
    assert summary["totals"]["failed_calls"] == page
    assert sum(a["failed_calls"] for a in summary["agents"]) == page
    out = io.StringIO()
    render_plain(summary_lines(summary, 120), out)
    text = out.getvalue()
    assert title in text.splitlines(), text
    agents = text.split("agents by tokens in")[1].splitlines()
    assert agents[1].split()[-3:] == ["failed", "in", "out"]
    failed_column = [line.split()[-3] for line in agents[2:] if line.strip()]  # paths have spaces
    assert sum(int(n) for n in failed_column if n.isdigit()) == agents_failed, text


@needs_conformance_v3
def test_an_unfinished_rollouts_wall_time_is_up_to_its_last_event() -> None:
    """A killed bundle's summary read "- wall" (viewer26): it reads the time up to the last
    event the state knows, marked unfinished, the time the page draws its open turns to
    (``S.known`` in static/app.js, computed here from the view model as the page does)."""
    from rollout_trace_sdk.view.model import build_view_model

    bundle = CONFORMANCE_V3 / "_errors" / "no_recording_completed" / "bundle"
    state = load_state(bundle, lenient=True)
    assert state["ended_at_unix_ms"] is None
    model = build_view_model(state)
    tables = ("threads", "turns", "calls", "tools", "ops", "cells", "compactions")
    known = max(
        o["e"] if o.get("e") is not None else o.get("s") or 0 for k in tables for o in model[k]
    )
    summary = build_summary(state)
    assert summary["rollout"]["wall_ms"] is None and summary["rollout"]["known_ms"] == known > 0
    out = io.StringIO()
    render_plain(summary_lines(summary, 300), out)
    first = out.getvalue().splitlines()[0]
    assert f" · {_ms(known)} wall so far (unfinished: to its last event) · " in first, first
    assert "- wall" not in out.getvalue()
    # an ended rollout keeps its wall time, and says nothing of "so far"
    ended = build_summary({**state, "ended_at_unix_ms": state["started_at_unix_ms"] + 5})
    assert ended["rollout"]["known_ms"] is None
    out = io.StringIO()
    render_plain(summary_lines(ended, 120), out)
    assert " · 5 ms wall · " in out.getvalue() and "so far" not in out.getvalue()


def test_a_head_and_tail_abbreviation_never_overlaps_the_id() -> None:
    """``head…tail`` names an id at least as long as both: ``abc…c`` is not ``abc`` (its
    ``c`` would be counted twice), and ``ab…bc`` is not ``abc``."""
    from rollout_trace_sdk.view.ids import abbreviates

    assert abbreviates("abc…c", "abc_c") and abbreviates("ab…bc", "abbc")
    assert not abbreviates("abc…c", "abc") and not abbreviates("ab…bc", "abc")


def test_a_running_agents_wall_time_is_its_time_so_far(tmp_path: Path) -> None:
    """An agent still running in a rollout still being recorded read "-" in the agents
    table (and on ``--thread``'s agent line), while ``show`` says its "N ms so far" and the
    summary's own line the rollout's "wall so far" (review polish27). It reads the time
    ``show`` says, from the JSON's ``wall_so_far_ms``; ``wall_ms`` stays null."""
    state = anyio.run(open_tool_call_state, tmp_path)
    assert state.get("ended_at_unix_ms") is None
    summary = build_summary(state)
    [agent] = summary["agents"]
    assert agent["wall_ms"] is None and agent["wall_so_far_ms"] >= 5
    out = io.StringIO()
    render_show(transcript_lines(state), out)
    said = f"{_ms(agent['wall_so_far_ms'])} so far"
    assert f" · {said}" in next(line for line in out.getvalue().splitlines() if "━━ /root" in line)
    for chosen in (summary, build_summary(state, thread="/root")):
        out = io.StringIO()
        render_plain(summary_lines(chosen, 120), out)
        [line] = [line for line in out.getvalue().splitlines() if "/root" in line]
        assert said in line and " - " not in line, out.getvalue()
    # an ended rollout's agent has a wall time, or none (it never ended): nothing "so far";
    # one still running reads "never ended" as show says it, where its wall read "-"
    ended_state = {**state, "ended_at_unix_ms": state["started_at_unix_ms"] + 50}
    ended = build_summary(ended_state)
    assert ended["agents"][0]["wall_so_far_ms"] is None and ended["agents"][0]["never_ended"]
    assert not agent["never_ended"]
    out = io.StringIO()
    render_plain(summary_lines(ended, 120), out)
    [line] = [line for line in out.getvalue().splitlines() if line.startswith("  /root ")]
    assert line.split()[1:3] == ["running", "never"] and " - " not in line, line
    out = io.StringIO()
    render_show(transcript_lines(ended_state), out)
    assert "never ended (the rollout is complete)" in out.getvalue()


#: A multi-agent v1 sub-agent (Codex gives it its parent's path, ``/root``) whose command
#: fails with its words on stdout (Codex 0.171 runs commands on a pty: stderr is empty).
_V1_FAILING_CHILD = Scenario(
    "v1_child_command_fails",
    "Use a v1 sub-agent.",
    [
        {
            "name": "child0",
            "match": {"thread": "V1-CHILD", "lacks_call_id": "ce"},
            "items": [call("exec_command", {"cmd": "echo no such table; exit 3"}, "ce")],
        },
        {"name": "child1", "match": {"thread": "V1-CHILD"}, "items": [message("child failed")]},
        {**first(SEARCH_AGENTS), "name": "search"},
        following("ts", v1("spawn_agent", {"message": "V1-CHILD: run it."}, "sp")),
        following("sp", v1("wait_agent", {"targets": ["$AGENT_ID"], "timeout_ms": 20000}, "wt")),
        {"name": "end", "match": {"has_call_id": "wt"}, "items": [message("Waited.")]},
    ],
    schemas=(3,),
)


@pytest.mark.codex
def test_a_failed_command_and_a_v1_sub_agent_are_named_as_codex_recorded_them(
    tmp_path: Path,
) -> None:
    """A real Codex 0.171 session (review codexuser27): a sub-agent's command failed, and
    its failure read "(no error text was recorded)" while the state held its exit code and
    its output (the pty merges stderr into stdout); now its exit code and the end of its
    output. The multi-agent v1 sub-agent the agents table prints as ``/root (Mendel)`` could
    be chosen by its thread id alone: ``--thread Mendel`` and ``--thread '/root (Mendel)'``
    said "no agent"; ``/root`` still names the root."""
    codex = codex_bin(3)
    if codex is None:
        pytest.skip("no Codex 0.171 binary")
    [bundle] = record(codex, _V1_FAILING_CHILD, tmp_path)
    state = load_state(bundle)
    summary = build_summary(state)
    [failure] = [f for f in summary["failures"] if f["type"] == "terminal_operation"]
    assert failure["error"] == "exit code 3: no such table", failure
    child = next(a for a in summary["agents"] if a["nickname"])
    assert child["agent_path"] == "/root"  # as Codex records a v1 sub-agent
    for name in (child["nickname"], f"/root ({child['nickname']})"):
        chosen = build_summary(state, thread=name)["thread"]
        assert chosen["thread_id"] == child["thread_id"], name
    assert build_summary(state, thread="/root")["thread"]["thread_id"] == state["root_thread_id"]
    out = io.StringIO()
    render_plain(summary_lines(summary, 120), out)
    assert "exit code 3: no such table" in out.getvalue()
    assert "no error text" not in out.getvalue()
