"""The viewer in a real browser on what Codex sessions record that no tool call says: a tool
call its interrupted turn aborted, said as ``show`` says it (review codexview27)."""

from __future__ import annotations

import io
from pathlib import Path

from rollout_trace_sdk.cli import main

from ..conftest import CONFORMANCE_V3, needs_conformance_v3
from .conftest import Page, write_page


@needs_conformance_v3
def test_an_aborted_tool_call_says_its_turn_was_interrupted(page: Page, tmp_path: Path) -> None:
    """A command stopped when its turn was interrupted read "(no error text was recorded)"
    on the page, in ``show`` and in ``summary``; now all three say what happened, the same
    words."""
    [bundle] = sorted((CONFORMANCE_V3 / "interrupt_during_tool").glob("trace-*"))
    p = page.open(write_page(bundle, tmp_path / "aborted.html") + "#call=call_sleep")
    error = p.inner_text("[data-testid=error]")
    assert error == "aborted\naborted: its turn was interrupted"
    for command in ("show", "summary"):
        out = io.StringIO()
        assert main([command, str(bundle)], out=out, err=io.StringIO()) == 0
        assert "aborted: its turn was interrupted" in out.getvalue(), command
        assert "no error text" not in out.getvalue()
    assert page.errors == []
