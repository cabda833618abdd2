"""Code cells in the viewer's calls list, search, selection, deep links and failure counts.

A code cell (code mode's ``exec`` JavaScript) was reachable only through the timeline or its
exec call's details: searching a word of its source, or looking for the cell that failed (its
exec call completes, so "failures only" showed nothing), did not find it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest

from .conftest import BAD_ERROR, BAD_SOURCE, CODE_MODE_BUNDLES, Page, write_page


@pytest.fixture(scope="module")
def cells_page(cells_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The page of :func:`cells_bundle`'s rollout (a completed and a failed code cell)."""
    return write_page(cells_bundle, tmp_path_factory.mktemp("cells-page") / "page.html")


def _cell_rows(p: Any) -> list[str]:
    """The code cells' rows as the list names them, in the order their elements come."""
    names = p.eval_on_selector_all(
        "#list .row[data-kind=cell]", "rows => rows.map(r => r.children[3].textContent)"
    )
    return [str(n) for n in names]


def _cell_index(p: Any, cell_id: str) -> int:
    index = p.evaluate(
        "(id) => JSON.parse(document.getElementById('rt-model').textContent).cells"
        ".findIndex(c => c.id === id)",
        cell_id,
    )
    assert index >= 0
    return int(index)


def _search(p: Any, text: str) -> None:
    p.fill("#search", text)
    p.wait_for_function(
        f"document.querySelector('#filter-note').textContent.includes({'“' + text + '”'!r})"
    )


def _pixel_once(p: Any, i: int, drawn: Any, within_s: float = 10.0) -> list[int]:
    """The colour at the middle of cell ``i``'s block once ``drawn`` says it is what the page
    should show, or the last one read after ``within_s`` (two animation frames were not
    always enough at load 8-10: the old frame was read)."""
    deadline = time.monotonic() + within_s
    while True:
        rgb = _pixel(p, i, 0)
        if drawn(rgb) or time.monotonic() > deadline:
            return rgb
        p.wait_for_timeout(50)


def _pixel(p: Any, i: int, dy: float) -> list[int]:
    """The timeline's colour ``dy`` px below the middle of cell ``i``'s block (near its left
    end, before a wide block's white label: read on it, a failed block came out pink when the
    recording's timing made it wider than 60 px, review a11y34), once the
    timeline has drawn what the page last changed: it draws in the next animation frame (a
    search's filter note is written before; CI's loaded machine read the old frame once)."""
    rgb = p.evaluate(
        """async ([i, dy]) => {
          await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
          const c = window.__rt.blockCenter('cell', i, true), d = window.devicePixelRatio || 1;
          const g = document.getElementById('tl-canvas').getContext('2d');
          const px = g.getImageData(Math.round(c.x * d), Math.round((c.y + dy) * d), 1, 1).data;
          return [px[0], px[1], px[2]];
        }""",
        [i, dy],
    )
    return [int(c) for c in rgb]


def _outline(p: Any, i: int) -> list[int]:
    """Just above the block (BAR_H is 11 px): the selection's dark outline when it is
    selected, the lane's background otherwise."""
    return _pixel(p, i, -5.5 - 1)


def _dark(rgb: list[int]) -> bool:
    return max(rgb) < 60


def test_each_code_cell_is_a_row_with_its_status_duration_and_first_line(
    page: Page, cells_page: str
) -> None:
    p = page.open(cells_page)
    stats = p.evaluate("window.__rt.stats()")
    assert stats["cells"] == 2
    assert stats["listRows"] == stats["calls"] + stats["tools"] + stats["cells"]
    names = _cell_rows(p)
    # the first line that says something (the completed cell's source starts with a blank one)
    assert names == [
        "code cell · const r = await tools.exec_command({cmd: 'echo quokka'});",
        "code cell · const x = wombat.length;",
    ]
    statuses = p.eval_on_selector_all(
        "#list .row[data-kind=cell]", "rows => rows.map(r => r.children[4].textContent)"
    )
    assert statuses == ["completed", "failed"]
    assert p.locator("#list .row[data-kind=cell].failed").count() == 1
    durations = p.eval_on_selector_all(
        "#list .row[data-kind=cell]", "rows => rows.map(r => r.children[5].textContent)"
    )
    assert all(d.endswith(" ms") or d.endswith(" s") for d in durations)
    assert page.errors == []


def test_search_finds_a_cell_by_its_source_and_by_its_status(page: Page, cells_page: str) -> None:
    p = page.open(cells_page)
    _search(p, "wombat.length")
    assert _cell_rows(p) == ["code cell · const x = wombat.length;"]
    # its block on the timeline is a match: drawn in full red (--fail), not faded
    red = _pixel_once(p, _cell_index(p, "code_cell:cell_bad"), lambda c: c[0] > 180 and c[1] < 90)
    assert red[0] > 180 and red[1] < 90, red
    _search(p, "failed")
    assert "code cell · const x = wombat.length;" in _cell_rows(p)
    assert page.errors == []


def test_selecting_a_cell_row_opens_its_details_and_outlines_its_block(
    page: Page, cells_page: str
) -> None:
    p = page.open(cells_page)
    i = _cell_index(p, "code_cell:cell_bad")
    assert not _dark(_outline(p, i))
    p.locator("#list .row[data-kind=cell]").nth(1).click()
    p.wait_for_selector("[data-testid=cell-source]")
    assert p.inner_text("[data-testid=cell-source]").strip() == BAD_SOURCE.strip()
    # its output item is laid out at the next frame (items are content-visibility: auto):
    # read before, the item's text was not in the pane's (one CI run in many)
    p.wait_for_function(
        "t => document.querySelector('#detail').innerText.includes(t)", arg=BAD_ERROR
    )
    detail = p.inner_text("#detail")
    assert "Code cell" in detail and BAD_ERROR in detail  # its output
    assert "exec cell_bad" in detail  # the exec call that started it, a link
    assert p.evaluate("location.hash") == "#cell=" + quote("code_cell:cell_bad", safe="")
    assert p.locator("#list .row[data-kind=cell].sel").count() == 1
    assert _dark(_outline(p, i))
    # the exec call's details link back to the cell
    p.locator("#detail dl .link", has_text="exec cell_bad").click()
    p.wait_for_selector("[data-testid=tool-args]")
    p.locator("#detail [data-go^='cell:']").first.click()
    p.wait_for_selector("[data-testid=cell-source]")
    assert "wombat" in p.inner_text("[data-testid=cell-source]")
    assert page.errors == []


def test_clicking_a_cell_on_the_timeline_selects_it(page: Page, cells_page: str) -> None:
    p = page.open(cells_page)
    i = _cell_index(p, "code_cell:cell_ok")
    where = p.evaluate(f"window.__rt.blockCenter('cell', {i})")
    box = p.locator("#timeline").bounding_box()
    p.mouse.click(box["x"] + where["x"], box["y"] + where["y"])
    p.wait_for_selector("[data-testid=cell-source]")
    assert "echo quokka" in p.inner_text("[data-testid=cell-source]")
    assert p.evaluate("location.hash") == "#cell=" + quote("code_cell:cell_ok", safe="")
    assert p.locator("#list .row[data-kind=cell].sel").count() == 1
    assert _dark(_outline(p, i))
    assert page.errors == []


@pytest.mark.parametrize("link", ["code_cell:cell_bad", "cell_bad"])
def test_a_cell_deep_link_opens_it(page: Page, cells_page: str, link: str) -> None:
    """``#cell=ID`` takes the cell's id or its exec call's model-visible call id."""
    p = page.open(cells_page + "#cell=" + quote(link, safe=""))
    p.wait_for_selector("[data-testid=cell-source]")
    assert "wombat" in p.inner_text("[data-testid=cell-source]")
    assert p.locator("#list .row[data-kind=cell].sel").count() == 1
    # the exec call keeps its own link
    p.evaluate("location.hash = '#call=cell_bad'")
    p.wait_for_selector("[data-testid=tool-args]")
    assert page.errors == []


def test_a_failed_cell_is_counted_and_filtered(page: Page, cells_page: str) -> None:
    """The failed cell's exec call completed: the header said nothing failed and "failures
    only" listed nothing."""
    p = page.open(cells_page)
    assert p.inner_text("#count-failed") == "1 failed"
    p.click("#count-failed")
    p.wait_for_function("window.__rt.stats().listRows === 1")
    assert _cell_rows(p) == ["code cell · const x = wombat.length;"]
    p.click(".tabs button[data-tab=agents]")
    failed = p.eval_on_selector_all(
        "#list .row.agents", "rows => rows.map(r => r.children[3].textContent)"
    )
    assert failed == ["1"]
    assert page.errors == []


@pytest.mark.skipif(not CODE_MODE_BUNDLES, reason="../shared/conformance* is not present")
@pytest.mark.parametrize(
    "bundle",
    CODE_MODE_BUNDLES,
    ids=[f"{b.parent.parent.name}/{b.parent.name}" for b in CODE_MODE_BUNDLES],
)
def test_codex_code_mode_bundles_list_their_cells(page: Page, bundle: Path, tmp_path: Path) -> None:
    """Codex's own code-mode bundles (both schemas): a row per cell, opened by a click."""
    cells = orjson.loads((bundle / "expected_state.json").read_bytes())["code_cells"]
    p = page.open(write_page(bundle, tmp_path / "page.html"))
    names = _cell_rows(p)
    assert len(names) == len(cells) > 0
    for cell in cells.values():
        first = next(line for line in cell["source_js"].split("\n") if line.strip()).strip()
        assert "code cell · " + first in names
    p.locator("#list .row[data-kind=cell]").first.click()
    p.wait_for_selector("[data-testid=cell-source]")
    assert p.evaluate("location.hash").startswith("#cell=code_cell")
    assert page.errors == []


def test_the_failed_count_is_what_failures_only_lists(
    page: Page, demo_state: Any, tmp_path: Path
) -> None:
    """The header counted failed inference and tool calls only, so a failed compaction
    request was listed by "failures only" (the count's own link) but not counted."""
    state = orjson.loads(orjson.dumps(demo_state))
    request = next(iter(state["compaction_requests"].values()))
    request["execution"]["status"] = "failed"
    source = tmp_path / "state.json"
    source.write_bytes(orjson.dumps(state))
    p = page.open(write_page(source, tmp_path / "page.html"))
    assert p.inner_text("#count-failed") == "1 failed"
    p.click("#count-failed")
    p.wait_for_function("window.__rt.stats().listRows === 1")
    assert p.locator("#list .row[data-kind=cmp].failed").count() == 1
    assert page.errors == []
