"""Item references (``{"type": "item_reference", "id": ...}``) recorded as the items they name
(``record/_item_refs``): they were dropped (reported), and the recorded request lacked an item
the model saw."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.record import RecorderWarning, open_rollout
from rollout_trace_sdk.record._item_refs import KEPT, KnownItems
from rollout_trace_sdk.record.requests import normalize_request

from ..codex_oracle import reduced_by_both
from .recorder_support import bundle_in, of_type, payload

pytestmark = pytest.mark.anyio

USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "weather?"}]}
REASONING = {
    "type": "reasoning",
    "id": "rs_1",
    "summary": [{"type": "summary_text", "text": "Oslo is a city"}],
    "encrypted_content": "gAAAA-opaque",
}
CALL = {
    "type": "function_call",
    "id": "fc_1",
    "call_id": "call_1",
    "name": "get_weather",
    "arguments": '{"city":"Oslo"}',
}
OUTPUT = {"type": "function_call_output", "call_id": "call_1", "output": "rain"}
ANSWER = {
    "type": "message",
    "id": "msg_2",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "rain in Oslo"}],
}


def _known(*items: dict[str, Any]) -> KnownItems:
    known = KnownItems()
    known.remember(items)
    return known


def test_a_reference_typed_or_not_is_the_item_it_names() -> None:
    """Both forms the API takes (the type is optional) give the item itself."""
    known = _known(REASONING, CALL)
    request = {"input": [USER, {"type": "item_reference", "id": "rs_1"}, {"id": "fc_1"}, OUTPUT]}
    body, problems = normalize_request(request, known=known)
    assert problems == []
    assert body["input"] == [USER, REASONING, CALL, OUTPUT]
    assert body["input"][1] is REASONING  # the item as recorded, not a copy


@pytest.mark.parametrize(
    ("reference", "words"),
    [
        (
            {"type": "item_reference", "id": "msg_9"},
            "names 'msg_9', an item this rollout did not record (or not among its 1024 latest)",
        ),
        ({"type": "item_reference"}, "has no string id"),
        ({"id": "fc_1"}, "names 'fc_1', the id of two different items this rollout recorded"),
    ],
)
def test_a_reference_naming_no_one_item_is_dropped_and_reported(
    reference: dict[str, Any], words: str
) -> None:
    """An item the rollout never recorded (answered before it opened), or an id two items
    came with (a server numbering items anew in each response): dropped, as before, and
    said."""
    known = _known(CALL, dict(CALL, arguments='{"city":"Rome"}'))
    body, problems = normalize_request({"input": [USER, reference]}, known=known)
    assert body["input"] == [USER]
    assert problems == [f"input[1] (item_reference) {words}; dropped"]


def test_a_rollout_keeps_the_latest_items_only() -> None:
    """The items are kept by id for references, which name recent items (the history the
    agent sends): the latest :data:`KEPT`. Kept for the whole rollout, every answer's items
    stayed in memory after the agent's history had moved on (a long rollout's reasoning)."""
    known = KnownItems()
    for n in range(3 * KEPT):
        known.remember([dict(REASONING, id=f"rs_{n}"), dict(ANSWER, id=f"msg_{n}")])
    assert len(known._by_id) == KEPT
    latest = 3 * KEPT - 1
    found, why = known.resolve({"type": "item_reference", "id": f"rs_{latest}"})
    assert found == dict(REASONING, id=f"rs_{latest}") and why == ""
    found, why = known.resolve({"type": "item_reference", "id": "rs_0"})
    assert found is None and why == (
        f"names 'rs_0', an item this rollout did not record (or not among its {KEPT} latest)"
    )


def test_without_known_items_every_reference_is_dropped() -> None:
    body, problems = normalize_request({"input": [{"type": "item_reference", "id": "rs_1"}]})
    assert body["input"] == [] and problems == [
        "input[0] (item_reference) names no item recorded; dropped"
    ]


def test_a_referenced_custom_call_is_answered_by_a_custom_output() -> None:
    """A Chat ``tool`` message answering a custom call becomes its custom output, whether the
    call was sent or referenced."""
    custom = {"type": "custom_tool_call", "id": "ctc_1", "call_id": "c1", "name": "g", "input": "x"}
    request = {"input": [{"id": "ctc_1"}, {"role": "tool", "tool_call_id": "c1", "content": "y"}]}
    body, problems = normalize_request(request, known=_known(custom))
    assert problems == [] and body["input"][1]["type"] == "custom_tool_call_output"


def _dropped(bundle: Path) -> list[Any]:
    """The ``rollout_trace_input_dropped`` reports in ``bundle``."""
    return [
        payload(bundle, e["payload"]["event_payload"])
        for e in of_type(bundle, "protocol_event_observed")
        if e["payload"]["event_type"] == "rollout_trace_input_dropped"
    ]


async def _loop(root: Path, schema: int, second: list[Any]) -> None:
    """A reasoning model's tool call, its output, then a request built from ``second``
    (``"history"`` stands for the first request's items)."""
    async with open_rollout(root, schema_version=schema) as rollout, rollout.root.turn() as turn:
        history = turn.accept(USER)
        async with turn.inference({"input": history}) as call:
            call.completed(response_id="resp_1", output_items=[REASONING, CALL])
        async with turn.tool_call("call_1", "get_weather", arguments=CALL["arguments"]) as tool:
            tool.completed(OUTPUT)
        request = [item for part in second for item in (history if part == "history" else [part])]
        async with turn.inference({"input": request}) as call:
            call.completed(response_id="resp_2", output_items=[ANSWER])


@pytest.mark.parametrize("schema", [2, 3])
async def test_referenced_items_are_the_items_the_response_answered_with(
    tmp_path: Path, schema: int
) -> None:
    """A stored-response loop sending its reasoning and call back by reference: the recorded
    request holds them, and both reducers take them for the response's items (no second copy
    in the state), byte for byte alike."""
    refs = [{"type": "item_reference", "id": "rs_1"}, {"type": "item_reference", "id": "fc_1"}]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecorderWarning)
        await _loop(tmp_path, schema, ["history", *refs, OUTPUT])
    bundle = bundle_in(tmp_path)
    assert not _dropped(bundle)
    state = reduced_by_both(bundle)
    first, second = sorted(
        state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"]
    )
    assert first["response_item_ids"] and set(first["response_item_ids"]) < set(
        second["request_item_ids"]
    )
    kinds = [state["conversation_items"][i]["kind"] for i in second["request_item_ids"]]
    assert kinds == ["message", "reasoning", "function_call", "function_call_output"]
    assert len(state["conversation_items"]) == 5  # the answer too; no copies
    [tool] = state["tool_calls"].values()
    assert len(tool["model_visible_call_item_ids"]) == 1
    if schema == 2:  # schema 3 records the second request as the first's continuation
        [_, started] = of_type(bundle, "inference_started")
        sent = payload(bundle, started["payload"]["request_payload"])["input"]
        assert sent[1:3] == [REASONING, CALL]


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_reference_the_rollout_cannot_resolve_is_still_reported(
    tmp_path: Path, schema: int
) -> None:
    with pytest.warns(RecorderWarning, match=r"\(item_reference\) names 'rs_0', an item this"):
        await _loop(tmp_path, schema, [{"id": "rs_0"}, "history", CALL, OUTPUT])
    bundle = bundle_in(tmp_path)
    [dropped] = _dropped(bundle)
    assert dropped["problems"] == [
        "input[0] (item_reference) names 'rs_0', an item this rollout did not record (or not "
        "among its 1024 latest); dropped"
    ]
    reduced_by_both(bundle)


@pytest.mark.parametrize("schema", [2, 3])
async def test_references_to_calls_a_server_gave_one_id_name_each_call(
    tmp_path: Path, schema: int
) -> None:
    """A server naming every call ``call_0``: the second is recorded as ``call_0#2``; a
    reference to it by its item id is that call, as the item itself sent back would be."""
    calls = [dict(CALL, id=f"fc_{n}", call_id="call_0", arguments=f'{{"n":{n}}}') for n in (1, 2)]
    outputs = [dict(OUTPUT, call_id="call_0", output=f"out {n}") for n in (1, 2)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecorderWarning)  # the renamed call is said
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            history: list[Any] = turn.accept(USER)
            for n in (0, 1):
                async with turn.inference({"input": history}) as call:
                    call.completed(response_id=f"resp_{n}", output_items=[calls[n]])
                history.append({"type": "item_reference", "id": calls[n]["id"]})
                async with turn.tool_call("call_0", "f", arguments=calls[n]["arguments"]) as tool:
                    history += [tool.completed(outputs[n])]
            async with turn.inference({"input": history}) as call:
                call.completed(response_id="resp_9", output_items=[ANSWER])
    state = reduced_by_both(bundle_in(tmp_path))
    assert len(state["conversation_items"]) == 6  # user, two calls, two outputs, answer
    *earlier, last = sorted(
        state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"]
    )
    answered = [i for c in earlier for i in c["response_item_ids"]]
    assert len(answered) == 2 and set(answered) < set(last["request_item_ids"])
    tools = sorted(state["tool_calls"].values(), key=lambda t: t["model_visible_call_id"])
    assert [t["model_visible_call_id"] for t in tools] == ["call_0", "call_0#2"]
    assert all(len(t["model_visible_call_item_ids"]) == 1 for t in tools)


@pytest.mark.parametrize("schema", [2, 3])
async def test_an_item_accepted_with_the_servers_id_can_be_referenced(
    tmp_path: Path, schema: int
) -> None:
    """An item the loop accepted into history with its server id (a response made outside
    the recorder, say) is what a later reference names."""
    stored = dict(ANSWER, id="msg_1", content=[{"type": "output_text", "text": "earlier"}])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecorderWarning)
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            history = turn.accept(USER, stored)
            request = [history[0], {"id": "msg_1"}, {"role": "user", "content": "and now?"}]
            async with turn.inference({"input": request}) as call:
                call.completed(response_id="resp_1", output_items=[ANSWER])
    state = reduced_by_both(bundle_in(tmp_path))
    [call_state] = state["inference_calls"].values()
    texts = json.dumps([state["conversation_items"][i] for i in call_state["request_item_ids"]])
    assert "earlier" in texts
    assert len(state["conversation_items"]) == 4  # user, earlier answer, question, answer


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_sub_agent_may_reference_its_parents_items(tmp_path: Path, schema: int) -> None:
    """Item ids are the server's, not a thread's: a child handed the parent's answer by
    reference sees that answer."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecorderWarning)
        async with open_rollout(tmp_path, schema_version=schema) as rollout:
            async with (
                rollout.root.turn() as turn,
                turn.inference({"input": turn.accept(USER)}) as call,
            ):
                call.completed(response_id="resp_1", output_items=[ANSWER])
            child = rollout.root.spawn("helper")
            async with child, child.turn() as child_turn:
                request = [
                    {"type": "item_reference", "id": "msg_2"},
                    {"role": "user", "content": "go"},
                ]
                async with child_turn.inference({"input": request}) as call:
                    call.completed(response_id="resp_2", output_items=[dict(ANSWER, id="msg_3")])
    state = reduced_by_both(bundle_in(tmp_path))
    child_calls = [
        c for c in state["inference_calls"].values() if c["thread_id"] == child.thread_id
    ]
    [child_call] = child_calls
    first = state["conversation_items"][child_call["request_item_ids"][0]]
    assert "rain in Oslo" in json.dumps(first)
