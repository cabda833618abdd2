"""The summary's layout: no line wider than the terminal, short ids, colour on a terminal,
control characters spelled out, headings that wrap and lose nothing, wall times of unfinished
rollouts and running agents (the figures: test_summary.py)."""

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
from rollout_trace_sdk.view.summary import build_summary
from rollout_trace_sdk.view.summary_text import render_plain, summary_lines

from ..codex_oracle import codex_bin
from ..conftest import CONFORMANCE_V3, needs_conformance_v3
from ..live.recording import record
from ..live.script import SEARCH_AGENTS, Scenario, call, first, following, message, v1
from .conftest import open_tool_call_state
from .test_summary import STATE


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
        # the wall column reads the time so far (its tokens read "-": the open call has
        # recorded no usage yet)
        assert said in line and "running  -" not in line, out.getvalue()
    # an ended rollout's agent has a wall time, or none (it never ended): nothing "so far";
    # one still running reads "never ended" as show says it, where its wall read "-"
    ended_state = {**state, "ended_at_unix_ms": state["started_at_unix_ms"] + 50}
    ended = build_summary(ended_state)
    assert ended["agents"][0]["wall_so_far_ms"] is None and ended["agents"][0]["never_ended"]
    assert not agent["never_ended"]
    out = io.StringIO()
    render_plain(summary_lines(ended, 120), out)
    [line] = [line for line in out.getvalue().splitlines() if line.startswith("  /root ")]
    assert line.split()[1:3] == ["running", "never"] and "running  -" not in line, line
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


def test_the_tables_line_up_and_a_failed_count_is_red() -> None:
    """Each table's columns line up under their headings (names padded, figures
    right-aligned), and only the ``failed`` cell of a kind with failed calls is red: a
    colour on the wrong column points at the wrong figure."""
    lines = summary_lines(build_summary(STATE), 100)
    out = io.StringIO()
    render_plain(lines, out)
    assert (
        "  tool          calls  failed  exit≠0   total    mean     max\n"
        "  exec_command      2       1       0  400 ms  200 ms  300 ms\n"
        "  fs/read           1       0       0    6 ms    6 ms    6 ms\n"
    ) in out.getvalue()
    assert "  m-1        2  75       2   31\n" in out.getvalue()
    (row,) = [line for line in lines if len(line) > 1 and line[1][0].startswith("exec_command")]
    assert [text.strip() for text, style in row if style == "bold red"] == ["1"]
    (read,) = [line for line in lines if len(line) > 1 and line[1][0].startswith("fs/read")]
    assert not [text for text, style in read if style == "bold red"]
