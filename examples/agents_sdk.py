"""The OpenAI Agents SDK, recorded in one line:
`python examples/agents_sdk.py [TRACE_ROOT] [--base-url URL]`.

Needs `pip install '.[agents]'` from a checkout. Every `Runner.run` becomes one bundle: the
triage agent calls a function tool, then hands off to a writer agent (a child thread with a
spawn edge). Without `--base-url` the example starts a tiny fake Responses API on 127.0.0.1
(no network, no key); give `--base-url https://api.openai.com/v1` and set OPENAI_API_KEY for
the real one. Look at the bundle with `rollout-trace summary <bundle>`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agents import Agent, OpenAIResponsesModel, Runner, function_tool, set_trace_processors
from openai import AsyncOpenAI

from rollout_trace_sdk.integrations.agents import RolloutTraceProcessor


@function_tool
def get_weather(city: str) -> str:
    """Today's weather in a city."""
    return f"{city}: rain, 7 C"


async def main(root: str | None, base_url: str, model_name: str) -> None:
    # the one line (set_trace_processors replaces the SDK's own exporter; use
    # agents.add_trace_processor to keep it as well)
    processor = RolloutTraceProcessor(root=root)
    set_trace_processors([processor])
    model = OpenAIResponsesModel(model_name, AsyncOpenAI(base_url=base_url))
    writer = Agent(name="Writer", instructions="You write.", model=model)
    triage = Agent(
        name="Triage",
        instructions="You triage.",
        model=model,
        tools=[get_weather],
        handoffs=[writer],
    )
    result = await Runner.run(triage, "What is the weather in Oslo?")
    print(result.final_output)
    # the run's trace has ended: its bundle is closed, and the processor says where it went
    for bundle in processor.finished_bundles().values():
        print(f"trace: {bundle}")


# --- a fake Responses API, so the example runs anywhere ------------------------------------------


class _FakeResponses(BaseHTTPRequestHandler):
    """Triage: get_weather, then a handoff to the writer; the writer: the report."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        answered = [i for i in body["input"] if i.get("type") == "function_call_output"]
        item: dict[str, Any]
        if "You write." in (body.get("instructions") or ""):
            weather = answered[0]["output"] if answered else "unknown"
            text = f"Report: {weather}"
            item = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed"}
            item["content"] = [{"type": "output_text", "text": text, "annotations": []}]
        elif not answered:
            item = {"type": "function_call", "id": "fc_1", "call_id": "call_1"}
            item.update(name="get_weather", arguments='{"city": "Oslo"}', status="completed")
        else:
            item = {"type": "function_call", "id": "fc_2", "call_id": "call_2"}
            item.update(name="transfer_to_writer", arguments="{}", status="completed")
        data = json.dumps(
            {
                "id": f"resp_{item['id']}",
                "object": "response",
                "created_at": 0,
                "model": body["model"],
                "status": "completed",
                "output": [item],
                "usage": {"input_tokens": 30, "output_tokens": 8, "total_tokens": 38},
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": [],
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _run(root: str | None, base_url: str | None, model: str) -> None:
    if base_url is not None:
        asyncio.run(main(root, base_url, model))
        return
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeResponses)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    os.environ.setdefault("OPENAI_API_KEY", "fake")
    try:
        asyncio.run(main(root, f"http://127.0.0.1:{server.server_address[1]}/v1", model))
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The OpenAI Agents SDK, recorded.")
    parser.add_argument("root", nargs="?", help="trace root (default: $ROLLOUT_TRACE_ROOT)")
    parser.add_argument("--base-url", help="an OpenAI-compatible API (default: a local fake)")
    parser.add_argument("--model", default="gpt-5.5")
    args = parser.parse_args()
    _run(args.root, args.base_url, args.model)
