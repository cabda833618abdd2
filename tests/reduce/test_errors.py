"""``ReduceError.codex_text``: what ``codex debug trace-reduce`` prints, byte for byte."""

from __future__ import annotations

from rollout_trace_sdk.reduce.errors import ReduceError


def test_every_line_of_a_cause_is_indented() -> None:
    """anyhow writes a cause through an indenter: each line after a newline starts with four
    spaces too (an empty one included; a carriage return is no line end). Codex 0.169's text
    for a payload type written ``"a\\n\\nb\\r\\nc"`` (found by the string differential: the
    second line was not indented)."""
    cause = "unknown variant `a\n\nb\r\nc`, expected one of `recording_completed`"
    error = ReduceError("parse trace event line 8", cause=cause)
    assert error.codex_text() == (
        "Error: parse trace event line 8\n\nCaused by:\n"
        "    unknown variant `a\n    \n    b\r\n    c`, expected one of `recording_completed`"
    )


def test_a_one_line_cause() -> None:
    error = ReduceError("read trace event line 7", cause="stream did not contain valid UTF-8")
    assert error.codex_text() == (
        "Error: read trace event line 7\n\nCaused by:\n    stream did not contain valid UTF-8"
    )
