"""``summary``'s failures list (view/_summary_failures): which error text each failure gets,
and how long it may be. Both cases below passed every summary test when broken (mut42)."""

from __future__ import annotations

from typing import Any

from rollout_trace_sdk.view._summary_failures import MAX_ERROR_CHARS, failures


def _failed(seq: int) -> dict[str, Any]:
    return {"status": "failed", "started_seq": seq}


def _thread_failures(state: dict[str, Any], errors: dict[str, str]) -> list[dict[str, Any]]:
    threads = list(state["threads"].values())
    return failures(state, errors, lambda _: "/root", (threads, [], [], [], [], [], []))


def test_a_failed_thread_says_the_error_of_its_last_failed_turn() -> None:
    """A thread that failed after two failed turns (an Agents SDK run retried, then past
    ``max_turns``): its error is the later turn's, whatever order the state lists them in."""
    state = {
        "threads": {"t1": {"thread_id": "t1", "execution": _failed(0)}},
        "codex_turns": {
            "a-late": {"codex_turn_id": "a-late", "thread_id": "t1", "execution": _failed(9)},
            "b-early": {"codex_turn_id": "b-early", "thread_id": "t1", "execution": _failed(2)},
        },
    }
    errors = {"a-late": "max turns exceeded", "b-early": "model refused"}
    [row] = _thread_failures(state, errors)
    assert row["error"] == "max turns exceeded"


def test_an_error_text_is_cut_only_past_the_limit() -> None:
    """A text of exactly ``MAX_ERROR_CHARS`` is kept whole; one character more is cut and
    says how much is left out."""
    state = {"threads": {"t1": {"thread_id": "t1", "execution": _failed(0)}}}
    whole = "x" * MAX_ERROR_CHARS
    [row] = _thread_failures(state, {"t1": whole})
    assert row["error"] == whole
    [row] = _thread_failures(state, {"t1": whole + "y"})
    assert row["error"] == whole + "… (1 more characters)"
