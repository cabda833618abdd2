"""A small instrumented agent loop to look at: ``rollout-trace demo --out DIR [--scale N]``.

The model is scripted and in-process (no network); the tools are real: ``cat`` kept open as a
terminal session and talked to through write_stdin, one-shot shell commands, a sub-agent that
does its own tool call and reports back, reasoning items, and a compaction per episode. Every
request resends the whole history, as real loops do, so ``scale=N`` (N episodes) grows the
bundle the way a long rollout would.

``fail_every=N`` makes things go wrong the way they do in real runs, so that what a failure
looks like (in ``show``, the viewer, ``error_texts``, the exports) can be seen without one:
every Nth tool call fails without running (the model reads the error as the call's output, and
the steps that needed it fail in turn), and every Nth model request fails once with a provider
error before the loop retries it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Final

import anyio
import anyio.abc

from .._private_dirs import make_private_dirs
from ..model import layout
from ..record import AgentThread, ToolCall, Turn, open_rollout, task_message
from .model import MODEL, PROVIDER, TOOLS, ScriptedModel, helper_script, root_script
from .tools import Terminals

INSTRUCTIONS: Final = (
    "You are the demo agent of rollout_trace_sdk. Use exec_command and write_stdin to work "
    "in the shell, delegate arithmetic to a helper agent, and keep answers short."
)


def _developer(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "developer",
        "content": [{"type": "input_text", "text": text}],
    }


def _user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


class _Failures:
    """Which tool calls and model requests fail (``fail_every``), counted over the whole run:
    the root agent's and its helpers' alike, so ``N`` means the same in every episode."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.tool_calls = 0
        self.requests = 0

    def tool_call(self) -> None:
        """Raise for every Nth tool call, before the tool runs."""
        self.tool_calls += 1
        if self.every and self.tool_calls % self.every == 0:
            raise RuntimeError(
                f"injected failure (demo --fail-every {self.every}): the tool did not run"
            )

    def request(self) -> str | None:
        """The provider's error for every Nth request (its retry is not counted), else None."""
        if not self.every:
            return None
        self.requests += 1
        if self.requests % self.every:
            return None
        return f"HTTP 503: demo provider overloaded (demo --fail-every {self.every})"


class _Agent:
    """One agent's loop: ask the model, run the tools it calls, until it answers."""

    def __init__(self, thread: AgentThread, terminals: Terminals, failures: _Failures) -> None:
        self.thread = thread
        self.terminals = terminals
        self.failures = failures
        self.history: list[Any] = [_developer(INSTRUCTIONS)]
        self.task_group: anyio.abc.TaskGroup | None = None
        self.results: dict[str, Any] = {}
        self.pending: list[anyio.Event] = []

    async def run_turn(
        self, turn: Turn, model: ScriptedModel, *, compact_before_answer: bool
    ) -> None:
        last_output = ""
        while not model.done:
            if compact_before_answer and model.remaining == 1:
                await self.compact(turn)
            request = {"model": MODEL, "input": list(self.history), "tools": TOOLS, "stream": True}
            error = self.failures.request()
            if error is not None:  # the provider refused this attempt: the loop sends it again
                async with turn.inference(request) as call:
                    await anyio.sleep(0)
                    call.failed(error)
            async with turn.inference(request) as call:
                await anyio.sleep(0)  # where a real loop awaits the provider
                response = model.respond(request, last_output)
                output = call.completed(
                    response_id=response.response_id,
                    output_items=response.output,
                    token_usage=response.usage,
                )
            self.history.extend(output)
            for item in output:
                if item.get("type") == "function_call":
                    last_output = await self.dispatch(turn, item)

    async def dispatch(self, turn: Turn, item: dict[str, Any]) -> str:
        name = item["name"]
        arguments = item["arguments"]
        async with turn.tool_call(
            item["call_id"], name, arguments=arguments, namespace=item.get("namespace")
        ) as tool:
            failed = False
            try:
                self.failures.tool_call()
                text = await self.run_tool(turn, tool, name, json.loads(arguments))
            except Exception as exc:  # the model sees tool errors as output; the call failed
                text = f"tool error: {exc}"
                failed = True
            output = {"type": "function_call_output", "call_id": item["call_id"], "output": text}
            if failed:
                tool.failed(output_item=output)
            else:
                tool.completed(output)
        self.history.append(output)
        if name == "wait_agent":
            for delivery in self.results.pop("deliveries", []):
                self.history.append(turn.accept_agent_message(delivery))
        return text

    async def run_tool(self, turn: Turn, tool: ToolCall, name: str, args: dict[str, Any]) -> str:
        if name == "exec_command":
            return await self.terminals.exec_command(tool, args)
        if name == "write_stdin":
            return await self.terminals.write_stdin(tool, args)
        if name == "spawn_agent":
            return self.spawn(tool, args)
        if name == "wait_agent":
            return await self.wait(tool)
        raise LookupError(f"unknown tool {name}")

    def spawn(self, tool: ToolCall, args: dict[str, Any]) -> str:
        task_name = str(args["task_name"])
        child = tool.spawn_agent(task_name, nickname=task_name.replace("_", " ").title())
        done = anyio.Event()
        self.pending.append(done)
        assert self.task_group is not None
        episode = int(task_name.rsplit("_", 1)[-1])
        self.task_group.start_soon(self._run_child, child, str(args["message"]), episode, done)
        return json.dumps({"task_name": child.agent_path})

    async def _run_child(
        self, child: AgentThread, message: str, episode: int, done: anyio.Event
    ) -> None:
        helper = _Agent(child, self.terminals, self.failures)
        parent_path = child.parent.agent_path if child.parent else "/root"
        async with child:
            async with child.turn() as turn:
                task = task_message(parent_path, child.agent_path, message)
                helper.history.append(turn.accept_agent_message(task))
                model = ScriptedModel(helper_script(episode), f"h{episode}")
                await helper.run_turn(turn, model, compact_before_answer=False)
            # Codex reports a child's result after its turn completed
            self.results.setdefault("deliveries", []).append(turn.report_result())
        done.set()

    async def wait(self, tool: ToolCall) -> str:
        tool.wait_started()
        for done in self.pending:
            await done.wait()
        self.pending.clear()
        tool.wait_ended()
        return json.dumps({"message": "Wait completed.", "timed_out": False})

    async def compact(self, turn: Turn) -> None:
        compaction = turn.compaction()
        request = {"model": MODEL, "input": list(self.history[1:]), "instructions": INSTRUCTIONS}
        async with compaction.request(request) as attempt:
            await anyio.sleep(0)
            summary = attempt.completed(
                [{"type": "compaction", "encrypted_content": f"SUMMARY[{turn.turn_id}]"}]
            )
        users = [i for i in self.history if i.get("type") == "message" and i.get("role") == "user"]
        replacement = compaction.installed(
            input_history=self.history[1:], replacement_history=users[-1:] + summary
        )
        self.history = [self.history[0], *replacement]


async def _run(out: Path, scale: int, fail_every: int) -> Path:
    terminals = Terminals()
    async with open_rollout(out, model=MODEL, provider_name=PROVIDER) as rollout:
        agent = _Agent(rollout.root, terminals, _Failures(fail_every))
        try:
            for episode in range(scale):
                async with rollout.root.turn() as turn, anyio.create_task_group() as tg:
                    agent.task_group = tg
                    user = _user(f"Episode {episode}: exercise the shell and a helper agent.")
                    agent.history.append(turn.accept(user)[0])
                    model = ScriptedModel(root_script(episode), str(episode))
                    await agent.run_turn(turn, model, compact_before_answer=True)
        finally:
            await terminals.aclose()
    if rollout.bundle_dir is None:
        raise RuntimeError("the demo rollout was not recorded (could not create the bundle)")
    return rollout.bundle_dir


def bundle_summary(bundle: Path) -> dict[str, int]:
    """Counts a person wants after a run: events, payloads, bytes on disk. Payloads are the
    distinct payload ids the log cites, so schema 3 (records in shards) counts them too."""
    log = (bundle / layout.EVENT_LOG).read_bytes()
    payloads = set(re.findall(rb'"raw_payload_id":"([^"]+)"', log))
    size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
    return {"events": log.count(b"\n"), "payloads": len(payloads), "bytes": size}


def run_demo(out: Path, scale: int = 1, fail_every: int = 0) -> Path:
    """Run the demo agent ``scale`` times into one bundle under ``out`` and return its path.

    Args:
        out: the traces root (made private if missing).
        scale: episodes, each with its helper agent.
        fail_every: 0 for a run where nothing fails; N to fail every Nth tool call and every
            Nth model request (once: the loop retries it), as the module docstring says.

    Returns:
        The bundle's directory.
    """
    out = Path(out)
    make_private_dirs(out)  # here, not by the recorder: a root it cannot make is said at once
    bundle: Path = anyio.run(_run, out, max(1, int(scale)), max(0, int(fail_every)))
    return bundle
