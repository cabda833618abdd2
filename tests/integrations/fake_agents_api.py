"""A scripted Responses API on 127.0.0.1 for Agents SDK runs (the real ``OpenAIResponsesModel``
talks to it over HTTP). Each agent is told apart by its ``instructions``:

* ``You triage.`` — calls ``get_weather``, then the ``translate`` agent-as-tool, then hands
  off to the writer (``transfer_to_writer``), one step per request;
* ``You translate.`` — answers ``regn i Oslo``;
* ``You fan out.`` — calls the ``translate`` and ``summarize`` agents-as-tools in one
  response (the SDK runs them at once), then answers with the report;
* ``You write.`` — answers with the final report;
* ``You ask.`` — calls ``get_weather``, then answers with the report (a tool that needs
  approval: the run pauses for it, and a run resumed from its state runs it);
* ``You ask for Bergen.`` — the same with another call (``call_bergen``, Bergen);
* ``You ask later.`` — the same as ``You ask.``, its call marked ``"async": true`` (a
  function tool the server lets the client answer later);
* ``You ping.`` / ``You pong.`` — a handoff to Pong and one back to Ping, which answers;
* ``You search.`` — hosted tools' calls as the server writes them (a file search, a code
  interpreter and an MCP call, null fields and all) with a ``get_weather`` call, then the
  report;
* ``You act.`` — calls of tools the client runs that are no function (a custom tool
  ``grep``, ``apply_patch`` and ``shell``), then the report;
* a request on a conversation (``conversation_id=``) follows the script with the
  conversation's items before its input;
* instructions containing ``fail`` — HTTP 400 (the run fails with the error text);
* ``You run out.`` — a response ``incomplete`` (``max_output_tokens``) with its usage and
  no output: the SDK raises ``ModelBehaviorError`` carrying that usage (its span's usage,
  openai-agents 0.25), unstreamed;
* every answer waits :attr:`FakeAgentsAPI.delay` seconds first (a model's latency);
* instructions containing ``stall`` — held, unanswered, until the server stops; its arrival
  sets :attr:`FakeAgentsAPI.stalled` (a run cancelled, or a guardrail tripping, while the
  request is in flight: the test waits for the request to be in flight, whatever the load).
"""

from __future__ import annotations

import contextlib
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from .fake_conversations import as_items, conversation_of
from .fake_openai import FakeOpenAI, answer_message

TRANSLATION = "regn i Oslo"
REPORT = "Report: rain in Oslo (regn i Oslo)"
WEATHER = "rain, 7 C"


def _call(n: int, call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": f"fc_{n}",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": "completed",
    }


class FakeAgentsAPI(FakeOpenAI):
    """The scripted server: a :class:`FakeOpenAI` whose Responses output follows the script
    above, as JSON or (``stream: true``) as server-sent events."""

    def __init__(self) -> None:
        super().__init__()
        self._request = threading.local()  # the body being answered, per server thread
        #: a ``stall`` request has arrived (and is held)
        self.stalled = threading.Event()
        self._release = threading.Event()
        #: seconds each request waits before it is answered (the model's latency)
        self.delay = 0.0

    def __exit__(self, *exc_info: object) -> None:
        self._release.set()  # a held request's thread must not outlive the server
        super().__exit__(*exc_info)

    def answer(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        if self.delay:
            time.sleep(self.delay)
        if "fail" in str(body.get("instructions") or ""):
            n = next(self._ids)
            error = {
                "error": {
                    "message": "model overloaded",
                    "type": "server_error",
                    "code": "overloaded",
                }
            }
            self._json(handler, 400, error, n)
            return
        conv = conversation_of(body)
        if conv in self.conversations.items:  # the script reads the conversation's calls too
            held = self.conversations.items[conv]
            self._request.body = {**body, "input": [*held, *as_items(body.get("input"))]}
        else:
            self._request.body = body
        if "stall" in str(body.get("instructions") or ""):
            self.stalled.set()
            self._release.wait()
            # the client has given up meanwhile: what these runs are about
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                super().answer(handler, body)
            return
        super().answer(handler, body)

    def _response(self, n: int, text: str, status: str = "completed") -> dict[str, Any]:
        response = super()._response(n, text, status)
        body: dict[str, Any] = self._request.body
        response.update(output=_script(n, body), model=str(body.get("model") or "gpt-test"))
        response["previous_response_id"] = body.get("previous_response_id")  # as the API echoes it
        if "You run out." in str(body.get("instructions") or ""):
            response.update(
                status="incomplete",
                incomplete_details={"reason": "max_output_tokens"},
                output=[],
            )
        return response


def _script(n: int, body: dict[str, Any]) -> list[dict[str, Any]]:
    instructions = str(body.get("instructions") or "")
    done = {
        item.get("call_id")
        for item in body.get("input") or []
        if isinstance(item, dict) and item.get("type") == "function_call_output"
    }
    if "You fan out." in instructions:  # two agents run as tools, called at once
        if not {"call_translate", "call_summarize"} <= done:
            return [
                _call(n, "call_translate", "translate", '{"input":"rain in Oslo"}'),
                _call(n + 1, "call_summarize", "summarize", '{"input":"rain in Oslo"}'),
            ]
        return [answer_message(n, REPORT)]
    if "You triage." in instructions:
        if "call_weather" not in done:
            return [_call(n, "call_weather", "get_weather", '{"city":"Oslo"}')]
        if "call_translate" not in done:
            return [_call(n, "call_translate", "translate", '{"input":"rain in Oslo"}')]
        return [_call(n, "call_handoff", "transfer_to_writer", "{}")]
    if "You search." in instructions:
        if "call_weather" not in done:
            return [*hosted_calls(n), _call(n, "call_weather", "get_weather", '{"city":"Oslo"}')]
        return [answer_message(n, REPORT)]
    if "You act." in instructions:
        answered = {
            item.get("call_id")
            for item in body.get("input") or []
            if isinstance(item, dict) and str(item.get("type")).endswith("_output")
        }
        if "call_grep" not in answered:
            return client_run_calls(n)
        return [answer_message(n, REPORT)]
    if "You ask." in instructions:
        if "call_weather" not in done:
            return [_call(n, "call_weather", "get_weather", '{"city":"Oslo"}')]
        return [answer_message(n, REPORT)]
    if "You ask later." in instructions:
        if "call_weather" not in done:
            return [{**_call(n, "call_weather", "get_weather", '{"city":"Oslo"}'), "async": True}]
        return [answer_message(n, REPORT)]
    if "You ask for Bergen." in instructions:
        if "call_bergen" not in done:
            return [_call(n, "call_bergen", "get_weather", '{"city":"Bergen"}')]
        return [answer_message(n, REPORT)]
    if "You translate." in instructions:
        return [answer_message(n, TRANSLATION)]
    if "You ping." in instructions:  # hands off to Pong once, then answers
        if "call_ping" not in done:
            return [_call(n, "call_ping", "transfer_to_pong", "{}")]
        return [answer_message(n, "ping done")]
    if "You pong." in instructions:  # hands back to Ping
        return [_call(n, "call_pong", "transfer_to_ping", "{}")]
    return [answer_message(n, REPORT)]


def hosted_calls(n: int) -> list[dict[str, Any]]:
    """Calls the server ran itself, with the null fields the API writes."""
    return [
        {
            "type": "file_search_call",
            "id": f"fs_{n}",
            "status": "completed",
            "queries": ["rain"],
            "results": None,
        },
        {
            "type": "code_interpreter_call",
            "id": f"ci_{n}",
            "status": "completed",
            "code": "print(7)",
            "container_id": "cntr_1",
            "outputs": None,
        },
        {
            "type": "mcp_call",
            "id": f"mcp_{n}",
            "server_label": "docs",
            "name": "lookup",
            "arguments": "{}",
            "output": "rain",
            "error": None,
            "approval_request_id": None,
            "status": "completed",
        },
    ]


def client_run_calls(n: int) -> list[dict[str, Any]]:
    """Calls of tools the client runs that are no function: a custom tool's, an
    ``apply_patch`` and a (local) ``shell`` call."""
    return [
        {
            "type": "custom_tool_call",
            "id": f"ctc_{n}",
            "call_id": "call_grep",
            "name": "grep",
            "input": "rain",
        },
        {
            "type": "apply_patch_call",
            "id": f"apc_{n}",
            "call_id": "call_patch",
            "operation": {"type": "update_file", "path": "notes.txt", "diff": "@@\n-a\n+b\n"},
            "status": "completed",
        },
        {
            "type": "shell_call",
            "id": f"shc_{n}",
            "call_id": "call_shell",
            "action": {"commands": ["ls"], "timeout_ms": 1000, "max_output_length": None},
            "status": "completed",
        },
    ]
