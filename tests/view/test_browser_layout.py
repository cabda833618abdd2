"""The viewer in a real browser on text that is hard to lay out or to read right: bidi
controls, names of any length, a narrow window (each found by review in Chromium)."""

from __future__ import annotations

import copy
import io
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest

from rollout_trace_sdk.cli import main

from ..conftest import CONFORMANCE_V3, needs_conformance_v3
from .conftest import UNSENT_RESULT, Page

#: A tool name and a nickname holding a right-to-left override: shown raw, the name reads
#: "run_tool_live" and the nickname "Bob".
RLO_TOOL = "run_tool_\u202eevil\u202c"
RLO_NICK = "\u202ebob\u202c"
#: A tool name with no place to break.
LONG_TOOL = "exec_command_" + "n" * 300


def _page(state: Any, tmp_path: Path) -> str:
    source = tmp_path / "state.json"
    source.write_bytes(orjson.dumps(state))
    target = tmp_path / "page.html"
    assert main(["view", str(source), "-o", str(target)], out=io.StringIO()) == 0
    return target.as_uri()


def _renamed(state: Any, tool_name: str) -> tuple[Any, str]:
    """``state`` with its first tool call named ``tool_name`` and its first sub-agent
    nicknamed :data:`RLO_NICK`; and that tool call's id."""
    state = copy.deepcopy(state)
    tool_id, tool = next(iter(state["tool_calls"].items()))
    tool["kind"] = {"type": "other", "name": tool_name}
    tool["summary"] = {"type": "generic", "label": tool_name}
    child = next(t for t in state["threads"].values() if t["agent_path"] != "/root")
    child["nickname"] = RLO_NICK
    return state, tool_id


def test_bidi_controls_are_spelled_not_obeyed(page: Page, demo_state: Any, tmp_path: Path) -> None:
    """A name holding U+202E read reordered on the page (``run_tool_\\u202eevil`` as
    ``run_tool_live``; an id, a command or an argument the same way) where ``show`` spells it
    ``\\u202e``; now the page spells it too, in the details, the rows and the tooltips, and
    the id still selects (deep link)."""
    state, tool_id = _renamed(state=demo_state, tool_name=RLO_TOOL)
    p = page.open(_page(state, tmp_path) + "#call=" + tool_id)
    heading = p.inner_text("#detail h2")
    assert "run_tool_\\u202eevil\\u202c" in heading
    shown = p.evaluate("document.body.innerText")
    assert "\u202e" not in shown and "\\u202ebob\\u202c" in shown  # the agent's rows
    row = p.locator("#list .row.sel span").nth(3)
    assert row.inner_text() == "run_tool_\\u202eevil\\u202c · " + tool_id
    p.locator("#list .row.sel").hover()  # nothing raw in a title either
    titles = p.evaluate("[...document.querySelectorAll('[title]')].map(e => e.title).join('\\n')")
    assert "\u202e" not in titles and "\\u202ebob" in titles
    assert page.errors == []


def test_invisible_characters_are_spelled_not_hidden(
    page: Page, demo_state: Any, tmp_path: Path
) -> None:
    """A name holding a zero-width space or tag characters read as the name without them on
    the page (``show`` spells them); now the page spells them too, and search finds them by
    their spelling."""
    tags = "".join(chr(0xE0000 + ord(c)) for c in "hi")
    state, tool_id = _renamed(state=demo_state, tool_name="run\u200btool" + tags)
    p = page.open(_page(state, tmp_path) + "#call=" + tool_id)
    spelled = "run\\u200btool\\U000e0068\\U000e0069"
    assert spelled in p.inner_text("#detail h2")
    shown = p.evaluate("document.body.innerText")
    assert "\u200b" not in shown and chr(0xE0068) not in shown
    p.fill("#search", "\\u200btool")
    p.wait_for_function("document.querySelectorAll('#list .row').length === 1")
    assert spelled in p.inner_text("#list .row")
    assert page.errors == []


def test_a_deep_link_takes_an_id_as_printed(page: Page, demo_state: Any, tmp_path: Path) -> None:
    """``show`` and the page print an agent path holding a zero-width space as
    ``/root/help\\u200ber``; a link written from what was printed selected nothing (found by
    review25, as ``show --thread`` did). The raw path still selects; a spelling of a character
    the page does not spell stays text."""
    state = copy.deepcopy(demo_state)
    child = next(t for t in state["threads"].values() if t["agent_path"] != "/root")
    child["agent_path"] = "/root/help\u200ber"
    url = _page(state, tmp_path)
    p = page.open(url + "#thread=" + quote("/root/help\\u0065r"))  # "e", never spelled
    heading = p.evaluate("(document.querySelector('#detail h2') || {}).innerText || ''")
    assert "help" not in heading
    shows = "(h) => ((document.querySelector('#detail h2') || {}).innerText || '').includes(h)"
    for link in ("/root/help\\u200ber", "/root/help\\u200Ber", "/root/help\u200ber"):
        p = page.open(url + "#thread=/root")  # the root first: each link must change it
        p.wait_for_function(f"!({shows})('help')")
        p = page.open(url + "#thread=" + quote(link))
        p.wait_for_function(shows, arg="/root/help\\u200ber")
    assert page.errors == []


def test_a_long_name_wraps_in_the_details_heading(
    page: Page, demo_state: Any, tmp_path: Path
) -> None:
    """A tool name with no place to break ran past the details pane, its status tag out of
    sight and its dot squeezed to nothing; now it wraps, the tag and dot kept whole."""
    state, tool_id = _renamed(state=demo_state, tool_name=LONG_TOOL)
    p = page.open(_page(state, tmp_path) + "#call=" + tool_id)
    pane = p.locator("#detail-pane").bounding_box()
    heading = p.locator("#detail h2")
    assert heading.evaluate("h => h.scrollWidth <= h.clientWidth")
    tag = p.locator("#detail h2 .st").bounding_box()
    dot = p.locator("#detail h2 .dot").bounding_box()
    assert tag["x"] + tag["width"] <= pane["x"] + pane["width"]
    assert tag["height"] < 20  # one line: "completed" is not broken either
    assert dot["width"] == 10
    assert page.errors == []


def test_a_narrow_window_stacks_the_list_and_the_details(
    browser: Any, demo_state: Any, tmp_path: Path
) -> None:
    """At 480 px the list kept its 512 px (its status, time and token columns cut off) and
    the details pane got nothing, so a selection showed nowhere; now the two are stacked, each
    the window's width, and the rows keep their status and time."""
    narrow = Page(browser, width=480, height=800)
    try:
        p = narrow.open(_page(demo_state, tmp_path))
        p.locator("#list .row[data-kind=tool]").first.click()
        detail = p.locator("#detail-pane").bounding_box()
        assert detail["width"] >= 470 and detail["height"] >= 150
        assert p.locator("#detail h2").is_visible()
        row = p.locator("#list .row.sel")
        for cell in (4, 5):  # status, time
            box = row.locator("> span").nth(cell).bounding_box()
            assert box["width"] > 0 and box["x"] + box["width"] <= 480
        assert narrow.errors == []
    finally:
        narrow.close()


@needs_conformance_v3
def test_a_failed_tool_calls_error_is_said_once(page: Page, tmp_path: Path) -> None:
    """Codex's view_image of a missing file: its output item and its output preview hold the
    same text, and the error box said it twice (``show`` says it once)."""
    bundle = next((CONFORMANCE_V3 / "view_image").glob("trace-*"))
    target = tmp_path / "page.html"
    assert main(["view", str(bundle), "-o", str(target)], out=io.StringIO()) == 0
    p = page.open(target.as_uri() + "#call=call_img_missing")
    error = p.inner_text("[data-testid=error] pre")
    assert error == (
        "unable to locate image at `/home/dev/project/missing.png`: "
        "No such file or directory (os error 2)"
    )
    assert page.errors == []


@needs_conformance_v3
def test_a_count_of_one_is_singular(page: Page, tmp_path: Path) -> None:
    """The header, the title and the timeline said "1 agents" (viewer24)."""
    bundle = next((CONFORMANCE_V3 / "view_image").glob("trace-*"))
    target = tmp_path / "page.html"
    assert main(["view", str(bundle), "-o", str(target)], out=io.StringIO()) == 0
    p = page.open(target.as_uri())
    assert p.inner_text("#count-lanes") == "1 agent"
    assert p.inner_text("#count-calls") == "3 inference calls"
    assert p.title().endswith(" — 1 agent")
    assert page.errors == []


def test_the_details_links_answer_the_keyboard(page: Page, demo_state: Any, tmp_path: Path) -> None:
    """The details pane's links (agent, started by, sub-agents, a cut text's payload) and its
    span buttons ("show only this agent's calls", "show all") took no focus, so nothing in the
    pane but the payload buttons could be reached without a mouse; now Tab reaches them and
    Enter or Space follows them, focus staying in the redrawn pane."""
    tool_id = next(iter(demo_state["tool_calls"]))
    p = page.open(_page(demo_state, tmp_path) + "#call=" + tool_id)
    spans = p.evaluate(
        "[...document.querySelectorAll('#detail [data-go], #detail span[data-payload], "
        "#detail [data-expand], #detail [data-more], #detail [data-filter-thread]')]"
        ".map(e => e.tabIndex)"
    )
    assert spans and all(index == 0 for index in spans)
    p.focus("#detail [data-go^='thread:']")
    p.keyboard.press("Enter")  # the agent
    assert p.inner_text("#detail h2").startswith("/root")
    assert p.evaluate("document.getElementById('detail-pane').contains(document.activeElement)")
    p.keyboard.press("Tab")
    while not p.evaluate("document.activeElement.matches('[data-filter-thread]')"):
        assert p.evaluate("document.getElementById('detail').contains(document.activeElement)")
        p.keyboard.press("Tab")
    p.keyboard.press(" ")  # show only this agent's calls
    assert "agent /root" in p.inner_text("#filter-note")
    p.focus("#clear-thread")
    p.keyboard.press("Enter")
    assert "rows" in p.inner_text("#filter-note")
    assert page.errors == []


@pytest.mark.parametrize("stopped_bundle", ["2"], indirect=True)
def test_ids_holding_bidi_controls_still_open_and_link(
    page: Page, stopped_bundle: Path, tmp_path: Path
) -> None:
    """The page spelled the ids in its payload buttons' data-payload too, so a payload whose
    id held U+202E (Codex reduces it) opened as "not embedded in the page" (found by review
    review24). The id is spelled where it is shown, kept in what the page reads back; and a
    deep link to a call id holding U+202E selects it and is written back the same."""
    bundle = tmp_path / "bidi"
    shutil.copytree(stopped_bundle, bundle)
    (bundle / "state.json").unlink(missing_ok=True)
    for path in (bundle / "trace.jsonl", *(bundle / "payloads").iterdir()):
        text = path.read_text()
        text = re.sub(r'"raw_payload:(\d+)"', r'"raw\\u202epayload:\1"', text)
        path.write_text(text.replace('"c1"', '"c\\u202e1"'))
    target = tmp_path / "bidi.html"
    assert main(["view", str(bundle), "-o", str(target)], out=io.StringIO()) == 0
    p = page.open(target.as_uri() + "#call=" + quote("c\u202e1"))
    assert p.locator("#list .row.sel").get_attribute("data-kind") == "tool"
    assert "c\\u202e1" in p.inner_text("#detail")
    p.locator("#detail button", has_text="raw result").click()
    view = p.locator("#payload-view")
    view.locator("[data-testid=payload]").wait_for(timeout=10_000)
    assert UNSENT_RESULT in view.inner_text() and "raw\\u202epayload:" in view.inner_text()
    p.locator("#list .row[data-kind=call]").first.click()
    p.locator("#list .row[data-kind=tool]").first.click()
    assert p.evaluate("decodeURIComponent(location.hash)") == "#call=c\u202e1"
    assert page.errors == []


def test_what_the_page_spells_is_what_search_finds(
    page: Page, demo_state: Any, tmp_path: Path
) -> None:
    """The page shows ``run_tool_\\u202eevil``, but search looked in the raw text: the
    spelling it shows found nothing, and nothing was highlighted (found by review review24).
    Now the spelled text is searched and highlighted, and a pasted U+202E finds it too."""
    state, tool_id = _renamed(state=demo_state, tool_name=RLO_TOOL)
    tool = state["tool_calls"][tool_id]
    output = state["conversation_items"][tool["model_visible_output_item_ids"][0]]
    output["body"]["parts"] = [{"type": "text", "text": "said \u202eevil\u202c"}]
    p = page.open(_page(state, tmp_path))
    for query in ("\\u202eevil", "\\U202EEVIL", "\u202eevil"):
        p.fill("#search", "")
        p.fill("#search", query)
        p.wait_for_function("document.querySelector('#filter-note').textContent.includes('match')")
        row = p.locator("#list .row[data-kind=tool]", has_text="run_tool_")
        assert row.count() == 1, query
        row.click()
        marks = p.locator("[data-testid=tool-output] mark").all_inner_texts()
        assert [m.lower() for m in marks] == ["\\u202eevil"], (query, marks)
    assert page.errors == []


def test_the_headers_failed_count_answers_the_keyboard(
    page: Page, failing_state: Path, tmp_path: Path
) -> None:
    """The header's red "N failed" filters the list to failures when clicked, but took no
    focus: the first Tab went past it to the search box (review viewer26). The first Tab is
    the skip link now (to the calls list), the second this."""
    target = tmp_path / "page.html"
    assert main(["view", str(failing_state), "-o", str(target)], out=io.StringIO()) == 0
    p = page.open(target.as_uri())
    p.keyboard.press("Tab")
    assert p.evaluate("document.activeElement.className") == "skip"
    p.keyboard.press("Tab")
    assert p.evaluate("document.activeElement.id") == "count-failed"
    p.keyboard.press("Enter")
    assert p.is_checked("#only-failed")
    failed = int(p.inner_text("#count-failed b"))
    assert p.evaluate("window.__rt.stats().listRows") == failed
    assert page.errors == []


def test_the_details_headings_count_one_item_as_one(
    page: Page, demo_state: Any, tmp_path: Path
) -> None:
    """An inference call's details read "Response · 1 items" (review viewer26)."""
    p = page.open(_page(demo_state, tmp_path))
    singular = 0  # calls whose response is one item (which call is last varies by run)
    for n, call in enumerate(demo_state["inference_calls"].values()):
        p.evaluate(f"window.__rt.select({call['inference_call_id']!r})")
        heads = p.locator("#detail h3").all_inner_texts()
        assert not any(re.search(r"\b1 ITEMS\b", head, re.IGNORECASE) for head in heads), heads
        if n == 0:
            assert any(re.search(r"\b\d+ ITEMS\b", head, re.IGNORECASE) for head in heads)
        singular += any(re.search(r"\bResponse · 1 item\b", h, re.IGNORECASE) for h in heads)
    assert singular
    assert page.errors == []


@pytest.mark.parametrize("width", [1400, 1000, 700])
def test_the_agents_table_fits_its_pane(
    browser: Any, demo_state_200: Any, tmp_path: Path, width: int
) -> None:
    """The Agents tab's eight columns needed about 700 px: in a 1400 px window (a 644 px list)
    its "avg call" column was cut off, header and values, and at 1000 px "model time" too;
    and the tab said "6,800 rows", the calls list's count, over 201 agents (review viewer26)."""
    sized = Page(browser, width=width, height=800)
    try:
        p = sized.open(_page(demo_state_200, tmp_path))
        p.click("button[data-tab=agents]")
        pane = p.locator("#list").bounding_box()
        right = pane["x"] + pane["width"]
        for row in (p.locator("#list-head"), p.locator("#list .row").first):
            spans = row.locator("> span")
            assert spans.count() == 8
            for k in range(8):
                box = spans.nth(k).bounding_box()
                if width >= 560 or k not in (4, 5, 7):  # under 560 px three are left out
                    assert box is not None and box["width"] >= 30, (k, box)
                    assert box["x"] + box["width"] <= right + 0.5, (k, box, right)
        for k in range(8):  # the header's words are not cut
            fits = p.evaluate(
                f"(() => {{ const e = document.querySelectorAll('#list-head > span')[{k}];"
                " return e.scrollWidth <= e.clientWidth + 1; })()"
            )
            assert fits, k
        agents = len(demo_state_200["threads"])
        assert p.inner_text("#filter-note") == f"{agents} agents"
        p.click("button[data-tab=calls]")
        assert p.inner_text("#filter-note").endswith(" rows")
        assert sized.errors == []
    finally:
        sized.close()
