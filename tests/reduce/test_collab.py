"""``reduce/collab.py``: Codex's collab events read as serde reads them, as maps and as
sequences (declaration order, ``#[serde(default)]`` fields, each field's type). The texts are
Codex's (0.169 and 0.171 agree), found by probes of edited corpus bundles; the runtime begin
events were probed by turning a call's runtime end into a start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.reduce import ReduceError
from rollout_trace_sdk.reduce.collab import collab_payload
from tests.reduce.builder import Scenario
from tests.reduce.test_edge_cases import CHILD as CHILD_THREAD
from tests.reduce.test_edge_cases import PARENT, collab_call, two_threads

ROOT = "01a23439-50c4-7ad0-a0a3-0397a4de549a"
CHILD = "01a23439-51b7-7811-89fc-b12097f1e1db"


def _error(payload: Any, kind: str, phase: str) -> str | None:
    try:
        collab_payload(payload, kind, phase)
    except ReduceError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize(
    ("kind", "phase", "payload", "expected"),
    [
        # begin events: call id, start time (defaulted), sender, receiver(, prompt)
        (
            "send_message",
            "begin",
            ["c"],
            "invalid length 2, expected struct CollabAgentInteractionBeginEvent with 5 elements",
        ),
        ("send_message", "begin", ["c", 5, ROOT, CHILD, "p"], None),
        (
            "send_message",
            "begin",
            ["c", 5, ROOT, CHILD, "p", "x"],
            "invalid length 6, expected fewer elements in array",
        ),
        (
            "close_agent",
            "begin",
            ["c"],
            "invalid length 2, expected struct CollabCloseBeginEvent with 4 elements",
        ),
        (
            "close_agent",
            "begin",
            ["c", 5, ROOT, "s"],
            "invalid character: expected an "
            "optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `s` at 1",
        ),
        # end events: nickname and role defaulted in a sequence, optional strings
        (
            "close_agent",
            "end",
            ["c", 5, ROOT, CHILD],
            "invalid length 6, expected struct CollabCloseEndEvent with 7 elements",
        ),
        ("close_agent", "end", ["c", 5, ROOT, CHILD, None, "r", "running"], None),
        ("close_agent", "end", ["c", None], "invalid type: null, expected i64"),
        ("spawn_agent", "end", ["c", 5, ROOT, None, "n", "r", "p", "m", "e", "running"], None),
        (
            "spawn_agent",
            "end",
            ["c", 5, ROOT, CHILD, "n", "r", "p", None, "e", "running"],
            "invalid type: null, expected a string",
        ),
        (
            "assign_agent_task",
            "end",
            ["c", 5, ROOT, CHILD, "n", "r", "p", "s"],
            "unknown variant `s`, expected one of `pending_init`, `running`, `interrupted`, "
            "`completed`, `errored`, `shutdown`, `not_found`",
        ),
        # maps: each known field's type, then the first required field missing
        (
            "close_agent",
            "end",
            {"call_id": "c", "completed_at_ms": 1.5},
            "invalid number",  # serde_json keeps numbers as text here (arbitrary precision)
        ),
        (
            "close_agent",
            "end",
            {"call_id": "c", "receiver_agent_role": 5},
            "invalid type: number, expected a string",
        ),
        ("close_agent", "end", {"call_id": "c"}, "missing field `sender_thread_id`"),
        (
            "spawn_agent",
            "end",
            {
                "call_id": "c",
                "sender_thread_id": ROOT,
                "prompt": "p",
                "model": "m",
                "reasoning_effort": "e",
                "status": "running",
            },
            None,
        ),
    ],
)
def test_collab_events_read_as_serde_reads_them(
    kind: str, phase: str, payload: Any, expected: str | None
) -> None:
    assert _error(payload, kind, phase) == expected


def test_a_sequence_comes_back_as_a_map_with_canonical_thread_ids() -> None:
    upper = CHILD.upper()
    read = collab_payload(["c", 5, ROOT, upper, None, None, "running"], "close_agent", "end")
    assert read == {
        "call_id": "c",
        "completed_at_ms": 5,
        "sender_thread_id": ROOT,
        "receiver_thread_id": CHILD,
        "receiver_agent_nickname": None,
        "receiver_agent_role": None,
        "status": "running",
    }


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ({"started": None}, None),
        ({"started": 1}, "invalid type: number, expected unit"),
        ({"started": {}}, "invalid type: map, expected unit"),
        ({"interacted": "x"}, 'invalid type: string "x", expected unit'),
    ],
)
def test_an_activity_kind_given_as_a_map_holds_null_alone(
    tmp_path: Path, schema: int, kind: dict[str, Any], expected: str | None
) -> None:
    """A sub-agent activity's kind read from a map is a unit variant: its value must be null,
    or Codex refuses the payload (0.169 and 0.171 alike). Taking any value passed every test
    (mut32)."""
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    two_threads(bundle)
    activity = {
        "event_id": "cs",
        "agent_thread_id": CHILD_THREAD,
        "agent_path": "/root/w",
        "kind": kind,
    }
    collab_call(bundle, "cs", "spawn_agent", activity, {"arguments": '{"message": "GO"}'})
    bundle.finish()
    if expected is not None:
        assert bundle.reduce_error().message == expected
    else:
        edges = bundle.reduce()["interaction_edges"]
        assert edges[f"edge:spawn:{PARENT}:{CHILD_THREAD}"]["target"]["type"] == "thread"
