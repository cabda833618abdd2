"""``rollout-trace convert`` where Codex 0.169 and 0.171 read a turn differently, on bundles
built step by step (one thread, one turn): a wait's arguments, a tool output accepted as an
agent message, and receipts one Codex leaves unread or refuses. A copy the other Codex would
refuse is refused; the rest converts and reduces alike (found by the grammar differential
and numbers23's probe through convert)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import orjson
import pytest

from rollout_trace_sdk.reduce import ReduceError, reduce_bundle
from rollout_trace_sdk.reduce.acceptance import ACCEPTED_TOOL_OUTPUTS
from rollout_trace_sdk.reduce.convert import convert_bundle
from tests.codex_oracle import codex_bin


def _scenario(root: Path, schema: int, steps: list[tuple[str, object]]) -> Path:
    """A one-thread, one-turn bundle of ``schema`` whose turn holds ``steps``: ``("accept",
    (item id, receipt body (its text if a string) or None, tool output body or None))``,
    ``("request", input)`` (an
    inference started with that input), ``("tool", invocation)`` (a tool call started; its
    text if a string)."""
    from rollout_trace_sdk.model import events as ev
    from rollout_trace_sdk.testing import BundleBuilder

    with BundleBuilder(root, schema=schema) as b:
        thread, turn = b.root_thread_id, "turn-1"
        b.event(ev.RolloutStarted("trace-1", thread))
        b.event(ev.ThreadStarted(thread, "/root", None), thread=thread)
        b.event(ev.CodexTurnStarted(turn, thread), thread=thread, turn=turn)
        for number, (step, value) in enumerate(steps):
            if step == "accept":
                item_id, receipt, output = cast("tuple[str, Any, Any]", value)
                rec = b.payload("protocol_event", receipt) if receipt is not None else None
                if isinstance(receipt, str):
                    rec = b.raw_payload("protocol_event", receipt)
                out = b.payload("protocol_event", output) if output is not None else None
                accepted: ev.EventPayload = (
                    ev.HistoryItemAcceptedV3(item_id, rec, out)
                    if schema == 3
                    else ev.HistoryItemAccepted(item_id, rec)
                )
                b.event(accepted, thread=thread, turn=turn)
            elif step == "request":
                body = {"model": "m", "input": value}
                ref = b.payload("inference_request", body)
                started = ev.InferenceStarted(f"inf-{number}", thread, turn, "m", "p", ref)
                b.event(started, thread=thread, turn=turn)
            else:
                ref = (
                    b.raw_payload("tool_invocation", value)
                    if isinstance(value, str)
                    else b.payload("tool_invocation", value)
                )
                summary = ev.GenericSummary("wait", None)
                kind = ev.ToolCallKind.other("wait")
                started_tool = ev.ToolCallStarted(
                    f"tool-{number}", None, None, ev.ModelRequester(), kind, summary, ref
                )
                b.event(started_tool, thread=thread, turn=turn)
        b.event(ev.CodexTurnEnded(turn, "completed"), thread=thread, turn=turn)
        b.event(ev.ThreadEnded(thread, "completed"), thread=thread)
        b.event(ev.RolloutEnded("completed"))
        b.event(ev.RecordingCompleted())
    return root


def _agent_message(item_id: str) -> dict[str, object]:
    content = [{"type": "input_text", "text": "hi"}]
    return {"type": "agent_message", "id": item_id, "author": "/root", "recipient": "/root",
            "content": content}  # fmt: skip


def _converted_reduces_alike(source: Path, target: Path, schema: int) -> None:
    """``source`` reduces (with its Codex too); its conversion to ``schema`` is written and
    reduced alike by that schema's Codex."""
    from rollout_trace_sdk.testing import reduce_and_compare

    reduce_bundle(source)
    for bundle, codex in ((source, codex_bin(5 - schema)), (target, codex_bin(schema))):
        if bundle is target:
            convert_bundle(source, target, schema)
        if codex is not None:
            result = reduce_and_compare(bundle, codex, timeout=60)
            assert result.ours is not None and result.same, result.explain()


@pytest.mark.parametrize(
    "arguments", [{"arguments": "{}"}, {"arguments": "{not json"}, {"input": "x"}]
)
def test_a_wait_whose_arguments_name_no_cell_is_refused_for_schema_2(
    tmp_path: Path, arguments: dict[str, str]
) -> None:
    """Codex 0.171 reads no wait's arguments (it links waits from confirmed-wait events);
    0.169 reads every wait's and refuses one that names no cell. The copy was written, and
    0.169 refused it (found by review: the grammar differential through convert)."""
    invocation = {"tool_name": "wait", "tool_namespace": None, "payload": arguments}
    source = _scenario(tmp_path / "v3", 3, [("tool", invocation)])
    reduce_bundle(source)
    with pytest.raises(ReduceError, match=r"which Codex 0\.169 refuses; schema 2 cannot") as info:
        convert_bundle(source, tmp_path / "v2", 2)
    assert info.value.line == 4 and info.value.seq == 4
    assert not (tmp_path / "v2").exists()


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        (r'{"tool_name":"ex\uD800ec","payload":{}}', "unexpected end of hex escape"),
        (r'{"tool_name":"x","payload":{"a":"\udc00"}}', "lone leading surrogate"),
    ],
)
def test_an_invocation_0169_cannot_parse_is_refused_for_schema_2(
    tmp_path: Path, text: str, cause: str
) -> None:
    """Codex 0.171 reads only a ``write_stdin``'s invocation; 0.169 parses every one in its
    handler (serde's ``Value``, which refuses a lone surrogate escape) and refused the copy,
    which was written (found by the string differential, seed 26703: a tool name given a
    lone surrogate)."""
    from rollout_trace_sdk.testing import reduce_and_compare

    source = _scenario(tmp_path / "v3", 3, [("tool", text)])
    codex = codex_bin(3)
    if codex is not None:
        result = reduce_and_compare(source, codex, timeout=60)
        assert result.ours is not None and result.same, result.explain()
    reduce_bundle(source)
    with pytest.raises(ReduceError) as info:
        convert_bundle(source, tmp_path / "v2", 2)
    assert info.value.message == (
        "parse payload raw_payload:1, which Codex 0.169 refuses; schema 2 cannot say so"
    )
    assert info.value.cause is not None and info.value.cause.startswith(cause)
    assert info.value.line == 4 and info.value.seq == 4
    assert not (tmp_path / "v2").exists()


def test_a_wait_naming_its_cell_converts_to_schema_2(tmp_path: Path) -> None:
    invocation = {"tool_name": "wait", "payload": {"arguments": '{"cell_id": "1"}'}}
    source = _scenario(tmp_path / "v3", 3, [("tool", invocation)])
    _converted_reduces_alike(source, tmp_path / "v2", 2)


@pytest.mark.parametrize("kind", sorted(ACCEPTED_TOOL_OUTPUTS))
def test_a_tool_output_accepted_as_an_agent_message_is_dropped_for_schema_2(
    tmp_path: Path, kind: str
) -> None:
    """Codex 0.171 makes an item of a tool output carried as ``agent_message_payload``; 0.169
    refuses anything but an agent message there. It is dropped as a ``tool_output_payload``
    is; it was carried over, and 0.169 refused the copy (found by review: the grammar
    differential through convert). Each kind of tool output (only a function's was tried:
    dropping only that kind passed, mut30)."""
    output = {"type": kind, "id": "m1", "call_id": "c1", "output": "ok"}
    source = _scenario(tmp_path / "v3", 3, [("accept", ("m1", output, None))])
    _converted_reduces_alike(source, tmp_path / "v2", 2)
    assert b"agent_message_payload" not in (tmp_path / "v2" / "trace.jsonl").read_bytes()


def _without_id() -> dict[str, object]:
    message = _agent_message("m1")
    del message["id"]
    return message


@pytest.mark.parametrize(
    ("receipt", "said"),
    [(_agent_message("m2"), "the agent message 'm2'"), (_without_id(), "without an id")],
)
def test_a_receipt_0_171_left_unread_is_refused_for_schema_2(
    tmp_path: Path, receipt: dict[str, object], said: str
) -> None:
    """0.171 reads no receipt of an item its thread holds (here made from a tool output,
    which schema 2 drops); 0.169 would read it, and refused the copy (found by review: the
    grammar differential through convert)."""
    output = {"type": "function_call_output", "id": "m1", "call_id": "c1", "output": "ok"}
    steps: list[tuple[str, object]] = [
        ("accept", ("m1", None, output)),
        ("accept", ("m1", receipt, None)),
    ]
    source = _scenario(tmp_path / "v3", 3, steps)
    reduce_bundle(source)
    with pytest.raises(ReduceError, match=rf"{said}, which Codex 0\.169 may read"):
        convert_bundle(source, tmp_path / "v2", 2)
    assert not (tmp_path / "v2").exists()


@pytest.mark.parametrize("receipt", [_agent_message("m2"), {"type": "message", "id": "m1"}])
def test_a_receipt_0_169_left_unread_is_refused_for_schema_3(
    tmp_path: Path, receipt: dict[str, object]
) -> None:
    """0.169 reads no receipt of an item its thread holds (here a user message a request
    made); 0.171 makes an accepted item beside such an item, so it reads the receipt and
    refused the copy (found by review: the grammar differential through convert)."""
    user = {"type": "message", "role": "user", "id": "m1",
            "content": [{"type": "input_text", "text": "hi"}]}  # fmt: skip
    steps: list[tuple[str, object]] = [("request", [user]), ("accept", ("m1", receipt, None))]
    source = _scenario(tmp_path / "v2", 2, steps)
    reduce_bundle(source)
    with pytest.raises(ReduceError, match=r"which Codex 0\.171 may read and refuse; schema 3"):
        convert_bundle(source, tmp_path / "v3", 3)
    assert not (tmp_path / "v3").exists()


def test_a_receipt_of_its_own_item_converts_to_schema_3(tmp_path: Path) -> None:
    source = _scenario(tmp_path / "v2", 2, [("accept", ("m1", _agent_message("m1"), None))])
    _converted_reduces_alike(source, tmp_path / "v3", 3)


@pytest.mark.parametrize(
    "number", ["18446744073709551616", "-9223372036854775809", "1e400", '{"turn_id": 1e-400}']
)
def test_a_receipt_0_169_refuses_is_refused_for_schema_2(tmp_path: Path, number: str) -> None:
    """0.171 reads a receipt's routing and content; 0.169 reads the whole agent message,
    buffered, and refuses an integer past 64 bits anywhere in it (``as u128``) or passthrough
    metadata it cannot read. The copy was written, and 0.169 refused it (found by numbers23's
    probe: a number put in a receipt's passthrough metadata, through convert)."""
    receipt = orjson.dumps(_agent_message("m1")).decode()[:-1]
    passthrough = number if number.startswith("{") else '{"extra": [' + number + "]}"
    receipt += ', "internal_chat_message_metadata_passthrough": ' + passthrough + "}"
    source = _scenario(tmp_path / "v3", 3, [("accept", ("m1", receipt, None))])
    codex = codex_bin(3)
    if codex is not None:  # 0.171 reduces the source as we do
        from rollout_trace_sdk.testing import reduce_and_compare

        result = reduce_and_compare(source, codex, timeout=60)
        assert result.ours is not None and result.same, result.explain()
    if number == "1e400":  # a number 0.169 keeps as text: no refusal, the copy reduces alike
        _converted_reduces_alike(source, tmp_path / "v2", 2)
        return
    with pytest.raises(ReduceError, match=r"which Codex 0\.169 refuses; schema 2 cannot say so"):
        convert_bundle(source, tmp_path / "v2", 2)
    assert not (tmp_path / "v2").exists()


def test_a_receipt_0_171_refuses_is_refused_for_schema_3(tmp_path: Path) -> None:
    """0.169 leaves the receipt of an item its thread holds unread (here one a request
    made); 0.171 reads it (no accepted item holds its id) and refuses a content entry whose
    type is a number. The copy was written, and 0.171 refused it (found by numbers23's probe:
    -0 put in a receipt's content type, multi_agent_v2_nested_fork, through convert)."""
    receipt = _agent_message("m1")
    receipt["content"] = [{"type": 0, "text": "hi"}]
    steps: list[tuple[str, object]] = [
        ("request", [_agent_message("m1")]),
        ("accept", ("m1", receipt, None)),
    ]
    source = _scenario(tmp_path / "v2", 2, steps)
    codex = codex_bin(2)
    if codex is not None:  # 0.169 reduces the source as we do
        from rollout_trace_sdk.testing import reduce_and_compare

        result = reduce_and_compare(source, codex, timeout=60)
        assert result.ours is not None and result.same, result.explain()
    with pytest.raises(ReduceError, match=r"which Codex 0\.171 refuses; schema 3 cannot say so"):
        convert_bundle(source, tmp_path / "v3", 3)
    assert not (tmp_path / "v3").exists()
