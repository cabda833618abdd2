"""Behaviours found by probing Codex 0.169 with small bundles; each assertion is what Codex
produced (and with the binary present, ``reduce`` re-checks the whole state against it)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rollout_trace_sdk.model import events as ev
from tests.reduce.builder import ROOT, TURN, Scenario, agent_message, message, request, response

PARENT = "01a20c59-0000-7000-8000-000000000001"
CHILD = "01a20c59-0000-7000-8000-000000000002"
STDIN = ev.ToolCallKind("write_stdin")
EXEC = ev.ToolCallKind("exec_command")


def two_threads(bundle: Scenario) -> None:
    bundle.event(ev.RolloutStarted("trace-1", PARENT))
    bundle.start_thread(PARENT, "/root")
    bundle.start_turn("tp", PARENT)
    bundle.start_thread(CHILD, "/root/w")
    bundle.start_turn("tc", CHILD)


def child_reads(bundle: Scenario, received: str, sent: str) -> None:
    """The child accepts a receipt of an agent message ``received`` from /root, then sends a
    request holding it as ``sent`` (the same item id, am1)."""
    receipt = agent_message("am1", received, recipient="/root/w")
    bundle.accept("am1", thread_id=CHILD, turn_id="tc", receipt=receipt)
    sent_item = agent_message("am1", sent, recipient="/root/w")
    bundle.infer("inf-c", request(sent_item), thread_id=CHILD, turn_id="tc")


def collab_call(
    bundle: Scenario,
    call_id: str,
    tool: ev.ToolCallKindType,
    runtime: dict[str, Any],
    invocation: dict[str, Any] | None = None,
) -> None:
    """The parent thread's ``tool`` call (spawn_agent, send_message, ...) and the runtime
    event it ended with (``runtime``: an activity, or Codex's end struct); its invocation
    payload's ``payload`` when ``invocation`` is given."""
    ref = None
    if invocation is not None:
        ref = bundle.payload(
            "tool_invocation", {"tool_name": tool, "tool_namespace": None, "payload": invocation}
        )
    bundle.event(
        ev.ToolCallStarted(
            call_id,
            call_id,
            None,
            ev.ModelRequester(),
            ev.ToolCallKind(tool),
            ev.GenericSummary(tool, None),
            ref,
        ),
        thread=PARENT,
        turn="tp",
    )
    ended = bundle.payload("tool_runtime_event", runtime)
    bundle.event(ev.ToolCallRuntimeEnded(call_id, "completed", ended), thread=PARENT, turn="tp")


def send(bundle: Scenario, call_id: str, text: str) -> None:
    collab_call(
        bundle,
        call_id,
        "send_message",
        {
            "event_id": call_id,
            "agent_thread_id": CHILD,
            "agent_path": "/root/w",
            "kind": "interacted",
        },
        {"type": "function", "arguments": json.dumps({"message": text})},
    )


def write_stdin(
    bundle: Scenario, call_id: str, arguments: dict[str, Any], result: Any = None
) -> None:
    invocation = bundle.payload(
        "tool_invocation",
        {
            "tool_name": "write_stdin",
            "tool_namespace": None,
            "payload": {"type": "function", "arguments": json.dumps(arguments)},
        },
    )
    bundle.event(
        ev.ToolCallStarted(
            call_id,
            None,
            None,
            ev.ModelRequester(),
            STDIN,
            ev.GenericSummary("write_stdin", None),
            invocation,
        ),
        thread=ROOT,
        turn=TURN,
    )
    if result is not None:
        ref = bundle.payload("tool_result", result)
        bundle.event(ev.ToolCallEnded(call_id, "completed", ref), thread=ROOT, turn=TURN)


def test_json_summaries_keep_number_text(bundle: Scenario) -> None:
    bundle.begin()
    bundle.infer_raw(
        "inf-1",
        '{"input": [{"type": "function_call_output", "id": "o1", "call_id": "c1", '
        '"output": {"score": 1.50, "n": 12345678901234567890123, "w": 2.5E3}}]}',
    )
    state = bundle.reduce()
    part = state["conversation_items"]["conversation_item:1"]["body"]["parts"][0]
    assert part["summary"] == '{"score":1.50,"n":12345678901234567890123,"w":2.5e+3}'


def test_arguments_beyond_f64_are_still_json(bundle: Scenario) -> None:
    fc = {
        "type": "function_call",
        "id": "f1",
        "call_id": "c1",
        "name": "f",
        "arguments": '{"a": 1e400}',
    }
    bundle.begin()
    bundle.infer("inf-1", request(message("user", "x")), response(fc))
    part = bundle.reduce()["conversation_items"]["conversation_item:2"]["body"]["parts"][0]
    assert part["summary"] == '{"a":1e+400}'


@pytest.mark.parametrize("where", ["item", "elsewhere"])
def test_an_integer_beyond_64_bits_in_a_payload_orjson_refuses(
    bundle: Scenario, where: str
) -> None:
    """A number beyond f64 makes the payload's parse the lenient one, which keeps integers
    exact: an item holding one past 64 bits (that number, or another in the same payload) is
    normalised, not memoised (orjson cannot write it: the reduction stopped on a TypeError)."""
    huge = "1" + "0" * 400
    n = huge if where == "item" else "123456789012345678901234567890"
    extra = ', "tools": [{"limit": ' + huge + "}]" if where == "elsewhere" else ""
    text = (
        '{"input": [{"type": "function_call_output", "id": "o1", "call_id": "c1", '
        f'"output": {{"n": {n}}}}}]{extra}}}'
    )
    bundle.begin()
    bundle.infer_raw("inf-1", text)
    bundle.infer_raw("inf-2", text)
    state = bundle.reduce()
    part = state["conversation_items"]["conversation_item:1"]["body"]["parts"][0]
    assert part["summary"].startswith('{"n":1')
    assert state["inference_calls"]["inf-2"]["request_item_ids"] == ["conversation_item:1"]


def test_a_float_beyond_f64_is_not_the_item_with_null_there(bundle: Scenario) -> None:
    """orjson writes 1e400 (parsed as infinity by the parse of a payload orjson refused) as
    null: the resent-item memo took it for the earlier item holding null (one item where
    Codex 0.169 has two). Found by reduce23."""
    item = '{"type": "function_call_output", "id": "o1", "call_id": "c1", "output": {"n": %s}}'
    bundle.begin()
    bundle.infer_raw("inf-1", '{"input": [%s]}' % (item % "null"))
    bundle.infer_raw("inf-2", '{"input": [%s]}' % (item % "null"))
    bundle.infer_raw("inf-3", '{"input": [%s]}' % (item % "1e400"))
    state = bundle.reduce()
    calls = state["inference_calls"]
    assert calls["inf-2"]["request_item_ids"] == calls["inf-1"]["request_item_ids"]
    assert calls["inf-3"]["request_item_ids"] != calls["inf-1"]["request_item_ids"]
    assert len(state["conversation_items"]) == 2


def test_a_differently_spelled_float_is_another_item(bundle: Scenario) -> None:
    bundle.begin()
    text = '{"input": [{"type": "function_call_output", "id": "o1", "call_id": "c1", "output": {"s": 1.50}}]}'
    bundle.infer_raw("inf-1", text)
    bundle.infer_raw("inf-2", text.replace("1.50", "1.5"))
    assert bundle.reduce()["inference_calls"]["inf-2"]["request_item_ids"] == [
        "conversation_item:2"
    ]


def test_claimed_receipt_takes_the_request_body(bundle: Scenario) -> None:
    two_threads(bundle)
    send(bundle, "s1", "hi")
    child_reads(bundle, "other", "hi")
    state = bundle.reduce()
    assert state["conversation_items"]["conversation_item:1"]["body"]["parts"] == [
        {"type": "text", "text": "hi"}
    ]
    assert state["interaction_edges"]["edge:tool:s1"]["target"]["item_id"] == "conversation_item:1"


def test_an_edge_target_is_not_taken_twice(bundle: Scenario) -> None:
    two_threads(bundle)
    send(bundle, "s1", "hi")
    send(bundle, "s2", "hi")
    child_reads(bundle, "hi", "hi")
    assert list(bundle.reduce()["interaction_edges"]) == ["edge:tool:s1"]


def test_emptied_session_reopens_under_its_registered_name(bundle: Scenario) -> None:
    bundle.begin()
    bundle.event(
        ev.ToolCallStarted(
            "e1", None, None, ev.ModelRequester(), EXEC, ev.GenericSummary("x", None), None
        ),
        thread=ROOT,
        turn=TURN,
    )
    begin = bundle.payload("tool_runtime_event", {"command": ["sh"], "cwd": "/", "process_id": "1"})
    bundle.event(ev.ToolCallRuntimeStarted("e1", EXEC, begin), thread=ROOT, turn=TURN)
    write_stdin(bundle, "w1", {"session_id": "55"})
    bundle.event(ev.StdinTargetResolved("w1", "e1"))
    write_stdin(bundle, "w2", {"session_id": "55"})
    state = bundle.reduce()
    reopened = state["terminal_sessions"]["terminal_session:terminal_operation:2"]
    assert reopened["created_by_operation_id"] == "terminal_operation:3"
    assert reopened["operation_ids"] == ["terminal_operation:3"]


def test_write_stdin_result_shapes(bundle: Scenario) -> None:
    bundle.begin()
    item = {"type": "function_call_output", "call_id": "w", "output": None}
    write_stdin(bundle, "w0", {"session_id": 1}, {"type": "direct_response", "response_item": item})
    write_stdin(
        bundle,
        "w1",
        {"session_id": 1},
        {"type": "code_mode_response", "value": {"output": "o", "exit_code": "bad"}},
    )
    write_stdin(bundle, "w2", {"session_id": 1}, {"exit_code": 3, "aggregated_output": "agg"})
    operations = bundle.reduce()["terminal_operations"]
    assert operations["terminal_operation:1"]["result"]["stdout"] == json.dumps(
        item, separators=(",", ":")
    )
    assert (
        operations["terminal_operation:2"]["result"]["stdout"] == '{"output":"o","exit_code":"bad"}'
    )
    assert operations["terminal_operation:3"]["result"]["exit_code"] == 3
    assert operations["terminal_operation:3"]["result"]["stdout"] == "agg"


def test_write_stdin_result_of_no_known_shape(bundle: Scenario) -> None:
    bundle.begin()
    write_stdin(bundle, "w0", {"session_id": 1}, {"type": "weird"})
    error = bundle.reduce_error()
    assert error.message == (
        "parse write_stdin terminal response raw_payload:2 as protocol payload "
        "(missing field `exit_code`) or dispatch payload"
    )
    assert (
        error.cause
        == "unknown variant `weird`, expected one of `direct_response`, `code_mode_response`, `error`"
    )


def test_write_stdin_protocol_result_cannot_change_process(bundle: Scenario) -> None:
    bundle.begin()
    write_stdin(bundle, "w0", {"session_id": 1}, {"exit_code": 0, "process_id": "77"})
    assert (
        bundle.reduce_error().message
        == "terminal operation terminal_operation:1 changed process id from 1 to 77"
    )


def test_spawn_end_payload_needs_codex_fields(bundle: Scenario) -> None:
    two_threads(bundle)
    end = {"call_id": "cs", "sender_thread_id": PARENT, "prompt": "GO"}
    collab_call(bundle, "cs", "spawn_agent", end)
    assert bundle.reduce_error().message == "missing field `model`"


def test_wait_arguments_error_uses_serde_wording(bundle: Scenario) -> None:
    bundle.begin()
    invocation = bundle.payload(
        "tool_invocation",
        {
            "tool_name": "wait",
            "tool_namespace": None,
            "payload": {"type": "function", "arguments": "{bad"},
        },
    )
    bundle.event(
        ev.ToolCallStarted(
            "t1",
            "t1",
            None,
            ev.ModelRequester(),
            ev.ToolCallKind.other("wait"),
            ev.GenericSummary("wait", None),
            invocation,
        ),
        thread=ROOT,
        turn=TURN,
    )
    error = bundle.reduce_error()
    assert error.cause == "key must be a string at line 1 column 2"


def test_thread_metadata_type_error(bundle: Scenario) -> None:
    bundle.start_thread(metadata={"nickname": 5})
    error = bundle.reduce_error()
    assert (error.message, error.cause) == (
        "parse thread metadata raw_payload:1",
        "invalid type: number, expected a string",
    )


def test_empty_metadata_strings_are_values(bundle: Scenario) -> None:
    bundle.event(ev.RolloutStarted("trace-1", PARENT))
    bundle.start_thread(PARENT, "/root")
    spawn = {"parent_thread_id": PARENT, "agent_path": "/root/a/b"}
    bundle.start_thread(
        CHILD, "/ev/x", {"session_source": {"subagent": {"thread_spawn": spawn}}, "task_name": ""}
    )
    bundle.start_thread("t3", "/ev/y", {"agent_path": ""})
    threads = bundle.reduce()["threads"]
    assert threads[CHILD]["origin"]["task_name"] == ""
    assert threads[CHILD]["agent_path"] == "/root/a/b"
    assert threads["t3"]["agent_path"] == ""


def test_activity_thread_ids_are_uuids_in_canonical_form(bundle: Scenario) -> None:
    two_threads(bundle)
    activity = {
        "event_id": "cs",
        "agent_thread_id": "urn:uuid:" + CHILD.upper(),
        "agent_path": "/root/w",
        "kind": "started",
    }
    collab_call(bundle, "cs", "spawn_agent", activity, {"arguments": '{"message": "GO"}'})
    edges = bundle.reduce()["interaction_edges"]
    assert edges[f"edge:spawn:{PARENT}:{CHILD}"]["target"] == {"type": "thread", "thread_id": CHILD}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "invalid length: expected length 32 for simple format, found 0"),
        (
            "x",
            "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `x` at 1",
        ),
        (
            "01a20c59-0000-7000-8000-00000000000",
            "invalid group length in group 4: expected 12, found 11",
        ),
        # braced and urn forms: a position counts the prefix, and the uuid crate measures the
        # last group to the text's end, `}` or `urn:uuid:` included (no test had either, mut41)
        (
            "{x}",
            "invalid character: expected an optional prefix of `urn:uuid:` followed by "
            "[0-9a-fA-F-], found `x` at 2",
        ),
        (
            "urn:uuid:x",
            "invalid character: expected an optional prefix of `urn:uuid:` followed by "
            "[0-9a-fA-F-], found `x` at 10",
        ),
        (
            "{01a20c59-0000-7000-8000-00000000000}",
            "invalid group length in group 4: expected 12, found 13",
        ),
        (
            "urn:uuid:01a20c59-0000-7000-8000-00000000000",
            "invalid group length in group 4: expected 12, found 20",
        ),
        ("{01a20c59-0000-7000-8000-}", "invalid group length in group 4: expected 12, found 2"),
        ("{01a20c59-0000-7000-80000-}", "invalid group length in group 3: expected 4, found 5"),
    ],
)
def test_activity_thread_id_errors(bundle: Scenario, value: str, message: str) -> None:
    two_threads(bundle)
    activity = {
        "event_id": "cs",
        "agent_thread_id": value,
        "agent_path": "/root/w",
        "kind": "started",
    }
    collab_call(bundle, "cs", "spawn_agent", activity)
    assert bundle.reduce_error().message == message


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/rootx", "absolute agent paths must start with `/root` or be `/morpheus`"),
        ("/root/", "absolute agent path must not end with `/`"),
        ("/root/A", "agent_name must use only lowercase letters, digits, and underscores"),
        ("/root/w/root", "agent_name `root` is reserved"),  # we read it (found by review)
    ],
)
def test_activity_agent_path_errors(bundle: Scenario, path: str, message: str) -> None:
    two_threads(bundle)
    activity = {"event_id": "cs", "agent_thread_id": CHILD, "agent_path": path, "kind": "completed"}
    collab_call(bundle, "cs", "wait_agent", activity)
    assert bundle.reduce_error().message == message


def test_write_stdin_arguments_that_do_not_read_make_no_operation(bundle: Scenario) -> None:
    bundle.begin()
    write_stdin(bundle, "w1", {"session_id": 1, "chars": None})
    write_stdin(bundle, "w2", {"session_id": 1, "yield_time_ms": -1})
    write_stdin(bundle, "w3", {"session_id": 1.5})
    operations = bundle.reduce()["terminal_operations"]
    assert [op["tool_call_id"] for op in operations.values()] == ["w3"]


def test_delivery_must_be_written_by_the_sending_agent(bundle: Scenario) -> None:
    two_threads(bundle)
    send(bundle, "s1", "hi")
    bundle.accept(
        "am1",
        thread_id=CHILD,
        turn_id="tc",
        receipt=agent_message("am1", "hi", author="/root/someone_else", recipient="/root/w"),
    )
    assert bundle.reduce()["interaction_edges"] == {}


def test_a_claimed_receipt_keeps_its_metadata_so_a_resend_may_not_match(
    bundle: Scenario,
) -> None:
    bundle.begin()
    bundle.accept("am1", receipt=agent_message("am1", "hello", author="", recipient="/root"))
    resent = agent_message("am1", "hello", author="/root/w", recipient="/root")
    bundle.infer("inf-1", request(message("user", "x", "u1"), resent))
    bundle.infer("inf-2", request(message("user", "x", "u1"), resent))
    state = bundle.reduce()
    assert state["inference_calls"]["inf-1"]["request_item_ids"] == [
        "conversation_item:2",
        "conversation_item:1",
    ]
    assert state["inference_calls"]["inf-2"]["request_item_ids"] == [
        "conversation_item:2",
        "conversation_item:3",
    ]
    assert state["conversation_items"]["conversation_item:1"]["agent_message"]["author"] == ""


def test_a_compaction_checkpoint_claims_a_receipt(bundle: Scenario) -> None:
    bundle.begin()
    delivered = agent_message("am1", "done", author="/root/w", recipient="/root")
    bundle.accept("am1", receipt=delivered)
    checkpoint = bundle.payload(
        "compaction_checkpoint",
        {
            "input_history": [delivered],
            "replacement_history": [{"type": "compaction", "encrypted_content": "S"}],
        },
    )
    bundle.event(ev.CompactionInstalled("cmp-1", checkpoint), thread=ROOT, turn=TURN)
    compaction = bundle.reduce()["compactions"]["cmp-1"]
    assert compaction["input_item_ids"] == ["conversation_item:1"]
    assert compaction["marker_item_id"] == "conversation_item:2"


def test_lenient_replay_goes_on_without_missing_thread_metadata(bundle: Scenario) -> None:
    from rollout_trace_sdk.reduce import reduce_bundle

    bundle.event(ev.RolloutStarted("trace-1", ROOT))
    bundle.start_thread(metadata={"model": "m"})
    bundle.start_turn()
    (bundle.root / "payloads" / "1.json").unlink()
    notes: list[str] = []
    trace = reduce_bundle(bundle.root, lenient=True, skipped=notes)
    assert trace.threads[ROOT].default_model is None
    assert TURN in trace.codex_turns
    assert any("raw_payload:1" in note for note in notes)
