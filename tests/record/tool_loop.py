"""A scripted agent loop for the recorder's tool-call tests (``test_recorder_tools``,
``test_recorder_agents``; its items also serve ``test_recorder_redaction``): a history,
inference with canned output, tool calls."""

from __future__ import annotations

import json
from typing import Any

from rollout_trace_sdk.record import Turn

USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}


def function_call(call_id: str, name: str, args: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "function_call",
        "name": name,
        **extra,
        "arguments": json.dumps(args),
        "call_id": call_id,
    }


def function_output(call_id: str, text: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": text}


class Loop:
    """Just enough of an agent loop: history, inference with canned output, tool calls."""

    def __init__(self, turn: Turn, user: dict[str, Any] = USER) -> None:
        self.turn = turn
        self.history: list[Any] = [user]
        turn.accept(user)

    async def infer(self, *output: dict[str, Any]) -> None:
        async with self.turn.inference({"model": "m", "input": list(self.history)}) as call:
            self.history += call.completed(response_id=f"r{len(self.history)}", output_items=output)

    def tool_done(self, tool: Any, call_id: str, text: str) -> None:
        tool.completed(function_output(call_id, text))
        self.history.append(function_output(call_id, text))
