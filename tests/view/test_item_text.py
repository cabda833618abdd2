"""What tool calls read as (view/item_text.py): what stopped an aborted tool call (review
codexview27)."""

from __future__ import annotations

import pytest

from rollout_trace_sdk.view.item_text import stopped_text


@pytest.mark.parametrize(
    ("status", "turn_status", "turn_text", "said"),
    [
        ("aborted", "cancelled", "interrupted", "aborted: its turn was interrupted"),
        ("aborted", "cancelled", "review_ended", "aborted: its turn was review ended"),
        (
            "cancelled",
            "failed",
            "stream closed\nretrying",
            "cancelled: its turn failed: stream closed",
        ),
        ("aborted", "cancelled", None, "aborted: its turn was cancelled"),
        ("aborted", "completed", None, "aborted"),
        ("aborted", None, None, "aborted"),
        ("failed", "cancelled", "interrupted", None),  # a failure says none was recorded
        ("completed", None, None, None),
    ],
)
def test_what_stopped_a_tool_call_is_said(
    status: str, turn_status: str | None, turn_text: str | None, said: str | None
) -> None:
    assert stopped_text(status, turn_status, turn_text) == said
