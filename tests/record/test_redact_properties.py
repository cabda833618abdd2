"""Secret redaction's promises over generated JSON: the output is valid JSON, idempotent and
deterministic; a planted secret never survives, wherever it is put; a log stays one valid
document a line."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from .redact_support import JSON_VALUES, PRETTY, SECRETS, plant, redactor


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=JSON_VALUES, pretty=st.booleans())
@example(value={"password": -10, "api_key": "null"}, pretty=False)
@example(value="Password: 000-----BEGIN RSA PRIVATE KEY-----", pretty=False)
@example(value="Cookie: a=b; :=sk-proj-Password: ", pretty=False)
@example(value="Cookie: a=b; Cookie: a=b; secret=password", pretty=False)
@example(value="sk-proj-password-----BEGIN RSA PRIVATE KEY-----Password: 0$", pretty=False)
def test_output_is_valid_json_idempotent_and_deterministic(value: Any, pretty: bool) -> None:
    data = orjson.dumps(value, option=PRETTY if pretty else 0)
    out = redactor().redact(data)
    assert orjson.loads(out) is not None or out == b"null"
    assert redactor().redact(out) == out
    assert redactor().redact(data) == out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=JSON_VALUES, secret=SECRETS, where=st.integers(0, 7), pretty=st.booleans())
def test_planted_secrets_never_survive(value: Any, secret: str, where: int, pretty: bool) -> None:
    assume(secret not in json.dumps(value))
    data = orjson.dumps(plant(value, secret, where), option=PRETTY if pretty else 0)
    out = redactor().redact(data)
    orjson.loads(out)
    assert secret.encode() not in out


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(JSON_VALUES, min_size=1, max_size=6))
@example(lines=["Password: Password: ", ""])
def test_lines_stay_one_valid_document_each(lines: list[Any]) -> None:
    data = b"".join(orjson.dumps(v) + b"\n" for v in lines)
    out = redactor().redact(data, lines=True)
    assert out.endswith(b"\n") and out.count(b"\n") == len(lines)
    for line in out.splitlines():
        orjson.loads(line)
