"""A scripted fake of the OpenAI Responses API on 127.0.0.1, for driving the real Codex CLI.

Codex (``codex exec`` with a ``model_providers`` entry pointing here) sends each model request
as ``POST /v1/responses``; the first rule that matches the request answers it, streamed as
server-sent events (``response.created``, each item ``added`` and ``done``, then
``response.completed`` with usage), or as an HTTP error. A rule matches on:

* ``step``: how many tool outputs the request's input holds (0 for the first request);
* ``last_call_id``: the ``call_id`` of the request's last input item (the output just sent);
* ``any_contains``: a text anywhere in the request body;
* ``thread``: a text in one of the input's user messages (a sub-agent's task names its
  thread: ``CHILD-A: ...``);
* ``lacks_call_id`` / ``has_call_id``: a call id absent from / present in the input's items
  (their ``call_id``: as a text anywhere in the body, a short id such as ``s1`` was "present"
  in a base64 image or a uuid, and a rule meant for the request before it answered);
* ``last_type``: the type of the request's last input item;
* ``last_user``: a text in the input's last user message;

and may be used at most ``times`` times. ``pace`` (seconds) sends a streamed answer's events
that far apart, so a test can stop Codex mid-stream (``tests/live/test_codex_killed.py``);
``delay`` (seconds) holds its answer back after the first ``delay_after`` events (1).

``$AGENT_ID`` / ``$SESSION_ID`` in an answer's call arguments are the ids in the latest spawn
output / running command output seen.

No rule matching answers with a short message, so a scenario that goes further than scripted
still ends; one that loops is refused after :data:`MAX_REQUESTS` requests.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.loopback import LoopbackServer, QuietHandler

Rule = dict[str, Any]

_USAGE = {
    "input_tokens": 100,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 10,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 110,
}
#: A scenario that loops (its rules keep asking for work) is cut off after this many requests.
MAX_REQUESTS = 40
_LOOPING: Rule = {
    "name": "looping",
    "http_status": 400,
    "body": {
        "error": {"message": "too many requests in one scenario", "type": "invalid_request_error"}
    },
}
_DONE: Rule = {
    "name": "default",
    "items": [
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "done", "annotations": []}],
        }
    ],
}


#: A sub-agent id as a spawn's output gives it (inside an output string, so escaped).
_AGENT_ID = re.compile(r'\\"agent_id\\":\\"([0-9a-f-]+)\\"')


#: A terminal session id as a running command's output gives it.
_SESSION_ID = re.compile(r"session ID (\d+)")


def _with_ids(item: dict[str, Any], seen: dict[str, str]) -> dict[str, Any]:
    """``$AGENT_ID`` / ``$SESSION_ID`` in a call's arguments become the latest id of that kind
    seen in a request (sub-agents of multi_agent v1 and terminal sessions are named by ids
    Codex draws)."""
    arguments = item.get("arguments")
    if isinstance(arguments, str):
        for key, value in seen.items():
            arguments = arguments.replace(key, value)
        item["arguments"] = arguments
    return item


def _user_texts(items: list[dict[str, Any]]) -> list[str]:
    """The text of each user message, its parts joined (a prompt with an image attached ends
    with the image's part: the message is still told by its text)."""
    texts = []
    for item in items:
        if item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, list):
                parts = [str(part.get("text", "")) for part in content if isinstance(part, dict)]
                texts.append("\n".join(parts))
    return texts


class FakeResponses(LoopbackServer):
    """The server; a context manager (serves from a thread until the block ends)."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self.requests: list[dict[str, Any]] = []
        self._used: dict[str, int] = {}
        self._ids_seen: dict[str, str] = {}
        self._ids = itertools.count(1)
        fake = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # model lists and the like: none here
                self.send_response(404)
                self.send_header("content-length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                size = int(self.headers.get("content-length", "0"))
                try:
                    body = json.loads(self.rfile.read(size) or b"{}")
                except ValueError:
                    body = {}
                fake.requests.append(body)
                fake._answer(self, body)

        super().__init__(Handler)

    def _pick(self, body: dict[str, Any]) -> Rule:
        items = [i for i in body.get("input") or [] if isinstance(i, dict)]
        step = sum(1 for i in items if str(i.get("type", "")).endswith("_output"))
        last = items[-1] if items else {}
        text = json.dumps(body)
        call_ids = {str(i["call_id"]) for i in items if i.get("call_id") is not None}
        for rule in self.rules:
            match = rule.get("match", {})
            if self._used.get(rule["name"], 0) >= rule.get("times", 1 << 30):
                continue
            if "step" in match and match["step"] != step:
                continue
            if "last_call_id" in match and last.get("call_id") != match["last_call_id"]:
                continue
            if "any_contains" in match and match["any_contains"] not in text:
                continue
            if "thread" in match and not any(match["thread"] in t for t in _user_texts(items)):
                continue
            if "lacks_call_id" in match and match["lacks_call_id"] in call_ids:
                continue
            if "has_call_id" in match and match["has_call_id"] not in call_ids:
                continue
            if "last_type" in match and last.get("type") != match["last_type"]:
                continue
            if "last_user" in match and match["last_user"] not in (_user_texts(items) or [""])[-1]:
                continue
            self._used[rule["name"]] = self._used.get(rule["name"], 0) + 1
            return rule
        return _DONE

    def _answer(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        text = json.dumps(body)
        for pattern, key in ((_AGENT_ID, "$AGENT_ID"), (_SESSION_ID, "$SESSION_ID")):
            found = pattern.findall(text)
            if found:
                self._ids_seen[key] = found[-1]
        rule = self._pick(body) if len(self.requests) <= MAX_REQUESTS else _LOOPING
        if "http_status" in rule:
            chunks = [json.dumps(rule.get("body", {})).encode()]
            handler.send_response(rule["http_status"])
            handler.send_header("content-type", "application/json")
            for name, value in rule.get("headers", {}).items():  # ``Retry-After``, say
                handler.send_header(name, value)
        else:
            chunks = self._stream(rule)
            handler.send_response(200)
            handler.send_header("content-type", "text/event-stream")
        handler.send_header("content-length", str(sum(map(len, chunks))))
        handler.end_headers()
        pace = float(rule.get("pace", 0))
        # ``delay``: the first ``delay_after`` events now, the rest after ``delay`` seconds: an
        # inference in flight, for a client to interrupt (which closes the connection)
        held = rule.get("delay_after", 1) if "delay" in rule and "http_status" not in rule else -1
        try:
            for n, chunk in enumerate(chunks):
                if pace or n == held:
                    handler.wfile.flush()
                    time.sleep(rule["delay"] if n == held else pace)
                handler.wfile.write(chunk)
        except OSError:  # the client is gone (stopped mid-stream)
            handler.close_connection = True

    def _stream(self, rule: Rule) -> list[bytes]:
        """The rule's answer as server-sent events. Besides ``items``: ``deltas`` streams a
        message's text in pieces first; ``end`` is ``"completed"`` (the default),
        ``"incomplete"`` (``response.incomplete``, reason ``reason`` or ``max_output_tokens``),
        ``"failed"``
        (``response.failed`` with ``error``), ``"error"`` (an ``error`` event), ``"cut"``
        (the stream stops after the items, with no final event) or ``"cut_mid"`` (it stops
        inside the last item: its ``added`` and, for a message, the first of its ``deltas``,
        never its ``done``); ``no_usage`` leaves the final event's usage out."""
        response_id = f"resp_{next(self._ids)}"
        events: list[dict[str, Any]] = [
            {"type": "response.created", "response": {"id": response_id}}
        ]
        for index, given in enumerate(rule.get("items", [])):
            item = _with_ids(dict(given), self._ids_seen)
            if item.get("type") == "message":
                item.setdefault("id", f"msg_{response_id}_{index}")
            events.append(
                {"type": "response.output_item.added", "output_index": index, "item": item}
            )
            for delta in rule.get("deltas", []) if item.get("type") == "message" else []:
                events.append(
                    {
                        "type": "response.output_text.delta",
                        "item_id": item["id"],
                        "output_index": index,
                        "content_index": 0,
                        "delta": delta,
                    }
                )
            events.append(
                {"type": "response.output_item.done", "output_index": index, "item": item}
            )
        end = rule.get("end", "completed")
        if end == "cut_mid" and len(events) > 1:  # up to the last item's first delta
            last = max(n for n, e in enumerate(events) if e["type"].endswith("item.added"))
            deltas = [n for n, e in enumerate(events) if e["type"].endswith("text.delta")]
            stop = next((n + 1 for n in deltas if n > last), last + 1)
            events = events[:stop]
        usage = {**_USAGE, **rule.get("usage", {})}  # Codex needs every count
        response: dict[str, Any] = {"id": response_id, "usage": usage}
        if rule.get("no_usage"):  # as some providers answer: no usage at all
            del response["usage"]
        if end == "completed":
            events.append({"type": "response.completed", "response": response})
        elif end == "incomplete":
            response["incomplete_details"] = {"reason": rule.get("reason", "max_output_tokens")}
            events.append({"type": "response.incomplete", "response": response})
        elif end == "failed":
            response["error"] = rule.get("error", {"code": "server_error", "message": "scripted"})
            events.append({"type": "response.failed", "response": response})
        elif end == "error":
            events.append({"type": "error", **rule.get("error", {"message": "scripted"})})
        return [
            f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode() for event in events
        ]
