"""Call ids the model used for two calls (a server numbering tool calls from ``call_0`` in
every response, sub-agents numbering their own): both reducers refused the whole bundle
("model-visible call id call_0 was reused with different content", "duplicate tool call for
model-visible call id call_0"). Now each call is recorded under a name of its own
(``call_0#2``, ...), every mention of it follows, each tool call links its own call, and the
agent's copies keep the model's ids (``record/_call_ids.py``)."""

from __future__ import annotations

import contextlib
import gc
import json
import tracemalloc
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.record import RecorderWarning, Turn, open_rollout
from rollout_trace_sdk.record._call_ids import RolloutCallNames
from rollout_trace_sdk.record.items import ItemIds

from .call_ids_support import (
    Keep,
    answer_message,
    check_answers,
    tool_links,
    user_message,
    weather_call,
    weather_output,
)
from .recorder_support import bundle_in, check_bundle, loss_report

pytestmark = pytest.mark.anyio


@contextlib.contextmanager
def _renamed(*, tool_calls: bool = True) -> Iterator[None]:
    """Expect what a call id used twice documents: a warning that calls were recorded
    under ``<id>#2`` and, when a tool call ran under the id again (``tool_calls``), one that
    its tool call id was made unique (each kind warns once per rollout: the loss report
    counts the rest)."""
    with contextlib.ExitStack() as expected:
        if tool_calls:
            expected.enter_context(
                pytest.warns(RecorderWarning, match="tool call ids used twice in the rollout")
            )
        expected.enter_context(
            pytest.warns(RecorderWarning, match="an earlier call had their call id")
        )
        yield


async def _weather_loop(turn: Turn, calls: list[tuple[str, str]], keep: Keep) -> None:
    """A Responses-style loop: each response asks for one call, the loop runs it and sends
    the whole history again; it keeps the recorder's copies or its own dicts."""
    history: list[Any] = [user_message("weather, one city at a time")]
    turn.accept(history[0])
    for call_id, city in calls:
        await _step(turn, history, call_id, city, keep)
    async with turn.inference({"model": "m", "input": list(history)}) as inference:
        inference.completed(output_items=[answer_message("done")])


async def _step(turn: Turn, history: list[Any], call_id: str, city: str, keep: Keep) -> None:
    """One response asking ``call_id`` for ``city``, the tool run, both kept in ``history``
    (the recorder's copies or the loop's own dicts); what the agent gets back keeps the
    model's id."""
    async with turn.inference({"model": "m", "input": list(history)}) as inference:
        returned = inference.completed(output_items=[weather_call(call_id, city)])
    assert [item["call_id"] for item in returned] == [call_id]  # the model's id
    history.extend(returned if keep == "ours" else [weather_call(call_id, city)])
    arguments = weather_call(call_id, city)["arguments"]
    async with turn.tool_call(call_id, "get_weather", arguments=arguments) as tool:
        output = tool.completed(weather_output(call_id, city))
    assert output["call_id"] == call_id
    history.append(output if keep == "ours" else weather_output(call_id, city))


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("keep", ["ours", "theirs"])
async def test_a_server_numbering_calls_from_zero_in_each_response(
    schema: int, keep: Keep, tmp_path: Path
) -> None:
    """Three responses, each asking ``call_0``: for Rome, for Oslo, and for Rome again
    (the same content: still another call)."""
    calls = [("call_0", "Rome"), ("call_0", "Oslo"), ("call_0", "Rome")]
    with _renamed():
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            await _weather_loop(turn, calls, keep)
    bundle = bundle_in(tmp_path)
    state = check_bundle(bundle)
    assert tool_links(state) == [
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
    with _renamed():
        async with open_rollout(tmp_path, schema_version=schema) as rollout:
            child = rollout.root.spawn("worker")
            async with rollout.root.turn() as turn:
                await _weather_loop(turn, [("call_0", "Rome")], "ours")
            async with child.turn() as turn:
                await _weather_loop(turn, [("call_0", "Oslo")], "theirs")
    state = check_bundle(bundle_in(tmp_path))
    assert tool_links(state) == [
        ("call_0", '{"city":"Rome"}', "Rome: rain"),
        ("call_0#2", '{"city":"Oslo"}', "Oslo: rain"),
    ]


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_history_handed_to_another_thread_keeps_its_names(
    schema: int, tmp_path: Path
) -> None:
    """A handoff (or a fork) gives the new thread the history so far: the calls in it are
    the other thread's calls, not new ones. Each was recorded as ``call_0#2`` with a warning
    and a loss-report entry (found by review: every Agents SDK handoff); the new thread's
    own ``call_0`` is still a call of its own."""
    async with open_rollout(tmp_path, schema_version=schema) as rollout:
        child = rollout.root.spawn("worker")
        history: list[Any] = [user_message("weather")]
        async with rollout.root.turn() as turn:
            turn.accept(history[0])
            await _step(turn, history, "call_0", "Rome", "ours")
        with pytest.warns(RecorderWarning) as seen:
            async with child.turn() as turn:
                await _step(turn, history, "call_0", "Oslo", "ours")
                async with turn.inference({"model": "m", "input": list(history)}) as inference:
                    inference.completed(output_items=[answer_message("done")])
        # one for the child's own call_0 (and one for its tool call's id, "call_0" again)
        assert len([w for w in seen if "an earlier call had their" in str(w.message)]) == 1
    bundle = bundle_in(tmp_path)
    state = check_bundle(bundle)
    assert tool_links(state) == [
        ("call_0", '{"city":"Rome"}', "Rome: rain"),
        ("call_0#2", '{"city":"Oslo"}', "Oslo: rain"),
    ]
    assert "1 calls recorded under <id>#2" in loss_report(bundle)


@pytest.mark.parametrize("schema", [2, 3])
async def test_histories_handed_back_and_forth_keep_every_name(schema: int, tmp_path: Path) -> None:
    """Handed back, the history holds the other thread's own ``call_0`` (recorded
    ``call_0#2`` there) beside this thread's: each mention names the call with its arguments
    (the thread knew the id, so the short way had named its own; found by a random run of
    hand-overs, 94 of 200 bundles refused before, 0 of 300 now)."""
    async with open_rollout(tmp_path, schema_version=schema) as rollout:
        child = rollout.root.spawn("worker")
        history: list[Any] = [user_message("weather")]

        async def step(thread: Any, city: str, keep: Keep) -> None:
            async with thread.turn() as turn:
                await _step(turn, history, "call_0", city, keep)
                async with turn.inference({"model": "m", "input": list(history)}) as inference:
                    inference.completed(output_items=[answer_message("done")])

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RecorderWarning)
            await step(rollout.root, "Rome", "ours")
            await step(child, "Oslo", "theirs")
            await step(rollout.root, "Bergen", "theirs")
            await step(child, "Paris", "ours")
    state = check_bundle(bundle_in(tmp_path))
    assert sorted(tool_links(state)) == [
        ("call_0", '{"city":"Rome"}', "Rome: rain"),
        ("call_0#2", '{"city":"Oslo"}', "Oslo: rain"),
        ("call_0#3", '{"city":"Bergen"}', "Bergen: rain"),
        ("call_0#4", '{"city":"Paris"}', "Paris: rain"),
    ]
    check_answers(state)


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_compaction_keeps_the_names(schema: int, tmp_path: Path) -> None:
    """A compacted history holding both calls, handed back with the model's ids and sent
    again: each call keeps its name, and the next response's ``call_0`` is a third call."""
    with _renamed():
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            history: list[Any] = [user_message("weather")]
            turn.accept(history[0])
            for city in ("Rome", "Oslo"):
                async with turn.inference({"model": "m", "input": list(history)}) as inference:
                    history += inference.completed(output_items=[weather_call("call_0", city)])
                async with turn.tool_call("call_0", "get_weather", arguments="{}") as tool:
                    history.append(tool.completed(weather_output("call_0", city)))
            compaction = turn.compaction()
            replacement = compaction.installed(
                input_history=history, replacement_history=[user_message("summary"), *history[1:]]
            )
            assert {item.get("call_id") for item in replacement} == {None, "call_0"}
            history = list(replacement)
            async with turn.inference({"model": "m", "input": list(history)}) as inference:
                history += inference.completed(output_items=[weather_call("call_0", "Bergen")])
            async with turn.tool_call("call_0", "get_weather", arguments="{}") as tool:
                history.append(tool.completed(weather_output("call_0", "Bergen")))
            async with turn.inference({"model": "m", "input": list(history)}) as inference:
                inference.completed(output_items=[answer_message("done")])
    state = check_bundle(bundle_in(tmp_path))
    assert [(name, text) for name, _, text in tool_links(state)] == [
        ("call_0", "Rome: rain"),
        ("call_0#2", "Oslo: rain"),
        ("call_0#3", "Bergen: rain"),
    ]


def test_a_resend_is_the_call_it_resends() -> None:
    """Only a response makes calls; a request names them: by the id an item was recorded
    with, else by its arguments (the first after the call the request named last), else by
    order (arguments serialised again); an output by its text, else the request's first
    unanswered call."""
    notes: list[str] = []
    ids = ItemIds(notes.append)
    made = []
    for n, city in enumerate(["Rome", "Oslo", "Rome"]):
        call, _ = ids.for_history(weather_call("call_0", city), produced=f"response {n}")
        output, _ = ids.for_history(weather_output("call_0", city), call=call["call_id"])
        made += [call["call_id"], output["call_id"]]
    assert made == ["call_0", "call_0", "call_0#2", "call_0#2", "call_0#3", "call_0#3"]
    assert notes == ["call id", "call id"]
    own = [
        weather_call("call_0", "Rome"),
        weather_call("call_0", "Oslo"),
        weather_call("call_0", "Rome"),
    ]
    spaced = [weather_call("call_0", c, spaced=True) for c in ("Rome", "Oslo", "Rome")]
    outputs = [weather_output("call_0", c) for c in ("Rome", "Oslo", "Rome")]
    full = [item for pair in zip(own, outputs, strict=True) for item in pair]
    assert [i["call_id"] for i in ids.for_request(full)] == made
    assert [i["call_id"] for i in ids.for_request([*spaced, *outputs[:2]])] == [
        "call_0",
        "call_0#2",
        "call_0#3",
        "call_0",  # "Rome: rain": the first unanswered of the two with that text
        "call_0#2",
    ]
    # a window holding the last two exchanges: Oslo by its arguments, Rome after it
    window = ids.for_request([own[1], outputs[1], own[2], outputs[2]])
    assert [i["call_id"] for i in window] == ["call_0#2", "call_0#2", "call_0#3", "call_0#3"]
    assert ids.calls.unrenamed(window) == [{**i, "call_id": "call_0"} for i in window], (
        "the agent's copies keep the model's ids"
    )
    assert notes == ["call id", "call id"], "a request makes no call"


def test_only_a_response_or_an_acceptance_makes_a_call() -> None:
    """A call item in a request with arguments no call had (re-serialised, parsed and
    dumped again, elided) is one of the calls made, not a new one; a call item the agent
    accepts with other arguments is a new call (a loop recording no responses)."""
    ids = ItemIds()
    ids.for_history(weather_call("call_0", "Rome"), produced="response")
    elided = {**weather_call("call_0", "Rome"), "arguments": '{"city": "Ro…"}'}
    assert [i["call_id"] for i in ids.for_request([elided])] == ["call_0"]
    accepted, _ = ids.for_history(weather_call("call_0", "Paris"))
    assert accepted["call_id"] == "call_0#2"


def test_a_snapshot_names_another_threads_call_as_a_request_would() -> None:
    """A snapshot (a compaction's items, a cut response's) naming a call another thread
    made, before any request of this thread named it, got a ``call_0#2`` no call has."""
    names = RolloutCallNames()
    parent, child = ItemIds(names=names), ItemIds(names=names)
    parent.for_history(weather_call("call_0", "Rome"), produced="response")
    parent.for_history(weather_output("call_0", "Rome"), call="call_0")
    snapshot = child.for_snapshot(
        [weather_call("call_0", "Rome"), weather_output("call_0", "Rome")]
    )
    assert [item["call_id"] for item in snapshot] == ["call_0", "call_0"]
    made, _ = child.for_history(weather_call("call_0", "Oslo"), produced="its own response")
    assert made["call_id"] == "call_0#2", "the snapshot made no call known"
    child.for_history(weather_output("call_0", "Oslo"), call="call_0#2")
    later = child.for_snapshot([weather_output("call_0", "Rome"), weather_output("call_0", "Oslo")])
    assert [item["call_id"] for item in later] == ["call_0", "call_0#2"]


def test_a_cut_response_made_its_calls() -> None:
    """A response cut off after its calls (kept as partial output): they are the model's
    calls, two of them with one id here; a retry making them again makes the same calls,
    and a snapshot of a call's output is named as its call."""
    notes: list[str] = []
    ids = ItemIds(notes.append)
    partial = ids.for_snapshot(
        [weather_call("call_0", "Rome"), weather_call("call_0", "Oslo")], cut=True
    )
    assert [item["call_id"] for item in partial] == ["call_0", "call_0#2"]
    model = [weather_call("call_0", "Rome"), weather_call("call_0", "Oslo")]
    retry = [ids.for_history(item, produced=True)[0] for item in model]
    assert [item["call_id"] for item in retry] == ["call_0", "call_0#2"]
    assert notes == ["call id"]
    [output] = ids.for_snapshot([weather_output("call_0", "Oslo")])
    assert output["call_id"] == "call_0#2"


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("keep", ["ours", "theirs"])
@pytest.mark.parametrize("answer", ["tools, last first", "tools without arguments", "accept"])
async def test_parallel_calls_with_one_id(
    schema: int, keep: Keep, answer: str, tmp_path: Path
) -> None:
    """One response asking ``call_0`` twice (Rome, Oslo), answered by tools that finish in
    the other order, by tools given no arguments, or by outputs the loop accepts; the next
    request sends the outputs in the calls' order. Found by review: the outputs were
    swapped (an output's id named the call by the order outputs entered), the tools without
    arguments took the latest call, the accepted outputs all answered the latest."""
    with _renamed(tool_calls=answer != "accept"):
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            history: list[Any] = turn.accept(user_message("weather in two cities"))
            items = [weather_call("call_0", "Rome"), weather_call("call_0", "Oslo")]
            async with turn.inference({"model": "m", "input": list(history)}) as inference:
                returned = inference.completed(output_items=items)
            history += returned if keep == "ours" else items
            theirs = [weather_output("call_0", "Rome"), weather_output("call_0", "Oslo")]
            if answer == "accept":
                accepted = turn.accept(*theirs)
                history += accepted if keep == "ours" else theirs
            else:
                order = [1, 0] if answer == "tools, last first" else [0, 1]
                outputs = {}
                for n in order:
                    arguments = items[n]["arguments"] if answer == "tools, last first" else None
                    async with turn.tool_call("call_0", "get_weather", arguments=arguments) as tool:
                        outputs[n] = tool.completed(theirs[n])
                history += [outputs[0], outputs[1]] if keep == "ours" else theirs
            async with turn.inference({"model": "m", "input": list(history)}) as inference:
                inference.completed(output_items=[answer_message("done")])
    state = check_bundle(bundle_in(tmp_path))
    answered = sorted(
        (item["call_id"], item["body"]["parts"][0]["text"])
        for item in state["conversation_items"].values()
        if item["kind"] == "function_call_output"
    )
    assert answered == [("call_0", "Rome: rain"), ("call_0#2", "Oslo: rain")]
    if answer != "accept":
        assert [(name, text) for name, _, text in tool_links(state)] == answered


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("history", ["window", "compaction"])
async def test_a_history_holding_only_the_last_calls(
    schema: int, history: str, tmp_path: Path
) -> None:
    """Three responses asking ``call_0`` (Rome, Oslo, Rome); the loop then sends only the
    last two exchanges as its own dicts, by a window or a compaction. Found by review: the
    resent outputs answered the first call (their id said so), the second Rome was taken
    for the first."""
    with _renamed():
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            user = turn.accept(user_message("weather"))
            kept: list[Any] = []
            for city in ("Rome", "Oslo", "Rome"):
                async with turn.inference({"model": "m", "input": [*user, *kept]}) as inference:
                    inference.completed(output_items=[weather_call("call_0", city)])
                arguments = weather_call("call_0", city)["arguments"]
                async with turn.tool_call("call_0", "get_weather", arguments=arguments) as tool:
                    tool.completed(weather_output("call_0", city))
                kept = [*kept, weather_call("call_0", city), weather_output("call_0", city)][-4:]
            if history == "compaction":
                kept = turn.compaction().installed(
                    input_history=[*user, *kept],
                    replacement_history=[user_message("summary"), *kept],
                )
            async with turn.inference({"model": "m", "input": [*user, *kept]}) as inference:
                inference.completed(output_items=[answer_message("done")])
    state = check_bundle(bundle_in(tmp_path))
    assert [(name, text) for name, _, text in tool_links(state)] == [
        ("call_0", "Rome: rain"),
        ("call_0#2", "Oslo: rain"),
        ("call_0#3", "Rome: rain"),
    ]
    check_answers(state)


@pytest.mark.parametrize("schema", [2, 3])
async def test_an_item_id_tells_same_id_calls_with_the_same_arguments_apart(
    schema: int, tmp_path: Path
) -> None:
    """Two responses ask ``call_0`` for Rome, their items with ids ``fc_1`` and ``fc_2``; a
    window then resends only the second exchange. Only the item id tells which call the
    resent call is: it is ``call_0#2``'s item, not a second item of ``call_0``. With the id
    not consulted, no test failed (mutation audit mut40)."""
    with _renamed():
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            user = turn.accept(user_message("weather"))
            kept: list[Any] = []
            for n in (1, 2):
                call = {**weather_call("call_0", "Rome"), "id": f"fc_{n}"}
                async with turn.inference({"model": "m", "input": [*user, *kept]}) as inference:
                    inference.completed(output_items=[call])
                output = {**weather_output("call_0", "Rome"), "output": f"Rome {n}"}
                async with turn.tool_call(
                    "call_0", "get_weather", arguments=call["arguments"]
                ) as tool:
                    tool.completed(output)
                kept = [dict(call), dict(output)]  # the loop's own dicts, the last exchange only
            async with turn.inference({"model": "m", "input": [*user, *kept]}) as inference:
                inference.completed(output_items=[answer_message("done")])
    state = check_bundle(bundle_in(tmp_path))
    calls = {
        tool["model_visible_call_id"]: len(tool["model_visible_call_item_ids"])
        for tool in state["tool_calls"].values()
    }
    assert calls == {"call_0": 1, "call_0#2": 1}


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize(
    "case",
    [
        "tool arguments parsed",
        "tool arguments compact",
        "window re-serialised",
        "compaction re-serialised",
        "texts alike but in the middle",
        "local shell commands",
        "item ids reused too",
    ],
)
async def test_what_tells_same_id_calls_apart(schema: int, case: str, tmp_path: Path) -> None:
    """Two calls ``call_0`` that differ, told apart where the loop gives what differs in
    another form. Found by the second review: tool arguments given parsed or compact, a
    window or compaction resending the calls with arguments serialised again (both reducers
    refused it), arguments and outputs alike in head, tail and length, local shell commands,
    a provider giving every item the id ``fc_0`` with a request rebuilt (both refused)."""
    middle = "/home/user/projects/webapp/src/components/layout/{}.tsx"

    def make(n: int) -> dict[str, Any]:
        city = ("Rome", "Oslo")[n]
        if case == "local shell commands":
            return {
                "type": "local_shell_call",
                "call_id": "call_0",
                "status": "completed",
                "action": {"type": "exec", "command": ["echo", city]},
            }
        if case == "texts alike but in the middle":
            path = middle.format(("Header", "Footer")[n])
            tail = {"encoding": "utf-8", "limit": 200, "offset": 0, "mode": "text"}
            arguments = json.dumps({"path": path, **tail}, separators=(",", ":"))
            return {**weather_call("call_0", city), "arguments": arguments}
        item = weather_call("call_0", city, spaced=case == "tool arguments parsed")
        return {**item, "id": "fc_0"} if case == "item ids reused too" else item

    def text(n: int) -> str:
        city = ("Rome", "Oslo")[n]
        return "x" * 100 + f" {city} " + "x" * 100 if "alike" in case else f"{city}: rain"

    with _renamed():
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            user = turn.accept(user_message("weather"))
            kept: list[Any] = []
            parallel = case in (
                "tool arguments parsed",
                "tool arguments compact",
                "texts alike but in the middle",
                "local shell commands",
            )
            batches = [[0, 1]] if parallel else [[0], [1]]
            for batch in batches:
                items = [make(n) for n in batch]
                async with turn.inference({"model": "m", "input": [*user, *kept]}) as inference:
                    inference.completed(output_items=items)
                kept += items
                for n in reversed(batch):  # the last call's tool finishes first
                    item = make(n)
                    given: dict[str, Any] = {}
                    if case == "local shell commands":
                        given["command"] = item["action"]["command"]
                    elif case == "tool arguments parsed":
                        given["arguments"] = json.loads(item["arguments"])
                    elif case == "tool arguments compact":
                        given["arguments"] = json.dumps(json.loads(item["arguments"]))
                    else:
                        given["arguments"] = item["arguments"]
                    name = "local_shell" if "shell" in case else "get_weather"
                    async with turn.tool_call("call_0", name, **given) as tool:
                        tool.completed(
                            {"type": "function_call_output", "call_id": "call_0", "output": text(n)}
                        )
                # outputs sent as they came (the last call's first): told apart by their texts
                kept += [
                    {"type": "function_call_output", "call_id": "call_0", "output": text(n)}
                    for n in reversed(batch)
                ]
            if "re-serialised" in case:  # only the last exchange, the arguments dumped again
                last = {**make(1), "arguments": json.dumps(json.loads(make(1)["arguments"]))}
                kept = [last, kept[-1]]
                if case.startswith("compaction"):
                    kept = turn.compaction().installed(
                        input_history=[*user, *kept],
                        replacement_history=[user_message("summary"), *kept],
                    )
            if case == "item ids reused too":
                kept = [
                    user_message("a line put first"),
                    *kept,
                ]  # a list rebuilt: every item named again
            async with turn.inference({"model": "m", "input": [*user, *kept]}) as inference:
                inference.completed(output_items=[answer_message("done")])
    state = check_bundle(bundle_in(tmp_path))
    texts = {t: n for n in (0, 1) for t in [text(n)]}
    for tool in state["tool_calls"].values():
        outputs = {
            state["conversation_items"][i]["body"]["parts"][0]["text"]
            for i in tool["model_visible_output_item_ids"]
        }
        [output] = outputs
        expected = "call_0" if texts[output] == 0 else "call_0#2"
        assert tool["model_visible_call_id"] == expected, (tool, output)


def test_memory_per_call_stays_small() -> None:
    """A long loop keeping only a window, each call with 20 KB of arguments: what the ids
    keep per step is bounded by a few hundred bytes (found by review: a first version kept
    every call item, arguments and all, ~21 KB a step)."""
    ids = ItemIds()
    window = [ids.for_history(user_message("go"))[0]]

    def step(i: int) -> None:
        nonlocal window
        arguments = json.dumps({"i": i, "content": f"{i:05d}" * 4000})
        ids.for_request(window)
        call, _ = ids.for_history(
            {"type": "function_call", "call_id": f"call_{i}", "name": "w", "arguments": arguments},
            produced=f"response {i}",
        )
        output, _ = ids.for_history(weather_output(f"call_{i}", "ok"), call=call["call_id"])
        window = [window[0], call, output]

    for i in range(200):
        step(i)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(200, 1200):
            step(i)
        window = window[:1]
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown / 1000 < 2000, f"{grown / 1000:.0f} bytes a step"
