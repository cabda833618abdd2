"""The differential scripts (tests/differential/script.py), played through the recorder's
public API instead of straight through the codec: Codex must accept every bundle and our
reducer must build the same state from it.

Model output items carry ids (providers give them); the loop's own items (user input, tool
outputs, the base instructions) do not, so the recorder's id assignment is part of what is
checked."""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import anyio
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from rollout_trace_sdk.record import (
    AgentThread,
    Rollout,
    TerminalSession,
    Turn,
    open_rollout,
    task_message,
)

from ..differential.script import ChildScript, Script, StepScript, ToolScript, TurnScript, scripts
from .recorder_support import bundle_in, check_bundle, types


def _message(role: str, text: str, item_id: str | None = None) -> dict[str, Any]:
    kind = "output_text" if role == "assistant" else "input_text"
    item: dict[str, Any] = {"type": "message"}
    if item_id is not None:
        item["id"] = item_id
    item.update(role=role, content=[{"type": kind, "text": text}])
    return item


class _Loop:
    """Plays a script; with ``extras``, it also uses what the script does not say now and
    then: usage on a failed call, a tool call left open (waiting for an approval), metadata
    added between turns."""

    def __init__(
        self,
        thread: AgentThread,
        sessions: dict[str, TerminalSession],
        extras: random.Random | None = None,
    ) -> None:
        self.thread = thread
        self.sessions = sessions
        self.extras = extras
        self.history: list[Any] = [_message("developer", "be brief")]
        self.responses = 0

    async def turn(self, script: TurnScript, first: dict[str, Any] | None) -> Turn:
        turn = self.thread.turn()
        if first is not None:
            self.history.append(turn.accept_agent_message(first))
        else:
            user = _message("user", script.user_text)
            self.history += turn.accept(user) if script.accept_user else [user]
        for step in script.steps:
            await self.step(turn, step)
        if script.compaction != "none":
            await self.compact(turn, script.compaction == "failed")
        if script.spawn is not None:
            await self.spawn(turn, script.spawn)
        turn.end(script.end)
        return turn

    async def step(self, turn: Turn, step: StepScript) -> None:
        items = list(self.history)
        if step.drop_index is not None and step.drop_index < len(items):
            del items[step.drop_index]
        self.responses += 1
        n = f"{self.thread.agent_path}_{self.responses}"
        output: list[dict[str, Any]] = []
        if step.reasoning:
            reasoning: dict[str, Any] = {
                "type": "reasoning",
                "id": f"rs_{n}",
                "summary": [{"type": "summary_text", "text": f"thinking {n}"}],
            }
            if step.encrypted_reasoning:
                reasoning["encrypted_content"] = f"ENC{n}"
            output.append(reasoning)
        if step.message is not None:
            message = _message("assistant", step.message, f"msg_{n}")
            if step.phase is not None:
                message["phase"] = step.phase
            output.append(message)
        for tool in step.tools:
            if tool.name == "apply_patch":
                output.append(
                    {"type": "custom_tool_call", "id": f"ctc_{tool.call_id}", "name": tool.name}
                    | {"input": tool.arguments, "call_id": tool.call_id}
                )
            else:
                output.append(
                    {"type": "function_call", "id": f"fc_{tool.call_id}", "name": tool.name}
                    | {"arguments": tool.arguments, "call_id": tool.call_id}
                )
        async with turn.inference({"model": "gpt-test", "input": items}) as call:
            if step.outcome == "failed":
                usage = None
                if self._now_and_then(0.5):  # an answer the client could not use, billed
                    usage = {"input_tokens": step.input_tokens, "output_tokens": 3}
                call.failed(
                    "stream disconnected",
                    upstream_request_id="req-1",
                    partial_items=output[:1],
                    token_usage=usage,
                )
                return
            if step.outcome == "cancelled":
                call.cancelled("turn interrupted")
                return
            recorded = call.completed(
                response_id=f"resp_{n}",
                output_items=output,
                token_usage={
                    "input_tokens": step.input_tokens,
                    "output_tokens": step.output_tokens,
                },
                accept=False,
            )
        for item, accepted in zip(recorded, step.accept, strict=False):
            if accepted:
                self.history += turn.accept(item)
        for tool in step.tools:
            await self.tool(turn, tool)

    async def tool(self, turn: Turn, script: ToolScript) -> None:
        custom = script.name == "apply_patch"
        async with turn.tool_call(
            script.call_id,
            script.name,
            arguments=None if custom else script.arguments,
            input=script.arguments if custom else None,
        ) as tool:
            if self._now_and_then(0.1):  # waits for an approval outside the rollout
                tool.left_open()
                return
            target = self.sessions.get(script.target_exec or "")
            if target is not None:
                tool.stdin_target(target)
            if script.name == "exec_command":
                session = tool.exec_started(
                    ["/bin/bash", "-lc", "echo"], process_id=script.process_id, cwd="/tmp"
                )
                session.exited(0 if script.status == "completed" else 1, script.output)
                self.sessions[script.call_id] = session
            kind = "custom_tool_call_output" if custom else "function_call_output"
            output = {"type": kind, "call_id": script.call_id, "output": script.output}
            if script.status == "completed":
                self.history.append(tool.completed(output))
            else:
                tool.failed(script.output)
                self.history += turn.accept(output)

    def _now_and_then(self, chance: float) -> bool:
        return self.extras is not None and self.extras.random() < chance

    async def compact(self, turn: Turn, fail: bool) -> None:
        compaction = turn.compaction()
        request = {"model": "gpt-test", "input": [*self.history, {"type": "compaction_trigger"}]}
        async with compaction.request(request) as attempt:
            if fail:
                attempt.failed("compaction failed")
                return
            summary = attempt.completed(
                [{"type": "compaction", "encrypted_content": f"SUMMARY-{compaction.compaction_id}"}]
            )
        users = [i for i in self.history if i.get("role") == "user"]
        replacement = compaction.installed(
            input_history=self.history[1:], replacement_history=[*users, *summary]
        )
        self.history = [self.history[0], *replacement]

    async def spawn(self, turn: Turn, script: ChildScript) -> None:
        arguments = json.dumps({"task_name": script.task_name, "message": script.message})
        async with turn.tool_call(
            f"call_spawn_{self.responses}",
            "spawn_agent",
            namespace="collaboration",
            arguments=arguments,
        ) as tool:
            child = tool.spawn_agent(script.task_name, nickname="Nash")
            output = {"type": "function_call_output", "call_id": tool.tool_call_id, "output": "{}"}
            self.history.append(tool.completed(output))
        loop = _Loop(child, {}, self.extras)
        last: Turn | None = None
        async with child:
            for n, child_turn in enumerate(script.turns):
                first = None
                if n == 0:
                    first = task_message(self.thread.agent_path, child.agent_path, script.message)
                last = await loop.turn(child_turn, first)
        assert last is not None
        self.history.append(turn.accept_agent_message(last.report_result(script.result)))


async def play_with_extras(rollout: Rollout, script: Script, extras: random.Random) -> None:
    """``script`` played into ``rollout`` with ``extras`` (:class:`_Loop`), metadata added
    before a turn now and then and at the end (a reward known only then)."""
    loop = _Loop(rollout.root, {}, extras)
    for n, turn_script in enumerate(script.turns):
        if extras.random() < 0.3:
            rollout.add_metadata({"turn": n, "task-id": "t1"}, note=turn_script.user_text)
        await loop.turn(turn_script, None)
    if extras.random() < 0.5:
        rollout.add_metadata(reward=extras.choice([0, 1.5, -2, None]), turn=len(script.turns))


def opening_metadata(extras: random.Random) -> dict[str, Any] | None:
    """The metadata a rollout opens with, drawn from ``extras``: none now and then."""
    return extras.choice([None, {"episode": extras.randrange(10**6), "task": "fix bug"}])


async def _play(root: Path, script: Script, extras: random.Random) -> None:
    async with open_rollout(
        root, model="gpt-test", provider_name="test-provider", metadata=opening_metadata(extras)
    ) as rollout:
        await play_with_extras(rollout, script, extras)


@seed(20261124)
@settings(
    max_examples=int(os.environ.get("RECORDER_DIFFERENTIAL_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(script=scripts(), extras=st.randoms(use_true_random=False))
def test_differential_scripts_through_the_recorder(script: Script, extras: random.Random) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        anyio.run(_play, root, script, extras)
        bundle = bundle_in(root)
        assert types(bundle)[-1] == "recording_completed"
        check_bundle(bundle, root)
