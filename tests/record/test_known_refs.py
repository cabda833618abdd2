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
