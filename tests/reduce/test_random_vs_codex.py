"""Seeded random conversations (history edits, ids, reasoning identities, compactions,
incremental requests, acceptances) reduce exactly as Codex reduces them. Needs the Codex
binary; these shapes are where the reuse rules of schema 2 are subtle."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.testing import reduce_and_compare
from tests.codex_oracle import codex_bin, needs_codex
from tests.reduce.builder import (
    ROOT,
    TURN,
    Scenario,
    message,
    request,
    response,
)

RIDS = (None, None, "a1", "a2", "u1", "u2", "r1", "f1")


def _item(rng: random.Random) -> dict[str, Any]:
    pick = rng.random()
    item: dict[str, Any]
    if pick < 0.35:
        item = message(
            rng.choice(["user", "assistant", "developer"]), rng.choice(["hi", "ok", "yo"])
        )
        if rng.random() < 0.2:
            item["phase"] = rng.choice(["commentary", "final_answer"])
        if rng.random() < 0.1:
            item["content"].append(
                {"type": "input_image", "image_url": rng.choice(["data:a", "data:b"])}
            )
    elif pick < 0.55:
        item = {
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "s"}] if rng.random() < 0.5 else [],
        }
        if rng.random() < 0.5:
            item["content"] = [{"type": "text", "text": rng.choice(["t1", "t2"])}]
        item["encrypted_content"] = rng.choice(["E1", "E2", None])
        if not item["summary"] and "content" not in item and item["encrypted_content"] is None:
            item["encrypted_content"] = "E1"
    elif pick < 0.75:
        item = {
            "type": "function_call",
            "call_id": rng.choice(["c1", "c2"]),
            "name": "f",
            "arguments": rng.choice(['{"a":1}', '{"a":1}', '{"b":2}']),
        }
    else:
        item = {
            "type": "function_call_output",
            "call_id": rng.choice(["c1", "c2"]),
            "output": rng.choice(["o1", "o2"]),
        }
    rid = rng.choice(RIDS)
    if rid:
        item["id"] = rid
    return item


def build_random_conversation(root: Path, seed: int) -> None:
    rng = random.Random(seed)
    bundle = Scenario(root)
    bundle.begin()
    history: list[dict[str, Any]] = []
    responses = 0
    for step in range(rng.randint(2, 10)):
        roll = rng.random()
        if roll < 0.15 and history:
            bundle.accept(rng.choice(["a1", "a2", "u1", "u2", "r1", "f1", "x"]))
            continue
        if roll < 0.22:
            checkpoint = bundle.payload(
                "compaction_checkpoint",
                {
                    "input_history": [_item(rng) for _ in range(rng.randint(0, 2))] or history[:2],
                    "replacement_history": [_item(rng) for _ in range(rng.randint(0, 2))],
                },
            )
            bundle.event(ev.CompactionInstalled(f"cmp{step}", checkpoint), thread=ROOT, turn=TURN)
            continue
        sent = list(history)
        if sent and rng.random() < 0.3:
            sent.pop(rng.randrange(len(sent)))
        if sent and rng.random() < 0.2:
            rng.shuffle(sent)
        for _ in range(rng.randint(0, 2)):
            sent.insert(rng.randint(0, len(sent)), _item(rng))
        extra: dict[str, Any] = {}
        if responses and rng.random() < 0.15:
            extra["previous_response_id"] = f"resp{rng.randint(1, responses)}"
            sent = [_item(rng)]
        output = [_item(rng) for _ in range(rng.randint(0, 2))]
        responses += 1
        bundle.infer(
            f"i{step}", request(*sent, **extra), response(*output), response_id=f"resp{responses}"
        )
        history = history + sent + output if extra else sent + output
    bundle.finish()


@needs_codex
@pytest.mark.parametrize("seed", range(40))
def test_random_conversation_matches_codex(tmp_path: Path, seed: int) -> None:
    root = tmp_path / "bundle"
    build_random_conversation(root, seed)
    binary = codex_bin(2)
    assert binary is not None
    result = reduce_and_compare(root, binary, timeout=60)
    assert result.same_text, result.explain()
