"""The differential scripts (``tests/differential/script.py``: threads, sub-agents, tool calls,
terminals, code cells, compactions, images) played through the recorder under random capture
limits, their texts blown up now and then (a few KB to a few hundred KB) so that both small and
big payloads meet the limits: every bundle closes, reduces with Codex 0.171 to our bytes, says
``closed_with_partial_payloads`` exactly when a payload was cut or left out (``docs/format.md``,
"Limits"), keeps each cut body within ``max_payload_bytes`` and the whole within its ceiling;
and ``convert --to 2`` (what a schema-2 user of the limits gets) refuses it clearly when a
payload was cut, or writes a copy Codex 0.169 reduces as we do; a few crash cuts of each are
judged as ``tests/differential/crash_cuts.py`` judges them.
``RECORDER_LIMIT_EXAMPLES`` (default 8) for more, ``RECORDER_LIMIT_SEED`` for other draws,
``RECORDER_LIMIT_REPORT=FILE`` to keep each bundle's limits and outcome."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any

import anyio
import attrs
import orjson
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.testing import reduce_and_compare
from tests.codex_oracle import codex_bin
from tests.differential.convert_checks import check_convert
from tests.differential.crash_cuts import check_some_cuts
from tests.reduce.v3_bundles import read_records

from ..differential.script import Script, scripts
from .recorder_support import bundle_in, types
from .test_recorder_scripts import opening_metadata, play_with_extras

EXAMPLES = int(os.environ.get("RECORDER_LIMIT_EXAMPLES", "8"))
#: a long run's fresh draws (the fixed seed keeps CI's the same from run to run)
SEED = int(os.environ.get("RECORDER_LIMIT_SEED", "20261207"))
#: how many times a text is repeated: most stay small, some pass any limit drawn
_FACTORS = (1, 1, 1, 20, 200, 3000)


def _inflated(value: Any, rng: random.Random) -> Any:
    """``value`` (a script or part of one) with its texts repeated now and then."""
    if isinstance(value, tuple):
        return tuple(_inflated(v, rng) for v in value)
    if not attrs.has(type(value)):
        return value
    changes: dict[str, Any] = {}
    for field in attrs.fields(type(value)):
        old = getattr(value, field.name)
        if field.name in ("output", "message", "user_text", "result") and isinstance(old, str):
            changes[field.name] = (old or "z") * rng.choice(_FACTORS)
        elif isinstance(old, tuple) or attrs.has(type(old)):
            changes[field.name] = _inflated(old, rng)
    return attrs.evolve(value, **changes)


async def _play(root: Path, script: Script, limits: dict[str, int], extras: random.Random) -> None:
    async with open_rollout(
        root,
        model="gpt-test",
        provider_name="test-provider",
        schema_version=3,
        max_payload_bytes=limits.get("max_payload_bytes"),
        max_bundle_bytes=limits.get("max_bundle_bytes"),
        metadata=opening_metadata(extras),
    ) as rollout:
        await play_with_extras(rollout, script, extras)


def _captures(bundle: Path) -> list[dict[str, Any]]:
    """The capture metadata of every reference the log makes (parts included)."""
    found: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if "raw_payload_id" in value and isinstance(value.get("capture"), dict):
                found.append(value["capture"])
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    for line in (bundle / "trace.jsonl").read_bytes().splitlines():
        walk(orjson.loads(line))
    return found


def _check(bundle: Path, limits: dict[str, int]) -> None:
    codex = codex_bin(3)
    assert types(bundle)[-1] == "recording_completed"
    result = reduce_and_compare(bundle, codex or "", timeout=60)
    assert result.error is None and result.same, result.explain()
    state = orjson.loads(result.ours or b"{}")
    cut = [c for c in _captures(bundle) if c.get("status") in ("truncated", "omitted")]
    status = "closed_with_partial_payloads" if cut else "complete"
    assert state["recording_status"] == status, (cut[:3], limits)
    per_payload = limits.get("max_payload_bytes")
    for capture in cut:
        if capture["status"] == "truncated":
            assert capture["retained_bytes"] < capture["original_bytes"], capture
            if per_payload is not None and "max_bundle_bytes" not in limits:
                assert capture["retained_bytes"] <= per_payload, capture
    if "max_bundle_bytes" in limits:
        limit = limits["max_bundle_bytes"]
        records = sum(
            len(body)
            for shard in (bundle / "payloads").glob("*.zst")
            for body in read_records(shard).values()
        )
        written = records + (bundle / "trace.jsonl").stat().st_size
        assert written <= max(2 * limit, limit + (16 << 20)), (written, limit)
    outcome, broken = check_convert(bundle, 3, result)
    assert broken is None, broken
    assert cut == [] or outcome.startswith("refused"), outcome
    problems = check_some_cuts(bundle, codex or "", random.Random(str(limits)), bundle.parent)
    assert not problems, problems[:3]
    report = os.environ.get("RECORDER_LIMIT_REPORT")
    if report:
        with Path(report).open("a") as out:
            out.write(f"{sorted(limits.items())} cut={len(cut)} {status} convert: {outcome}\n")


_PER_PAYLOAD = st.sampled_from([1, 2, 64, 200, 255, 256, 1000, 4096, 70_000])
_PER_BUNDLE = st.sampled_from([1, 1000, 4096, 9000, 30_000, 200_000])
#: a payload limit, a budget, both (none now and then: the check that nothing is cut)
_limits: st.SearchStrategy[dict[str, int]] = st.one_of(
    st.fixed_dictionaries({"max_payload_bytes": _PER_PAYLOAD}),
    st.fixed_dictionaries({"max_bundle_bytes": _PER_BUNDLE}),
    st.fixed_dictionaries({"max_payload_bytes": _PER_PAYLOAD, "max_bundle_bytes": _PER_BUNDLE}),
    st.just({}),
)


@seed(SEED)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    script=scripts(),
    limits=_limits,
    inflate=st.integers(0, 2**32),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_differential_scripts_under_capture_limits(
    script: Script, limits: dict[str, int], inflate: int, backend: str
) -> None:
    if codex_bin(3) is None or codex_bin(2) is None:
        return  # both Codex binaries judge the bundle and its schema-2 copy
    script = _inflated(script, random.Random(inflate))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        anyio.run(_play, root, script, limits, random.Random(~inflate), backend=backend)
        _check(bundle_in(root), limits)
