"""The shard plan alone (``record/_shard_plan.py``): ids, rotation and capture limits decided
at enqueue time, before anything is written (the sink: ``test_shards``)."""

from __future__ import annotations

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.record._shard_plan import CaptureLimits, ShardPlan


def test_an_omitted_payload_takes_an_id_and_no_room() -> None:
    plan = ShardPlan()
    ref = plan.omit("tool_result", 1234)
    assert ref.capture == ev.PayloadCapture("omitted", 1234) and ref.shard is None
    assert plan.place("tool_result", b"{}")[0].raw_payload_id == "raw_payload:2"
    assert plan.omitted == 1 and plan.partial


def test_a_record_larger_than_the_rotation_size_gets_a_shard_of_its_own() -> None:
    plan = ShardPlan(rotate_bytes=100)
    shards = [plan.place("protocol_event", body)[0].shard for body in (b"1", b"2" * 500, b"3")]
    assert shards == [1, 2, 3]


def test_the_bundle_budget_omits_payloads_but_keeps_room_for_events() -> None:
    limits = CaptureLimits(max_bundle_bytes=80_000)
    plan = ShardPlan(limits)
    budget = 80_000 - limits.reserve_bytes
    refs = [plan.place("tool_result", b'"' + b"x" * 5000 + b'"')[0] for _ in range(40)]
    stored = [r for r in refs if r.capture is None]
    omitted = [r for r in refs if r.capture is not None and r.capture.status == "omitted"]
    assert stored and omitted and all(r.shard is None for r in omitted)
    assert plan.used_bytes <= budget
    assert omitted[0].capture == ev.PayloadCapture("omitted", 5002)
