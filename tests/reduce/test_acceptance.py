"""``history_item_accepted`` carrying its item: when Codex reads the payload and when it does
not (checked against Codex 0.169 and 0.171 when they are here)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.model.state import state_bytes
from rollout_trace_sdk.reduce import reduce_bundle
from rollout_trace_sdk.reduce.convert import convert_bundle
from rollout_trace_sdk.testing import reduce_and_compare
from tests.codex_oracle import codex_bin
from tests.differential.grammar import Grammar
from tests.lenient_convert_checks import check_lenient_converted

from .builder import ROOT, TURN, Scenario, message, request, response


def _agent_message(item_id: str) -> dict[str, Any]:
    return {
        "type": "agent_message",
        "id": item_id,
        "author": "/root/worker",
        "recipient": "/root",
        "content": [{"type": "input_text", "text": "done"}],
    }


def _output(kind: str, item_id: str) -> dict[str, Any]:
    return {"type": kind, "id": item_id, "call_id": "call-1", "output": "ok"}


def _accept_unparsable(bundle: Scenario, item_id: str) -> str:
    ref = bundle.raw_payload("protocol_event", '{"cut')
    bundle.event(ev.HistoryItemAccepted(item_id, ref), thread=ROOT, turn=TURN)
    return ref.raw_payload_id


_Before = Callable[[Scenario], None]

#: what the thread holds before the acceptance of ``m1``, and whether the Codex of schema 2 / 3
#: then leaves the acceptance's payload unread
_PRESENT: list[tuple[str, _Before, bool, bool]] = [
    ("nothing", lambda b: None, False, False),
    ("an acceptance without payload", lambda b: b.accept("m1"), False, False),
    ("a receipt", lambda b: b.accept("m1", receipt=_agent_message("m1")), True, True),
    (
        "a requested agent message",
        lambda b: b.infer("c1", request(_agent_message("m1"))),
        True,
        True,
    ),
    ("a user message", lambda b: b.infer("c1", request(message("user", "q", "m1"))), True, False),
    (
        "an assistant message",
        lambda b: b.infer(
            "c1",
            request(message("user", "q")),
            response({"type": "message", "role": "assistant", "id": "m1", "content": []}),
        ),
        True,
        False,
    ),
    (
        "a function output",
        lambda b: b.infer(
            "c1", request(message("user", "q"), _output("function_call_output", "m1"))
        ),
        True,
        True,
    ),
    (
        "a custom tool output",
        lambda b: b.infer(
            "c1", request(message("user", "q"), _output("custom_tool_call_output", "m1"))
        ),
        True,
        True,
    ),
    (
        "an MCP output",
        lambda b: b.infer(
            "c1", request(message("user", "q"), _output("mcp_tool_call_output", "m1"))
        ),
        True,
        True,
    ),
]


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize(
    ("before", "unread_v2", "unread_v3"),
    [pytest.param(*case[1:], id=case[0]) for case in _PRESENT],
)
def test_an_item_already_present_leaves_the_payload_unread(
    tmp_path: Path, schema: int, before: _Before, unread_v2: bool, unread_v3: bool
) -> None:
    # An unparsable payload tells the two apart: read by the acceptance it is "parse payload";
    # left unread, it fails only with every other payload after the last event.
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    before(bundle)
    payload_id = _accept_unparsable(bundle, "m1")
    bundle.finish()
    unread = unread_v3 if schema == 3 else unread_v2
    expected = "invalid payload" if unread else "parse payload"
    assert bundle.reduce_error().message == f"{expected} {payload_id}"


@pytest.mark.parametrize("schema", [2, 3])
def test_a_repeated_receipt_is_not_compared(tmp_path: Path, schema: int) -> None:
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    bundle.accept("m1", receipt=_agent_message("m1"))
    bundle.accept("m1", receipt=_agent_message("m2"))
    bundle.finish()
    state = bundle.reduce()
    accepted = [i for i in state["conversation_items"].values() if i.get("accepted_seq")]
    assert [i["responses_item_id"] for i in accepted] == ["m1"]
    assert accepted[0]["accepted_seq"] == 4


#: an item with the acceptance's id that no acceptance could have made (schema 3 reads the
#: payload then): Codex 0.171 makes the accepted item beside it
_OTHER_ITEMS: list[tuple[str, _Before]] = [
    ("a user message", lambda b: b.infer("c1", request(message("user", "q", "m1")))),
    (
        "an assistant message",
        lambda b: b.infer(
            "c1",
            request(message("user", "q")),
            response({"type": "message", "role": "assistant", "id": "m1", "content": []}),
        ),
    ),
    (
        "a function call",
        lambda b: b.infer(
            "c1",
            request(
                {"type": "function_call", "id": "m1", "call_id": "x", "name": "f", "arguments": ""}
            ),
        ),
    ),
    (
        "a reasoning item",
        lambda b: b.infer(
            "c1", request({"type": "reasoning", "id": "m1", "encrypted_content": "E"})
        ),
    ),
]


@pytest.mark.parametrize(
    "accepted",
    [_agent_message("m1"), _output("function_call_output", "m1")],
    ids=["agent message", "function output"],
)
@pytest.mark.parametrize(("before"), [pytest.param(c[1], id=c[0]) for c in _OTHER_ITEMS])
def test_schema3_makes_the_accepted_item_beside_one_no_acceptance_made(
    tmp_path: Path, before: _Before, accepted: dict[str, Any]
) -> None:
    bundle = Scenario(tmp_path / "bundle", schema=3)
    bundle.begin()
    before(bundle)
    ref = bundle.payload("protocol_event", accepted)
    output = None if accepted["type"] == "agent_message" else ref
    receipt = ref if output is None else None
    bundle.event(ev.HistoryItemAcceptedV3("m1", receipt, output), thread=ROOT, turn=TURN)
    bundle.finish()
    state = bundle.reduce()
    items = state["conversation_items"].values()
    made = [i for i in items if i["first_seen_at_unix_ms"] == i.get("accepted_at_unix_ms")]
    assert [(i["responses_item_id"], i["kind"]) for i in made] == [
        ("m1", "message" if output is None else "function_call_output")
    ]
    assert made[0]["item_id"] in state["threads"][ROOT]["conversation_item_ids"]


@pytest.mark.parametrize(
    ("schema", "accepted", "output", "claimed"),
    [
        (2, _agent_message("m1"), _agent_message("m1"), True),
        (2, _agent_message("m1"), _output("function_call_output", "m1"), False),
        (3, _agent_message("m1"), _agent_message("m1"), True),
        (3, _agent_message("m1"), _output("function_call_output", "m1"), True),
        (3, _output("function_call_output", "m1"), _output("custom_tool_call_output", "m1"), True),
    ],
    ids=["v2 agent message", "v2 output", "v3 agent message", "v3 output", "v3 output of output"],
)
def test_a_response_item_claims_the_item_its_acceptance_made(
    tmp_path: Path,
    schema: int,
    accepted: dict[str, Any],
    output: dict[str, Any],
    claimed: bool,
) -> None:
    # Claiming is not only a request's: a response output item with the id (an agent message;
    # in schema 3 a tool output too) becomes the accepted item, taking its body.
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    if accepted["type"] == "agent_message":
        bundle.accept("m1", receipt=accepted)
    else:
        ref = bundle.payload("protocol_event", accepted)
        bundle.event(ev.HistoryItemAcceptedV3("m1", None, ref), thread=ROOT, turn=TURN)
    output["content" if "content" in output else "output"] = (
        [{"type": "input_text", "text": "later"}] if "content" in output else "later"
    )
    bundle.infer("c1", request(message("user", "q")), response(output))
    bundle.finish()
    state = bundle.reduce()
    items = state["conversation_items"]
    first = items["conversation_item:1"]
    assert first["body"]["parts"][0]["text"] == ("later" if claimed else "done")
    assert ("conversation_item:3" in items) is not claimed
    assert state["inference_calls"]["c1"]["response_item_ids"] == [
        "conversation_item:1" if claimed else "conversation_item:3"
    ]


def _idless(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key != "id"}


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize("where", ["request", "checkpoint"])
def test_a_batch_matches_its_own_items_before_it_claims(
    tmp_path: Path, schema: int, where: str
) -> None:
    # The id-less copy the thread already holds matches first (by position or content) and
    # takes the id; the receipt stays as it was.
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    bundle.accept("m1", receipt=_agent_message("m1"))
    user = message("user", "q", "u1")
    bundle.infer("c1", request(user, _idless(_agent_message("m1"))))
    if where == "request":
        bundle.infer("c2", request(_agent_message("m1"), user))
    else:
        history = {"input_history": [user, _agent_message("m1")], "replacement_history": []}
        checkpoint = bundle.payload("compaction_checkpoint", history)
        bundle.event(ev.CompactionInstalled("cmp-1", checkpoint), thread=ROOT, turn=TURN)
    bundle.finish()
    state = bundle.reduce()
    items = state["conversation_items"]
    assert items["conversation_item:3"]["responses_item_id"] == "m1"
    assert items["conversation_item:1"]["first_seen_at_unix_ms"] == 1004  # the receipt, as made


@pytest.mark.parametrize("schema", [2, 3])
def test_a_response_matching_an_unclaimed_item_claims_it_in_schema_3_only(
    tmp_path: Path, schema: int
) -> None:
    # The response's copy of the receipt matches it by content. Codex 0.171 counts that as
    # claiming it, so a later request's different copy is a new item; 0.169 does not, so
    # that request claims the receipt and gives it its body.
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    bundle.accept("m1", receipt=_agent_message("m1"))
    user = message("user", "q", "u1")
    bundle.infer("c1", request(user), response(_agent_message("m1")))
    other = _agent_message("m1")
    other["content"] = [{"type": "input_text", "text": "other"}]
    bundle.infer("c2", request(user, other))
    bundle.finish()
    state = bundle.reduce()
    receipt = state["conversation_items"]["conversation_item:1"]
    assert receipt["body"]["parts"][0]["text"] == ("done" if schema == 3 else "other")
    assert ("conversation_item:3" in state["conversation_items"]) is (schema == 3)


def test_schema3_an_item_matched_by_content_claims_with_its_body(tmp_path: Path) -> None:
    # A JSON part matches on its summary alone; claiming still gives the accepted item the
    # claiming payload's body (the part names that payload), as Codex 0.171 does.
    bundle = Scenario(tmp_path / "bundle", schema=3)
    bundle.begin()
    found = {"type": "tool_search_output", "id": "m1", "call_id": "s1", "output": {"tools": []}}
    ref = bundle.payload("protocol_event", found)
    bundle.event(ev.HistoryItemAcceptedV3("m1", None, ref), thread=ROOT, turn=TURN)
    bundle.infer("c1", request(message("user", "q")), response(found))
    bundle.finish()
    state = bundle.reduce()
    part = state["conversation_items"]["conversation_item:1"]["body"]["parts"][0]
    assert part["raw_payload_id"] == state["inference_calls"]["c1"]["raw_response_payload_id"]


@pytest.mark.parametrize("cut", [None, "agent message", "tool output"])
def test_schema3_an_acceptance_with_both_payloads_reads_the_agent_messages(
    tmp_path: Path, cut: str | None
) -> None:
    # Codex 0.171 takes agent_message_payload when there is one, cut or not: the tool
    # output's payload (even with another id) is only registered.
    bundle = Scenario(tmp_path / "bundle", schema=3)
    bundle.begin()
    receipt = bundle.payload(
        "protocol_event",
        _agent_message("m1"),
        capture="omitted" if cut == "agent message" else None,
    )
    output = bundle.payload(
        "protocol_event",
        _output("function_call_output", "m9"),
        capture="omitted" if cut == "tool output" else None,
    )
    bundle.event(ev.HistoryItemAcceptedV3("m1", receipt, output), thread=ROOT, turn=TURN)
    bundle.finish()
    items = list(bundle.reduce()["conversation_items"].values())
    assert [i["kind"] for i in items] == ([] if cut == "agent message" else ["message"])


def test_schema3_a_claimed_item_anchors_where_it_first_appears_in_the_batch(
    tmp_path: Path,
) -> None:
    # The id-less copy at the head of the response matches the receipt, the output at its
    # end claims it: the new message between them is not placed before it (Codex 0.171).
    bundle = Scenario(tmp_path / "bundle", schema=3)
    bundle.begin()
    bundle.accept("m1", receipt=_agent_message("m1"))
    new = message("assistant", "n", "m4")
    output = _output("function_call_output", "m1")
    bundle.infer(
        "c1", request(message("user", "q")), response(_idless(_agent_message("m1")), new, output)
    )
    bundle.accept("m4")
    bundle.finish()
    state = bundle.reduce()
    assert state["inference_calls"]["c1"]["response_item_ids"] == [
        "conversation_item:1",
        "conversation_item:3",
        "conversation_item:1",
    ]
    assert state["threads"][ROOT]["conversation_item_ids"] == [
        "conversation_item:1",
        "conversation_item:2",
        "conversation_item:3",
    ]


def test_schema3_a_claimed_item_in_an_incremental_prefix_anchors_nothing(tmp_path: Path) -> None:
    # Grammar seed 25033 converted to schema 3 (found by fuzz18): an incremental request's
    # delta makes a custom tool call (ci:20) and then claims, with a tool_search_output, a
    # receipt (ci:8) its previous_response_id prefix already holds. Codex 0.171 counts the
    # claimed item where it first appears in the whole request, so ci:20 is not placed
    # before it: the thread lists it last; we listed it before ci:8.
    source = Grammar(tmp_path / "g", 2, 25033, later=False).run()
    convert_bundle(source, tmp_path / "g3", 3)
    state = orjson.loads(state_bytes(reduce_bundle(tmp_path / "g3")))
    listed = [
        i.split(":")[1] for i in state["threads"][state["root_thread_id"]]["conversation_item_ids"]
    ]
    assert listed[5:8] == ["6", "8", "9"] and listed[-12:] == [str(n) for n in range(19, 31)]
    binary = codex_bin(3)
    if binary is not None:
        result = reduce_and_compare(tmp_path / "g3", binary, timeout=60)
        assert result.same, result.explain()


def test_schema3_a_response_matches_in_the_threads_list_order(tmp_path: Path) -> None:
    # The request's new copy of m2 (ci:4) is placed before the output it claims (ci:1), so
    # before the first copy (ci:2) too: Codex 0.171 matches the response's m2 to it.
    bundle = Scenario(tmp_path / "bundle", schema=3)
    bundle.begin()
    accepted = _output("function_call_output", "m1")
    ref = bundle.payload("protocol_event", accepted)
    bundle.event(ev.HistoryItemAcceptedV3("m1", None, ref), thread=ROOT, turn=TURN)
    copy, user = message("assistant", "hi", "m2"), message("user", "q", "u1")
    bundle.infer("c1", request(copy))
    bundle.infer("c2", request(user))
    bundle.infer("c3", request(user, copy, accepted), response(copy))
    bundle.finish()
    calls = bundle.reduce()["inference_calls"]
    assert calls["c3"]["request_item_ids"][1] == "conversation_item:4"
    assert calls["c3"]["response_item_ids"] == ["conversation_item:4"]


@pytest.mark.parametrize("schema", [2, 3])
def test_an_acceptance_lenient_replay_skips_stamps_nothing(tmp_path: Path, schema: int) -> None:
    # A crash cut the receipt of an acceptance (the killed-recorder test: 16 of 283 bytes),
    # and a later request brings the agent message: lenient replay skips the acceptance, so
    # the item is the request's own, unstamped, as if the line were not in the log; that is
    # what ``convert --lenient`` writes, leaving the event out.
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    bundle.infer("c1", request(message("user", "q")))
    cut = _accept_unparsable(bundle, "m1")
    bundle.infer("c2", request(message("user", "q"), _agent_message("m1")))
    skipped: list[str] = []
    state = orjson.loads(state_bytes(reduce_bundle(bundle.flush(), lenient=True, skipped=skipped)))
    assert f"skipped not reducible: parse payload {cut}" in skipped[0], skipped
    (item,) = [
        i for i in state["conversation_items"].values() if i.get("responses_item_id") == "m1"
    ]
    assert "accepted_seq" not in item and "accepted_at_unix_ms" not in item, item
    outcomes = check_lenient_converted(bundle.flush(), tmp_path, f"schema {schema}")
    assert set(outcomes.values()) <= {"same"}, outcomes
