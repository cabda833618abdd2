"""The OpenAI SDK, instrumented in one line:
`python examples/openai_client.py [TRACE_ROOT] [--base-url URL]`.

Needs `pip install '.[openai]'` from a checkout. Without `--base-url` the example starts a tiny
fake Responses API on 127.0.0.1 (no network, no key); give `--base-url
https://api.openai.com/v1` and set OPENAI_API_KEY to talk to the real one. Without a trace
root (argument, $ROLLOUT_TRACE_ROOT or $CODEX_ROLLOUT_TRACE_ROOT) the same code runs with
tracing off. Look at the bundle with `rollout-trace summary <bundle>`.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
from openai import AsyncOpenAI
from openai.types.responses import FunctionToolParam

from rollout_trace_sdk.integrations.openai import instrument, run_function_call
from rollout_trace_sdk.record import open_rollout


def get_weather(city: str) -> dict[str, str]:
    return {"city": city, "forecast": "rain, 7 C"}


async def main(root: str | None, base_url: str, model: str) -> None:
    client = instrument(AsyncOpenAI(base_url=base_url))  # the one line
    tools: list[FunctionToolParam] = [
        {
            "type": "function",
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
            "strict": False,
        }
    ]
    async with open_rollout(root, model=model) as rollout, rollout.root.turn() as turn:
        history: list[Any] = [{"role": "user", "content": "What is the weather in Oslo?"}]
        while True:
            response = await client.responses.create(model=model, input=history, tools=tools)
            history += response.output
            calls = [item for item in response.output if item.type == "function_call"]
            if not calls:
                break
            for call in calls:
                history.append(await run_function_call(turn, call, get_weather))
        print(response.output_text)
    if rollout.bundle_dir is not None:
        print(f"trace: {rollout.bundle_dir}")


# --- a fake Responses API, so the example runs anywhere ------------------------------------------


class _FakeResponses(BaseHTTPRequestHandler):
    """Asks for get_weather once, then answers with the tool's output."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        last = body["input"][-1]
        if last.get("type") == "function_call_output":
            item: dict[str, Any] = {
                "type": "message",
                "id": "msg_2",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": f"Oslo: {last['output']}"}],
            }
        else:
            item = {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city": "Oslo"}',
                "status": "completed",
            }
        usage = {"input_tokens": 30, "output_tokens": 8, "total_tokens": 38}
        data = json.dumps(
            {
                "id": f"resp_{item['id']}",
                "object": "response",
                "created_at": 0,
                "model": body["model"],
                "status": "completed",
                "output": [item],
                "usage": usage,
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": [],
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", "req_fake")
        self.end_headers()
        self.wfile.write(data)


def _run(root: str | None, base_url: str | None, model: str) -> None:
    if base_url is not None:
        anyio.run(main, root, base_url, model)
        return
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeResponses)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    os.environ.setdefault("OPENAI_API_KEY", "fake")
    try:
        anyio.run(main, root, f"http://127.0.0.1:{server.server_address[1]}/v1", model)
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="The OpenAI SDK, instrumented.")
    parser.add_argument("root", nargs="?", help="trace root (default: $ROLLOUT_TRACE_ROOT)")
    parser.add_argument("--base-url", help="an OpenAI-compatible API (default: a local fake)")
    parser.add_argument("--model", default="gpt-5.5")
    args = parser.parse_args()
    _run(args.root, args.base_url, args.model)
