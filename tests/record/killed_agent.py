"""A recording agent loop that never ends on its own, for ``test_recorder_killed.py``: run as
a child process, it prints ``ready`` once its bundle exists and records until it is killed.

    python killed_agent.py ROOT BACKEND SCHEMA SEED OPTIONS_JSON [busy]

Each step is drawn from SEED, as a real loop's would come from its model: inferences resending
the whole history with 1-100 KB of new text (some failed or cancelled, some with reasoning),
user messages with images, ``exec_command`` terminals kept open for ``write_stdin``, code cells
that finish or yield and are waited on, MCP calls, a tool finished from a worker thread,
sub-agents spawned (each running its own loop beside its parent's; half of them number their
calls as their parent does, so call ids recur across threads), sent messages and follow-ups,
``wait_agent`` with results delivered, compactions, and answers asking two to four calls at
once (the common tool call's fused path: run side by side, ended in any order, some
arguments the same text or a dict, some outputs carrying an item id). ``OPTIONS_JSON`` is passed
to ``open_rollout`` (capture limits, ``overflow``, ``durable``). A ``busy`` agent never
waits for its "model" or tools, so the writer runs behind and a kill finds records queued.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import signal
import sys
import time
from typing import Any

import anyio
import anyio.abc

from rollout_trace_sdk.record import AgentThread, ToolCall, Turn, open_rollout, task_message

_STEPS = (
    "message",
    "image",
    "exec",
    "exec",
    "exec_failed",
    "stdin",
    "cell",
    "wait",
    "mcp",
    "worker_thread",
    "spawn",
    "send_message",
    "followup_task",
    "wait_agent",
    "compact",
    "parallel",
    "parallel",
)


def _user(text: str, image: str | None = None) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "input_text", "text": text}]
    if image is not None:
        content.append({"type": "input_image", "image_url": image, "detail": "auto"})
    return {"type": "message", "role": "user", "content": content}


def _assistant(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }


def _call(call_id: str, name: str, arguments: dict[str, Any], **extra: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": json.dumps(arguments),
        **extra,
    }


def _output(call_id: str, text: str, kind: str = "function_call_output") -> dict[str, Any]:
    return {"type": kind, "call_id": call_id, "output": text}


class _Agent:
    """One agent's loop (the root's or a sub-agent's) and what it keeps open between steps."""

    def __init__(
        self,
        thread: AgentThread,
        rng: random.Random,
        name: str,
        tg: anyio.abc.TaskGroup,
        busy: bool,
    ) -> None:
        self.thread = thread
        self.busy = busy
        self.rng = rng
        self.name = name
        #: the call ids' prefix (a sub-agent may share its parent's: the same ids recur)
        self.prefix = name
        self.tg = tg
        self.history: list[Any] = []
        self.n = 0
        self.sessions: list[tuple[Any, int]] = []  # terminal sessions left running
        self.cells: list[tuple[Any, ToolCall, Any]] = []  # cells that yielded
        self.children: list[_Agent] = []
        self.deliveries: list[dict[str, Any]] = []  # results reported to this agent
        self.inbox: list[str] = []  # messages sent to this agent
        self.cell_number = 0

    def text(self, low: int = 1_000, high: int = 100_000) -> str:
        size = self.rng.randint(low, high)
        return (f"{self.name}{self.n}:" + "lorem ipsum " * (size // 12 + 1))[:size]

    def call_id(self) -> str:
        self.n += 1
        return f"call_{self.prefix}_{self.n}"

    async def pause(self) -> None:
        delay = self.rng.choice([0, 0, 0.001, 0.005, 0.02])
        await anyio.sleep(0 if self.busy else delay)

    async def infer(self, turn: Turn, output: list[Any]) -> None:
        request = {"model": "gpt-test", "input": [*self.history, _user(self.text())]}
        async with turn.inference(request) as call:
            await self.pause()
            roll = self.rng.random()
            if roll < 0.05:
                call.failed("upstream 500", partial_items=output[:1])
                return
            if roll < 0.08:
                call.cancelled("interrupted", partial_items=output[:1])
                return
            reasoning = {
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "thinking"}],
                "encrypted_content": self.text(10, 2000),
            }
            self.n += 1
            self.history += call.completed(
                response_id=f"resp_{self.name}_{self.n}",
                output_items=[reasoning, *output] if self.rng.random() < 0.3 else output,
                token_usage={"input_tokens": 100, "output_tokens": 10, "total_tokens": 110},
            )

    async def tool(self, turn: Turn, item: dict[str, Any]) -> ToolCall:
        """Ask the model, which answers with ``item``; the caller runs the tool call."""
        await self.infer(turn, [item])
        if item["type"] == "custom_tool_call":
            return turn.tool_call(item["call_id"], item["name"], input=item["input"])
        return turn.tool_call(
            item["call_id"],
            item["name"],
            arguments=item["arguments"],
            namespace=item.get("namespace"),
        )

    async def step(self, turn: Turn) -> None:
        kind = self.rng.choice(_STEPS)
        if kind in ("message", "image"):
            image = None
            if kind == "image":
                raw = self.rng.randbytes(self.rng.randint(200, 40_000))
                image = "data:image/png;base64," + base64.b64encode(raw).decode()
            self.history += turn.accept(_user(self.text(100, 5000), image))
            await self.infer(turn, [_assistant(self.text(10, 3000))])
        elif kind in ("exec", "exec_failed"):
            cid = self.call_id()
            async with await self.tool(turn, _call(cid, "exec_command", {"cmd": "cat"})) as tool:
                pid = self.rng.randint(1000, 99999)
                session = tool.exec_started(["cat"], process_id=pid)
                await self.pause()
                if kind == "exec_failed":
                    tool.failed("exec failed")
                    session.exited(1, "boom")
                    return
                if self.rng.random() < 0.5:
                    session.exited(0, self.text(10, 20000))
                else:
                    self.sessions.append((session, pid))
                self.history.append(tool.completed(_output(cid, self.text(10, 50000))))
        elif kind == "stdin" and self.sessions:
            session, pid = self.sessions.pop(self.rng.randrange(len(self.sessions)))
            cid = self.call_id()
            arguments = {"session_id": pid, "chars": "hi\n"}
            async with await self.tool(turn, _call(cid, "write_stdin", arguments)) as tool:
                tool.stdin_target(session)
                await self.pause()
                if self.rng.random() < 0.5:
                    session.exited(0, "hi\n")
                else:
                    self.sessions.append((session, pid))
                self.history.append(tool.completed(_output(cid, "hi")))
        elif kind == "cell":
            await self.cell(turn)
        elif kind == "wait" and self.cells:
            cell, nested, run = self.cells.pop(0)
            cid = self.call_id()
            arguments = {"cell_id": cell.runtime_cell_id, "yield_time_ms": 1000}
            async with await self.tool(turn, _call(cid, "wait", arguments)) as tool:
                await self.pause()
                run.exited(0, "done")
                nested.completed_value({"output": "done", "exit_code": 0})
                cell.finished([{"type": "input_text", "text": "done"}])
                self.history.append(tool.completed(_output(cid, "Script completed")))
        elif kind == "mcp":
            cid = self.call_id()
            arguments = {"q": self.text(10, 500)}
            async with await self.tool(turn, _call(cid, "search_docs", arguments)) as tool:
                mcp = tool.mcp("docs", "search", {"q": "x"})
                await self.pause()
                if self.rng.random() < 0.8:
                    mcp.completed({"content": [{"type": "text", "text": self.text(10, 5000)}]})
                else:
                    mcp.failed("server died")
                self.history.append(tool.completed(_output(cid, "found")))
        elif kind == "worker_thread":
            cid = self.call_id()
            async with await self.tool(turn, _call(cid, "read_file", {"path": "x"})) as tool:
                text = self.text(10, 30000)
                nap = self.rng.choice([0, 0.001, 0.01])

                def work() -> Any:  # the tool ends itself from a worker thread
                    time.sleep(nap)
                    return tool.completed(_output(cid, text))

                self.history.append(await anyio.to_thread.run_sync(work))
        elif kind == "spawn" and "_" not in self.name and len(self.children) < 3:
            await self.spawn(turn)
        elif kind in ("send_message", "followup_task") and self.children:
            child = self.rng.choice(self.children)
            if child.thread.ended:
                return
            cid = self.call_id()
            message = self.text(20, 2000)
            arguments = {"target": child.thread.agent_path, "message": message}
            item = _call(cid, kind, arguments, namespace="collaboration")
            async with await self.tool(turn, item) as tool:
                tool.agent_interacted(child.thread)
                child.inbox.append(message)
                self.history.append(tool.completed(_output(cid, "{}")))
        elif kind == "wait_agent" and self.children:
            cid = self.call_id()
            item = _call(cid, "wait_agent", {"timeout_ms": 100}, namespace="collaboration")
            async with await self.tool(turn, item) as tool:
                tool.wait_started([c.thread for c in self.children])
                await anyio.sleep(self.rng.choice([0.001, 0.01, 0.05]))
                tool.wait_ended({c.thread.thread_id: "running" for c in self.children})
                self.history.append(tool.completed(_output(cid, "{}")))
            while self.deliveries:
                self.history.append(turn.accept_agent_message(self.deliveries.pop(0)))
        elif kind == "compact" and len(self.history) > 2:
            await self.compact(turn)
        elif kind == "parallel":
            await self.parallel(turn)

    async def parallel(self, turn: Turn) -> None:
        """One answer asking two to four calls at once, run side by side and ended in any
        order; the outputs go back in the calls' order."""
        rng = self.rng
        same = json.dumps({"path": self.text(5, 200)})  # one text for several calls
        items = []
        for _ in range(rng.randint(2, 4)):
            name = rng.choice(["read_file", "exec_command", "grep_files"])
            text = same if rng.random() < 0.4 else json.dumps({"path": self.text(5, 200)})
            items.append({**_call(self.call_id(), name, {}), "arguments": text})
        await self.infer(turn, items)
        outputs: dict[int, Any] = {}
        async with contextlib.AsyncExitStack() as stack:
            tools = []
            for item in items:
                given: Any = item["arguments"]
                if rng.random() < 0.3:
                    given = json.loads(given)  # a dict: the same JSON as the model's text
                tool = turn.tool_call(item["call_id"], item["name"], arguments=given)
                tools.append(await stack.enter_async_context(tool))
            order = list(range(len(items)))
            rng.shuffle(order)
            for n in order:
                await self.pause()
                output = _output(items[n]["call_id"], self.text(10, 20000))
                if rng.random() < 0.25:
                    output["id"] = f"fco_{items[n]['call_id']}"
                if rng.random() < 0.1:
                    outputs[n] = tools[n].failed("tool failed", output_item=output)
                else:
                    outputs[n] = tools[n].completed(output)
        self.history += [outputs[n] for n in sorted(outputs)]

    async def cell(self, turn: Turn) -> None:
        cid = self.call_id()
        self.cell_number += 1
        cell_id = str(self.cell_number)
        source = f"const r = await tools.exec_command({{cmd: 'echo {cell_id}'}}); text(r.output);"
        item = {"type": "custom_tool_call", "call_id": cid, "name": "exec", "input": source}
        async with await self.tool(turn, item) as tool:
            cell = tool.code_cell(cell_id, source)
            nested = cell.tool_call(
                f"{cid}_nested",
                "exec_command",
                runtime_tool_id=f"tool-{cell_id}",
                arguments={"cmd": f"echo {cell_id}"},
            )
            run = nested.exec_started(["/bin/sh", "-c", f"echo {cell_id}"])
            await self.pause()
            if self.rng.random() < 0.5:
                run.exited(0, cell_id)
                nested.completed_value({"output": cell_id, "exit_code": 0})
                cell.finished([{"type": "input_text", "text": cell_id}])
                text = "Script completed"
            else:
                cell.yielded()
                self.cells.append((cell, nested, run))
                text = "Script running"
            self.history.append(tool.completed(_output(cid, text, "custom_tool_call_output")))

    async def spawn(self, turn: Turn) -> None:
        cid = self.call_id()
        task = f"worker{len(self.children)}"
        message = self.text(50, 3000)
        arguments = {"task_name": task, "message": message}
        item = _call(cid, "spawn_agent", arguments, namespace="collaboration")
        async with await self.tool(turn, item) as tool:
            thread = tool.spawn_agent(task, nickname=task.title())
            child = _Agent(
                thread, random.Random(self.rng.random()), f"{self.name}_{task}", self.tg, self.busy
            )
            if self.rng.random() < 0.5:  # numbered as its parent: the same call ids again
                child.prefix = self.prefix
            self.children.append(child)
            self.tg.start_soon(child.run_child, self, message)
            output = json.dumps({"task_name": thread.agent_path})
            self.history.append(tool.completed(_output(cid, output)))

    async def compact(self, turn: Turn) -> None:
        compaction = turn.compaction()
        request = {"model": "gpt-test", "input": list(self.history)}
        async with compaction.request(request) as attempt:
            await self.pause()
            if self.rng.random() < 0.1:
                attempt.failed("compaction failed")
                return
            summary = attempt.completed(
                [{"type": "compaction", "encrypted_content": self.text(10, 3000)}]
            )
        users = [i for i in self.history if i.get("type") == "message" and i.get("role") == "user"]
        self.history = list(
            compaction.installed(
                input_history=self.history, replacement_history=users[-1:] + summary
            )
        )

    async def run_root(self) -> None:
        while True:
            async with self.thread.turn() as turn:
                self.history += turn.accept(_user(f"episode {self.n}: " + self.text(10, 2000)))
                for _ in range(self.rng.randint(1, 8)):
                    await self.step(turn)
                await self.infer(turn, [_assistant("done")])

    async def run_child(self, parent: _Agent, message: str) -> None:
        sender, me = parent.thread.agent_path, self.thread.agent_path
        task = task_message(sender, me, message)
        async with self.thread:
            while True:
                async with self.thread.turn() as turn:
                    self.history.append(turn.accept_agent_message(task))
                    for _ in range(self.rng.randint(1, 4)):
                        await self.step(turn)
                        while self.inbox:
                            note = task_message(
                                sender, me, self.inbox.pop(0), message_type="MESSAGE"
                            )
                            self.history.append(turn.accept_agent_message(note))
                    await self.infer(turn, [_assistant("ok")])
                parent.deliveries.append(turn.report_result())
                while not self.inbox:  # a follow-up starts the next turn
                    await anyio.sleep(0.01)
                task = task_message(sender, me, self.inbox.pop(0))


async def _main(root: str, schema: int, seed: int, options: dict[str, Any], busy: bool) -> None:
    async with open_rollout(
        root, schema_version=schema, model="gpt-test", provider_name="openai", **options
    ) as rollout:
        print("ready", flush=True)
        async with anyio.create_task_group() as tg:
            await _Agent(rollout.root, random.Random(seed), "root", tg, busy).run_root()


if __name__ == "__main__":
    # Python's own SIGINT handler even when started with SIGINT ignored (a background job)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    root, backend, schema, seed, options = sys.argv[1:6]
    busy = sys.argv[6:] == ["busy"]
    anyio.run(_main, root, int(schema), int(seed), json.loads(options), busy, backend=backend)
