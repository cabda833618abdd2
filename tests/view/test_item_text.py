"""What items and tool calls read as (view/item_text.py): a web search the model ran, by its
action, and what stopped an aborted tool call (review codexview27)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from rollout_trace_sdk.view.hosted_text import web_search_text
from rollout_trace_sdk.view.item_text import stopped_text


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
