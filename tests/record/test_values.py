"""The value encoder's counts: each conversion counted once, whichever of its ways writes the
value and whether orjson takes the value after its hook converted part of it or refuses it
(then the slow path converts it all again, and counts what it converts)."""

from __future__ import annotations

import contextlib
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import orjson
import pytest

from rollout_trace_sdk.record import RecorderWarning, open_rollout
from rollout_trace_sdk.record._values import MAX_DEPTH, Mistyped, ValueEncoder

from .recorder_support import bundle_in, check_bundle, loss_report


def _refusing(kind: str) -> dict[str, Any]:
    """A set, bytes and a Mistyped value (the hook converts them, in this order), then
    something orjson refuses (of the kind the slow path counts as ``kind``, or ``None``)."""
    refused = {
        "bigint": 10**21,  # written with its digits: not counted (for_parsed_item counts it)
        "surrogate": "a\ud800",
        "key": {1: 2},
        "object": object(),
        "depth": _deep(MAX_DEPTH + 5),  # orjson takes it; compact_payload's check cuts it
    }[kind]
    return {"s": {1}, "b": b"x", "m": Mistyped("v"), "r": refused}


def _deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = [value]
    return value


def _compact_body(values: ValueEncoder, value: Any) -> bytes:
    data, check = values.compact_body(value)
    return values.cut_too_deep_text(data) if check else data


def _fast_tools(values: ValueEncoder, value: Any) -> bytes:
    """What ``_tool_fast`` does with dict arguments (the hook, then the encoder's rest)."""
    try:
        data = orjson.dumps(value, values.default)
    except TypeError as exc:
        values.interrupted(exc)
        return values.refused_compact(value)
    if values.noted:
        values.note_pending()
    return data


def _parsed_item(values: ValueEncoder, value: Any) -> bytes:
    """What ``Turn.accept`` does with an agent message: checked, then its payload written."""
    return values.pretty(values.for_parsed_item(value))


WAYS: Final[dict[str, Callable[[ValueEncoder, Any], bytes]]] = {
    "pretty": ValueEncoder.pretty,
    "compact": ValueEncoder.compact,
    "compact_payload": ValueEncoder.compact_payload,
    "compact_body": _compact_body,
    "fast_tools": _fast_tools,
    "for_parsed_item": _parsed_item,
}
_TAKEN_BY_ORJSON: Final = ("bigint", "depth")


@pytest.mark.parametrize("kind", ["bigint", "surrogate", "key", "object", "depth", "none"])
@pytest.mark.parametrize("way", sorted(WAYS))
def test_a_conversion_is_counted_once_when_orjson_then_refuses_the_value(
    way: str, kind: str
) -> None:
    """Two calls with a set, bytes and a Mistyped value, then something orjson refuses: 2 of
    each in the counts. Before, the hook counted them and the slow path counted them again
    (4 of each)."""
    values = ValueEncoder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecorderWarning)
        for _ in range(2):
            value = {"s": {1}, "b": b"x", "m": Mistyped("v")} if kind == "none" else _refusing(kind)
            WAYS[way](values, value)
    expected = {"set": 2, "bytes": 2, "mistyped": 2}
    own = {"bigint": way == "for_parsed_item", "depth": way in ("compact_payload", "compact_body")}
    if kind not in ("none", *_TAKEN_BY_ORJSON) or own.get(kind):
        expected[kind] = 2
    assert values.counts == expected
    assert not values.pending and not values.noted


def test_the_first_conversion_still_warns_once_from_the_agents_line() -> None:
    values = ValueEncoder()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values.compact({"s": {1}})
        values.compact({"s": {2}, "r": 10**21})
        values.pretty({"s": {3}})
    texts = [str(w.message) for w in caught]
    assert texts == ["rollout trace: sets recorded as lists (counted in the bundle's loss report)"]
    assert caught[0].filename == __file__
    assert values.counts == {"set": 3}


def test_threads_sharing_an_encoder_count_each_conversion_once() -> None:
    """The loop's thread and the writer's worker both encode with one encoder: what one
    thread's hook converted is counted by that thread's call alone (refused there: not at
    all, its slow path counts), never lost or counted by the other's."""
    values = ValueEncoder()
    rounds = 3000
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)

    def taken() -> None:
        for _ in range(rounds):
            values.compact({"s": {1}, "b": b"x", "t": "y" * 50})

    def refused() -> None:
        for _ in range(rounds):
            values.compact({"s": {1}, "b": b"x", "n": 10**21})

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RecorderWarning)
            threads = [threading.Thread(target=f) for f in (taken, refused, taken, refused)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        sys.setswitchinterval(switch)
    assert values.counts == {"set": 4 * rounds, "bytes": 4 * rounds}


@pytest.mark.anyio
async def test_the_loss_report_counts_a_set_once_in_a_value_orjson_refuses(
    tmp_path: Path, schema: int
) -> None:
    """End to end: two tool calls whose arguments and output are ``{"s": {1}, "n": 10**21}``
    give "4 sets" in the bundle's loss report, one a conversion (before: 8)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecorderWarning)
        async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
            for i in range(2):
                call = turn.tool_call(f"c{i}", "f", arguments={"s": {1}, "n": 10**21})
                call.completed({"s": {1}, "n": 10**21})
    check_bundle(bundle_in(tmp_path), tmp_path)
    assert rollout.stats is not None and rollout.stats.approximated == {"set": 4}
    assert "4 sets recorded as lists" in loss_report(bundle_in(tmp_path))


@contextlib.contextmanager
def _ctrl_c_in_hook(nth: int = 1) -> Iterator[None]:
    """Around a block that must let it out: ``KeyboardInterrupt`` raised as the encoder's hook
    starts for the ``nth`` time, as a signal handler's exception is raised at the bytecode the
    handler ran at (a Ctrl-C landing while the hook converts a set). A profile function."""
    calls = 0

    def interrupt(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event == "call" and frame.f_code.co_name == "_own_hook":
            calls += 1
            if calls == nth:
                sys.setprofile(None)
                raise KeyboardInterrupt

    sys.setprofile(interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            yield
    finally:
        sys.setprofile(None)


def _counts_the_next_pass_alone(values: ValueEncoder, way: str) -> None:
    """Nothing of the interrupted pass is counted or left pending; the next pass counts its
    own conversion alone."""
    assert values.counts == {} and not values.pending and not values.noted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecorderWarning)
        WAYS[way](values, {"b": b"x"})
    assert values.counts == {"bytes": 1}


@pytest.mark.parametrize("way", sorted(WAYS))
def test_a_ctrl_c_in_the_hook_reaches_the_caller_and_counts_nothing(way: str) -> None:
    """orjson turns whatever its hook raises into a ``TypeError``: a ``KeyboardInterrupt``
    raised while the hook ran read as a value orjson refused, the slow path recorded the
    value and the agent's Ctrl-C was lost. Now it is raised again, nothing of that pass
    counted, and the next pass counts its own alone."""
    values = ValueEncoder()
    with _ctrl_c_in_hook():
        WAYS[way](values, {"s": {1}})
    _counts_the_next_pass_alone(values, way)


@pytest.mark.anyio
async def test_a_ctrl_c_in_the_hook_of_a_tool_call_reaches_the_agent(
    tmp_path: Path, schema: int
) -> None:
    """End to end, the common tool call's path: the interrupt reaches the agent from
    ``turn.tool_call`` (it was swallowed: the call recorded, a set counted), and the rollout
    goes on and closes whole."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecorderWarning)
        async with (
            open_rollout(tmp_path, schema_version=schema) as rollout,
            rollout.root.turn() as turn,
        ):
            with _ctrl_c_in_hook():
                turn.tool_call("c0", "f", arguments={"s": {1}})
            call = turn.tool_call("c1", "f", arguments={"b": b"x"})
            call.completed({"ok": True})
    check_bundle(bundle_in(tmp_path), tmp_path)
    assert rollout.stats is not None and rollout.stats.approximated == {"bytes": 1}


@pytest.mark.parametrize("way", ["compact_body", "compact_payload"])
def test_a_ctrl_c_in_the_depth_check_leaves_no_notes_pending(way: str) -> None:
    """A compact body long enough to be checked for depth is written by orjson again: a
    Ctrl-C in that pass's hook reached the caller with the first pass's notes still pending,
    and the next value's pass counted them (a set never recorded, in the loss report)."""
    values = ValueEncoder()
    two_branches = {"s": {1}, "a": _deep(55), "b": _deep(55), "pad": "x" * 300}
    with _ctrl_c_in_hook(nth=2):  # the depth check's own pass, after the first noted a set
        WAYS[way](values, two_branches)
    _counts_the_next_pass_alone(values, way)
