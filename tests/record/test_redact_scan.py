"""The gate scan (``record/_redact_scan.py``): it skips only the markers whose rules cannot
match, so redaction with it writes the same bytes as the rules run at every marker
occurrence; and ``clean``, one scan over a batch, is never wrong to say clean."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rollout_trace_sdk.record.redact import RedactionConfig, Redactor

from .redact_support import FRAGMENTS, JSON_VALUES, KEYS, PRETTY, SECRETS, plant, redactor


@settings(max_examples=300, deadline=None)
@given(
    hay=st.lists(
        st.sampled_from([b"AKIA", b"K", b"z", b"uthoriz", b"eyJ", b"J", b"x"]), max_size=200
    ),
    marker=st.sampled_from([b"AKIA", b"AIza", b"eyJ", b"uthoriz", b"sk-"]),
)
def test_marker_scan_finds_what_find_finds(hay: list[bytes], marker: bytes) -> None:
    from rollout_trace_sdk.record._redact_scan import occurrences

    data = b"".join(hay)
    expected = [i for i in range(len(data)) if data.startswith(marker, i)]
    assert list(occurrences(data, marker)) == expected


def test_a_bytearray_chunk_is_redacted_like_bytes() -> None:
    r = redactor()
    lines = bytearray(b'{"a":"AKIAZ7QW3RTY5UIOP2AS"}\n{"b":"ok"}\n')
    out = r.redact(lines, lines=True)
    assert out == redactor().redact(bytes(lines), lines=True)
    assert b"AKIA" not in out and "redaction_error" not in r.counts
    clean = bytearray(b'{"b":"ok"}\n')
    assert r.redact(clean, lines=True) is clean


_GATE_FRAGMENTS = [
    *FRAGMENTS,
    "secret_",
    "_key",
    "KEY",
    "oken",
    "PASS",
    "ookie",
    "uthoriz",
    "private key ",
    "PRIVATE KEY-----",
    "AKIAZ7QW3RTY5UIOP2AS",
    "sk-",
    "x" * 30,
    "_" * 20,
    "\\\\\\",
    '\\"',
    "\t",
    "-",
    "postgres://u:p@h",
    "=hunter2!",
]


_gate_text = st.lists(
    st.one_of(st.sampled_from(_GATE_FRAGMENTS), st.text(min_size=1, max_size=8)), max_size=24
).map("".join)


def _reference(config: RedactionConfig | None = None) -> Redactor:
    """A redactor that runs the rules at every marker occurrence (no gate scan)."""
    r = Redactor(config, key=b"k")
    r._scanner = None
    return r


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=st.one_of(
        _gate_text, st.lists(_gate_text, max_size=3), st.dictionaries(KEYS, _gate_text, max_size=3)
    ),
    pretty=st.booleans(),
    nested=st.booleans(),
)
@example(value="ecret" + "x" * 56 + "_api_key: 'v4lue1'", pretty=False, nested=False)
@example(value="secret" + "x" * 70 + "key=abc123", pretty=False, nested=True)
def test_the_gate_scan_finds_what_every_marker_finds(
    value: Any, pretty: bool, nested: bool
) -> None:
    """The gates only skip markers whose rules cannot match: same bytes, same counts as the
    rules run at every occurrence of every marker."""
    if nested:
        value = json.dumps(value)
    data = orjson.dumps(value, option=PRETTY if pretty else 0)
    gated, reference = Redactor(key=b"k"), _reference()
    assert gated._scanner is not None
    assert gated.redact(data) == reference.redact(data)
    assert gated.counts == reference.counts
    lines = data.replace(b"\n", b" ") + b"\n" + orjson.dumps({"token": value}) + b"\n"
    assert gated.redact(lines, lines=True) == reference.redact(lines, lines=True)


@settings(max_examples=200, deadline=None)
@given(value=_gate_text, key=st.sampled_from(["session", "sess_id", "pass", "X-Trace"]))
def test_the_gate_scan_with_configured_keys(value: str, key: str) -> None:
    config = RedactionConfig(keys=[key])
    data = orjson.dumps({"v": value, key: value, "t": f"{key}={value}"})
    assert Redactor(config, key=b"k").redact(data) == _reference(config).redact(data)


def test_gates_are_no_longer_than_their_window() -> None:
    """A token gate's match must fit the window the scanner searches back for its marker."""
    from rollout_trace_sdk.record import _redact_rules as rules

    for marker, gate in rules.TOKEN_GATES.items():
        width = re._parser.parse(re.escape(marker) + gate).getwidth()  # type: ignore[attr-defined]
        assert width[1] <= rules.TOKEN_GATE_SPAN, marker


def test_a_clean_bytearray_is_returned_uncopied_and_a_big_one_is_redacted() -> None:
    r = Redactor(key=b"k")
    clean = bytearray(b'{"b":"ok","max_tokens":5,"key":"k"}\n' * 2000)
    assert r.redact(clean, lines=True) is clean
    dirty = bytearray(clean + b'{"password":"hunter2"}\n' + clean)
    out = r.redact(dirty, lines=True)
    assert b"hunter2" not in out and out.count(b"\n") == dirty.count(b"\n")
    assert out == _reference().redact(bytes(dirty), lines=True)


def test_a_failing_scan_falls_back_even_for_a_clean_bytearray() -> None:
    class Failing:
        def sites(self, data: object) -> Any:
            raise RuntimeError("scratch in use")

    r = Redactor(key=b"k")
    r._scanner = Failing()  # type: ignore[assignment]
    chunk = bytearray(b'{"b":"ok"}\n{"password":"hunter2"}\n')
    out = r.redact(chunk, lines=True)
    assert b"hunter2" not in out and out.count(b"\n") == 2
    assert r.counts["redaction_error"] == 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=st.lists(JSON_VALUES, min_size=1, max_size=6), secret=SECRETS, where=st.integers(0, 7))
def test_clean_batches_are_really_clean(docs: list[Any], secret: str, where: int) -> None:
    """``clean`` (one scan of the documents joined) never says clean when one document
    would change: the shard sink skips redaction on its word."""
    r = redactor()
    bodies = [orjson.dumps(d) for d in docs]
    if r.clean(bodies):
        assert all(r.redact(b) == b for b in bodies)
    planted = [*bodies, orjson.dumps(plant(docs[0], secret, where))]
    assert not r.clean(planted)


def test_clean_is_unsure_with_user_patterns_or_a_hook() -> None:
    assert redactor().clean([b'{"a":1}', b'"hello"'])
    patterns = Redactor(RedactionConfig(extra_patterns=[("x", rb"zzz")]))
    assert not patterns.clean([b'{"a":1}'])
    assert Redactor(RedactionConfig(enabled=False)).clean([b'"sk-proj-whatever12345678"'])
