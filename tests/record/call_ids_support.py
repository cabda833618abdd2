"""The weather loop's items for the call-id tests (``test_call_ids`` and
``test_call_ids_properties``), and how a reduced state links each tool call to them."""

from __future__ import annotations

import json
from typing import Any, Literal

Keep = Literal["ours", "theirs"]


def user_message(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def answer_message(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }


def weather_call(call_id: str, city: str, *, spaced: bool = False) -> dict[str, Any]:
    arguments = json.dumps({"city": city}, separators=(", ", ": ") if spaced else (",", ":"))
    return {
        "type": "function_call",
        "call_id": call_id,
        "name": "get_weather",
        "arguments": arguments,
    }


def weather_output(call_id: str, city: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": f"{city}: rain"}


def tool_links(state: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Each tool call's (model-visible id, its call's arguments, its output's text). A tool
    call links its call and output items (more than one of each only where a compaction
    copied them): all of its call, all of its output."""
    items = state["conversation_items"]
    links = []
    for tool in state["tool_calls"].values():
        calls = [items[i] for i in tool["model_visible_call_item_ids"]]
        outputs = [items[i] for i in tool["model_visible_output_item_ids"]]
        assert calls and outputs, tool
        assert {i["call_id"] for i in calls + outputs} == {tool["model_visible_call_id"]}
        [arguments] = {i["body"]["parts"][0]["summary"] for i in calls}
        [text] = {i["body"]["parts"][0]["text"] for i in outputs}
        links.append((tool["model_visible_call_id"], arguments, text))
    return sorted(links)


def check_answers(state: dict[str, Any]) -> None:
    """Every output in the conversation answers a call (same recorded id) with its city."""
    cities: dict[str, set[str]] = {}
    for item in state["conversation_items"].values():
        if item["kind"] == "function_call":
            summary = item["body"]["parts"][0]["summary"]
            cities.setdefault(item["call_id"], set()).add(json.loads(summary)["city"])
    for item in state["conversation_items"].values():
        if item["kind"] == "function_call_output":
            city = item["body"]["parts"][0]["text"].split(":")[0]
            assert cities.get(item["call_id"]) == {city}, (item["call_id"], city, cities)
