"""``examples/explain.py``: the Python walk over a reduced trace that the docs point to runs
as written and says what the graph says. (``minimal_loop.py`` and ``openai_client.py`` are run
by the tests of what they exercise: tests/record/test_demo.py, tests/integrations/test_openai.py.)"""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pytest

from .conftest import CONFORMANCE, needs_conformance

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "explain.py"


def _explain(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    example: dict[str, Any] = runpy.run_path(str(EXAMPLE))
    code = example["main"](list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_explain_walks_the_demo(demo_bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _explain(capsys, str(demo_bundle))
    assert (code, err) == (0, "")
    assert out.startswith("completed: 2 agent(s), ")
    # each call names the request that asked for it, what that request showed, the answer
    spawn = out[out.index("call_0_spawn  spawn_agent  completed, ") :].splitlines()
    assert spawn[1] == "  agent    /root"
    assert spawn[2].startswith("  asked by ") and spawn[3].startswith("  it saw   ")
    assert spawn[4] == '  answer   function_call_output: {"task_name": "/root/helper_0"}'
    assert "  agent    /root/helper_0 (Helper 0)" in out
    # the messages between agents, with what they carried
    assert "spawn_agent  tool_call call_0_spawn -> conversation_item " in out
    assert "\nagent_result  conversation_item " in out
    assert "  carried  message: Message Type: FINAL_ANSWER" in out


@needs_conformance
def test_explain_failed_calls_only(capsys: pytest.CaptureFixture[str]) -> None:
    """``--failed``: the calls that did not complete, each with the error the model got."""
    (bundle,) = (CONFORMANCE / "malformed_arguments").glob("trace-*")
    code, out, _ = _explain(capsys, str(bundle), "--failed")
    assert code == 0
    calls = [line for line in out.splitlines() if line.startswith("call_")]
    assert calls == [
        "call_bad1  exec_command  failed, 0 ms",
        "call_bad2  exec_command  failed, 0 ms",
    ]
    assert "answer   function_call_output: failed to parse function arguments" in out


def test_explain_says_why_it_cannot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _explain(capsys, str(tmp_path / "missing"))
    assert (code, out) == (1, "")
    assert err.startswith("explain: ") and "manifest.json" in err
