"""A compaction whose checkpoint a capture limit cut (view/checkpoints.py): ``show``,
``summary`` and the page say what was kept, not ``0 items → 0``."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import anyio
import orjson

from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.view.checkpoints import CHECKPOINT_CAPTURE_KEY, checkpoint_words
from rollout_trace_sdk.view.load import load_state
from rollout_trace_sdk.view.model import build_view_model
from tests.test_cli import run


def _message(role: str, text: str) -> dict[str, Any]:
    kind = "input_text" if role == "user" else "output_text"
    return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}


def record_compaction(root: Path, max_payload_bytes: int | None) -> Path:
    """A schema-3 turn of 22 items compacted to 2; its checkpoint (~7 KB) is cut by a
    ``max_payload_bytes`` below its size."""

    async def record() -> Path:
        async with (
            open_rollout(root, schema_version=3, max_payload_bytes=max_payload_bytes) as rollout,
            rollout.root.turn() as turn,
        ):
            history = turn.accept(_message("user", "hello"))
            async with turn.inference({"model": "m", "input": history}) as call:
                history += call.completed(output_items=[_message("assistant", "x" * 50)])
            for n in range(20):
                history += turn.accept(_message("user", f"more {n} " + "y" * 200))
            compaction = turn.compaction()
            async with compaction.request({"model": "m", "input": history}) as ask:
                said = ask.completed([{"type": "compaction", "encrypted_content": "enc"}])
            summary = [_message("user", "summary " + "z" * 300), *said]
            kept = compaction.installed(input_history=history, replacement_history=summary)
            async with turn.inference({"model": "m", "input": kept}) as call:
                call.completed(output_items=[_message("assistant", "done")])
        assert rollout.bundle_dir is not None
        return rollout.bundle_dir

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the capture limit's own warning
        return anyio.run(record)


def test_a_cut_checkpoint_is_said_not_read_as_an_empty_history(tmp_path: Path) -> None:
    """The reducers install a compaction whose checkpoint was cut with no items; ``show``
    said ``0 items → 0`` (fix47), as if the history had been replaced by nothing. It now says
    the checkpoint was cut and how many bytes were kept, as ``summary --thread`` and the
    page's list and detail (the view model's ``cut``) do; a whole one is as before."""
    cut = record_compaction(tmp_path / "cut", 2000)
    log = (cut / "trace.jsonl").read_bytes()
    (line,) = [line for line in log.splitlines() if b'"compaction_installed"' in line]
    capture = orjson.loads(line)["payload"]["checkpoint_payload"]["capture"]
    assert capture["status"] == "truncated" and capture["retained_bytes"] == 2000
    words = (
        f"checkpoint cut by a capture limit (2,000 of {capture['original_bytes']:,} bytes "
        "kept): its items unknown"
    )
    code, out, _ = run("show", cut)
    assert code == 0 and "⟲ compaction " in out
    assert words in out and "0 items → 0" not in out, out
    code, out, _ = run("summary", cut, "--thread", "/root", "--json")
    names = [c["name"] for c in orjson.loads(out)["calls"] if c["type"] == "compaction"]
    assert names == [f"checkpoint cut: 2,000 of {capture['original_bytes']:,} B"]
    (record,) = build_view_model(load_state(cut))["compactions"]
    assert record["cut"] == words and record["repl"] == []

    whole = record_compaction(tmp_path / "whole", None)
    code, out, _ = run("show", whole)
    assert "22 items → 2" in out and "checkpoint cut" not in out
    (record,) = build_view_model(load_state(whole))["compactions"]
    assert "cut" not in record


def test_a_checkpoint_left_out_is_said_so_and_known_items_stay_counted() -> None:
    """``omitted`` (``max_bundle_bytes`` spent): nothing kept. A compaction whose items the
    reducers know keeps its count, whatever its capture says."""
    capture = {"status": "omitted", "original_bytes": 7246, "retained_bytes": 0}
    left_out: dict[str, Any] = {CHECKPOINT_CAPTURE_KEY: capture}
    assert checkpoint_words(left_out) == (
        "checkpoint left out by a capture limit (7,246 bytes): its items unknown"
    )
    assert checkpoint_words(left_out, short=True) == "checkpoint left out: 7,246 B"
    assert checkpoint_words({**left_out, "replacement_item_ids": ["conversation_item:1"]}) is None
    assert checkpoint_words({CHECKPOINT_CAPTURE_KEY: {"status": "complete"}}) is None
    assert checkpoint_words({}) is None
