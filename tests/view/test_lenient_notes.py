"""Lenient reduction's notes as commands print them: the alike said once (view/lenient_notes)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rollout_trace_sdk.demo import run_demo
from rollout_trace_sdk.view.commands import load_noting
from rollout_trace_sdk.view.lenient_notes import grouped_notes, lenient_lines

_GONE = "skipped payload missing: open shard payloads/000001.zst (No such file or directory)"
_CALL = "skipped not reducible: inference completion referenced unknown call"
_IDS = ("c19e5197-d62a-419f-b745-77f0d7a87a95", "0B388470-FF11-4E15-8F04-3220445E2E23")


def test_notes_alike_but_for_their_line_are_said_once_with_the_other_lines() -> None:
    notes = [f"line {n} (seq {n}): {_GONE}" for n in range(3, 15)]
    [said] = grouped_notes(notes)
    assert said == (
        f"line 3 (seq 3): {_GONE} (and 11 more like it: lines 4, 5, 6, 7, 8, 9, 10, 11, …)"
    )

    # eight other lines are all shown, without "…" (">=" for ">" passed: mut42)
    [said] = grouped_notes(notes[:9])
    assert said == f"line 3 (seq 3): {_GONE} (and 8 more like it: lines 4, 5, 6, 7, 8, 9, 10, 11)"


def test_notes_alike_word_for_word_are_counted() -> None:
    note = "open shard payloads/000001.zst: No such file or directory; left unchecked"
    assert grouped_notes([note] * 265) == [f"{note} (265 times)"]


def test_notes_differing_only_in_a_uuid_are_one_kind() -> None:
    notes = [f"line 8 (seq 8): {_CALL} {_IDS[0]}", f"line 16 (seq 16): {_CALL} {_IDS[1]}"]
    assert grouped_notes(notes) == [f"{notes[0]} (and 1 more like it: lines 16)"]


def test_different_notes_stay_apart_in_the_order_they_came() -> None:
    notes = [
        f"line 2 (seq 2): {_CALL} call_0_ping",
        f"line 3 (seq 3): {_GONE}",
        f"line 4 (seq 4): {_CALL} call_0_close",  # not a UUID: another call named
        "payload raw_payload:9 is not JSON",
        f"line 5 (seq 5): {_GONE}",
    ]
    assert grouped_notes(notes) == [
        notes[0],
        f"{notes[1]} (and 1 more like it: lines 5)",
        notes[2],
        notes[3],
    ]
    assert lenient_lines(notes)[0] == "lenient: skipped 5 thing(s):"  # every thing counted
    assert lenient_lines([]) == []


def test_a_bundle_that_lost_its_shard_is_said_in_few_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A demo of three episodes with its first shard deleted: ~400 things skipped, said in a
    few dozen lines (each one of them once), where there was a line each."""
    monkeypatch.setenv("ROLLOUT_TRACE_SCHEMA", "3")
    bundle = run_demo(tmp_path, 3)
    min((bundle / "payloads").iterdir()).unlink()  # the first shard
    err = io.StringIO()
    notes: list[str] = []
    load_noting(bundle, True, err, notes)
    printed = err.getvalue().splitlines()
    assert printed[0] == f"lenient: skipped {len(notes)} thing(s):" and len(notes) > 300
    assert len(printed) < 40
    assert any("left unchecked (" in line and " times)" in line for line in printed)
