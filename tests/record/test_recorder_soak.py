"""A few crash-soak runs (``benchmarks/soak.py`` does 100+): the agent loop is killed with
SIGKILL at random moments, and ended with SIGTERM and SIGINT; every bundle must keep the
payload-before-line rule, whole lines with seqs 1..N (a last line SIGKILL tore aside), and
reduce (leniently when cut). Schema 3 (the default) on both backends, schema 2 on one."""

from __future__ import annotations

import pytest

from benchmarks.soak import soak


@pytest.mark.parametrize(("backend", "schema"), [("asyncio", 3), ("trio", 3), ("asyncio", 2)])
def test_crash_soak(backend: str, schema: int) -> None:
    result = soak(runs=3, backend=backend, seed=7, graceful_runs=1, schema=schema)
    assert result["problems"] == []
    assert result["runs"] == 5
    assert result["lenient_ok"] == 5
    assert result["completed"] >= 2  # the SIGTERM and SIGINT runs
