"""The rules at a marker's site (``record/_redact_spans.py``, ``_redact_rules.py``): how far a
value is read, and a value read once however many markers it holds."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from rollout_trace_sdk.record.redact import Redactor

from .redact_support import PLACEHOLDER, redactor


def test_a_run_of_markers_is_one_value_found_once() -> None:
    # every "token" in the run lies inside the first one's value: it is not tried again
    # (trying each scanned the rest of the run: quadratic time on long runs)
    out = Redactor().redact(orjson.dumps({"output": "token=" * 300}))
    assert orjson.loads(out)["output"].startswith("token=[REDACTED:token:")
    assert len(PLACEHOLDER.findall(out.decode())) == 1


def test_an_unquoted_value_is_taken_up_to_its_reach() -> None:
    from rollout_trace_sdk.record._redact_rules import BARE_VALUE_REACH

    value = "a1" * BARE_VALUE_REACH
    out = orjson.loads(Redactor().redact(orjson.dumps({"output": f"token={value} done"})))
    redacted, rest = out["output"].split("]", 1)
    assert PLACEHOLDER.fullmatch(redacted.removeprefix("token=") + "]")
    assert rest == value[BARE_VALUE_REACH:] + " done"


def test_many_cookie_headers_on_one_line_are_each_read_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each cookie header read its pairs to the end of the line, so 50,000 headers on one
    line (650 KB) took 336 s of the writer thread, and the pairs after a second header were
    left to the next pass (redaction was not idempotent; found by hypothesis). A header's
    value now ends where the next header begins: every pair is read by one header."""
    from rollout_trace_sdk.record import _redact_rules as rules

    read = 0
    real = rules.COOKIE_PAIR

    class Counting:
        def finditer(self, value: bytes) -> Any:
            nonlocal read
            for match in real.finditer(value):
                read += 1
                yield match

    monkeypatch.setattr(rules, "COOKIE_PAIR", Counting())
    headers = 2_000
    out = redactor().redact(orjson.dumps("Cookie: a=b; " * headers + "secret=password"))
    assert read <= headers + 1
    assert out.count(b"[REDACTED:cookie:") == headers + 1


def test_many_private_key_headers_without_an_end_line_take_linear_time() -> None:
    """The search for a block's END line stops at the next BEGIN line: a block without its
    END line is taken as far as its body goes (review20), so the headers after it are tried
    each in turn, and each search reading the rest of the text made 8,000 headers (300 KB)
    take a minute of the writer thread."""
    import time

    text = ("-----BEGIN RSA PRIVATE KEY-----\n" + "QUJD" * 8 + "\n") * 8_000
    started = time.process_time()
    out = redactor().redact(orjson.dumps({"output": text}))
    assert time.process_time() - started < 10  # ~0.1 s linear, ~60 s quadratic
    assert out.count(b"[REDACTED:private_key:") == 8_000 and b"QUJD" not in out


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abc123", True),  # after a scheme: six characters or more
        ("Authorization: Bearer abc12", False),
        ("authorization=hunter2", True),  # no scheme: it must look like a secret
        ("authorization=api_key", False),  # a name in code, not a secret
        ("authorization=ab1", True),  # three characters are enough (mut40: four passed)
        ("authorization=a1", False),  # two are not
    ],
)
def test_an_authorization_value_is_a_secret_by_its_scheme_or_its_look(
    text: str, secret: bool
) -> None:
    """After a scheme (``Bearer``) a credential of six characters or more is taken; without
    one, only a value that looks like a secret (a digit or symbol, not a dotted name).
    Found by the mut38 audit: inverting the rule passed this module's tests."""
    out = orjson.loads(Redactor().redact(orjson.dumps({"output": text})))["output"]
    assert (PLACEHOLDER.search(out) is not None) is secret, out
