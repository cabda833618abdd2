"""The viewer in a real browser: headless Chromium driven by Playwright.

Checks what a user sees against the reduced state: lanes, calls and edges; clicking a tool
call on the timeline shows its arguments and output; clicking an inference call in the list
shows its conversation; search, deep links, payloads opened on demand (static: inflated in the
page; serve: fetched), failures highlighted. Screenshots land in the artifacts directory.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.view.serve import ViewServer

from .conftest import PLANTED_ERROR, Page


def _write_page(source: Path, target: Path) -> str:
    out = io.StringIO()
    assert main(["view", str(source), "-o", str(target)], out=out) == 0
    return target.as_uri()


@pytest.fixture(scope="module")
def small_page(demo_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    return _write_page(demo_bundle, tmp_path_factory.mktemp("page") / "small.html")


def _expect_counts(stats: dict[str, Any], state: Any) -> None:
    assert stats["lanes"] == len(state["threads"])
    assert stats["calls"] == len(state["inference_calls"])
    assert stats["tools"] == len(state["tool_calls"])
    assert stats["edges"] == len(state["interaction_edges"])
    assert stats["edgesDrawable"] == len(state["interaction_edges"])


def test_small_page_loads_with_the_right_counts(
    page: Page, small_page: str, demo_state: Any, artifacts: Path
) -> None:
    p = page.open(small_page)
    stats = p.evaluate("window.__rt.stats()")
    _expect_counts(stats, demo_state)
    assert stats["drawn"]["edges"] == len(demo_state["interaction_edges"])
    calls = len(demo_state["inference_calls"])
    tools = len(demo_state["tool_calls"])
    assert p.inner_text("#count-lanes") == f"{len(demo_state['threads'])} agents"
    assert p.inner_text("#count-calls") == f"{calls} inference calls"
    assert p.inner_text("#count-edges") == f"{len(demo_state['interaction_edges'])} interactions"
    rows = stats["listRows"]
    assert rows == calls + tools + len(demo_state["compactions"])
    p.screenshot(path=str(artifacts / "small-overview.png"))
    assert page.errors == []


def test_clicking_a_tool_call_on_the_timeline_shows_arguments_and_output(
    page: Page, small_page: str, artifacts: Path
) -> None:
    p = page.open(small_page)
    index = p.evaluate(
        "JSON.parse(document.getElementById('rt-model').textContent).tools"
        ".findIndex(t => t.id === 'call_0_sum')"
    )
    where = p.evaluate(f"window.__rt.blockCenter('tool', {index})")
    box = p.locator("#timeline").bounding_box()
    p.mouse.click(box["x"] + where["x"], box["y"] + where["y"])
    p.wait_for_selector("[data-testid=tool-args]")
    assert "echo episode 0" in p.inner_text("[data-testid=tool-args]")
    output = p.inner_text("[data-testid=tool-output]")
    assert "Process exited with code 0" in output and "episode 0" in output
    assert "/bin/sh -c echo episode 0" in p.inner_text("#detail")  # its terminal operation
    assert p.evaluate("location.hash") == "#call=call_0_sum"
    p.screenshot(path=str(artifacts / "small-tool.png"))
    assert page.errors == []


def test_clicking_an_inference_call_shows_its_conversation(
    page: Page, small_page: str, demo_state: Any, artifacts: Path
) -> None:
    p = page.open(small_page)
    first = p.locator("[data-testid=row-call]").first
    first.click()
    p.wait_for_selector("#detail .item")
    model_first = p.evaluate(
        "JSON.parse(document.getElementById('rt-model').textContent).calls[0].id"
    )
    call = demo_state["inference_calls"][model_first]
    items = p.locator("#detail [data-list=req] .item")
    assert items.count() == len(call["request_item_ids"])
    detail = p.inner_text("#detail")
    assert "Episode 0: exercise the shell and a helper agent." in detail
    assert f"{len(call['request_item_ids'])} items" in detail.lower()
    # a later call marks what is new since the previous call of the same agent
    second = p.evaluate("JSON.parse(document.getElementById('rt-model').textContent).calls[1].id")
    p.evaluate(f"window.__rt.select({second!r})")
    assert p.locator("#detail .item.new").count() >= 1
    p.screenshot(path=str(artifacts / "small-inference.png"))
    assert page.errors == []


def test_search_finds_a_known_string(page: Page, small_page: str) -> None:
    p = page.open(small_page)
    p.fill("#search", "squared")
    p.wait_for_function("document.querySelector('#filter-note').textContent.includes('match')")
    rows = p.locator("#list .row")
    assert 1 <= rows.count() < p.evaluate("window.__rt.stats().calls + window.__rt.stats().tools")
    rows.first.click()
    assert p.locator("#detail mark").count() >= 1
    assert "squared" in p.locator("#detail mark").first.inner_text().lower()
    p.fill("#search", "call_0_spawn")  # ids are searchable too
    p.wait_for_function(
        "document.querySelector('#filter-note').textContent.includes('call_0_spawn')"
    )
    names = p.locator("#list .row").all_inner_texts()
    assert any("spawn_agent · call_0_spawn" in n for n in names)
    assert len(names) < 5  # the tool, and the calls whose items name it
    assert page.errors == []


def test_deep_link_and_payload_opened_on_demand(page: Page, small_page: str) -> None:
    p = page.open(small_page + "#call=call_0_cat")
    p.wait_for_selector("[data-testid=tool-args]")
    assert '"cmd":"cat"' in p.inner_text("[data-testid=tool-args]")
    p.click("button[data-payload]")  # raw invocation, inflated in the page
    p.wait_for_selector("[data-testid=payload]")
    assert '"tool_name": "exec_command"' in p.inner_text("[data-testid=payload]")
    assert page.errors == []


def test_failure_is_highlighted_with_its_error_text(
    page: Page, failing_state: Path, tmp_path: Path, artifacts: Path
) -> None:
    p = page.open(_write_page(failing_state, tmp_path / "failing.html"))
    assert p.inner_text("#count-failed") == "1 failed"
    p.click("#count-failed")
    rows = p.locator("#list .row")
    assert rows.count() == 1
    rows.first.click()
    error = p.inner_text("[data-testid=error]")
    assert PLANTED_ERROR in error  # shown as text: the markup was not interpreted
    assert p.locator("#detail b", has_text="not bold").count() == 0
    p.screenshot(path=str(artifacts / "failure.png"))
    assert page.errors == []


def test_large_rollout_static(
    page: Page, demo_bundle_200: Path, demo_state_200: Any, tmp_path: Path, artifacts: Path
) -> None:
    state = demo_state_200
    p = page.open(_write_page(demo_bundle_200, tmp_path / "large.html"))
    _expect_counts(p.evaluate("window.__rt.stats()"), state)
    # the list is virtualized: only a screenful of rows is in the DOM
    assert p.locator("#list .row").count() < 80
    p.locator("#list").evaluate("el => { el.scrollTop = el.scrollHeight / 2; }")
    p.wait_for_timeout(100)
    assert 0 < p.locator("#list .row").count() < 80
    p.fill("#search", "helper_150")
    p.wait_for_function("document.querySelector('#filter-note').textContent.includes('match')")
    assert p.locator("#list .row").count() >= 1
    p.fill("#search", "")
    p.evaluate("window.__rt.select('call_37_cat')")
    p.wait_for_selector("[data-testid=tool-args]")
    p.screenshot(path=str(artifacts / "large-static.png"))
    assert page.errors == []


def test_large_rollout_served(
    page: Page, demo_bundle_200: Path, demo_state_200: Any, artifacts: Path
) -> None:
    state = demo_state_200
    with ViewServer(demo_bundle_200, 0) as server:
        p = page.open(server.url + "#thread=/root/helper_3")
        _expect_counts(p.evaluate("window.__rt.stats()"), state)
        assert p.is_visible("#live")
        p.evaluate("window.__rt.select('call_0_cat')")
        p.click("button[data-payload]")
        p.wait_for_selector("[data-testid=payload]")
        assert '"tool_name": "exec_command"' in p.inner_text("[data-testid=payload]")
        p.screenshot(path=str(artifacts / "large-served.png"))
    assert page.errors == []


_FAILED_CALL = """
import sys, anyio
from rollout_trace_sdk.record import open_rollout

async def main() -> None:
    async with open_rollout(sys.argv[1], model="m") as rollout, rollout.root.turn() as turn:
        turn.inference({"model": "m", "input": "hi"}).failed(sys.argv[2])

anyio.run(main)
"""


def test_failed_inference_call_shows_its_error_text(page: Page, tmp_path: Path) -> None:
    """The error text of a failed inference call (in the log, not in the state) is shown in
    the call's panel, as text. Recorded in a child process: Playwright keeps an event loop
    running in this thread."""
    error = "APIStatusError: model overloaded <b>(not bold)</b>"
    traces = tmp_path / "traces"
    subprocess.run([sys.executable, "-c", _FAILED_CALL, str(traces), error], check=True)
    [bundle] = list(traces.iterdir())
    p = page.open(_write_page(bundle, tmp_path / "failed-call.html"))
    p.click("#count-failed")
    p.locator("#list .row").first.click()
    assert error in p.inner_text("[data-testid=call-error]")
    assert p.locator("#detail b", has_text="not bold").count() == 0
    assert page.errors == []


def test_text_that_opens_an_html_comment_leaves_the_page_working(
    page: Page, demo_state: Any, tmp_path: Path
) -> None:
    # "<!--<script>" inside the page's JSON kept the element open and swallowed the app
    import orjson

    state = orjson.loads(orjson.dumps(demo_state))
    first = next(iter(state["threads"].values()))
    first["agent_path"] = "/root <!--<script> here"
    source = tmp_path / "state.json"
    source.write_bytes(orjson.dumps(state))
    p = page.open(_write_page(source, tmp_path / "page.html"))
    _expect_counts(p.evaluate("window.__rt.stats()"), state)
    assert page.errors == []
