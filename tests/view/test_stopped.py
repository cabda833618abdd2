"""What stopped an aborted tool call or a code cell its turn's end terminated, said the same
in ``show``, on the page (the view model's ``stop``) and in the exports, OTLP's span status
too (polish28)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.export.otlp import otlp_trace
from rollout_trace_sdk.view.load import load_state
from rollout_trace_sdk.view.model import build_view_model

from ..conftest import CONFORMANCE_V3, needs_conformance_v3
from .conftest import _recorded_in_child

_CELL = """
import sys, anyio
from rollout_trace_sdk.record import open_rollout

USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}
SOURCE = "await tools.exec_command({cmd: 'sleep 30'})"
CELL = {"type": "custom_tool_call", "call_id": "cell", "name": "exec", "input": SOURCE}

async def main(root):
    # the caller cancels the run while a code cell's nested command runs
    with anyio.CancelScope() as scope:
        async with open_rollout(root, model="m-1") as rollout:
            async with rollout.root.turn() as turn:
                history = turn.accept(USER)
                async with turn.inference({"model": "m-1", "input": history}) as call:
                    history += call.completed(output_items=[CELL])
                async with turn.tool_call("cell", "exec", input=SOURCE) as tool:
                    cell = tool.code_cell("1", SOURCE)
                    cell.tool_call("nested", "exec_command", runtime_tool_id="t-1", arguments={})
                    scope.cancel()
                    await anyio.sleep_forever()
    print(rollout.bundle_dir)

anyio.run(main, sys.argv[1])
"""

_INTERRUPTED = "aborted: its turn was interrupted"
#: What cancelled the turn of ``_CELL``, said after its reason (``record/_cancel_cause.py``).
_WHY = " (cancel scope cancelled)"


@needs_conformance_v3
@pytest.mark.parametrize("inline", [False, True])
def test_an_aborted_tool_calls_span_says_what_stopped_it(inline: bool) -> None:
    """Codex's command stopped when its turn was interrupted: ``show``, ``summary``, the page
    and the tables said ``aborted: its turn was interrupted``, its OTLP span's ERROR status
    ``aborted`` alone (and it is no content: said without ``--inline-payloads`` too)."""
    [bundle] = sorted((CONFORMANCE_V3 / "interrupt_during_tool").glob("trace-*"))
    spans = otlp_trace(load_state(bundle), inline=inline).spans
    [tool] = [s for s in spans if s.name.startswith("execute_tool")]
    assert tool.error == _INTERRUPTED
    [turn] = [s for s in spans if s.name == "turn"]
    assert turn.error == "interrupted"


@pytest.mark.parametrize("schema", ["2", "3"])
def test_a_cell_its_turns_end_terminated_says_so(tmp_path: Path, schema: str) -> None:
    """A code cell cancelled when its turn was (the runtime terminated it) has no output:
    ``show --call`` on it said ``error: (no error text was recorded)``. It says what stopped
    it, as its calls do (aborted in schema 3, cancelled in schema 2); the view model
    carries the words for the page."""
    bundle = _recorded_in_child(_CELL, tmp_path / "traces", schema=schema)
    # with what cancelled the turn: the caller's scope.cancel() (record/_cancel_cause.py)
    nested = ("aborted" if schema == "3" else "cancelled") + ": its turn was interrupted" + _WHY
    out = io.StringIO()
    assert main(["show", str(bundle), "--call", "code_cell:cell"], out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[-1] == "    error: cancelled: its turn was interrupted" + _WHY, out.getvalue()
    assert f"      error: {nested}" in lines  # its nested call, as before
    assert "no error text" not in out.getvalue()
    model = build_view_model(load_state(bundle))
    [cell] = model["cells"]
    assert (cell["st"], cell["stop"]) == ("cancelled", "cancelled: its turn was interrupted" + _WHY)
    stops = {tool["id"]: tool.get("stop") for tool in model["tools"]}
    assert stops == {"cell": nested, "nested": nested}
    spans = otlp_trace(load_state(bundle)).spans
    errors = {s.error for s in spans if s.name.startswith("execute_tool")}
    assert errors == {nested}
