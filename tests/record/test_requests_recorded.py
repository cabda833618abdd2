"""Requests through the recorder: generated request shapes (easy, typed, Chat, pydantic and
dataclass) record bundles that both reducers read, with the user's text kept; refused items
warned and reported; a whole response from a disabled call; Chat audio and reasoning (the
pure normalisation: test_requests.py)."""

from __future__ import annotations

import dataclasses
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Final

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from rollout_trace_sdk.record import RecorderWarning, open_rollout
from rollout_trace_sdk.record.inference import _NullInferenceCall
from rollout_trace_sdk.record.requests import normalize_output_items, normalize_request

from .held_forms import UnreadableMapping
from .recorder_support import bundle_in, check_bundle, events, of_type, payload

STYLES = ("string", "easy", "typed", "chat", "pydantic", "dataclass")


class _PydMessage(BaseModel):
    role: str
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


@dataclasses.dataclass
class _DcRequest:
    model: str
    messages: list[Any]


def _easy(entry: tuple[str, ...]) -> dict[str, Any]:
    kind = entry[0]
    if kind in ("user", "system"):
        if entry[-1] == "parts":  # a string part and a typed one
            return {"role": kind, "content": [entry[1]]}  # a bare string part
        return {"role": kind, "content": entry[1]}
    if kind == "assistant":
        return {"role": "assistant", "content": entry[1]}
    if kind == "call":
        return {"type": "function_call", "call_id": entry[1], "name": "f", "arguments": entry[2]}
    return {"type": "function_call_output", "call_id": entry[1], "output": entry[2]}


def _typed(entry: tuple[str, ...]) -> dict[str, Any]:
    kind = entry[0]
    if kind in ("user", "system") and entry[-1] == "parts":  # typed, but string content
        return {"type": "message", "role": kind, "content": entry[1]}
    if kind in ("user", "assistant", "system"):
        part = "output_text" if kind == "assistant" else "input_text"
        return {"type": "message", "role": kind, "content": [{"type": part, "text": entry[1]}]}
    return _easy(entry)


def _chat(history: list[tuple[str, ...]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for entry in history:
        kind = entry[0]
        if kind == "call":
            call = {
                "id": entry[1],
                "type": "function",
                "function": {"name": "f", "arguments": entry[2]},
            }
            if out and out[-1]["role"] == "assistant":
                out[-1].setdefault("tool_calls", []).append(call)
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "output":
            out.append({"role": "tool", "tool_call_id": entry[1], "content": entry[2]})
        elif entry[-1] == "parts":  # Chat Completions text parts
            out.append({"role": kind, "content": [{"type": "text", "text": entry[1]}]})
        else:
            out.append({"role": kind, "content": entry[1]})
    return out


def _request(style: str, history: list[tuple[str, ...]], junk: bool) -> tuple[Any, bool]:
    """The request in ``style``; the flag says whether a problem must be reported."""
    extra: list[Any] = [{"type": "item_reference", "id": "ref_1"}] if junk else []
    if style == "string":
        return {"model": "gpt-test", "input": history[-1][1]}, False
    if style == "easy":
        return {"model": "gpt-test", "input": [_easy(e) for e in history] + extra}, junk
    if style == "typed":
        return [_typed(e) for e in history] + extra, junk
    messages = _chat(history)
    if style == "chat":
        return {"model": "gpt-test", "messages": messages + extra}, junk
    if style == "pydantic":
        return {"model": "gpt-test", "messages": [_PydMessage(**m) for m in messages]}, False
    return _DcRequest("gpt-test", messages), False


def _output(style: str, text: str, call: tuple[str, str] | None) -> Any:
    if style in ("chat", "pydantic", "dataclass"):
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if call is not None:
            message["tool_calls"] = [
                {"id": call[0], "type": "function", "function": {"name": "f", "arguments": call[1]}}
            ]
        completion = {"id": "c", "choices": [{"index": 0, "message": message}]}
        return completion if style == "chat" else _PydMessage(**message)
    items: list[Any] = [{"role": "assistant", "content": text}]
    if call is not None:
        items.append(
            {"type": "function_call", "call_id": call[0], "name": "f", "arguments": call[1]}
        )
    return {"id": "resp", "output": items} if style == "typed" else items


_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12
)


_STEP = st.tuples(st.sampled_from(STYLES), _TEXT, st.booleans(), st.booleans(), st.booleans())


Step = tuple[str, str, bool, bool, bool]


async def _record(root: Path, steps: list[Step], system: bool) -> tuple[list[str], int]:
    """Play ``steps`` (style, user text, tool call?, junk item?, content as parts?) after an
    optional system message; return the texts to find and the number of requests that must
    have reported a problem."""
    history: list[tuple[str, ...]] = []
    texts: list[str] = []
    if system:
        history.append(("system", "sys: be brief", "parts"))
        if any(style != "string" for style, *_ in steps):
            texts.append("sys: be brief")
    expected_problems = 0
    async with open_rollout(root, model="gpt-test") as rollout, rollout.root.turn() as turn:
        for index, (style, text, with_call, junk, as_parts) in enumerate(steps):
            user_text = f"u{index}:{text}"
            texts.append(user_text)
            history.append(("user", user_text, "parts" if as_parts else "plain"))
            request, problem = _request(style, history, junk)
            expected_problems += problem
            call_entry = (f"call_{index}", f'{{"n":{index}}}') if with_call else None
            async with turn.inference(request) as call:
                call.completed(
                    response_id=f"resp_{index}",
                    output_items=_output(style, f"a{index}", call_entry),
                    token_usage={"prompt_tokens": 3, "completion_tokens": 1},
                )
            history.append(("assistant", f"a{index}"))
            if call_entry is not None:
                history += [("call", *call_entry), ("output", call_entry[0], f"out{index}")]
    return texts, expected_problems


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@settings(
    max_examples=int(os.environ.get("REQUEST_PROPERTY_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(steps=st.lists(_STEP, min_size=1, max_size=4), system=st.booleans())
def test_any_request_shape_records_a_bundle_that_reduces_with_the_text(
    steps: list[Step], system: bool
) -> None:
    """Generated request shapes (strings, easy messages, typed items, chat messages with tool
    calls, pydantic objects, dataclasses, mixed across calls) reduce with both reducers to
    the same state, every user text is in it, and every dropped item was reported."""
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        texts, expected_problems = anyio.run(_record, Path(tmp), steps, system)
        bundle = bundle_in(Path(tmp))
        state = check_bundle(bundle)
        reported = [
            e
            for e in of_type(bundle, "protocol_event_observed")
            if e["payload"]["event_type"] == "rollout_trace_input_dropped"
        ]
        recorder_warnings = [w for w in caught if issubclass(w.category, RecorderWarning)]
    shown = "\n".join(_strings(state))
    for text in texts:
        assert text in shown, f"user text {text!r} lost"
    assert len(reported) == expected_problems == len(recorder_warnings)


@pytest.mark.anyio
async def test_string_prompt_is_recorded_not_lost(tmp_path: Path) -> None:
    """Regression: ``{"input": "hi"}`` was recorded as ``"input": []``."""
    async with (
        open_rollout(tmp_path, model="gpt-test") as rollout,
        rollout.root.turn() as turn,
        turn.inference({"model": "gpt-test", "input": "hi"}) as call,
    ):
        call.completed(response_id="r", output_items=[{"role": "assistant", "content": "yo"}])
    bundle = bundle_in(tmp_path)
    started = of_type(bundle, "inference_started")[0]
    request = payload(bundle, started["payload"]["request_payload"])
    assert request["input"][0]["content"] == [{"type": "input_text", "text": "hi"}]
    state = check_bundle(bundle)
    assert "hi" in _strings(state) and "yo" in _strings(state)


@pytest.mark.anyio
async def test_refused_item_warns_and_is_recorded_as_a_problem(tmp_path: Path) -> None:
    """Regression: an untyped item used to be recorded silently and break ``reduce``."""
    async with open_rollout(tmp_path, model="gpt-test") as rollout, rollout.root.turn() as turn:
        with pytest.warns(RecorderWarning, match="input\\[1\\]"):
            call = turn.inference({"input": ["hi", {"content": "typeless"}]})
        call.completed(response_id="r", output_items=[])
    bundle = bundle_in(tmp_path)
    kinds = [e["payload"].get("event_type") for e in events(bundle)]
    assert "rollout_trace_input_dropped" in kinds
    check_bundle(bundle)


@pytest.mark.anyio
async def test_a_mapping_that_cannot_be_read_is_recorded_as_an_object(tmp_path: Path) -> None:
    """A request, a response and a tool's output holding a mapping whose own hooks raise:
    reading it as a dict raised, so the call's recording failed whole (the request, the
    output, the user's text beside it lost). It is left as it is, for the encoder to record
    as any object it cannot serialise (its type and repr, counted)."""
    unreadable = {"type": "message", "role": "user", "content": [_part(UnreadableMapping())]}
    assert normalize_request({"input": [unreadable]})[1] == []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with (
            open_rollout(tmp_path, model="gpt-test") as rollout,
            rollout.root.turn() as turn,
        ):
            async with turn.inference({"input": ["hi", unreadable]}) as call:
                call.completed(response_id="r", output_items=[{**unreadable, "role": "assistant"}])
            async with turn.tool_call("c1", "f", arguments="{}") as tool:
                back = tool.completed(
                    {
                        "type": "function_call_output",
                        "call_id": "c1",
                        "output": [UnreadableMapping()],
                    }
                )
    assert not [w for w in caught if "failed" in str(w.message)]
    assert isinstance(back["id"], str)
    assert rollout.stats is not None and rollout.stats.approximated["object"] >= 3
    state = check_bundle(bundle_in(tmp_path))
    assert "hi" in _strings(state) and "<unserialisable UnreadableMapping" in str(_strings(state))


def _part(value: Any) -> dict[str, Any]:
    return {"type": "input_text", "text": value}


def test_disabled_call_returns_items_of_a_whole_response() -> None:
    """With tracing off, ``completed`` given a ChatCompletion still returns its items."""
    call = _NullInferenceCall.INSTANCE
    completion = {"choices": [{"message": {"role": "assistant", "content": "hi"}}]}
    assert call.completed(output_items=completion) == [
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "hi"}]}
    ]
    items = [{"type": "message"}]
    assert call.completed(output_items=items) == items


def test_chat_assistant_audio_is_reported_dropped() -> None:
    """An audio answer (``modalities=["audio"]``) is an assistant message whose ``audio``
    the reducers have no item for: sent back as history (``{"audio": {"id"}}``) or answered
    (with its transcript), it was dropped without a word (found by review clients19)."""
    body, problems = normalize_request(
        {
            "messages": [
                {"role": "user", "content": "say hi"},
                {"role": "assistant", "content": None, "audio": {"id": "audio_1"}},
            ]
        }
    )
    assert [item["role"] for item in body["input"]] == ["user"]
    assert problems == [
        "messages[1] has audio (id audio_1), which the reducers cannot hold; dropped"
    ]
    message = {
        "role": "assistant",
        "content": "also text",
        "audio": {"id": "audio_2", "data": "UklGRg==", "transcript": "hi", "expires_at": 0},
    }
    items, problems = normalize_output_items({"choices": [{"index": 0, "message": message}]})
    assert items == [
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "also text"}],
        }
    ]
    assert problems == ["output[0] has audio (id audio_2), which the reducers cannot hold; dropped"]


@pytest.mark.parametrize(
    ("fields", "expected", "problems"),
    [
        (
            {"reasoning_content": "hmm"},
            {"content": [{"type": "reasoning_text", "text": "hmm"}]},
            [],
        ),
        (
            {"reasoning_content": "", "reasoning": "hmm"},
            {"content": [{"type": "reasoning_text", "text": "hmm"}]},
            [],
        ),
        ({"reasoning_content": None, "reasoning": ""}, None, []),
        (
            {"reasoning": {"effort": "high"}},
            None,
            ["messages[0].reasoning is a dict, not text; dropped"],
        ),
        (
            {
                "reasoning": "plain",
                "reasoning_details": [
                    {"type": "reasoning.summary", "summary": "short", "index": 0},
                    {"type": "reasoning.text", "text": "long", "signature": "s"},
                    {"type": "reasoning.encrypted", "data": "e1"},
                    {"type": "reasoning.encrypted", "data": "e2"},
                    {"type": "reasoning.image"},
                ],
            },
            {
                "summary": [{"type": "summary_text", "text": "short"}],
                "content": [{"type": "reasoning_text", "text": "long"}],
                "encrypted_content": "e1",
            },
            [
                f"messages[0].reasoning_details[{i}] is not a text, summary or (first) encrypted"
                " entry the reducers can hold; dropped"
                for i in (3, 4)
            ],
        ),
        (  # details none of which a reasoning item holds: the plain text still is one
            {"reasoning": "plain", "reasoning_details": [{"type": "reasoning.image"}]},
            {"content": [{"type": "reasoning_text", "text": "plain"}]},
            [
                "messages[0].reasoning_details[0] is not a text, summary or (first) encrypted"
                " entry the reducers can hold; dropped"
            ],
        ),
    ],
)
def test_a_chat_servers_reasoning_becomes_a_reasoning_item(
    fields: dict[str, Any], expected: dict[str, Any] | None, problems: list[str]
) -> None:
    """The reasoning fields servers add to a Chat assistant message (vLLM/SGLang/DeepSeek's
    ``reasoning_content``, ``reasoning``, OpenRouter's ``reasoning_details``) become one
    ``reasoning`` item before the message; what no reasoning item holds is reported (all of
    it was dropped without a word: a reasoning model's thinking missing from its rollout)."""
    message = {"role": "assistant", "content": "42", **fields}
    body, found = normalize_request({"messages": [message]})
    kinds = [item["type"] for item in body["input"]]
    assert kinds == (["message"] if expected is None else ["reasoning", "message"])
    if expected is not None:
        assert body["input"][0] == {"type": "reasoning", "summary": [], **expected}
    assert found == problems


def _dropped_warnings(tmp_path: Path, requests: list[dict[str, Any]]) -> tuple[list[str], int]:
    """Record ``requests`` in one rollout under Python's default filter for
    RecorderWarning: the warnings shown, and how many ``rollout_trace_input_dropped``
    events the bundle holds."""

    async def record() -> None:
        async with open_rollout(tmp_path, model="m") as rollout, rollout.root.turn() as turn:
            for index, request in enumerate(requests):
                async with turn.inference(request) as call:
                    call.completed(response_id=f"resp_{index}", output_items=[])

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        anyio.run(record)
    reported = [
        e
        for e in of_type(bundle_in(tmp_path), "protocol_event_observed")
        if e["payload"]["event_type"] == "rollout_trace_input_dropped"
    ]
    shown = [str(w.message) for w in caught if issubclass(w.category, RecorderWarning)]
    return shown, len(reported)


_UNKNOWN_TYPE: Final = {"input": ["hi", {"type": "mystery_item"}]}
_UNRECORDED_CONVERSATION: Final = {"input": "again", "conversation": "conv_unseen"}


def test_two_different_problems_in_two_requests_show_two_warnings(tmp_path: Path) -> None:
    """An unknown item type, then a conversation the rollout never recorded: two warnings
    under default filters (one before: all of a request's problems were one kind, and the
    second's advice was never shown)."""
    shown, reported = _dropped_warnings(tmp_path, [_UNKNOWN_TYPE, _UNRECORDED_CONVERSATION])
    assert len(shown) == 2, shown
    assert "(mystery_item) is not an item type the reducers know" in shown[0]
    assert "conversation 'conv_unseen' holds items this rollout did not record" in shown[1]
    assert reported == 2


def test_the_same_problem_twice_shows_one_warning(tmp_path: Path) -> None:
    """An unknown item type in two requests: one warning, both recorded in the bundle."""
    second = {"input": ["hi", {"type": "other_mystery"}]}
    shown, reported = _dropped_warnings(tmp_path, [_UNKNOWN_TYPE, second])
    assert len(shown) == 1, shown
    assert "(mystery_item)" in shown[0]
    assert reported == 2


def test_a_request_with_a_new_problem_among_old_ones_is_shown(tmp_path: Path) -> None:
    """A request whose problems include one of a kind not shown yet is shown, saying all
    of them; one whose problems were all shown before is not. (Each request starts anew:
    a request resending the last one's items first is reported for its new items only.)"""
    both = [{"input": [{"content": f"typeless {n}"}, {"type": "mystery_item"}]} for n in (1, 2)]
    shown, reported = _dropped_warnings(tmp_path, [_UNKNOWN_TYPE, *both])
    assert len(shown) == 2, shown
    assert "input[0] has no string type and no role" in shown[1]
    assert "input[1] (mystery_item)" in shown[1]
    assert reported == 3
