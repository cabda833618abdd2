"""The vocabulary of ``tests.differential.grammar``: the small id pools, and the Responses
items (every kind the reducer reads) a scenario's requests, responses, acceptances and
checkpoints carry.

An item's content follows from its call id (a function call ``c1`` always names the same
function with the same arguments), so a resent call matches its first copy; now and then
(``VARIANT``) it differs, which Codex refuses as a call id reused with different content.
Search and MCP items have call ids of their own: their kinds are the function call's and
output's, with another body, so a shared call id would always be refused.
"""

from __future__ import annotations

import json
import random
from typing import Any

from rollout_trace_sdk.model import events as ev

ROOT = "01a23439-0000-7000-8000-000000000001"
#: spawned agents: thread id → agent path (collab payloads need UUID thread ids)
CHILDREN = {
    "01a23439-0000-7000-8000-000000000002": "/root/w2",
    "01a23439-0000-7000-8000-000000000003": "/root/w3",
}
PATHS = {ROOT: "/root", **CHILDREN}
ITEM_IDS = ("m1", "m2", "m3", "m4", "m5")
CALL_IDS = ("c1", "c2", "c3")
SEARCH_CALL_IDS = ("s1", "s2")
#: legacy local shell calls (``local_shell_call`` items, ``local_shell`` tools, their outputs)
SHELL_CALL_IDS = ("l1", "l2")
TOOL_IDS = ("c1", "c2", "c3", "t1", "t2")
RESPONSE_IDS = ("r1", "r2", "r3")
CELLS = ("1", "2")
PIDS = ("11", "12")
TEXTS = ("hi", "ok", "done")
TOOL_NAMES: dict[str, ev.ToolCallKind] = {
    "exec_command": ev.ToolCallKind("exec_command"),
    "write_stdin": ev.ToolCallKind("write_stdin"),
    "exec": ev.ToolCallKind.other("exec"),
    "wait": ev.ToolCallKind.other("wait"),
    "lookup": ev.ToolCallKind.other("lookup"),
    "spawn_agent": ev.ToolCallKind("spawn_agent"),
    "send_message": ev.ToolCallKind("send_message"),
    "followup_task": ev.ToolCallKind("assign_agent_task"),
    "close_agent": ev.ToolCallKind("close_agent"),
    "wait_agent": ev.ToolCallKind("wait_agent"),
}
#: the function a call id names (always the same, so that resent calls match)
CALL_NAMES = ("exec_command", "write_stdin", "spawn_agent")
COLLAB = frozenset({"spawn_agent", "send_message", "followup_task", "close_agent"})
OUTPUT_TYPES = ("function_call_output", "custom_tool_call_output")
OTHER_OUTPUTS = ("tool_search_output", "mcp_tool_call_output")
#: the metadata Codex passes along with the items it keeps (remote compaction checkpoints)
PASSTHROUGH = "internal_chat_message_metadata_passthrough"
#: how often an item differs from its usual content under the same call id
VARIANT = 0.03
_KINDS = {
    "message": 30,
    "reasoning": 10,
    "function_call": 12,
    "function_call_output": 12,
    "custom_tool_call": 6,
    "custom_tool_call_output": 6,
    "agent_message": 8,
    "tool_search_call": 2,
    "tool_search_output": 2,
    "mcp_tool_call_output": 2,
    "web_search_call": 1,
    "compaction": 1,
}
#: kinds added later, drawn from a generator of their own (see ``Items.later``)
_LATER_KINDS = ("local_shell_call", "local_shell_call", "image_generation_call")


def shell_action(call: str, variant: bool) -> dict[str, Any]:
    """The ``exec`` action of local shell call ``call`` (another command if ``variant``)."""
    command = ["echo", call] if not variant else ["true"]
    return {"type": "exec", "command": command, "timeout_ms": 5000, "env": {}}


class Items:
    """Random items from ``rng``; agent messages name the agents of ``threads``."""

    def __init__(
        self, rng: random.Random, threads: dict[str, list[str]], later: random.Random | None
    ) -> None:
        self.rng = rng
        self.threads = threads
        #: the kinds added later draw from here (None: none are made, as before they were)
        self.later = later

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, options: Any) -> Any:
        return self.rng.choice(list(options))

    def item(self, kinds: tuple[str, ...] | None = None) -> dict[str, Any]:
        """One item of ``kinds`` (else of any kind, weighted), with a pooled id 80% of
        the time."""
        if kinds is None and self.later_drawn(0.06):
            return self.later_item()
        kind = (
            self.pick(kinds) if kinds else self.rng.choices(list(_KINDS), list(_KINDS.values()))[0]
        )
        item: dict[str, Any] = {"type": kind}
        if self.chance(0.8):
            item["id"] = self.pick(ITEM_IDS)
        call = self.pick(CALL_IDS)
        search = self.pick(SEARCH_CALL_IDS)
        if kind == "message":
            item.update(self.message_fields())
        elif kind == "reasoning":
            item["summary"] = [{"type": "summary_text", "text": "s"}] if self.chance(0.5) else []
            if self.chance(0.4):
                item["content"] = [{"type": "reasoning_text", "text": self.pick(["t1", "t2"])}]
            item["encrypted_content"] = self.pick(["E1", "E2", None])
            if not item["summary"] and "content" not in item and item["encrypted_content"] is None:
                item["encrypted_content"] = "E1"
        elif kind == "function_call":
            name = CALL_NAMES[CALL_IDS.index(call)] if not self.chance(VARIANT) else "lookup"
            item.update(call_id=call, name=name, arguments=self.arguments(name, call))
        elif kind == "custom_tool_call":
            source = f"text({call!r})" if not self.chance(VARIANT) else "text(1)"
            item.update(call_id=call, name="exec" if call != "c3" else "apply", input=source)
        elif kind in OUTPUT_TYPES:
            if kind == "function_call_output" and self.later_drawn(0.15):
                call = self.pick(SHELL_CALL_IDS)  # a local shell call's output
            item.update(call_id=call, output=f"out-{call}" if not self.chance(VARIANT) else "x")
        elif kind in OTHER_OUTPUTS:
            item.update(call_id=search, output={"tools": []}, status="completed")
        elif kind in ("tool_search_call", "web_search_call"):
            item.update(call_id=search, status="completed")
        elif kind == "agent_message":
            item.update(self.agent_message_fields())
        else:  # compaction
            item["encrypted_content"] = self.pick(["C1", "C2"])
        return item

    def later_drawn(self, p: float) -> bool:
        """Whether a kind added later is made here (with probability ``p``)."""
        return self.later is not None and self.later.random() < p

    def later_item(self) -> dict[str, Any]:
        """An item of a kind added later (a legacy local shell call, an image generation
        call), every choice drawn from ``later``."""
        rng = self.later
        assert rng is not None
        kind = rng.choice(_LATER_KINDS)
        item: dict[str, Any] = {"type": kind}
        if rng.random() < 0.8:
            item["id"] = rng.choice(ITEM_IDS)
        if kind == "local_shell_call":
            # its own call ids (now and then a function call's, which Codex refuses as reused)
            shell = rng.choice(SHELL_CALL_IDS) if rng.random() > 0.03 else rng.choice(CALL_IDS)
            if rng.random() > 0.05:
                item["call_id"] = shell
            item.update(status="completed", action=shell_action(shell, rng.random() < VARIANT))
        else:
            item["status"] = rng.choice(["completed", "completed", "generating"])
            if rng.random() < 0.8:
                item["revised_prompt"] = rng.choice(TEXTS)
            item["result"] = rng.choice(["aGk=", "b2s=", None])
        return item

    def message_fields(self) -> dict[str, Any]:
        role = self.pick(["user", "user", "assistant", "developer", "system"])
        text_type = "output_text" if role == "assistant" else "input_text"
        fields: dict[str, Any] = {"role": role}
        fields["content"] = [{"type": text_type, "text": self.pick(TEXTS)}]
        if self.chance(0.1):
            fields["content"].append({"type": "input_image", "image_url": "data:image/png;x"})
        if self.chance(0.15):
            fields["phase"] = self.pick(["commentary", "final_answer"])
        return fields

    def arguments(self, name: str, call: str) -> str:
        """A call's arguments: the same for one call id and name (now and then not)."""
        if self.chance(VARIANT):
            return '{"x": 1}'
        if name == "write_stdin":
            return json.dumps({"session_id": int(PIDS[CALL_IDS.index(call) % 2]), "chars": "x"})
        if name == "wait":
            return json.dumps({"cell_id": CELLS[CALL_IDS.index(call) % 2]})
        if name in COLLAB or name == "wait_agent":
            return json.dumps({"target": self.pick(list(CHILDREN.values())), "message": "hi"})
        return json.dumps({"cmd": call})

    def agent_message_fields(self) -> dict[str, Any]:
        threads = list(self.threads) or [ROOT]
        content: list[dict[str, Any]] = [{"type": "input_text", "text": self.pick(TEXTS)}]
        if self.chance(0.3):
            content.append({"type": "encrypted_content", "encrypted_content": self.pick(TEXTS)})
        return {
            "author": PATHS[self.pick(threads)],
            "recipient": PATHS[self.pick(threads)],
            "content": content,
        }
