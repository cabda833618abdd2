"""``log_is_held_open``: a log held open for writing by a process, as Codex holds the
``trace.jsonl`` it writes (it takes no lock), is told from one only read or left by its
writer (review follow48: ``show --follow`` said such a writer gone after 2 s of quiet).
``logs_held_open`` / ``OpenLogs``: every such log in one ``/proc`` scan, made once a command;
``log_is_live``: the lock or such a writer, what every reader asks (review status49)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rollout_trace_sdk.model.layout import EVENT_LOG
from rollout_trace_sdk.reduce import liveness
from rollout_trace_sdk.reduce.liveness import (
    OpenLogs,
    log_is_held_open,
    log_is_live,
    log_is_written,
    logs_held_open,
)
from tests.held_log import counted_scans, held_open, needs_proc

pytestmark = needs_proc


def _bundle(tmp_path: Path) -> Path:
    bundle = tmp_path / "bundle"
    bundle.mkdir(parents=True)
    (bundle / EVENT_LOG).write_bytes(b"")
    return bundle


@pytest.mark.parametrize(("mode", "held"), [("ab", True), ("r+b", True), ("rb", False)])
def test_another_process_holding_the_log_open_for_writing_is_seen(
    tmp_path: Path, mode: str, held: bool
) -> None:
    """Held for writing by a process without a lock: held open, and still no lock; once it
    exits, not held. A reader's descriptor is no writer."""
    bundle = _bundle(tmp_path)
    with held_open(bundle, mode):
        assert log_is_held_open(bundle) is held
        assert log_is_written(bundle) is False
        assert log_is_live(bundle) is held
    assert log_is_held_open(bundle) is False


def test_no_log_tells_nothing(tmp_path: Path) -> None:
    """A folder without a log: nothing to tell, as ``log_is_written`` says."""
    assert log_is_held_open(tmp_path) is None


def test_the_descriptor_seen_is_looked_at_first_and_let_go_when_closed(tmp_path: Path) -> None:
    """``seen`` keeps the descriptor found; once it is closed, the next one is looked for
    among all (a stale one is no writer), and none found leaves ``seen`` empty."""
    bundle = _bundle(tmp_path)
    seen: list[tuple[str, str]] = []
    with (bundle / EVENT_LOG).open("ab") as first:
        assert log_is_held_open(bundle, seen) is True
        assert seen == [(str(os.getpid()), str(first.fileno()))]
        assert log_is_held_open(bundle, seen) is True
    with (bundle / EVENT_LOG).open("rb") as reader, (bundle / EVENT_LOG).open("r+b") as second:
        assert reader.fileno() == int(seen[0][1])  # the number reused, read-only
        assert log_is_held_open(bundle, seen) is True
        assert seen == [(str(os.getpid()), str(second.fileno()))]
    assert log_is_held_open(bundle, seen) is False
    assert seen == []


def test_one_scan_finds_every_log_held_for_writing(tmp_path: Path) -> None:
    """``logs_held_open``: one scan finds each log a process holds for writing (by its file),
    not one only read; ``ls`` looks every bundle up in it (review status49)."""
    bundles = [_bundle(tmp_path / str(n)) for n in range(3)]
    with held_open(bundles[0], "ab"), held_open(bundles[1], "r+b"), held_open(bundles[2], "rb"):
        held = logs_held_open()
        assert held is not None
        files = [os.stat(b / EVENT_LOG) for b in bundles]
        assert [(f.st_dev, f.st_ino) in held for f in files] == [True, True, False]


def test_open_logs_scans_once_when_first_asked(tmp_path: Path) -> None:
    """``OpenLogs``: the scan is made at the first question and kept for the command: a
    writer gone since is still held there, a new ``OpenLogs`` sees it gone."""
    bundle = _bundle(tmp_path)
    log = os.stat(bundle / EVENT_LOG)
    open_logs = OpenLogs()
    with held_open(bundle):
        assert open_logs.holds(log) is True
    assert open_logs.holds(log) is True
    assert OpenLogs().holds(log) is False


def test_live_is_the_lock_or_a_writer_and_not_for_a_closed_log(tmp_path: Path) -> None:
    """``log_is_live``: a closed log (its last line ``recording_completed``) is not live
    whoever holds it; without ``/proc`` a held log reads as before (not live: no lock)."""
    bundle = _bundle(tmp_path)
    with held_open(bundle):
        assert log_is_live(bundle) is True
        (bundle / EVENT_LOG).write_bytes(b'{"payload":{"type":"recording_completed"}}\n')
        assert log_is_live(bundle) is False
        (bundle / EVENT_LOG).write_bytes(b'{"payload":{"type":"turn_started"}}\n')
        assert log_is_live(bundle) is True


def test_many_bundles_asked_of_one_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``log_is_live(..., held=)``: a command asking of many unclosed bundles asks the one
    scan it holds (review review49: ``validate ROOT`` and ``export ROOT`` scanned ``/proc``
    once a bundle), and each answers as a scan of its own would."""
    bundles = [_bundle(tmp_path / str(n)) for n in range(3)]
    scans = counted_scans(monkeypatch)
    held = OpenLogs()
    with held_open(bundles[1]):
        assert [log_is_live(b, held=held) for b in bundles] == [False, True, False]
        assert [log_is_held_open(b, held=held) for b in bundles] == [False, True, False]
    assert len(scans) == 1
    assert log_is_held_open(tmp_path / "none", held=held) is None  # no log: nothing asked


def test_a_symlinked_log_is_not_looked_through(tmp_path: Path) -> None:
    """A bundle whose ``trace.jsonl`` is a symlink (to a log a writer holds): every reader
    refuses to read such a log, and the lock and the tail are not followed through it, but
    ``log_is_held_open`` followed it, and ``validate`` said the bundle it had just refused was
    being recorded (review review49): nothing can be told of it."""
    target = _bundle(tmp_path / "real")
    bundle = tmp_path / "linked"
    bundle.mkdir()
    (bundle / EVENT_LOG).symlink_to(target / EVENT_LOG)
    with held_open(target):
        assert log_is_held_open(target) is True
        assert log_is_held_open(bundle) is None
        assert log_is_held_open(bundle, held=OpenLogs()) is None
        assert log_is_live(bundle) is None


def test_without_proc_nothing_is_scanned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another system (no ``/proc``): nothing to tell, and a held log is not live (today's
    reading: ``unclosed``)."""
    bundle = _bundle(tmp_path)
    monkeypatch.setattr(liveness, "_PROC", tmp_path / "no-proc")
    with held_open(bundle):
        assert logs_held_open() is None
        assert OpenLogs().holds(os.stat(bundle / EVENT_LOG)) is None
        assert log_is_held_open(bundle) is None
        assert log_is_live(bundle) is False
