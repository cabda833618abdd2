"""Values of another type than the hints name, recorded as what they mean (``record/_encode.py``):
paths given as bytes or ``Path``, a tool answered with bare text or bytes (its output item), string
enums (their values, not their names), bytes output (base64, as documented)."""

from __future__ import annotations

import enum
import os
import warnings
from pathlib import Path

import pytest

from rollout_trace_sdk.record import RecorderWarning, open_rollout

from .recorder_support import (
    bundle_in,
    check_bundle,
    loss_report,
    of_type,
    payload_text,
    user_message,
)

pytestmark = pytest.mark.anyio


async def test_paths_may_be_given_as_paths_or_bytes(tmp_path: Path) -> None:
    """``root=b"/path"`` raised ``TypeError`` into the agent; a ``Path`` for ``cwd`` was
    recorded as ``<unserialisable PosixPath: ...>``."""
    root = os.fsencode(tmp_path)
    async with (
        open_rollout(root, cwd=tmp_path) as rollout,  # type: ignore[arg-type]
        rollout.root.turn() as turn,
        turn.tool_call("c1", "exec_command", arguments='{"cmd":"ls"}') as tool,
    ):
        session = tool.exec_started(["ls"], process_id=1, cwd=tmp_path / "sub")  # type: ignore[arg-type]
        session.exited(0, "")
    bundle = bundle_in(tmp_path)
    check_bundle(bundle)
    text = b"".join(p.read_bytes() for p in bundle.rglob("*.json")) + b"".join(
        payload_text(bundle, e["payload"]["runtime_payload"])
        for e in of_type(bundle, "tool_call_runtime_started")
    )
    assert b"unserialisable" not in text
    assert str(tmp_path / "sub").encode() in text


class _Ids(str, enum.Enum):  # noqa: UP042 - the case: str() of it is its name
    TURN = "turn_a"
    CALL = "call_a"


class _Outcome(str, enum.Enum):  # noqa: UP042
    DONE = "completed"


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_tool_answered_with_bare_text_records_the_text(schema: int, tmp_path: Path) -> None:
    """``tool.completed("a b c")`` recorded a result that was no item: the text never entered
    the history and no reducer showed it. It is the call's output item now (a custom tool's
    ``custom_tool_call_output``), handed back for the history, and counted."""
    with pytest.warns(RecorderWarning, match="answered with a bare str value instead of an output"):
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            async with turn.inference([user_message("list")]) as call:
                call.completed(
                    output_items=[
                        {
                            "type": "function_call",
                            "call_id": "c1",
                            "name": "ls",
                            "arguments": "{}",
                        },
                        {
                            "type": "custom_tool_call",
                            "call_id": "c2",
                            "name": "exec",
                            "input": "x",
                        },
                    ]
                )
            async with turn.tool_call("c1", "ls", arguments="{}") as tool:
                first = tool.completed("a b c")  # type: ignore[arg-type]
            async with turn.tool_call("c2", "exec", input="x") as tool:
                second = tool.completed("done")  # type: ignore[arg-type]
            async with turn.inference([user_message("list"), first, second]) as call:
                call.completed(output_items=[])
    assert (first["type"], first["call_id"], first["output"]) == (
        "function_call_output",
        "c1",
        "a b c",
    )
    assert (second["type"], second["output"]) == ("custom_tool_call_output", "done")
    state = check_bundle(bundle_in(tmp_path))
    outputs = {
        item["kind"]: item["body"]["parts"][0]["text"]
        for item in state["conversation_items"].values()
        if item["kind"].endswith("_output")
    }
    assert outputs == {"function_call_output": "a b c", "custom_tool_call_output": "done"}


async def test_bare_answers_warn_once_for_each_type_given(tmp_path: Path) -> None:
    """The warning for a bare answer names the type given (2f29908): one warning for each
    type, not one for the rollout, as docs/recording.md says; every answer is counted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
            for n, answer in enumerate([b"a", b"b", "c", b"d"]):
                async with turn.tool_call(f"c{n}", "cat", arguments="{}") as tool:
                    tool.completed(answer)  # type: ignore[arg-type]
    bare = [str(w.message) for w in caught if "answered with a bare" in str(w.message)]
    assert [m.split("bare ")[1].split(" ")[0] for m in bare] == ["bytes", "str"]
    report = loss_report(bundle_in(tmp_path))
    assert "4 values of another type than the trace holds" in report, report


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_tool_answered_with_bare_bytes_records_their_text(
    schema: int, tmp_path: Path
) -> None:
    """``tool.completed(b"...")`` was recorded, and handed back for the history, as Python's
    ``"b'...'"`` (found by review api33); bytes are their UTF-8 text now, as
    ``run_function_call`` sends a tool's bytes, and ``base64:`` when they are no UTF-8 (the
    recorder's form for bytes); the warning says what was wrong."""
    with pytest.warns(RecorderWarning, match="bare bytes value instead of an output item"):
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            calls = [
                {"type": "function_call", "call_id": c, "name": "cat", "arguments": "{}"}
                for c in ("c1", "c2")
            ]
            async with turn.inference([user_message("cat")]) as call:
                call.completed(output_items=calls)
            async with turn.tool_call("c1", "cat", arguments="{}") as tool:
                text = tool.completed(b"caf\xc3\xa9 ok")  # type: ignore[arg-type]
            async with turn.tool_call("c2", "cat", arguments="{}") as tool:
                binary = tool.completed(b"\x00\xff")  # type: ignore[arg-type]
            async with turn.inference([user_message("cat"), *calls, text, binary]) as call:
                call.completed(output_items=[])
    assert (text["call_id"], text["output"]) == ("c1", "café ok")
    assert (binary["call_id"], binary["output"]) == ("c2", "base64:AP8=")
    state = check_bundle(bundle_in(tmp_path))
    outputs = sorted(
        item["body"]["parts"][0]["text"]
        for item in state["conversation_items"].values()
        if item["kind"] == "function_call_output"
    )
    assert outputs == ["base64:AP8=", "café ok"]


async def test_string_enums_are_their_values(tmp_path: Path) -> None:
    """A ``(str, Enum)`` member was recorded by its name (``"_Ids.TURN"``) once ids went
    through ``str()``, and a status given so became ``failed``: a string subclass is its
    string, not counted."""
    # recorded: a filter making it an error would be dropped by the recorder
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with open_rollout(tmp_path) as rollout, rollout.root.turn(_Ids.TURN) as turn:
            async with turn.tool_call(_Ids.CALL, "f", arguments="{}") as tool:
                tool.completed({"type": "function_call_output", "call_id": "call_a", "output": "x"})
            turn.end(_Outcome.DONE)  # type: ignore[arg-type]
    # nothing to warn about
    assert [str(w.message) for w in caught if issubclass(w.category, RecorderWarning)] == []
    bundle = bundle_in(tmp_path)
    check_bundle(bundle)
    (started,) = of_type(bundle, "tool_call_started")
    assert (started["payload"]["tool_call_id"], started["payload"]["model_visible_call_id"]) == (
        "call_a",
        "call_a",
    )
    (ended,) = of_type(bundle, "codex_turn_ended")
    assert (ended["codex_turn_id"], ended["payload"]["status"]) == ("turn_a", "completed")


async def test_bytes_output_is_base64_as_documented(tmp_path: Path) -> None:
    with pytest.warns(RecorderWarning, match="bytes recorded as base64 text"):
        async with (
            open_rollout(tmp_path) as rollout,
            rollout.root.turn() as turn,
            turn.tool_call("c1", "exec_command", arguments='{"cmd":"ls"}') as tool,
        ):
            tool.exec_started(["ls"], process_id=1).exited(0, b"hello\n")  # type: ignore[arg-type]
    bundle = bundle_in(tmp_path)
    check_bundle(bundle)
    (end,) = of_type(bundle, "tool_call_runtime_ended")
    body = payload_text(bundle, end["payload"]["runtime_payload"])
    assert b"base64:aGVsbG8K" in body


class _Touchy(str):
    """A string whose own methods raise (a lazy or proxy string of some library)."""

    def __len__(self) -> int:
        raise ValueError("len")

    def __getitem__(self, index: object) -> str:
        raise ValueError("getitem")


async def test_a_string_subclass_is_read_as_its_string_not_by_its_methods(
    schema: int, tmp_path: Path
) -> None:
    """A tool call's preview is cut from its arguments, input or search query in the writer's
    thread (schema 3 keeps the start flat until written): a ``str`` subclass whose
    ``__len__`` raised there stopped the recording for good, and the whole bundle was lost
    (found by review robust29). Its string is what is recorded, whole."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
            async with turn.tool_call("c1", "f", arguments=_Touchy('{"q":"a"}')) as tool:
                tool.completed({"type": "function_call_output", "call_id": "c1", "output": "x"})
            async with turn.tool_call("c2", "apply_patch", input=_Touchy("patch")) as tool:
                tool.completed(None)
            async with turn.tool_call("c3", "tool_search", search={"query": _Touchy("q")}) as tool:
                tool.completed(None)
    assert [str(w.message) for w in caught if issubclass(w.category, RecorderWarning)] == []
    assert rollout.stats is not None and rollout.stats.failed is None
    assert rollout.stats.events_dropped == 0
    bundle = bundle_in(tmp_path)
    check_bundle(bundle)
    previews = [e["payload"]["summary"] for e in of_type(bundle, "tool_call_started")]
    assert [s["input_preview"] for s in previews] == ['{"q":"a"}', "patch", "q"]
