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
    assert spawn[2].startswith("  asked by ")
    assert spawn[3] == "  it saw   user: Episode 0: exercise the shell and a helper agent."
    assert (
        spawn[4]
        == "           function_call_output: Process exited with code 0 Output: episode 0 0"
    )
    assert spawn[5] == '  answer   function_call_output: {"task_name": "/root/helper_0"}'
    assert "  agent    /root/helper_0 (Helper 0)" in out
    # the messages between agents, with what they carried
    assert "spawn_agent  /root -> /root/helper_0 (Helper 0)" in out
    assert "\nagent_result  /root/helper_0 (Helper 0) -> /root" in out
    assert "  carried  message: 2 squared is 4." in out


def test_explain_says_what_each_request_was_answering(
    demo_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ "it saw" was the request's last item alone: a message from the helper, with neither the
    user's ask nor the wait's output the model also answered (found by newuser25). It is
    the user's last message and what came after the model's own last item, named by who
    said it."""
    code, out, _ = _explain(capsys, str(demo_bundle))
    assert code == 0
    close = out[out.index("call_0_close  ") :].splitlines()
    assert close[3:6] == [
        "  it saw   user: Episode 0: exercise the shell and a helper agent.",
        '           function_call_output: {"message": "Wait completed.", "timed_out": false}',
        "           from /root/helper_0: 2 squared is 4.",
    ]
    assert close[6].startswith("  answer   ")
    # the helper's first request: its task, from the agent that spawned it (no instructions)
    helper = out[out.index("call_h0_py  ") :].splitlines()
    assert helper[3] == "  it saw   from /root: Square 2 in the shell and report."
    assert helper[4].startswith("  answer   ")


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
    assert "why      failed to parse function arguments: EOF while parsing" in out


def test_explain_says_why_a_call_failed_with_no_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tool that failed with ``tool.failed(exc)`` has no output item: the reason is only in
    its raw result, and ``--failed`` listed the call without it."""
    import anyio

    from .view.test_error_texts import _record_failures

    bundle = anyio.run(_record_failures, tmp_path)
    code, out, _ = _explain(capsys, str(bundle), "--failed")
    assert code == 0
    assert "  why      FileNotFoundError: [Errno 2] No such file or directory" in out


def test_explain_says_why_it_cannot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _explain(capsys, str(tmp_path / "missing"))
    assert (code, out) == (1, "")
    assert err.startswith("explain: ") and "manifest.json" in err


def test_explain_names_the_agents_and_the_task(
    demo_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Which sub-agent got which task and what it answered: the messages between agents
    printed their anchors' ids (``conversation_item conversation_item:8 -> conversation_item
    conversation_item:9``) and the task as ``[encoded]`` (found by newuser25). Each edge names
    the agents it links and what it carried, the task's text included."""
    code, out, _ = _explain(capsys, str(demo_bundle))
    assert code == 0
    agents = out[out.index("\nspawn_agent  ") :]
    assert agents.startswith("\nspawn_agent  /root -> /root/helper_0 (Helper 0)\n")
    assert "\nagent_result  /root/helper_0 (Helper 0) -> /root\n" in agents
    assert "Square 2 in the shell and report." in agents and "[encoded]" not in agents


def test_explain_gives_each_answer_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A call's output handed to another agent (an Agents SDK handoff copies the history) is
    listed among the call's model-visible outputs twice, its own and the copy: explain
    printed each answer twice (found by newuser25)."""
    from .view.test_show import _handoff_state

    state = _handoff_state(tmp_path)
    (tool,) = state["tool_calls"].values()
    assert len(tool["model_visible_output_item_ids"]) == 2  # the parent's and the child's
    (bundle,) = tmp_path.glob("trace-*")
    code, out, _ = _explain(capsys, str(bundle))
    assert code == 0 and out.count("  answer   function_call_output: Oslo: rain") == 1


def test_explain_counts_each_agents_tokens(
    demo_bundle: Path, demo_state: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """How many tokens each agent used, the third thing one asks (newuser25): one line per
    agent, its requests and tokens as the state's usage sums them."""
    code, out, _ = _explain(capsys, str(demo_bundle))
    assert code == 0
    for thread in demo_state["threads"].values():
        calls = [
            c
            for c in demo_state["inference_calls"].values()
            if c["thread_id"] == thread["thread_id"]
        ]
        used_in = sum(c["usage"]["input_tokens"] for c in calls if c.get("usage"))
        used_out = sum(c["usage"]["output_tokens"] for c in calls if c.get("usage"))
        name = thread["agent_path"] + (f" ({thread['nickname']})" if thread.get("nickname") else "")
        line = f"tokens  {name}: {len(calls)} request(s), {used_in:,} in, {used_out:,} out"
        assert line in out.splitlines(), out


@needs_conformance
def test_explain_names_an_mcp_tool_as_the_export_does(capsys: pytest.CaptureFixture[str]) -> None:
    """An MCP tool read ``add`` here and ``demo/add`` in the export's ``tool_name`` (user38):
    the same call, two names for a script comparing the two routes."""
    (bundle,) = (CONFORMANCE / "mcp_tool_call").glob("trace-*")
    code, out, _ = _explain(capsys, str(bundle), "--failed")
    assert code == 0
    assert [line.split("  ")[1] for line in out.splitlines() if line.startswith("call_")] == [
        "demo/add"
    ]
