"""Request and output normalisation: every shape a client sends is recorded as typed
Responses items both reducers accept, with no user text lost; what cannot be kept is dropped
and reported, never recorded to break the bundle."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from pydantic import BaseModel

from rollout_trace_sdk.record.requests import normalize_output_items, normalize_request

from .held_forms import tupled

# --- pure normalisation ------------------------------------------------------------------------


def test_string_input_becomes_a_user_message() -> None:
    """A plain string ``input`` (valid for the Responses API) is the user's message."""
    body, problems = normalize_request({"model": "m", "input": "hi"})
    assert body == {
        "model": "m",
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
        ],
    }
    assert problems == []


def test_easy_messages_become_typed_messages() -> None:
    """Messages without ``type`` get it, and text parts typed by role."""
    body, problems = normalize_request(
        {
            "input": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "input_text", "text": "q"}, "more"]},
                {"role": "assistant", "content": "a"},
            ]
        }
    )
    assert problems == []
    assert body["input"] == [
        {
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": "be brief"}],
        },
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "q"},
                {"type": "input_text", "text": "more"},
            ],
        },
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a"}]},
    ]


@pytest.mark.parametrize(
    "request_body",
    [
        {
            "model": "m",
            "input": [{"role": "user", "content": ["q", {"type": "text", "text": "r"}]}],
        },
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": "q"},
                {
                    "role": "assistant",
                    "content": None,
                    "reasoning_details": [{"type": "reasoning.text", "text": "t"}],
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
            ],
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        },
    ],
    ids=["responses", "chat"],
)
def test_tuples_are_read_as_lists(request_body: dict[str, Any]) -> None:
    """A request or an output whose arrays are tuples (``input=tuple(history)``; the SDKs
    send any sequence as a JSON array) is recorded as the same lists would be: a tuple
    ``input`` was recorded as empty, and tuple tool calls or content were dropped or left
    untyped."""
    as_tuples = tupled(request_body)
    assert normalize_request(as_tuples)[1] == []
    assert _listed(normalize_request(as_tuples)[0]) == normalize_request(request_body)[0]
    output = [request_body["messages" if "messages" in request_body else "input"][-1]]
    assert normalize_output_items(tupled(output))[1] == []
    assert _listed(normalize_output_items(tupled(output))[0]) == normalize_output_items(output)[0]


def _listed(value: Any) -> Any:
    """``value`` with every tuple a list (what the bundle's JSON holds)."""
    if isinstance(value, dict):
        return {k: _listed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_listed(v) for v in value]
    return value


def test_chat_completions_request_maps_to_responses_items() -> None:
    """``messages`` with tool calls and tool results become message, function_call and
    function_call_output items; ``tools`` are flattened; the caller's dict is untouched."""
    request = {
        "model": "gpt-4o",
        "messages": [
            {"role": "developer", "content": "rules"},
            {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "rain"},
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
    }
    before = repr(request)
    body, problems = normalize_request(request)
    assert repr(request) == before
    assert problems == []
    assert "messages" not in body
    assert body["tools"] == [{"type": "function", "name": "get_weather", "parameters": {}}]
    assert body["input"] == [
        {
            "type": "message",
            "role": "developer",
            "content": [{"type": "input_text", "text": "rules"}],
        },
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "weather?"}],
        },
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city":"Oslo"}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "rain"},
    ]


def test_typed_items_already_fine_are_kept_as_they_are() -> None:
    """A request the reducers already read is recorded unchanged (same item objects)."""
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]}
    call = {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}
    body, problems = normalize_request({"input": [item, call]})
    assert problems == []
    assert body["input"][0] is item and body["input"][1] is call


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ({"type": "item_reference", "id": "x"}, "item_reference"),
        ({"type": "message", "role": "critic", "content": "x"}, "'critic'"),
        ({"type": "reasoning", "summary": []}, "no content, summary or encrypted_content"),
        ({"type": "reasoning", "summary": [{"type": "x", "text": "t"}]}, "summary entry"),
        ({"type": "compaction"}, "encrypted_content"),
        ({"type": "agent_message", "author": "/a", "recipient": "/b", "content": []}, "content"),
        ({"content": "no role, no type"}, "no string type"),
        (42, "int"),
    ],
)
def test_items_the_reducers_refuse_are_dropped_and_reported(item: Any, words: str) -> None:
    """Each refused item is named in a problem; the rest of the request is kept."""
    body, problems = normalize_request({"input": ["keep me", item]})
    assert body["input"] == [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "keep me"}]}
    ]
    assert len(problems) == 1 and "input[1]" in problems[0] and words in problems[0], problems


class _Msg(BaseModel):
    role: str
    content: str


@dataclasses.dataclass
class _Request:
    model: str
    input: list[Any]


def test_pydantic_and_dataclass_requests() -> None:
    """Pydantic models and dataclasses are read like the dicts they dump to."""
    body, problems = normalize_request(_Request("m", [_Msg(role="user", content="hello")]))
    assert problems == []
    assert body == {
        "model": "m",
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hello"}],
            }
        ],
    }


def test_unreadable_request_is_reported() -> None:
    """A request that is not a mapping, list or string is recorded empty, with a problem."""
    body, problems = normalize_request(3.5)
    assert body == {"input": []}
    assert problems and "float" in problems[0]


def test_chat_completion_output() -> None:
    """A ChatCompletion's first choice gives a message and its tool calls; extra choices are
    reported."""
    completion = {
        "id": "chatcmpl-1",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "let me look",
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
            },
            {"index": 1, "message": {"role": "assistant", "content": "other"}},
        ],
    }
    items, problems = normalize_output_items(completion)
    assert items == [
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "let me look"}],
        },
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
    ]
    assert problems == ["response has 2 choices; only the first is recorded"]


def test_responses_output_and_custom_tool_round_trip() -> None:
    """A Response's ``output`` is read; a chat custom tool call's result is a custom output."""
    items, problems = normalize_output_items(
        {"id": "r", "output": [{"role": "assistant", "content": "ok"}]}
    )
    assert problems == [] and items[0]["content"] == [{"type": "output_text", "text": "ok"}]
    body, problems = normalize_request(
        {
            "messages": [
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "k", "type": "custom", "custom": {"name": "patch", "input": "diff"}}
                    ],
                },
                {
                    "role": "tool",
                    "tool_call_id": "k",
                    "content": [{"type": "text", "text": "done"}],
                },
            ]
        }
    )
    assert problems == []
    assert body["input"] == [
        {"type": "custom_tool_call", "call_id": "k", "name": "patch", "input": "diff"},
        {
            "type": "custom_tool_call_output",
            "call_id": "k",
            "output": [{"type": "input_text", "text": "done"}],
        },
    ]


# --- through the recorder: generated request shapes reduce, and keep the user's text ----------
