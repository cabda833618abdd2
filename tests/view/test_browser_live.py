"""The viewer following a bundle as it is written, in a real browser (headless Chromium
through Playwright): the served page's live polls (the details pane kept, the badge offline
then live again, what was skipped and when the bundle cannot be read, a fitted timeline
following the growing rollout) and a page written while the recording is still open (it says
so; open turns and calls reach the last known time). Split out of ``test_browser.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rollout_trace_sdk.view.serve import ViewServer

from .conftest import HOSTILE_ID, Page, skipping_bundle, touch_later, write_page


def _serve_copy(bundle: Path, tmp_path: Path) -> Path:
    live = tmp_path / "live"
    shutil.copytree(bundle, live)
    (live / "state.json").unlink(missing_ok=True)
    return live


def test_a_live_poll_leaves_the_details_pane_as_it_was(
    page: Page, demo_bundle: Path, tmp_path: Path
) -> None:
    """Each change of the log redrew the details pane: scrolled back to the top, the opened
    payload closed, an agent's details replaced by the selected call (found by review)."""
    live = _serve_copy(demo_bundle, tmp_path)
    with ViewServer(live, 0) as server:
        p = page.open(server.url)
        p.locator("[data-testid=row-call]").last.click()
        p.click("button[data-payload]")
        p.wait_for_selector("[data-testid=payload]")
        pane = "document.getElementById('detail-pane')"
        assert p.evaluate(f"{pane}.scrollTop = 300") == 300
        fetched: list[str] = []
        p.on("request", lambda r: fetched.append(r.url) if "model.json" in r.url else None)
        touch_later(live / "trace.jsonl")
        p.evaluate("window.__rt.poll()")
        assert fetched  # the model was fetched again
        assert p.evaluate(f"{pane}.scrollTop") == 300
        assert p.locator("[data-testid=payload]").count() == 1
        p.click("#detail [data-go^=thread]")  # an agent's details: not the selected call
        assert "thread id" in p.inner_text("#detail")
        touch_later(live / "trace.jsonl")
        p.evaluate("window.__rt.poll()")
        assert "thread id" in p.inner_text("#detail")
    assert page.errors == []


def test_a_live_poll_keeps_the_selection_by_its_id_not_its_position(
    page: Page, demo_bundle: Path, failed_tool_bundle: Path, tmp_path: Path
) -> None:
    """A poll re-selected the call at the selected one's index in the new model: a bundle
    rewritten under the served page (another rollout written to its path) had its details and
    its address name whichever call was at that position, and a log cut back kept showing a
    call the state no longer held (found by user39)."""
    live = _serve_copy(demo_bundle, tmp_path)
    with ViewServer(live, 0) as server:
        p = page.open(server.url + "#call=call_0_cat")
        assert "call_0_cat" in p.inner_text("#detail")
        shutil.rmtree(live)
        shutil.copytree(failed_tool_bundle, live)  # its one tool call (c1) is at call_0_cat's index
        touch_later(live / "trace.jsonl")
        p.evaluate("window.__rt.poll()")
        assert p.evaluate("window.__rt.stats().tools") == 1  # the new rollout was read
        assert p.evaluate("location.hash") == "#call=call_0_cat"
        gone = p.inner_text("[data-testid=selection-gone]")
        assert "call_0_cat" in gone
        assert "c1" not in p.inner_text("#detail")
        assert p.locator("#list [aria-selected=true]").count() == 0
        p.evaluate("window.__rt.select('c1')")  # selecting works on as before
        assert p.evaluate("location.hash") == "#call=c1"
    assert page.errors == []


def test_a_live_poll_keeps_the_shown_agent_by_its_id_not_its_position(
    page: Page, demo_bundle: Path, failed_tool_bundle: Path, tmp_path: Path
) -> None:
    """An agent's details shown (the agents tab marking it, its calls only listed) through a
    poll that read a bundle rewritten under the page: the list still marked the old position,
    now another agent, the filter kept it, and the pane kept the old agent's details as if it
    were still there (found by user39)."""
    live = _serve_copy(demo_bundle, tmp_path)
    with ViewServer(live, 0) as server:
        p = page.open(server.url)
        root = "/root"
        p.click('.tabs button[data-tab="agents"]')
        p.locator("[data-testid=row-agent]").first.click()
        shown = p.inner_text("#detail")
        assert root in shown and "thread id" in shown
        touch_later(live / "trace.jsonl")  # the same rollout, read again: the agent stays
        p.evaluate("window.__rt.poll()")
        assert p.inner_text("#detail") == shown
        assert p.locator("#list [aria-selected=true]").count() == 1
        old_id = p.evaluate("window.__rt.threadId(0)")
        p.click("[data-filter-thread]")  # only its calls listed (the calls tab)
        assert p.locator("#clear-thread").count() == 1
        shutil.rmtree(live)
        shutil.copytree(failed_tool_bundle, live)  # another rollout: its root is at index 0
        touch_later(live / "trace.jsonl")
        p.evaluate("window.__rt.poll()")
        assert p.evaluate("window.__rt.stats().tools") == 1  # the new rollout was read
        assert p.evaluate("window.__rt.threadId(0)") != old_id
        assert old_id in p.inner_text("[data-testid=selection-gone]")
        assert p.locator("#clear-thread").count() == 0  # its filter went with it
        p.click('.tabs button[data-tab="agents"]')
        assert p.locator("[data-testid=row-agent]").count() == 1
        assert p.locator("#list [aria-selected=true]").count() == 0
    assert page.errors == []


def test_a_deep_link_to_a_call_not_yet_recorded_selects_it_once_it_arrives(
    page: Page, demo_bundle: Path, tmp_path: Path
) -> None:
    """Served while recording, a link to a call the log did not hold yet said so, and then
    selected nothing when a poll brought the call (found by user39). It is selected once it
    arrives, unless the user selected something meanwhile."""
    live = _serve_copy(demo_bundle, tmp_path)
    log = live / "trace.jsonl"
    whole = log.read_bytes()
    lines = whole.splitlines(keepends=True)
    cut = next(n for n, line in enumerate(lines) if b"call_0_close" in line)
    with ViewServer(live, 0) as server:
        for user_selects in (False, True):
            log.write_bytes(b"".join(lines[:cut]))
            touch_later(log)
            p = page.open(server.url + "#call=call_0_close")
            assert "call_0_close" in p.inner_text("[data-testid=link-not-found]")
            touch_later(log)  # a poll that brings nothing new: the note stays
            p.evaluate("window.__rt.poll()")
            assert p.locator("[data-testid=link-not-found]").count() == 1
            if user_selects:
                p.locator("[data-testid=row-call]").first.click()
                chosen = p.evaluate("location.hash")
            log.write_bytes(whole)
            touch_later(log)
            p.evaluate("window.__rt.poll()")
            assert p.evaluate("window.__rt.stats().calls") > 0
            if user_selects:
                assert p.evaluate("location.hash") == chosen
                assert "call_0_close" not in p.inner_text("#detail")
            else:
                assert p.evaluate("location.hash") == "#call=call_0_close"
                assert "call_0_close" in p.inner_text("#detail")
                assert "call_0_close" in p.inner_text("#list [aria-selected=true]")
            p.goto("about:blank")
    assert page.errors == []


def test_the_live_badge_says_offline_then_live_again(
    page: Page, demo_bundle: Path, tmp_path: Path
) -> None:
    """Once a poll failed, the badge said "offline" for good (found by review)."""
    with ViewServer(demo_bundle, 0) as server:
        p = page.open(server.url)
        assert p.inner_text("#live") == "live"
        p.route("**/status", lambda route: route.abort())
        p.evaluate("window.__rt.poll()")
        assert p.inner_text("#live") == "offline"
        p.unroute("**/status")
        p.evaluate("window.__rt.poll()")
        assert p.inner_text("#live") == "live"
    page.errors.clear()  # the aborted request's console error


def test_the_served_page_says_what_was_skipped_and_when_the_bundle_cannot_be_read(
    page: Page, demo_bundle: Path, tmp_path: Path
) -> None:
    """``--serve`` reduced leniently and said nothing of what it skipped, and kept serving
    the last state as "live" once the bundle could no longer be read (found by review)."""
    bundle = skipping_bundle(demo_bundle, tmp_path)
    with ViewServer(bundle, 0) as server:
        p = page.open(server.url)
        notes = p.locator("[data-testid=lenient-notes]")
        assert "Lenient reduction skipped 1 thing(s)" in notes.inner_text()
        notes.locator("summary").click()
        assert HOSTILE_ID in notes.inner_text()
        assert p.inner_text("#live") == "live"
        calls = p.evaluate("window.__rt.stats().calls")
        (bundle / "trace.jsonl").write_bytes(b'{"not": "a trace"}\n')
        p.evaluate("window.__rt.poll()")
        assert p.inner_text("#live") == "stale"
        assert "The bundle could not be read" in p.inner_text("[data-testid=read-error]")
        assert p.evaluate("window.__rt.stats().calls") == calls  # the last state, kept
    assert page.errors == []


def test_a_recording_still_being_written_says_so(page: Page, tmp_path: Path) -> None:
    """A bundle whose recorder holds its log reads ``still recording``, not ``recording
    unclosed`` as a killed one does (review cli26)."""
    import concurrent.futures

    import anyio

    from rollout_trace_sdk.record import open_rollout

    async def record() -> str:
        async with open_rollout(tmp_path / "traces") as rollout:
            async with rollout.root.turn() as turn:
                turn.accept_item_id("a")
            await rollout.flush()
            assert rollout.bundle_dir is not None
            return write_page(rollout.bundle_dir, tmp_path / "live.html")

    # in a thread of its own: playwright's sync API runs an event loop in this one
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        uri = pool.submit(anyio.run, record).result(timeout=60)
    p = page.open(uri)
    assert p.inner_text("#recording") == "still recording"
    assert page.errors == []


def test_an_unfinished_recordings_open_turn_and_calls_reach_its_last_known_time(
    page: Page, tmp_path: Path
) -> None:
    """A rollout with no end (still recording, or killed) drew each open turn and call from
    its start to its start: the running turn's band, seconds long, was not drawn at all, so
    a killed run's last turn could not be seen or hovered (review viewer26). Each now reaches
    the last time the state knows."""
    import concurrent.futures

    import anyio

    from rollout_trace_sdk.record import open_rollout

    async def record() -> str:
        async with (
            open_rollout(tmp_path / "traces", model="m") as rollout,
            rollout.root.turn() as turn,
        ):
            history = turn.accept(
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "go"}],
                }
            )
            async with turn.inference({"model": "m", "input": history}) as call:
                await anyio.sleep(0.05)
                call.completed(output_items=[])
            tool = turn.tool_call("call_open", "ls", arguments="{}")
            await tool.__aenter__()  # left open: the recording goes on
            await anyio.sleep(0.05)
            async with turn.inference({"model": "m", "input": history}) as later:
                await anyio.sleep(0.05)
                later.completed(output_items=[])
            await rollout.flush()
            assert rollout.bundle_dir is not None
            uri = write_page(rollout.bundle_dir, tmp_path / "live.html")
            await tool.__aexit__(None, None, None)
            return uri

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        uri = pool.submit(anyio.run, record).result(timeout=60)
    p = page.open(uri)
    turn = p.evaluate("window.__rt.blockSpan('turn', 0)")
    tool = p.evaluate("window.__rt.blockSpan('tool', 0)")
    later = p.evaluate("window.__rt.blockSpan('call', 1)")
    assert later["e"] - later["s"] >= 40
    assert turn["e"] >= later["e"] and turn["e"] - turn["s"] >= 140
    assert tool["e"] >= later["e"] and tool["e"] - tool["s"] >= 90
    assert page.errors == []


def test_a_served_timeline_left_fitted_follows_the_growing_rollout(
    page: Page, demo_bundle: Path, tmp_path: Path
) -> None:
    """Served, the timeline kept the span it was first fitted to: what the recorder wrote
    next was drawn past its right edge until "fit" was pressed (review viewer26, following
    a live recording). A view left fitted now grows with the rollout; one the user zoomed
    or panned is kept."""
    live = _serve_copy(demo_bundle, tmp_path)
    log = live / "trace.jsonl"
    whole = log.read_bytes()
    lines = whole.splitlines(keepends=True)
    log.write_bytes(b"".join(lines[: len(lines) // 2]))
    with ViewServer(live, 0) as server:
        p = page.open(server.url)
        v0, v1, t1 = p.evaluate("window.__rt.view()")
        log.write_bytes(whole)
        touch_later(log)
        p.evaluate("window.__rt.poll()")
        p.wait_for_function(f"window.__rt.view()[2] > {t1}")
        v0, v1, grown = p.evaluate("window.__rt.view()")
        assert v0 == 0 and v1 >= grown
        p.evaluate(f"window.__rt.zoom(0, {grown / 4})")  # the user's own window is kept
        touch_later(log)
        p.evaluate("window.__rt.poll()")
        p.wait_for_timeout(300)
        assert p.evaluate("window.__rt.view()")[:2] == [0, grown / 4]
    assert page.errors == []
