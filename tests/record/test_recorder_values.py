"""Values JSON cannot hold, handed to every recording call that takes agent data: nothing
raises into the agent, the bundle reduces with our reducer and Codex, and what could not be
recorded faithfully is counted in the bundle and warned about once per kind."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import os
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import orjson
import pytest

from rollout_trace_sdk.record import RecorderWarning, Turn, agent_message, open_rollout
from rollout_trace_sdk.record._values import MAX_DEPTH, ValueEncoder

from .recorder_support import (
    bundle_in,
    check_bundle,
    events,
    of_type,
    payload,
    payload_text,
)

pytestmark = pytest.mark.anyio


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Opaque:
    def __repr__(self) -> str:
        return "Opaque()"


def _cycle() -> dict[str, Any]:
    value: dict[str, Any] = {"a": 1}
    value["self"] = value
    return value


def _deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = [value]
    return value


VALUES: dict[str, Callable[[], Any]] = {
    "set": lambda: {1, 2, 3},
    "bytes": lambda: b"\xff\x00binary",
    "nan": lambda: float("nan"),
    "infinity": lambda: float("inf"),
    "cycle": _cycle,
    "non_str_keys": lambda: {(1, 2): "tuple key", 3: "int key"},
    "huge_int": lambda: json.loads("123456789012345678901"),
    "deep": lambda: _deep(2000),
    "deep_150": lambda: _deep(150),
    "object": Opaque,
    "dataclass": lambda: Point(1, 2),
    "surrogate": lambda: "half a pair: \ud800",
}

FN_CALL = {"type": "function_call", "name": "f", "arguments": "{}", "call_id": "c1"}


def _part(value: Any) -> dict[str, Any]:
    return {"type": "input_text", "text": value}


def _item(value: Any) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [_part(value)]}


async def _site_accept(turn: Turn, value: Any) -> None:
    turn.accept(_item(value))


async def _site_accept_nested(turn: Turn, value: Any) -> None:
    turn.accept(value if isinstance(value, dict) else {"type": "message", "x": value})


async def _site_agent_message(turn: Turn, value: Any) -> None:
    turn.accept_agent_message({**agent_message("/root/a", "/root", "note"), "metadata": value})


async def _site_inference_request(turn: Turn, value: Any) -> None:
    async with turn.inference({"input": [_item(value)], "metadata": value}) as call:
        call.completed(response_id="r", output_items=[])


async def _site_inference_response(turn: Turn, value: Any) -> None:
    async with turn.inference([]) as call:
        call.completed(response_id="r", output_items=[_item(value)], token_usage={"x": value})


async def _site_inference_partial(turn: Turn, value: Any) -> None:
    async with turn.inference([]) as call:
        call.failed("boom", partial_items=[_item(value)])


async def _site_tool_arguments(turn: Turn, value: Any) -> None:
    async with turn.tool_call("c1", "f", arguments={"n": value}) as tool:
        tool.completed({"type": "function_call_output", "call_id": "c1", "output": "ok"})


async def _site_tool_output(turn: Turn, value: Any) -> None:
    async with turn.tool_call("c1", "f", arguments="{}") as tool:
        tool.completed({"type": "function_call_output", "call_id": "c1", "output": value})


async def _site_tool_search(turn: Turn, value: Any) -> None:
    async with turn.tool_call("c1", "tool_search", search={"query": value}) as tool:
        tool.completed(None)


async def _site_local_shell(turn: Turn, value: Any) -> None:
    async with turn.tool_call("c1", "local_shell", command=["echo", value]) as tool:
        tool.completed(None)


async def _site_runtime(turn: Turn, value: Any) -> None:
    async with turn.tool_call("c1", "f", arguments="{}") as tool:
        tool.runtime_started({"v": value})
        tool.runtime_ended({"v": value})
        tool.completed_value(value)


async def _site_exec(turn: Turn, value: Any) -> None:
    async with turn.tool_call("c1", "exec_command", arguments="{}") as tool:
        session = tool.exec_started(["cat", value], process_id=1, parsed_cmd=[value])
        session.exited(0, "done")


async def _site_mcp(turn: Turn, value: Any) -> None:
    async with turn.tool_call("c1", "f", arguments="{}") as tool:
        call = tool.mcp("server", "tool", {"v": value})
        call.meta({"v": value})
        call.completed({"content": [value]})


async def _site_code_cell(turn: Turn, value: Any) -> None:
    async with turn.tool_call("c1", "exec", input="text(1)") as tool:
        cell = tool.code_cell("1", "text(1)")
        async with cell.tool_call("c2", "f", runtime_tool_id="t1", arguments={"v": value}) as inner:
            inner.completed_value(value)
        cell.finished([value])


async def _site_compaction(turn: Turn, value: Any) -> None:
    compaction = turn.compaction()
    async with compaction.request({"input": [_item(value)], "v": value}) as request:
        request.completed([_item(value)])
    compaction.installed(input_history=[_item(value)], replacement_history=[_item(value)])


async def _site_protocol_event(turn: Turn, value: Any) -> None:
    turn.thread.protocol_event("custom", {"v": value})


SITES: dict[str, Callable[[Turn, Any], Any]] = {
    name.removeprefix("_site_"): fn for name, fn in globals().items() if name.startswith("_site_")
}


@pytest.mark.parametrize("site", sorted(SITES))
async def test_unencodable_values_at_every_call_site(tmp_path: Path, site: str) -> None:
    for name, make in VALUES.items():
        root = tmp_path / name
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            async with open_rollout(root) as rollout, rollout.root.turn() as turn:
                await SITES[site](turn, make())
        bundle = bundle_in(root)
        assert [e["payload"]["status"] for e in of_type(bundle, "rollout_ended")] == [
            "completed"
        ], (site, name)
        check_bundle(bundle, tmp_path)
        recorder_warnings = [w for w in caught if issubclass(w.category, RecorderWarning)]
        kinds = {str(w.message) for w in recorder_warnings}
        assert len(kinds) == len(recorder_warnings), "one warning per kind"


class _Mode(str, enum.Enum):  # noqa: UP042 (the point: no StrEnum)
    """A str-mixin enum (not a StrEnum): ``str()`` of a member is ``_Mode.FAST``."""

    FAST = "fast"


async def test_the_slow_path_writes_what_the_values_hold(tmp_path: Path, schema: int) -> None:
    """What only the slow path writes is written exactly: an integer past Python's digit
    limit with zeros inside (written in parts, each part's leading zeros kept), a lone low
    surrogate at the end of the range (U+DFFF, replaced like U+D800), and a key that is a
    str-mixin enum member (the string it is, not ``str()``'s ``_Mode.FAST``). Dropping the
    parts' padding, missing U+DFFF, or writing ``str(key)`` each passed every value test
    (mut31)."""
    big = 10**5000 + 7  # its low part is 7 with 3,999 zeros before it
    sample = {"big": big, "low": "end \udfff", "keys": {_Mode.FAST: 1}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecorderWarning)
        async with (
            open_rollout(tmp_path) as rollout,
            rollout.root.turn() as turn,
            turn.tool_call("c1", "f", arguments="{}") as tool,
        ):
            tool.completed_value(sample)
    bundle = bundle_in(tmp_path)
    ended = of_type(bundle, "tool_call_ended")[0]["payload"]
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)  # the standard reader, for an integer of 5,001 digits
    try:
        value = json.loads(payload_text(bundle, ended["result_payload"]))["value"]
        assert value["big"] == big
    finally:
        sys.set_int_max_str_digits(limit)
    assert value["low"] == "end \ufffd"
    assert value["keys"] == {"fast": 1}
    check_bundle(bundle, tmp_path)


async def test_what_each_value_becomes(tmp_path: Path, schema: int) -> None:
    """The documented rules (docs/guarantees.md), on a tool result payload."""
    sample = {name: make() for name, make in VALUES.items() if name not in ("deep", "deep_150")}
    sample["deep"] = _deep(150)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecorderWarning)
        async with (
            open_rollout(tmp_path) as rollout,
            rollout.root.turn() as turn,
            turn.tool_call("c1", "f", arguments="{}") as tool,
        ):
            tool.completed_value(sample)
    bundle = bundle_in(tmp_path)
    ended = of_type(bundle, "tool_call_ended")[0]["payload"]
    # the standard reader keeps big integers exact (orjson reads them as floats)
    value = json.loads(payload_text(bundle, ended["result_payload"]))["value"]
    assert sorted(value["set"]) == [1, 2, 3]
    assert value["bytes"] == "base64:/wBiaW5hcnk="
    assert value["nan"] is None and value["infinity"] is None
    assert value["cycle"] == {"a": 1, "self": "<cycle: dict>"}
    assert value["non_str_keys"] == {"(1, 2)": "tuple key", "3": "int key"}
    assert value["huge_int"] == 123456789012345678901  # exact digits
    assert value["object"] == "<unserialisable Opaque: Opaque()>"
    assert value["dataclass"] == {"x": 1, "y": 2}
    assert value["surrogate"] == "half a pair: \ufffd"
    depth = 0
    node = value["deep"]
    while isinstance(node, list):
        node = node[0]
        depth += 1
    assert node.startswith("<truncated: nested deeper than")
    assert depth < 128  # serde_json's recursion limit (Codex refuses deeper payloads)
    # the loss report names what could not be recorded faithfully
    report = [
        payload(bundle, e["payload"]["event_payload"])["message"]
        for e in of_type(bundle, "protocol_event_observed")
        if e["payload"]["event_type"] == "warning"
    ]
    assert len(report) == 1
    for words in ("cycle", "nested deeper", "unserialisable object", "bytes", "set"):
        assert words in report[0], (words, report[0])
    assert "dropped 0 events" not in report[0] or "recorded approximately" in report[0]
    assert events(bundle)[-1]["payload"]["type"] == "recording_completed"
    check_bundle(bundle, tmp_path)  # both reducers accept what the cut left (serde: < 128)


@pytest.mark.parametrize("site", ["inference_request", "tool_output", "runtime"])
async def test_nesting_past_the_limit_alone_is_cut(tmp_path: Path, schema: int, site: str) -> None:
    """A value that is JSON as it is, only nested 150 deep: schema 3 writes compact bodies
    (no indentation for the writer's depth repair to find), and Codex 0.171's reader refuses
    128 levels, so the recorder cuts it at the call, as payload files are cut in schema 2."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecorderWarning)
        async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
            await SITES[site](turn, _deep(150))
    bundle = bundle_in(tmp_path)
    check_bundle(bundle, tmp_path)
    assert rollout.stats is not None and rollout.stats.approximated.get("depth", 0) >= 1


#: Deep values past the size where the check is counted on the loop: the worker checks them
_DEEP_LONG: Final[dict[str, Callable[[], Any]]] = {
    "text": lambda: {"pad": "x" * 5000, "deep": _deep(150)},
    "containers": lambda: [{"n": [k]} for k in range(500)] + [_deep(150)],
}


@pytest.mark.parametrize("shape", sorted(_DEEP_LONG))
@pytest.mark.parametrize("site", ["inference_request", "tool_output", "runtime"])
async def test_long_text_nested_past_the_limit_is_cut_by_the_worker(
    tmp_path: Path, schema: int, site: str, shape: str
) -> None:
    """A long body's depth check is left to the worker thread (``compact_body``): what it
    writes is cut all the same, and counted."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecorderWarning)
        async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
            await SITES[site](turn, _DEEP_LONG[shape]())
    check_bundle(bundle_in(tmp_path), tmp_path)
    assert rollout.stats is not None and rollout.stats.approximated.get("depth", 0) >= 1


def test_compact_body_and_the_workers_check_give_what_compact_payload_gives() -> None:
    """``compact_body`` (the loop's half) and ``cut_too_deep_text`` (the worker's) write the
    bytes ``compact_payload`` writes, for short and long bodies, deep or not."""
    values = [
        _deep(MAX_DEPTH),
        {"a": _deep(MAX_DEPTH)},
        {"text": "x" * 3000, "deep": _deep(MAX_DEPTH)},
        {"text": "x" * 3000, "deep": _deep(MAX_DEPTH - 1)},
        [{"n": [k]} for k in range(800)] + [_deep(MAX_DEPTH)],
        [{"n": [k]} for k in range(800)] + [_deep(MAX_DEPTH - 1)],
        {"input": [{"type": "message", "text": "y" * 100} for _ in range(300)]},
        {"big": ["z" * 1000] * 1200, "deep": _deep(MAX_DEPTH + 5)},  # past the deferred size
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecorderWarning)
        for value in values:
            loop, worker = ValueEncoder(), ValueEncoder()
            data, check = worker.compact_body(value)
            if check:
                data = worker.cut_too_deep_text(data)
            assert data == loop.compact_payload(value)
            assert worker.counts == loop.counts
        assert ValueEncoder().compact_body(values[4])[1]  # a long body is left to the worker
        # a very long one is not (and its too deep value is cut now, with the warning)
        assert not ValueEncoder().compact_body(values[7])[1]


def test_compact_payload_cuts_where_the_slow_path_does() -> None:
    encoder = ValueEncoder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecorderWarning)
        at_limit = encoder.compact_payload(_deep(MAX_DEPTH))
        past = encoder.compact_payload({"a": _deep(MAX_DEPTH)})  # the dict is one more level
        when = datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC)
        shallow_odd = encoder.compact_payload({"when": when, "text": "x" * 300, "n": [[1]]})
        deep_odd = encoder.compact_payload([{"when": when}, _deep(MAX_DEPTH + 1)])
        # big bodies: walked (mostly text), or checked by encoding (many containers)
        big_text = encoder.compact_payload({"text": "x" * 70_000, "deep": _deep(MAX_DEPTH)})
        big_many = encoder.compact_payload([{"n": [k]} for k in range(8000)] + [_deep(MAX_DEPTH)])
        big_fine = encoder.compact_payload({"text": "x" * 70_000, "deep": _deep(MAX_DEPTH - 1)})
        # a long list at the top (a request's input): written once, inside the depth probe
        many = [{"n": [k]} for k in range(20)]
        request_deep = encoder.compact_payload({"input": [*many, _deep(MAX_DEPTH)]})
        request_fine = {"input": [*many, _deep(MAX_DEPTH - 2)], "when": when}  # 100 levels
        request_bytes = encoder.compact_payload(request_fine)
    assert json.loads(at_limit) == _deep(MAX_DEPTH)
    assert b"<truncated: nested deeper than" in past
    assert b"2026-01-02T00:00:00+00:00" in shallow_odd  # orjson's own types keep their form
    assert b"<truncated: nested deeper than" in deep_odd
    assert b"<truncated: nested deeper than" in big_text
    assert b"<truncated: nested deeper than" in big_many
    assert json.loads(big_fine)["deep"] == _deep(MAX_DEPTH - 1)
    assert b"<truncated: nested deeper than" in request_deep
    assert request_bytes == orjson.dumps(request_fine)
    assert encoder.counts == {"depth": 5}


_DEEP_NUMBERS_CHILD = """
import json, sys, warnings
import anyio
sys.path.insert(0, sys.argv[2])
from rollout_trace_sdk.record import RecorderWarning, open_rollout
from tests.record.test_recorder_values import SITES

# what a tool's JSON can be: lists 200 deep around a few hundred numbers
value = [json.loads("[" * 200 + ",".join(["1"] * n) + "]" * 200) for n in range(300, 420, 3)]

async def main(root):
    for site in sorted(SITES):
        async with open_rollout(f"{root}/{site}") as rollout, rollout.root.turn() as turn:
            await SITES[site](turn, value)
    print("recorded", flush=True)

warnings.simplefilter("ignore", RecorderWarning)
anyio.run(main, sys.argv[1])
"""


def test_numbers_nested_200_deep_are_cut_not_a_crash(tmp_path: Path) -> None:
    """Parsed JSON nested 200 deep around lists of numbers, at every call site, in a child
    process whose allocator checks its heap (``MALLOC_CHECK_=3``). orjson up to 3.11.9
    corrupts its heap on such a value (the child aborts: ``free(): invalid next size``), so
    pyproject.toml asks for 3.12 or later. In a child so that a crash fails this test, not
    the suite."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONMALLOC": "malloc", "MALLOC_CHECK_": "3"}
    child = subprocess.run(
        [sys.executable, "-c", _DEEP_NUMBERS_CHILD, str(tmp_path), str(root)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.strip() == "recorded"
    for site in SITES:
        check_bundle(bundle_in(tmp_path / site), tmp_path)


#: Values whose reading runs the agent's own code, and that code raises or changes the very
#: container being written (tests/record/exotic_values.py)
_HOSTILE: Final = (
    "dt-tz-raises",
    "dt-tz-clears",
    "clears-parent",
    "model-clears",
    "mapping-clears",
    "grows-parent",
    "mv-released",
)

_HOSTILE_CHILD: Final = """
import sys
sys.path.insert(0, sys.argv[1])
from rollout_trace_sdk.record._values import ValueEncoder, canonical_bytes
from tests.record.exotic_values import EXOTIC
values = ValueEncoder()
encodings = (values.compact, values.pretty, values.compact_payload, values.compact_body,
             values.for_parsed_item, canonical_bytes)
for name in sys.argv[2:]:
    for encode in encodings:
        for shape in (list, dict):
            held = shape()
            pad = [f"padding {n}" * 20 for n in range(200)]
            if shape is list:
                held.extend(pad[:100])
                held.append(EXOTIC[name](None, held))
                held.extend(pad[100:])
            else:
                held.update((f"k{n}", text) for n, text in enumerate(pad[:100]))
                held["x"] = EXOTIC[name](None, held)
                held.update((f"z{n}", text) for n, text in enumerate(pad[100:]))
            encode([{"v": held}])
print("encoded")
"""


def test_a_value_whose_reading_changes_what_holds_it_is_no_crash() -> None:
    """Each value of :data:`_HOSTILE`, the 101st item of a list or a dict, through each of
    the value encoder's ways: every one returns. Before, the fast path let orjson write
    such a value through its hook (the agent's ``repr``, ``model_dump``, a mapping's
    ``__len__``), and a datetime whose zone raises itself: a datetime whose zone raises, and
    a hook that emptied the container orjson was writing (it reads it without holding it)
    killed the process (a segmentation fault); one that added 1,000 items at each of its
    items' ``repr`` never ended. In a child so that a crash fails this test, not the
    suite."""
    root = Path(__file__).resolve().parents[2]
    child = subprocess.run(
        [sys.executable, "-c", _HOSTILE_CHILD, str(root), *_HOSTILE],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert (child.returncode, child.stdout.strip()) == (0, "encoded"), child.stderr[-2000:]


@pytest.mark.parametrize("zone", ["naive", "utc", "fixed", "own"])
def test_a_datetime_is_recorded_as_orjson_writes_it(zone: str) -> None:
    """A datetime now reaches the encoder's hook (orjson's own writer kills the process on
    one whose zone raises): the text recorded is still orjson's, whatever its zone."""

    class Own(datetime.tzinfo):
        def utcoffset(self, dt: Any) -> datetime.timedelta:
            return datetime.timedelta(hours=-3, minutes=-30)

        def dst(self, dt: Any) -> None:
            return None

        def tzname(self, dt: Any) -> str:
            return "own"

    zones = {
        "naive": None,
        "utc": datetime.UTC,
        "fixed": datetime.timezone(datetime.timedelta(hours=5)),
        "own": Own(),
    }
    value = {"at": datetime.datetime(2024, 2, 3, 4, 5, 6, 789, tzinfo=zones[zone])}
    values = ValueEncoder()
    assert values.compact(value) == orjson.dumps(value)
    assert values.pretty(value) == orjson.dumps(value, option=orjson.OPT_INDENT_2)
    assert not values.counts
