"""The cheap test for keys given twice: right both ways, and no copy of a long line."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from rollout_trace_sdk.model.duplicate_keys import may_repeat_keys
from rollout_trace_sdk.model.serde_errors import event_line_error


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'{"seq":1,"x":"a"}\n', False),
        (b'{"seq":1,"x":"a"}', False),
        (b'{"seq":1,"x":"a"}\r\r\n', False),
        (b'{"seq":1,"seq":2}\n', True),
        (b'{"seq":1,"p":{"k":1,"k":2}}\n', True),
        # not what the value encodes back to, but no key twice: parsed again, found clean
        (b'{ "seq" : 1 }\n', False),
        (b'{"seq":1.0}\n', False),
    ],
)
def test_repeated_keys_found(line: bytes, expected: bool) -> None:
    assert may_repeat_keys(line, orjson.loads(line)) is expected


def test_long_line_compared_in_place() -> None:
    """A long line costs its re-encoding only: stripping the newline off a copy of the line
    held one more line's worth (a 100 MB line peaked at 4 x its size in ``reduce``, now 3 x).
    Measured in a fresh process as the growth of its peak RSS across the call: building the
    line and parsing it already peaked at 3 x its size, which the re-encoding (1 x) beside the
    line and its value (2 x) does not pass; the copy made it 4 x."""
    script = """
import resource, orjson
from rollout_trace_sdk.model.duplicate_keys import may_repeat_keys
from rollout_trace_sdk.model.serde_errors import event_line_error
size = 50_000_000
line = b"".join([b'{"seq":1,"extra":"', b"a" * size, b'"}\\n'])
value = orjson.loads(line)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert may_repeat_keys(line, value) is False
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(grown * 1024 / size)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert float(done.stdout) < 0.5, done.stdout


_STARTED = (
    b'{"schema_version":2,"seq":2,"wall_time_unix_ms":1795503514447,"rollout_id":"r",'
    b'"thread_id":null,"codex_turn_id":null,"payload":{"type":"thread_started",'
    b'"thread_id":"t","agent_path":"/root","metadata_payload":{REF}}}\n'
)
_KIND = b'"kind":{"type":"session_metadata"}'


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        # the repeated key is refused before its value is read
        (b'"raw_payload_id":"p",' + _KIND + b',"path":"a","path":0', "duplicate field `path`"),
        # a wrong member before it is refused first
        (b'"raw_payload_id":"p",' + _KIND + b',"path":0,"path":"a"', "invalid type: integer `0`"),
        (
            b'"raw_payload_id":"p","kind":0,"path":"a","path":"a"',
            "invalid type: integer `0`, expected adjacently tagged enum RawPayloadKind",
        ),
        # one after it never
        (b'"raw_payload_id":"p","raw_payload_id":"p","kind":0,"path":"a"', "duplicate field"),
    ],
)
def test_a_payload_key_given_twice_is_refused_in_serde_order(ref: bytes, expected: str) -> None:
    """serde reads a buffered payload's members in order and refuses a struct's field met again
    as its key is read: whichever of a wrong member and the key again comes first is the
    refusal (Codex 0.169's words, found by the string differential; the message was the type
    error's whenever the payload held one, wherever it was)."""
    problem = event_line_error(_STARTED.replace(b"{REF}", b"{" + ref + b"}"), 2)
    assert problem is not None and problem.startswith(expected), problem
