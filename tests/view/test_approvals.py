"""``view/approvals.py``: an ``agents_sdk_approval`` event gives its tool call its
``approval`` (the latest status the log says), shown by ``show`` after the call's status; a
``pending`` call that ended later keeps none, and an event naming another thread's call or a
call the state does not have is left out. The real Agents SDK run is in
tests/integrations/agents_sdk/test_paused.py."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final

import anyio

from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.view.approvals import EVENT, KEY
from rollout_trace_sdk.view.load import load_state
from rollout_trace_sdk.view.show import transcript_lines
from rollout_trace_sdk.view.show_format import render_plain

from .conftest import Page, write_page


async def record_approvals(root: Path) -> Path:
    """A bundle whose calls say each approval status (and two events naming no call of it)."""
    async with open_rollout(root, model="m") as rollout, rollout.root.turn() as turn:
        thread = rollout.root
        calls = {name: turn.tool_call(f"call_{name}", "get_weather") for name in _NAMES}

        def said(name: str, status: str, call: str | None = None, on: str = "") -> None:
            body = {
                "tool_call_id": call or calls[name].tool_call_id,
                "call_id": f"call_{name}",
                "thread_id": on or thread.thread_id,
                "status": status,
            }
            thread.protocol_event(EVENT, body)

        said("waiting", "pending")
        said("approved", "pending")
        said("approved", "approved")
        said("rejected", "rejected")
        said("ran", "pending")  # ended later: waiting no more
        said("elsewhere", "pending", on="thread-other")
        said("unknown", "pending", call="nope")
        calls["waiting"].left_open()
        for name in _NAMES[1:]:
            calls[name].completed(None)
    assert rollout.bundle_dir is not None
    return rollout.bundle_dir


_NAMES = ("waiting", "approved", "rejected", "ran", "elsewhere", "unknown")
#: The approval each call of :func:`record_approvals` ends with (None: none was asked for), as
#: the state, ``show``, the tables and the exports read it.
APPROVALS: Final = {
    "call_waiting": "pending",
    "call_approved": "approved",
    "call_rejected": "rejected",
    "call_ran": None,
    "call_elsewhere": None,
    "call_unknown": None,
}


def test_each_call_gets_the_latest_decision_its_thread_logged(tmp_path: Path) -> None:
    bundle = anyio.run(record_approvals, tmp_path)
    state = load_state(bundle)
    tools = {tool["model_visible_call_id"]: tool for tool in state["tool_calls"].values()}
    assert {call: tool.get(KEY) for call, tool in tools.items()} == APPROVALS
    assert tools["call_waiting"]["execution"]["status"] == "running"  # left open
    out = io.StringIO()
    render_plain(transcript_lines(state), out)
    shown = out.getvalue()
    assert "call_waiting · running · waiting for approval · never ended" in shown
    assert "call_approved · completed · approved" in shown
    assert "call_rejected · completed · rejected" in shown


def test_a_status_that_is_no_text_is_left_out(tmp_path: Path) -> None:
    """A body whose ``status`` is a list or an object (a bundle another writer made, or
    damaged) is not a decision: ``show``, the page and the exports failed with an internal
    error (``TypeError: unhashable type: 'list'``) asking whether it was one (review50)."""

    async def record() -> Path:
        async with open_rollout(tmp_path, model="m") as rollout, rollout.root.turn() as turn:
            call = turn.tool_call("call_odd", "get_weather")
            for status in (["pending"], {"s": "approved"}, 7):
                body = {
                    "tool_call_id": call.tool_call_id,
                    "thread_id": rollout.root.thread_id,
                    "status": status,
                }
                rollout.root.protocol_event(EVENT, body)
            call.left_open()
        assert rollout.bundle_dir is not None
        return rollout.bundle_dir

    [tool] = load_state(anyio.run(record))["tool_calls"].values()
    assert KEY not in tool


def test_the_page_says_a_call_waits_for_approval(page: Page, tmp_path: Path) -> None:
    """The page's tool details: an ``approval`` row, and a waiting call's result says it
    waits rather than ``(none: it never ended)``."""
    with ThreadPoolExecutor(1) as pool:  # the browser's loop runs in this thread
        bundle = pool.submit(anyio.run, record_approvals, tmp_path / "traces").result(timeout=60)
    url = write_page(bundle, tmp_path / "page.html")
    waiting = next(
        tool["tool_call_id"]
        for tool in load_state(bundle)["tool_calls"].values()
        if tool["model_visible_call_id"] == "call_waiting"
    )
    p = page.open(f"{url}#call={waiting}")
    p.wait_for_selector("[data-testid=tool-approval]")
    assert p.inner_text("[data-testid=tool-approval]") == "waiting for approval"
    assert "waiting for approval" in p.inner_text("[data-testid=tool-output]")
    assert page.errors == []
