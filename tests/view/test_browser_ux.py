"""The viewer in a real browser: how the page answers the user (scroll, links, headings,
tooltips), each found by review in Chromium."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import orjson

from rollout_trace_sdk.cli import main

from .conftest import Page


def _write_page(source: Path, target: Path) -> str:
    assert main(["view", str(source), "-o", str(target)], out=io.StringIO()) == 0
    return target.as_uri()


def _state_page(state: Any, tmp_path: Path) -> str:
    """A page of a state.json (no payloads embedded: quick to write)."""
    source = tmp_path / "state.json"
    source.write_bytes(orjson.dumps(state))
    return _write_page(source, tmp_path / "page.html")


def _search(p: Any, text: str) -> None:
    p.fill("#search", text)
    p.wait_for_function(
        f"document.querySelector('#filter-note').textContent.includes({'“' + text + '”'!r})"
    )


def test_a_new_search_starts_at_the_top_of_its_matches(
    page: Page, demo_state_200: Any, tmp_path: Path
) -> None:
    """A search kept the list's scroll position (clamped to the new length), so scrolled to
    the end of the list, a search showed its last matches, the first ones out of sight."""
    p = page.open(_state_page(demo_state_200, tmp_path))
    p.locator("#list").evaluate("el => { el.scrollTop = el.scrollHeight; }")
    p.wait_for_timeout(100)
    _search(p, "exec_command")
    matches = p.evaluate("window.__rt.stats().listRows")
    shown = p.evaluate("Math.floor(document.getElementById('list').clientHeight / 24)")
    assert matches > 3 * shown  # enough for the old position to stay past the first screen
    assert p.evaluate("document.getElementById('list').scrollTop") == 0
    tops = p.evaluate(
        "[...document.querySelectorAll('#list .row[data-kind]')]"
        ".map(r => new DOMMatrix(r.style.transform).m42)"
    )
    assert min(tops) == 0
    # the same search again (a trailing space) leaves the list where the user scrolled it
    p.locator("#list").evaluate("el => { el.scrollTop = 480; }")
    p.fill("#search", "exec_command ")
    p.wait_for_timeout(400)
    assert p.evaluate("document.getElementById('list').scrollTop") == 480
    assert page.errors == []


def test_a_cut_texts_note_opens_its_payload(
    page: Page, capped_bundles: dict[str, Path], tmp_path: Path
) -> None:
    """A text a capture limit cut read ``[text: raw_payload:N, truncated: …]`` with nothing to
    click: the payload it names was reachable only through the raw request or response."""
    p = page.open(_write_page(capped_bundles["truncated"], tmp_path / "t.html") + "#call=c0")
    # a JSON value cut in the tool call's arguments
    link = p.locator("[data-testid=tool-args] [data-payload]")
    assert link.count() == 1
    ident = link.get_attribute("data-payload")
    assert re.fullmatch(
        r"\[raw_payload:\d+, truncated: 2,000 of [\d,]+ bytes kept\]", link.inner_text()
    )
    assert ident in link.inner_text()
    link.click()
    assert ident in p.wait_for_selector("#payload-view h3").inner_text()
    assert len(p.wait_for_selector("[data-testid=payload]").inner_text()) == 2_000
    # a message text cut in an inference call's conversation
    p.evaluate(
        "window.__rt.select(JSON.parse(document.getElementById('rt-model').textContent).calls[0].id)"
    )
    notes = p.locator("#detail .item [data-payload]")
    assert notes.count() >= 1
    first = notes.first
    ident = first.get_attribute("data-payload")
    assert re.fullmatch(
        rf"\[text: {ident}, truncated: 2,000 of [\d,]+ bytes kept\]", first.inner_text()
    )
    first.click()
    heading = p.wait_for_selector("#payload-view h3").inner_text()
    assert re.fullmatch(rf"TEXT · {ident} · 2,000 CHARS", heading), heading
    assert p.locator("[data-testid=payload]").inner_text().startswith('"USER line 0: ')
    assert page.errors == []


def test_payload_ids_keep_their_case_in_headings(
    page: Page, demo_bundle: Path, tmp_path: Path
) -> None:
    """The payload's heading is uppercased by the headings' style, and its id and file with
    it: ``RAW_PAYLOAD:12`` / ``PAYLOADS/000012.JSON``, names that exist nowhere."""
    p = page.open(_write_page(demo_bundle, tmp_path / "d.html") + "#call=call_0_cat")
    p.click("button[data-payload]")
    heading = p.wait_for_selector("#payload-view h3").inner_text()  # as drawn: the CSS applied
    assert re.fullmatch(
        r"RAW INVOCATION · raw_payload:\d+ · payloads/\d+\.json · [\d,]+ CHARS", heading
    ), heading
    assert page.errors == []


def test_a_turn_names_itself_on_hover_and_selects_its_first_call(
    page: Page, demo_bundle: Path, tmp_path: Path
) -> None:
    """A turn's band was neither named on hover nor clickable: its status, duration and
    calls were nowhere on the page."""
    p = page.open(_write_page(demo_bundle, tmp_path / "d.html"))
    model = p.evaluate("JSON.parse(document.getElementById('rt-model').textContent)")
    turn = next(n for n, t in enumerate(model["turns"]) if t["t"] == 0)
    calls = [n for n, c in enumerate(model["calls"]) if c["turn"] == turn]
    tools = sum(len(model["calls"][n]["tools"]) for n in calls)
    # the turn's band runs above its first call's block, 10 px above the block's middle
    where = p.evaluate(f"window.__rt.blockCenter('call', {calls[0]})")
    where["y"] -= 10
    box = p.locator("#timeline").bounding_box()
    p.mouse.move(box["x"] + where["x"], box["y"] + where["y"])
    assert p.is_visible("#tl-tip")
    tip = p.inner_text("#tl-tip")
    lines = tip.split("\n")
    assert re.fullmatch(r"turn · completed · [\d.]+ (ms|s)", lines[0]), tip
    assert lines[1] == model["turns"][turn]["id"]
    plural = "s" if tools != 1 else ""
    assert lines[2] == f"{len(calls)} inference calls · {tools} tool call{plural}"
    p.mouse.click(box["x"] + where["x"], box["y"] + where["y"])
    assert p.evaluate("location.hash") == "#call=" + model["calls"][calls[0]]["id"]
    assert "Inference call" in p.inner_text("#detail h2")
    assert page.errors == []
