"""The scripted Responses API (:mod:`tests.live.fake_responses`) answers as the random live
scenarios' rarer kinds need: an HTTP refusal with its headers (``Retry-After``), and a stream
cut inside an item (``end: "cut_mid"``: the item's ``added`` and first delta, never its
``done`` nor a final event). Without Codex: what the fake sends, read back over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.live.fake_responses import FakeResponses
from tests.live.script import call, message


def _post(base_url: str) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"input": []}).encode()
    request = urllib.request.Request(f"{base_url}/responses", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _events(raw: bytes) -> list[dict[str, Any]]:
    lines = raw.decode().splitlines()
    return [json.loads(line[len("data: ") :]) for line in lines if line.startswith("data: ")]


def test_an_http_refusal_carries_its_headers() -> None:
    rule = {
        "name": "busy",
        "http_status": 429,
        "headers": {"Retry-After": "1"},
        "body": {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}},
    }
    with FakeResponses([rule]) as fake:
        status, headers, body = _post(fake.base_url)
    assert status == 429
    assert headers["Retry-After"] == "1"
    assert json.loads(body)["error"]["type"] == "rate_limit_error"


@pytest.mark.parametrize("last", ["message", "call"])
def test_a_stream_cut_inside_an_item_stops_before_its_done(last: str) -> None:
    items = [call("exec_command", {"cmd": "echo"}, "c1"), message("whole text")]
    if last == "call":
        items.reverse()
    rule = {"name": "cut", "items": items, "deltas": ["Half a ", "message"], "end": "cut_mid"}
    with FakeResponses([rule]) as fake:
        status, _, body = _post(fake.base_url)
    assert status == 200
    kinds = [event["type"] for event in _events(body)]
    done = ["response.output_item.added", "response.output_item.done"]
    if last == "message":  # the call whole, then the message's start and first delta only
        assert kinds == [
            "response.created",
            *done,
            "response.output_item.added",
            "response.output_text.delta",
        ]
    else:  # the message whole (deltas and all), then the call's start only
        whole = [done[0], *["response.output_text.delta"] * 2, done[1]]
        assert kinds == ["response.created", *whole, "response.output_item.added"]
