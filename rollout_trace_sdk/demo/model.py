"""The demo's scripted stand-in for a model: no network, same answers every run.

Each agent gets a script, a list of responses handed out in order. Responses carry ids like
the Responses API's (``rs_``, ``fc_``, ``msg_``); the loop's own items (user input, tool
outputs) have none, so the recorder's id assignment is exercised too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs

MODEL: Final = "demo-model-1"
PROVIDER: Final = "scripted"

#: Tool definitions sent with every request, as a real loop would (they weigh on each request).
TOOLS: Final[list[dict[str, Any]]] = [
    {
        "type": "function",
        "name": "exec_command",
        "description": "Runs a command, returning its output, or a session id when it keeps "
        "running (tty) so later write_stdin calls can talk to it.",
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {
                "cmd": {"type": "string", "description": "Shell command to execute."},
                "tty": {"type": "boolean", "description": "Keep the process alive."},
                "yield_time_ms": {"type": "number"},
            },
            "required": ["cmd"],
            "additionalProperties": False,
        },
    },
    {
        "type": "function",
        "name": "write_stdin",
        "description": "Writes characters to a running session; empty chars closes stdin.",
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {
                "session_id": {"type": "number"},
                "chars": {"type": "string"},
                "yield_time_ms": {"type": "number"},
            },
            "required": ["session_id"],
            "additionalProperties": False,
        },
    },
    {
        "type": "function",
        "name": "spawn_agent",
        "namespace": "collaboration",
        "description": "Starts a sub-agent on a task; it reports back when done.",
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {"task_name": {"type": "string"}, "message": {"type": "string"}},
            "required": ["task_name", "message"],
            "additionalProperties": False,
        },
    },
    {
        "type": "function",
        "name": "wait_agent",
        "namespace": "collaboration",
        "description": "Waits for sub-agents to report back.",
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": {"timeout_ms": {"type": "number"}},
            "additionalProperties": False,
        },
    },
]


@attrs.frozen
class Response:
    response_id: str
    output: list[dict[str, Any]]
    usage: dict[str, int]


def _reasoning(item_id: str, summary: str, thought: str) -> dict[str, Any]:
    return {
        "type": "reasoning",
        "id": item_id,
        "summary": [{"type": "summary_text", "text": summary}],
        "content": [{"type": "reasoning_text", "text": thought}],
        "encrypted_content": f"ENC[{item_id}]",
    }


def _call(
    item_id: str, call_id: str, name: str, args: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    item = {"type": "function_call", "id": item_id, "name": name}
    item.update(extra)
    item.update(arguments=json.dumps(args), call_id=call_id)
    return item


def _message(item_id: str, text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
        "phase": "final_answer",
    }


Step = Callable[[str], list[dict[str, Any]]]


def root_script(episode: int) -> list[Step]:
    """What the root agent does in one episode. Each step sees the last tool output (to find
    the session id the terminal gave it)."""
    e = episode

    def session_of(last_output: str) -> int:
        marker = "session ID "
        at = last_output.find(marker)
        return int(last_output[at + len(marker) :].split()[0]) if at >= 0 else 0

    state: dict[str, int] = {}

    def start_cat(_: str) -> list[dict[str, Any]]:
        return [
            _reasoning(f"rs_{e}_1", "Start a session", f"Episode {e}: I will keep `cat` open."),
            _call(f"fc_{e}_1", f"call_{e}_cat", "exec_command", {"cmd": "cat", "tty": True}),
        ]

    def ping(last: str) -> list[dict[str, Any]]:
        state["pid"] = session_of(last)
        args = {"session_id": state["pid"], "chars": f"ping {e}\n", "yield_time_ms": 250}
        return [_call(f"fc_{e}_2", f"call_{e}_ping", "write_stdin", args)]

    def one_shot(_: str) -> list[dict[str, Any]]:
        cmd = f"echo episode {e}; echo $(({e} * ({e} + 1) / 2))"
        return [_call(f"fc_{e}_3", f"call_{e}_sum", "exec_command", {"cmd": cmd})]

    def spawn(_: str) -> list[dict[str, Any]]:
        args = {"task_name": f"helper_{e}", "message": f"Square {e + 2} in the shell and report."}
        return [
            _reasoning(f"rs_{e}_4", "Delegate", "A helper can do the arithmetic."),
            _call(f"fc_{e}_4", f"call_{e}_spawn", "spawn_agent", args, namespace="collaboration"),
        ]

    def wait(_: str) -> list[dict[str, Any]]:
        args = {"timeout_ms": 30000}
        return [_call(f"fc_{e}_5", f"call_{e}_wait", "wait_agent", args, namespace="collaboration")]

    def close(_: str) -> list[dict[str, Any]]:
        args = {"session_id": state.get("pid", 0), "chars": ""}
        return [_call(f"fc_{e}_6", f"call_{e}_close", "write_stdin", args)]

    def answer(_: str) -> list[dict[str, Any]]:
        return [_message(f"msg_{e}_7", f"Episode {e} done: session echoed, helper reported.")]

    return [start_cat, ping, one_shot, spawn, wait, close, answer]


def helper_script(episode: int) -> list[Step]:
    n = episode + 2

    def compute(_: str) -> list[dict[str, Any]]:
        cmd = f"echo $(({n} * {n}))"
        return [
            _reasoning(f"rs_h{episode}_1", "Compute", f"{n} squared, via the shell."),
            _call(f"fc_h{episode}_1", f"call_h{episode}_py", "exec_command", {"cmd": cmd}),
        ]

    def report(last: str) -> list[dict[str, Any]]:
        value = last.rsplit("Output:\n", 1)[-1].strip()
        return [_message(f"msg_h{episode}_2", f"{n} squared is {value}.")]

    return [compute, report]


class ScriptedModel:
    """Hands out a script's responses in order, with made-up but plausible token usage."""

    def __init__(self, script: Sequence[Step], tag: str) -> None:
        self._script = list(script)
        self._tag = tag
        self._next = 0

    @property
    def done(self) -> bool:
        return self._next >= len(self._script)

    @property
    def remaining(self) -> int:
        """Responses left in the script (the demo compacts before the last one)."""
        return len(self._script) - self._next

    def respond(self, request: dict[str, Any], last_output: str) -> Response:
        step = self._script[min(self._next, len(self._script) - 1)]
        self._next += 1
        output = step(last_output)
        size = len(json.dumps(request.get("input", [])))
        usage = {"input_tokens": size // 4, "output_tokens": 20 * len(output)}
        return Response(f"resp_{self._tag}_{self._next}", output, usage)
