"""``Turn.accept_agent_message``: a message the reducers cannot parse is left out and said,
another kind of item is accepted as ``accept`` takes it, and a well-formed message held in the
agent's own types is delivered as a dict would be (``record/turns.py``)."""

from __future__ import annotations

import enum
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from rollout_trace_sdk.record import RecorderWarning, open_rollout, task_message

from .recorder_support import (
    bundle_in,
    check_bundle,
    of_type,
    payload,
)

pytestmark = pytest.mark.anyio


_BAD_MESSAGES = {
    "text content": lambda m: {**m, "content": "hi"},
    "no author": lambda m: {k: v for k, v in m.items() if k != "author"},
    "number recipient": lambda m: {**m, "recipient": 5},
    "unknown entry": lambda m: {**m, "content": [{"type": "zzz"}]},
    "entry without text": lambda m: {**m, "content": [{"type": "input_text"}]},
    "empty content": lambda m: {**m, "content": []},
}


@pytest.mark.parametrize("bad", sorted(_BAD_MESSAGES))
async def test_an_agent_message_the_reducers_cannot_parse_is_left_out_and_said(
    tmp_path: Path, schema: int, bad: str
) -> None:
    """Both reducers parse a delivered ``agent_message`` strictly, and one they could not
    parse made them refuse the whole bundle (Codex: ``failed to parse agent_message item``,
    ``expected agent_message content array``, ``... contained no content``). It is left out
    now, with a warning and a ``rollout_trace_input_dropped`` report; the well-formed one
    after it is recorded, and the bundle reduces alike with both."""
    async with open_rollout(tmp_path, schema_version=schema) as rollout:
        child = rollout.root.spawn("w")
        message = task_message(child.agent_path, "/root", "go")
        async with child.turn() as turn:
            with pytest.warns(RecorderWarning, match="agent message: it has"):
                back = turn.accept_agent_message(_BAD_MESSAGES[bad](message))
            good = turn.accept_agent_message(message)
    assert back["type"] == "agent_message" and isinstance(good["id"], str)
    bundle = bundle_in(tmp_path)
    state = check_bundle(bundle, tmp_path)
    accepted = [e["payload"]["item_id"] for e in of_type(bundle, "history_item_accepted")]
    assert good["id"] in accepted and back["id"] not in accepted
    [report] = [
        payload(bundle, e["payload"]["event_payload"])
        for e in of_type(bundle, "protocol_event_observed")
        if e["payload"]["event_type"] == "rollout_trace_input_dropped"
    ]
    assert report["item_id"] == back["id"] and report["what"] == "agent message"
    assert any(i.get("agent_message") for i in state["conversation_items"].values())


async def test_another_item_given_as_an_agent_message_is_accepted_as_accept_takes_it(
    tmp_path: Path, schema: int
) -> None:
    """A plain message handed to ``accept_agent_message`` made both reducers refuse the
    bundle (``accepted agent message does not match receipt``); it is accepted as
    ``accept`` takes it."""
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]}
    async with open_rollout(tmp_path, schema_version=schema) as rollout, rollout.root.turn() as t:
        back = t.accept_agent_message(user)
    assert back == {**user, "id": back["id"]} and back["id"].startswith("msg_")
    bundle = bundle_in(tmp_path)
    check_bundle(bundle, tmp_path)
    assert back["id"] in [e["payload"]["item_id"] for e in of_type(bundle, "history_item_accepted")]


class _Kind(enum.Enum):
    """Item and entry types held as plain enum members (orjson writes their values)."""

    AGENT_MESSAGE = "agent_message"
    INPUT_TEXT = "input_text"
    ENCRYPTED_CONTENT = "encrypted_content"


@attrs.define
class _TextEntry:
    type: str
    text: str


@attrs.define
class _EncryptedEntry:
    type: str
    encrypted_content: str


class _Listed(list[Any]):
    """A list whose own iteration adds an item; orjson writes what it holds (its storage)."""

    def __iter__(self) -> Iterator[Any]:
        yield from list.__iter__(self)
        yield "not an entry"


def _entries_as_attrs(m: dict[str, Any]) -> dict[str, Any]:
    text, encrypted = m["content"]
    return {**m, "content": [_TextEntry(**text), _EncryptedEntry(**encrypted)]}


def _entry_types_as_enums(m: dict[str, Any]) -> dict[str, Any]:
    return {**m, "content": [{**e, "type": _Kind(e["type"])} for e in m["content"]]}


_HELD_MESSAGES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "attrs entries": _entries_as_attrs,
    "enum entry types": _entry_types_as_enums,
    "enum type": lambda m: {**m, "type": _Kind.AGENT_MESSAGE},
    "list subclass content": lambda m: {**m, "content": _Listed(m["content"])},
}


@pytest.mark.parametrize("held", sorted(_HELD_MESSAGES))
async def test_a_well_formed_agent_message_held_in_other_types_is_delivered(
    tmp_path: Path, schema: int, held: str
) -> None:
    """A well-formed message whose parts the agent holds in its own types (entries as attrs
    instances, types as enum members, content as a list subclass) is written as the message
    it holds, so it is delivered as the plain one is: accepted with its payload, nothing
    dropped, no warning. The check of what the reducers parse read the agent's objects
    instead of the JSON written (an attrs entry, an enum type: "neither input_text nor
    encrypted_content"; the list subclass's own iteration), and left the message out."""
    async with open_rollout(tmp_path, schema_version=schema) as rollout:
        child = rollout.root.spawn("w")
        message = task_message(child.agent_path, "/root", "go")
        async with child.turn() as turn:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                back = turn.accept_agent_message(_HELD_MESSAGES[held](message))
    assert not [str(w.message) for w in caught if w.category is RecorderWarning]
    bundle = bundle_in(tmp_path)
    check_bundle(bundle, tmp_path)
    [accepted] = of_type(bundle, "history_item_accepted")
    assert accepted["payload"]["item_id"] == back["id"]
    written = payload(bundle, accepted["payload"]["agent_message_payload"])
    assert written["content"] == message["content"] and written["type"] == "agent_message"
    assert not [
        e
        for e in of_type(bundle, "protocol_event_observed")
        if e["payload"]["event_type"] == "rollout_trace_input_dropped"
    ]
