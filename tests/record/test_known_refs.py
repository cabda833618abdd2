"""Frozen references: one flat tuple the garbage collector stops tracking, thawed equal."""

from __future__ import annotations

import gc

from rollout_trace_sdk.model.events import PayloadCapture, RawPayloadRef
from rollout_trace_sdk.record._known_refs import KnownRefs, freeze, thaw


def _ref(n: int, *parts: RawPayloadRef) -> RawPayloadRef:
    return RawPayloadRef(f"raw_payload:{n}", "model_item", "", 1 + n % 2, None, parts)


def test_nested_templates_thaw_equal() -> None:
    leaf = _ref(1)
    item = _ref(2, leaf, _ref(3))
    result = RawPayloadRef("raw_payload:4", "tool_result", "", 1, None, (item, leaf))
    for ref in (leaf, item, result):
        assert thaw(freeze(ref)) == ref


def test_a_frozen_reference_leaves_the_collectors_view() -> None:
    frozen = freeze(_ref(5, _ref(6, _ref(7))))
    gc.collect()
    assert not gc.is_tracked(frozen)


def test_known_refs_keep_captures_as_the_same_object() -> None:
    capture = PayloadCapture("truncated", 900, None)
    known = KnownRefs()
    known.add(b"k", RawPayloadRef("raw_payload:1", "model_item", "", 1, capture, ()))
    found = known.get(b"k")
    assert found is not None and found.capture is capture  # settled later, in place
    assert known.get(b"other") is None


def test_many_references_leave_the_collectors_view_together() -> None:
    """The dict of 100,000 references was tracked again by each new one and walked whole by
    every full collection (a cost growing with the recording); now only the latest few
    hundred are, and every reference is still found."""
    known = KnownRefs()
    for n in range(5000):
        known.add_frozen(n.to_bytes(4, "big"), freeze(_ref(n)))
        if n % 500 == 0:
            gc.collect(0)  # as the recorder's allocations make it run
    gc.collect()
    for n in range(5000, 5100):  # added after a full collection: new, tracked
        known.add_frozen(n.to_bytes(4, "big"), freeze(_ref(n)))
    assert not gc.is_tracked(known._refs)
    assert len(known._young) < 1024
    assert all(known.frozen(n.to_bytes(4, "big")) == freeze(_ref(n)) for n in range(5100))


def test_without_the_collector_nothing_is_lost_and_the_young_stay_few() -> None:
    """Collection disabled (tuples never untracked) or captures inside: everything moves to
    the big dict as before, the young dict stays small, every reference is found."""
    capture = PayloadCapture("truncated", 900, None)
    gc.disable()
    try:
        known = KnownRefs()
        for n in range(3000):
            ref = RawPayloadRef(f"raw_payload:{n}", "model_item", "", 1, capture, ())
            known.add(n.to_bytes(4, "big"), ref)
        assert len(known._young) < 1024
        assert all(known.get(n.to_bytes(4, "big")) is not None for n in range(3000))
    finally:
        gc.enable()
