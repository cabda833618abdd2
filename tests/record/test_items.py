"""Ids the recorder gives id-less items (``record/items.py``), as the reduced state shows them
(token usage: test_usage.py)."""

from __future__ import annotations

import dataclasses
import enum
import json
import keyword
import tempfile
import unicodedata
import warnings
from collections import OrderedDict, UserList
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollout_trace_sdk.record import RecorderWarning, open_rollout
from rollout_trace_sdk.record.items import ItemIds, content_id, plain

from .held_forms import OtherSequence, StrSubclass, UnreadableMapping, UnreadableSequence
from .recorder_support import bundle_in, check_bundle, normalised_lines, of_type, payload
from .test_recorder import ANSWER, BASE, USER

pytestmark = pytest.mark.anyio


def _continue() -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go on"}]}


@pytest.mark.parametrize("schema", [2, 3])
async def test_an_item_after_a_compaction_never_takes_an_earlier_items_id(
    tmp_path: Path, schema: int
) -> None:
    """The same id-less message again after a compaction dropped the first one from history
    got the first one's id: the reducers then kept the first acceptance for both (the later
    item showed the earlier time and seq) and read nothing of the later's acceptance."""
    async with (
        open_rollout(tmp_path, schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        history = turn.accept(_continue())
        async with turn.inference({"input": history}) as call:
            history += call.completed(output_items=[{"role": "assistant", "content": "ok"}])
        compaction = turn.compaction()
        async with compaction.request({"input": history}) as attempt:
            summary = attempt.completed([{"type": "compaction", "encrypted_content": "S"}])
        history = list(compaction.installed(input_history=history, replacement_history=summary))
        history += turn.accept(_continue())  # the loop's own id-less dict, kept
        async with turn.inference({"input": [*history[:-1], _continue()]}) as call:
            call.completed(output_items=[{"role": "assistant", "content": "ok"}])
    state = check_bundle(bundle_in(tmp_path))
    users = [
        item
        for item in state["conversation_items"].values()
        if item["role"] == "user" and item["kind"] == "message"
    ]
    assert len(users) == 2
    assert users[0]["responses_item_id"] != users[1]["responses_item_id"]
    assert users[0]["accepted_seq"] < users[1]["accepted_seq"]
    root = state["threads"][state["root_thread_id"]]
    assert root["conversation_item_ids"].count(users[1]["item_id"]) == 1


async def _outputs_around_compactions(
    root: Path, schema: int, output: dict[str, Any], back: list[Any]
) -> None:
    """The same output of call ``c`` three times, a compaction dropping each of the first
    two from history, then a request sending the last; ``back``: the items handed back."""
    async with (
        open_rollout(root, schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        history = turn.accept(_continue())
        for _ in range(2):
            async with turn.tool_call("c", "f", arguments="{}") as tool:
                back.append(tool.completed(dict(output)))
            history.append(back[-1])
            compaction = turn.compaction()
            async with compaction.request({"input": history}) as attempt:
                summary = attempt.completed([{"type": "compaction", "encrypted_content": "S"}])
            history = list(compaction.installed(input_history=history, replacement_history=summary))
        async with turn.tool_call("c", "f", arguments="{}") as tool:
            back.append(tool.completed(dict(output)))
        async with turn.inference({"input": [*history, back[-1]]}) as call:
            call.completed(output_items=[{"role": "assistant", "content": "ok"}])


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_tool_output_after_a_compaction_never_takes_an_earlier_outputs_id(
    tmp_path: Path, schema: int
) -> None:
    """The same output of the same call id again after a compaction dropped the first: its
    content id was retired, so it takes the next occurrence's (``ItemIds._assign`` gives a
    first occurrence's id without ``_free`` only when it is not retired; schema 3 records
    it on the tool call's hot path), and its acceptance and the next request name it."""
    output = {"type": "function_call_output", "call_id": "c", "output": "same"}
    back: list[Any] = []
    with pytest.warns(RecorderWarning, match="used twice"):  # the model's call id again
        await _outputs_around_compactions(tmp_path, schema, output, back)
    base = content_id({**output, "call_id": back[0]["call_id"]})
    assert [item["id"] for item in back] == [base, f"{base}_2", f"{base}_3"]
    state = check_bundle(bundle_in(tmp_path))
    outputs = [
        item
        for item in state["conversation_items"].values()
        if item["kind"] == "function_call_output"
    ]
    assert sorted(item["responses_item_id"] for item in outputs) == [
        base,
        f"{base}_2",
        f"{base}_3",
    ]
    assert all("accepted_seq" in item for item in outputs)
    last = max(state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"])
    (latest,) = (item for item in outputs if item["responses_item_id"] == f"{base}_3")
    assert last["request_item_ids"][-1] == latest["item_id"]


@pytest.mark.parametrize("schema", [2, 3])
async def test_installing_a_compaction_twice_keeps_the_next_items_acceptance(
    tmp_path: Path, schema: int
) -> None:
    """A second ``installed`` (which only returns the items) numbered the input history
    again: its id-less message, whose id the first call had retired, took the next id, and
    the same message accepted after the compaction was given the one after that while its
    request sent it under the first: the request's item showed no acceptance."""
    async with (
        open_rollout(tmp_path, schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        turn.accept(_continue())
        history: list[Any] = [_continue()]  # the loop's own id-less dicts
        async with turn.inference({"input": history}) as call:
            call.completed(output_items=[{"role": "assistant", "content": "ok"}])
        history.append({"role": "assistant", "content": "ok"})
        summary = {"type": "compaction", "encrypted_content": "S"}
        compaction = turn.compaction()
        async with compaction.request({"input": history}) as attempt:
            attempt.completed([summary])
        first = compaction.installed(input_history=history, replacement_history=[summary])
        again = compaction.installed(input_history=history, replacement_history=[summary])
        assert again == first
        turn.accept(_continue())
        async with turn.inference({"input": [summary, _continue()]}) as call:
            call.completed(output_items=[{"role": "assistant", "content": "ok"}])
    state = check_bundle(bundle_in(tmp_path))
    users = [item for item in state["conversation_items"].values() if item["role"] == "user"]
    assert len(users) == 2
    assert "accepted_seq" in users[1]  # the acceptance made after the compaction
    assert users[0]["accepted_seq"] < users[1]["accepted_seq"]
    last = max(state["inference_calls"].values(), key=lambda c: c["execution"]["started_seq"])
    assert last["request_item_ids"][-1] == users[1]["item_id"]


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_cut_responses_output_is_its_own_item(tmp_path: Path, schema: int) -> None:
    """A response cut off after writing the same text as an earlier one (a second "ok") had
    its partial output named by the first occurrence's id: the reducers listed it as the
    earlier call's item (found by review)."""
    ok = {"role": "assistant", "content": "ok"}
    async with (
        open_rollout(tmp_path, schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        history = turn.accept(_continue())
        for end in ("completed", "cancelled", "completed"):
            async with turn.inference({"input": history}) as call:
                if end == "cancelled":
                    call.cancelled(partial_items=[dict(ok)])
                else:
                    history += call.completed(output_items=[dict(ok)])
    state = check_bundle(bundle_in(tmp_path))
    calls = sorted(
        state["inference_calls"].values(), key=lambda call: call["execution"]["started_seq"]
    )
    outputs = [call["response_item_ids"] for call in calls]
    assert [len(ids) for ids in outputs] == [1, 1, 1]
    assert len({ids[0] for ids in outputs}) == 3


def test_item_ids_never_touch_caller_items() -> None:
    ids = ItemIds()
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}
    frozen = json.dumps(user)
    first, first_id = ids.for_history(user)
    _, again_id = ids.for_history(dict(user))
    assert json.dumps(user) == frozen
    assert first is not user and first["id"] == first_id
    assert first_id is not None and first_id.startswith("msg_")
    assert again_id == f"{first_id}_2"
    request = ids.for_request([BASE, user, {"id": "keep", "type": "message"}, user])
    assert [item["id"] for item in request] == [content_id(BASE), first_id, "keep", again_id]
    with_id = {"type": "message", "id": "x"}
    assert ids.for_history(with_id) == (with_id, "x")


@pytest.mark.parametrize(
    "wrap",
    [OrderedDict, MappingProxyType, lambda d: _Model(d)],
    ids=["OrderedDict", "proxy", "model"],
)
def test_an_items_content_id_reads_nested_mappings_as_dicts(wrap: Any) -> None:
    """A content part held by another mapping (or an SDK model) inside an id-less item gave
    another id than the same part as a dict: its ``repr`` was digested (a model's ``repr``
    may even hold an address), so resending the item as plain JSON made it a new item."""
    part = {"type": "input_text", "text": "hi"}
    item = {"type": "message", "role": "user", "content": [part]}
    assert content_id({**item, "content": [wrap(part)]}) == content_id(item)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=4),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=12,
)


def _rewrapped(value: Any, data: st.DataObject) -> Any:
    """``value`` with each dict as another mapping, a model or a dataclass, each list as a
    tuple or another sequence, each string as a ``str`` subclass or an enum member, or
    kept, as ``data`` draws (keys stay strings)."""
    if isinstance(value, dict):
        inner = {k: _rewrapped(v, data) for k, v in value.items()}
        wraps: list[Any] = [dict, OrderedDict, MappingProxyType, _Model, _dataclass]
        wrap = data.draw(st.sampled_from(wraps))
        return wrap(inner)
    if isinstance(value, list):
        inner_list = [_rewrapped(v, data) for v in value]
        sequences: list[Any] = [list, tuple, UserList, OtherSequence]
        return data.draw(st.sampled_from(sequences))(inner_list)
    if value.__class__ is str:
        texts: list[Any] = [str, StrSubclass, _str_enum]
        return data.draw(st.sampled_from(texts))(value)
    return value


def _str_enum(text: str) -> Any:
    return enum.StrEnum("Held", {"A": text}).A  # type: ignore[attr-defined]


def _dataclass(data: dict[str, Any]) -> Any:
    """``data`` as a dataclass's fields (as it is when a key cannot name a field: Python
    reads identifiers in NFKC, so ``"ª"`` would name the field ``a``; or names one orjson
    leaves out, a private ``_name``)."""
    if not all(
        key.isidentifier()
        and not keyword.iskeyword(key)
        and unicodedata.normalize("NFKC", key) == key
        and not key.startswith("_")
        for key in data
    ):
        return data
    return dataclasses.make_dataclass("Held", list(data))(**data)


@given(content=_JSON, data=st.data())
@settings(max_examples=300, deadline=None)
def test_an_items_id_is_the_id_of_the_json_it_holds(content: Any, data: st.DataObject) -> None:
    """However the agent holds an id-less item's JSON (mappings, models, dataclasses, tuples
    and other sequences, string subclasses and enum members, at any depth), it gets the id
    of that JSON: in history and in a request."""
    item = {"type": "message", "role": "user", "content": content}
    held = _rewrapped(item, data)
    assert content_id(plain(held)) == content_id(item)
    assert ItemIds().for_history(held)[1] == ItemIds().for_history(item)[1]
    assert [i["id"] for i in ItemIds().for_request([held, held])] == [
        i["id"] for i in ItemIds().for_request([item, item])
    ]


async def _held_loop(root: Path, schema: int, hold: Any) -> list[Any]:
    """A loop with every value the agent hands over passed through ``hold`` first: the
    requests, the responses' items, a tool's arguments and output, accepted items, a
    compaction's replacement history. Returns what the handles gave back, as plain JSON."""
    call = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"q":[1]}'}
    output = {
        "type": "function_call_output",
        "call_id": "c1",
        "output": [{"type": "input_text", "text": "o"}],
    }
    back: list[Any] = []
    async with open_rollout(root, schema_version=schema) as rollout, rollout.root.turn() as turn:
        history: list[Any] = [USER]
        async with turn.inference(hold({**BASE, "input": history})) as inference:
            inference.completed(output_items=hold([call]))
        async with turn.tool_call("c1", "f", arguments=hold({"q": [1]})) as tool:
            back.append(tool.completed(hold(output)))
        back += turn.accept(*hold([_continue()]))
        history += [call, *back]
        replaced = turn.compaction().installed(
            input_history=hold(history), replacement_history=hold([USER, *back])
        )
        async with turn.inference(hold({**BASE, "input": replaced})) as inference:
            inference.completed(output_items=hold([ANSWER]))
    return _as_json([*back, *replaced])  # type: ignore[no-any-return]


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(schema=st.sampled_from([2, 3]), data=st.data())
def test_a_loop_is_recorded_alike_however_its_values_are_held(
    schema: int, data: st.DataObject
) -> None:
    """The same loop with its values held as the agent likes (each mapping a dict, another
    mapping, a model or a dataclass, each list a list, a tuple or another sequence, each
    string a string, a subclass or an enum member, at any depth, drawn anew for every
    value) is recorded as the all-JSON loop is, byte for byte but for ids and times."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RecorderWarning)
            as_json = anyio.run(_held_loop, root / "json", schema, lambda value: value)
            held = anyio.run(_held_loop, root / "held", schema, lambda v: _rewrapped(v, data))
        assert held == as_json
        bundle = bundle_in(root / "held")
        assert normalised_lines(bundle) == normalised_lines(bundle_in(root / "json"))


class _Model:
    """Enough of a pydantic model for the recorder: ``model_dump``."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def model_dump(self, **_: Any) -> dict[str, Any]:
        return _as_json(self._data)  # type: ignore[no-any-return]  # plain all the way down


def _as_json(value: Any) -> Any:
    """``value`` as plain JSON (dicts, lists and strings only), as a model's dump is."""
    if isinstance(value, _Model):
        return value.model_dump()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _as_json({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    if isinstance(value, Mapping):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, Sequence):
        return [_as_json(v) for v in value]
    return value


@pytest.mark.parametrize("unreadable", [UnreadableMapping, UnreadableSequence])
async def test_an_item_holding_an_unreadable_mapping_is_recorded(
    tmp_path: Path, schema: int, unreadable: type[Any]
) -> None:
    """An item's digest converts what orjson does not know as payloads do: a mapping (or a
    sequence) that cannot be read raised out of it (its ``repr`` had been digested), so the
    whole accept failed and the item beside it was lost too. It is recorded as an
    unserialisable object is (its type and repr, counted), and both items are in the state,
    sent alike."""
    item = {"type": "message", "role": "user", "content": [_part(unreadable())]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
            back = turn.accept(USER, item)
            async with turn.inference({**BASE, "input": back}) as inference:
                inference.completed(output_items=[ANSWER])
    assert [isinstance(i.get("id"), str) for i in back] == [True, True]
    assert not [w for w in caught if "failed" in str(w.message)]
    assert rollout.stats is not None and rollout.stats.approximated.get("object") == 1
    assert content_id(item) == content_id(item)  # (the same bytes, and nothing raised)
    state = check_bundle(bundle_in(tmp_path), tmp_path)
    assert len(state["conversation_items"]) == 3
    [call] = state["inference_calls"].values()
    assert len(call["request_item_ids"]) == 2  # the accepted items, sent again
    assert f"<unserialisable {unreadable.__name__}" in json.dumps(state["conversation_items"])


def _part(value: Any) -> dict[str, Any]:
    return {"type": "input_text", "text": value}


def test_item_ids_mixing_our_copies_and_caller_dicts() -> None:
    """A history holding our id-filled copy of an item and the caller's own id-less dict
    with the same content must still give them different ids, stable across requests."""
    ids = ItemIds()
    first, first_id = ids.for_history(USER)
    request = ids.for_request([first, USER])
    assert [item["id"] for item in request] == [first_id, f"{first_id}_2"]
    assert [item["id"] for item in ids.for_request([first, USER])] == [first_id, f"{first_id}_2"]
    # an id-less item sent before an identical one entered history keeps its id
    other = {**USER, "content": [{"type": "input_text", "text": "other"}]}
    sent = ids.for_request([other])[0]["id"]
    accepted, accepted_id = ids.for_history(other)
    assert accepted_id == f"{sent}_2"
    later = ids.for_request([other, accepted])
    assert [item["id"] for item in later] == [sent, accepted_id]


async def test_copy_and_duplicate_in_one_request(tmp_path: Path) -> None:
    async with open_rollout(tmp_path) as rollout:
        async with rollout.root.turn() as turn:
            history = turn.accept(USER)  # our copy, with its id
            async with turn.inference(history) as call:
                call.completed(output_items=[])
        async with rollout.root.turn() as turn:
            history.append(USER)  # the same words again, never accepted, no id
            async with turn.inference(history) as call:
                call.completed(output_items=[ANSWER])
    bundle = bundle_in(tmp_path)
    second = of_type(bundle, "inference_started")[1]["payload"]["request_payload"]
    ids = [item["id"] for item in payload(bundle, second)["input"]]
    assert len(set(ids)) == 2
    state = check_bundle(bundle, tmp_path)
    assert len(state["conversation_items"]) == 3


async def _mapping_loop(root: Path, schema: int, wrap: Any) -> list[Any]:
    """A loop whose items the agent hands over as ``wrap`` makes them: a call of the model
    whose id a second response uses again (renamed ``#2``), its outputs, an output for a call
    no response made, an item the server named, and a request resending them (that one by reference). Returns what the handles gave back."""
    call = {"type": "function_call", "call_id": "m1", "name": "f", "arguments": "{}"}
    back: list[Any] = []
    async with open_rollout(root, schema_version=schema) as rollout, rollout.root.turn() as turn:
        history: list[Any] = [USER]
        for n in range(2):
            async with turn.inference({**BASE, "input": history}) as inference:
                inference.completed(output_items=[call])
            async with turn.tool_call("m1", "f", arguments="{}") as tool:
                output = {"type": "function_call_output", "call_id": "m1", "output": f"o{n}"}
                back.append(tool.completed(wrap(output)))
            history += [call, wrap(back[-1])]
        stray = {"type": "function_call_output", "call_id": "zz", "output": "late"}
        server = {**ANSWER, "id": "msg_server"}  # an item the server named, sent again
        reference = {"type": "item_reference", "id": "msg_server"}  # by its id
        back += turn.accept(wrap(stray), wrap(_continue()), wrap(server))
        async with turn.inference(
            {**BASE, "input": [*history, *map(wrap, back[-3:-1]), reference]}
        ) as inf:
            inf.completed(output_items=[ANSWER])
    return back


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("wrap", [OrderedDict, MappingProxyType], ids=["OrderedDict", "proxy"])
async def test_an_item_is_recorded_alike_whatever_mapping_holds_it(
    tmp_path: Path, schema: int, wrap: Any
) -> None:
    """An output handed over as a dict subclass or another mapping took other paths than the
    same dict: its id was not the one of the call it answers (``fco_..._2``), and the call's
    result was not stored as the accepted item. Mappings are read as the dicts they hold."""
    # the loop's second call of ``m1`` is renamed ``m1#2``, and says so
    with pytest.warns(RecorderWarning, match="calls recorded under <id>#2|ids used twice"):
        as_dict = await _mapping_loop(tmp_path / "dict", schema, dict)
    with pytest.warns(RecorderWarning, match="calls recorded under <id>#2|ids used twice"):
        other = await _mapping_loop(tmp_path / "other", schema, wrap)
    assert [dict(item) for item in other] == as_dict
    bundle = bundle_in(tmp_path / "other")
    assert normalised_lines(bundle) == normalised_lines(bundle_in(tmp_path / "dict"))
    check_bundle(bundle)


async def test_a_bare_string_accepted_beside_an_item_loses_only_itself(
    tmp_path: Path, schema: int
) -> None:
    """An item that is no object (a bare string, a number) has no id to read: it is left out
    with its own warning, and the item accepted beside it is recorded. Reading an id from any
    value failed the whole accept (``'str' object has no attribute 'get'``), its neighbour's
    acceptance with it; no test told (mutation audit, mut41)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
            back = turn.accept(USER, "a user message as a bare string", 7)
            async with turn.inference({**BASE, "input": back}) as inference:
                inference.completed(output_items=[ANSWER])
    said = [str(w.message) for w in caught if issubclass(w.category, RecorderWarning)]
    assert not [s for s in said if "failed" in s], said
    assert any("history items that are not objects" in s for s in said), said
    assert isinstance(back[0].get("id"), str)
    state = check_bundle(bundle_in(tmp_path), tmp_path)
    texts = json.dumps(state["conversation_items"])
    assert "hello" in texts  # USER's text
