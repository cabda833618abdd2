"""The viewer in a real browser on partial rollouts: what capture limits cut or left out,
and what lenient reduction skipped, said where the page shows the rollout (the page must not
show a partial rollout as whole)."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.view.serve import ViewServer

from ..conftest import CONFORMANCE_V3, needs_conformance_v3
from .conftest import HOSTILE_ID, Page, _recorded_in_child, skipping_bundle, write_page


def test_a_result_response_or_request_a_capture_limit_cut_says_so_where_it_would_be(
    page: Page, capped_bundles: dict[str, Path], tmp_path: Path
) -> None:
    """A tool call whose result a capture limit cut or left out read "(no model-visible
    output)", an inference call whose response or request was left out "0 items" with no
    word of why (``show`` prints ``[result raw_payload:N, omitted: …]``), and a truncated
    payload opened as ``{"$trace_unavailable": id}``, not the 2,000 bytes its note said were
    kept (found by review: conformance-v3 ``capture_total_limit_multi_step`` and
    ``capture_payload_limit_exec``)."""
    cut = r"\[result raw_payload:\d+, truncated: 2,000 of 12,\d{3} bytes kept\]"
    p = page.open(write_page(capped_bundles["truncated"], tmp_path / "t.html") + "#call=c2")
    assert re.fullmatch(cut, p.inner_text("[data-testid=tool-output]"))
    p.locator("button[data-payload]", has_text="result").click()
    body = p.wait_for_selector("[data-testid=payload]").inner_text()
    assert "$trace_unavailable" not in body and len(body) == 2_000
    assert body.startswith("{") and "line 0: xxx" in body
    # no empty "· ·" where a schema-2 payload names its file
    assert re.search(r"· raw_payload:\d+ · 2,000 chars$", p.text_content("#payload-view h3") or "")
    omitted = capped_bundles["omitted"]
    p = page.open(write_page(omitted, tmp_path / "o.html") + "#call=c0")
    assert re.fullmatch(
        r"\[result raw_payload:\d+, omitted: 12,\d{3} bytes not kept\]",
        p.inner_text("[data-testid=tool-output]"),
    )
    p.evaluate(
        "window.__rt.select(JSON.parse(document.getElementById('rt-model').textContent).calls.at(-1).id)"
    )
    for what in ("request", "response"):
        note = p.inner_text(f"[data-testid=lost-{what}]")
        assert re.fullmatch(rf"\[{what} raw_payload:\d+, omitted: [\d,]+ bytes not kept\]", note)
    assert page.errors == []


@needs_conformance_v3
def test_an_exit_code_a_capture_limit_left_out_is_said(page: Page, tmp_path: Path) -> None:
    """A terminal operation whose result event a capture limit left out showed no exit code
    and no word of why (viewer26, conformance-v3 ``capture_total_limit_multi_step``): the
    exit code reads "not kept" with the payload's note, a link that opens it."""
    [bundle] = sorted((CONFORMANCE_V3 / "capture_total_limit_multi_step").glob("trace-*"))
    p = page.open(write_page(bundle, tmp_path / "c.html") + "#call=call_cap_s4")
    lost = p.inner_text("[data-testid=lost-exit]")
    assert re.fullmatch(r"not kept: \[raw_payload:\d+, omitted: [\d,]+ bytes not kept\]", lost)
    p.click("[data-testid=lost-exit] [data-payload]")
    assert "was not recorded whole (omitted: " in p.inner_text("[data-testid=capture]")
    p = page.open(write_page(bundle, tmp_path / "c1.html") + "#call=call_cap_s1")
    assert p.locator("[data-testid=lost-exit]").count() == 0
    assert page.errors == []


def test_a_page_written_leniently_says_what_was_skipped(
    page: Page, demo_bundle: Path, tmp_path: Path
) -> None:
    """``view --lenient`` wrote a page that said nothing of what lenient reduction skipped
    (only the terminal did), so a page passed on showed a partial rollout as whole; the
    served page says it (found by review)."""
    bundle = skipping_bundle(demo_bundle, tmp_path)
    target = tmp_path / "lenient.html"
    err = io.StringIO()
    assert (
        main(["view", str(bundle), "--lenient", "-o", str(target)], out=io.StringIO(), err=err) == 0
    )
    assert "lenient: skipped 1 thing(s)" in err.getvalue()
    p = page.open(target.as_uri())
    notes = p.locator("[data-testid=lenient-notes]")
    assert "Lenient reduction skipped 1 thing(s)" in notes.inner_text()
    notes.locator("summary").click()
    assert HOSTILE_ID in notes.inner_text()
    p = page.open(write_page(demo_bundle, tmp_path / "whole.html"))  # nothing skipped
    assert p.locator("#notice").is_hidden()
    assert page.errors == []


#: A recording whose writer dropped events (``overflow="drop"``, a 2,000-byte queue): its
#: loss report is a ``warning`` protocol event, which both reducers skip.
_DROPPING = """
import sys, warnings, anyio
from rollout_trace_sdk.record import open_rollout

async def main(root):
    scope = open_rollout(root, schema_version=2, overflow="drop", max_queued_bytes=2000)
    async with scope as rollout, rollout.root.turn() as turn:
        await rollout.flush()
        request = {"model": "m", "input": [{"type": "message", "role": "user", "content": "x" * 37}]}
        turn.inference(request).completed(response_id="r", output_items=[])
    print(rollout.bundle_dir)

warnings.simplefilter("ignore")
anyio.run(main, sys.argv[1])
"""


def test_the_page_says_what_the_recorder_reported_it_lost(page: Page, tmp_path: Path) -> None:
    """A recording whose writer dropped events (a full queue, the bundle's ceiling) read as
    whole on the page, static and served: its loss report is a protocol event the reducers
    skip, which ``summary`` and ``show`` read from the log's end and the page did not (a
    ``demo --scale 400`` under a 3 MB ``max_bundle_bytes`` showed 340 of 401 agents and only
    "recording closed with partial payloads"; found by user39)."""
    bundle = _recorded_in_child(_DROPPING, tmp_path / "root")
    dropped = re.compile(r"dropped [1-9]\d* events? and [1-9]\d* payloads? \(")
    p = page.open(write_page(bundle, tmp_path / "dropped.html"))
    assert dropped.search(p.inner_text("[data-testid=recorder-reports]"))
    with ViewServer(bundle, 0) as server:
        p = page.open(server.url)
        assert dropped.search(p.inner_text("[data-testid=recorder-reports]"))
    assert page.errors == []


def test_the_header_says_why_a_recording_is_partial(
    page: Page, demo_bundle: Path, capped_bundles: dict[str, Path], tmp_path: Path
) -> None:
    """A killed recording's header read "recording unclosed" and nothing more, a capped one's
    "recording closed with partial payloads": the page did not say what either means (what
    ``validate`` says: its recorder was killed or stopped) nor what was missing (found by
    user39, on a ``demo --scale 2000`` killed after 4 s)."""
    killed = tmp_path / "killed"
    shutil.copytree(demo_bundle, killed)
    (killed / "state.json").unlink(missing_ok=True)
    log = killed / "trace.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[: len(lines) // 2]))  # whole lines: what SIGKILL leaves
    p = page.open(write_page(killed, tmp_path / "killed.html"))
    assert p.inner_text("#recording") == "recording unclosed"
    said = p.get_attribute("#recording", "title") or ""
    assert "killed or stopped" in said and "events after that are not in the bundle" in said
    p = page.open(write_page(capped_bundles["omitted"], tmp_path / "capped.html"))
    said = p.get_attribute("#recording", "title") or ""
    assert "max_payload_bytes" in said and "where its text would be" in said
    assert page.errors == []


@needs_conformance_v3
def test_the_header_says_tokens_no_call_recorded_are_not_recorded(
    page: Page, tmp_path: Path
) -> None:
    """A rollout whose calls recorded no usage (here its one call failed; every response
    ``max_bundle_bytes`` left out does the same) read "0 in / 0 out tokens", a figure nobody
    measured; ``summary`` and ``show`` say "not recorded" and the export null (review
    user35). A call with usage keeps the sums."""
    [bundle] = sorted((CONFORMANCE_V3 / "inference_fatal_error").glob("trace-*"))
    p = page.open(write_page(bundle, tmp_path / "f.html"))
    header = p.inner_text("#summary")
    assert "tokens not recorded" in header and "out tokens" not in header, header
    p.click(".tabs button[data-tab=agents]")  # the agent's row and details too (they read 0)
    tokens = p.eval_on_selector_all(
        "#list .row.agents", "rows => rows.map(r => [4, 5].map(i => r.children[i].textContent))"
    )
    assert tokens == [["-", "-"]]
    p.click("#list .row.agents")
    p.wait_for_selector("#detail h2")
    assert re.search(r"tokens\s+not recorded", p.inner_text("#detail"))
    [bundle] = sorted((CONFORMANCE_V3 / "single_exec").glob("trace-*"))
    p = page.open(write_page(bundle, tmp_path / "s.html"))
    assert re.search(r"[\d,]+ in / [\d,]+ out tokens", p.inner_text("#summary"))
    assert page.errors == []


def test_a_compaction_whose_checkpoint_was_cut_says_so_on_the_page(
    page: Page, tmp_path: Path
) -> None:
    """The page's row and panel said ``compaction · 0 items → 0`` and "replaced 0 items with
    0" for a compaction whose checkpoint ``max_payload_bytes`` cut (fix47): they say what
    ``show`` says, the bytes kept and that its items are unknown."""
    script = (
        "import sys\nfrom pathlib import Path\nfrom tests.view.test_checkpoints import "
        "record_compaction\nprint(record_compaction(Path(sys.argv[1]), 2000))"
    )
    bundle = _recorded_in_child(script, tmp_path / "cut")
    p = page.open(write_page(bundle, tmp_path / "cut.html"))
    row = p.locator("#list .row", has_text="compaction · checkpoint cut by a capture limit")
    assert row.count() == 1 and "0 items → 0" not in p.inner_text("#list")
    row.first.click()
    assert "checkpoint cut by a capture limit (2,000 of " in p.inner_text("#detail")
    assert "0 items with 0" not in p.inner_text("#detail")
    assert page.errors == []
