"""``rollout-trace diff``: two rollouts of one task, compared agent by agent, step by step."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import attrs
import orjson
import pytest

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.view.diff import agent_steps, agent_tasks, build_diff
from rollout_trace_sdk.view.diff_text import diff_report
from rollout_trace_sdk.view.load import load_state
from rollout_trace_sdk.view.model import build_view_model
from tests.codex_oracle import codex_bin, needs_codex_for
from tests.live.agents_scenarios import AGENT_SCENARIOS
from tests.live.recording import record
from tests.live.script import SEARCH_AGENTS, Scenario, after, first
from tests.live.script import message as live_message

#: A scripted agent's steps: (tool name, arguments, output, failed) or the final answer.
_Step = tuple[str, str, str, bool] | str


def _record(
    root: Path,
    steps: Sequence[_Step],
    *,
    helper: Sequence[_Step] = (),
    helper_task: str = "Do the task.",
    helper_name: str = "helper",
    helper_nickname: str | None = None,
    more_helpers: Sequence[tuple[str, str]] = (),
    metadata: dict[str, Any] | None = None,
) -> Path:
    """One rollout whose root agent takes ``steps`` (one inference call each) and, when
    ``helper`` is given, spawns a helper agent, asked ``helper_task``, that takes those."""

    async def agent(turn: Any, script: Sequence[_Step], prefix: str, task: str) -> None:
        history: list[Any] = [{"role": "user", "content": task}]
        turn.accept(history[0])
        for n, step in enumerate(script):
            async with turn.inference({"input": list(history)}) as inference:
                if isinstance(step, str):
                    inference.completed(
                        output_items=[{"role": "assistant", "content": step}], token_usage=_USED
                    )
                    return
                name, arguments, output, failed = step
                call = {
                    "type": "function_call",
                    "call_id": f"{prefix}{n}",
                    "name": name,
                    "arguments": arguments,
                }
                inference.completed(output_items=[call], token_usage=_USED)
            history.append(call)
            async with turn.tool_call(f"{prefix}{n}", name, arguments=arguments) as tool:
                answer = {
                    "type": "function_call_output",
                    "call_id": f"{prefix}{n}",
                    "output": output,
                }
                if failed:
                    tool.failed(output, output_item=answer)
                else:
                    tool.completed(answer)
            history.append(answer)

    async def record() -> None:
        async with open_rollout(root, model="m", metadata=metadata) as rollout:
            async with rollout.root.turn() as turn:
                await agent(turn, steps, "c", "Do the task.")
            if helper:
                child = rollout.root.spawn(helper_name, nickname=helper_nickname)
                async with child, child.turn() as child_turn:
                    await agent(child_turn, helper, "h", helper_task)
            for name, task in more_helpers:  # (name, task): more agents taking ``helper``
                child = rollout.root.spawn(name)
                async with child, child.turn() as child_turn:
                    await agent(child_turn, helper, f"{name}_", task)

    root.mkdir(parents=True, exist_ok=True)
    before = set(root.glob("trace-*"))
    anyio.run(record)
    (bundle,) = set(root.glob("trace-*")) - before
    return bundle


#: Each inference call's usage.
_USED = {"input_tokens": 100, "output_tokens": 7, "total_tokens": 107}

_SCRIPT: list[_Step] = [
    ("read_file", '{"path":"a.txt"}', "hello", False),
    ("exec_command", '{"cmd":"make"}', "built in 3.2 s (pid 4411)", False),
    ("exec_command", '{"cmd":"make test"}', "ok", False),
    "Done: built and tested.",
]


def _state(tmp_path: Path, name: str, steps: Sequence[_Step], **kw: Any) -> Any:
    return load_state(_record(tmp_path / name, steps, **kw))


def test_steps_are_the_tool_calls_and_answers_in_order(tmp_path: Path) -> None:
    model = build_view_model(_state(tmp_path, "a", _SCRIPT))
    steps = agent_steps(model)[0]
    assert [(s["kind"], s["name"], s["text"]) for s in steps] == [
        ("tool", "read_file", '{"path":"a.txt"}'),
        ("tool", "exec_command", '{"cmd":"make"}'),
        ("tool", "exec_command", '{"cmd":"make test"}'),
        ("message", "assistant", "Done: built and tested."),
    ]
    assert [s["status"] for s in steps[:3]] == ["completed"] * 3
    assert "hello" in steps[0]["output"]


def test_the_same_rollout_is_alike(tmp_path: Path) -> None:
    state = _state(tmp_path, "a", _SCRIPT, helper=[("ls", "{}", "x", False), "ok"])
    diff = build_diff(state, state)
    assert diff["alike"] is True
    assert [a["path"] for a in diff["agents"]] == ["/root", "/root/helper"]
    assert all(a["first_difference"] is None for a in diff["agents"])
    assert diff["agents"][0]["counts"] == {"same": 4, "changed": 0, "only_a": 0, "only_b": 0}


def test_another_result_then_other_steps(tmp_path: Path) -> None:
    """B's build fails; its agent then reads the log instead of testing: the first
    difference is the build's result, and the agents part ways right after it."""
    other: list[_Step] = [
        _SCRIPT[0],
        ("exec_command", '{"cmd":"make"}', "error: missing header", True),
        ("read_file", '{"path":"build.log"}', "missing header foo.h", False),
        "Build failed: foo.h is missing.",
    ]
    diff = build_diff(_state(tmp_path, "a", _SCRIPT), _state(tmp_path, "b", other))
    root = diff["agents"][0]
    assert diff["alike"] is False
    assert root["alike_before"] == 1
    first = root["rows"][root["first_difference"]]
    assert first == {"op": "changed", "a": 1, "b": 1, "line": 0}
    assert root["b"][1]["status"] == "failed"
    parted = root["rows"][root["first_other_step"]]
    assert parted["op"] == "only_a" and parted["a"] == 2
    assert root["counts"] == {"same": 1, "changed": 1, "only_a": 2, "only_b": 2}


def test_text_leads_with_where_they_part(tmp_path: Path) -> None:
    other = [*_SCRIPT[:2], ("exec_command", '{"cmd":"make lint"}', "ok", False), _SCRIPT[3]]
    a = _record(tmp_path / "a", _SCRIPT)
    b = _record(tmp_path / "b", other)
    out, err = io.StringIO(), io.StringIO()
    assert main(["diff", str(a), str(b)], out=out, err=err) == 0, err.getvalue()
    text = out.getvalue()
    assert text.startswith("A rollout ") and "\nB rollout " in text
    assert "━━ /root  A 4 steps · B 4 steps · the first 2 steps alike" in text
    assert "A's step 3: the agents part ways" in text
    assert 'A   3  ⚙ exec_command {"cmd":"make test"}' in text
    assert 'B   3  ⚙ exec_command {"cmd":"make lint"}' in text
    assert "in all: 3 alike, 1 only in A, 1 only in B" in text
    assert "every step alike" not in text


def test_a_run_of_steps_replaced_shows_what_b_did_instead(tmp_path: Path) -> None:
    """B replaced two steps of A's with two of its own: the alignment lists A's two, then
    B's; the first difference still shows B's first step beside A's, not A's alone."""
    other = [
        _SCRIPT[0],
        ("exec_command", '{"cmd":"cmake ."}', "ok", False),
        ("exec_command", '{"cmd":"ninja"}', "ok", False),
        _SCRIPT[3],
    ]
    a, b = _record(tmp_path / "a", _SCRIPT), _record(tmp_path / "b", other)
    out = io.StringIO()
    assert main(["diff", str(a), str(b)], out=out, err=io.StringIO()) == 0
    text = out.getvalue()
    assert "A's step 2: the agents part ways" in text
    assert 'A   2  ⚙ exec_command {"cmd":"make"}' in text
    assert 'B   2  ⚙ exec_command {"cmd":"cmake ."}' in text


def test_steps_lists_every_step_marked(tmp_path: Path) -> None:
    other = [_SCRIPT[0], ("exec_command", '{"cmd":"make"}', "fail", True), _SCRIPT[3]]
    a = _record(tmp_path / "a", _SCRIPT)
    b = _record(tmp_path / "b", other)
    out = io.StringIO()
    assert main(["diff", str(a), str(b), "--steps"], out=out, err=io.StringIO()) == 0
    rows = [line.strip() for line in out.getvalue().splitlines()]
    assert any(r.startswith("1   1  ⚙ read_file") for r in rows)
    assert any(r.startswith("~   2   2  ⚙ exec_command") for r in rows)
    assert "B: failed → fail" in rows
    assert any(r.startswith("-   3      ⚙ exec_command") for r in rows)
    assert any(r.startswith("4   3  assistant: Done") for r in rows)


def test_context_keeps_a_long_agent_s_steps_short(tmp_path: Path) -> None:
    """A 40-step agent that differs at one step: ``--context 1`` lists that step and one alike
    step each side, the runs of others counted (``--steps`` alone lists all 40)."""
    script: list[_Step] = [("step", f'{{"i":{i}}}', "ok", False) for i in range(40)]
    other = list(script)
    other[20] = ("step", '{"i":-1}', "ok", False)
    a, b = _record(tmp_path / "a", script), _record(tmp_path / "b", other)
    out = io.StringIO()
    assert main(["diff", str(a), str(b), "--context", "1"], out=out, err=io.StringIO()) == 0
    rows = [line.strip() for line in out.getvalue().splitlines()]
    shown = rows[rows.index("in all: 39 alike, 1 only in A, 1 only in B") + 1 :]
    assert shown[0] == "… 19 steps alike"
    assert shown[1].startswith("20  20  ⚙ step")
    assert shown[2].startswith('-  21      ⚙ step {"i":20}')
    assert shown[3].startswith('+      21  ⚙ step {"i":-1}')
    assert shown[4].startswith("22  22  ⚙ step")
    assert shown[5] == "… 18 steps alike"
    out = io.StringIO()
    assert main(["diff", str(a), str(b), "--steps"], out=out, err=io.StringIO()) == 0
    assert "steps alike" not in out.getvalue().split("in all:")[1]
    assert main(["diff", str(a), str(b), "--context=-1"], out=out, err=io.StringIO()) == 2


def test_ignore_masks_what_differs_between_runs(tmp_path: Path) -> None:
    """A process id in an output is not a difference a user asked about: ``--ignore`` masks
    it in the comparison (and only there)."""
    other = list(_SCRIPT)
    other[1] = ("exec_command", '{"cmd":"make"}', "built in 3.2 s (pid 5120)", False)
    a, b = _state(tmp_path, "a", _SCRIPT), _state(tmp_path, "b", other)
    assert build_diff(a, b)["alike"] is False
    assert build_diff(a, b, ignore=[r"pid \d+"])["alike"] is True
    assert build_diff(a, b, results=False)["alike"] is True
    masked = build_diff(a, b, ignore=[r"pid \d+"])["agents"][0]
    assert "pid 5120" in masked["b"][1]["output"]  # shown as it is


def test_agents_of_one_side_only(tmp_path: Path) -> None:
    a = _state(tmp_path, "a", _SCRIPT)
    b = _state(tmp_path, "b", _SCRIPT, helper=[("ls", "{}", "x", False), "ok"])
    diff = build_diff(a, b)
    helper = diff["agents"][1]
    assert (helper["path"], helper["in"], helper["steps_a"], helper["steps_b"]) == (
        "/root/helper",
        "b",
        None,
        2,
    )
    assert diff["alike"] is False
    assert build_diff(a, b, thread="/root")["alike"] is True
    with pytest.raises(LookupError, match="no agent '/root/nobody'"):
        build_diff(a, b, thread="/root/nobody")


def test_thread_takes_a_nickname(tmp_path: Path) -> None:
    """``show`` and the page name agents by nickname (an Agents SDK agent's name): ``--thread``
    takes one, as well as a path."""
    helper: list[_Step] = [("ls", "{}", "x", False), "ok"]
    a = _record(tmp_path / "a", _SCRIPT, helper=helper, helper_nickname="Ada")
    b = _record(tmp_path / "b", _SCRIPT[:1], helper=helper, helper_nickname="Ada")
    out = io.StringIO()
    argv = ["diff", str(a), str(b), "--thread", "Ada", "--json", "--exit-code"]
    assert main(argv, out=out, err=io.StringIO()) == 0
    assert [agent["path"] for agent in orjson.loads(out.getvalue())["agents"]] == ["/root/helper"]
    err = io.StringIO()
    assert main(["diff", str(a), str(b), "--thread", "Bo"], out=io.StringIO(), err=err) == 1
    assert "no agent 'Bo' in either rollout" in err.getvalue()


def test_agents_asked_different_things_differ(tmp_path: Path) -> None:
    """Two sub-agents aligned by path whose steps match were still asked different things
    (spawned in another order, an agent run as a tool with another input): not alike, and
    the text says what each was asked."""
    helper: list[_Step] = [("search", '{"q":"docs"}', "3 hits", False), "found it"]
    a = _record(tmp_path / "a", _SCRIPT, helper=helper, helper_task="Translate rain.")
    b = _record(tmp_path / "b", _SCRIPT, helper=helper, helper_task="Translate snow.")
    diff = build_diff(load_state(a), load_state(b))
    root, child = diff["agents"]
    assert root["alike"] is True and root["same_task"] is True
    assert (child["alike"], child["same_task"], child["first_difference"]) == (False, False, None)
    assert (child["task_a"], child["task_b"]) == ("Translate rain.", "Translate snow.")
    assert diff["alike"] is False
    assert build_diff(load_state(a), load_state(b), ignore=["rain|snow"])["alike"] is True
    out = io.StringIO()
    assert main(["diff", str(a), str(b), "--exit-code"], out=out, err=io.StringIO()) == 3
    text = out.getvalue()
    assert "━━ /root/helper  A 2 steps · B 2 steps · asked otherwise · every step alike" in text
    assert "A  task: Translate rain." in text and "B  task: Translate snow." in text


def test_agents_numbered_in_start_order_are_paired_by_task(tmp_path: Path) -> None:
    """Paths numbered as agents start (an Agents SDK agent run as a tool twice:
    ``translator``, ``translator_2``) name other work when B starts them in the other order:
    the two are paired by what they were asked, and an agent asked what none of the other
    side was keeps its path."""
    helper: list[_Step] = [("search", '{"q":"docs"}', "3 hits", False), "found it"]

    def run(name: str, tasks: Sequence[str]) -> Any:
        workers = [(f"w_{n}", task) for n, task in enumerate(tasks)]
        return load_state(_record(tmp_path / name, _SCRIPT, helper=helper, more_helpers=workers))

    a = run("a", ["Translate rain.", "Translate snow.", "Translate hail."])
    b = run("b", ["Translate snow.", "Translate rain.", "Translate fog."])
    diff = build_diff(a, b)
    pairs = [(e["path"], e["path_b"], e["same_task"]) for e in diff["agents"][2:]]
    assert pairs == [
        ("/root/w_0", "/root/w_1", True),
        ("/root/w_1", "/root/w_0", True),
        ("/root/w_2", "/root/w_2", False),
    ]
    assert [e["alike"] for e in diff["agents"]] == [True, True, True, True, False]


def test_a_renamed_agent_asked_the_same_is_compared(tmp_path: Path) -> None:
    """B renamed its sub-agent (``helper`` to ``assistant``): asked the same thing under the
    same parent, the two are compared as one agent, not read as one gone and one new; asked
    something else, they stay apart."""
    helper: list[_Step] = [("search", '{"q":"docs"}', "3 hits", False), "found it"]
    other: list[_Step] = [("search", '{"q":"api"}', "3 hits", False), "found it"]
    a = load_state(_record(tmp_path / "a", _SCRIPT, helper=helper, helper_task="Find docs."))
    b = load_state(
        _record(
            tmp_path / "b", _SCRIPT, helper=other, helper_task="Find docs.", helper_name="assistant"
        )
    )
    child = build_diff(a, b)["agents"][1]
    assert (child["path"], child["path_b"], child["in"]) == (
        "/root/helper",
        "/root/assistant",
        "both",
    )
    assert child["counts"] == {"same": 1, "changed": 0, "only_a": 1, "only_b": 1}
    assert build_diff(a, b, thread="/root/assistant")["agents"][0]["path"] == "/root/helper"
    text = "\n".join("".join(part for part, _ in line.parts) for line in diff_report(a, b)[1])
    assert "━━ /root/helper → /root/assistant  A 2 steps · B 2 steps" in text
    c = load_state(
        _record(
            tmp_path / "c", _SCRIPT, helper=helper, helper_task="Find the API.", helper_name="x"
        )
    )
    apart = build_diff(a, c)["agents"]
    assert [(e["path"], e["in"]) for e in apart] == [
        ("/root", "both"),
        ("/root/helper", "a"),
        ("/root/x", "b"),
    ]


def test_steps_taken_in_another_order_say_so(tmp_path: Path) -> None:
    """B ran the two builds in the other order (sub-agents spawned the other way round): the
    alignment keeps one in place and leaves the other on each side alone; the text says the
    step moved, not that the agents parted ways, and ``--json`` marks both rows."""
    other = [_SCRIPT[0], _SCRIPT[2], _SCRIPT[1], _SCRIPT[3]]
    a, b = _record(tmp_path / "a", _SCRIPT), _record(tmp_path / "b", other)
    root = build_diff(load_state(a), load_state(b))["agents"][0]
    alone = [row for row in root["rows"] if row["op"] in ("only_a", "only_b")]
    assert len(alone) == 2 and root["moved"] == 1
    only_a = next(row for row in alone if row["op"] == "only_a")
    only_b = next(row for row in alone if row["op"] == "only_b")
    assert (only_a["moved"], only_b["moved"]) == (only_b["b"], only_a["a"])
    out = io.StringIO()
    assert main(["diff", str(a), str(b)], out=out, err=io.StringIO()) == 0
    text = out.getvalue()
    first = root["rows"][root["first_difference"]]
    side, other_side = ("A", "B") if first["op"] == "only_a" else ("B", "A")
    step = (first["a"] if side == "A" else first["b"]) + 1
    said = f"{side}'s step {step}: in another order, the same step as {other_side}'s step "
    assert said + f"{first['moved'] + 1}" in text
    assert "the agents part ways" not in text
    assert "in all: 3 alike, 1 only in A, 1 only in B (1 of each taken in another order)" in text


def test_cli_json_and_exit_code(tmp_path: Path) -> None:
    a = _record(tmp_path / "a", _SCRIPT)
    b = _record(tmp_path / "b", _SCRIPT[:1] + _SCRIPT[3:])
    out = io.StringIO()
    assert main(["diff", str(a), str(a), "--exit-code"], out=out, err=io.StringIO()) == 0
    out = io.StringIO()
    code = main(["diff", str(a), str(b), "--json", "--exit-code"], out=out, err=io.StringIO())
    assert code == 3
    data = orjson.loads(out.getvalue())
    assert data["diff_version"] == 1 and data["alike"] is False
    assert data["a"]["tool_calls"] == 3 and data["b"]["tool_calls"] == 1
    assert data["agents"][0]["counts"]["only_a"] == 2


def test_each_agent_s_cost_and_each_run_s_metadata(tmp_path: Path) -> None:
    """A regression report wants which version of an agent is dearer and which task and
    version each run was: per agent ``usage_a``/``usage_b``, per rollout ``metadata``, and a
    ``cost`` line under each agent that differs."""
    a = _record(tmp_path / "a", _SCRIPT, metadata={"task": "t1", "version": "v1"})
    other = [_SCRIPT[0], ("read_file", '{"path":"b.txt"}', "x", False), *_SCRIPT[1:]]
    b = _record(tmp_path / "b", other, metadata={"task": "t1", "version": "v2"})
    out = io.StringIO()
    assert main(["diff", str(a), str(b), "--json"], out=out, err=io.StringIO()) == 0
    data = orjson.loads(out.getvalue())
    assert data["a"]["metadata"] == {"task": "t1", "version": "v1"}
    assert data["b"]["metadata"] == {"task": "t1", "version": "v2"}
    root = data["agents"][0]
    assert root["usage_a"]["inference_calls"] == 4 and root["usage_b"]["inference_calls"] == 5
    assert (root["usage_a"]["input_tokens"], root["usage_a"]["output_tokens"]) == (400, 28)
    assert (root["usage_b"]["input_tokens"], root["usage_b"]["output_tokens"]) == (500, 35)
    assert isinstance(root["usage_a"]["duration_ms"], int)
    out = io.StringIO()
    assert main(["diff", str(a), str(b)], out=out, err=io.StringIO()) == 0
    assert "cost: A 4 model calls, 400 in / 28 out tokens, " in out.getvalue()
    assert " · B 5 model calls, 500 in / 35 out tokens, " in out.getvalue()


@pytest.mark.parametrize(
    ("argv", "message", "code"),
    [
        (["--ignore", "("], "--ignore '(': missing )", 2),
        (["--thread", "/root/x"], "no agent '/root/x' in either rollout", 1),
        # --meta-a/--meta-b pick the bundles --by pairs: without it they were ignored
        (["--meta-a", "version=v1"], "--meta-a and --meta-b pick each side's bundles", 2),
        (["--meta-b", "version=v2"], "only with --by KEY", 2),
    ],
)
def test_cli_refuses_clearly(tmp_path: Path, argv: list[str], message: str, code: int) -> None:
    a = _record(tmp_path / "a", _SCRIPT)
    err = io.StringIO()
    assert main(["diff", str(a), str(a), *argv], out=io.StringIO(), err=err) == code
    assert message in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_cli_missing_source_is_refused(tmp_path: Path) -> None:
    a = _record(tmp_path / "a", _SCRIPT)
    err = io.StringIO()
    assert main(["diff", str(a), str(tmp_path / "nothing")], out=io.StringIO(), err=err) == 1
    assert "nothing" in err.getvalue() and "Traceback" not in err.getvalue()


def test_a_root_with_latest_compares_its_two_newest(tmp_path: Path) -> None:
    """``diff ROOT --latest``: the run before the newest (A) against the newest (B)."""
    root = tmp_path / "runs"
    _record(root, _SCRIPT)
    err = io.StringIO()
    assert main(["diff", str(root), "--latest"], out=io.StringIO(), err=err) == 1
    assert "holds one bundle; diff compares two" in err.getvalue()
    _record(root, _SCRIPT[:1] + _SCRIPT[3:])
    out = io.StringIO()
    assert main(["diff", str(root), "--latest", "--json"], out=out, err=io.StringIO()) == 0
    data = orjson.loads(out.getvalue())
    assert (data["a"]["tool_calls"], data["b"]["tool_calls"]) == (3, 1)  # older first
    err = io.StringIO()
    assert main(["diff", str(root)], out=io.StringIO(), err=err) == 2
    assert "give two rollouts (A B), or a traces root with --latest" in err.getvalue()


def _handed_off(root: Path, to: str) -> Any:
    """A root agent whose model calls ``transfer_to_<to>`` with ``{}`` (an Agents SDK
    handoff: the arguments are the same whichever agent it hands to), recorded as the
    integration records it, a ``spawn_agent`` call spawning the agent (its own arguments
    name the task; the model's item, which the step reads, has ``{}``)."""

    async def record() -> None:
        async with open_rollout(root, model="m") as rollout, rollout.root.turn() as turn:
            call = {
                "type": "function_call",
                "call_id": "h1",
                "name": f"transfer_to_{to}",
                "arguments": "{}",
            }
            async with turn.inference({"input": []}) as inference:
                inference.completed(output_items=[call])
            given = {"task_name": to, "message": f"Handoff from root to {to}"}
            async with turn.tool_call("h1", "spawn_agent", arguments=given) as tool:
                tool.spawn_agent(to)
                tool.completed(None)

    root.mkdir(parents=True)
    anyio.run(record)
    (bundle,) = root.glob("trace-*")
    return load_state(bundle)


def test_a_handoff_to_another_agent_is_another_step(tmp_path: Path) -> None:
    """Two handoffs whose model arguments are both ``{}`` went to other agents: they are
    other steps (both read ``spawn_agent {}`` and were compared alike: review of user52's
    campaign), named by where they went as ``show`` names them."""
    writer = _handed_off(tmp_path / "a", "writer")
    critic = _handed_off(tmp_path / "b", "critic")
    root = build_diff(writer, critic, thread="/root")["agents"][0]
    assert root["counts"]["same"] == 0
    assert [step["target"] for step in root["a"] + root["b"]] == ["/root/writer", "/root/critic"]
    assert build_diff(writer, _handed_off(tmp_path / "c", "writer"))["alike"] is True
    _, lines = diff_report(writer, critic)
    text = "\n".join(line.text for line in lines)
    assert "⚙ spawn_agent → /root/writer {}" in text


def _spawned_twice(root: Path, commands: Sequence[str]) -> Any:
    """A rollout whose root spawns ``/root/helper`` once per command, one after another (the
    first done before the next starts: two threads of one path), each running its command."""

    async def record() -> None:
        async with open_rollout(root, model="m") as rollout:
            for n, command in enumerate(commands):
                child = rollout.root.spawn("helper")
                async with child, child.turn() as turn:
                    task = {"role": "user", "content": "Clean up."}
                    turn.accept(task)
                    call = {"type": "function_call", "call_id": f"h{n}", "name": command}
                    call["arguments"] = "{}"
                    async with turn.inference({"input": [task]}) as inference:
                        inference.completed(output_items=[call], token_usage=_USED)
                    async with turn.tool_call(f"h{n}", command, arguments="{}") as tool:
                        output = {"type": "function_call_output", "call_id": f"h{n}"}
                        tool.completed({**output, "output": "ok"})

    root.mkdir(parents=True)
    anyio.run(record)
    (bundle,) = root.glob("trace-*")
    return load_state(bundle)


def test_two_agents_of_one_path_are_both_compared(tmp_path: Path) -> None:
    """An agent path used again (a helper spawned after the first one ended) names two
    agents: each is compared with its counterpart, the second as ``/root/helper#2`` (only the
    last was: the first helpers' other steps read alike)."""
    a = _spawned_twice(tmp_path / "a", ["ls", "ls"])
    b = _spawned_twice(tmp_path / "b", ["rm", "ls"])
    diff = build_diff(a, b)
    assert [agent["path"] for agent in diff["agents"]] == [
        "/root",
        "/root/helper",
        "/root/helper#2",
    ]
    assert [agent["alike"] for agent in diff["agents"]] == [True, False, True]
    assert diff["alike"] is False
    assert build_diff(a, b, thread="/root/helper#2")["alike"] is True
    assert build_diff(a, b, thread="/root/helper")["alike"] is False


def test_an_agent_s_task_is_what_it_was_asked_not_its_instructions(tmp_path: Path) -> None:
    """The task compared is the first request's user messages (or another agent's), not the
    developer instructions nor an assistant message sent with them: two versions of an agent
    with other system prompts would else read as asked different things."""

    async def record() -> None:
        sent = [
            {"role": "developer", "content": "You are terse."},
            {"role": "assistant", "content": "Earlier answer."},
            {"role": "user", "content": "Sum 2 and 3."},
        ]
        async with open_rollout(tmp_path, model="m") as rollout, rollout.root.turn() as turn:
            turn.accept(*sent)
            async with turn.inference({"input": sent}) as inference:
                answer = [{"role": "assistant", "content": "5"}]
                inference.completed(output_items=answer, token_usage=_USED)

    anyio.run(record)
    (bundle,) = tmp_path.glob("trace-*")
    assert agent_tasks(build_view_model(load_state(bundle))) == {0: "Sum 2 and 3."}


def test_a_tool_call_no_response_asked_for_is_a_step(tmp_path: Path) -> None:
    """A tool call no recorded response asked for (a loop that runs a tool on its own, a
    request the log lost) is still one of the agent's steps, placed by its start."""

    async def record() -> None:
        async with open_rollout(tmp_path, model="m") as rollout, rollout.root.turn() as turn:
            turn.accept({"role": "user", "content": "Do the task."})
            async with turn.tool_call("c0", "setup", arguments="{}") as tool:
                tool.completed({"type": "function_call_output", "call_id": "c0", "output": "ok"})
            async with turn.inference({"input": []}) as inference:
                answer = [{"role": "assistant", "content": "Done."}]
                inference.completed(output_items=answer, token_usage=_USED)

    anyio.run(record)
    (bundle,) = tmp_path.glob("trace-*")
    steps = agent_steps(build_view_model(load_state(bundle)))[0]
    assert [(s["kind"], s["name"], s["status"]) for s in steps] == [
        ("tool", "setup", "completed"),
        ("message", "assistant", "completed"),
    ]


def test_an_agent_with_no_model_call_was_not_asked_otherwise(tmp_path: Path) -> None:
    """What an agent was asked is read from its first model call: one that made none yet (a
    bundle still being recorded, one cut short, tools recorded without their model calls)
    was asked what is not known, not something else (it read ``asked otherwise`` with an
    empty task, and never alike)."""

    async def record(root: Path, asked: bool) -> None:
        async with open_rollout(root, model="m") as rollout:
            child = rollout.root.spawn("helper")
            async with child, child.turn() as turn:
                call = {"type": "function_call", "call_id": "h0", "name": "ls", "arguments": "{}"}
                if asked:
                    task = {"role": "user", "content": "Do the task."}
                    turn.accept(task)
                    async with turn.inference({"input": [task]}) as inference:
                        inference.completed(output_items=[call], token_usage=_USED)
                async with turn.tool_call("h0", "ls", arguments="{}") as tool:
                    tool.completed({"type": "function_call_output", "call_id": "h0", "output": "x"})

    for name, asked in (("a", True), ("b", False)):
        anyio.run(record, tmp_path / name, asked)
    states = [load_state(next((tmp_path / name).glob("trace-*"))) for name in "ab"]
    diff = build_diff(*states)
    (helper,) = [agent for agent in diff["agents"] if agent["path"] == "/root/helper"]
    assert (helper["task_a"], helper["task_b"]) == ("Do the task.", None)
    assert (helper["same_task"], helper["alike"], diff["alike"]) == (True, True, True)


def _codex_like(
    root: Path, *, search: str | None, cell_cmd: str, last_output: str, limit: int | None = None
) -> Path:
    """A rollout shaped as Codex writes one (user53): a web search the model ran on the
    server (an item of its response, no tool call) when ``search`` is given, a code cell
    whose nested exec_command runs ``cell_cmd`` (no model-visible item: only its terminal
    command says what it ran), then a last tool call whose answer no request carried (the
    run stopped after it: only its raw result holds ``last_output``); ``limit``: recorded
    under that ``max_payload_bytes``."""

    async def record() -> None:
        recording = open_rollout(root, model="m", schema_version=3, max_payload_bytes=limit)
        async with recording as rollout, rollout.root.turn() as turn:
            turn.accept({"role": "user", "content": "Fix the greeting."})
            items: list[Any] = []
            if search is not None:
                action = {"type": "search", "query": search}
                items.append({"type": "web_search_call", "id": "ws_1", "status": "completed",
                              "action": action})  # fmt: skip
            cell_call = {"type": "custom_tool_call", "name": "exec", "call_id": "c1",
                         "input": "await tools.exec_command({cmd})"}  # fmt: skip
            async with turn.inference({"input": []}) as inference:
                inference.completed(output_items=[*items, cell_call], token_usage=_USED)
            async with turn.tool_call("c1", "exec", input=cell_call["input"]) as tool:
                cell = tool.code_cell("1", cell_call["input"])
                async with cell.tool_call("e1", "exec_command", runtime_tool_id="tool-1") as inner:
                    shell = inner.exec_started(["/bin/bash", "-lc", cell_cmd], process_id=7)
                    shell.exited(0, "done")
                    inner.completed_value("done")
                cell.finished([{"type": "input_text", "text": "done"}])
                tool.completed({"type": "custom_tool_call_output", "call_id": "c1",
                                "output": "done"})  # fmt: skip
            last = call("exec_command", '{"cmd":"cat hello.txt"}', "c2")
            async with turn.inference({"input": []}) as inference:
                inference.completed(output_items=[last], token_usage=_USED)
            async with turn.tool_call("c2", "exec_command", arguments=last["arguments"]) as tool:
                tool.completed({"type": "function_call_output", "call_id": "c2",
                                "output": last_output})  # fmt: skip

    root.mkdir(parents=True, exist_ok=True)
    anyio.run(record)
    (bundle,) = root.glob("trace-*")
    return bundle


def call(name: str, arguments: str, call_id: str) -> dict[str, Any]:
    return {"type": "function_call", "name": name, "arguments": arguments, "call_id": call_id}


def _codex_diff(tmp_path: Path, a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    base = {"search": None, "cell_cmd": "cat hello.txt", "last_output": "hello world"}
    return build_diff(
        load_state(_codex_like(tmp_path / "a", **{**base, **a})),
        load_state(_codex_like(tmp_path / "b", **{**base, **b})),
    )


def test_a_web_search_the_model_ran_is_a_step(tmp_path: Path) -> None:
    """B's model searched the web before its first call: diff said `every step alike`
    (a search is an item of the response, not a tool call), now B's step 1 is the search,
    in words as `show` prints it (user53)."""
    diff = _codex_diff(tmp_path, {}, {"search": "greeting spelling"})
    root = diff["agents"][0]
    assert diff["alike"] is False
    assert root["rows"][root["first_other_step"]] == {"op": "only_b", "a": None, "b": 0}
    assert root["b"][0]["kind"] == "item"
    assert root["b"][0]["text"] == '⌕ web search: "greeting spelling"'
    out = io.StringIO()
    a, b = (next((tmp_path / side).glob("trace-*")) for side in "ab")
    assert main(["diff", str(a), str(b)], out=out, err=io.StringIO()) == 0
    assert 'B   1  ⌕ web search: "greeting spelling" · completed' in out.getvalue()
    searched = _codex_diff(tmp_path / "again", {"search": "x"}, {"search": "y"})
    assert searched["alike"] is False  # another query is another step


def test_a_call_a_code_cell_made_is_told_by_its_command(tmp_path: Path) -> None:
    """A cell's nested exec_command has no item of the model's: every one read as
    `exec_command` with no arguments, alike whatever it ran; now its terminal command is
    its text, as `show` prints it (user53)."""
    diff = _codex_diff(tmp_path, {}, {"cell_cmd": "rm hello.txt"})
    root = diff["agents"][0]
    assert diff["alike"] is False
    texts = [(s["name"], s["text"]) for s in root["a"]]
    assert ("exec_command", "$ /bin/bash -lc cat hello.txt") in texts
    assert ("exec_command", "$ /bin/bash -lc rm hello.txt") in [
        (s["name"], s["text"]) for s in root["b"]
    ]


def test_an_answer_no_request_carried_is_compared(tmp_path: Path) -> None:
    """The last call's output is in its raw result alone (no later request carried it; a
    compaction replacing it reads the same): both read "" and the two runs `alike`, though
    `show` prints each answer; now it is compared (user53)."""
    diff = _codex_diff(tmp_path, {}, {"last_output": "cat: hello.txt: No such file"})
    root = diff["agents"][0]
    assert diff["alike"] is False
    assert root["rows"][root["first_difference"]]["op"] == "changed"
    assert root["a"][-1]["output"] == "hello world"
    alike = _codex_diff(tmp_path / "again", {}, {})
    assert alike["alike"] is True


def test_a_result_a_capture_limit_cut_is_not_another_result(tmp_path: Path) -> None:
    """B was recorded under `max_payload_bytes`, which cut its last call's result: its output
    read "", and the call `the same call, another result` (every call of a Codex run under
    `-c rollout_trace.max_payload_bytes=200` did). Not known is not another: the statuses
    are compared, and the text says what the limit kept (user53)."""
    long = "hello world\n" * 200
    diff = _codex_diff(tmp_path, {"last_output": long}, {"last_output": long, "limit": 1000})
    root = diff["agents"][0]
    assert root["b"][-1]["output"] == ""
    assert root["b"][-1]["output_unknown"].startswith("[result raw_payload:")
    assert "truncated" in root["b"][-1]["output_unknown"]
    assert diff["alike"] is True, root["rows"]
    a, b = (next((tmp_path / side).glob("trace-*")) for side in "ab")
    out = io.StringIO()
    assert main(["diff", str(a), str(b), "--thread", "/root"], out=out, err=io.StringIO()) == 0
    assert "every step alike" in out.getvalue()
    failed = _codex_diff(tmp_path / "failed", {"last_output": long}, {"limit": 1000})
    assert failed["alike"] is False  # a result known on both sides is still compared


def test_another_result_is_shown_from_the_line_where_it_differs(tmp_path: Path) -> None:
    """Codex's command outputs start `Chunk ID: …` and `Wall time: …`: with those ignored,
    the first line of each side, cut, read the same (`Chunk ID: 9f9426 … [96 more chars]`
    twice) though the outputs differ further down; the pair is now shown from the first line
    that differs, said as `(line N)` (user53)."""

    def codex_output(chunk: str, seconds: str, text: str) -> str:
        return f"Chunk ID: {chunk}\nWall time: {seconds} seconds\nOutput:\n{text}"

    cmd = '{"cmd":"cat hello.txt"}'
    a = _record(tmp_path / "a", [("exec_command", cmd, codex_output("a1", "0.1", "hi"), False)])
    b = _record(tmp_path / "b", [("exec_command", cmd, codex_output("b2", "0.3", "bye"), False)])
    ignore = ["--ignore", r"Chunk ID: \w+", "--ignore", r"Wall time: [\d.]+ seconds"]
    out = io.StringIO()
    assert main(["diff", str(a), str(b), *ignore], out=out, err=io.StringIO()) == 0
    text = out.getvalue()
    assert 'A   1  ⚙ exec_command {"cmd":"cat hello.txt"} · completed → (line 4) hi' in text
    assert 'B   1  ⚙ exec_command {"cmd":"cat hello.txt"} · completed → (line 4) bye' in text
    out = io.StringIO()
    assert main(["diff", str(a), str(b), *ignore, "--steps"], out=out, err=io.StringIO()) == 0
    assert "B: completed → (line 4) bye" in out.getvalue().splitlines()[-1]
    out = io.StringIO()
    assert main(["diff", str(a), str(b), "--json"], out=out, err=io.StringIO()) == 0
    (row,) = orjson.loads(out.getvalue())["agents"][0]["rows"][:1]
    assert row == {"op": "changed", "a": 0, "b": 0, "line": 0}  # the chunk ids differ first


@needs_codex_for(3)
def test_two_codex_runs_of_one_tool_search_are_alike(tmp_path: Path) -> None:
    """The real Codex 0.171 run twice on one script whose model searches its deferred tools:
    the tool search's arguments, read with their JSON, held the item's id Codex draws anew
    each run (`tsc_01a2531a-…`), so every Codex run that searched (MCP tools, multi-agent v1)
    parted ways at that step; the id is left out (user53)."""
    rules = [first(SEARCH_AGENTS), after("ts", live_message("Found them."))]
    sides = []
    for side in "ab":
        (bundle,) = record(str(codex_bin(3)), Scenario("search", "Find.", rules), tmp_path / side)
        sides.append(str(bundle))
    out = io.StringIO()
    assert main(["diff", *sides, "--json"], out=out, err=io.StringIO()) == 0
    diff = orjson.loads(out.getvalue())
    steps = diff["agents"][0]["a"]
    assert steps[0]["name"] == "tool_search" and '"query":"spawn agent' in steps[0]["text"]
    assert "tsc_" not in steps[0]["text"]
    assert diff["alike"] is True, diff["agents"][0]["rows"]
    out = io.StringIO()
    other = [first(SEARCH_AGENTS), after("ts", live_message("Found none."))]
    (bundle,) = record(str(codex_bin(3)), Scenario("search", "Find.", other), tmp_path / "c")
    assert main(["diff", sides[0], str(bundle)], out=out, err=io.StringIO()) == 0
    assert "━━ /root  A 2 steps · B 2 steps · the first step alike" in out.getvalue()


@needs_codex_for(3)
def test_a_multi_agent_v1_root_and_its_sub_agent_are_both_compared(tmp_path: Path) -> None:
    """Codex gives a multi-agent v1 sub-agent its parent's path, `/root`: one agent a path,
    the sub-agent took the root's place and the root was compared no more (two runs whose
    root answered otherwise read `every step alike`). The sub-agent is named as `show`
    labels it, `/root (Rawls)`, and paired with B's by task, its nickname drawn anew each
    run (user53)."""
    (scenario,) = [s for s in AGENT_SCENARIOS if s.name == "multi_agent_v1_spawn_wait_close"]
    other = [
        {**rule, "items": [live_message("Closed it.")]} if rule["name"] == "closed" else rule
        for rule in scenario.rules
    ]
    sides = []
    for side, rules in (("a", scenario.rules), ("b", other)):
        (bundle,) = record(str(codex_bin(3)), attrs.evolve(scenario, rules=rules), tmp_path / side)
        sides.append(str(bundle))
    uuid = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    ignore = ["--ignore", r"Chunk ID: \w+", "--ignore", r"Wall time:? [\d.]+ seconds"]
    ignore += ["--ignore", uuid, "--ignore", '"nickname":"[^"]*"']
    out = io.StringIO()
    assert main(["diff", *sides, *ignore, "--json"], out=out, err=io.StringIO()) == 0
    diff = orjson.loads(out.getvalue())
    root, child = diff["agents"]
    assert root["path"] == "/root" and root["steps_a"] == 5 and root["alike"] is False
    assert root["a"][-1]["text"] == "The v1 agent finished and was closed."
    assert child["path"].startswith("/root (") and child["path_b"].startswith("/root (")
    assert child["alike"] is True and child["steps_a"] == 2
    nickname = child["path"][len("/root (") : -1]
    out = io.StringIO()
    assert main(["diff", *sides, *ignore, "--thread", nickname], out=out, err=io.StringIO()) == 0
    assert f"━━ /root ({nickname}) → {child['path_b']}  A 2 steps · B 2 steps · alike" in (
        out.getvalue()
    )


def test_a_bug_raising_key_error_is_not_read_as_no_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only ``NoSuchAgent`` reads "no agent": the command caught every ``LookupError``, so a
    ``KeyError`` from a bug in the comparison printed as a user's mistake (review53)."""
    from rollout_trace_sdk.view import diff_text

    a = _record(tmp_path / "a", _SCRIPT)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("steps")

    monkeypatch.setattr(diff_text, "compare_sides", broken)
    err = io.StringIO()
    assert main(["diff", str(a), str(a)], out=io.StringIO(), err=err) == 1
    assert "internal error: KeyError" in err.getvalue()
    assert "no agent" not in err.getvalue()
