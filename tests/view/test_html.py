"""The page template (view/html.py): what the producer controls cannot reshape it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.view.html import render_page, script_text, static_page, static_page_chunks
from rollout_trace_sdk.view.payloads import PayloadReader

MARKERS = "__DATA__ /*__SCRIPT__*/ __PAYLOADS__ /*__STYLE__*/ __TITLE__"


@pytest.mark.parametrize("script_url", [None, "/viewer.js"])
def test_markers_in_the_rollout_id_stay_text(script_url: str | None) -> None:
    """The title goes in after the template is split: a rollout id holding the template's
    markers put the model inside ``<title>`` and left the viewer unable to start."""
    model: dict[str, Any] = {"meta": {"rollout_id": "r " + MARKERS}, "calls": [MARKERS]}
    page = render_page(
        model, boot={"mode": "static"}, data="<p id=after></p>", script_url=script_url
    )
    assert re.search(r"<title>(.*?)</title>", page, re.S)[1] == "rollout r " + MARKERS  # type: ignore[index]
    found = re.findall(r'<script type="application/json" id="rt-model">(.*?)</script>', page)
    assert [orjson.loads(text) for text in found] == [model]
    assert page.count('id="rt-boot"') == 1 and page.count("<p id=after></p>") == 1
    script = script_text() if script_url is None else '<script src="/viewer.js">'
    assert page.count(script) == 1
    assert page.index('id="rt-model"') < page.index(script) < page.index("<p id=after>")


def test_a_static_page_of_such_a_state_is_whole(demo_state: Any) -> None:
    state = orjson.loads(orjson.dumps(demo_state))
    state["rollout_id"] = "__DATA__" + str(state["rollout_id"])
    page = static_page(state, None)
    assert page.count('id="rt-model"') == 1 and page.count(script_text()) == 1
    assert "<title>rollout __DATA__" in page


def test_the_models_line_separators_are_escaped_in_the_page() -> None:
    """U+2028 and U+2029 end a line for older JavaScript parsers: raw inside the page's JSON
    they broke the model's script. Both are escaped, the JSON reads back the same (only
    U+2028 was checked: U+2029 could go through raw, mutation audit)."""
    model: dict[str, Any] = {"calls": ["a\u2028b\u2029c"]}
    page = render_page(model, boot={"mode": "static"}, data="", script_url="/viewer.js")
    found = re.findall(r'<script type="application/json" id="rt-model">(.*?)</script>', page)
    assert [orjson.loads(text) for text in found] == [model]
    assert "\u2028" not in page and "\u2029" not in page


def test_a_static_page_is_written_in_pieces(demo_state: Any, demo_bundle: Path) -> None:
    """``view`` built the page as one string, then its bytes, on top of the model and the
    payloads it held: 1.24 GB peak for `demo --scale 2000`'s 109 MB page (user39). It is
    written in pieces now (the model's JSON, then each payload's body), and reads
    the same as :func:`static_page`."""
    reader = PayloadReader(demo_bundle)
    try:
        chunks = list(static_page_chunks(demo_state, reader))
        page = b"".join(chunks)
        assert page.decode("utf-8") == static_page(demo_state, reader)
    finally:
        reader.close()
    # the model's JSON and each payload's body in pieces of their own
    model = next(k for k, chunk in enumerate(chunks) if b'id="rt-model"' in chunk)
    payloads = next(k for k, chunk in enumerate(chunks) if b'id="rt-payloads"' in chunk)
    bodies = chunks[payloads + 1 : -1]
    assert model < payloads and len(bodies) > 10
    assert all(chunk.count(b'"raw_payload:') <= 1 for chunk in bodies)
