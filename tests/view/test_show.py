"""``rollout-trace show``: plain text when piped, rich on a terminal."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from rich.console import Console

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.view.load import load_state
from rollout_trace_sdk.view.show import render_rich, short_id, transcript_lines
from rollout_trace_sdk.view.show_format import ms as _ms

from ..conftest import CONFORMANCE_V3, needs_conformance_v3
from .conftest import (
    BAD_ERROR,
    BAD_SOURCE,
    CODE_MODE_BUNDLES,
    line_of,
    plain_transcript,
)


def test_transcript_tells_the_story_in_order(demo_state: Any) -> None:
    text = plain_transcript(demo_state)
    expected_in_order = [
        "rollout ",
        "━━ /root ",
        "user: Episode 0: exercise the shell and a helper agent.",
        "▸ inference",
        "reasoning: Start a session",
        "exec_command call_0_cat",
        'args: {"cmd":"cat","tty":true}',
        "$ /bin/sh -c cat (exit 0)",
        "spawn_agent call_0_spawn",
        "⇢ spawn agent → /root/helper_0 (Helper 0)",
        "assistant from /root/helper_0",
        "⟲ compaction ",
        " · 16 items → 2",
        "assistant: Episode 0 done",
        "━━ /root/helper_0 (Helper 0)",
        "spawned by /root",
        "assistant: 2 squared is 4.",
    ]
    position = 0
    for needle in expected_in_order:
        found = text.find(needle, position)
        assert found >= 0, f"{needle!r} missing after position {position}:\n{text}"
        position = found
    assert "\x1b[" not in text  # plain: no escape codes


def test_long_outputs_are_truncated_unless_full(demo_state: Any) -> None:
    state = orjson.loads(orjson.dumps(demo_state))
    tool = state["tool_calls"]["call_0_cat"]
    item = state["conversation_items"][tool["model_visible_output_item_ids"][0]]
    item["body"]["parts"] = [{"type": "text", "text": "\n".join(f"line {n}" for n in range(100))}]
    short = plain_transcript(state)
    assert "line 5" in short and "line 50" not in short and "more chars]" in short
    assert "line 99" in plain_transcript(state, full=True)


def test_thread_and_call_filters(demo_state: Any) -> None:
    helper = plain_transcript(demo_state, thread="/root/helper_0")
    assert "━━ /root/helper_0" in helper and "━━ /root " not in helper
    call = plain_transcript(demo_state, call="call_0_cat")
    assert "tool call call_0_cat in /root" in call and "started by inference" in call
    first = next(iter(demo_state["inference_calls"].values()))
    conversation = plain_transcript(demo_state, call=first["inference_call_id"])
    assert f"request: {len(first['request_item_ids'])} items" in conversation
    with pytest.raises(LookupError):
        transcript_lines(demo_state, thread="/nobody")
    with pytest.raises(LookupError):
        transcript_lines(demo_state, call="call_nope")


def test_a_calls_new_items_are_those_its_own_agents_last_call_did_not_have(
    demo_state: Any,
) -> None:
    """``show --call`` marks the request items new since the previous call of the same agent;
    another agent's call may have started in between. Comparing with whichever call started
    last passed every show test (mut31)."""
    calls = sorted(
        demo_state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"]
    )
    interleaved = 0
    for n, call in enumerate(calls):
        mine = [c for c in calls[:n] if c["thread_id"] == call["thread_id"]]
        seen = set(mine[-1]["request_item_ids"] + mine[-1]["response_item_ids"]) if mine else set()
        new = sum(1 for item in call["request_item_ids"] if item not in seen)
        text = plain_transcript(demo_state, call=call["inference_call_id"])
        assert f"request: {len(call['request_item_ids'])} items, {new} new" in text
        # and the items marked "+" are those new ones (a flipped mark kept the count: mut42)
        marked = [line for line in text.splitlines() if line.lstrip().startswith("+ ")]
        assert len(marked) == new, text
        if mine and n and calls[n - 1]["thread_id"] != call["thread_id"]:
            interleaved += 1
    assert interleaved  # a call whose agent's last call is not the last call started


def test_filters_take_the_short_ids_the_transcript_prints(demo_state: Any) -> None:
    """``show`` prints 8-character ids; ``--thread`` and ``--call`` refused them, though
    ``summary --thread`` takes a prefix (found by review)."""
    helper = next(t for t in demo_state["threads"].values() if t["agent_path"] != "/root")
    # a prefix one thread id has (thread ids are time-ordered UUIDv7s: their first 8
    # characters may be shared, and then the prefix is refused as ambiguous)
    by_prefix = plain_transcript(demo_state, thread=helper["thread_id"][:-4])
    assert by_prefix == plain_transcript(demo_state, thread=helper["agent_path"])
    first = next(iter(demo_state["inference_calls"].values()))
    short = first["inference_call_id"][:8]
    assert plain_transcript(demo_state, call=short) == plain_transcript(
        demo_state, call=first["inference_call_id"]
    )
    # and as printed: first 8 and last 4 characters (a UUIDv7's first 8 are its time)
    printed = short_id(helper["thread_id"])
    assert printed in plain_transcript(demo_state) and "…" in printed
    assert plain_transcript(demo_state, thread=printed) == plain_transcript(
        demo_state, thread=helper["agent_path"]
    )
    with pytest.raises(LookupError, match="give more of it"):
        transcript_lines(demo_state, call="")  # every id starts with nothing


def test_rich_rendering_wraps_to_width_and_colours(demo_state: Any) -> None:
    console = Console(record=True, width=60, force_terminal=True, color_system="truecolor")
    render_rich(transcript_lines(demo_state), console)
    plain = console.export_text(styles=False, clear=False)
    assert all(len(line) <= 60 for line in plain.splitlines())
    # wrapped continuation lines keep their entry's indentation
    developer = [n for n, line in enumerate(plain.splitlines()) if "developer: You are" in line]
    assert developer and plain.splitlines()[developer[0] + 1].startswith("  ")
    coloured = console.export_text(styles=True)
    assert "\x1b[" in coloured
    assert "exec_command" in plain


def test_cli_show_piped_is_plain_and_errors_are_clear(demo_bundle: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["show", str(demo_bundle), "--thread", "/root/helper_0"], out=out, err=err) == 0
    assert out.getvalue().startswith("rollout ") and "\x1b[" not in out.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert main(["show", str(demo_bundle), "--call", "nope"], out=out, err=err) == 1
    assert "no inference call, tool call, code cell or compaction 'nope'" in err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    assert main(["show", str(demo_bundle / "missing")], out=out, err=err) == 1
    assert "missing" in err.getvalue() and "Traceback" not in err.getvalue()


def test_terminal_control_characters_are_spelled_out(demo_state: Any) -> None:
    state = orjson.loads(orjson.dumps(demo_state))
    hostile = "/root/x\x1b[31mRED\x1b]0;pwned\x07\r\x1b[2Kfake\x9bend"
    for thread in state["threads"].values():
        thread["agent_path"] = hostile
    plain = plain_transcript(state)
    console = Console(record=True, width=200, force_terminal=True, color_system="truecolor")
    render_rich(transcript_lines(state), console)
    shown = console.export_text(styles=False, clear=False)
    for text in (plain, shown):
        assert "\\x1b[31mRED\\x1b]0;pwned\\x07\\x0d\\x1b[2Kfake\\x9bend" in text
        assert not any(ch in text for ch in "\x1b\x07\r\x9b")


def test_bidi_controls_are_spelled_out(demo_state: Any) -> None:
    """Bidi overrides, embeddings, isolates and marks reorder what a terminal shows after
    them: an agent path could make a line read other than it is (found by review)."""
    state = orjson.loads(orjson.dumps(demo_state))
    bidi = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
    for thread in state["threads"].values():
        thread["agent_path"] = f"/root/{bidi}evil"
    plain = plain_transcript(state)
    assert (
        "\\u202a\\u202b\\u202c\\u202d\\u202e\\u2066\\u2067\\u2068\\u2069\\u200e\\u200f\\u061cevil"
        in plain
    )
    assert not any(ch in plain for ch in bidi)


def test_durations_are_rounded_before_they_are_split() -> None:
    """119,600 ms read "1m 60s" (found by review)."""
    assert _ms(119_600) == "2m 0s"
    assert _ms(61_400) == "1m 1s"
    assert _ms(59_996) == "1m 0s"  # not "60.00 s"
    assert _ms(59_994) == "59.99 s"
    assert (_ms(999), _ms(1_000)) == ("999 ms", "1.00 s")
    assert (_ms(3_599_600), _ms(86_370_000)) == ("1h 0m", "1d 0h")  # not "59m 60s", "23h 60m"


def test_a_huge_command_is_cut(demo_state: Any) -> None:
    """A 4 MB heredoc command was printed whole on one line (found by review)."""
    state = orjson.loads(orjson.dumps(demo_state))
    for op in state["terminal_operations"].values():
        if op["request"]["type"] == "exec_command":
            op["request"]["display_command"] = "cat <<EOF\n" + "x" * 200_000
    text = plain_transcript(state)
    assert max(len(line) for line in text.splitlines()) < 1_000
    assert "$ cat <<EOF" in text and "more chars] (exit 0)" in text


def test_a_missing_kind_is_unknown(demo_state: Any) -> None:
    """``kind`` is read, not required by the shape check: an edge without one crashed
    ``show`` (found by review)."""
    state = orjson.loads(orjson.dumps(demo_state))
    for edge in state["interaction_edges"].values():
        del edge["kind"]
    for item in state["conversation_items"].values():
        del item["kind"]
    text = plain_transcript(state)
    assert "⇢ unknown → /root/helper_0" in text


@needs_conformance_v3
def test_a_forked_childs_copies_are_not_the_calls_items(tmp_path: Path) -> None:
    """A spawn that copies the history into the child (``fork_turns: "all"``) lists the
    child's copies of the call and its output under the tool call too: the transcript printed
    the arguments twice and the result followed by the child's "aborted", the OTLP export
    joined two JSON documents as the arguments (found by review)."""
    from rollout_trace_sdk.export.otlp import otlp_trace
    from rollout_trace_sdk.view.load import load_state

    [bundle] = sorted((CONFORMANCE_V3 / "multi_agent_v2_nested_fork").glob("trace-*"))
    state = load_state(bundle)
    lines = plain_transcript(state, call="call_r_spawn")
    assert lines.count('"fork_turns":"all"') == 1, lines
    assert "aborted" not in lines
    spans = otlp_trace(state, inline=True).spans
    [spawn] = [s for s in spans if s.attributes.get("gen_ai.tool.call.id") == "call_r_spawn"]
    assert orjson.loads(str(spawn.attributes["gen_ai.tool.call.arguments"]))["fork_turns"] == "all"
    assert orjson.loads(str(spawn.attributes["gen_ai.tool.call.result"])) == {
        "task_name": "/root/planner"
    }


@needs_conformance_v3
@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("web_search_call", ['⌕ web search: "rollout trace format"\n', "⌕ open page: https://"]),
        ("local_shell_call", ["    local shell: $ echo legacy-shell\n"]),
        ("compaction_remote_failed", ["⟲ compaction request compaction_request:1 · failed · "]),
    ],
)
def test_what_no_tool_call_records_is_still_shown(scenario: str, expected: list[str]) -> None:
    """The model's own web searches and a local shell call no tool call ran were left out,
    and so was a compaction request that installed nothing (found by review). A web search
    reads as words (it read as its JSON: review codexview27)."""
    from rollout_trace_sdk.view.load import load_state

    [bundle] = sorted((CONFORMANCE_V3 / scenario).glob("trace-*"))
    text = plain_transcript(load_state(bundle))
    for needle in expected:
        assert needle in text, text


@needs_conformance_v3
def test_a_web_searchs_json_is_printed_under_its_words_with_full() -> None:
    """A web search read as words keeps its JSON (its id, every field) one flag away."""
    [bundle] = sorted((CONFORMANCE_V3 / "web_search_call").glob("trace-*"))
    state = load_state(bundle)
    raw = '{"type":"web_search_call","id":"ws_1_1","status":"completed","action":'
    raw += '{"type":"open_page","url":"https://example.com/docs"}}'
    assert raw not in plain_transcript(state)
    full = plain_transcript(state, full=True)
    assert f"    ⌕ open page: https://example.com/docs\n      {raw}\n" in full, full


def test_what_capture_limits_cut_or_left_out_is_said(capped_bundles: dict[str, Path]) -> None:
    """A capture-limited bundle's cut texts printed as ``[text]``, a cut JSON value as
    ``{"$trace_unavailable": id}``, and a response or result left out as nothing at all:
    never a word that the recording was partial (found by review)."""
    for name, source in capped_bundles.items():
        out = io.StringIO()
        assert main(["show", str(source)], out=out, err=io.StringIO()) == 0
        text = out.getvalue()
        assert text.splitlines()[0].count(" · recording closed with partial payloads · ") == 1
        assert "[text]" not in text, text
        if name == "truncated":
            # the user message, 3 answers, 3 arguments, 3 outputs (the third, which no
            # request saw, as its tool call's result: a cut output is a body of its own)
            assert text.count(", truncated: 2,000 of 12,") == 10, text
            assert re.search(r"\[result raw_payload:\d+, truncated: 2,000 of 12,", text)
            assert re.search(
                r"user: \[text: raw_payload:\d+, truncated: 2,000 of 12,\d{3} bytes kept\]", text
            )
            assert re.search(
                r'args: \{"\$trace_unavailable":"(raw_payload:\d+)"\} \[\1, truncated: 2,000', text
            )
        else:
            assert re.search(
                r"\[response raw_payload:\d+, omitted: [\d,]+ bytes not kept\]", text
            ), text
            assert re.search(r"\[result raw_payload:\d+, omitted: [\d,]+ bytes not kept\]", text), (
                text
            )


@needs_conformance_v3
def test_an_exit_code_a_capture_limit_left_out_is_said() -> None:
    """Where a capture limit left out the runtime event that carried a terminal operation's
    result, ``show`` printed the command with no exit code and no word of why (viewer26):
    it says the exit code was not kept, naming the payload and what the limit did."""
    [bundle] = sorted((CONFORMANCE_V3 / "capture_total_limit_multi_step").glob("trace-*"))
    text = plain_transcript(load_state(bundle))
    commands = [line.strip() for line in text.splitlines() if line.strip().startswith("$ ")]
    assert [c.endswith(" (exit 0)") for c in commands] == [True, True, False, False], text
    for step, line in zip(("three", "four"), commands[2:], strict=True):
        assert f"echo step-{step}-$i | sha256sum; done (exit code not kept: raw_payload:" in line
        assert re.search(r"raw_payload:\d+, omitted: [\d,]+ bytes not kept\)$", line), line


def test_a_request_a_capture_limit_left_out_is_said(capped_bundles: dict[str, Path]) -> None:
    """``show --call`` printed "request: 0 items" for an inference call whose request a
    capture limit left out, as if the model had seen nothing (found by review)."""
    state = load_state(capped_bundles["omitted"])
    cut = [
        call
        for call in state["inference_calls"].values()
        if not call["request_item_ids"]
        and (state["raw_payloads"][call["raw_request_payload_id"]].get("capture") or {}).get(
            "status"
        )
        == "omitted"
    ]
    assert cut  # the fixture's budget leaves later requests out
    out = io.StringIO()
    source = str(capped_bundles["omitted"])
    assert main(["show", source, "--call", cut[0]["inference_call_id"]], out=out) == 0
    text = out.getvalue()
    assert "request: 0 items, 0 new" in text
    assert re.search(r"\[request raw_payload:\d+, omitted: [\d,]+ bytes not kept\]", text), text


# --- code cells -------------------------------------------------------------------------------


def _depth(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def test_a_code_cell_is_printed_under_its_exec_call_with_its_calls(cells_bundle: Path) -> None:
    """The exec call printed its source and output, but not its cell's id, status or
    duration, and the tool call the cell made printed as the exec call's sibling (found by
    review, task showcells18)."""
    text = plain_transcript(load_state(cells_bundle))
    at_exec, exec_line = line_of(text, "⚙ exec cell_ok · completed")
    at_cell, cell_line = line_of(text, "▣ code cell code_cell:cell_ok · completed · ")
    # its first line that says something (the source starts with a blank line)
    assert cell_line.endswith(" ms · const r = await tools.exec_command({cmd: 'echo quokka'});")
    at_nested, nested = line_of(text, "⚙ exec_command nested-1 · completed")
    assert at_exec < at_cell < at_nested
    assert _depth(exec_line) < _depth(cell_line) < _depth(nested)
    # nothing at the exec call's depth between it and the call the cell made
    between = text.splitlines()[at_exec + 1 : at_nested]
    assert all(_depth(line) > _depth(exec_line) for line in between), between


def test_a_failed_cell_reads_failed_though_its_exec_call_completed(cells_bundle: Path) -> None:
    """A failed cell read ``exec cell_bad · completed``: only its output said it had failed
    (found by review, task showcells18)."""
    state = load_state(cells_bundle)
    text = plain_transcript(state)
    line_of(text, "⚙ exec cell_bad · completed")
    line_of(text, "▣ code cell code_cell:cell_bad · failed · ")
    assert text.splitlines()[0].endswith(" · 1 failed")  # as the page counts it
    [line] = [line for line in transcript_lines(state) if "code_cell:cell_bad" in line.text]
    assert ("failed", "bold red") in line.parts  # the failure style


def test_show_call_takes_a_code_cell(cells_bundle: Path) -> None:
    """``show --call code_cell:…`` refused with "no inference call or tool call" (found by
    review, task showcells18)."""
    out, err = io.StringIO(), io.StringIO()
    assert main(["show", str(cells_bundle), "--call", "code_cell:cell_bad"], out=out, err=err) == 0
    text = out.getvalue()
    assert "code cell code_cell:cell_bad in /root" in text
    assert re.search(r"started by exec cell_bad of inference \S+", text), text
    assert "source: " + BAD_SOURCE.strip().replace("\n", "\n      ") in text, text
    assert f"error: Script failed: {BAD_ERROR}" in text
    ok = plain_transcript(
        load_state(cells_bundle), call="code_cell:cell_o"
    )  # a prefix one cell id has
    assert "code cell code_cell:cell_ok in /root" in ok
    line_of(ok, "⚙ exec_command nested-1 · completed")
    assert "→ quokka" in ok
    with pytest.raises(LookupError, match="starts 2 call, cell or compaction ids"):
        transcript_lines(load_state(cells_bundle), call="code_cell:")


@pytest.mark.skipif(not CODE_MODE_BUNDLES, reason="../shared/conformance* is not present")
@pytest.mark.parametrize(
    "bundle",
    CODE_MODE_BUNDLES,
    ids=[f"{b.parent.parent.name}/{b.parent.name}" for b in CODE_MODE_BUNDLES],
)
def test_codex_code_cells_hold_their_calls_and_their_waits_name_them(bundle: Path) -> None:
    """Codex's own code-mode bundles (both schemas): each cell under its exec call, each call
    it made once, under the cell; a ``wait`` names the cell it waits on (found by review, task
    showcells18)."""
    state = load_state(bundle)
    text = plain_transcript(state)
    rows = text.splitlines()
    assert state["code_cells"]
    for cell in state["code_cells"].values():
        at_exec, exec_line = line_of(text, f"⚙ exec {cell['model_visible_call_id']} · ")
        at_cell, cell_line = line_of(text, f"▣ code cell {cell['code_cell_id']} · ")
        status = cell["execution"]["status"]
        first = next(line for line in cell["source_js"].split("\n") if line.strip()).strip()
        assert f" · {status} · " in cell_line and cell_line.endswith(" · " + first)
        assert at_exec < at_cell and _depth(exec_line) < _depth(cell_line)
        for nested in cell["nested_tool_call_ids"]:
            at, line = line_of(text, f" {short_id(nested)} · ")
            assert at > at_cell and _depth(line) == _depth(cell_line) + 2
            assert all(_depth(row) > _depth(cell_line) for row in rows[at_cell + 1 : at])
        for wait in cell["wait_tool_call_ids"]:
            at, _ = line_of(text, f"⚙ wait {wait} · ")
            assert rows[at + 2].strip() == f"⧗ waits on code cell {cell['code_cell_id']} · {status}"
            alone = plain_transcript(state, call=cell["code_cell_id"])
            assert "slow-done" in alone  # what the wait returned: the yielded cell's output


def test_a_compaction_prints_its_id_and_call_takes_it(demo_state: Any) -> None:
    """``show`` printed no compaction id and ``--call`` took none, though the page's
    ``#compaction=`` link names one (viewer26): printed, and taken back whole, as printed or
    as a prefix, as other ids are."""
    compaction = next(iter(demo_state["compactions"].values()))
    ident = compaction["compaction_id"]
    printed = short_id(ident)
    line_of(plain_transcript(demo_state), f"⟲ compaction {printed} · 16 items → 2 · ")
    alone = plain_transcript(demo_state, call=ident)
    assert f"compaction {ident} in /root" in alone
    assert "replaced: 16 items" in alone and "assistant: [encrypted_content]" in alone
    assert (
        plain_transcript(demo_state, call=printed)
        == alone
        == plain_transcript(demo_state, call=ident[:-3])
    )
    # a request that installed nothing is named by its request id (the page's link too)
    state = orjson.loads(orjson.dumps(demo_state))
    request = next(iter(state["compaction_requests"].values()))
    request["execution"]["status"] = "failed"
    request["compaction_id"] = "never-installed"
    rid = request["compaction_request_id"]
    line_of(plain_transcript(state), f"⟲ compaction request {rid} · failed · ")
    alone = plain_transcript(state, call=rid)
    assert f"compaction request {rid} in /root" in alone
    # it replaced nothing: no "replaced:" list (``_compaction_alone`` stops there; mut42)
    assert "replaced:" not in alone, alone


def test_a_failed_compaction_request_is_counted_as_the_page_counts_it(demo_state: Any) -> None:
    """The header's "N failed" counts what the page's does: a compaction request that
    failed too (it was left out)."""
    state = orjson.loads(orjson.dumps(demo_state))
    assert " failed" not in plain_transcript(state).splitlines()[0]
    request = next(iter(state["compaction_requests"].values()))
    request["execution"]["status"] = "failed"
    assert plain_transcript(state).splitlines()[0].endswith(" · 1 failed")


@needs_conformance_v3
def test_the_header_counts_one_of_a_kind_in_the_singular() -> None:
    """The header said "1 agents · 1 inference calls" (viewer24): a count of one takes the
    singular, as the page's header, title and timeline do (test_browser_ux)."""
    bundle = next((CONFORMANCE_V3 / "plain_message").glob("*/manifest.json")).parent
    head = plain_transcript(load_state(bundle)).splitlines()[0]
    assert " · 1 agent · 1 inference call · 0 tool calls · " in head, head


def test_a_sub_agents_task_is_shown(demo_state: Any) -> None:
    """The task a spawn delivers is the agent message's ``encrypted_content``, which holds
    the text (Codex writes it so, and both reducers match the spawn's ``message`` against
    it): the helper's transcript read "Payload: [encrypted_content]", so which sub-agent got
    which task could not be read from ``show`` (found by newuser25)."""
    (task,) = [
        part["value"]
        for item in demo_state["conversation_items"].values()
        if (item.get("agent_message") or {}).get("recipient") == "/root/helper_0"
        for part in item["body"]["parts"]
        if part["type"] == "encoded"
    ]
    helper = plain_transcript(demo_state, thread="/root/helper_0")
    assert task and f"Payload:\n    {task.splitlines()[0]}" in helper
    assert "[encrypted_content]" not in helper


def _handoff_state(root: Path) -> Any:
    """A parent that called a tool, then a child whose request hands it the parent's history
    (the call and its output, as an Agents SDK handoff does)."""
    call = {
        "type": "function_call",
        "call_id": "c1",
        "name": "get_weather",
        "arguments": '{"city":"Oslo"}',
    }
    user = {"role": "user", "content": "Weather in Oslo, then write it up."}

    async def record() -> None:
        async with open_rollout(root, model="m") as rollout, rollout.root.turn() as turn:
            turn.accept(user)
            async with turn.inference({"input": [user]}) as inference:
                inference.completed(output_items=[call])
            async with turn.tool_call("c1", "get_weather", arguments=call["arguments"]) as tool:
                answer = {"type": "function_call_output", "call_id": "c1", "output": "Oslo: rain"}
                output = tool.completed(answer)
            async with turn.inference({"input": [user, call, output]}) as inference:
                inference.completed(output_items=[{"role": "assistant", "content": "Over to you"}])
            child = rollout.root.spawn("writer")
            handed = [user, call, output]  # the parent's history, handed over
            async with (
                child,
                child.turn() as child_turn,
                child_turn.inference({"input": handed}) as inference,
            ):
                inference.completed(output_items=[{"role": "assistant", "content": "Report"}])

    anyio.run(record)
    (bundle,) = root.glob("trace-*")
    return load_state(bundle)


def test_a_handed_over_history_reads_as_calls_and_outputs(tmp_path: Path) -> None:
    """A child handed its parent's history (an Agents SDK handoff) read
    ``assistant: {"city":"Oslo"}``, a tool call as if the model had said JSON, and the call's
    output was left out: it was made by a tool call of the parent, shown only there (found
    by newuser25). The child's transcript names each item's kind and call, outputs
    included; the parent's is unchanged."""
    state = _handoff_state(tmp_path)
    writer = plain_transcript(state, thread="/root/writer")
    assert 'assistant [function_call c1]: {"city":"Oslo"}' in writer
    assert "tool [function_call_output c1]: Oslo: rain" in writer
    assert "assistant: {" not in writer
    parent = plain_transcript(state, thread="/root")
    assert "[function_call" not in parent and parent.count("Oslo: rain") == 1


def test_a_thread_with_one_call_says_call(tmp_path: Path) -> None:
    """ "1 calls" in a thread's heading (found by newuser25)."""
    writer = plain_transcript(_handoff_state(tmp_path), thread="/root/writer")
    assert " · 1 inference call · " in writer and "1 calls" not in writer


def test_a_call_is_found_by_its_id_as_printed(tmp_path: Path) -> None:
    """An id holding a character shown as nothing is printed spelled (``call_\\u200ba``,
    ``view/visible.py``): ``--call`` takes it as printed, or a prefix of that, as it takes
    any other id; only the raw character (which the printed text no longer holds) found it."""
    import anyio

    from rollout_trace_sdk.record import open_rollout
    from rollout_trace_sdk.reduce import reduce_bundle, state_bytes

    async def record() -> Path:
        async with open_rollout(tmp_path, model="m") as rollout, rollout.root.turn() as turn:
            for call_id in ("call_a", "call_\u200ba"):
                async with turn.tool_call(call_id, "exec_command", arguments="{}") as tool:
                    tool.completed_value({"output": "done"})
        assert rollout.bundle_dir is not None
        return rollout.bundle_dir

    state = orjson.loads(state_bytes(reduce_bundle(anyio.run(record))))
    printed = plain_transcript(state)
    assert "call_\\u200ba" in printed and "\u200b" not in printed
    for given in ("call_\u200ba", "call_\\u200ba", "call_\\u200b"):
        alone = plain_transcript(state, call=given)
        assert "exec_command call_\\u200ba" in alone and "call_a " not in alone, given
    assert "call_\\u200ba" not in plain_transcript(state, call="call_a")


def test_the_header_counts_input_and_output_tokens(demo_state: Any) -> None:
    """The header's "N in / M out tokens" sums each call's input and output tokens (not its
    cached input, which sits between them in the view model)."""
    usage = [c["usage"] for c in demo_state["inference_calls"].values() if c.get("usage")]
    tokens_in = sum(u["input_tokens"] for u in usage)
    tokens_out = sum(u["output_tokens"] for u in usage)
    assert tokens_out > 0 and tokens_out != sum(u["cached_input_tokens"] for u in usage)
    header = plain_transcript(demo_state).splitlines()[0]
    assert f" · {tokens_in:,} in / {tokens_out:,} out tokens" in header, header


def test_the_header_says_tokens_no_call_recorded_are_not_recorded(demo_state: Any) -> None:
    """With no call's usage (a capture limit left out every response), the header read "0 in
    / 0 out tokens", a figure nobody measured; ``summary`` says ``not recorded`` and the
    export null (found by review user35)."""
    calls = demo_state["inference_calls"]
    state = {**demo_state, "inference_calls": {k: {**c, "usage": None} for k, c in calls.items()}}
    header = plain_transcript(state).splitlines()[0]
    assert " · tokens not recorded" in header and "out tokens" not in header, header


@pytest.mark.parametrize("schema", [2, 3])
def test_a_function_call_no_tool_call_ran_names_its_call_id(tmp_path: Path, schema: int) -> None:
    """A function call the response asked for that no tool call records (not run yet, as
    ``show --follow`` prints a response before its tools start; or never run: a run stopped
    at ``max_turns``) read ``function call: {"cmd":"sleep 8"}``, with nothing saying which
    call it was, while the tool call printed a moment later is named by that id (review
    user43)."""
    from rollout_trace_sdk.view.load import load_state

    from ..reduce.builder import Scenario, message, request, response

    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    fc = {"type": "function_call", "id": "fc1", "name": "x", "call_id": "c1", "arguments": "{}"}
    bundle.infer("inf-1", request(message("user", "go", "u1")), response(fc))
    text = plain_transcript(load_state(bundle.flush(), lenient=True, skipped=[]))
    assert "    function call c1: {}\n" in text, text
