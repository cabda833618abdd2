"""``reduce/compactions.py``: installing a compaction checkpoint (checked against Codex when
the binary is here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout_trace_sdk.model import events as ev

from .builder import ROOT, TURN, Scenario


def test_a_checkpoint_materialises_waiting_code_cells_once_it_is_whole(tmp_path: Path) -> None:
    # Schema 3: the input history brings the cell's exec item, the replacement history an
    # output that claims an accepted agent message (which keeps its kind). Codex 0.171
    # materialises the waiting cell after both: that item is no output of the cell then.
    bundle = Scenario(tmp_path / "bundle", schema=3)
    bundle.begin()
    receipt = {
        "type": "agent_message",
        "id": "m1",
        "author": "/root",
        "recipient": "/root",
        "content": [{"type": "input_text", "text": "done"}],
    }
    bundle.accept("m1", receipt=receipt)
    bundle.event(ev.CodeCellStarted("1", "c2", "t"), thread=ROOT, turn=TURN)
    call = {"type": "custom_tool_call", "id": "x1", "call_id": "c2", "name": "exec", "input": "t"}
    output = {"type": "custom_tool_call_output", "id": "m1", "call_id": "c2", "output": "o"}
    history = {"input_history": [call], "replacement_history": [output]}
    checkpoint = bundle.payload("compaction_checkpoint", history)
    bundle.event(ev.CompactionInstalled("cmp-1", checkpoint), thread=ROOT, turn=TURN)
    bundle.finish()
    state = bundle.reduce()
    assert state["code_cells"]["code_cell:c2"]["output_item_ids"] == []
    assert state["conversation_items"]["conversation_item:1"]["produced_by"] == [
        {"type": "compaction", "compaction_id": "cmp-1"}
    ]


def _request(bundle: Scenario, request_id: str) -> None:
    ref = bundle.payload("inference_request", {"model": "m", "input": []})
    started = ev.CompactionRequestStarted("cmp-1", request_id, ROOT, TURN, "m", "p", ref)
    bundle.event(started, thread=ROOT, turn=TURN)


@pytest.mark.parametrize("schema", [2, 3])
def test_a_compaction_lists_its_requests_in_id_order(tmp_path: Path, schema: int) -> None:
    """Codex lists a compaction's requests by id, not in the order they started (0.169 and
    0.171). Listing them as started passed every test (mut32)."""
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    _request(bundle, "req-b")
    _request(bundle, "req-a")
    ref = bundle.payload("compaction_checkpoint", {"input_history": [], "replacement_history": []})
    bundle.event(ev.CompactionInstalled("cmp-1", ref), thread=ROOT, turn=TURN)
    assert bundle.reduce()["compactions"]["cmp-1"]["request_ids"] == ["req-a", "req-b"]


@pytest.mark.parametrize("schema", [2, 3])
def test_a_request_ended_under_another_compaction_is_refused(tmp_path: Path, schema: int) -> None:
    """A compaction request's end must name the compaction its start named (Codex 0.169 and
    0.171). Never checking passed every test (mut32)."""
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    _request(bundle, "req-1")
    bundle.event(ev.CompactionRequestFailed("cmp-2", "req-1", "boom"), thread=ROOT, turn=TURN)
    assert bundle.reduce_error().message == (
        "compaction request req-1 completion used compaction cmp-2, but start used cmp-1"
    )


@pytest.mark.parametrize("schema", [2, 3])
def test_a_compaction_installed_in_an_unknown_turn_is_refused(tmp_path: Path, schema: int) -> None:
    """A compaction install must name a turn of its thread (Codex 0.169 and 0.171 refuse it
    otherwise, as they do a compaction request's). Never checking the install's turn passed
    every test (mutation audit)."""
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    ref = bundle.payload("compaction_checkpoint", {"input_history": [], "replacement_history": []})
    bundle.event(ev.CompactionInstalled("cmp-1", ref), thread=ROOT, turn="turn-x")
    assert bundle.reduce_error().message == (
        "compaction install cmp-1 referenced unknown codex turn turn-x"
    )
