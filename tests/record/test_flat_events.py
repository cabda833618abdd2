"""Events queued flat (``_encode.FLAT_BUILDERS``, the tool call's hot path) become the lines the
same events queued as objects become: byte for byte, over the corpus and over made-up calls."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.model import codec
from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.record import RecorderWarning, open_rollout, tool_kinds, tools
from rollout_trace_sdk.record._encode import FLAT_BUILDERS, LineEncoder, flat_ref, payload_dict
from rollout_trace_sdk.record._item_store import ItemStore
from rollout_trace_sdk.record._known_refs import freeze
from tests.conftest import CONFORMANCE_V3
from tests.record.recorder_support import bundle_in, events, loss_report, payload_text

_LOGS = sorted(CONFORMANCE_V3.glob("*/*/trace.jsonl")) if CONFORMANCE_V3.is_dir() else []

_ITEM = ev.RawPayloadRef("raw_payload:7", "model_item", "", 1)
_OMITTED = ev.RawPayloadRef(
    "raw_payload:8", "model_item", "", None, ev.PayloadCapture("omitted", 9)
)
_CUT = ev.RawPayloadRef("raw_payload:9", "model_item", "", 2, ev.PayloadCapture("truncated", 9, 4))
REFS = [
    _ITEM,
    _OMITTED,
    _CUT,
    ev.RawPayloadRef("raw_payload:10", "tool_result", "", 3, None, (_ITEM,)),
    ev.RawPayloadRef("raw_payload:11", "tool_result", "", 3, None, (_ITEM, _CUT, _OMITTED)),
    ev.RawPayloadRef(
        "raw_payload:12",
        "inference_request",
        "",
        4,
        None,
        (ev.RawPayloadRef("raw_payload:13", "model_item", "", 4, None, (_CUT, _ITEM)), _ITEM),
    ),
    # one part (flat_ref's short cut takes a part with neither capture nor parts only)
    ev.RawPayloadRef("raw_payload:14", "tool_result", "", 3, None, (_CUT,)),
    ev.RawPayloadRef("raw_payload:15", "tool_result", "", 3, None, (_OMITTED,)),
    ev.RawPayloadRef(
        "raw_payload:16",
        "tool_result",
        "",
        5,
        None,
        (ev.RawPayloadRef("raw_payload:10", "tool_result", "", 3, None, (_ITEM,)),),
    ),
]


@pytest.mark.parametrize("ref", REFS)
def test_a_flat_reference_is_written_as_the_codec_writes_the_reference(
    ref: ev.RawPayloadRef,
) -> None:
    assert flat_ref(freeze(ref)) == codec.ref_to_dict_v3(ref)


def _flat(payload: Any) -> tuple[Any, ...] | None:
    """The flat tuple the tool call queues for ``payload``, if it queues one of its kind."""
    if payload.__class__ is ev.ToolCallEnded:
        ref = payload.result_payload
        return (tools._ENDED, payload.tool_call_id, payload.status, ref and freeze(ref))
    if (
        payload.__class__ is ev.HistoryItemAcceptedV3
        and payload.agent_message_payload is None
        and payload.tool_output_payload is not None
    ):
        return (tools._ACCEPTED, payload.item_id, freeze(payload.tool_output_payload))
    return None


@pytest.mark.skipif(not _LOGS, reason="../shared/conformance-v3 is not present")
@pytest.mark.parametrize("log", _LOGS, ids=[p.parent.parent.name for p in _LOGS])
def test_corpus_ends_and_acceptances_queued_flat_are_written_back_to_their_bytes(
    log: Path,
) -> None:
    encoder: LineEncoder | None = None
    for line in log.read_bytes().splitlines():
        event = codec.parse_event_line(line, 3)
        encoder = encoder or LineEncoder(event.rollout_id, schema=3)
        flat = _flat(event.payload)
        if flat is not None:
            queued = (event.seq, event.wall_time_unix_ms, event.thread_id, event.codex_turn_id)
            assert encoder.line((*queued, flat)) == line + b"\n"


STARTS = [
    ("call_1", "call_1", None, None, "exec_command", None, '{"cmd":"ls"}'),
    ("t#2", None, "rt_3", "cell_1", "my_tool", "mcp__srv", "x" * 500),
    ("t3", "call_9", None, None, "spawn_agent", None, None),
    ("t4", "c", None, None, "wait", None, '{"cell_id":"1"}'),
    ("t5", "c\u2028é", None, None, "apply_patch", "", "*** Begin Patch\nghp_" + "a" * 36),
]


@pytest.mark.parametrize("fields", STARTS)
@pytest.mark.parametrize("ref", [None, *REFS[:3]])
def test_a_start_queued_flat_is_the_start_queued_as_an_object(
    fields: tuple[Any, ...], ref: ev.RawPayloadRef | None
) -> None:
    flat = (tools._STARTED, *fields, None if ref is None else freeze(ref))
    event = tools._started(fields, tool_kinds.tool_kind(fields[4]), ref)
    assert FLAT_BUILDERS[tools._STARTED](flat) == payload_dict(event, 3)
    encoder = LineEncoder("rollout", schema=3)
    assert encoder.line((1, 2, "th", "tu", flat)) == encoder.line((1, 2, "th", "tu", event))


@pytest.mark.parametrize("ref", [None, *REFS])
@pytest.mark.parametrize("status", ["completed", "failed"])
def test_an_end_queued_flat_is_the_end_queued_as_an_object(
    ref: ev.RawPayloadRef | None, status: ev.ExecutionStatus
) -> None:
    flat = (tools._ENDED, "call_1", status, None if ref is None else freeze(ref))
    event = ev.ToolCallEnded("call_1", status, ref)
    assert FLAT_BUILDERS[tools._ENDED](flat) == payload_dict(event, 3)


@pytest.mark.anyio
async def test_an_output_with_a_data_url_is_serialised_once_on_the_hot_path(
    tmp_path: Path,
) -> None:
    """An output item that may hold a content value (a ``data:`` URL) was serialised by the hot
    path (``ItemStore.tool_output``), handed back, and serialised again by the general path:
    what the value encoder changed in it was counted twice (a set: "2 sets recorded as lists"
    in the loss report for one set). Found by review21b, diffing bundles of the two paths."""
    with pytest.warns(RecorderWarning, match="sets recorded as lists"):
        async with open_rollout(tmp_path, schema_version=3) as rollout:
            call = rollout.root.turn().tool_call("call_1", "f", arguments="{}")
            output = {"type": "function_call_output", "call_id": "call_1", "output": "data:x,1"}
            call.completed({**output, "tags": {"a"}})
    report = loss_report(bundle_in(tmp_path))
    assert "recorded approximately: 1 sets recorded as lists" in report, report


# --- a tool's output through the hot path and through the general one ----------------------

_OUTPUTS: list[dict[str, Any]] = [
    {"type": "function_call_output", "call_id": "c", "output": "ok " * 40},
    {"type": "function_call_output", "call_id": "c", "output": "data:text/plain,hi"},
    {"type": "function_call_output", "call_id": "c", "output": "data:image/png;base64," + "A" * 90},
    {"type": "function_call_output", "call_id": "c", "output": "x" * 70_000},
    {"type": "function_call_output", "call_id": "c", "output": "a\ud800b", "n": 2**70},
    {"type": "function_call_output", "call_id": "c", "output": "o", "f": 1.5, "b": True, "z": None},
    {
        "type": "custom_tool_call_output",
        "call_id": "c",
        "output": [{"type": "input_text", "text": "t"}],
    },
    {
        "type": "function_call_output",
        "call_id": "c",
        "output": [[[[[{"image_url": "data:image/png;base64," + "B" * 90}]]]]],
    },
    {"type": "function_call_output", "call_id": "c", "output": [[[[[[[["deep"]]]]]]]] * 40},
    {"type": "function_call_output", "call_id": "c", "output": [[[[[["y" * 70_000]]]]]]},
]


async def _recorded_output(tmp: Path, output: dict[str, Any]) -> list[Any]:
    """The tool call's events (payload objects) and the texts of the payloads they cite."""
    async with (
        open_rollout(tmp, schema_version=3, thread_id=_THREAD) as rollout,
        rollout.root.turn() as turn,
        turn.tool_call("c", "exec_command", arguments={"cmd": "ls"}) as tool,
    ):
        tool.completed(output)
    bundle = bundle_in(tmp)
    out: list[Any] = []
    for event in events(bundle):
        if event["payload"]["type"] in {"tool_call_ended", "history_item_accepted"}:
            out.append(event["payload"])
            for ref in ("result_payload", "tool_output_payload"):
                if ref in event["payload"]:
                    out.append(payload_text(bundle, event["payload"][ref]))
    return out


_THREAD = "019a0000-0000-7000-8000-000000000001"


@pytest.mark.anyio
@pytest.mark.parametrize("output", _OUTPUTS, ids=range(len(_OUTPUTS)))
async def test_an_output_stored_by_the_hot_path_is_the_output_stored_by_the_general_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, output: dict[str, Any]
) -> None:
    with pytest.warns() if "n" in output else contextlib.nullcontext():
        hot = await _recorded_output(tmp_path / "hot", output)
    monkeypatch.setattr(ItemStore, "tool_output", lambda self, item: None)
    with pytest.warns() if "n" in output else contextlib.nullcontext():
        general = await _recorded_output(tmp_path / "general", output)
    assert hot == general
