"""How ``summary`` reads a node's fields leniently (view/_summary_nodes)."""

from __future__ import annotations

from rollout_trace_sdk.view._summary_nodes import int_of, so_far


def test_a_count_that_is_a_boolean_reads_as_unknown() -> None:
    """A damaged or foreign state's ``true`` where a count belongs is no count (JSON's
    booleans are Python ints): counting it as 1 passed every summary test (mut42)."""
    assert int_of(True) == 0 and int_of(False) == 0
    assert int_of(7) == 7 and int_of("7") == 0 and int_of(None) == 0


def test_time_so_far_is_never_negative() -> None:
    """A node that started after the rollout's last known time (clocks that disagree) has
    run 0 ms so far, not a negative time (dropping the floor passed every summary test: mut42)."""
    running = {"execution": {"started_at_unix_ms": 5_000}}
    assert so_far(running, 4_000) == 0
    assert so_far(running, 6_500) == 1_500
    assert so_far({"execution": {"started_at_unix_ms": 1, "ended_at_unix_ms": 2}}, 9) is None
