"""``tests/hostile.py``'s ``verdict``: a command broke the contract when the CLI says it ended in
an internal error, not when a bundle's own text says those words. A real remote MCP server's
HTTP 500 body read "internal error" (live39's ``random_gaps_web.py``), ``show`` printed it as
the tool's output, and the gap probe called a clean run broken."""

from __future__ import annotations

from pathlib import Path

import anyio

from rollout_trace_sdk.record import open_rollout
from tests.hostile import argv, run_in_process, verdict
from tests.record.recorder_support import bundle_in

_OUTPUT = "tool call failed: unexpected server response: HTTP 500: internal error"


async def _record(root: Path) -> None:
    async with (
        open_rollout(root) as rollout,
        rollout.root.turn() as turn,
        turn.tool_call("c1", "web_call", arguments={"q": 1}) as tool,
    ):
        item = {"type": "function_call_output", "call_id": "c1", "output": _OUTPUT}
        tool.failed(_OUTPUT, output_item=item)


def test_a_bundle_saying_internal_error_is_not_one_of_ours(tmp_path: Path) -> None:
    anyio.run(_record, tmp_path)
    bundle = bundle_in(tmp_path)
    code, text = run_in_process(argv(("show",), bundle, tmp_path / "state.json"), 60)
    assert "HTTP 500: internal error" in text
    assert verdict(code, text) is None


def test_the_clis_own_internal_error_is_one() -> None:
    said = "partial output rollout-trace show: internal error: KeyError: 'x'\n  (set ...)\n"
    assert verdict(1, said) == "internal error"
    assert verdict(0, f"{_OUTPUT}\n") is None
