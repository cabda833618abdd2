"""Instrumenting an agent loop: `python examples/minimal_loop.py [TRACE_ROOT]`.

Without a trace root (argument, $ROLLOUT_TRACE_ROOT or $CODEX_ROLLOUT_TRACE_ROOT) the same
code runs with tracing off. Look at the bundle with `rollout-trace summary <bundle>`.
"""

import json
import sys
from typing import Any

import anyio

from rollout_trace_sdk.record import open_rollout


def text(role: str, kind: str, words: str) -> dict[str, Any]:
    return {"type": "message", "role": role, "content": [{"type": kind, "text": words}]}


async def fake_model(history: list[Any]) -> list[dict[str, Any]]:
    """Stands in for your provider call: asks for one tool call, then answers."""
    if history[-1]["type"] == "function_call_output":
        return [text("assistant", "output_text", "It is " + history[-1]["output"])]
    args = json.dumps({"cmd": "date"})
    return [{"type": "function_call", "name": "exec_command", "call_id": "c1", "arguments": args}]


async def main(root: str | None) -> None:
    async with open_rollout(root, model="my-model") as rollout, rollout.root.turn() as turn:
        history = turn.accept(text("user", "input_text", "What time is it?"))
        while not history or history[-1].get("role") != "assistant":
            async with turn.inference({"model": "my-model", "input": history}) as call:
                history += call.completed(output_items=await fake_model(history))
            for item in [i for i in history[-1:] if i["type"] == "function_call"]:
                async with turn.tool_call(
                    item["call_id"], item["name"], arguments=item["arguments"]
                ) as tool:
                    argv = ["/bin/sh", "-c", json.loads(item["arguments"])["cmd"]]
                    process = tool.exec_started(argv)
                    result = await anyio.run_process(argv, check=False)
                    out = result.stdout.decode().strip()
                    process.exited(result.returncode, out)
                    output = {
                        "type": "function_call_output",
                        "call_id": item["call_id"],
                        "output": out,
                    }
                    history.append(tool.completed(output))
    print(history[-1]["content"][0]["text"], "| bundle:", rollout.bundle_dir)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1] if len(sys.argv) > 1 else None)
