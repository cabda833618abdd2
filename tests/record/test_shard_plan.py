"""The shard plan alone (``record/_shard_plan.py``): ids, rotation and capture limits decided
at enqueue time, before anything is written (the sink: ``test_shards``)."""

from __future__ import annotations

import random

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.model import layout
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


def test_payloads_leave_an_eighth_of_the_bundle_for_event_lines() -> None:
    """``max_bundle_bytes`` keeps an eighth of itself (at most 4 MiB) back from payloads, for
    the event lines and closing records; with no limit nothing is kept back (found by
    mutation audit mut48: the budget test reads the reserve back from the limits, so a
    reserve of 0 passed it)."""
    plan = ShardPlan(CaptureLimits(max_bundle_bytes=80_000))
    while plan.place("tool_result", b'"' + b"x" * 998 + b'"')[0].capture is None:
        pass
    assert 70_000 - 1_100 < plan.used_bytes <= 70_000
    assert CaptureLimits(max_bundle_bytes=1 << 30).reserve_bytes == 4 << 20
    assert CaptureLimits().reserve_bytes == 0


def _shards_of(plan: ShardPlan, lengths: list[int]) -> list[tuple[int, int, int, int]]:
    """Each body's shard, then the plan's state (current shard, records in it, bytes used)."""
    out = []
    for n in lengths:
        if plan.limited:
            shard = plan.place("tool_result", b"x" * n)[0].shard
        else:
            shard = plan.place_whole(b"x" * n)[1]
        assert shard is not None
        out.append((shard, plan.current_shard, plan._placed, plan.used_bytes))
    return out


def test_place_whole_rotates_where_the_general_placement_does() -> None:
    """``place_whole`` does ``_take``'s common case inline: a record that fills a shard to
    exactly its rotation size stays in it, a byte more goes to the next, a first record
    larger than a shard stays in its (empty) shard; the same as a plan placing through
    ``_take`` (limited by a payload limit nothing reaches), over many sizes and rotations."""
    record = len(layout.shard_record("raw_payload:1", b""))  # header and a one-digit id
    rotate = 3 * record + 30
    # 3 records of 10 bytes fill the shard exactly; the next (1 byte) goes to shard 2, which
    # a record of rotate + 1 bytes then leaves for shard 3 (a shard is never empty)
    exact = [10, 10, 10, 1, rotate + 1, 0]
    whole = _shards_of(ShardPlan(rotate_bytes=rotate), exact)
    assert [s[0] for s in whole] == [1, 1, 1, 2, 3, 4]
    unlimited = CaptureLimits(max_payload_bytes=1 << 40)
    assert whole == _shards_of(ShardPlan(unlimited, rotate_bytes=rotate), exact)
    rng = random.Random(330001)
    for _ in range(300):
        rotate = rng.choice([1, 2, record, record + 1, 100, 333, 4096])
        lengths = [rng.choice([0, 1, 7, 50, 99, 100, 101, 333, 5000]) for _ in range(40)]
        plans = (ShardPlan(rotate_bytes=rotate), ShardPlan(unlimited, rotate_bytes=rotate))
        whole, general = (_shards_of(plan, lengths) for plan in plans)
        assert whole == general, (rotate, lengths)
        assert plans[0].finished == plans[1].finished


def test_a_payload_of_exactly_max_payload_bytes_is_stored_whole() -> None:
    """``max_payload_bytes`` is the largest body stored whole: one of that length is not cut
    (nor marked ``truncated`` with every byte kept), a byte more is cut to it. Cutting from
    the limit itself passed every shard test (mut33)."""
    plan = ShardPlan(CaptureLimits(max_payload_bytes=10))
    ref, record = plan.place("tool_result", b'"' + b"x" * 8 + b'"')
    assert ref.capture is None and plan.truncated == 0 and not plan.partial
    assert record is not None and isinstance(record[0], int)  # placed whole
    ref, record = plan.place("tool_result", b'"' + b"x" * 9 + b'"')
    assert ref.capture == ev.PayloadCapture("truncated", 11, None) and plan.truncated == 1
    assert record is not None and isinstance(record[0], tuple) and record[0][2] == 10


def test_a_closing_report_is_stored_whole_past_max_payload_bytes() -> None:
    """A closing report (the loss report, the redaction report) is stored whole however
    small ``max_payload_bytes`` is, as it is past ``max_bundle_bytes``: cut, it no longer
    parses, and ``ls``, ``summary`` and the export read a bundle that dropped records as
    not lossy (user50: 397 of 400 rollouts of an RL worker at ``max_payload_bytes=64``)."""
    plan = ShardPlan(CaptureLimits(max_payload_bytes=64))
    report = b'{"type":"warning","message":"rollout_trace_sdk: dropped ' + b"x" * 200 + b'"}'
    ref, record = plan.place("protocol_event", report, closing=True)
    assert ref.capture is None and plan.truncated == 0 and not plan.partial
    assert record is not None and isinstance(record[0], int)  # placed whole
    ref, _ = plan.place("protocol_event", report)  # any other payload is still cut
    assert ref.capture == ev.PayloadCapture("truncated", len(report), None)


def test_a_template_past_the_bundle_budget_is_omitted_not_cut() -> None:
    """Where the bundle budget has room for only part of a payload, a plain body keeps what
    fits (``truncated``), but a template (a payload with parts) is omitted whole: cut, its
    fragments would no longer match its parts. Cutting templates too passed every shard test
    (mut33)."""
    limits = CaptureLimits(max_bundle_bytes=80_000)
    plan = ShardPlan(limits)
    part, _ = plan.place("content_value", b'"value"')
    plan.place("tool_result", b'"' + b"x" * 60_000 + b'"')
    room = 80_000 - limits.reserve_bytes - plan.used_bytes
    assert room > 4096  # room enough to cut into
    template = b'["' + b"x" * 20_000 + b'",""]'
    ref, record = plan.place("tool_result", template, (part,))
    assert record is None and ref.shard is None and ref.parts == (part,)
    assert ref.capture == ev.PayloadCapture("omitted", len(template))
    ref, record = plan.place("tool_result", template)
    assert ref.capture is not None and ref.capture.status == "truncated"
    assert record is not None


def test_event_lines_reach_the_ceiling_at_its_last_byte() -> None:
    """``charge`` says the bundle is full once its bytes reach the ceiling, not a byte past
    it (a line more than the bound: reading ``<=`` passed every shard test, mut33)."""
    limits = CaptureLimits(max_bundle_bytes=1000)
    ceiling = limits.ceiling_bytes
    assert ceiling is not None
    plan = ShardPlan(limits)
    assert not plan.charge(ceiling - 1)
    assert plan.charge(1)
