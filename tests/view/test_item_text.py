"""What items and tool calls read as (view/item_text.py): a web search the model ran, by its
action, and what stopped an aborted tool call (review codexview27)."""

from __future__ import annotations

import io
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.export.otlp import otlp_trace
from rollout_trace_sdk.export.otlp_names import TOOL_CALL_ID
from rollout_trace_sdk.export.tables import build_rows
from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.view.hosted_text import web_search_text
from rollout_trace_sdk.view.item_text import stopped_text, what_stopped
from rollout_trace_sdk.view.load import load_state
from rollout_trace_sdk.view.model import build_view_model

from ..record.tool_loop import Loop, function_call


def _body(value: Any) -> dict[str, Any]:
    """A whole-JSON item's body as both reducers write it: one JSON part, its summary the
    compact JSON."""
    summary = orjson.dumps(value).decode()
    return {"parts": [{"type": "json", "summary": summary, "raw_payload_id": "raw_payload:5"}]}


def _search(action: Any, status: str = "completed", **more: Any) -> dict[str, Any]:
    return _body(
        {"type": "web_search_call", "id": "ws_1", "status": status, "action": action, **more}
    )


@pytest.mark.parametrize(
    ("item", "said"),
    [
        # the shapes Codex writes (its WebSearchAction) and the Responses API returns
        (
            _search({"type": "search", "query": "python tokenizer regex"}),
            '⌕ web search: "python tokenizer regex"',
        ),
        (
            _search({"type": "search", "query": "a", "queries": ["a", 'b "c"']}),
            '⌕ web search: "a", "b \\"c\\""',  # each query once, quoted as JSON
        ),
        (_search({"type": "search", "queries": ["ålesund"]}), '⌕ web search: "ålesund"'),
        (
            _search({"type": "open_page", "url": "https://example.com/a"}),
            "⌕ open page: https://example.com/a",
        ),
        (
            _search({"type": "find_in_page", "url": "https://example.com", "pattern": "x"}),
            '⌕ find in page: "x" in https://example.com',
        ),
        (
            _search({"type": "find", "url": "https://e.com", "pattern": "y"}),
            '⌕ find in page: "y" in https://e.com',
        ),
        # its status when it did not complete; a search that says nothing more
        (_search({"type": "search", "query": "q"}, "failed"), '⌕ web search: "q" · failed'),
        (_search({"type": "search"}, "in_progress"), "⌕ web search · in_progress"),
        (
            _body({"type": "web_search_call", "id": "ws_none", "status": "completed"}),
            "⌕ web search",
        ),
        (_search({"type": "screenshot"}), "⌕ web search (screenshot)"),
        # the sources the API returns on request, and results with a title
        (
            _search(
                {
                    "type": "search",
                    "query": "q",
                    "sources": [{"type": "url", "url": "https://a.org"}, {"type": "url"}],
                },
                results=[{"title": "A page", "url": "https://b.org"}],
            ),
            '⌕ web search: "q"\nsource: https://a.org\nresult: A page · https://b.org',
        ),
    ],
)
def test_a_web_search_reads_as_words_by_its_action(item: dict[str, Any], said: str) -> None:
    assert web_search_text(item) == said


@pytest.mark.parametrize(
    "body",
    [
        # any other item, or one kept whole that is no web search
        {"parts": [{"type": "text", "text": '{"type":"web_search_call"}'}]},
        _body({"type": "image_generation_call", "id": "ig_1", "result": "iVBOR"}),
        _body({"type": "local_shell_call", "action": {"type": "exec", "command": ["ls"]}}),
        # a query a capture limit cut: its JSON (with its note) says so, not a quoted object
        _search({"type": "search", "query": {"$trace_unavailable": "raw_payload:10"}}),
        _search({"$trace_unavailable": "raw_payload:10"}),
        _search({"type": "search", "query": ["not", "text"]}),
        {"parts": [{"type": "json", "summary": '{"type":"web_search_call",'}]},
        None,
    ],
)
def test_anything_else_is_no_web_search(body: Any) -> None:
    assert web_search_text(body) is None


@pytest.mark.parametrize(
    ("status", "turn_status", "turn_text", "said"),
    [
        ("aborted", "cancelled", "interrupted", "aborted: its turn was interrupted"),
        ("aborted", "cancelled", "review_ended", "aborted: its turn was review ended"),
        (
            "cancelled",
            "failed",
            "stream closed\nretrying",
            "cancelled: its turn failed: stream closed",
        ),
        ("aborted", "cancelled", None, "aborted: its turn was cancelled"),
        ("aborted", "completed", None, "aborted"),
        ("aborted", None, None, "aborted"),
        ("failed", "cancelled", "interrupted", None),  # a failure says none was recorded
        ("completed", None, None, None),
    ],
)
def test_what_stopped_a_tool_call_is_said(
    status: str, turn_status: str | None, turn_text: str | None, said: str | None
) -> None:
    assert stopped_text(status, turn_status, turn_text) == said


def test_every_first_line_is_taken_one_way() -> None:
    """The rollouts table's ``failure``, an aborted call's turn reason and a cell's row took
    "the first line that says something" in three copies, two splitting at ``\\n`` (as the
    page's ``firstLine`` does) and one at every line break Python knows: a text with a
    U+2028 read two ways. One helper now (``item_text.first_line``)."""
    from rollout_trace_sdk.export.tables import FAILURE_CHARS, _first_line
    from rollout_trace_sdk.view.item_text import first_line
    from rollout_trace_sdk.view.show_format import first_line as cell_line

    text = "\n  \r\n  why\u2028more  \nnext"
    assert first_line(text) == "why\u2028more"
    assert _first_line(text) == cell_line(text, full=True) == "why\u2028more"
    assert stopped_text("aborted", "failed", text) == "aborted: its turn failed: why\u2028more"
    long = "x" * (FAILURE_CHARS + 5)
    assert _first_line(long) == first_line(long, FAILURE_CHARS) == "x" * (FAILURE_CHARS - 1) + "…"
    assert (
        _first_line(" \n ") is None and first_line("") == "" and cell_line("", False) == "(empty)"
    )


async def _resumed_then_interrupted(root: Path, schema: int, *, resumed: bool) -> Path:
    """A tool call kept past its turn (``outlive_turn``); ``resumed``: run in the next turn
    (``resume_in``), which is interrupted with it and with a call of its own; else never
    resumed after its own turn was interrupted: the rollout's end cuts it off."""
    asked = function_call("call_a", "get_weather", {"city": "Oslo"})
    async with open_rollout(root, schema_version=schema) as rollout:
        async with rollout.root.turn() as first:
            await Loop(first).infer(asked)
            kept = first.tool_call("call_a", "get_weather", arguments=asked["arguments"])
            kept.outlive_turn()
            if not resumed:
                first.end("cancelled")
        async with rollout.root.turn() as second:
            if resumed:
                kept.resume_in(second)
                second.tool_call("call_own", "get_weather", arguments="{}")
                second.end("cancelled")
    assert rollout.bundle_dir is not None
    return rollout.bundle_dir


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("resumed", [True, False], ids=["resumed", "never resumed"])
def test_a_call_kept_past_its_turn_says_what_stopped_it(
    tmp_path: Path, schema: int, resumed: bool
) -> None:
    """What stopped an aborted call was read from the turn that started it: a call kept past
    its turn and run in a later turn that was interrupted said ``aborted`` alone (its turn,
    the first, had completed), while a call of that later turn said ``aborted: its turn was
    interrupted``. It is now read from the turn it ended in, in ``show``, ``summary``, on
    the page, in the tables and on the OTLP span alike. One its interrupted turn left open,
    cut off with the rollout's end after every turn, still says its turn was interrupted
    (a guard: no later turn ran it)."""
    bundle = anyio.run(partial(_resumed_then_interrupted, tmp_path, schema, resumed=resumed))
    status = "aborted" if schema == 3 else "cancelled"
    said = f"{status}: its turn was interrupted"
    out = io.StringIO()
    assert main(["show", str(bundle), "--call", "call_a"], out=out) == 0
    assert f"      error: {said}" in out.getvalue().splitlines(), out.getvalue()
    out = io.StringIO()
    assert main(["summary", str(bundle), "--json"], out=out, err=io.StringIO()) == 0
    failures = {f["id"]: f["error"] for f in orjson.loads(out.getvalue())["failures"]}
    assert failures["call_a"] == said
    state = load_state(bundle)
    stops = {tool["call_id"]: tool.get("stop") for tool in build_view_model(state)["tools"]}
    assert stops["call_a"] == said
    [row] = [
        r for r in build_rows(state, source="b")["tool_calls"] if r["tool_call_id"] == "call_a"
    ]
    assert row["error_text"] == said
    [span] = [s for s in otlp_trace(state).spans if s.attributes.get(TOOL_CALL_ID) == "call_a"]
    assert span.error == said


@pytest.mark.parametrize(
    ("turns", "turn_id"),
    [(None, "turn-1"), ([], "turn-1"), ({"turn-1": {}}, ["turn-1"]), ({}, {"id": 1})],
    ids=["no turns", "turns a list", "id a list", "id a dict"],
)
def test_what_stopped_reads_a_hostile_state_as_no_turn(turns: Any, turn_id: Any) -> None:
    """``show``, the page and the exports read a state.json anyone may have written: turns
    that are not a mapping, or a turn id that is not a string (unhashable), are no turn (the
    call's own status says it), not a crash."""
    call = {"execution": {"status": "aborted"}}
    assert what_stopped({"codex_turns": turns}, call, turn_id) == "aborted"
