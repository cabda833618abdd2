"""The viewer in a real browser: how the page answers the user (scroll, links, headings,
tooltips), each found by review in Chromium."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import orjson
import zstandard

from rollout_trace_sdk.model import layout
from rollout_trace_sdk.reduce.shards import decompress_shard
from rollout_trace_sdk.view import live
from rollout_trace_sdk.view.serve import ViewServer

from ..record.test_hosted_calls import record_hosted_rollout
from .conftest import Page, touch_later, write_page


def _state_page(state: Any, tmp_path: Path) -> str:
    """A page of a state.json (no payloads embedded: quick to write)."""
    source = tmp_path / "state.json"
    source.write_bytes(orjson.dumps(state))
    return write_page(source, tmp_path / "page.html")


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


def test_clearing_the_search_brings_the_list_back_to_the_selection(
    page: Page, demo_state_200: Any, tmp_path: Path
) -> None:
    """A call found by a search, deep in the list, was out of sight once the search was
    cleared: the list stayed at its top, though seeing what happened around a match is why
    one clears it; the arrow keys then jumped there (found by user39)."""
    p = page.open(_state_page(demo_state_200, tmp_path))
    _search(p, "call_150_sum")
    p.press("#search", "Enter")
    link = p.evaluate("location.hash")
    p.fill("#search", "")
    p.wait_for_function("!document.querySelector('#filter-note').textContent.includes('“')")
    assert p.evaluate("location.hash") == link  # still selected
    inside = p.evaluate(
        """() => { const list = document.getElementById('list').getBoundingClientRect();
        const row = document.querySelector('#list .row.sel');
        if (!row) return false;
        const r = row.getBoundingClientRect();
        return r.top >= list.top && r.bottom <= list.bottom; }"""
    )
    assert inside
    assert p.evaluate("document.getElementById('list').scrollTop") > 0  # not the top rows
    assert page.errors == []


def test_a_cut_texts_note_opens_its_payload(
    page: Page, capped_bundles: dict[str, Path], tmp_path: Path
) -> None:
    """A text a capture limit cut read ``[text: raw_payload:N, truncated: …]`` with nothing to
    click: the payload it names was reachable only through the raw request or response."""
    p = page.open(write_page(capped_bundles["truncated"], tmp_path / "t.html") + "#call=c0")
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
    # drawn once the selection's pane is (CI's loaded machine read it empty once)
    p.wait_for_function(
        "() => (document.querySelector('#detail .item [data-payload]') || {}).innerText"
    )
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
    p = page.open(write_page(demo_bundle, tmp_path / "d.html") + "#call=call_0_cat")
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
    p = page.open(write_page(demo_bundle, tmp_path / "d.html"))
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

    def counted(n: int, word: str) -> str:
        return f"{n} {word}" + ("" if n == 1 else "s")

    assert lines[2] == f"{counted(len(calls), 'inference call')} · {counted(tools, 'tool call')}"
    p.mouse.click(box["x"] + where["x"], box["y"] + where["y"])
    assert p.evaluate("location.hash") == "#call=" + model["calls"][calls[0]]["id"]
    assert "Inference call" in p.inner_text("#detail h2")
    assert page.errors == []


_LIVE = """
import sys, anyio
from rollout_trace_sdk.record import open_rollout

async def main(root):
    call_item = {"type": "function_call", "name": "exec_command", "call_id": "c1", "arguments": "{}"}
    async with open_rollout(root, model="m", schema_version=3) as rollout, rollout.root.turn() as turn:
        history = turn.accept({"type": "message", "role": "user", "content": "go"})
        async with turn.inference({"model": "m", "input": history}) as call:
            history += call.completed(output_items=[call_item])
        async with turn.tool_call("c1", "exec_command", arguments="{}") as tool:
            tool.completed({"type": "function_call_output", "call_id": "c1", "output": "done"})
    print(rollout.bundle_dir)

anyio.run(main, sys.argv[1])
"""


class _Writing:
    """A schema-3 bundle caught mid-write: its log ends with the tool call's end (the
    recording open), whose result payload its shard, still being written, lacks."""

    def __init__(self, root: Path) -> None:
        done = subprocess.run(
            [sys.executable, "-c", _LIVE, str(root / "rec")],
            capture_output=True,
            text=True,
            check=True,
        )
        self.bundle = Path(done.stdout.strip())
        log = self.bundle / "trace.jsonl"
        self.lines = log.read_bytes().splitlines(keepends=True)
        cut = next(n for n, line in enumerate(self.lines) if b'"type":"tool_call_ended"' in line)
        self.result = max(re.findall(rb"raw_payload:\d+", self.lines[cut]), key=len).decode()
        log.write_bytes(b"".join(self.lines[: cut + 1]))
        self.closing = b"".join(self.lines[cut + 1 :])  # up to recording_completed
        self.shard = self.bundle / "payloads" / "000001.zst"
        data, sealed = decompress_shard(self.shard.read_bytes())
        assert sealed
        self.records = _records(data)
        self.write_shard(with_result=False, sealed=False)

    def write_shard(self, *, with_result: bool, sealed: bool, touch: bool = True) -> None:
        body = b"".join(
            layout.shard_record(ident, record)
            for ident, record in self.records
            if with_result or ident != self.result
        )
        stream = zstandard.ZstdCompressor(write_checksum=True).compressobj()
        end = zstandard.COMPRESSOBJ_FLUSH_FINISH if sealed else zstandard.COMPRESSOBJ_FLUSH_BLOCK
        self.shard.write_bytes(stream.compress(body) + stream.flush(end))
        if touch:  # a new reading, as the recorder's next line makes
            touch_later(self.bundle / "trace.jsonl")

    def close_recording(self) -> None:
        with (self.bundle / "trace.jsonl").open("ab") as log:
            log.write(self.closing)


def _records(data: bytes) -> list[tuple[str, bytes]]:
    out, at, header = [], 0, layout.SHARD_RECORD_HEADER
    while at < len(data):
        size, length = header.unpack_from(data, at)
        at += header.size
        out.append((data[at : at + size].decode(), data[at + size : at + size + length]))
        at += size + length
    return out


def test_a_payload_the_recording_is_still_writing_is_not_said_missing(
    page: Page, tmp_path: Path, monkeypatch: Any
) -> None:
    """``--serve`` on a bundle being written showed "missing payload … in shard 1" notes for a
    payload the log cites a moment before the shard holds it (found by review: a live
    recording served). Held back while the recording is open and the shard is the one being
    written; shown when the shard is sealed without it, when the recording closes, or when the
    bundle has been still for ``live.HOLD_S``."""
    live_bundle = _Writing(tmp_path)
    notes = "[data-testid=lenient-notes]"
    err = io.StringIO()
    with ViewServer(live_bundle.bundle, 0, err=err) as server:
        p = page.open(server.url)
        assert p.locator(notes).count() == 0
        assert p.is_hidden("#notice")
        assert live_bundle.result not in err.getvalue()  # nor on the terminal
        fetched: list[str] = []
        p.on("request", lambda r: fetched.append(r.url) if "model.json" in r.url else None)
        # the shard catches up (its own change, the log unchanged): read again, nothing missing
        live_bundle.write_shard(with_result=True, sealed=False, touch=False)
        p.evaluate("window.__rt.poll()")
        assert p.locator(notes).count() == 0
        assert fetched  # the shard's change alone made a new reading
        # a sealed shard without it: the payload is gone, said at once
        live_bundle.write_shard(with_result=False, sealed=True)
        p.evaluate("window.__rt.poll()")
        assert live_bundle.result in p.locator(notes).text_content()
        # still being written again, then still for HOLD_S: shown
        live_bundle.write_shard(with_result=False, sealed=False)
        p.evaluate("window.__rt.poll()")
        assert p.locator(notes).count() == 0
        monkeypatch.setattr(live, "HOLD_S", 0.0)
        p.evaluate("window.__rt.poll()")
        assert live_bundle.result in p.locator(notes).text_content()
        monkeypatch.undo()
        # the recording closed, the shard never got it: shown
        live_bundle.write_shard(with_result=False, sealed=False)
        p.evaluate("window.__rt.poll()")
        assert p.locator(notes).count() == 0
        live_bundle.close_recording()
        p.evaluate("window.__rt.poll()")
        assert live_bundle.result in p.locator(notes).text_content()
    assert page.errors == []


def test_a_hosted_tools_item_is_named_by_its_own_kind(page: Page, tmp_path: Path) -> None:
    """A hosted tool's call is recorded as a custom tool call whose text starts with its
    type (``record/_hosted_calls``): the page said "custom tool call" for a file search and
    an MCP call alike. It names them as ``show`` does."""
    with ThreadPoolExecutor(1) as pool:  # playwright's loop runs in this thread
        pool.submit(anyio.run, record_hosted_rollout, tmp_path / "t", 3).result()
    [bundle] = (tmp_path / "t").glob("trace-*")
    p = page.open(write_page(bundle, tmp_path / "h.html"))
    model = p.evaluate("JSON.parse(document.getElementById('rt-model').textContent)")
    first = next(n for n, c in enumerate(model["calls"]))
    p.evaluate(f"location.hash = '#call=' + {model['calls'][first]['id']!r}")
    p.wait_for_selector("#detail .item")
    heads = p.eval_on_selector_all("#detail .item .ih", "els => els.map(e => e.textContent)")
    joined = " | ".join(heads)
    assert "file search call" in joined and "mcp call" in joined, joined
    assert "custom tool call" not in joined
    assert page.errors == []


def test_a_thread_recorded_without_a_model_shows_its_calls(
    page: Page, demo_state: Any, tmp_path: Path
) -> None:
    """A thread recorded with the model ``unknown`` (an Agents SDK agent's: its spans name no
    model) said "model unknown" in its details; it shows its first inference call's model,
    said to be that (newuser25)."""
    state = orjson.loads(orjson.dumps(demo_state))
    root = state["threads"][state["root_thread_id"]]
    root["default_model"] = "unknown"
    first = min(
        (c for c in state["inference_calls"].values() if c["thread_id"] == root["thread_id"]),
        key=lambda c: c["execution"]["started_seq"],
    )
    p = page.open(_state_page(state, tmp_path) + "#thread=/root")
    p.wait_for_selector("#detail h2")
    details = p.evaluate("document.querySelector('#detail').innerText")
    assert f"{first['model']} (its first inference call's" in details, details
    assert "unknown" not in details
    assert page.errors == []


def test_an_agents_details_list_the_guardrails_its_turns_ran(
    page: Page, demo_state: Any, tmp_path: Path
) -> None:
    """A guardrail that passed was only a protocol event, shown nowhere (newuser25); the
    agent's details list each one its turns ran (``view/guardrails.py`` reads them from the
    bundle: here the state carries them as it would)."""
    state = orjson.loads(orjson.dumps(demo_state))
    root = state["root_thread_id"]
    turn = next(t for t in state["codex_turns"].values() if t["thread_id"] == root)
    at = turn["execution"]["started_at_unix_ms"]
    turn["guardrails"] = [
        {"name": "no_secrets", "triggered": False, "at_unix_ms": at},
        {"name": "<b>polite</b>", "triggered": True, "at_unix_ms": at},
    ]
    p = page.open(_state_page(state, tmp_path) + "#thread=/root")
    p.wait_for_selector("#detail [data-testid=guardrail]")
    shown = p.eval_on_selector_all(
        "#detail [data-testid=guardrail]", "els => els.map(e => e.textContent)"
    )
    assert shown == ["✓ no_secrets passed", "✗ <b>polite</b> tripped"], shown
    assert page.errors == []


def _long_loop(root: Path, steps: int, task: str = "go") -> Path:
    """A recorded loop of ``steps`` tool calls, each told ``step N`` (in a thread of its own:
    Playwright's sync API runs an event loop in the test thread)."""
    from concurrent.futures import ThreadPoolExecutor

    from rollout_trace_sdk.record import open_rollout

    async def record() -> Path:
        async with open_rollout(root, model="m") as rollout, rollout.root.turn() as turn:
            history = turn.accept({"type": "message", "role": "user", "content": task})
            for n in range(steps):
                item = {
                    "type": "function_call",
                    "name": "ls",
                    "call_id": f"c{n}",
                    "arguments": "{}",
                }
                async with turn.inference({"model": "m", "input": history}) as call:
                    history += call.completed(output_items=[item])
                async with turn.tool_call(f"c{n}", "ls", arguments="{}") as tool:
                    history.append(
                        tool.completed(
                            {
                                "type": "function_call_output",
                                "call_id": f"c{n}",
                                "output": f"step {n} done",
                            }
                        )
                    )
        assert rollout.bundle_dir is not None
        return rollout.bundle_dir

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, record).result(timeout=60)


def test_a_selected_calls_first_match_is_scrolled_into_view(page: Page, tmp_path: Path) -> None:
    """Searching a text and selecting an inference call the search found showed its
    conversation from the top: the item that matched, the newest of 40, was far below,
    its highlight out of sight, as if the call had matched by mistake (review viewer26)."""
    bundle = _long_loop(tmp_path / "traces", 20)
    p = page.open(write_page(bundle, tmp_path / "page.html"))
    _search(p, "step 18 done")
    row = p.locator("#list .row", has_text="m · ").first
    row.click()
    p.wait_for_function("document.querySelectorAll('#detail mark').length > 0")
    seen = p.evaluate(
        """() => {
            const pane = document.getElementById('detail-pane').getBoundingClientRect();
            const mark = document.querySelector('#detail mark').getBoundingClientRect();
            return mark.top >= pane.top && mark.bottom <= pane.bottom;
        }"""
    )
    assert seen
    # a match below the lines an item is cut to opens the item
    bundle = _long_loop(tmp_path / "traces2", 1, "\n".join(["go"] * 40 + ["the needle"]))
    p = page.open(write_page(bundle, tmp_path / "page2.html"))
    _search(p, "the needle")
    p.locator("#list .row", has_text="m · ").first.click()
    p.wait_for_function("document.querySelectorAll('#detail mark').length > 0")
    assert p.evaluate(
        """() => {
            const pane = document.getElementById('detail-pane').getBoundingClientRect();
            const mark = document.querySelector('#detail mark');
            const at = mark.getBoundingClientRect();
            const open = mark.closest('.item').classList.contains('open');
            return open && at.top >= pane.top && at.bottom <= pane.bottom;
        }"""
    )
    assert page.errors == []


def test_the_search_note_counts_in_the_singular_and_plural(
    page: Page, demo_state_200: Any, tmp_path: Path
) -> None:
    """The search note read "1 match “…”" and "2,001 match “…”" (viewer26): "1 row matches",
    "N rows match", as the list's rows are counted when no search is on."""
    p = page.open(_state_page(demo_state_200, tmp_path))
    one = sorted(demo_state_200["inference_calls"])[0]  # an id only its own row holds
    _search(p, one)
    note = p.inner_text("#filter-note")
    assert note == f"1 row matches “{one}”", note
    _search(p, "exec_command")
    n = p.evaluate("window.__rt.stats().listRows")
    assert n > 1000 and p.inner_text("#filter-note") == f"{n:,} rows match “exec_command”"
    _search(p, "no such text anywhere")
    assert p.inner_text("#filter-note") == "0 rows match “no such text anywhere”"
    assert page.errors == []


def test_a_match_behind_show_more_is_drawn_and_scrolled_to(page: Page, tmp_path: Path) -> None:
    """A match beyond the first 150 items of a conversation (behind "show more") was not
    brought into view: the pane showed its top, the match not even drawn (viewer26). The
    items are drawn up to it, the rest still behind the button, and it is scrolled to."""
    from rollout_trace_sdk.view.load import load_state

    bundle = _long_loop(tmp_path / "traces", 80)
    p = page.open(write_page(bundle, tmp_path / "page.html"))

    def match_in_view() -> bool:
        p.wait_for_function("document.querySelectorAll('#detail [data-list=req] mark').length")
        return bool(
            p.evaluate(
                """() => {
                const pane = document.getElementById('detail-pane').getBoundingClientRect();
                const at = document.querySelector('#detail mark').getBoundingClientRect();
                return at.top >= pane.top && at.bottom <= pane.bottom;
            }"""
            )
        )

    # the call that first saw c76's output (item 155 of its 155): the match is its last item
    _search(p, "step 76 done")
    p.locator("#list .row", has_text="m · ").first.click()
    assert match_in_view()
    assert p.locator("#detail [data-list=req] .item").count() == 155
    assert p.locator("#detail [data-list=req] [data-more]").count() == 0
    # a later call (159 items) opened with the search on: drawn up to the match, 4 left
    calls = load_state(bundle)["inference_calls"].values()
    last = next(c for c in calls if len(c["request_item_ids"]) == 159)
    p.evaluate(f"location.hash = 'call=' + {last['inference_call_id']!r}")
    p.wait_for_function("document.querySelectorAll('#detail [data-list=req] .item').length > 150")
    assert match_in_view()
    assert p.locator("#detail [data-list=req] .item").count() == 155
    assert p.inner_text("#detail [data-list=req] [data-more]") == "show 4 more items"
    # the rest, as before (dispatched on the button: see test_show_more_draws_the_list_it_closes)
    p.dispatch_event("#detail [data-list=req] [data-more]", "click")
    p.wait_for_function("document.querySelectorAll('#detail [data-list=req] .item').length > 155")
    assert p.locator("#detail [data-list=req] .item").count() == 159
    assert page.errors == []


def test_show_more_draws_the_list_it_closes(page: Page, tmp_path: Path) -> None:
    """A pane with two long lists (a request and a response of 200 items each): "show more"
    under the response drew the next request items into the request list, one pane holding
    one list behind every button (viewer26's report); each button draws its own list now."""
    from rollout_trace_sdk.record import open_rollout

    def said(role: str, n: int) -> dict[str, Any]:
        return {"type": "message", "role": role, "content": f"{role} line {n}"}

    async def record() -> Path:
        async with (
            open_rollout(tmp_path / "traces", model="m") as rollout,
            rollout.root.turn() as turn,
        ):
            history = [said("user", n) for n in range(200)]
            async with turn.inference({"model": "m", "input": history}) as call:
                call.completed(output_items=[said("assistant", n) for n in range(200)])
        assert rollout.bundle_dir is not None
        return rollout.bundle_dir

    with ThreadPoolExecutor(1) as pool:
        bundle = pool.submit(anyio.run, record).result()
    p = page.open(write_page(bundle, tmp_path / "page.html"))
    p.locator("#list .row", has_text="m · ").first.click()
    p.wait_for_selector("#detail [data-list=req] .item")
    lists = p.locator("#detail .items")
    assert lists.count() == 2
    assert [lists.nth(k).locator(".item").count() for k in (0, 1)] == [150, 150]
    # (dispatched on the button itself: a pointer click lands where the button was when
    # Playwright aimed, and the lists' lazily laid out items can still move it; CI's loaded
    # machine once clicked beside the request's button and waited 30 s for its drawing)
    p.locator("#detail [data-more]").nth(1).dispatch_event("click")  # the response's button
    _drawn(p, 1, 200)
    assert [lists.nth(k).locator(".item").count() for k in (0, 1)] == [150, 200]
    assert "assistant line 199" in (lists.nth(1).text_content() or "")
    assert "user line 150" not in (p.text_content("#detail") or "")
    p.locator("#detail [data-more]").first.dispatch_event("click")  # then the request's
    _drawn(p, 0, 200)
    assert [lists.nth(k).locator(".item").count() for k in (0, 1)] == [200, 200]
    assert "user line 199" in (lists.nth(0).text_content() or "")
    assert page.errors == []


def _drawn(p: Any, k: int, count: int) -> None:
    """Wait until the pane's ``k``-th list holds ``count`` items: a click's drawing may land
    after Playwright's click returns (CI's loaded machine read the count before it, once)."""
    p.wait_for_function(
        "([k, n]) => (document.querySelectorAll('#detail .items')[k]"
        "?.querySelectorAll('.item').length ?? -1) >= n",
        arg=[k, count],
    )
