"""A scripted Responses API on 127.0.0.1 for Agents SDK runs (the real ``OpenAIResponsesModel``
talks to it over HTTP). Each agent is told apart by its ``instructions``:

* ``You triage.`` — calls ``get_weather``, then the ``translate`` agent-as-tool, then hands
  off to the writer (``transfer_to_writer``), one step per request;
* ``You translate.`` — answers ``regn i Oslo``;
* ``You write.`` — answers with the final report;
* instructions containing ``fail`` — HTTP 400 (the run fails with the error text).
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from typing import Any

from .fake_openai import FakeOpenAI

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


def _text(n: int, text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": f"msg_{n}",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


class FakeAgentsAPI(FakeOpenAI):
    """The scripted server (a :class:`FakeOpenAI` with another ``/v1/responses`` script)."""

    def answer(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        n = next(self._ids)
        instructions = str(body.get("instructions") or "")
        if "fail" in instructions:
            error = {
                "error": {
                    "message": "model overloaded",
                    "type": "server_error",
                    "code": "overloaded",
                }
            }
            self._json(handler, 400, error, n)
            return
        done = {
            item.get("call_id")
            for item in body.get("input") or []
            if isinstance(item, dict) and item.get("type") == "function_call_output"
        }
        if "You triage." in instructions:
            if "call_weather" not in done:
                output = [_call(n, "call_weather", "get_weather", '{"city":"Oslo"}')]
            elif "call_translate" not in done:
                output = [_call(n, "call_translate", "translate", '{"input":"rain in Oslo"}')]
            else:
                output = [_call(n, "call_handoff", "transfer_to_writer", "{}")]
        elif "You translate." in instructions:
            output = [_text(n, TRANSLATION)]
        else:
            output = [_text(n, REPORT)]
        response = self._response(n, "")
        response.update(output=output, model=str(body.get("model") or "gpt-test"))
        self._json(handler, 200, response, n)
