"""Events queued flat (``_encode.FLAT_BUILDERS``, the tool call's hot path) become the lines the
same events queued as objects become: byte for byte, over the corpus and over made-up calls."""

from __future__ import annotations

import contextlib
import enum
import types
import warnings
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from rollout_trace_sdk.model import codec
from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.record import RecorderWarning, _tool_events, open_rollout, tool_kinds, tools
from rollout_trace_sdk.record._encode import FLAT_BUILDERS, LineEncoder, flat_ref, payload_dict
from rollout_trace_sdk.record._item_store import ItemStore
from rollout_trace_sdk.record._known_refs import freeze
from rollout_trace_sdk.record._queue import RecordQueue
from rollout_trace_sdk.record._tool_fast import FastTools
from tests.conftest import CONFORMANCE_V3
from tests.record.recorder_support import (
    bundle_in,
    events,
    loss_report,
    normalised_lines,
    payload_text,
)

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
    # last in a queued flat event, after its envelope and values
    assert flat_ref((1, 2, "th", None, 0, "x", *freeze(ref)), 6) == codec.ref_to_dict_v3(ref)


def _flat(payload: Any) -> tuple[Any, ...] | None:
    """The flat tuple the tool call queues for ``payload``, if it queues one of its kind."""
    if payload.__class__ is ev.ToolCallEnded:
        ref = payload.result_payload
        frozen = (None,) if ref is None else freeze(ref)
        return (_tool_events._ENDED, payload.tool_call_id, payload.status, *frozen)
    if (
        payload.__class__ is ev.HistoryItemAcceptedV3
        and payload.agent_message_payload is None
        and payload.tool_output_payload is not None
    ):
        return (_tool_events._ACCEPTED, payload.item_id, *freeze(payload.tool_output_payload))
    return None


def _queued(flat: tuple[Any, ...]) -> tuple[Any, ...]:
    """``flat`` as the queue holds it (an envelope first) and its builder is given it."""
    return (1, 2, "th", "tu", *flat)


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
            assert encoder.line((*queued, *flat)) == line + b"\n"


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
    flat = (_tool_events._STARTED, *fields, *((None,) if ref is None else freeze(ref)))
    event = _tool_events._started(fields, tool_kinds.tool_kind(fields[4]), ref)
    assert FLAT_BUILDERS[_tool_events._STARTED](_queued(flat)) == payload_dict(event, 3)
    encoder = LineEncoder("rollout", schema=3)
    assert encoder.line(_queued(flat)) == encoder.line((1, 2, "th", "tu", event))


@pytest.mark.parametrize("ref", [None, *REFS])
@pytest.mark.parametrize("status", ["completed", "failed"])
def test_an_end_queued_flat_is_the_end_queued_as_an_object(
    ref: ev.RawPayloadRef | None, status: ev.ExecutionStatus
) -> None:
    flat = (_tool_events._ENDED, "call_1", status, *((None,) if ref is None else freeze(ref)))
    event = ev.ToolCallEnded("call_1", status, ref)
    assert FLAT_BUILDERS[_tool_events._ENDED](_queued(flat)) == payload_dict(event, 3)


@pytest.mark.anyio
async def test_an_output_with_a_data_url_is_serialised_once_on_the_hot_path(
    tmp_path: Path,
) -> None:
    """An output item that may hold a content value (a ``data:`` URL) was serialised by the hot
    path (``ItemStore.tool_output``), handed back, and serialised again by the general path:
    what the value encoder changed in it was counted twice (a set: "2 sets recorded as lists"
    in the loss report for one set). Found by review21b, diffing bundles of the two paths."""
    with pytest.warns(RecorderWarning, match="sets recorded as lists"):
        async with open_rollout(tmp_path, schema_version=3) as rollout, rollout.root.turn() as turn:
            call = turn.tool_call("call_1", "f", arguments="{}")
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


# --- the common tool call in few steps (_tool_fast) against the general path ------------------


class _Name(enum.StrEnum):
    EXEC = "exec_command"


_ARGS = {"cmd": "ls -la", "timeout_ms": 10}
_SURROGATE_ARGS = '{"cmd":"a\ud800"}'
_BIG_ARGS = '{"cmd":"' + "q" * 70_000 + '"}'


def _out(call_id: Any, text: Any = "ok", **more: Any) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": text, **more}


async def _tool_script(turn: Any) -> list[Any]:
    """Tool calls of the common case and of every case the fused path leaves to the general
    one (``_tool_fast``: each condition of ``FastTools.start`` and ``completed``), with what
    each ending call returned."""
    back: list[Any] = []
    same = '{"cmd":"pwd"}'
    args = dict(_ARGS)
    # the common case: dict and text arguments, the same objects again (the memo) under the
    # same name and another, a dict changed between calls (not the last call's bytes)
    exec_command = "exec_command"
    common: list[tuple[str, Any]] = [
        (exec_command, _ARGS),
        (exec_command, _ARGS),
        ("g", _ARGS),
        (exec_command, same),
        (exec_command, same),
        ("g", same),
        ("g", args),
        ("g", args),
        ("g", _SURROGATE_ARGS),
    ]
    for i, (name, arguments) in enumerate(common):
        async with turn.tool_call(f"a{i}", name, arguments=arguments) as tool:
            back.append(tool.completed(_out(f"a{i}", f"out {i}")))
        args["cmd"] = f"ls {i}"
    back.append(turn.tool_call("s1", "g", arguments=_SURROGATE_ARGS).completed(None))
    back.append(turn.tool_call("s2", "other_tool", arguments=same).completed(_out("s2")))
    back.append(turn.tool_call("b1", "f", arguments=_BIG_ARGS).completed(_out("b1")))
    back.append(turn.tool_call("b2", "f", arguments=_BIG_ARGS).completed(_out("b2")))
    back.append(turn.tool_call("set", "f", arguments={"s": {1}}).completed(_out("set")))
    # a dict orjson refuses after its hook converted part of it (a set, bytes): each counted
    # as often as the general path counts it (the fused path's own orjson pass counted it
    # once more)
    for i, refused in enumerate([{"s": {1}, "b": 2**70}, {"b": b"x", 3: 4}]):
        back.append(turn.tool_call(f"r{i}", "f", arguments=refused).completed(_out(f"r{i}")))
    # the start's fallbacks: mistyped name or id, wait, arguments of other kinds, an id used
    # again, a namespace, input, search, command
    back.append(turn.tool_call("e1", _Name.EXEC, arguments=same).completed(_out("e1")))
    back.append(turn.tool_call(7, "f", arguments=same).completed(_out("7")))
    back.append(turn.tool_call("w1", "wait", arguments='{"cell_id":"9"}').completed(_out("w1")))
    back.append(turn.tool_call("w2", "wait", arguments="{}").completed(_out("w2")))
    for i, odd in enumerate([None, types.MappingProxyType({"k": 1}), ["x"], _Name.EXEC]):
        back.append(turn.tool_call(f"k{i}", "f", arguments=odd).completed(_out(f"k{i}")))
    back.append(turn.tool_call("a0", "exec_command", arguments=same).completed(_out("a0", "2nd")))
    back.append(turn.tool_call("n1", "f", namespace="mcp", arguments=same).completed(_out("n1")))
    back.append(turn.tool_call("i1", "exec", input="code").completed(_out("i1")))
    back.append(turn.tool_call("t1", "tool_search", search={"query": "q"}).completed(_out("t1")))
    back.append(turn.tool_call("l1", "local_shell", command=["ls"]).completed(_out("l1")))
    # from another OS thread: the general path, through the inbox
    tool = await anyio.to_thread.run_sync(lambda: turn.tool_call("th", "f", arguments=same))
    back.append(await anyio.to_thread.run_sync(lambda: tool.completed(_out("th"))))
    tool = turn.tool_call("th2", "f", arguments=same)
    back.append(await anyio.to_thread.run_sync(lambda: tool.completed(_out("th2"))))
    # the output's fallbacks: an id, another type, not a dict, a long string, a data: URL,
    # another call's id or none, ended twice, failed, a renamed call
    outputs: list[Any] = [
        _out("o0", id="fco_given"),
        {"type": "message", "role": "user", "content": "hi"},
        "bare text",
        types.MappingProxyType(_out("o3")),
        _out("o4", "z" * 70_000),
        _out("o5", "data:image/png;base64," + "A" * 90),
        _out("other"),
        {"type": "function_call_output", "output": "no id"},
        _out("o8", [{"type": "input_text", "text": "t"}]),
        {"type": "custom_tool_call_output", "call_id": "o9", "output": "c"},
    ]
    for i, output in enumerate(outputs):
        back.append(turn.tool_call(f"o{i}", "f", arguments=same).completed(output))
    tool = turn.tool_call("d1", "f", arguments=same)
    back += [tool.completed(_out("d1")), tool.completed(_out("d1", "again"))]
    back.append(turn.tool_call("f1", "f", arguments=same).failed(output_item=_out("f1", "no")))
    back.append(turn.tool_call("f2", "f", arguments=same).failed("broken"))
    # calls the model made (a recorded response), one id twice (renamed #2)
    calls = [
        {"type": "function_call", "call_id": "m1", "name": "f", "arguments": same},
        {"type": "function_call", "call_id": "m2", "name": "f", "arguments": "{}"},
    ]
    for _ in range(2):
        async with turn.inference({"model": "m", "input": ["go"]}) as inference:
            inference.completed(output_items=calls)
        for call in calls:
            async with turn.tool_call(call["call_id"], "f", arguments=call["arguments"]) as tool:
                back.append(tool.completed(_out(call["call_id"])))
    # a code cell's own call, and a wait on the cell that ends before the cell does
    async with turn.tool_call("cell", "exec", input="js") as tool:
        cell = tool.code_cell("1", "js")
        nested = cell.tool_call("n1", "f", runtime_tool_id="r1", arguments=same)
        back.append(nested.completed(_out("n1")))
        cell.yielded()
        back.append(tool.completed({"type": "custom_tool_call_output", "call_id": "cell"}))
    async with turn.tool_call("w3", "wait", arguments={"cell_id": "1"}) as tool:
        back.append(tool.completed(_out("w3")))
    cell.finished()
    async with turn.tool_call("x1", "f", arguments=same):
        pass  # ended by its block
    with contextlib.suppress(ValueError):
        async with turn.tool_call("x2", "f", arguments=same):
            raise ValueError("boom")
    return back


async def _full_queue_script(turn: Any) -> list[Any]:
    """Calls made without a pause (the writer cannot run) until the queue refuses them
    (``overflow="drop"``): starts, payloads and ends dropped, where the fused path and the
    general one must decide alike."""
    back: list[Any] = []
    for i in range(400):
        tool = turn.tool_call(f"q{i}", "exec_command", arguments={"cmd": "x" * (i % 7)})
        back.append(tool.completed(_out(f"q{i}", "y" * (i % 300))))
        back.append(tool.ended)
    return back


async def _tool_bundle(
    tmp: Path, script: Any = _tool_script, **options: Any
) -> tuple[list[bytes], list[Any]]:
    """The event lines and, after each, the texts of the payloads it cites (normalised),
    and what the script's calls returned."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecorderWarning)
        async with (
            open_rollout(tmp, schema_version=3, **options) as rollout,
            rollout.root.turn() as turn,
        ):
            back = await script(turn)
    return normalised_lines(bundle_in(tmp)), back


@pytest.mark.anyio
@pytest.mark.parametrize("redact", [True, False])
async def test_the_fused_tool_call_records_what_the_general_path_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redact: bool
) -> None:
    """Every case of the script through the fused path where it applies, then with the fused
    path off: the same lines, payloads, loss report, and the same items handed back."""
    calls: list[str] = []
    real_start, real_completed = FastTools.start, FastTools.completed

    def start(self: FastTools, *args: Any) -> Any:
        made = real_start(self, *args)
        calls.append("start" if made is not None else "start fallback")
        return made

    def completed(self: FastTools, *args: Any) -> Any:
        done = real_completed(self, *args)
        calls.append("completed" if done is not None else "completed fallback")
        return done

    monkeypatch.setattr(FastTools, "start", start)
    monkeypatch.setattr(FastTools, "completed", completed)
    fused = await _tool_bundle(tmp_path / "fused", redact=redact)
    # the script took both paths: the common case and every fallback
    assert calls.count("start") >= 20 and calls.count("start fallback") >= 10, calls
    assert calls.count("completed") >= 20 and calls.count("completed fallback") >= 5, calls
    monkeypatch.setattr(FastTools, "start", lambda self, *args: None)
    monkeypatch.setattr(FastTools, "completed", lambda self, *args: None)
    general = await _tool_bundle(tmp_path / "general", redact=redact)
    assert fused[1] == general[1]
    assert fused[0] == general[0]


@pytest.mark.anyio
async def test_the_fused_tool_call_drops_what_the_general_path_drops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options: dict[str, Any] = {"overflow": "drop", "max_queued_bytes": 64 << 10}
    fused = await _tool_bundle(tmp_path / "fused", _full_queue_script, **options)
    monkeypatch.setattr(FastTools, "start", lambda self, *args: None)
    monkeypatch.setattr(FastTools, "completed", lambda self, *args: None)
    general = await _tool_bundle(tmp_path / "general", _full_queue_script, **options)
    assert fused[1] == general[1]
    assert fused[0] == general[0]
    assert b"dropped" in b"".join(fused[0]), "the queue refused nothing"


def _slots(cls: type) -> list[str]:
    return [name for klass in cls.__mro__ for name in getattr(klass, "__slots__", ())]


@pytest.mark.anyio
@pytest.mark.parametrize("lost_invocation", [False, True])
async def test_a_fused_tool_call_has_every_field_the_general_one_has(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lost_invocation: bool
) -> None:
    """``FastTools.start`` makes the handle without ``ToolCall.__init__`` (through
    ``ToolCall._fields``, then what its case decides): each field (a slot it forgot would
    raise AttributeError in a later call) is what ``__init__`` sets, also when the
    invocation could not be serialised (a value's hook failing: no invocation in the
    bundle, which ``_invocation`` must say)."""
    if lost_invocation:
        snapshot = RecordQueue._snapshot

        def failing(self: RecordQueue, kind: str, value: Any) -> Any:
            return None if kind == "tool_invocation" else snapshot(self, kind, value)

        monkeypatch.setattr(RecordQueue, "_snapshot", failing)
    made: list[dict[str, Any]] = []
    for fused in (True, False):
        if not fused:
            monkeypatch.setattr(FastTools, "start", lambda self, *args: None)
        async with (
            open_rollout(tmp_path / str(fused), schema_version=3, thread_id=_THREAD) as rollout,
            rollout.root.turn() as turn,
        ):
            tool = turn.tool_call("c", "exec_command", arguments={"cmd": "ls"})
            fields = {name: getattr(tool, name) for name in _slots(tools.ToolCall)}
            assert fields.pop("_turn") is turn and fields.pop("_turn_id") == turn.turn_id
            assert fields.pop("_rt") is turn._rt
            made.append(fields)
            tool.completed(None)
    assert made[0] == made[1]
    assert made[0]["_live"] and not made[0]["_done"] and made[0]["tool_call_id"] == "c"
    assert made[0]["_invocation"] is not lost_invocation


@pytest.mark.anyio
@pytest.mark.parametrize("fused", [True, False])
async def test_dict_arguments_the_hook_converted_are_counted_once_per_conversion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fused: bool
) -> None:
    """A set or bytes in dict arguments, then something orjson refuses (an integer beyond 64
    bits, a non-string key), or nothing: each conversion counted once in the loss report, on
    the fused path as on the general one. Before, both counted a refused dict's set and
    bytes twice (the hook, then the slow path): set 3, bytes 2."""
    starts: list[bool] = []
    real_start = FastTools.start

    def start(self: FastTools, *args: Any) -> Any:
        made = real_start(self, *args) if fused else None
        starts.append(made is not None)
        return made

    monkeypatch.setattr(FastTools, "start", start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecorderWarning)
        async with (
            open_rollout(tmp_path, schema_version=3) as rollout,
            rollout.root.turn() as turn,
        ):
            cases: list[dict[Any, Any]] = [{"s": {1}, "n": 2**70}, {"b": b"x", 3: 4}, {"s": {2}}]
            for i, arguments in enumerate(cases):
                turn.tool_call(f"r{i}", "f", arguments=arguments).completed(_out(f"r{i}"))
    assert starts == [fused] * 3
    assert rollout.stats is not None
    assert rollout.stats.approximated == {"set": 2, "bytes": 1, "key": 1}
    report = loss_report(bundle_in(tmp_path))
    assert "2 sets recorded as lists" in report and "1 bytes recorded as base64" in report
