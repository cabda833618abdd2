"""The viewer for people who use a keyboard or a screen reader, in a real browser: axe-core
(Deque's accessibility checker, npm ``axe-core``, installed by scripts/test.sh) finds no
serious or critical violation on the page's views (static, served, several kinds of
rollout, each pane the user can open), and a walk through the page by keyboard alone (no
mouse) reaches and opens each thing, focus always in sight."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.view.serve import ViewServer

from ..conftest import CONFORMANCE_V3, needs_conformance_v3
from .conftest import Page, skipping_bundle, write_page

#: The axe-core release scripts/test.sh installs (keep the two the same).
AXE_VERSION = "4.14.1"

#: axe rules turned off, each with why. None: every rule axe runs by default is kept.
DISABLED_RULES: dict[str, str] = {}

#: Impacts a view must have none of ("minor" and "moderate" ones are reported, not failed).
BLOCKING = ("serious", "critical")


def _axe_script() -> Path | None:
    """axe.min.js: $ROLLOUT_TRACE_AXE, else where scripts/test.sh installs it."""
    chosen = os.environ.get("ROLLOUT_TRACE_AXE")
    if chosen:
        return Path(chosen)
    cache = Path(
        os.environ.get("ROLLOUT_TRACE_CACHE") or Path.home() / ".cache" / "rollout-trace-sdk"
    )
    found = cache / f"axe-core-{AXE_VERSION}" / "node_modules" / "axe-core" / "axe.min.js"
    return found if found.is_file() else None


def test_scripts_test_sh_installs_the_axe_the_tests_name() -> None:
    """The pinned release is said twice (the installer, the path looked up): the same."""
    script = Path(__file__).parents[2] / "scripts" / "test.sh"
    assert f"AXE_VERSION={AXE_VERSION}\n" in script.read_text()


@pytest.fixture(scope="module")
def axe() -> Path:
    script = _axe_script()
    if script is None or not script.is_file():
        pytest.skip(
            f"axe-core {AXE_VERSION} is not installed (scripts/test.sh installs it with npm; "
            "or set ROLLOUT_TRACE_AXE to an axe.min.js)"
        )
    return script


_RUN = """async (disabled) => {
  const rules = Object.fromEntries(disabled.map((id) => [id, { enabled: false }]));
  const found = await axe.run(document, { rules, resultTypes: ["violations"] });
  return found.violations.map((v) => ({
    id: v.id, impact: v.impact,
    nodes: v.nodes.map((n) => n.target.join(" ") + ": " + n.failureSummary),
  }));
}"""


def violations(p: Any, axe: Path, where: str) -> list[str]:
    """What axe finds serious or critical on the page as it is now, one line each."""
    if not p.evaluate("() => typeof window.axe === 'object'"):
        p.add_script_tag(path=str(axe))
    found = p.evaluate(_RUN, list(DISABLED_RULES))
    return [
        f"{where}: {v['impact']} {v['id']}: {node}"
        for v in found
        if v["impact"] in BLOCKING
        for node in v["nodes"]
    ]


def audit_views(p: Any, axe: Path) -> list[str]:
    """axe on each view a reader opens: the page as loaded, an inference call and its raw
    request, a tool call, a code cell, a failed row, the agents tab and an agent."""
    found = violations(p, axe, "loaded")
    for kind in ("call", "tool", "cell"):
        row = p.locator(f"[data-testid=row-{kind}]")
        if row.count():
            row.first.click()
            found += violations(p, axe, kind)
            if kind == "call":
                p.locator("button[data-payload]").first.click()
                p.wait_for_selector("#payload-view h3, #payload-view .note")
                found += violations(p, axe, "raw request")
    failed = p.locator(".row.failed[data-kind]")
    if failed.count():
        failed.first.click()
        found += violations(p, axe, "failed row")
    p.click(".tabs button[data-tab=agents]")
    found += violations(p, axe, "agents")
    p.locator("[data-testid=row-agent]").last.click()
    found += violations(p, axe, "agent")
    return found


def test_the_demo_page_has_no_serious_violation(
    page: Page, axe: Path, demo_bundle: Path, tmp_path: Path
) -> None:
    """Before: 406 serious colour-contrast nodes over the views audited here (grey text
    4.43:1 on the page's background, red 4.11:1 on a failed tag, the live badge 3.29:1), and
    scrolled outputs the keyboard could not reach."""
    p = page.open(write_page(demo_bundle, tmp_path / "demo.html"))
    assert audit_views(p, axe) == []
    assert page.errors == []


@needs_conformance_v3
@pytest.mark.parametrize(
    "case",
    [
        "multi_agent_v2_child_failure",  # a sub-agent that failed
        "code_mode_parallel_and_mcp",  # code cells, their nested and MCP tool calls
    ],
)
def test_codex_pages_have_no_serious_violation(
    page: Page, axe: Path, case: str, tmp_path: Path
) -> None:
    [bundle] = sorted((CONFORMANCE_V3 / case).glob("trace-*"))
    p = page.open(write_page(bundle, tmp_path / "codex.html"))
    assert audit_views(p, axe) == []
    assert page.errors == []


def test_failed_and_partial_pages_have_no_serious_violation(
    page: Page,
    axe: Path,
    demo_bundle: Path,
    failed_tool_bundle: Path,
    capped_bundles: dict[str, Path],
    tmp_path: Path,
) -> None:
    """A failed tool call (its error box), what a lenient reduction skipped (the notice,
    opened) and payloads a capture limit cut."""
    p = page.open(write_page(failed_tool_bundle, tmp_path / "failed.html"))
    found = audit_views(p, axe)
    skipping = skipping_bundle(demo_bundle, tmp_path)
    out = tmp_path / "lenient.html"
    assert main(["view", str(skipping), "--lenient", "-o", str(out)], out=io.StringIO()) == 0
    p = page.open(out.as_uri())
    p.click("[data-testid=lenient-notes] summary")
    found += violations(p, axe, "lenient notes")
    found += audit_views(p, axe)
    p = page.open(write_page(capped_bundles["truncated"], tmp_path / "cut.html"))
    found += audit_views(p, axe)
    assert found == []
    assert page.errors == []


def test_the_served_page_has_no_serious_violation(page: Page, axe: Path, demo_bundle: Path) -> None:
    """``view --serve``: live, then offline (the badge's other colours)."""
    with ViewServer(demo_bundle, 0) as server:
        p = page.open(server.url)
        found = audit_views(p, axe)
        p.route("**/status", lambda route: route.abort())
        p.evaluate("window.__rt.poll()")
        assert p.inner_text("#live") == "offline"
        found += violations(p, axe, "offline")
    assert found == []
    page.errors.clear()  # the aborted request's console error


# --- the keyboard alone ------------------------------------------------------------------


@pytest.fixture
def keyboard_page(browser: Any, demo_bundle: Path, tmp_path: Path) -> Iterator[Any]:
    """The demo's page, opened at no selection; only the keyboard is used on it."""
    opened = Page(browser)
    try:
        yield opened.open(write_page(demo_bundle, tmp_path / "keys.html"))
        assert opened.errors == []
    finally:
        opened.close()


_FOCUSED = """() => {
  const a = document.activeElement, style = getComputedStyle(a), box = a.getBoundingClientRect();
  return {
    id: a.id, tag: a.tagName.toLowerCase(), text: (a.textContent || "").trim().slice(0, 80),
    go: a.dataset.go || "", payload: a.dataset.payload || "", role: a.getAttribute("role") || "",
    ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
    shown: box.width > 0 && box.height > 0 && box.bottom > 0 && box.top < innerHeight,
  };
}"""


def focused(p: Any) -> dict[str, Any]:
    """What has focus, and whether it is drawn with a focus ring, on screen."""
    now: dict[str, Any] = p.evaluate(_FOCUSED)
    assert now["ring"] and now["shown"], now
    return now


def tab_to(p: Any, selector: str, limit: int = 60) -> dict[str, Any]:
    """Tab until focus is on an element matching ``selector`` (each stop in sight)."""
    for _ in range(limit):
        p.keyboard.press("Tab")
        now = focused(p)
        if p.evaluate(f"() => document.activeElement.matches({selector!r})"):
            return now
    raise AssertionError(f"Tab never reached {selector}")


def test_a_keyboard_alone_opens_a_call_its_prompt_a_tool_call_and_comes_back(
    keyboard_page: Any,
) -> None:
    p = keyboard_page
    # the first stop: the skip link, drawn once it has focus; it goes to the list
    p.keyboard.press("Tab")
    assert focused(p)["text"] == "Skip to the calls list"
    p.keyboard.press("Enter")
    assert focused(p)["id"] == "list"
    # the arrow keys select the turn's first inference call; the list says which row is it
    p.keyboard.press("ArrowDown")
    assert p.inner_text("#detail h2").startswith("Inference call")
    assert p.get_attribute("#list", "aria-activedescendant") == "list-sel"
    assert p.get_attribute("#list-sel", "aria-selected") == "true"
    assert focused(p)["id"] == "list"
    call_hash = p.evaluate("location.hash")
    # Enter: to its details, its heading focused (what a screen reader reads first)
    p.keyboard.press("Enter")
    assert focused(p)["tag"] == "h2"
    # the prompt: the conversation the model saw is shown, its raw request one key away
    assert "Conversation the model saw" in (p.text_content("#detail") or "")
    request = tab_to(p, "button[data-payload]")
    assert request["text"] == "raw request"
    p.keyboard.press("Enter")
    p.wait_for_selector("[data-testid=payload]")
    assert p.get_attribute("button[data-payload] >> nth=0", "aria-expanded") == "true"
    # Escape closes it and gives focus back to the button that opened it (from elsewhere
    # in the details: focus on the button already would not tell)
    p.keyboard.press("Shift+Tab")
    assert focused(p)["payload"] != request["payload"]
    p.keyboard.press("Escape")
    assert p.locator("[data-testid=payload]").count() == 0
    assert focused(p)["payload"] == request["payload"]
    assert p.get_attribute("button[data-payload] >> nth=0", "aria-expanded") == "false"
    # a link to a tool call it started: followed, the tool call's details, focus on them
    p.keyboard.press("Shift+Tab")  # back into the fields above the buttons
    for _ in range(20):
        if focused(p)["go"].startswith("tool:"):
            break
        p.keyboard.press("Shift+Tab")
    tool = focused(p)
    assert tool["go"].startswith("tool:"), tool
    p.keyboard.press("Enter")
    assert focused(p)["tag"] == "h2"
    assert "tool call id" in (p.text_content("#detail") or "")
    assert p.evaluate("location.hash") != call_hash
    # the browser's Back: the inference call again, focus on its details
    p.go_back()
    p.wait_for_function(f"() => location.hash === {call_hash!r}")
    assert p.inner_text("#detail h2").startswith("Inference call")
    assert focused(p)["tag"] == "h2"
    # Escape from the details: back to the list
    p.keyboard.press("Escape")
    assert focused(p)["id"] == "list"
    # a link to the agent that made the call: followed, that agent; Back, the call again
    p.keyboard.press("Enter")
    agent = tab_to(p, "[data-go^='thread:']")
    p.keyboard.press("Enter")
    assert p.evaluate("location.hash").startswith("#thread="), agent
    p.go_back()
    p.wait_for_function(f"() => location.hash === {call_hash!r}")
    assert p.inner_text("#detail h2").startswith("Inference call")


def test_a_keyboard_alone_searches_switches_tabs_and_moves_the_timeline(
    keyboard_page: Any,
) -> None:
    p = keyboard_page
    # "/" goes to the search; Enter selects the first match and focuses the list
    p.keyboard.press("/")
    assert focused(p)["id"] == "search"
    p.keyboard.type("cat")
    p.keyboard.press("/")  # typed, in the search: not a key of the page's there
    assert p.input_value("#search") == "cat/"
    p.keyboard.press("Backspace")
    p.keyboard.press("Enter")
    assert focused(p)["id"] == "list"
    assert "match" in p.inner_text("#filter-note")
    assert p.locator("#detail mark").count() > 0
    first = p.inner_text("#list-sel")
    p.keyboard.press("End")
    assert p.inner_text("#list-sel") != first or p.locator(".row[data-kind]").count() == 1
    # the tabs: one stop, the arrow keys switch; the agents' rows answer the list's keys
    p.keyboard.press("Shift+Tab")
    while focused(p)["role"] != "tab":
        p.keyboard.press("Shift+Tab")
    p.keyboard.press("ArrowRight")
    assert focused(p)["text"] == "Agents"
    assert p.get_attribute("#tab-agents", "aria-selected") == "true"
    tab_to(p, "#list")
    p.keyboard.press("ArrowDown")
    assert "thread id" in (p.text_content("#detail") or "")
    assert p.get_attribute("#list-sel", "data-testid") == "row-agent"
    # the timeline: focused, + zooms in, the arrows pan, 0 fits again
    p.focus("#search")  # from the top of the page, forward
    timeline = tab_to(p, "#timeline")
    assert timeline["id"] == "timeline"
    span = p.evaluate("window.__rt.view()")
    p.keyboard.press("+")
    zoomed = p.evaluate("window.__rt.view()")
    assert zoomed[1] - zoomed[0] == pytest.approx((span[1] - span[0]) / 2)
    p.keyboard.press("ArrowRight")
    panned = p.evaluate("window.__rt.view()")
    assert panned[0] > zoomed[0]
    p.keyboard.press("0")
    assert p.evaluate("window.__rt.view()") == span
    # the splitter: the arrows resize the timeline, its value says how tall it is
    tab_to(p, "#splitter")
    before = int(p.get_attribute("#splitter", "aria-valuenow"))
    p.keyboard.press("ArrowDown")
    assert int(p.get_attribute("#splitter", "aria-valuenow")) == before + 20
    # no shorter than 120 px however often it is pressed, nor taller than the window less 120
    for _ in range(60):
        p.keyboard.press("ArrowUp")
    assert p.get_attribute("#splitter", "aria-valuenow") == "120"
    tallest = p.evaluate("innerHeight") - 120
    for _ in range(60):
        p.keyboard.press("ArrowDown")
    assert int(p.get_attribute("#splitter", "aria-valuenow")) == tallest
