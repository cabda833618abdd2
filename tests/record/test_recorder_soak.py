"""A few crash-soak runs (``benchmarks/soak.py`` does 100+): the agent loop is killed with
SIGKILL at random moments, and ended with SIGTERM and SIGINT; every bundle must keep the
payload-before-line rule, whole lines with seqs 1..N, and reduce (leniently when cut)."""

from __future__ import annotations

import pytest

from benchmarks.soak import soak


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_crash_soak(backend: str) -> None:
    result = soak(runs=3, backend=backend, seed=7, graceful_runs=1)
    assert result["problems"] == []
    assert result["runs"] == 5
    assert result["lenient_ok"] == 5
    assert result["completed"] >= 2  # the SIGTERM and SIGINT runs
