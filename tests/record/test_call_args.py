"""A call's arguments told apart as the loop gives them (``record/_call_args.py``): the
same call resent by an ordinary loop in another form (arguments parsed, a long value elided,
the name namespaced, serialised again) is that call, never a new one renamed ``#2``; a
``str`` subclass's arguments match the same text. Calls with one id told apart by their
arguments and outputs: ``test_call_ids.py``."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.record import RecorderWarning, open_rollout
from rollout_trace_sdk.record._call_args import args_of, same_args

from .call_ids_support import answer_message, user_message, weather_output
from .recorder_support import bundle_in, check_bundle, loss_report

pytestmark = pytest.mark.anyio


def _elided(arguments: str) -> str:
    """Arguments as a loop that shortens long values keeps them (both reducers compare the
    first 240 bytes)."""
    value = json.loads(arguments)
    return json.dumps({**value, "content": value["content"][:300] + "…[elided]"})


@pytest.mark.parametrize("schema", [2, 3])
@pytest.mark.parametrize(
    "resend",
    [
        pytest.param(lambda c: {**c, "arguments": json.loads(c["arguments"])}, id="parsed"),
        pytest.param(lambda c: {**c, "arguments": _elided(c["arguments"])}, id="elided"),
        pytest.param(lambda c: {**c, "name": "functions.write"}, id="namespaced"),
        pytest.param(
            lambda c: {**c, "arguments": json.dumps(json.loads(c["arguments"]))}, id="spaced"
        ),
    ],
)
async def test_an_ordinary_loop_is_recorded_as_it_was(
    schema: int, resend: Callable[[dict[str, Any]], dict[str, Any]], tmp_path: Path
) -> None:
    """No id used twice, the call resent as the loop rebuilt it (arguments parsed, a long
    value elided, the name namespaced, re-serialised): nothing renamed, nothing counted.
    Found by review: a first version took such a resend for a new call (``call_abc#2``)."""
    call = {
        "type": "function_call",
        "call_id": "call_abc",
        "name": "write",
        "arguments": json.dumps({"path": "f.txt", "content": "x" * 2000}),
    }
    # recorded, not made errors: the recorder drops the error a warning filter raises
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            history: list[Any] = turn.accept(user_message("write it"))
            async with turn.inference({"model": "m", "input": list(history)}) as inference:
                inference.completed(output_items=[call])
            async with turn.tool_call("call_abc", "write", arguments=call["arguments"]) as tool:
                tool.completed(weather_output("call_abc", "done"))
            history += [resend(call), weather_output("call_abc", "done")]
            async with turn.inference({"model": "m", "input": list(history)}) as inference:
                inference.completed(output_items=[answer_message("done")])
    assert [str(w.message) for w in caught if issubclass(w.category, RecorderWarning)] == []
    bundle = bundle_in(tmp_path)
    state = check_bundle(bundle)
    assert "#" not in json.dumps(state)
    assert loss_report(bundle) == ""


def test_arguments_given_as_a_str_subclass_match_the_same_text() -> None:
    """A ``str`` subclass's arguments were fingerprinted as a JSON value (its text quoted):
    they never matched the same text, so the call they name could not be told by them."""

    class Text(str):
        pass

    text = '{"q": [1]}'
    assert same_args(args_of(Text(text)), args_of(text))
    assert same_args(args_of(Text(text)), args_of({"q": [1]}))
