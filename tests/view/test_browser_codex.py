"""The viewer in a real browser on what Codex sessions record that no tool call says: the web
searches the model ran on the server, read as words, and a tool call its interrupted turn
aborted, said as ``show`` says it (review codexview27)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.view.load import load_state

from ..conftest import CONFORMANCE_V3, needs_conformance_v3
from .conftest import Page, write_page

_ITEMS = "#detail .item"


def _response_items(p: Any) -> list[str]:
    return [t.strip() for t in p.locator(f"{_ITEMS}.resp .ib").all_inner_texts() if t.strip()]


@needs_conformance_v3
def test_a_web_search_reads_as_words_on_its_calls_row_and_in_its_response(
    page: Page, tmp_path: Path
) -> None:
    """Codex's ``web_search_call`` items read as their JSON, and nothing on the calls list
    said the call searched. Now its row counts the searches it ran first (they have no row
    of their own: no tool call records them, as with a generated image), its response reads
    each as words by its action, the JSON one click away; a search for a word only the JSON
    holds finds the call and opens the JSON to show it."""
    [bundle] = sorted((CONFORMANCE_V3 / "web_search_call").glob("trace-*"))
    p = page.open(write_page(bundle, tmp_path / "ws.html"))
    rows = p.locator("#list .row[data-kind]")
    assert rows.count() == 1 and rows.first.get_attribute("data-kind") == "call"
    name = rows.first.locator("span").nth(3)
    assert name.inner_text().startswith("⌕ 2 · gpt-5.5 · ")
    assert name.get_attribute("title").endswith(" (2 web searches in its response)")
    rows.first.click()
    assert _response_items(p) == [
        '⌕ web search: "rollout trace format"',
        "⌕ open page: https://example.com/docs",
        "I searched the web and found the docs.",
    ]
    first = p.locator(f"{_ITEMS}.resp").first
    assert "web search call" in first.locator(".ih").inner_text()
    raw = first.locator("[data-testid=item-json]")
    assert not raw.locator(".ib").is_visible()
    raw.locator("summary").click()
    assert raw.locator(".ib").inner_text() == (
        '{"type":"web_search_call","id":"ws_1_0","status":"completed","action":'
        '{"type":"search","query":"rollout trace format","queries":["rollout trace format"]}}'
    )
    p.fill("#search", "open_page")
    p.wait_for_function("document.querySelector('#filter-note').textContent.includes('match')")
    assert p.locator("#list .row[data-kind]").count() == 1
    p.locator("#list .row[data-kind]").first.click()
    mark = p.locator("#detail [data-testid=item-json] mark").first
    assert mark.inner_text() == "open_page" and mark.is_visible()
    assert page.errors == []


_SOURCES = """
import sys, anyio
from rollout_trace_sdk.record import open_rollout

SEARCH = {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {
    "type": "search", "query": "python tokenizer regex",
    "sources": [{"type": "url", "url": "https://docs.python.org/3/library/tokenize.html"}]}}
FIND = {"type": "web_search_call", "id": "ws_2", "status": "failed", "action": {
    "type": "find_in_page", "url": "https://docs.python.org/3/library/tokenize.html",
    "pattern": "re.compile"}}

async def main(root):
    answer = {"type": "message", "role": "assistant", "content": "found"}
    async with open_rollout(root, model="m") as rollout, rollout.root.turn() as turn:
        history = turn.accept({"type": "message", "role": "user", "content": "search"})
        async with turn.inference({"model": "m", "input": history}) as call:
            call.completed(output_items=[SEARCH, FIND, answer])
    print(rollout.bundle_dir)

anyio.run(main, sys.argv[1])
"""


def test_a_searchs_sources_and_a_failed_find_are_said(page: Page, tmp_path: Path) -> None:
    """A search the Responses API returned its sources with (``include``:
    ``web_search_call.action.sources``, which our recorder keeps and Codex drops) lists them
    under it; a find in page says its pattern, page and failure, on the page as in ``show``."""
    done = subprocess.run(
        [sys.executable, "-c", _SOURCES, str(tmp_path / "traces")],
        capture_output=True,
        text=True,
        check=True,
    )
    bundle = Path(done.stdout.strip())
    said = [
        '⌕ web search: "python tokenizer regex"\n'
        "source: https://docs.python.org/3/library/tokenize.html",
        '⌕ find in page: "re.compile" in https://docs.python.org/3/library/tokenize.html · failed',
    ]
    p = page.open(write_page(bundle, tmp_path / "sources.html"))
    p.locator("#list .row[data-kind]").first.click()
    assert _response_items(p)[:2] == said
    out = io.StringIO()
    assert main(["show", str(bundle)], out=out, err=io.StringIO()) == 0
    for text in said:
        assert "    " + text.replace("\n", "\n      ") in out.getvalue(), out.getvalue()
    assert page.errors == []


@needs_conformance_v3
def test_an_aborted_tool_call_says_its_turn_was_interrupted(page: Page, tmp_path: Path) -> None:
    """A command stopped when its turn was interrupted read "(no error text was recorded)"
    on the page, in ``show`` and in ``summary``; now all three say what happened, the same
    words."""
    [bundle] = sorted((CONFORMANCE_V3 / "interrupt_during_tool").glob("trace-*"))
    p = page.open(write_page(bundle, tmp_path / "aborted.html") + "#call=call_sleep")
    error = p.inner_text("[data-testid=error]")
    assert error == "aborted\naborted: its turn was interrupted"
    for command in ("show", "summary"):
        out = io.StringIO()
        assert main([command, str(bundle)], out=out, err=io.StringIO()) == 0
        assert "aborted: its turn was interrupted" in out.getvalue(), command
        assert "no error text" not in out.getvalue()
    assert page.errors == []


def test_a_cell_its_turns_end_terminated_says_so_on_the_page(page: Page, tmp_path: Path) -> None:
    """A code cell cancelled with its turn, with no output, showed its status alone on the
    page (``show --call`` said "no error text"): it says what stopped it, the words the view
    model carries (``stop``, ``item_text.what_stopped``), as its calls' error boxes do."""
    from urllib.parse import quote

    from .conftest import _recorded_in_child
    from .test_stopped import _CELL

    bundle = _recorded_in_child(_CELL, tmp_path / "traces", schema="3")
    url = write_page(bundle, tmp_path / "cell.html")
    p = page.open(url + "#cell=" + quote("code_cell:cell", safe=""))
    assert p.inner_text("#detail [data-testid=error]") == (
        "cancelled\ncancelled: its turn was interrupted (cancel scope cancelled)"
    )
    p = page.open(url + "#call=nested")
    assert p.inner_text("[data-testid=error]") == (
        "aborted\naborted: its turn was interrupted (cancel scope cancelled)"
    )
    assert page.errors == []


@needs_conformance_v3
def test_a_local_shell_call_and_a_tool_search_read_as_words(page: Page, tmp_path: Path) -> None:
    """A legacy local shell call in a response, and a client tool search's arguments and the
    tools it found, read as their JSON on the page; now words, as ``show`` prints them
    (``view/hosted_text.py``), each JSON one click away."""
    import pytest

    from ..codex_oracle import codex_bin
    from ..live.exec_scenarios import EXEC_SCENARIOS
    from ..live.recording import record

    [bundle] = sorted((CONFORMANCE_V3 / "local_shell_call").glob("trace-*"))
    p = page.open(write_page(bundle, tmp_path / "shell.html"))
    p.locator("#list .row[data-kind]").first.click()
    assert _response_items(p)[0] == "local shell: $ echo legacy-shell"
    raw = p.locator(f"{_ITEMS}.resp [data-testid=item-json]").first
    raw.locator("summary").click()
    assert '"command":["echo","legacy-shell"]' in raw.locator(".ib").inner_text()
    codex = codex_bin(3)
    if codex is None:
        pytest.skip("no Codex 0.171 binary: the tool search part")
    [scenario] = [s for s in EXEC_SCENARIOS if s.name == "mcp_tools_of_every_result"]
    [bundle] = record(codex, scenario, tmp_path / "mcp")
    p = page.open(write_page(bundle, tmp_path / "search.html") + "#call=c_search")
    assert p.inner_text("[data-testid=tool-args]") == (
        '⌕ tool search: "demo echo add pixel boom" · up to 8'
    )
    assert p.inner_text("[data-testid=tool-output]") == "tools found: mcp__demo …"
    jsons = p.locator("[data-testid=tool-json]")
    assert jsons.count() == 2
    jsons.nth(1).locator("summary").click()
    assert jsons.nth(1).locator("pre").inner_text().startswith('{"type":"tool_search_output"')
    assert page.errors == []


@needs_conformance_v3
def test_a_tool_calls_output_links_to_the_request_it_was_sent_in(
    page: Page, tmp_path: Path
) -> None:
    """A tool call's details linked to the call that asked for it, not to the request its
    answer went back in. Its "output sent in" row now links there (a click selects that
    inference call); where no request carried it, the row says why and links to the
    compaction or code cell that took it instead."""
    cases = {
        "multi_agent_v2_nested_fork": ("call_r_spawn", "call", "Inference call"),
        "auto_compaction_remote": ("call_r1", "compaction", "Compaction"),
        "code_mode_nested_tool": (None, "cell", "Code cell"),
    }
    for case, (call_id, target, heading) in cases.items():
        [bundle] = sorted((CONFORMANCE_V3 / case).glob("trace-*"))
        state = load_state(bundle)
        if call_id is None:  # the code cell's first nested call: it has no model call id
            call_id = next(
                t["tool_call_id"]
                for t in state["tool_calls"].values()
                if (t.get("requester") or {}).get("type") == "code_cell"
            )
        p = page.open(write_page(bundle, tmp_path / f"{case}.html") + f"#call={call_id}")
        sent = p.locator("#detail [data-testid=sent-in]")
        link = sent.locator(".link")
        assert link.count() == 1, case
        if target == "compaction":
            assert sent.inner_text().startswith("none (a compaction replaced it before any")
        if target == "cell":
            assert sent.inner_text().startswith("none (its output went to the code cell")
        link.click()
        hash_ = p.evaluate("decodeURIComponent(location.hash)")
        assert hash_.startswith(f"#{target}="), case
        assert p.locator("#detail h2").inner_text().startswith(heading), case
        ident = hash_.split("=", 1)[1]
        if target == "call":  # the root's own request that carried the answer
            carried = state["inference_calls"][ident]
            outputs = state["tool_calls"][call_id]["model_visible_output_item_ids"]
            assert set(outputs) & set(carried["request_item_ids"])
            assert carried["thread_id"] == state["tool_calls"][call_id]["thread_id"]
    assert page.errors == []
