"""A fake OpenAI API on 127.0.0.1 for tests: ``/v1/responses`` and ``/v1/chat/completions``,
JSON or server-sent events, so the real ``openai`` package runs its real HTTP code path.

What it answers depends on the last user text:

* contains ``tool`` → a ``get_weather`` function call (``{"city": "Oslo"}``);
* contains ``fail`` → HTTP 400 with an error body;
* contains ``status-failed`` → (Responses) HTTP 200 with ``status: "failed"``;
* contains ``stream-error`` → (streams) an ``error`` event (Responses) / a cut connection (Chat);
* contains ``loose-index`` → (Chat streams) two ``get_weather`` calls whose deltas carry
  ``index`` 0 then null (``null-index``: null throughout), as some compatible servers send;
  ``late-id-index``: one unnumbered call whose id comes in its second delta;
  ``reversed-index``: two numbered calls, index 1's delta first;
* contains ``two-choices`` → (Chat streams) two choices (``n=2``), their deltas interleaved;
* contains ``refusal-stream`` → (Chat streams) a refusal, its text in ``refusal`` deltas;
* contains ``audio-stream`` → (Chat streams) an audio answer (``modalities=["audio"]``): its
  id, data and transcript in ``audio`` deltas;
* contains ``legacy-function`` → (Chat streams) a legacy ``function_call`` (asked for with
  ``functions=``), its name and arguments in ``function_call`` deltas;
* contains ``think`` → (Chat) the answer also carries the server's reasoning, as vLLM,
  SGLang and DeepSeek send it: ``reasoning_content`` (streamed in two deltas before the
  text); ``think-router``: as OpenRouter sends it, ``reasoning`` and ``reasoning_details``
  (a text and an encrypted entry; streamed, each in deltas of their own, the text's two
  ``reasoning_details`` deltas continuing entry 0 by its ``index``);
  ``think-reasoning``: ``reasoning`` alone, no details (as servers naming it so send it);
* anything else → the text ``echo: <user text>``, streamed in three deltas.

``/v1/conversations`` keeps conversations, and a Responses request with ``conversation`` sees
and extends one (see ``fake_conversations``). ``POST /v1/responses/compact`` answers a compaction (see :meth:`FakeOpenAI.compact`). The
beta resources' paths (``?beta=true``) are served as the others; a Responses text with
``multi-agent`` answers with the beta's multi-agent items.

A Responses request with ``background: true`` is answered ``queued`` with no output; ``GET
/v1/responses/<id>`` then answers ``in_progress`` as many times as the text has ``slow``,
then the finished response; ``POST /v1/responses/<id>/cancel`` answers it ``cancelled``.

Every response carries ``x-request-id: req_<n>``; the requests received (body and headers)
are kept in :attr:`FakeOpenAI.requests`.
"""

from __future__ import annotations

import itertools
import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback import LoopbackServer, QuietHandler

from .fake_conversations import ConversationStore

USAGE_RESPONSES = {
    "input_tokens": 12,
    "input_tokens_details": {"cached_tokens": 2},
    "output_tokens": 7,
    "output_tokens_details": {"reasoning_tokens": 1},
    "total_tokens": 19,
}
USAGE_CHAT = {
    "prompt_tokens": 12,
    "prompt_tokens_details": {"cached_tokens": 2},
    "completion_tokens": 7,
    "completion_tokens_details": {"reasoning_tokens": 1},
    "total_tokens": 19,
}
ARGUMENTS = '{"city":"Oslo"}'
#: The reasoning a ``think`` answer carries.
REASONING = "The user wants weather; Oslo is a city."
#: OpenRouter's structured form of it (``think-router``), as a whole answer has it.
REASONING_DETAILS: list[dict[str, Any]] = [
    {"type": "reasoning.text", "text": REASONING, "signature": None, "index": 0},
    {"type": "reasoning.encrypted", "data": "gAAAAB-opaque", "index": 1},
]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def last_user_text(body: dict[str, Any]) -> str:
    items = body.get("messages") if "messages" in body else body.get("input")
    if isinstance(items, str):
        return items
    for item in reversed(items or []):
        if isinstance(item, dict) and item.get("role") == "user":
            return _text_of(item.get("content"))
    return ""


def answer_message(n: int, text: str) -> dict[str, Any]:
    """The assistant's answer ``text`` as a Responses API output item (``msg_<n>``): what the
    HTTP fake, the Agents SDK's scripts and the WebSocket fake answer with."""
    return {
        "type": "message",
        "id": f"msg_{n}",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def _said(text: str) -> str:
    """The model's answer: an echo, as a JSON object for prompts asking ``as-json`` (what a
    structured-output ``parse`` reads)."""
    echo = f"echo: {text}"
    return json.dumps({"text": echo}) if "as-json" in text else echo


def _multi_agent_output(n: int, text: str) -> list[dict[str, Any]]:
    """What the beta Responses API answers a multi-agent request with (openai's
    ``BetaResponseOutputItem``): item types and fields the non-beta API has not."""
    agent = {"agent_name": "root"}
    return [
        {
            "type": "multi_agent_call",
            "id": f"mac_{n}",
            "action": "spawn_agent",
            "arguments": '{"task":"look"}',
            "call_id": f"ma_{n}",
            "agent": agent,
        },
        {
            "type": "multi_agent_call_output",
            "id": f"maco_{n}",
            "action": "spawn_agent",
            "call_id": f"ma_{n}",
            "output": [{"type": "output_text", "text": "spawned", "annotations": []}],
        },
        {
            "type": "agent_message",
            "id": f"am_{n}",
            "author": "/root/worker",
            "recipient": "/root",
            "content": [{"type": "text", "text": "found it"}],
        },
        {
            "type": "program",
            "id": f"prog_{n}",
            "call_id": f"pc_{n}",
            "code": "1",
            "fingerprint": "f",
        },
        {
            "type": "message",
            "id": f"msg_{n}",
            "role": "assistant",
            "status": "completed",
            "phase": "final_answer",
            "agent": agent,
            "content": [{"type": "output_text", "text": _said(text), "annotations": []}],
        },
    ]


class FakeOpenAI(LoopbackServer):
    """The server; use as a context manager (starts a thread, stops it on exit)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self._ids = itertools.count(1)
        #: a server numbering tool calls from zero in each response: every call's id
        self.call_id: str | None = None
        #: background responses: id -> (request number, user text, polls left unfinished)
        self.background: dict[str, tuple[int, str, int]] = {}
        #: the conversations the server keeps (see ``fake_conversations``)
        self.conversations = ConversationStore()
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append((self.path, body, dict(self.headers.items())))
                path = self.path.partition("?")[0]  # the beta resources add ?beta=true
                if path.startswith("/v1/conversations"):
                    fake._json(self, *fake.conversations.handle("POST", path, body), 0)
                elif path.endswith("/cancel"):
                    fake.poll(self, path.split("/")[-2], cancel=True)
                elif path.endswith("/responses/compact"):
                    fake.compact(self, body)
                else:
                    fake.answer(self, body)

            def do_DELETE(self) -> None:
                fake.requests.append((self.path, {}, dict(self.headers.items())))
                fake._json(self, *fake.conversations.handle("DELETE", self.path, {}), 0)

            def do_GET(self) -> None:
                fake.requests.append((self.path, {}, dict(self.headers.items())))
                fake.poll(self, self.path.rsplit("/", 1)[-1], cancel=False)

        super().__init__(Handler)

    # --- answers -----------------------------------------------------------------------------

    def answer(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        n = next(self._ids)
        text = last_user_text(body)
        if "fail" in text and "status-failed" not in text:
            error = {
                "error": {"message": "bad things", "type": "invalid_request_error", "code": "bad"}
            }
            self._json(handler, 400, error, n)
            return
        chat = handler.path.endswith("/chat/completions")
        refused = None if chat else self.conversations.refusal(body)
        if refused is not None:
            self._json(handler, *refused, n)
            return
        if body.get("stream"):
            events = self._chat_chunks(n, text) if chat else self._response_events(n, text)
            if not chat and events[-1]["type"] == "response.completed":
                self.conversations.answered(body, events[-1]["response"])
            self._sse(handler, events, n, cut="stream-error" in text and chat)
            return
        if body.get("background") and not chat:
            answer = dict(self._response(n, text, "queued"), output=[], usage=None)
            answer["background"] = True
            self.background[answer["id"]] = (n, text, text.count("slow"))
            self._json(handler, 200, answer, n)
            return
        answer = self._chat_completion(n, text) if chat else self._response(n, text)
        if not chat:
            self.conversations.answered(body, answer)
        self._json(handler, 200, answer, n)

    def compact(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        """``POST /v1/responses/compact``: as the API answers, the request's user messages
        (with ids) followed by one ``compaction`` item; HTTP 500 when the last user text has
        ``compact-500``."""
        n = next(self._ids)
        if "compact-500" in last_user_text(body):
            error = {"error": {"message": "compaction broke", "type": "server_error", "code": None}}
            self._json(handler, 500, error, n)
            return
        items = body.get("input")
        if isinstance(items, str):
            items = [{"role": "user", "content": items}]
        users = [i for i in items or [] if isinstance(i, dict) and i.get("role") == "user"]
        output: list[dict[str, Any]] = [
            {
                "type": "message",
                "id": f"msg_{n}_{index}",
                "role": "user",
                "status": "completed",
                "content": [{"type": "input_text", "text": _text_of(item.get("content"))}],
            }
            for index, item in enumerate(users)
        ]
        output.append({"type": "compaction", "id": f"cmp_{n}", "encrypted_content": f"ENC_{n}"})
        answer = {
            "id": f"resp_cmp_{n}",
            "object": "response.compaction",
            "created_at": 0,
            "output": output,
            "usage": USAGE_RESPONSES,
        }
        self._json(handler, 200, answer, n)

    def poll(self, handler: BaseHTTPRequestHandler, ident: str, *, cancel: bool) -> None:
        """A background response, retrieved or cancelled; retrieved with ``stream=true``, its
        events from the start (what ``retrieve(id, stream=True)`` reads)."""
        ident, _, query = ident.partition("?")
        n, text, left = self.background[ident]
        if "stream=true" in query:
            events = self._response_events(n, text)
            for number, event in enumerate(events):
                event["sequence_number"] = number
            self._sse(handler, events, next(self._ids), cut=False)
            return
        self.background[ident] = (n, text, max(0, left - 1))
        if cancel:
            answer = dict(self._response(n, text, "cancelled"), output=[], usage=None)
        elif left:
            answer = dict(self._response(n, text, "in_progress"), output=[], usage=None)
        else:
            answer = self._response(n, text)
        answer["background"] = True
        self._json(handler, 200, answer, next(self._ids))

    def _output(self, n: int, text: str) -> list[dict[str, Any]]:
        if "multi-agent" in text:
            return _multi_agent_output(n, text)
        if "tool" in text:
            return [
                {
                    "type": "function_call",
                    "id": f"fc_{n}",
                    "call_id": self.call_id or f"call_{n}",
                    "name": "get_weather",
                    "arguments": ARGUMENTS,
                    "status": "completed",
                }
            ]
        return [answer_message(n, _said(text))]

    def _response(self, n: int, text: str, status: str = "completed") -> dict[str, Any]:
        failed = "status-failed" in text
        return {
            "id": f"resp_{n}",
            "object": "response",
            "created_at": 0,
            "model": "gpt-test",
            "status": "failed" if failed else status,
            "error": {"code": "server_error", "message": "model fell over"} if failed else None,
            "output": [] if failed else self._output(n, text),
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": USAGE_RESPONSES,
        }

    def _response_events(self, n: int, text: str) -> list[dict[str, Any]]:
        response = self._response(n, text)
        created = dict(response, status="in_progress", output=[], usage=None)
        events: list[dict[str, Any]] = [{"type": "response.created", "response": created}]
        for index, item in enumerate(response["output"]):
            events.append(
                {"type": "response.output_item.added", "output_index": index, "item": item}
            )
            if item["type"] == "message":
                whole = item["content"][0]["text"]
                for piece in (whole[:3], whole[3:6], whole[6:]):
                    events.append(
                        {
                            "type": "response.output_text.delta",
                            "item_id": item["id"],
                            "output_index": index,
                            "content_index": 0,
                            "delta": piece,
                        }
                    )
            elif item["type"] == "function_call":
                events.append(
                    {
                        "type": "response.function_call_arguments.delta",
                        "item_id": item["id"],
                        "output_index": index,
                        "delta": item["arguments"],
                    }
                )
            events.append(
                {"type": "response.output_item.done", "output_index": index, "item": item}
            )
        if "stream-error" in text:
            events.append(
                {"type": "error", "code": "server_error", "message": "stream broke", "param": None}
            )
        else:
            events.append({"type": "response.completed", "response": response})
        return events

    def _chat_message(self, n: int, text: str) -> dict[str, Any]:
        if "tool" in text:
            call = {
                "id": self.call_id or f"call_{n}",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ARGUMENTS},
            }
            message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [call]}
        else:
            message = {"role": "assistant", "content": _said(text)}
        if "think-router" in text:
            message["reasoning"] = REASONING
            message["reasoning_details"] = [dict(entry) for entry in REASONING_DETAILS]
        elif "think-reasoning" in text:
            message["reasoning"] = REASONING
        elif "think" in text:
            message["reasoning_content"] = REASONING
        return message

    def _chat_completion(self, n: int, text: str) -> dict[str, Any]:
        message = self._chat_message(n, text)
        return {
            "id": f"chatcmpl_{n}",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-test",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if "tool_calls" in message else "stop",
                }
            ],
            "usage": USAGE_CHAT,
        }

    def _chat_chunks(self, n: int, text: str) -> list[dict[str, Any]]:
        message = self._chat_message(n, text)
        base = {
            "id": f"chatcmpl_{n}",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "gpt-test",
        }
        if any(word in text for word in ("index", "two-choices", "refusal-", "legacy-", "audio-")):
            return self._odd_chat_chunks(base, text)
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        if "think-router" in text:
            text_entry, encrypted = REASONING_DETAILS
            for piece in (REASONING[:8], REASONING[8:]):
                deltas.append(
                    {"reasoning": piece, "reasoning_details": [dict(text_entry, text=piece)]}
                )
            deltas.append({"reasoning_details": [encrypted]})
        elif "think-reasoning" in text:
            deltas += [{"reasoning": REASONING[:8]}, {"reasoning": REASONING[8:]}]
        elif "think" in text:
            deltas += [{"reasoning_content": REASONING[:8]}, {"reasoning_content": REASONING[8:]}]
        if message.get("tool_calls"):
            call = message["tool_calls"][0]
            deltas.append(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        }
                    ]
                }
            )
            for piece in (ARGUMENTS[:5], ARGUMENTS[5:]):
                deltas.append({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        else:
            whole = message["content"]
            deltas += [{"content": whole[:3]}, {"content": whole[3:6]}, {"content": whole[6:]}]
        chunks = [
            dict(base, choices=[{"index": 0, "delta": d, "finish_reason": None}]) for d in deltas
        ]
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        chunks.append(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": finish}]))
        chunks.append(dict(base, choices=[], usage=USAGE_CHAT))
        return chunks

    @staticmethod
    def _odd_chat_chunks(base: dict[str, Any], text: str) -> list[dict[str, Any]]:
        """Chunks real servers send that the plain answers above lack: tool-call deltas
        without an index, two choices at once, a refusal, an audio answer, a legacy
        function call."""

        def chunk(delta: dict[str, Any], index: int = 0, finish: str | None = None) -> Any:
            return dict(base, choices=[{"index": index, "delta": delta, "finish_reason": finish}])

        def call(index: int | None, call_id: str | None, name: str, arguments: str) -> Any:
            part: dict[str, Any] = {"index": index, "type": "function"}
            if call_id:
                part["id"] = call_id
            part["function"] = {"name": name, "arguments": arguments}
            return {"tool_calls": [part]}

        if "two-choices" in text:
            return [
                chunk({"role": "assistant", "content": "A1 "}, 0),
                chunk({"role": "assistant", "content": "B1 "}, 1),
                chunk({"content": "A2"}, 0),
                chunk({"content": "B2"}, 1),
                chunk({}, 0, "stop"),
                chunk({}, 1, "stop"),
            ]
        if "refusal-stream" in text:
            return [
                chunk({"role": "assistant", "content": None, "refusal": ""}),
                chunk({"refusal": "I can't "}),
                chunk({"refusal": "help with that."}),
                chunk({}, 0, "stop"),
            ]
        if "audio-stream" in text:
            return [
                chunk({"role": "assistant", "content": None, "audio": {"id": "audio_1"}}),
                chunk({"audio": {"data": "UklGRg==", "transcript": "Hello"}}),
                chunk({"audio": {"data": "AAAA", "transcript": " there"}}),
                chunk({"audio": {"expires_at": 0}}, 0, "stop"),
            ]
        if "legacy-function" in text:
            return [
                chunk(
                    {
                        "role": "assistant",
                        "content": None,
                        "function_call": {"name": "get_weather", "arguments": ""},
                    }
                ),
                chunk({"function_call": {"arguments": '{"city":'}}),
                chunk({"function_call": {"arguments": '"Oslo"}'}}),
                chunk({}, 0, "function_call"),
            ]
        if "late-id-index" in text:  # unnumbered, the call's id in its second delta
            return [
                chunk({"role": "assistant", "content": None}),
                chunk(call(None, None, "get_weather", '{"city":')),
                chunk(call(None, "call_a", "", '"Oslo"}')),
                chunk({}, 0, "tool_calls"),
            ]
        if "reversed-index" in text:  # the second call's deltas first
            return [
                chunk({"role": "assistant", "content": None}),
                chunk(call(1, "call_b", "get_weather", '{"city":"Rome"}')),
                chunk(call(0, "call_a", "get_weather", '{"city":"Oslo"}')),
                chunk({}, 0, "tool_calls"),
            ]
        first = None if "null-index" in text else 0
        return [
            chunk({"role": "assistant", "content": None}),
            chunk(call(first, "call_a", "get_weather", '{"city":')),
            chunk(call(first, None, "", '"Oslo"}')),
            chunk(call(None, "call_b", "get_weather", '{"city":')),
            chunk(call(None, None, "", '"Rome"}')),
            chunk({}, 0, "tool_calls"),
        ]

    # --- wire ----------------------------------------------------------------------------------

    def _json(self, handler: BaseHTTPRequestHandler, status: int, value: Any, n: int) -> None:
        data = json.dumps(value).encode()
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(data)))
        handler.send_header("x-request-id", f"req_{n}")
        handler.end_headers()
        handler.wfile.write(data)

    def _sse(
        self, handler: BaseHTTPRequestHandler, events: list[dict[str, Any]], n: int, *, cut: bool
    ) -> None:
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream")
        handler.send_header("x-request-id", f"req_{n}")
        handler.send_header("transfer-encoding", "chunked")
        handler.end_headers()
        chat = "object" in events[0]
        try:
            for index, event in enumerate(events):
                if cut and index == 2:
                    handler.wfile.flush()
                    handler.close_connection = True
                    return  # no terminating chunk: the client sees a broken stream
                line = (
                    f"data: {json.dumps(event)}\n\n"
                    if chat
                    else (f"event: {event['type']}\ndata: {json.dumps(event)}\n\n")
                )
                self._chunk(handler, line.encode())
            if chat:
                self._chunk(handler, b"data: [DONE]\n\n")
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True

    @staticmethod
    def _chunk(handler: BaseHTTPRequestHandler, data: bytes) -> None:
        handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        handler.wfile.flush()
