"""``model.items``: the recorder's checks and the reducer's rules read the same tables, so an
item the recorder lets through always reduces and one it drops is one the reducer refuses."""

from __future__ import annotations

from typing import Any

import pytest

from rollout_trace_sdk.model.items import AGENT_CONTENT_FIELDS, REASONING_ENTRIES
from rollout_trace_sdk.record._problems import agent_message_problem, reasoning_problem
from rollout_trace_sdk.reduce.errors import ReduceError
from rollout_trace_sdk.reduce.normalize import normalize_one

_REASONING = [
    (key, entry_type, True) for key, allowed in REASONING_ENTRIES for entry_type in allowed
] + [(key, "output_text", False) for key, _ in REASONING_ENTRIES]
_AGENT = [(entry_type, field, True) for entry_type, field in AGENT_CONTENT_FIELDS.items()] + [
    ("input_text", "encrypted_content", False),
    ("output_text", "text", False),
]


def _reduces(item: dict[str, Any]) -> bool:
    try:
        normalize_one(item, "raw_payload:1")
    except ReduceError:
        return False
    return True


@pytest.mark.parametrize(("key", "entry_type", "allowed"), _REASONING)
def test_reasoning_entries_agree(key: str, entry_type: str, allowed: bool) -> None:
    item = {"type": "reasoning", key: [{"type": entry_type, "text": "thought"}]}
    assert (reasoning_problem(item) is None) is allowed
    assert _reduces(item) is allowed


@pytest.mark.parametrize(("entry_type", "field", "allowed"), _AGENT)
def test_agent_message_content_agrees(entry_type: str, field: str, allowed: bool) -> None:
    item = {
        "type": "agent_message",
        "author": "/root",
        "recipient": "/root/worker",
        "content": [{"type": entry_type, field: "words"}],
    }
    assert (agent_message_problem(item) is None) is allowed
    assert _reduces(item) is allowed
