"""Call ids the model used for two calls (a server numbering tool calls from ``call_0`` in
every response, sub-agents numbering their own): both reducers refused the whole bundle
("model-visible call id call_0 was reused with different content", "duplicate tool call for
model-visible call id call_0"). Now each call is recorded under a name of its own
(``call_0#2``, ...), every mention of it follows, each tool call links its own call, and the
agent's copies keep the model's ids (``record/_call_ids.py``)."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollout_trace_sdk.record import RecorderWarning, Turn, open_rollout
from rollout_trace_sdk.record.items import ItemIds

from .recorder_support import bundle_in, check_bundle, loss_report

pytestmark = pytest.mark.anyio

Keep = Literal["ours", "theirs"]


def _user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def _answer(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }


def _call(call_id: str, city: str, *, spaced: bool = False) -> dict[str, Any]:
    arguments = json.dumps({"city": city}, separators=(", ", ": ") if spaced else (",", ":"))
    return {
        "type": "function_call",
        "call_id": call_id,
        "name": "get_weather",
        "arguments": arguments,
    }


def _output(call_id: str, city: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": f"{city}: rain"}


async def _weather_loop(turn: Turn, calls: list[tuple[str, str]], keep: Keep) -> None:
    """A Responses-style loop: each response asks for one call, the loop runs it and sends
    the whole history again; it keeps the recorder's copies or its own dicts."""
    history: list[Any] = [_user("weather, one city at a time")]
    turn.accept(history[0])
    for call_id, city in calls:
        async with turn.inference({"model": "m", "input": list(history)}) as inference:
            returned = inference.completed(output_items=[_call(call_id, city)])
        assert [item["call_id"] for item in returned] == [call_id]  # the model's id
        history += returned if keep == "ours" else [_call(call_id, city)]
        async with turn.tool_call(
            call_id, "get_weather", arguments=_call(call_id, city)["arguments"]
        ) as tool:
            output = tool.completed(_output(call_id, city))
        assert output["call_id"] == call_id
        history.append(output if keep == "ours" else _output(call_id, city))
    async with turn.inference({"model": "m", "input": list(history)}) as inference:
        inference.completed(output_items=[_answer("done")])


def _links(state: dict[str, Any]) -> list[tuple[str, str, str]]:
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


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("keep", ["ours", "theirs"])
async def test_a_server_numbering_calls_from_zero_in_each_response(
    schema: int, keep: Keep, tmp_path: Path
) -> None:
    """Three responses, each asking ``call_0``: for Rome, for Oslo, and for Rome again
    (the same content: still another call)."""
    calls = [("call_0", "Rome"), ("call_0", "Oslo"), ("call_0", "Rome")]
    with pytest.warns(RecorderWarning, match="the model gave an earlier call"):
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            await _weather_loop(turn, calls, keep)
    bundle = bundle_in(tmp_path)
    state = check_bundle(bundle)
    assert _links(state) == [
        ("call_0", '{"city":"Rome"}', "Rome: rain"),
        ("call_0#2", '{"city":"Oslo"}', "Oslo: rain"),
        ("call_0#3", '{"city":"Rome"}', "Rome: rain"),
    ]
    function_calls = [
        i for i in state["conversation_items"].values() if i["kind"] == "function_call"
    ]
    assert len(function_calls) == 3, "a resent call was taken for a new one"
    assert "2 calls recorded under <id>#2" in loss_report(bundle)


@pytest.mark.parametrize("schema", [2, 3])
async def test_sub_agents_numbering_their_own_calls(schema: int, tmp_path: Path) -> None:
    """Two threads whose models both say ``call_0``: within a thread nothing clashes, but a
    model-visible id links one tool call in the whole rollout."""
    async with open_rollout(tmp_path, schema_version=schema) as rollout:
        child = rollout.root.spawn("worker")
        async with rollout.root.turn() as turn:
            await _weather_loop(turn, [("call_0", "Rome")], "ours")
        async with child.turn() as turn:
            await _weather_loop(turn, [("call_0", "Oslo")], "theirs")
    state = check_bundle(bundle_in(tmp_path))
    assert _links(state) == [
        ("call_0", '{"city":"Rome"}', "Rome: rain"),
        ("call_0#2", '{"city":"Oslo"}', "Oslo: rain"),
    ]


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_compaction_keeps_the_names(schema: int, tmp_path: Path) -> None:
    """A compacted history holding both calls, handed back with the model's ids and sent
    again: each call keeps its name, and the next response's ``call_0`` is a third call."""
    async with (
        open_rollout(tmp_path, schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        history: list[Any] = [_user("weather")]
        turn.accept(history[0])
        for city in ("Rome", "Oslo"):
            async with turn.inference({"model": "m", "input": list(history)}) as inference:
                history += inference.completed(output_items=[_call("call_0", city)])
            async with turn.tool_call("call_0", "get_weather", arguments="{}") as tool:
                history.append(tool.completed(_output("call_0", city)))
        compaction = turn.compaction()
        replacement = compaction.installed(
            input_history=history, replacement_history=[_user("summary"), *history[1:]]
        )
        assert {item.get("call_id") for item in replacement} == {None, "call_0"}
        history = list(replacement)
        async with turn.inference({"model": "m", "input": list(history)}) as inference:
            history += inference.completed(output_items=[_call("call_0", "Bergen")])
        async with turn.tool_call("call_0", "get_weather", arguments="{}") as tool:
            history.append(tool.completed(_output("call_0", "Bergen")))
        async with turn.inference({"model": "m", "input": list(history)}) as inference:
            inference.completed(output_items=[_answer("done")])
    state = check_bundle(bundle_in(tmp_path))
    assert [(name, text) for name, _, text in _links(state)] == [
        ("call_0", "Rome: rain"),
        ("call_0#2", "Oslo: rain"),
        ("call_0#3", "Bergen: rain"),
    ]


def test_a_resend_is_the_call_it_resends() -> None:
    """A resent call is named by its id when it has one of ours, else by its content: the
    first call with that content the request has not named yet, even with its arguments
    serialised again; an output follows the call before it."""
    notes: list[str] = []
    ids = ItemIds(notes.append)
    first, _ = ids.for_history(_call("call_0", "Rome"), produced=True)
    second, _ = ids.for_history(_call("call_0", "Rome"), produced=True)
    third, _ = ids.for_history(_call("call_0", "Oslo"), produced=True)
    assert [first["call_id"], second["call_id"], third["call_id"]] == [
        "call_0",
        "call_0#2",
        "call_0#3",
    ]
    assert notes == ["call id", "call id"]
    sent = ids.for_request(
        [
            _call("call_0", "Rome", spaced=True),
            _output("call_0", "Rome"),
            _call("call_0", "Oslo", spaced=True),
            _output("call_0", "Oslo"),
            _call("call_0", "Rome", spaced=True),
            _output("call_0", "Rome"),
        ]
    )
    assert [item["call_id"] for item in sent] == [
        "call_0",
        "call_0",
        "call_0#3",
        "call_0#3",
        "call_0#2",
        "call_0#2",
    ]
    assert ids.calls.unrenamed(sent) == [{**item, "call_id": "call_0"} for item in sent], (
        "the agent's copies keep the model's ids"
    )
    assert notes == ["call id", "call id"], "a resend is no new call"


def test_a_call_the_loop_made_up_is_a_call_of_its_own() -> None:
    """Content no call with that id had (a loop writing its own history): a new call."""
    ids = ItemIds()
    ids.for_history(_call("call_0", "Rome"), produced=True)
    sent = ids.for_request([_call("call_0", "Rome"), _call("call_0", "Paris")])
    assert [item["call_id"] for item in sent] == ["call_0", "call_0#2"]


def test_a_cut_response_made_its_calls() -> None:
    """A response cut off after its calls (kept as partial output): they are the model's
    calls, two of them with one id here; a retry making them again makes the same calls,
    and a snapshot of a call's output is named as its call."""
    notes: list[str] = []
    ids = ItemIds(notes.append)
    partial = ids.for_snapshot([_call("call_0", "Rome"), _call("call_0", "Oslo")], cut=True)
    assert [item["call_id"] for item in partial] == ["call_0", "call_0#2"]
    model = [_call("call_0", "Rome"), _call("call_0", "Oslo")]
    retry = [ids.for_history(item, produced=True)[0] for item in model]
    assert [item["call_id"] for item in retry] == ["call_0", "call_0#2"]
    assert notes == ["call id"]
    [output] = ids.for_snapshot([_output("call_0", "Oslo")])
    assert output["call_id"] == "call_0#2"


# --- property -------------------------------------------------------------------------------

_CALL_IDS = ["call_0", "call_1"]
_CITIES = ["Rome", "Oslo"]
Extra = Literal["", "cut first", "compact after"]
Step = tuple[list[tuple[int, int]], Keep | Literal["spaced"], bool, Extra]


def _steps() -> st.SearchStrategy[list[Step]]:
    calls = st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=2)
    keep = st.sampled_from(["ours", "theirs", "spaced"])
    extra = st.sampled_from(["", "cut first", "compact after"])
    step = st.tuples(calls, keep, st.booleans(), extra)
    return st.lists(step, min_size=1, max_size=4)  # type: ignore[arg-type]


async def _play(root: Path, schema: int, steps: list[Step]) -> None:
    async with (
        open_rollout(root, schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        history: list[Any] = turn.accept(_user("go"))
        for calls, keep, run, extra in steps:
            items = [_call(_CALL_IDS[c], _CITIES[k]) for c, k in calls]
            if extra == "cut first":  # a response cut off after its calls, then a retry
                turn.inference({"model": "m", "input": list(history)}).failed(
                    "stream broke", partial_items=items
                )
            async with turn.inference({"model": "m", "input": list(history)}) as inference:
                returned = inference.completed(output_items=items)
            own = [_call(_CALL_IDS[c], _CITIES[k], spaced=True) for c, k in calls]
            history += {"ours": returned, "theirs": items, "spaced": own}[keep]
            for item in items if run else ():
                city = json.loads(item["arguments"])["city"]
                async with turn.tool_call(
                    item["call_id"], "get_weather", arguments=item["arguments"]
                ) as tool:
                    output = tool.completed(_output(item["call_id"], city))
                history.append(output if keep == "ours" else _output(item["call_id"], city))
            if extra == "compact after":
                history = turn.compaction().installed(
                    input_history=history, replacement_history=[_user("summary"), *history[1:]]
                )
        async with turn.inference({"model": "m", "input": list(history)}) as inference:
            inference.completed(output_items=[_answer("done")])


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(schema=st.sampled_from([2, 3]), steps=_steps())
def test_any_reuse_of_call_ids_reduces(schema: int, steps: list[Step]) -> None:
    """Responses asking one or two calls with ids from a pool of two, run or not, the
    history kept as the recorder's copies or the loop's own: the bundle reduces (Codex and
    ours agree) and every tool call links a call with its own arguments."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RecorderWarning)
            anyio.run(_play, root, schema, steps)
        state = check_bundle(bundle_in(root))
        for _, arguments, output in _links(state):
            assert output.startswith(json.loads(arguments)["city"])
