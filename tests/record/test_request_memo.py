"""The request memo: a request that resends the last one's items normalises only the new
ones, with the same result as normalising it whole."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rollout_trace_sdk.record._request_memo import RequestMemo
from rollout_trace_sdk.record.requests import normalize_request


def _custom_call(n: int) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": f"k{n}", "type": "custom", "custom": {"name": "patch", "input": "diff"}}
        ],
    }


#: Chat messages of every kind the mapping treats differently; a tool message answering a
#: custom call made in an earlier request must still become a custom tool call output.
_MESSAGES: list[Callable[[int], dict[str, Any]]] = [
    lambda n: {"role": "user", "content": f"question {n}"},
    lambda n: {"role": "user", "content": [{"type": "text", "text": f"part {n}"}]},
    lambda n: {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": f"c{n}", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    },
    lambda n: {"role": "tool", "tool_call_id": f"c{n - 1}", "content": "out"},
    _custom_call,
    lambda n: {"role": "tool", "tool_call_id": f"k{n - 1}", "content": "patched"},
    lambda n: {"role": "wizard", "content": "refused"},  # a problem, reported once
]


@settings(max_examples=60, deadline=None)
@given(kinds=st.lists(st.integers(0, len(_MESSAGES) - 1), min_size=1, max_size=14), cut=st.data())
def test_growing_chat_requests_normalise_as_if_whole(kinds: list[int], cut: st.DataObject) -> None:
    memo = RequestMemo()
    messages: list[Any] = []
    reported: list[str] = []
    steps = sorted({*cut.draw(st.lists(st.integers(1, len(kinds)), max_size=5)), len(kinds)})
    start = 0
    for stop in steps:
        messages.extend(_MESSAGES[k](n) for n, k in enumerate(kinds[start:stop], start))
        start = stop
        request = {"model": "m", "messages": messages, "tools": []}
        body, problems = memo.normalize(request)
        whole, _ = normalize_request(request)
        assert body == whole
        reported.extend(problems)
    assert reported == normalize_request({"messages": messages})[1]  # each problem once


def test_resent_items_are_reused_not_normalised_again() -> None:
    memo = RequestMemo()
    history: list[Any] = [{"role": "user", "content": "hi"}]
    first, _ = memo.normalize({"input": history})
    history.append(
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "yo"}]}
    )
    second, _ = memo.normalize({"input": history})
    assert second["input"][0] is first["input"][0]  # the easy message's typed form, reused
    assert second["input"][1] is history[1]  # typed already: kept as it is


def test_a_history_that_changed_is_normalised_whole() -> None:
    memo = RequestMemo()
    memo.normalize({"input": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]})
    edited = [{"role": "user", "content": "a2"}, {"role": "user", "content": "b"}]
    body, _ = memo.normalize({"input": edited})
    assert body == normalize_request({"input": edited})[0]
    body, _ = memo.normalize("just a prompt")
    assert body == normalize_request("just a prompt")[0]


def test_a_request_continuing_a_response_the_thread_never_had_is_recorded_without_it() -> None:
    """``previous_response_id`` naming a response of the thread stays; naming any other (a
    response from before the rollout, another rollout or another thread) is left out and
    said: both reducers refused the whole bundle for it (found by review clients20)."""
    memo = RequestMemo()
    sent = {"input": [{"role": "user", "content": "more"}], "previous_response_id": "resp_1"}
    body, problems = memo.normalize(sent)
    assert "previous_response_id" not in body and sent["previous_response_id"] == "resp_1"
    assert problems == [
        "request previous_response_id 'resp_1' names no response recorded in this thread;"
        " recorded without it (its input alone)"
    ]
    continuations = memo.continuations  # a call of the thread answers with resp_1
    history = continuations.started("call", continuations.request({"input": []}, []), full=True)
    continuations.answered("call", history, "resp_1", [])
    body, problems = memo.normalize(dict(sent, input="more"))  # not a list: no reuse either
    assert body["previous_response_id"] == "resp_1" and problems == []
