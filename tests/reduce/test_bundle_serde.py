"""serde_json's messages, recomputed after a failed parse (``model.serde_errors``).

Every expected string below was printed by the real Codex 0.169.0 binary for exactly these bytes
(as a payload file, a trace.jsonl line, or manifest.json); the optional differential test at the
bottom re-checks a sample against the binary when it is available.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollout_trace_sdk.model import codec
from rollout_trace_sdk.model import serde_errors as serde

from ..codex_oracle import codex_bin

PAYLOAD_CASES: list[tuple[bytes, str]] = [
    (b"", "EOF while parsing a value at line 1 column 0"),
    (b"{", "EOF while parsing an object at line 1 column 1"),
    (b'{"a"', "EOF while parsing an object at line 1 column 4"),
    (b'{"a":', "EOF while parsing a value at line 1 column 5"),
    (b'{"a":1', "EOF while parsing an object at line 1 column 6"),
    (b'{"a":1,', "EOF while parsing a value at line 1 column 7"),
    (b'{"a":1,}', "trailing comma at line 1 column 8"),
    (b"[1,]", "trailing comma at line 1 column 4"),
    (b"[1 2]", "expected `,` or `]` at line 1 column 4"),
    (b'{"a" 1}', "expected `:` at line 1 column 6"),
    (b'{"a":1 "b":2}', "expected `,` or `}` at line 1 column 8"),
    (b"{1:2}", "key must be a string at line 1 column 2"),
    (b"nul", "EOF while parsing a value at line 1 column 3"),
    (b"nulx", "expected ident at line 1 column 4"),
    (b"-", "EOF while parsing a value at line 1 column 1"),
    (b"-x", "invalid number at line 1 column 2"),
    (b"01", "invalid number at line 1 column 2"),
    (b"1.", "EOF while parsing a value at line 1 column 2"),
    (b"1.x", "invalid number at line 1 column 3"),
    (b"1e", "EOF while parsing a value at line 1 column 2"),
    (b"1ex", "invalid number at line 1 column 3"),
    (b'"abc', "EOF while parsing a string at line 1 column 4"),
    (b'"a\\', "EOF while parsing a string at line 1 column 3"),
    (b'"a\\x"', "invalid escape at line 1 column 4"),
    (b'"\\u12"', "EOF while parsing a string at line 1 column 6"),
    (b'"\\u12x4"', "invalid escape at line 1 column 7"),
    (b'"\\ud800"', "unexpected end of hex escape at line 1 column 8"),
    (b'"\\ud800\\u0041"', "lone leading surrogate in hex escape at line 1 column 13"),
    (b'"\\udc00"', "lone leading surrogate in hex escape at line 1 column 7"),
    (b'"\\ud800x"', "unexpected end of hex escape at line 1 column 8"),
    (
        b'"a\tb"',
        "control character (\\u0000-\\u001F) found while parsing a string at line 1 column 3",
    ),
    (
        b'"a\nb"',
        "control character (\\u0000-\\u001F) found while parsing a string at line 2 column 0",
    ),
    (b'{"a":1}x', "trailing characters at line 1 column 8"),
    (b'{"a":1}\n\n x', "trailing characters at line 3 column 2"),
    (
        b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        "recursion limit exceeded at line 1 column 128",
    ),
    (b'\n\n  {"a":\n  x}', "expected value at line 4 column 3"),
    (b'"\xc3("', "invalid unicode code point at line 1 column 4"),
    (b"\xef\xbb\xbf{}", "expected value at line 1 column 1"),
    (b'{"a":1,,}', "key must be a string at line 1 column 8"),
    (b"[,1]", "expected value at line 1 column 2"),
    (b'{"a"\n:\n1\n,\n}', "trailing comma at line 5 column 1"),
    (b"{not json", "key must be a string at line 1 column 2"),
    (b"\xff", "expected value at line 1 column 1"),
]

L = (
    b'{"schema_version":2,"seq":3,"wall_time_unix_ms":1,"rollout_id":"r","thread_id":null,'
    b'"codex_turn_id":null,"payload":{"type":"protocol_event_observed","event_type":"x",'
    b'"event_payload":{"raw_payload_id":"raw_payload:2","kind":{"type":"protocol_event"},'
    b'"path":"payloads/2.json"}}}'
)


def s(old: bytes, new: bytes) -> bytes:
    assert old in L
    return L.replace(old, new, 1)


#: Lines as Codex parses them: with their newline (the bundle had more lines after them).
LINE_CASES: list[tuple[bytes, str]] = [
    (L[:60], "control character (\\u0000-\\u001F) found while parsing a string at line 2 column 0"),
    (L[:100], "EOF while parsing a value at line 2 column 0"),
    (
        L[:150],
        "control character (\\u0000-\\u001F) found while parsing a string at line 2 column 0",
    ),
    (L[:-1], "EOF while parsing an object at line 2 column 0"),
    (L + b"x", "trailing characters at line 1 column 277"),
    (s(b'"seq":3', b'"seq":"3"'), 'invalid type: string "3", expected u64 at line 1 column 29'),
    (s(b'"seq":3', b'"seq":-3'), "invalid value: integer `-3`, expected u64 at line 1 column 28"),
    (
        s(b'"seq":3', b'"seq":3.5'),
        "invalid type: floating point `3.5`, expected u64 at line 1 column 29",
    ),
    (s(b'"seq":3', b'"seq":[3'), "invalid type: sequence, expected u64 at line 1 column 26"),
    (s(b'"seq":3,', b""), "missing field `seq` at line 1 column 268"),
    (
        s(b'"thread_id":null', b'"thread_id":7'),
        "invalid type: integer `7`, expected a string at line 1 column 80",
    ),
    (
        s(b'"wall_time_unix_ms":1', b'"wall_time_unix_ms":1}'),
        "missing field `rollout_id` at line 1 column 50",
    ),
    (
        s(b'"type":"protocol_event_observed"', b'"type":5'),
        "invalid type: integer `5`, expected variant identifier at line 1 column 124",
    ),
    (
        s(b'"type":"protocol_event_observed"', b'"type":"bogus"'),
        "unknown variant `bogus`, expected one of `recording_completed`, `rollout_started`, `rollout_ended`, `thread_started`, `thread_ended`, `thread_resumed`, `codex_turn_started`, `codex_turn_ended`, `history_item_accepted`, `inference_started`, `inference_completed`, `inference_failed`, `inference_cancelled`, `tool_call_started`, `mcp_tool_call_correlation_assigned`, `stdin_target_resolved`, `tool_call_runtime_started`, `tool_call_runtime_ended`, `tool_call_ended`, `code_cell_started`, `code_cell_initial_response`, `code_cell_ended`, `compaction_request_started`, `compaction_request_completed`, `compaction_request_failed`, `compaction_installed`, `agent_result_observed`, `protocol_event_observed`, `other` at line 1 column 130",
    ),
    (s(b'"type":"protocol_event_observed",', b""), "missing field `type` at line 1 column 242"),
    (
        s(b'"event_type":"x"', b'"event_type":5'),
        "invalid type: integer `5`, expected a string at line 1 column 274",
    ),
    (
        s(b'"protocol_event"', b'"mystery_kind"'),
        "unknown variant `mystery_kind`, expected one of `inference_request`, `inference_response`, `compaction_request`, `compaction_checkpoint`, `compaction_response`, `tool_invocation`, `tool_result`, `tool_runtime_event`, `terminal_runtime_event`, `protocol_event`, `session_metadata`, `agent_result` at line 1 column 274",
    ),
    (
        s(b'"payload":{', b'"payload":"s","q":{'),
        'invalid type: string "s", expected internally tagged enum RawTraceEventPayload at line 1 column 118',
    ),
    (b'"x"', 'invalid type: string "x", expected struct RawTraceEvent at line 1 column 3'),
    (b"5", "invalid type: integer `5`, expected struct RawTraceEvent at line 1 column 1"),
    (b"{}", "missing field `schema_version` at line 1 column 2"),
    (
        s(b'"x"', b'"a\tb"'),
        "control character (\\u0000-\\u001F) found while parsing a string at line 1 column 165",
    ),
    (
        s(b'"raw_payload_id":"raw_payload:2",', b""),
        "missing field `raw_payload_id` at line 1 column 243",
    ),
]

MANIFEST = (
    b'{\n  "schema_version": 2,\n  "trace_id": "t",\n  "rollout_id": "r",\n'
    b'  "root_thread_id": "r",\n  "started_at_unix_ms": 1,\n'
    b'  "raw_event_log": "trace.jsonl",\n  "payloads_dir": "payloads"\n}'
)


@pytest.mark.parametrize(("data", "expected"), PAYLOAD_CASES)
def test_payload_syntax_errors_match_serde(data: bytes, expected: str) -> None:
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(data)
    assert serde.syntax_error(data) == expected


@pytest.mark.parametrize(("line", "expected"), LINE_CASES)
def test_event_line_errors_match_serde(line: bytes, expected: str) -> None:
    assert serde.event_line_error(line + b"\n") == expected


def test_truncated_last_line_has_no_newline() -> None:
    assert serde.event_line_error(L[:97]) == "EOF while parsing a string at line 1 column 97"


def test_valid_event_line_has_no_error() -> None:
    assert serde.event_line_error(L + b"\n") is None
    assert serde.event_line_error(L[:-1] + b',"unknown":[1,{"a":null}]}\n') is None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"schema_version": 2,', "EOF while parsing a value at line 1 column 21"),
        (
            MANIFEST.replace(b'"schema_version": 2,\n', b""),
            "missing field `schema_version` at line 8 column 1",
        ),
        (
            MANIFEST.replace(b": 2,", b': "2",'),
            'invalid type: string "2", expected u32 at line 2 column 23',
        ),
        # the stream reader counts the byte it peeked at: one column further than for lines
        (
            MANIFEST.replace(b": 2,", b": [2],"),
            "invalid type: sequence, expected u32 at line 2 column 21",
        ),
        (
            MANIFEST.replace(b": 2,", b": -1,"),
            "invalid value: integer `-1`, expected u32 at line 2 column 23",
        ),
        (MANIFEST + b"x", "trailing characters at line 9 column 2"),
        # an unknown field's string is skipped by IoRead's ignore_str, which takes the control
        # character before refusing it (a line's SliceRead does not: a column less)
        (
            MANIFEST.replace(b"{\n", b'{\n  "note": "a\x01b",\n', 1),
            "control character (\\u0000-\\u001F) found while parsing a string at line 2 column 13",
        ),
        (
            MANIFEST.replace(b"{\n", b'{\n  "note": ["\n"],\n', 1),
            "control character (\\u0000-\\u001F) found while parsing a string at line 3 column 0",
        ),
        (
            MANIFEST.replace(b'"r",\n  "started', b'"r\xff",\n  "started'),
            "invalid unicode code point at line 5 column 24",
        ),
        (b"\xff", "expected value at line 1 column 1"),
    ],
)
def test_manifest_errors_match_serde(data: bytes, expected: str) -> None:
    assert serde.manifest_error(data) == expected


def test_valid_manifest_has_no_error() -> None:
    assert serde.manifest_error(MANIFEST) is None
    assert serde.manifest_error(MANIFEST + b"\n") is None


#: an unknown field's strings are skipped undecoded: bytes not UTF-8, lone surrogate escapes
#: (Codex 0.169 and 0.171 reduce such a bundle; found by the string differential, seed 26701)
ODD_UNKNOWN = MANIFEST.replace(
    b"{\n", b'{\n  "note": {"k": ["\xff\xc3(", "\\ud800", "\\udc00x", "\xed\xa0\x80"]},\n', 1
)


def test_a_manifest_with_undecodable_unknown_strings_reads_as_serde_reads_it() -> None:
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(ODD_UNKNOWN)
    assert serde.manifest_error(ODD_UNKNOWN) is None
    assert codec.manifest_from_bytes(ODD_UNKNOWN) == codec.manifest_from_bytes(MANIFEST)


def test_position_counts_bytes_and_resets_after_newline() -> None:
    data = "é\n\nab".encode()
    assert serde.position(data, 0) == (1, 0)
    assert serde.position(data, 2) == (1, 2)  # é is two bytes
    assert serde.position(data, 3) == (2, 0)
    assert serde.position(data, 6) == (3, 2)


def test_numbers_beyond_f64_are_accepted_like_serde() -> None:
    # Codex's serde_json keeps numbers as text; orjson refuses an infinite double.
    assert serde.syntax_error(b"[1e400, -1e400, 123456789012345678901234567890]") is None


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(_json, st.sampled_from([orjson.OPT_INDENT_2, 0]))
def test_whatever_orjson_writes_serde_accepts(value: object, option: int) -> None:
    assert serde.syntax_error(orjson.dumps(value, option=option)) is None


@settings(max_examples=200, deadline=None)
@given(_json, st.data())
def test_every_strict_prefix_is_an_error_at_or_before_its_end(
    value: object, data: st.DataObject
) -> None:
    raw = orjson.dumps({"k": value})
    cut = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    message = serde.syntax_error(raw[:cut])
    assert message is not None
    line, column = (int(x) for x in message.rsplit(" at line ", 1)[1].split(" column "))
    assert line == 1 and column <= cut


# --- differential against the real binary (skipped without it) ---------------------------------

CODEX = codex_bin(2)
_BASE = "single_exec"


def _base_bundle() -> Path | None:
    from tests.conftest import CONFORMANCE

    found = sorted((CONFORMANCE / _BASE).glob("*/manifest.json")) if CONFORMANCE.is_dir() else []
    return found[0].parent if found else None


@pytest.mark.codex
@pytest.mark.skipif(CODEX is None or _base_bundle() is None, reason="needs CODEX_BIN and corpus")
@pytest.mark.parametrize("data", [d for d, _ in PAYLOAD_CASES[::4]] + [b'[1,{"a":tru}]'])
def test_payload_messages_against_codex(data: bytes, tmp_path: Path) -> None:
    base = _base_bundle()
    assert base is not None and CODEX is not None
    bundle = tmp_path / "bundle"
    shutil.copytree(base, bundle)
    (bundle / "payloads" / "5.json").write_bytes(data)
    run = subprocess.run(
        [CODEX, "debug", "trace-reduce", str(bundle), "-o", str(tmp_path / "out.json")],
        capture_output=True,
        text=True,
        env={**os.environ, "RUST_BACKTRACE": "0"},
        check=False,
    )
    cause = run.stderr.split("Caused by:\n", 1)[1].strip().splitlines()[0].strip()
    assert serde.syntax_error(data) == cause


def test_codec_still_refuses_what_serde_refuses() -> None:
    """The fast path and the slow path agree on the verdict for schema errors."""
    for line, _ in LINE_CASES:
        try:
            codec.parse_event_line(line)
        except codec.DecodeError:
            continue
        raise AssertionError(f"codec accepted {line!r}")


def _codec_verdict(line: bytes) -> bool:
    """Does our fast path (or its stdlib fallback for huge numbers) accept the line?"""
    import json

    try:
        codec.event_from_dict(json.loads(line))
    except (ValueError, codec.DecodeError):
        return False
    return True


L_TOOL = (
    b'{"schema_version":2,"seq":11,"wall_time_unix_ms":5,"rollout_id":"r","thread_id":"t",'
    b'"codex_turn_id":"u","payload":{"type":"tool_call_started","tool_call_id":"c",'
    b'"model_visible_call_id":"c","code_mode_runtime_tool_id":null,"requester":{"type":"model"},'
    b'"kind":{"type":"mcp","server":"s","tool":"t"},"summary":{"type":"generic","label":"x",'
    b'"input_preview":"{}","output_preview":null},"invocation_payload":{"raw_payload_id":'
    b'"raw_payload:6","kind":{"type":"tool_invocation"},"path":"payloads/6.json"}}}'
)


@settings(max_examples=500, deadline=None)
@given(st.data(), st.sampled_from([L, L_TOOL]))
def test_serde_model_and_codec_agree_on_mutated_lines(data: st.DataObject, base: bytes) -> None:
    """One byte changed anywhere in a valid event line: the slow path names an error exactly
    when the codec refuses the line (so a refused line always gets serde's message)."""
    assert _codec_verdict(base + b"\n")
    line = bytearray(base)
    at_ = data.draw(st.integers(0, len(line) - 1))
    line[at_] = data.draw(st.sampled_from(b'{}[],:"\\ax0-e5tn\t '))
    raw = bytes(line) + b"\n"
    assert (serde.event_line_error(raw) is None) == _codec_verdict(raw), raw


@pytest.mark.codex
@pytest.mark.skipif(CODEX is None or _base_bundle() is None, reason="needs CODEX_BIN and corpus")
@pytest.mark.parametrize(
    "note",
    [
        b'"a\x01b"',
        b'["\n"]',
        b'"\\u12"',
        b'{"k": ["\xff\xc3(", "\\ud800", "\\udc00x", "\xed\xa0\x80"]}',
    ],
)
def test_manifest_unknown_fields_against_codex(note: bytes, tmp_path: Path) -> None:
    """An unknown manifest field holding a string serde skips undecoded: the same state or
    the same refusal (position included) as Codex."""
    from rollout_trace_sdk.testing import reduce_and_compare

    base = _base_bundle()
    assert base is not None and CODEX is not None
    bundle = tmp_path / "bundle"
    shutil.copytree(base, bundle, ignore=shutil.ignore_patterns("expected_state.json"))
    manifest = bundle / "manifest.json"
    manifest.write_bytes(manifest.read_bytes().replace(b"{\n", b'{\n  "note": ' + note + b",\n", 1))
    result = reduce_and_compare(bundle, CODEX, timeout=60)
    assert result.same_text, result.explain()
