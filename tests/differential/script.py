"""Recording scripts for differential tests: what an agent loop did, independent of how it is
recorded. Hypothesis builds scripts; drivers turn a script into a bundle (through our recorder,
or straight through the codec), and both reducers must agree on the result."""

from __future__ import annotations

from typing import Literal

import attrs
from hypothesis import strategies as st

from rollout_trace_sdk.model import events as ev

Outcome = Literal["completed", "failed", "cancelled"]


@attrs.frozen
class ToolScript:
    call_id: str
    name: str
    arguments: str
    status: ev.ExecutionStatus
    output: str
    #: exec_command: keeps its process alive (a later write_stdin may reach it).
    process_id: str | None = None
    #: write_stdin: the exec_command call whose process it writes to.
    target_exec: str | None = None
    #: exec (code mode): how many nested exec_command calls the cell makes
    nested: int = 0
    #: exec (code mode): the cell yields before finishing (a later wait ends it)
    yielded: bool = False


@attrs.frozen
class StepScript:
    reasoning: bool
    encrypted_reasoning: bool
    message: str | None
    phase: Literal["commentary", "final_answer"] | None
    tools: tuple[ToolScript, ...]
    outcome: Outcome
    #: which response items enter history (and get a history_item_accepted)
    accept: tuple[bool, ...]
    #: drop this history position from the request (a loop that trims history)
    drop_index: int | None
    input_tokens: int
    output_tokens: int
    #: send only the new items with previous_response_id (when the last step completed)
    incremental: bool = False


@attrs.frozen
class ChildScript:
    task_name: str
    message: str
    turns: tuple[TurnScript, ...]
    result: str


@attrs.frozen
class TurnScript:
    user_text: str
    accept_user: bool
    steps: tuple[StepScript, ...]
    compaction: Literal["none", "installed", "failed"]
    end: Outcome
    spawn: ChildScript | None
    #: attach image number N (small range, so the same image comes back) to the user message
    image: int | None = None


@attrs.frozen
class Script:
    turns: tuple[TurnScript, ...]
    #: the loop's own items (base instructions, tool outputs) carry no responses id
    idless: bool = False


_words = st.sampled_from(
    ["list files", "read notes", "fix bug", "héllo wörld", "run tests", "", "x" * 300, "a\nb"]
)


@st.composite
def _tools(draw: st.DrawFn, prefix: str, execs: list[str]) -> tuple[ToolScript, ...]:
    count = draw(st.integers(0, 3))
    tools = []
    for n in range(count):
        call_id = f"call_{prefix}_{n}"
        name = draw(
            st.sampled_from(["exec_command", "write_stdin", "view_file", "apply_patch", "exec"])
        )
        status: ev.ExecutionStatus = draw(st.sampled_from(["completed", "completed", "failed"]))
        output = draw(_words)
        if name == "write_stdin" and not execs:
            name = "exec_command"
        if name == "exec_command":
            keep = draw(st.booleans())
            pid = str(1000 + len(execs)) if keep else None
            tools.append(
                ToolScript(call_id, name, f'{{"cmd": "echo {n}"}}', status, output, process_id=pid)
            )
            if pid is not None:
                execs.append(call_id)
        elif name == "write_stdin":
            target = draw(st.sampled_from(execs))
            tools.append(
                ToolScript(
                    call_id,
                    name,
                    f'{{"session_id": {1000 + execs.index(target)}, "chars": "y\\n"}}',
                    status,
                    output,
                    target_exec=target,
                )
            )
        elif name == "exec":
            nested = draw(st.integers(0, 2))
            source = "".join(
                f'await tools.exec_command({{cmd: "echo {k}"}});\n' for k in range(nested)
            )
            yielded = draw(st.integers(0, 3)) == 0
            tools.append(
                ToolScript(call_id, name, source, status, output, nested=nested, yielded=yielded)
            )
        elif name == "apply_patch":
            tools.append(
                ToolScript(call_id, name, "*** Begin Patch\n*** End Patch", status, output)
            )
        else:
            tools.append(ToolScript(call_id, name, '{"path": "notes.txt"}', status, output))
    return tuple(tools)


@st.composite
def _step(draw: st.DrawFn, prefix: str, execs: list[str]) -> StepScript:
    reasoning = draw(st.booleans())
    message = draw(st.one_of(st.none(), _words))
    tools = draw(_tools(prefix, execs))
    n_items = int(reasoning) + int(message is not None) + len(tools)
    accept = tuple(
        draw(st.lists(st.booleans() | st.just(True), min_size=n_items, max_size=n_items))
    )
    return StepScript(
        reasoning=reasoning,
        encrypted_reasoning=draw(st.booleans()),
        message=message,
        phase=draw(st.sampled_from([None, "commentary", "final_answer"])),
        tools=tools,
        outcome=draw(st.sampled_from(["completed"] * 6 + ["failed", "cancelled"])),
        accept=accept,
        drop_index=draw(st.one_of(st.none(), st.none(), st.integers(0, 6))),
        input_tokens=draw(st.integers(0, 5000)),
        output_tokens=draw(st.integers(0, 500)),
        incremental=draw(st.integers(0, 4)) == 0,
    )


@st.composite
def _turn(draw: st.DrawFn, prefix: str, execs: list[str], allow_spawn: bool) -> TurnScript:
    steps = tuple(draw(_step(f"{prefix}s{n}", execs)) for n in range(draw(st.integers(1, 4))))
    spawn = None
    if allow_spawn and draw(st.integers(0, 3)) == 0:
        child_turns = tuple(
            draw(_turn(f"{prefix}c{n}", [], False)) for n in range(draw(st.integers(1, 2)))
        )
        spawn = ChildScript(
            task_name=draw(st.sampled_from(["worker", "helper", "planner"])),
            message=draw(_words),
            turns=child_turns,
            result=draw(_words),
        )
    return TurnScript(
        user_text=draw(_words),
        accept_user=draw(st.booleans() | st.just(True)),
        steps=steps,
        compaction=draw(st.sampled_from(["none"] * 4 + ["installed", "failed"])),
        end=draw(st.sampled_from(["completed"] * 5 + ["failed", "cancelled"])),
        spawn=spawn,
        image=draw(st.one_of(st.none(), st.none(), st.integers(0, 2))),
    )


@st.composite
def scripts(draw: st.DrawFn) -> Script:
    execs: list[str] = []
    turns = tuple(draw(_turn(f"t{n}", execs, True)) for n in range(draw(st.integers(1, 3))))
    return Script(turns, idless=draw(st.integers(0, 4)) == 0)
