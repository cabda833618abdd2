"""Ids the recorder gives id-less items (``record/items.py``), as the reduced state shows them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.record import open_rollout

from .recorder_support import bundle_in, check_bundle

pytestmark = pytest.mark.anyio


def _continue() -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go on"}]}


@pytest.mark.parametrize("schema", [2, 3])
async def test_an_item_after_a_compaction_never_takes_an_earlier_items_id(
    tmp_path: Path, schema: int
) -> None:
    """The same id-less message again after a compaction dropped the first one from history
    got the first one's id: the reducers then kept the first acceptance for both (the later
    item showed the earlier time and seq) and read nothing of the later's acceptance."""
    async with (
        open_rollout(tmp_path, schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        history = turn.accept(_continue())
        async with turn.inference({"input": history}) as call:
            history += call.completed(output_items=[{"role": "assistant", "content": "ok"}])
        compaction = turn.compaction()
        async with compaction.request({"input": history}) as attempt:
            summary = attempt.completed([{"type": "compaction", "encrypted_content": "S"}])
        history = list(compaction.installed(input_history=history, replacement_history=summary))
        history += turn.accept(_continue())  # the loop's own id-less dict, kept
        async with turn.inference({"input": [*history[:-1], _continue()]}) as call:
            call.completed(output_items=[{"role": "assistant", "content": "ok"}])
    state = check_bundle(bundle_in(tmp_path))
    users = [
        item
        for item in state["conversation_items"].values()
        if item["role"] == "user" and item["kind"] == "message"
    ]
    assert len(users) == 2
    assert users[0]["responses_item_id"] != users[1]["responses_item_id"]
    assert users[0]["accepted_seq"] < users[1]["accepted_seq"]
    root = state["threads"][state["root_thread_id"]]
    assert root["conversation_item_ids"].count(users[1]["item_id"]) == 1
