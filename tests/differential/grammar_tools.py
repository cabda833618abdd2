"""The choices, payloads and tool steps of :class:`tests.differential.grammar.Grammar` (its
base): tools started by the model or a code cell, with or without their invocation, their
runtime events (terminals, collab activity, MCP), ends and links; now and then a legacy
``local_shell`` call whose model-visible call id a ``local_shell_call`` item holds."""

from __future__ import annotations

import json
import random
from typing import Any

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.testing import BundleBuilder, Capture

from .grammar_cuts import Cuts
from .grammar_items import (
    CALL_IDS,
    CELLS,
    CHILDREN,
    COLLAB,
    PIDS,
    SHELL_CALL_IDS,
    TEXTS,
    TOOL_IDS,
    TOOL_NAMES,
    Items,
    shell_action,
)

#: the kind of the legacy local shell tool (Codex maps ``local_shell`` to exec_command)
_LOCAL_SHELL = ev.ToolCallKind("exec_command")


class ToolSteps:
    """What the grammar's steps share (its random choices and payloads), and its tool steps."""

    rng: random.Random
    schema: int
    b: BundleBuilder
    items: Items
    turns: dict[str, list[str]]
    tools: dict[str, tuple[str, str, str]]  # tool → (thread, turn, name)
    visible: set[str]  # model-visible call ids some tool holds
    cells: dict[str, list[str]]  # thread → started runtime cell ids
    bare_tools: set[str]  # tools started without an invocation
    correlated: set[str]  # tools with an MCP call id
    cuts: Cuts | None  # schema 3: payloads made templates of cut parts (None: never)

    # --- choices ------------------------------------------------------------------------------

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, options: Any) -> Any:
        return self.rng.choice(list(options))

    def context(self) -> tuple[str, str] | None:
        """A started thread and one of its turns (now and then another thread's turn)."""
        threads = [t for t, turns in self.turns.items() if turns]
        if not threads:
            return None
        thread = self.pick(threads)
        turn = self.pick(self.turns[thread])
        if self.chance(0.01):
            turn = self.pick([t for ts in self.turns.values() for t in ts])
        return thread, turn

    # --- payloads -----------------------------------------------------------------------------

    def payload(self, kind: ev.PayloadKind, value: Any) -> ev.RawPayloadRef:
        capture: Capture | None = None
        if self.schema == 3 and self.chance(0.04):
            # a body with image parts is a template, which the builder cannot cut
            templated = b"data:image" in json.dumps(value).encode()
            capture = "omitted" if templated or self.chance(0.5) else "truncated"
        if self.cuts is not None and capture != "truncated":
            cut = self.cuts.payload(kind, value, capture)
            if cut is not None:
                return cut
        return self.b.payload(kind, value, capture=capture)

    # --- tools --------------------------------------------------------------------------------

    def tool_start(self) -> None:
        where = self.context()
        if where is None:
            return
        thread, turn = where
        if self.items.later_drawn(0.08):
            self.local_shell_start(thread, turn)
            return
        tool = self.pick([t for t in TOOL_IDS if t not in self.tools] or TOOL_IDS)
        name = self.pick(TOOL_NAMES)
        visible: str | None = tool if tool in CALL_IDS else None
        if visible in self.visible and self.chance(0.9):
            visible = None
        requester: ev.ToolCallRequester = ev.ModelRequester()
        runtime_tool = None
        cells = self.cells.get(thread, [])
        if visible is None and cells and self.chance(0.6):
            requester = ev.CodeCellRequester(self.pick(cells))
            runtime_tool = f"rt-{tool}"
        if name == "exec":
            invocation: dict[str, Any] = {"type": "custom", "input": f"text({tool!r})"}
        else:
            invocation = {
                "type": "function",
                "arguments": self.items.arguments(name, self._call(tool)),
            }
        ref = None
        if self.chance(0.9):
            value = {"tool_name": name, "tool_namespace": None, "payload": invocation}
            ref = self.payload("tool_invocation", value)
        else:
            self.bare_tools.add(tool)
        summary = ev.GenericSummary(name, None)
        started = ev.ToolCallStarted(
            tool, visible, runtime_tool, requester, TOOL_NAMES[name], summary, ref
        )
        self.b.event(started, thread=thread, turn=turn)
        self.tools.setdefault(tool, (thread, turn, name))
        if visible is not None:
            self.visible.add(visible)

    def local_shell_start(self, thread: str, turn: str) -> None:
        """A legacy ``local_shell`` call: the model-visible call id of a ``local_shell_call``
        item (mostly; now and then one another tool holds already, or none), its invocation
        of type ``local_shell`` (now and then missing)."""
        tool = self.rng.choice(SHELL_CALL_IDS)
        visible: str | None = tool
        if tool in self.visible and self.rng.random() < 0.9:
            visible = None
        ref = None
        if self.rng.random() < 0.9:
            action = shell_action(tool, self.rng.random() < 0.05)
            payload = {"type": "local_shell", "command": action["command"], "workdir": None}
            payload.update(timeout_ms=action["timeout_ms"], sandbox_permissions="use_default")
            payload.update(prefix_rule=None, additional_permissions=None, justification=None)
            value = {"tool_name": "local_shell", "tool_namespace": None, "payload": payload}
            ref = self.payload("tool_invocation", value)
        else:
            self.bare_tools.add(tool)
        summary = ev.GenericSummary("local_shell", None)
        started = ev.ToolCallStarted(
            tool, visible, None, ev.ModelRequester(), _LOCAL_SHELL, summary, ref
        )
        self.b.event(started, thread=thread, turn=turn)
        self.tools.setdefault(tool, (thread, turn, "local_shell"))
        if visible is not None:
            self.visible.add(visible)

    def _call(self, tool: str) -> str:
        if tool in CALL_IDS or tool in SHELL_CALL_IDS:
            return tool
        return CALL_IDS[TOOL_IDS.index(tool) % len(CALL_IDS)]

    def a_tool(self) -> tuple[str, str, str, str] | None:
        if not self.tools:
            return None
        tool = self.pick(self.tools)
        return (tool, *self.tools[tool])

    def tool_runtime(self) -> None:
        found = self.a_tool()
        if found is None:
            return
        tool, thread, turn, name = found
        kind = TOOL_NAMES.get(name, _LOCAL_SHELL)
        if name == "lookup" and self.chance(0.5):
            kind = ev.ToolCallKind.mcp("demo", "echo")
        elif self.chance(0.05):
            kind = self.pick(TOOL_NAMES.values())
        if kind.type in ("exec_command", "write_stdin"):
            begin: dict[str, Any] = {"call_id": tool, "turn_id": turn}
            if self.chance(0.8):
                begin["process_id"] = self.pick(PIDS)
            begin.update(command=["ls"], cwd="/w", parsed_cmd=[], source="unified_exec_startup")
            end = {**begin, "aggregated_output": "x", "exit_code": 0, "status": "completed"}
        elif name in COLLAB:
            begin, end = self.collab_payloads(tool, thread, name)
        else:
            begin = end = {"call_id": tool, "server": "demo", "tool": "echo"}
        # a write_stdin with an invocation already has its terminal operation: a runtime
        # start for it is refused (now and then written anyway)
        opened = name == "write_stdin" and tool not in self.bare_tools and self.chance(0.8)
        if "agent_thread_id" not in begin and not opened and self.chance(0.7):
            ref = self.payload("tool_runtime_event", begin)
            self.b.event(ev.ToolCallRuntimeStarted(tool, kind, ref), thread=thread, turn=turn)
        if self.chance(0.8):
            status = self.pick(["completed", "completed", "failed", "cancelled"])
            ref = self.payload("tool_runtime_event", end)
            self.b.event(ev.ToolCallRuntimeEnded(tool, status, ref), thread=thread, turn=turn)

    def collab_payloads(
        self, tool: str, thread: str, name: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Begin/end payloads of a collab tool (or a sub-agent activity as its end)."""
        child = self.pick(list(CHILDREN))
        if self.chance(0.4):
            kind = {"spawn_agent": "started", "close_agent": "interrupted"}.get(name, "interacted")
            activity = {
                "event_id": tool,
                "occurred_at_ms": 1,
                "agent_thread_id": child,
                "agent_path": CHILDREN[child],
                "kind": kind,
            }
            return activity, activity  # an activity is an end only
        begin = {"call_id": tool, "sender_thread_id": thread, "receiver_thread_id": child}
        if name == "spawn_agent":
            end: dict[str, Any] = {"call_id": tool, "sender_thread_id": thread}
            end.update(new_thread_id=child, prompt=self.pick(TEXTS), model="m")
            end.update(reasoning_effort="low", status="running")
            return begin, end
        if name != "close_agent":
            begin["prompt"] = self.pick(TEXTS)
        return begin, {**begin, "status": "running"}

    def tool_end(self) -> None:
        found = self.a_tool()
        if found is None:
            return
        tool, thread, turn, _ = found
        status = self.pick(ev.EXECUTION_STATUSES)
        result = None
        if status != "aborted" and self.chance(0.85):
            item = {"type": "function_call_output", "call_id": self._call(tool), "output": "o"}
            body = self.pick(
                [
                    {"type": "direct_response", "response_item": item},
                    {"type": "code_mode_response", "value": {"output": "o", "exit_code": 0}},
                    {"type": "error", "error": "bad"},
                ]
            )
            result = self.payload("tool_result", body)
        self.b.event(ev.ToolCallEnded(tool, status, result), thread=thread, turn=turn)

    def tool_link(self) -> None:
        found = self.a_tool()
        if found is None:
            return
        tool, thread, turn, _ = found
        roll = self.rng.random()
        if roll < 0.4:
            self.b.event(ev.StdinTargetResolved(tool, self.pick(self.tools)), thread=thread)
        elif roll < 0.7 and self.schema == 3:
            wait = ev.CodeCellWaitTargetResolved(tool, self.pick(CELLS))
            self.b.event(wait, thread=thread, turn=turn)
        elif tool not in self.correlated or self.chance(0.05):
            self.b.event(ev.McpToolCallCorrelationAssigned(tool, f"mcp-{tool}"))
            self.correlated.add(tool)
