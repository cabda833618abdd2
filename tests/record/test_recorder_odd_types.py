"""A ``type`` (or ``role``) that is an object or a list is handled as one that is a number.

Such a value is not hashable, and the recorder looks types up in sets and dicts: every such
lookup raised ``TypeError``, the guard caught it, and the whole recording call was lost
(``Turn.accept``, the request of ``Turn.inference``, ``ToolCall.completed``: the call never
ended in the bundle). A number in the same place drops just the odd item with a precise
warning (``input[1] has no string type and no role; dropped``) and records the rest; an
object or a list now does exactly that too. The real ``openai`` client builds such values:
it constructs an output item whose ``type`` the server sent as an object, keeping the object.
"""

from __future__ import annotations

import copy
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollout_trace_sdk.record import RecorderWarning, open_rollout
from rollout_trace_sdk.record.items import ItemIds
from rollout_trace_sdk.record.requests import normalize_output_items, normalize_request

from .recorder_support import bundle_in, check_bundle, of_type, types

#: A hashable stand-in: what the recorder did with a number there is what it must do here.
_NUMBER = 5
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=2), inner, max_size=2)
    ),
    max_leaves=4,
)
#: Unhashable JSON values (empty ones too: ``{} or ""`` was one of the lookups).
_UNHASHABLE = st.lists(_JSON, max_size=2) | st.dictionaries(st.text(max_size=2), _JSON, max_size=2)


def _message(odd: Any) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": odd, "text": "x"}]}


#: Every place of a request a type or a role is looked up in, ``ODD`` where the odd value goes.
_REQUEST_PLACES: list[Any] = [
    {"type": "ODD", "call_id": "c0"},
    {"type": "message", "role": "ODD", "content": "x"},
    {"type": "message", "role": "user", "content": [{"type": "ODD", "text": "x"}]},
    {"type": "ODD", "role": "user", "content": "x"},
    {"role": "user", "content": [{"type": "ODD", "text": "x"}]},
    {"role": "assistant", "content": "a", "reasoning_details": [{"type": "ODD", "text": "t"}]},
    {"type": "reasoning", "summary": [{"type": "ODD", "text": "s"}]},
    {"type": "agent_message", "author": "a", "recipient": "b", "content": [{"type": "ODD"}]},
    {"type": "function_call_output", "call_id": "c0", "output": [{"type": "ODD"}]},
]


def _put(value: Any, odd: Any) -> Any:
    """``value`` with every ``"ODD"`` replaced by ``odd``."""
    if value == "ODD":
        return copy.deepcopy(odd)
    if isinstance(value, dict):
        return {k: _put(v, odd) for k, v in value.items()}
    if isinstance(value, list):
        return [_put(v, odd) for v in value]
    return value


def _said(problems: Sequence[str], odd: Any) -> list[str]:
    """The problems with the odd value's text as ``ODD`` and its type's name as ``TYPE``; not
    where its text is a place's index (``[0]`` of ``output[0]``: hypothesis drew ``odd=[0]``,
    and the index became ``outputODD``)."""
    value = re.compile(r"(?<![\w\]])" + re.escape(repr(odd)))
    return [value.sub("ODD", p).replace(type(odd).__name__, "TYPE") for p in problems]


@given(odd=_UNHASHABLE, place=st.sampled_from(_REQUEST_PLACES))
def test_a_request_with_an_unhashable_type_is_normalised_as_with_a_number(
    odd: Any, place: Any
) -> None:
    """Same items kept (the odd value where the number was), same problems, same wording."""
    ask = ["before", place, "after"]
    body, problems = normalize_request({"input": _put(ask, odd)})
    expected, expected_problems = normalize_request({"input": _put(ask, _NUMBER)})
    assert _put_number(body["input"], odd) == expected["input"]
    assert _said(problems, odd) == _said(expected_problems, _NUMBER)
    output, problems = normalize_output_items(_put([place, "after"], odd))
    expected_output, expected_problems = normalize_output_items(_put([place, "after"], _NUMBER))
    assert _put_number(output, odd) == expected_output
    assert _said(problems, odd) == _said(expected_problems, _NUMBER)


def _put_number(value: Any, odd: Any) -> Any:
    """``value`` with ``odd`` (where it was kept) replaced by the number."""
    if value == odd:
        return _NUMBER
    if isinstance(value, dict):
        return {k: _put_number(v, odd) for k, v in value.items()}
    if isinstance(value, list):
        return [_put_number(v, odd) for v in value]
    return value


@given(odd=_UNHASHABLE)
def test_item_ids_take_an_unhashable_type(odd: Any) -> None:
    """History, requests and snapshots give such an item an id, as they give any dict."""
    ids = ItemIds()
    item = {"type": odd, "call_id": "c1", "output": "x"}
    recorded, item_id = ids.for_history(item)
    assert item_id is not None and recorded["id"] == item_id
    sent = ids.for_request([{"type": "function_call", "call_id": "c1", "name": "f"}, item])
    assert sent[1]["id"] == item_id
    assert ids.for_request([{**item, "id": "x1"}])[0]["id"] == "x1"
    [snapshot] = ids.for_snapshot([item])
    assert snapshot["id"] == item_id


async def _record(root: Path, odd: Any) -> list[str]:
    """The probe of the report: an odd type in each recording call. Returns the warnings."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        async with (
            open_rollout(root, model="m") as rollout,
            rollout.root.turn() as turn,
        ):
            turn.accept(_message(odd), {"type": odd})
            request = {"model": "m", "input": [_message(odd), {"type": odd, "call_id": odd}]}
            async with turn.inference(request) as call:
                call.completed(
                    output_items=[
                        {"type": odd},
                        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                    ]
                )
            async with turn.tool_call("c1", "f", arguments="{}") as tool:
                tool.completed({"type": odd, "call_id": "c1", "output": "x"})
            async with turn.tool_call("c2", "f", arguments="{}") as tool:
                tool.failed("no", output_item={"type": odd, "call_id": "c2"})
    said = [str(w.message) for w in seen if issubclass(w.category, RecorderWarning)]
    return [re.sub(r"inference call \S+", "inference call ID", text) for text in said]


@pytest.mark.anyio
@pytest.mark.parametrize("odd", [{"a": 1}, ["x"], {}], ids=["object", "list", "empty"])
async def test_recording_calls_keep_their_record(odd: Any, schema: int, tmp_path: Path) -> None:
    """Each call records as with a number there: the same warnings (none that a call
    failed), the same events, both tool calls ended, and Codex reads the bundle."""
    said = await _record(tmp_path / "odd", odd)
    expected = await _record(tmp_path / "number", _NUMBER)
    assert said == expected
    assert not [text for text in said if "failed (" in text], said
    assert any("input[1] has no string type and no role; dropped" in text for text in said)
    bundle, number_bundle = bundle_in(tmp_path / "odd"), bundle_in(tmp_path / "number")
    assert types(bundle) == types(number_bundle)
    assert len(of_type(bundle, "tool_call_ended")) == 2
    check_bundle(bundle)
