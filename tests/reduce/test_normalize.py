"""Normalisation of Responses-API items: summaries, content rules, serde-worded errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import orjson
import pytest

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.model import state as st
from rollout_trace_sdk.reduce.canonical import content_sha256, parse_text_keeping_numbers
from rollout_trace_sdk.reduce.errors import ReduceError
from rollout_trace_sdk.reduce.normalize import json_summary, normalize_items, normalize_one

from .builder import MODEL, PROVIDER, ROOT, TURN, Scenario, message, request, response


def test_json_summary_cuts_at_a_character_boundary() -> None:
    summary = json_summary({"k": "é" * 300})
    assert summary.endswith("...")
    assert len(summary[:-3].encode()) <= 240


def test_message_content_rules() -> None:
    items = normalize_items(
        [
            {
                "type": "message",
                "role": "user",
                "id": 7,
                "content": [
                    {"type": "input_text", "text": "a"},
                    {"type": "input_text"},
                    {"type": "input_image", "image_url": "u"},
                    {"text": "no type"},
                ],
            }
        ],
        "raw_payload:1",
        ("input",),
    )
    (item,) = items
    assert item.responses_item_id is None
    assert [type(p).__name__ for p in item.body] == ["TextPart", "PayloadRefPart", "PayloadRefPart"]
    assert [p.label for p in item.body[1:]] == ["input_image", "content"]  # type: ignore[union-attr]
    empty = normalize_one({"type": "message", "role": "user", "content": []}, "raw_payload:1")
    assert empty.body == []


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"role": "user"}, "model item in payload P did not contain a string type"),
        ({"type": "message", "role": "robot"}, "unsupported message role robot in payload P"),
        (
            {"type": "reasoning", "summary": None},
            "reasoning item in payload P had non-array summary",
        ),
        (
            {"type": "reasoning", "summary": []},
            "reasoning item in payload P contained no content, summary, or encrypted_content",
        ),
        (
            {"type": "compaction"},
            "compaction item in payload P did not contain string encrypted_content",
        ),
        (
            {"type": "agent_message", "author": "/a", "recipient": "/b", "content": []},
            "agent_message item in payload P contained no content",
        ),
    ],
)
def test_normalisation_errors(item: dict[str, object], message: str) -> None:
    with pytest.raises(ReduceError) as caught:
        normalize_one(item, "P")
    assert caught.value.message == message


def test_agent_message_unknown_content_variant() -> None:
    with pytest.raises(ReduceError) as caught:
        normalize_one(
            {
                "type": "agent_message",
                "author": "/a",
                "recipient": "/b",
                "content": [{"type": "zzz"}],
            },
            "P",
        )
    assert (
        caught.value.cause == "unknown variant `zzz`, expected `input_text` or `encrypted_content`"
    )


def test_a_reasoning_text_the_recorder_did_not_keep_is_a_reference_named_by_its_list() -> None:
    """Capture limits (0.171): a reasoning summary or content text cut out of its item is
    spliced as the unavailable marker; the part refers to it under "summary" / "content"."""
    item = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": {"$trace_unavailable": "raw_payload:8"}}],
        "content": [{"type": "reasoning_text", "text": {"$trace_unavailable": "raw_payload:9"}}],
    }
    unkept = frozenset({"raw_payload:8", "raw_payload:9"})
    body = normalize_one(item, "raw_payload:12", v3=True, unkept=unkept).body
    assert body == [
        st.PayloadRefPart("content", "raw_payload:9"),
        st.PayloadRefPart("summary", "raw_payload:8"),
    ]
    with pytest.raises(ReduceError, match="content entry without string text"):
        normalize_one(item, "raw_payload:12")  # schema 2: no marker, only a wrong type
    with pytest.raises(ReduceError, match="content entry without string text"):
        # a placeholder naming no part of the payload is plain JSON (0.171)
        normalize_one(item, "raw_payload:12", v3=True, unkept=frozenset({"raw_payload:8"}))


def test_additional_tools_items_are_no_conversation_items() -> None:
    """A forked thread's first request carries its tool list as an ``additional_tools`` input
    item; Codex leaves it out of the request's items (and out of a response's)."""
    tools = {"type": "additional_tools", "id": "at_1", "role": "developer", "tools": []}
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    items = normalize_items([tools, user], "raw_payload:4", ("input",))
    assert [item.kind for item in items] == ["message"]
    with pytest.raises(ReduceError, match="unsupported model item type ghost_snapshot"):
        normalize_items([{"type": "ghost_snapshot"}], "raw_payload:4", ("input",))
    for kind in (["additional_tools"], {"a": 1}, None):  # not a string: Codex's own words
        with pytest.raises(ReduceError, match="did not contain a string type"):
            normalize_items([{"type": kind}], "raw_payload:4", ("input",), seen={})


# --- placeholders of template parts not kept (schema 3, capture limits) ----------------------

_MARKER: dict[str, Any] = {"$trace_unavailable": "raw_payload:77"}


def _agent_message(text: Any) -> dict[str, Any]:
    return {
        "type": "agent_message",
        "id": "amsg_1",
        "author": "/root",
        "recipient": "/root/w",
        "content": [{"type": "input_text", "text": text}],
    }


def _request_with(
    bundle: Scenario, item: dict[str, Any], parts: tuple[ev.RawPayloadRef, ...]
) -> None:
    """One inference whose request input is a user message and ``item``; with ``parts``, the
    request is a template and ``"GAP"`` in ``item`` is where its one part goes."""
    text = orjson.dumps(request(message("user", "hi", "u1"), item)).decode()
    if parts:
        ref = bundle.raw_payload(
            "inference_request", orjson.dumps(text.split('"GAP"')), parts=parts
        )
    else:
        ref = bundle.raw_payload("inference_request", text)
    _answered(bundle, ref)


def _answered(bundle: Scenario, ref: ev.RawPayloadRef) -> None:
    """One inference sending the request ``ref``, answered ``ok``, then the turn and the
    rollout end."""
    prompt = bundle.payload("prepared_prompt", {})
    bundle.event(
        ev.InferenceStartedV3("inf-1", ROOT, TURN, MODEL, PROVIDER, ref, prompt),
        thread=ROOT,
        turn=TURN,
    )
    bundle.complete("inf-1", response(message("assistant", "ok", "a1")), response_id="r1")
    bundle.end_turn()
    bundle.finish()


@pytest.mark.parametrize("capture", ["omitted", "truncated"])
def test_an_agent_message_text_the_recorder_did_not_keep_is_a_reference(
    tmp_path: Path, capture: Literal["omitted", "truncated"]
) -> None:
    """0.171 with a small max_payload_bytes cuts a long agent-message text (a sub-agent's
    task) into a content_value part: the text is that part's placeholder, and the message's
    part refers to it, as a message's text would (it was refused as "invalid type: map")."""
    bundle = Scenario(tmp_path / "b", schema=3)
    bundle.begin()
    cut = bundle.raw_payload("content_value", '"Message Type: NEW_TASK"', capture=capture)
    _request_with(bundle, _agent_message("GAP"), (cut,))
    state = bundle.reduce()
    (item,) = [i for i in state["conversation_items"].values() if "agent_message" in i]
    assert item["body"]["parts"] == [
        {"type": "payload_ref", "label": "text", "raw_payload_id": cut.raw_payload_id}
    ]


@pytest.mark.parametrize(
    "entry",
    [
        {"type": "encrypted_content", "text": "GAP"},
        {"type": "zzz", "text": "GAP"},
        {"text": "GAP"},
    ],
)
def test_an_agent_message_text_not_kept_is_a_reference_whatever_its_type(
    tmp_path: Path, entry: dict[str, Any]
) -> None:
    """Codex 0.171 looks at an agent-message content entry's text before its type: a text
    that is a placeholder of a part not kept makes the reference whatever the type says
    (another variant, none). We refused such entries by their type ("unknown variant",
    "missing field") (found by fuzz27: the grammar's cut templates, seed 555187)."""
    bundle = Scenario(tmp_path / "b", schema=3)
    bundle.begin()
    cut = bundle.raw_payload("content_value", '"hi"', capture="omitted")
    message_item = _agent_message("x")
    message_item["content"] = [entry]
    _request_with(bundle, message_item, (cut,))
    state = bundle.reduce()
    (item,) = [i for i in state["conversation_items"].values() if "agent_message" in i]
    assert item["body"]["parts"] == [
        {"type": "payload_ref", "label": "text", "raw_payload_id": cut.raw_payload_id}
    ]


def _user(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "role": "user", "id": "m2", "content": list(content)}


@pytest.mark.parametrize(
    ("item", "parts"),
    [
        # a placeholder in a body that is no template: an object where a string belongs
        (_user({"type": "input_text", "text": _MARKER}), []),
        (
            _user({"type": "input_image", "image_url": _MARKER}),
            [{"type": "payload_ref", "label": "input_image", "raw_payload_id": "raw_payload:1"}],
        ),
        (
            {
                "type": "function_call_output",
                "call_id": "c1",
                "output": [{"type": "input_text", "text": _MARKER}],
            },
            [],
        ),
    ],
)
def test_a_placeholder_naming_no_part_is_plain_json(
    tmp_path: Path, item: dict[str, Any], parts: list[dict[str, str]]
) -> None:
    """Codex 0.171 reads ``{"$trace_unavailable": id}`` as a placeholder only for a part of
    the payload's template it did not keep; anywhere else it is ordinary JSON (a text that is
    no string is dropped, an image names the payload holding it). We took any such object for
    a placeholder."""
    bundle = Scenario(tmp_path / "b", schema=3)
    bundle.begin()
    _request_with(bundle, item, ())
    state = bundle.reduce()
    body = state["conversation_items"]["conversation_item:2"]["body"]["parts"]
    assert [{k: v for k, v in part.items() if k != "content_sha256"} for part in body] == parts


def test_a_placeholder_read_in_one_request_is_plain_json_in_the_next(tmp_path: Path) -> None:
    """A history item normalised for one request is reused for the next one resending the same
    bytes; but the same placeholder bytes are a part's reference only in a payload whose
    template holds that part: resent where no part stands for them, they are plain JSON
    again (a text that is no string is dropped), as Codex 0.171 reads each payload on its own."""
    bundle = Scenario(tmp_path / "b", schema=3)
    bundle.begin()
    cut = bundle.raw_payload("content_value", '"a long text"', capture="omitted")
    user = _user({"type": "input_text", "text": "GAP"})
    text = orjson.dumps(request(user)).decode()
    ref = bundle.raw_payload("inference_request", orjson.dumps(text.split('"GAP"')), parts=(cut,))
    for n, request_ref in enumerate(
        [
            ref,
            bundle.raw_payload(
                "inference_request",
                text.replace(
                    '"GAP"', orjson.dumps({"$trace_unavailable": cut.raw_payload_id}).decode()
                ),
            ),
        ],
        start=1,
    ):
        prompt = bundle.payload("prepared_prompt", {})
        bundle.event(
            ev.InferenceStartedV3(f"inf-{n}", ROOT, TURN, MODEL, PROVIDER, request_ref, prompt),
            thread=ROOT,
            turn=TURN,
        )
        bundle.complete(f"inf-{n}", response(), response_id=f"r{n}")
    bundle.end_turn()
    bundle.finish()
    state = bundle.reduce()
    bodies = [item["body"]["parts"] for item in state["conversation_items"].values()]
    assert [{"type": "payload_ref", "label": "text", "raw_payload_id": cut.raw_payload_id}] in [
        [{k: v for k, v in part.items() if k != "content_sha256"} for part in body]
        for body in bodies
    ]
    assert [] in bodies


@pytest.mark.parametrize("where", ["text", "image_url"])
def test_a_placeholder_with_another_key_is_plain_json(tmp_path: Path, where: str) -> None:
    """Only the one-key object ``{"$trace_unavailable": id}`` is a part's placeholder: with
    any key beside it, naming a part the template did not keep, Codex 0.171 reads it as plain
    JSON (a text that is no string is dropped, an image names the template). Probed."""
    bundle = Scenario(tmp_path / "b", schema=3)
    bundle.begin()
    cut = bundle.raw_payload("content_value", '"a long text"', capture="omitted")
    odd = {"$trace_unavailable": cut.raw_payload_id, "note": 1}
    kind = "input_text" if where == "text" else "input_image"
    user = _user({"type": "input_text", "text": "GAP"}, {"type": kind, where: odd})
    text = orjson.dumps(request(user)).decode()
    ref = bundle.raw_payload("inference_request", orjson.dumps(text.split('"GAP"')), parts=(cut,))
    prompt = bundle.payload("prepared_prompt", {})
    bundle.event(
        ev.InferenceStartedV3("inf-1", ROOT, TURN, MODEL, PROVIDER, ref, prompt),
        thread=ROOT,
        turn=TURN,
    )
    bundle.complete("inf-1", response(), response_id="r1")
    bundle.end_turn()
    bundle.finish()
    (item,) = bundle.reduce()["conversation_items"].values()
    named = [part["raw_payload_id"] for part in item["body"]["parts"]]
    # the real placeholder (the GAP) names the part; the odd object is no reference to it
    assert named == (
        [cut.raw_payload_id] if where == "text" else [cut.raw_payload_id, ref.raw_payload_id]
    )


# --- passthrough metadata (remote compaction checkpoints) -------------------------------------

_PASSTHROUGH = "internal_chat_message_metadata_passthrough"


def test_a_whole_item_is_summarised_without_its_top_level_passthrough_metadata() -> None:
    action = {"type": "search", "query": "q"}
    search: dict[str, Any] = {"type": "web_search_call", "id": "ws_0", "action": action}
    plain = normalize_one(search, "raw_payload:5")
    values: list[Any] = [{"turn_id": "t"}, None, "s", 5, []]
    for value in values:  # whatever its value
        assert normalize_one({**search, _PASSTHROUGH: value}, "raw_payload:9").key == plain.key
    nested = {**search, "action": {**action, _PASSTHROUGH: {"turn_id": "t"}}}
    assert normalize_one(nested, "raw_payload:9").key != plain.key  # only at the top level
    call = {"type": "function_call", "call_id": "c", "name": "f", "arguments": {"x": 1}}
    inside = {**call, "arguments": {"x": 1, _PASSTHROUGH: 1}}  # arguments are content
    assert normalize_one(inside, "raw_payload:9").key != normalize_one(call, "raw_payload:5").key


@pytest.mark.parametrize("schema", [2, 3])
def test_a_whole_item_resent_with_passthrough_metadata_is_the_item_its_response_made(
    tmp_path: Path, schema: int
) -> None:
    """A remote compaction's checkpoint resends the thread's items with Codex's passthrough
    metadata; Codex (0.169 and 0.171) leaves it out of the JSON it keeps of a whole item
    (server-side calls, a custom call whose input is no string), so those are still the items
    their response made. We made new ones, or refused a legacy shell call's id as reused with
    other content (found by fuzz19: live scenarios 19042, 19052, 19110, 19191, 19192)."""
    user = message("user", "hi", "u1")
    shell = {
        "type": "local_shell_call",
        "id": "lsh_1",
        "call_id": "ls0",
        "status": "completed",
        "action": {"type": "exec", "command": ["echo", "hi"], "timeout_ms": 5000},
    }
    search = {"type": "web_search_call", "id": "ws_0", "action": {"type": "search", "query": "q"}}
    custom = {
        "type": "custom_tool_call",
        "id": "c",
        "call_id": "c1",
        "name": "f",
        "input": {"x": 1.5},
    }
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    ref = bundle.payload("inference_request", request(user))
    if schema == 3:
        prompt = bundle.payload("prepared_prompt", {})
        started: Any = ev.InferenceStartedV3("inf-1", ROOT, TURN, MODEL, PROVIDER, ref, prompt)
    else:
        started = ev.InferenceStarted("inf-1", ROOT, TURN, MODEL, PROVIDER, ref)
    bundle.event(started, thread=ROOT, turn=TURN)
    bundle.complete("inf-1", response(shell, search, custom), response_id="r1")
    passed = {"turn_id": TURN, "create_time": 1796455698.25}
    resent = [{**item, _PASSTHROUGH: passed} for item in (user, shell, search, custom)]
    history = {"input_history": resent, "replacement_history": [user]}
    checkpoint = bundle.payload("compaction_checkpoint", history)
    bundle.event(ev.CompactionInstalled("cmp-1", checkpoint), thread=ROOT, turn=TURN)
    bundle.end_turn()
    bundle.finish()
    state = bundle.reduce()
    made = [f"conversation_item:{n}" for n in range(1, 5)]
    assert state["compactions"]["cmp-1"]["input_item_ids"] == made
    assert state["threads"][ROOT]["conversation_item_ids"][:5] == [*made, "conversation_item:5"]


@pytest.mark.parametrize("metadata", ["x", 5, {"turn_id": 5}, [1]])
def test_a_listed_agent_message_is_read_without_its_passthrough_metadata(
    tmp_path: Path, metadata: Any
) -> None:
    """Codex 0.169 drops an item's passthrough metadata before it reads an agent message of a
    request, response or checkpoint (in a receipt it reads it, as a struct): we refused such
    a request as Codex refuses the receipt (found by fuzz19: grammar seeds 19449, 20475 and 8
    more, whose checkpoints now carry the metadata)."""
    item = {**_agent_message("hi"), _PASSTHROUGH: metadata}
    with pytest.raises(ReduceError, match="failed to parse agent_message item"):
        normalize_one(item, "raw_payload:7")  # a receipt
    bundle = Scenario(tmp_path / "bundle")
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "hi", "u1"), item))
    bundle.end_turn()
    bundle.finish()
    state = bundle.reduce()
    assert state["inference_calls"]["inf-1"]["request_item_ids"] == [
        "conversation_item:1",
        "conversation_item:2",
    ]


@pytest.mark.parametrize("schema", [2, 3])
def test_a_summary_phase_and_a_compaction_summary_are_summaries(
    tmp_path: Path, schema: int
) -> None:
    """A message of phase ``summary`` is on the summary channel, and a ``compaction_summary``
    item a summary message of its encrypted content (Codex 0.169 and 0.171). Leaving out
    either passed every test (mut32)."""
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    summary = {**message("assistant", "s", "m1"), "phase": "summary"}
    compacted = {"type": "compaction_summary", "id": "cs1", "encrypted_content": "E"}
    bundle.infer("i1", request(summary, compacted))
    items = bundle.reduce()["conversation_items"]
    assert [(item["channel"], item["kind"]) for item in items.values()] == [
        ("summary", "message"),
        ("summary", "message"),
    ]
    assert items["conversation_item:2"]["body"]["parts"] == [
        {"type": "encoded", "label": "encrypted_content", "value": "E"}
    ]


@pytest.mark.parametrize("schema", [2, 3])
def test_a_reasoning_items_encrypted_content_is_a_string_or_null(
    tmp_path: Path, schema: int
) -> None:
    """Codex 0.169 and 0.171 refuse a reasoning item whose encrypted_content is a number.
    Passing it over passed every test (mut32)."""
    bundle = Scenario(tmp_path / "bundle", schema=schema)
    bundle.begin()
    reasoning = {"type": "reasoning", "id": "r1", "summary": [], "encrypted_content": 5}
    bundle.infer("i1", request(reasoning))
    assert bundle.reduce_error().message == (
        "reasoning item in payload raw_payload:1 had non-string encrypted_content"
    )


@pytest.mark.parametrize("number", ["1.50", "1e2", "0.1000000000000000055511151231257827"])
def test_a_content_parts_hash_reads_its_numbers_as_the_payload_spells_them(
    tmp_path: Path, number: str
) -> None:
    """A content element holding a float is hashed from the payload's own number text, as
    Codex's serde_json keeps it, not from the float Python parsed (``1.50`` is not ``1.5``).
    Nothing failed when the hash took the parsed element (mutation audit, mut41)."""
    bundle = Scenario(tmp_path / "b", schema=3)
    bundle.begin()
    image = {"type": "input_image", "image_url": "data:,x", "weight": "NUMBER"}
    text = orjson.dumps(request(message("user", "hi", "u1"), _user(image))).decode()
    _answered(bundle, bundle.raw_payload("inference_request", text.replace('"NUMBER"', number)))
    state = bundle.reduce()  # the hash Codex writes, when Codex is here
    parts = state["conversation_items"]["conversation_item:2"]["body"]["parts"]
    spelled = parse_text_keeping_numbers(orjson.dumps(image).decode().replace('"NUMBER"', number))
    assert parts[0]["content_sha256"] == content_sha256(spelled)
    assert parts[0]["content_sha256"] != content_sha256(orjson.loads(orjson.dumps(spelled)))
