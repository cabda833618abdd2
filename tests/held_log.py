"""A plain Python process holding a bundle's ``trace.jsonl`` open, as Codex holds the log it
writes (it takes no lock: ``reduce.liveness``), for the tests of what each command calls such
a bundle (review status49) and of the liveness probes themselves."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from rollout_trace_sdk.model.layout import EVENT_LOG
from tests.reduce.test_bundle import event_lines, make_bundle

__all__ = ["counted_scans", "held_open", "needs_proc", "unclosed_bundle"]

#: Skips a test where no ``/proc`` shows processes' open descriptors (not Linux).
needs_proc = pytest.mark.skipif(
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


@contextmanager
def held_open(bundle: Path, mode: str = "ab") -> Iterator[None]:
    """``bundle``'s log held open (``mode``) by another process, without a lock, until the
    block ends (the process has exited then)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(bundle / EVENT_LOG), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"open\n"
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(30)


def counted_scans(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The ``/proc`` scans made from now on (``liveness.logs_held_open``, the real one, each
    call appended to the list returned), for the tests that a command scans once, not once
    a bundle."""
    from rollout_trace_sdk.reduce import liveness

    scans: list[object] = []
    scan = liveness.logs_held_open

    def counted() -> liveness.HeldLogs | None:
        scans.append(1)
        return scan()

    monkeypatch.setattr(liveness, "logs_held_open", counted)
    return scans


def unclosed_bundle(path: Path) -> Path:
    """A bundle at ``path`` whose log stops after its third line: no thread, turn or rollout
    ended, no ``recording_completed`` (a writer still at it, or killed)."""
    lines = event_lines().splitlines(keepends=True)
    return make_bundle(path.parent / f"{path.name}-made", b"".join(lines[:3])).rename(path)


def unclosed_root(root: Path, left: int = 4) -> Path:
    """A traces root at ``root`` of unclosed bundles: ``live`` (returned: hold it open with
    :func:`held_open` to have it read as recorded) and ``left0`` ... the ``left`` others a
    crash left, which read unclosed: what a command scanning ``/proc`` once meets."""
    root.mkdir()
    live = unclosed_bundle(root / "live")
    for n in range(left):
        unclosed_bundle(root / f"left{n}")
    return live
