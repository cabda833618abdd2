"""Odd numbers handed to every recording call that takes agent data (integers at and past
2^53, 2^63, 2^64 and 2^128, past Python's own 4,300-digit limit; signed zeros; the smallest
and largest floats; decimals): nothing raises into the agent, what changed is counted, and
the bundle reduces with our reducer as with the Codex of its schema."""

from __future__ import annotations

import decimal
import warnings
from pathlib import Path
from typing import Any, Final

import pytest

from rollout_trace_sdk.record import RecorderWarning, open_rollout

from .recorder_support import bundle_in, check_bundle, of_type
from .test_recorder_values import SITES

pytestmark = pytest.mark.anyio

NUMBERS: Final[dict[str, Any]] = {
    "2^53+1": 2**53 + 1,
    "2^63-1": 2**63 - 1,
    "2^63": 2**63,
    "2^64-1": 2**64 - 1,
    "2^64": 2**64,
    "-2^63-1": -(2**63) - 1,
    "2^128": 2**128,
    "10^400": 10**400,
    "10^5000": 10**5000,
    "-0.0": -0.0,
    "0.0": 0.0,
    "5e-324": 5e-324,
    "max_f64": 1.7976931348623157e308,
    "decimal": decimal.Decimal("1.50"),
}


def _values() -> dict[str, Any]:
    """Each number alone, as a map's value and inside a list."""
    return {"n": NUMBERS, "in_list": list(NUMBERS.values()), **NUMBERS}


@pytest.mark.parametrize("site", sorted(SITES))
async def test_odd_numbers_at_every_call_site(tmp_path: Path, schema: int, site: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecorderWarning)
        async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
            await SITES[site](turn, _values())
    bundle = bundle_in(tmp_path)
    assert [e["payload"]["status"] for e in of_type(bundle, "rollout_ended")] == ["completed"]
    stats = rollout.stats
    assert stats is not None and stats.events_dropped == 0 and stats.payloads_dropped == 0
    # the decimal is an object the encoder does not know; an agent message's integers past
    # 64 bits are their digits as text (Codex's typed item refuses them); nothing else changed
    # (before: 10^5000 failed the call in schema 3, and its payload was dropped in schema 2)
    assert set(stats.approximated) <= {"object", "bigint"}, stats.approximated
    check_bundle(bundle, tmp_path)
