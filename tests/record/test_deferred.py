"""Long strings of a payload are escaped in the worker thread: the bytes must be exactly
what serialising the whole value at once gives, and the snapshot must still be a snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollout_trace_sdk.record import _deferred, open_rollout
from rollout_trace_sdk.record._values import ValueEncoder

from .recorder_support import (
    bundle_in,
    check_bundle,
    of_type,
    payload,
)

_text = st.text(st.characters(codec="utf-8") | st.sampled_from('"\\\n\t\x00\u2028é😀'), max_size=60)
_values = st.recursive(
    st.none() | st.integers() | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)


@given(st.dictionaries(_text, _values | st.dictionaries(_text, _values, max_size=3), max_size=4))
@settings(max_examples=300, deadline=None)
def test_rendered_bytes_are_what_dumping_the_whole_value_gives(value: dict[str, Any]) -> None:
    encoder = ValueEncoder()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_deferred, "BIG_STRING", 5)
        patch.setattr(_deferred, "SLICE", 3)
        for dumps in (encoder.compact, encoder.pretty):
            lazy = _deferred.defer_big_strings(value, dumps)
            expected = dumps(value)
            if lazy is None:
                continue
            assert lazy.render() == expected


@pytest.mark.filterwarnings("ignore::rollout_trace_sdk.record.runtime.RecorderWarning")
def test_a_lone_surrogate_slice_takes_the_lenient_path() -> None:
    encoder = ValueEncoder()
    value = {"output": "a" * 10 + "\ud800" + "b" * 10}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_deferred, "BIG_STRING", 5)
        patch.setattr(_deferred, "SLICE", 4)
        lazy = _deferred.defer_big_strings(value, encoder.compact)
        assert lazy is not None
        text = orjson.loads(lazy.render())["output"]
    assert text.startswith("a" * 10) and text.endswith("b" * 10)


def test_small_values_are_serialised_at_once() -> None:
    assert _deferred.defer_big_strings({"output": "x" * 100}, orjson.dumps) is None
    assert _deferred.defer_big_strings(["x" * (2 << 20)], orjson.dumps) is None


@pytest.mark.anyio
@pytest.mark.parametrize("schema", [2, 3])
async def test_a_large_tool_output_is_stored_exactly_and_snapshotted(
    tmp_path: Path, schema: int
) -> None:
    text = 'line é "quoted" \\ tab\t\n' * ((_deferred.BIG_STRING // 20) + 10)
    meta = [1]
    output = {"type": "function_call_output", "call_id": "c1", "output": text, "meta": meta}
    expected = {"type": "direct_response", "response_item": dict(output, meta=[1])}
    async with (
        open_rollout(tmp_path, schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        async with turn.tool_call("c1", "exec_command", arguments={"cmd": "cat"}) as tool:
            tool.completed(output)
        meta.append(2)  # the caller changes its value right after recording it
    bundle = bundle_in(tmp_path)
    [ended] = of_type(bundle, "tool_call_ended")
    if schema == 2:
        stored = (bundle / ended["payload"]["result_payload"]["path"]).read_bytes()
        assert stored == orjson.dumps(expected, option=orjson.OPT_INDENT_2)
        assert payload(bundle, ended["payload"]["result_payload"])["response_item"]["meta"] == [1]
    state = check_bundle(bundle, tmp_path)
    assert state["tool_calls"]
