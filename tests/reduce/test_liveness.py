"""``log_is_held_open``: a log held open for writing by a process, as Codex holds the
``trace.jsonl`` it writes (it takes no lock), is told from one only read or left by its
writer (review follow48: ``show --follow`` said such a writer gone after 2 s of quiet)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rollout_trace_sdk.model.layout import EVENT_LOG
from rollout_trace_sdk.reduce.liveness import log_is_held_open, log_is_written

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/fdinfo").is_dir(), reason="no /proc to look into"
)

#: Opens the log as asked (``ab``: Codex 0.169's write-only descriptor, ``r+b``: 0.171's
#: read-write one, ``rb``: a reader's), says so, and holds it until its input closes.
_HOLDER = """
import sys
handle = open(sys.argv[1], sys.argv[2])
print("open", flush=True)
sys.stdin.read()
"""


def _bundle(tmp_path: Path) -> Path:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / EVENT_LOG).write_bytes(b"")
    return bundle


@pytest.mark.parametrize(("mode", "held"), [("ab", True), ("r+b", True), ("rb", False)])
def test_another_process_holding_the_log_open_for_writing_is_seen(
    tmp_path: Path, mode: str, held: bool
) -> None:
    """Held for writing by a process without a lock: held open, and still no lock; once it
    exits, not held. A reader's descriptor is no writer."""
    bundle = _bundle(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(bundle / EVENT_LOG), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"open\n"
        assert log_is_held_open(bundle) is held
        assert log_is_written(bundle) is False
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(30)
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
