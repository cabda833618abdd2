"""``model.structure`` (how the reducer reads event lines, without cattrs) against the converter
(``codec``: what the recorder, the tests and everyone else structure with): the same event or the
same error, on every conformance line of both schemas, on each line's fields removed or given
odd values, and on events hypothesis builds from the vocabulary."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollout_trace_sdk.model import codec, event_tags, serde_errors, structure
from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.model.serde_read import DecodeError, structure_u32, structure_u64
from tests.conftest import CONFORMANCE_V3, conformance_bundles

BUNDLES = [(2, b) for b in conformance_bundles()] + [
    (3, b) for b in conformance_bundles(CONFORMANCE_V3)
]
#: Values a field may be given instead of its own: each kind serde names differently.
_ODD: list[Any] = [None, True, 0, -1, 2**64, 1.5, "", "x", [], ["x"], {}, {"type": "x"}]


def _outcome(read: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "event", read()
    except DecodeError as exc:
        return "refused", str(exc)
    except Exception as exc:
        return type(exc).__name__, str(exc)


def _converted(obj: Any, schema: int) -> Any:
    """What ``event_from_dict`` does, with the converter: the envelope's integers first."""
    if isinstance(obj, dict):
        for name, check in (("schema_version", structure_u32), ("seq", structure_u64)):
            if name in obj:
                check(obj[name], int)
    return codec.converter_for(schema).structure(obj, ev.TraceEvent)


def _both(obj: Any, schema: int) -> tuple[tuple[str, Any], tuple[str, Any]]:
    fast = _outcome(lambda: structure.event_from_dict(obj, schema))
    return fast, _outcome(lambda: _converted(obj, schema))


def _edits(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``obj`` with each field of its envelope and payload removed, then given each odd value."""
    for where in (None, "payload"):
        target = obj if where is None else obj.get("payload")
        if not isinstance(target, dict):
            continue
        for key in target:
            for value in [..., *_ODD]:
                edited = dict(target)
                if value is ...:
                    del edited[key]
                else:
                    edited[key] = value
                yield edited if where is None else {**obj, "payload": edited}


def _lines(bundle: Path) -> list[bytes]:
    return [raw for raw in (bundle / "trace.jsonl").read_bytes().splitlines() if raw.strip()]


@pytest.mark.skipif(not BUNDLES, reason="no ../shared conformance corpus")
@pytest.mark.parametrize("schema", [2, 3])
def test_every_conformance_line_reads_as_the_converter_reads_it(schema: int) -> None:
    lines = [raw for s, bundle in BUNDLES if s == schema for raw in _lines(bundle)]
    assert len(lines) > 500
    refused = 0
    for raw in lines:
        event = structure.parse_event_line(raw, schema)
        assert event == codec.converter_for(schema).structure(orjson.loads(raw), ev.TraceEvent)
        assert codec.event_line(event, schema) == raw + b"\n"
        for edited in _edits(orjson.loads(raw)):
            fast, conv = _both(edited, schema)
            assert fast == conv, edited
            refused += fast[0] == "refused"
    assert refused > 1000  # the edits reached the error paths


def test_the_converter_structures_with_these_hooks() -> None:
    """One definition: the converter's structure hooks are the structurer's own."""
    for schema in (2, 3):
        reading = structure.structurer(schema)
        conv = codec.converter_for(schema)
        for tp in (
            str,
            int,
            ev.RawPayloadRef,
            ev.ToolCallKind,
            ev.ToolCallSummary,
            ev.EventPayload,
            list[ev.RawPayloadRef],
        ):
            assert conv.get_structure_hook(tp) is reading.hook(tp), (schema, tp)


def test_a_type_outside_the_vocabulary_has_no_hook() -> None:
    with pytest.raises(TypeError, match="no structure hook"):
        structure.structurer(2).hook(float)
    assert not structure.structurer(2).handles(float)
    assert not structure.structurer(2).handles([])


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**65) | st.floats() | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def _payloads(schema: int) -> st.SearchStrategy[Any]:
    return st.one_of(
        *(st.builds(cls) for cls in event_tags.event_types(schema).values() if cls is not ev.Other),
        st.builds(ev.Other, metadata=_JSON),
    )


@st.composite
def _events(draw: st.DrawFn) -> tuple[int, ev.TraceEvent]:
    schema = draw(st.sampled_from([2, 3]))
    event = ev.TraceEvent(
        schema,
        draw(st.integers(0, 2**64 - 1)),
        draw(st.integers(-(2**63), 2**63 - 1)),
        draw(st.text(max_size=5)),
        draw(st.none() | st.text(max_size=5)),
        draw(st.none() | st.text(max_size=5)),
        draw(_payloads(schema)),
    )
    return schema, event


@settings(max_examples=400, deadline=None)
@given(
    case=_events(),
    path=st.lists(st.integers(0, 15), min_size=1, max_size=3),
    value=_JSON,
    drop=st.booleans(),
)
def test_built_events_read_alike(
    case: tuple[int, ev.TraceEvent], path: list[int], value: Any, drop: bool
) -> None:
    """What the converter writes of an event reads alike both ways, back to the same dict when
    it reads; the same
    dict with one member (reached by a path of key indexes) removed or replaced reads alike
    both ways."""
    schema, event = case
    obj = codec.event_to_dict(event, schema)
    fast, conv = _both(obj, schema)
    assert fast == conv
    if fast[0] == "event":  # (hypothesis builds some events the format refuses)
        assert codec.event_to_dict(fast[1], schema) == obj
    target = obj
    for depth, index in enumerate(path, start=1):
        name = sorted(target)[index % len(target)]
        inner = target[name]
        if depth == len(path) or not isinstance(inner, dict) or not inner:
            if drop:
                del target[name]
            else:
                target[name] = value
            break
        target = inner
    fast, conv = _both(obj, schema)
    assert fast == conv


_LINE = (
    b'{"schema_version":2,"seq":1,"wall_time_unix_ms":5,"rollout_id":"r","thread_id":null,'
    b'"codex_turn_id":null,"payload":{"type":"rollout_ended","status":"completed"}}\n'
)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (b'"seq":1', b'"seq":-0', "expected u64 at line 1 column 28"),
        (b'"wall_time_unix_ms":5', b'"wall_time_unix_ms":-0', "expected i64 at line 1 column 50"),
        (b'"schema_version":2', b'"schema_version":-0', "expected u32 at line 1 column 20"),
    ],
)
def test_an_envelope_number_spelled_minus_zero_is_a_float_to_serde(
    old: bytes, new: bytes, expected: str
) -> None:
    """serde_json's number visitors read ``-0`` straight from the text as the float -0.0
    (Codex 0.169 and 0.171: "invalid type: floating point `-0.0`"); orjson reads the integer 0,
    and we took seq -0 for a missing event, wall time -0 for 0. Found by numbers23's probe."""
    line = _LINE.replace(old, new)
    with pytest.raises(DecodeError):
        structure.parse_event_line(line)
    assert serde_errors.event_line_error(line) == f"invalid type: floating point `-0.0`, {expected}"


@pytest.mark.parametrize(
    "line",
    [
        _LINE.replace(b'"status"', b'"x":-0,"status"'),  # in the payload: serde buffers it
        _LINE.replace(b'"codex_turn_id"', b'"x":-0,"codex_turn_id"'),  # an unknown field
        _LINE.replace(b'"seq":1', b'"seq":1,"x":[-0]').replace(
            b'"wall_time_unix_ms":5', b'"wall_time_unix_ms":0'
        ),
    ],
)
def test_minus_zero_elsewhere_is_the_integer_0(line: bytes) -> None:
    try:
        event = structure.parse_event_line(line)
    except DecodeError:  # the slow read, as the reducer takes it
        assert serde_errors.event_line_error(line) is None
        event = structure.event_from_dict(serde_errors.event_line_read(line), 2)
    assert event.seq == 1


@pytest.mark.parametrize(
    ("seq", "expected"),
    [
        # an exponent past i32: refused at the digit that overflowed, not at the number's end
        (b"1e99999999999", "number out of range at line 1 column 38"),
        (b"-1e99999999999", "number out of range at line 1 column 39"),
        # serde_json's f64 is its significand times a power of ten, rounded at each step
        (b"1.7976931348623158e308", "number out of range at line 1 column 48"),
        (
            b"2.2250738585072011e-308",
            "invalid type: floating point `2.2250738585072014e-308`, expected u64 at line 1 "
            "column 49",
        ),
        (b"1e-99999999999", "invalid type: floating point `0.0`, expected u64 at line 1 column 40"),
    ],
)
def test_an_envelope_number_is_read_as_serde_json_reads_it(seq: bytes, expected: str) -> None:
    """A number visitor's f64 comes from serde_json's own parse (no ``float_roundtrip``), not
    a correctly rounded one: Python finds 1.7976931348623158e308 finite and
    2.2250738585072011e-308 2.225073858507201e-308. Messages as Codex 0.169 gives them (the
    same line with each ``seq``). Found by review23 (numbers the probe's list missed)."""
    line = _LINE.replace(b'"seq":1', b'"seq":' + seq)
    with pytest.raises(DecodeError):
        structure.parse_event_line(line)
    assert serde_errors.event_line_error(line) == expected


def test_a_manifest_number_spelled_minus_zero_is_a_float_to_serde() -> None:
    manifest = {
        "schema_version": 2,
        "trace_id": "t",
        "rollout_id": "r",
        "root_thread_id": "x",
        "started_at_unix_ms": 0,
        "raw_event_log": "trace.jsonl",
        "payloads_dir": "payloads",
    }
    raw = orjson.dumps(manifest, option=orjson.OPT_INDENT_2)
    assert structure.manifest_from_bytes(raw).started_at_unix_ms == 0
    minus = raw.replace(b'"started_at_unix_ms": 0', b'"started_at_unix_ms": -0')
    with pytest.raises(DecodeError):
        structure.manifest_from_bytes(minus)
    assert serde_errors.manifest_error(minus) == (
        "invalid type: floating point `-0.0`, expected i64 at line 6 column 27"
    )
    elsewhere = raw.replace(b'"payloads"\n', b'"payloads",\n  "x": -0\n')
    assert structure.manifest_from_bytes(elsewhere).started_at_unix_ms == 0


def test_loads_value_reads_a_number_beyond_f64_and_refuses_bad_text_with_one() -> None:
    """serde_json reads ``1e400`` (orjson refuses it as infinity): a payload holding one is
    read, the number as an infinite float, in bytes or text; text that serde refuses for
    another reason is still refused (found by mutation audit mut48: with the syntax check's
    test flipped, every such number was refused and no test saw it)."""
    assert structure.loads_value(b'{"a": [1e400, 2]}') == {"a": [float("inf"), 2]}
    assert structure.loads_value("[-1e400]") == [float("-inf")]
    with pytest.raises(orjson.JSONDecodeError):
        structure.loads_value(b"[1e400,]")
