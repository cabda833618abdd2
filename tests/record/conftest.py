"""Fixtures of the recorder tests."""

from __future__ import annotations

import pytest


@pytest.fixture(params=[2, 3], ids=["v2", "v3"])
def schema(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Run a test in both schemas: rollouts opened without ``schema_version`` write this
    one. Used by the tests whose subject is written differently in each schema (the rest
    run in the schema the environment picks: ``ROLLOUT_TRACE_SCHEMA``), so CI covers both
    where it matters without running the whole suite twice."""
    monkeypatch.setenv("ROLLOUT_TRACE_SCHEMA", str(request.param))
    return int(request.param)
