"""The viewer in a real browser: headless Chromium driven by Playwright.

Checks what a user sees against the reduced state: lanes, calls and edges; clicking a tool
call on the timeline shows its arguments and output; clicking an inference call in the list
shows its conversation; search, deep links, payloads opened on demand (static: inflated in the
page; serve: fetched), failures highlighted. Screenshots land in the artifacts directory.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.view.serve import ViewServer

from ..conftest import CONFORMANCE, CONFORMANCE_V3, needs_conformance, needs_conformance_v3
from .conftest import (
    COMPACTION_ERROR,
    PLANTED_ERROR,
    TOOL_ERROR,
    TURN_ERROR,
    UNSENT_RESULT,
    Page,
    write_page,
)


@pytest.fixture(scope="module")
def small_page(demo_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_page(demo_bundle, tmp_path_factory.mktemp("page") / "small.html")


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
    p = page.open(write_page(failing_state, tmp_path / "failing.html"))
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
    p = page.open(write_page(demo_bundle_200, tmp_path / "large.html"))
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
    p = page.open(write_page(bundle, tmp_path / "failed-call.html"))
    _shows_and_finds_its_error(p, "call-error", error, "model overloaded")
    assert page.errors == []


def _shows_and_finds_its_error(p: Any, testid: str, error: str, words: str) -> None:
    """The one failed call, listed by the failed count, shows ``error`` (its markup as text)
    in its ``testid`` box; the search finds it by ``words`` of that text (only tool calls'
    error texts were searched)."""
    p.click("#count-failed")
    p.locator("#list .row").first.click()
    assert error in p.inner_text(f"[data-testid={testid}]")
    assert p.locator("#detail b", has_text="not bold").count() == 0
    p.click("#count-failed")  # the filter off: the search alone picks the row
    p.fill("#search", words)
    p.wait_for_function(
        f"document.querySelector('#filter-note').textContent.includes({'“' + words + '”'!r})"
    )
    assert "1 row matches" in p.inner_text("#filter-note"), p.inner_text("#filter-note")


def test_failed_compaction_request_shows_its_error_text(
    page: Page, failed_compaction_bundle: Path, tmp_path: Path
) -> None:
    """A failed compaction request's panel said "failed" alone, though the log holds its
    error (review polish27): shown as a failed inference call's is, as text."""
    p = page.open(write_page(failed_compaction_bundle, tmp_path / "failed-compaction.html"))
    _shows_and_finds_its_error(p, "request-error", COMPACTION_ERROR, "compact what?")
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
    p = page.open(write_page(source, tmp_path / "page.html"))
    _expect_counts(p.evaluate("window.__rt.stats()"), state)
    assert page.errors == []


def _state_page(state: Any, tmp_path: Path) -> str:
    source = tmp_path / "state.json"
    source.write_bytes(orjson.dumps(state))
    return write_page(source, tmp_path / "page.html")


def _copy(state: Any) -> Any:
    return orjson.loads(orjson.dumps(state))


def _rows(p: Any) -> list[tuple[str, int]]:
    return [
        (kind, int(i))
        for kind, i in p.evaluate(
            "[...document.querySelectorAll('#list .row[data-kind]')].map(r => [r.dataset.kind, r.dataset.i])"
        )
    ]


def test_a_failed_tool_calls_error_is_shown_from_its_raw_result(
    page: Page, failed_tool_bundle: Path, tmp_path: Path
) -> None:
    """The page said "(no error text was recorded)" where ``summary`` showed the text
    ``tool.failed`` recorded in the raw result (found by review)."""
    p = page.open(write_page(failed_tool_bundle, tmp_path / "failed-tool.html"))
    p.click("#count-failed")
    p.locator("#list .row").first.click()
    error = p.inner_text("[data-testid=error]")
    assert TOOL_ERROR in error and "no error text" not in error
    assert p.locator("#detail b", has_text="not bold").count() == 0
    assert page.errors == []


def test_a_result_no_request_carried_and_a_turns_error_are_shown(
    page: Page, stopped_bundle: Path, tmp_path: Path
) -> None:
    """The last tool call before a run stopped read "(no model-visible output)" though its
    raw result holds the answer; the failed turn's error was nowhere (found by review
    viewfix19). The answer is text, never markup."""
    p = page.open(write_page(stopped_bundle, tmp_path / "stopped.html"))
    p.fill("#search", "get_weather")
    # the search applies after a pause: clicking before it would race its re-render
    p.wait_for_function("document.querySelector('#filter-note').textContent.includes('match')")
    p.locator("#list .row[data-kind=tool]").first.click()
    assert p.inner_text("[data-testid=tool-output]") == UNSENT_RESULT
    assert p.locator("#detail b", has_text="not bold").count() == 0
    p.locator("#detail .link[data-go^=thread]").first.click()
    assert TURN_ERROR in p.inner_text("[data-testid=turn-error]")
    assert page.errors == []


def test_a_tool_call_is_listed_after_its_call_within_a_millisecond(
    page: Page, demo_state: Any, tmp_path: Path
) -> None:
    """Calls and tool calls started in the same millisecond (a fast loop) were listed every
    inference call first, so a tool call came after the next inference call (found by
    review)."""
    state = _copy(demo_state)
    for table in ("inference_calls", "tool_calls", "terminal_operations", "codex_turns"):
        for obj in state[table].values():
            execution = obj["execution"]
            execution["started_at_unix_ms"] = execution["ended_at_unix_ms"] = 1_700_000_000_000
    p = page.open(_state_page(state, tmp_path))
    model = p.evaluate("JSON.parse(document.getElementById('rt-model').textContent)")
    asked_by = {tool: n for n, call in enumerate(model["calls"]) for tool in call["tools"]}
    last_call: dict[int, int] = {}  # per agent: the list interleaves them
    seen = 0
    shown = p.evaluate(
        "[...document.querySelectorAll('#list .row[data-kind]')]"
        ".map(r => [new DOMMatrix(r.style.transform).m42, r.dataset.kind, +r.dataset.i])"
    )
    for _, kind, i in sorted(shown):  # the pool's rows are placed by transform
        if kind == "call":
            last_call[model["calls"][i]["t"]] = i
        elif kind == "tool":
            assert last_call.get(model["tools"][i]["t"]) == asked_by[i], (i, sorted(shown))
            seen += 1
    assert seen == len(asked_by) == 7
    assert page.errors == []


@pytest.mark.parametrize("ended", [2**52, 4_102_444_800_000])  # 2^52 ms; 2100-01-01
def test_a_far_future_time_leaves_the_page_responsive(
    page: Page, demo_state: Any, tmp_path: Path, ended: int
) -> None:
    """The axis's steps stopped at an hour: a span of millennia drew (span / 1 h) ticks a
    frame and froze the page (found by review)."""
    state = _copy(demo_state)
    state["ended_at_unix_ms"] = ended
    p = page.open(_state_page(state, tmp_path), timeout=5_000)
    p.wait_for_function("window.__rt.stats().drawn.ticks > 0", timeout=5_000)
    assert 3 <= p.evaluate("window.__rt.stats().drawn.ticks") <= 100
    p.evaluate("window.__rt.zoom(0, 1e300)")  # no span is too long to draw
    assert 1 <= p.evaluate("window.__rt.stats().drawn.ticks") <= 100
    assert page.errors == []


def test_search_finds_tool_and_compaction_payload_ids_whole(page: Page, small_page: str) -> None:
    """Payload ids of tool calls and compactions were not searchable, and ``raw_payload:4``
    matched ``raw_payload:46`` (found by review)."""
    p = page.open(small_page)
    model = p.evaluate("JSON.parse(document.getElementById('rt-model').textContent)")
    for kind, table, keys in (
        ("tool", "tools", ("inv", "res")),
        ("cmp", "compactions", ("rq", "rs")),
    ):
        for key in keys:
            ident = model[table][0][key]
            p.fill("#search", ident)
            p.wait_for_function(
                f"document.querySelector('#filter-note').textContent.includes({ident!r})"
            )
            assert (kind, 0) in _rows(p), (kind, key, ident)

    def mentions(record: Any, ident: str) -> bool:
        direct = {record.get(k) for k in ("rq", "rs", "inv", "res")}
        listed = [ix for k in ("req", "resp", "ci", "oi", "repl") for ix in record.get(k, [])]
        return ident in direct or any(model["items"][ix].get("p") == ident for ix in listed)

    tables = {"call": model["calls"], "tool": model["tools"], "cmp": model["compactions"]}
    for short in {c["rq"] for c in model["calls"]} | {t["inv"] for t in model["tools"]}:
        longer = [f"{short}{n}" for n in range(10)]
        if not any(
            r.get(k) in longer
            for r in model["calls"] + model["tools"]
            for k in ("rq", "rs", "inv", "res")
        ):
            continue  # only ids that prefix another one tell anything
        p.fill("#search", short)
        p.wait_for_function(
            f"document.querySelector('#filter-note').textContent.includes('“{short}”')"
        )
        rows = _rows(p)
        assert rows and all(mentions(tables[kind][i], short) for kind, i in rows), (short, rows)
    assert page.errors == []


def test_deep_links_that_do_not_decode_or_hold_line_breaks(
    page: Page, demo_state: Any, tmp_path: Path
) -> None:
    """A malformed link threw before the page was ready; an id with CR or LF did not come
    back from its own link (found by review)."""
    state = _copy(demo_state)
    ident = "call_0\r\ncat"
    state["tool_calls"]["call_0_cat"].update(tool_call_id=ident, model_visible_call_id=None)
    url = _state_page(state, tmp_path)
    p = page.open(url + "#call=%E0%A4%A", timeout=5_000)
    assert "Select a call" in p.inner_text("#detail")
    p.evaluate(f"window.__rt.select({ident!r})")
    link = p.evaluate("location.hash")
    assert link == "#call=call_0%0D%0Acat"
    p.goto("about:blank")  # a fresh load, not a hash change of the page that selected it
    p.goto(url + link)
    p.wait_for_function("window.__rt && window.__rt.ready", timeout=5_000)
    assert '"cmd":"cat"' in p.inner_text("[data-testid=tool-args]")
    assert page.errors == []


def test_a_deep_link_to_what_the_rollout_does_not_hold_says_so(
    page: Page, demo_bundle: Path, tmp_path: Path
) -> None:
    """A link to a call, compaction, code cell or agent the rollout does not hold (a link
    from another recording of the run, an id mistyped) opened the page with "Select a call"
    and nothing more: the user could not tell the link from no link (found by user39)."""
    url = write_page(demo_bundle, tmp_path / "demo.html")
    for link, said in [
        ("#call=call_9_nowhere", "call_9_nowhere"),
        ("#compaction=cmp_x", "cmp_x"),
        ("#cell=cell_x", "cell_x"),
        ("#thread=/root/nobody", "/root/nobody"),
        ("#call=%3Cb%3Ex%3C%2Fb%3E", "<b>x</b>"),  # said as text
    ]:
        p = page.open(url + link)
        assert said in p.inner_text("[data-testid=link-not-found]"), link
        assert "does not hold" in p.inner_text("#detail")
    p = page.open(url + "#call=call_0_cat")  # one it holds: no such note
    assert p.locator("[data-testid=link-not-found]").count() == 0
    p.goto("about:blank")  # a fresh load, not a hash change of the page that selected it
    p = page.open(url + "#call=%E0%A4%A")  # one that does not decode: nothing, as before
    assert "Select a call" in p.inner_text("#detail")
    assert page.errors == []


def test_a_spawn_chain_thousands_deep_is_drawn(page: Page, demo_state: Any, tmp_path: Path) -> None:
    """Lanes were ordered by recursion: 20,000 agents each spawned by the one before
    overflowed the call stack and left the page blank (found by review)."""
    state = _copy(demo_state)
    root = state["threads"][state["root_thread_id"]]
    parent = root["thread_id"]
    for n in range(20_000):
        ident = f"t{n}"
        origin = {"type": "spawned", "parent_thread_id": parent, "spawn_edge_id": f"e{n}"}
        execution = {**root["execution"], "started_seq": 100_000 + n}
        state["threads"][ident] = {
            **root,
            "thread_id": ident,
            "agent_path": f"/chain/{n}",
            "origin": origin,
            "execution": execution,
            "conversation_item_ids": [],
        }
        parent = ident
    p = page.open(_state_page(state, tmp_path), timeout=10_000)
    assert p.evaluate("window.__rt.stats().lanes") == len(state["threads"])
    assert page.errors == []


def test_durations_are_rounded_before_they_are_split(
    page: Page, demo_state: Any, tmp_path: Path
) -> None:
    """119,600 ms read "1m 60s" (found by review)."""
    state = _copy(demo_state)
    first = min(state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"])
    execution = first["execution"]
    execution["ended_at_unix_ms"] = execution["started_at_unix_ms"] + 119_600
    p = page.open(_state_page(state, tmp_path))
    row = p.locator('#list .row[data-kind=call][data-i="0"]')
    assert row.locator(":scope > span").nth(5).inner_text() == "2m 0s"
    assert page.errors == []


def test_a_missing_kind_is_unknown(page: Page, demo_state: Any, tmp_path: Path) -> None:
    """An edge or item without a ``kind`` (read, not required) broke the details pane
    (found by review)."""
    state = _copy(demo_state)
    items = state["conversation_items"]
    # a call whose response holds an item that is no message (a message shows no kind): the
    # response's items are always shown, where the conversation's older items may be left
    # out ("only new"); chosen by id, as the last row of a list still being drawn is not
    # always the same call
    call = next(
        c["inference_call_id"]
        for c in state["inference_calls"].values()
        if any(items[i]["kind"] != "message" for i in c["response_item_ids"] if i in items)
    )
    for edge in state["interaction_edges"].values():
        del edge["kind"]
    for item in items.values():
        del item["kind"]
    p = page.open(_state_page(state, tmp_path))
    p.evaluate("window.__rt.select('call_0_spawn')")
    assert "unknown → /root/helper_0" in p.inner_text("#detail")
    assert p.evaluate(f"window.__rt.select({call!r})")
    # the items' text as drawn into the page (inner_text leaves out an item the browser has
    # not laid out yet: below the fold, it read none of them now and then)
    drawn = p.locator("#detail .item").all_text_contents()
    assert drawn and any("unknown" in text for text in drawn)
    assert page.errors == []


def test_what_capture_limits_cut_or_left_out_is_said(
    page: Page, capped_bundles: dict[str, Path], tmp_path: Path
) -> None:
    """The header did not say the recording was partial, a cut text read ``[text]`` and a
    payload cut to its first 2,000 bytes opened as if it were whole (found by review)."""
    for name, bundle in capped_bundles.items():
        p = page.open(write_page(bundle, tmp_path / f"{name}.html") + "#call=c0")
        assert p.inner_text("#recording") == "recording closed with partial payloads"
        p.wait_for_selector("[data-testid=tool-args]")
        if name == "truncated":
            assert ", truncated: 2,000 of 12,512 bytes kept]" in p.inner_text(
                "[data-testid=tool-args]"
            )
            p.click("button[data-payload]")  # the raw invocation: its value cut
        else:
            p.locator("button[data-payload]", has_text="result").click()  # omitted
        note = p.wait_for_selector("[data-testid=capture]").inner_text()
        assert " was not recorded whole (" in note
        assert ("truncated: 2,000 of" if name == "truncated" else "omitted: ") in note
    assert page.errors == []


def test_the_header_and_the_calls_list_fit_a_narrow_window(
    browser: Any, failing_state: Path, capped_bundles: dict[str, Path], tmp_path: Path
) -> None:
    """At 1,024 px (1,280 for a capture-limited bundle) the header's one line cut off its end:
    "recording closed with partial payloads" and the red "N failed" were clipped out of view;
    and the calls list cut off its tokens column (found by review, in screenshots)."""
    pages = {
        "count-failed": write_page(failing_state, tmp_path / "failing.html"),
        "recording": write_page(capped_bundles["truncated"], tmp_path / "capped.html"),
    }
    for width in (1024, 1280):
        for target, url in pages.items():
            opened = Page(browser, width=width, height=700)
            try:
                p = opened.open(url)
                shown = p.evaluate(
                    """(id) => { const e = document.getElementById(id).getBoundingClientRect();
                    const s = document.getElementById("summary").getBoundingClientRect();
                    return e.right <= s.right + 0.5 && e.bottom <= s.bottom + 0.5 && e.width > 0; }""",
                    target,
                )
                assert shown, (width, target)
                clipped = p.evaluate(
                    """() => [...document.querySelectorAll("#list .row, #list-head")].flatMap(
                      (row) => [...row.children]).filter((c) => c.classList.contains("num")
                      && c.scrollWidth > c.clientWidth + 1).map((c) => c.textContent)"""
                )
                assert clipped == [], (width, target)
                assert opened.errors == []
            finally:
                opened.close()


def test_a_compaction_lists_the_items_it_replaced(
    page: Page, small_page: str, demo_state: Any
) -> None:
    """A compaction's details said "replaced 16 items with 2" and showed the two: what it
    dropped could only be pieced together from the call before it (review viewer26). The
    items it replaced are listed, each kept word for word in the replacement tagged."""
    (compaction,) = demo_state["compactions"].values()
    replaced = compaction["input_item_ids"]
    p = page.open(small_page + "#compaction=" + compaction["compaction_id"])
    listed = p.locator('[data-list="replaced"] .item')
    assert listed.count() == len(replaced)
    assert p.locator("#detail h3", has_text=f"Items it replaced · {len(replaced)}").count() == 1

    from rollout_trace_sdk.view.model import build_view_model

    model = build_view_model(demo_state)
    by_id = {item["id"]: item for item in model["items"]}

    def said(item_id: str) -> tuple[Any, Any]:
        return by_id[item_id]["role"], by_id[item_id]["text"]

    kept_again = {said(i) for i in compaction["replacement_item_ids"]}
    kept = sum(said(i) in kept_again for i in replaced)
    assert 0 < kept < len(replaced)
    assert p.locator('[data-list="replaced"] .item .tag.kept').count() == kept
    assert page.errors == []


@needs_conformance_v3
def test_the_failed_count_says_what_it_counts_and_agrees_with_summary(
    page: Page, tmp_path: Path
) -> None:
    """The header read "1 failed" and summary "failures (3)" for the same rollout (viewer26):
    both count the calls list's rows that failed (summary then names the turn and terminal
    operation it lists besides), and the header says so on it."""
    from rollout_trace_sdk.view.load import load_state
    from rollout_trace_sdk.view.summary import build_summary

    [bundle] = sorted((CONFORMANCE_V3 / "app_server_turn_interrupt").glob("trace-*"))
    p = page.open(write_page(bundle, tmp_path / "interrupted.html"))
    failed = build_summary(load_state(bundle))["totals"]["failed_calls"]
    assert p.inner_text("#count-failed") == f"{failed} failed" == "1 failed"
    title = p.get_attribute("#count-failed", "title") or ""
    assert title.startswith("1 failed, aborted or cancelled call (inference calls, tool calls,")
    assert "not turns or agents" in title
    assert page.errors == []


@needs_conformance
def test_a_tool_call_that_never_ended_says_so_once(page: Page, tmp_path: Path) -> None:
    """A tool call an interrupt left open in a completed rollout (``interrupt_during_tool``)
    read "running · running" in its row and tooltip: the status stays Codex's, the duration
    says it never ended, once."""
    [bundle] = sorted((CONFORMANCE / "interrupt_during_tool").glob("trace-*"))
    p = page.open(write_page(bundle, tmp_path / "interrupted.html"))
    row = p.locator("#list .row[data-kind=tool]")
    cells = row.locator(":scope > span").all_inner_texts()
    assert cells[4:6] == ["never ended", ""], cells  # status column; no duration
    status = row.locator(":scope > span").nth(4)
    assert status.get_attribute("title") == (
        "never ended (the rollout is complete); Codex's status: running"
    )
    assert not status.evaluate("el => el.scrollWidth > el.clientWidth")  # said whole
    where = p.evaluate("window.__rt.blockCenter('tool', 0)")
    box = p.locator("#timeline").bounding_box()
    assert box is not None
    p.mouse.move(box["x"] + where["x"], box["y"] + where["y"])
    tip = p.inner_text("#tl-tip").split("\n")[0]
    assert tip == "tool exec_command · running · never ended (the rollout is complete)", tip
    row.click()
    assert p.inner_text("[data-testid=tool-output]") == "(none: it never ended)"
    assert "running · running" not in p.inner_text("#detail")
    assert page.errors == []
