"""One export at a time into a local export directory (``export/lock.py``): two real exports
started together both keep their records, a second one waits (saying for whom) or refuses at
once, Ctrl-C stops a wait, and a SIGKILLed holder leaves the directory usable. Found by
review34: two exports into one DIR each saved the manifest whole, and the last one lost the
other's record."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.export.export_dir import MANIFEST_NAME, ExportDir
from rollout_trace_sdk.export.lock import ExportBusy, holds_lock
from rollout_trace_sdk.export.parquet import ExportOptions, run_export
from rollout_trace_sdk.model.layout import EXPORT_LOCK

from .test_parquet import _cli, read_tables_rows

#: A child that holds DIR's lock (the export's own code) until its stdin closes; it says
#: ``held`` on stdout once it does.
_HOLDER = """
import sys
from rollout_trace_sdk.export.export_dir import ExportDir
with ExportDir(sys.argv[1]).lock():
    print("held", flush=True)
    sys.stdin.read()
"""

#: A child export that starts when the barrier file appears (imports done before).
_RACER = """
import os, sys, time
from rollout_trace_sdk.cli import main
import rollout_trace_sdk.export.parquet, rollout_trace_sdk.export.jobs
barrier = sys.argv[1]
while not os.path.exists(barrier):
    time.sleep(0.001)
sys.exit(main(sys.argv[2:]))
"""


def _child(code: str, *argv: str, **how: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code, *argv], text=True, **how)


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A process holding the lock of ``tmp_path/out`` (released when the test ends)."""
    out = tmp_path / "out"
    child = _child(_HOLDER, str(out), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline() == "held\n"
    yield out, child
    if child.poll() is None:
        child.communicate(timeout=60)


def _runs(episodes: Path, tmp_path: Path) -> list[Path]:
    root = tmp_path / "runs"
    shutil.copytree(episodes, root)
    return sorted(root.iterdir())


def _manifest(out: Path) -> dict[str, dict[str, object]]:
    bundles: dict[str, dict[str, object]] = orjson.loads((out / MANIFEST_NAME).read_bytes())[
        "bundles"
    ]
    return bundles


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def test_two_exports_started_together_both_keep_their_records(
    episodes: Path, tmp_path: Path
) -> None:
    """Two exports of overlapping sources into one DIR, started together: the manifest names
    every bundle either exported (each saved it whole, and the last lost the other's), a
    rerun skips them all, and the tables hold each bundle once."""
    runs = _runs(episodes, tmp_path)
    out, barrier = tmp_path / "out", tmp_path / "go"
    first, second = runs[:45], runs[25:]  # 20 in both
    racers = [
        _child(
            _RACER,
            str(barrier),
            "export",
            *map(str, part),
            "--to",
            str(out),
            "--jobs",
            "1",
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for part in (first, second)
    ]
    barrier.touch()
    for racer in racers:
        stdout, stderr = racer.communicate(timeout=600)
        assert racer.returncode == 0, stderr
        assert "0 failed" in stdout
    assert {str(e["source"]) for e in _manifest(out).values()} == {str(r) for r in runs}
    code, stdout, _ = _cli("export", str(tmp_path / "runs"), "--to", str(out), "--jobs", "1")
    assert code == 0 and stdout.startswith(f"exported 0 bundle(s), 0 failed, {len(runs)} unchanged")
    assert read_tables_rows(out, "SELECT count(*), count(DISTINCT source) FROM rollouts") == [
        (len(runs), len(runs))
    ]


@pytest.mark.parametrize("how", ["to", "prune", "compact", "format-o"])
def test_a_second_export_refuses_at_once_with_one_line_and_writes_nothing(
    how: str, three: list[Path], tmp_path: Path
) -> None:
    """With ``--lock-timeout 0`` an export into a DIR another export holds exits 1 with one
    line naming DIR and the other (pid, start time), and changes no file in DIR; every way
    of writing into DIR (``--prune``, ``--compact`` alone, ``--format parquet -o``)."""
    out = tmp_path / "out"
    assert _cli("export", str(three[0]), "--to", str(out), "--jobs", "1")[0] == 0
    child = _child(_HOLDER, str(out), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline() == "held\n"
        before = _files(out)
        source = str(tmp_path / "bundles")
        argv = {
            "to": [source, "--to", str(out)],
            "prune": [source, "--to", str(out), "--prune"],
            "compact": ["--to", str(out), "--compact"],
            "format-o": ["--format", "parquet", source, "-o", str(out)],
        }[how]
        code, stdout, err = _cli("export", *argv, "--lock-timeout", "0", "--jobs", "1")
        lines = [line for line in err.splitlines() if not line.startswith("note: -o")]
        assert (code, stdout) == (1, "")
        assert lines == [
            f"rollout-trace export: {out}: another export (pid {child.pid}, started "
            f"{_started(out)}) is writing it; refused at once (--lock-timeout 0)"
        ]
        assert _files(out) == before
    finally:
        child.communicate(timeout=60)


def _started(out: Path) -> str:
    return str(orjson.loads((out / EXPORT_LOCK).read_bytes())["started"])


def _waiting_export(out: Path, tmp_path: Path, *more: str) -> tuple[subprocess.Popen[str], str]:
    """An export of ``tmp_path/bundles`` into ``out`` (held by another), and the first line
    it says."""
    export = _child(
        _RACER,
        os.devnull,
        "export",
        str(tmp_path / "bundles"),
        "--to",
        str(out),
        *more,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert export.stderr is not None
    return export, export.stderr.readline()


def test_a_second_export_waits_saying_for_whom_then_exports(
    holder: tuple[Path, subprocess.Popen[str]], three: list[Path], tmp_path: Path
) -> None:
    """Without ``--lock-timeout`` the export says at once that it waits and for whom, writes
    nothing while it waits, and exports once the other has ended."""
    out, other = holder
    export, said = _waiting_export(out, tmp_path, "--jobs", "1")
    assert said == (
        f"note: {out}: another export (pid {other.pid}, started {_started(out)}) is writing "
        "it; waiting for it to end (Ctrl-C stops; --lock-timeout SECONDS bounds the wait)\n"
    )
    assert sorted(p.name for p in out.iterdir()) == [EXPORT_LOCK]
    other.communicate(timeout=60)  # the other export ends
    stdout, stderr = export.communicate(timeout=600)
    assert (export.returncode, stderr) == (0, "")
    assert stdout.startswith("exported 3 bundle(s), 0 failed")
    assert len(_manifest(out)) == 3


def test_ctrl_c_stops_the_wait_and_writes_nothing(
    holder: tuple[Path, subprocess.Popen[str]], three: list[Path], tmp_path: Path
) -> None:
    """Ctrl-C while waiting for another export ends the wait (exit 130) with nothing written."""
    out, _ = holder
    export, said = _waiting_export(out, tmp_path)
    assert "waiting for it to end" in said
    export.send_signal(signal.SIGINT)
    stdout, stderr = export.communicate(timeout=60)
    assert (export.returncode, stdout, stderr) == (130, "", "interrupted\n")
    assert sorted(p.name for p in out.iterdir()) == [EXPORT_LOCK]


def test_a_killed_export_leaves_its_directory_usable(episodes: Path, tmp_path: Path) -> None:
    """An export SIGKILLed while it holds DIR (its pool's workers maybe still running) leaves
    no lock behind: the next export takes DIR at once and completes the tables."""
    runs = _runs(episodes, tmp_path)
    out = tmp_path / "out"
    killed = _child(
        _RACER,
        os.devnull,
        "export",
        str(tmp_path / "runs"),
        "--to",
        str(out),
        "--jobs",
        "2",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    lock = out / EXPORT_LOCK
    while not (lock.exists() and str(killed.pid).encode() in lock.read_bytes()):
        assert killed.poll() is None, "the export ended before it was seen holding DIR"
        time.sleep(0.005)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=60)
    again = (str(tmp_path / "runs"), "--to", str(out), "--lock-timeout", "0", "--jobs", "1")
    code, stdout, err = _cli("export", *again)
    assert (code, err) == (0, "") and ", 0 failed, " in stdout
    code, stdout, err = _cli("export", *again)
    assert (code, err) == (0, "")
    assert stdout.startswith(f"exported 0 bundle(s), 0 failed, {len(runs)} unchanged")
    assert read_tables_rows(out, "SELECT count(*) FROM rollouts") == [(len(runs),)]


def test_the_lock_is_per_thread_and_taken_again_by_its_holder(tmp_path: Path) -> None:
    """``run_export`` inside the CLI's hold takes the lock again without waiting; another
    thread of the same process waits as another process does."""
    out = ExportDir(str(tmp_path / "out"))
    refused: list[BaseException] = []

    def other() -> None:
        try:
            with out.lock(timeout=0):
                pass
        except ExportBusy as exc:
            refused.append(exc)

    with out.lock(timeout=0), out.lock(timeout=0):
        assert holds_lock(out.root)
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert not holds_lock(out.root)
    assert len(refused) == 1 and str(refused[0]).startswith(f"{out.root}: another export (pid ")
    with out.lock(timeout=0):  # free again
        pass


def test_an_export_that_made_its_directory_and_exported_nothing_removes_it_lock_and_all(
    tmp_path: Path,
) -> None:
    """An export whose every SOURCE failed still leaves no directory behind: its lock file
    goes with it (and a waiter that locked the removed file opens the path again)."""
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "manifest.json").write_text("{")
    code, stdout, _ = _cli("export", str(bad), "--to", str(tmp_path / "new" / "out"))
    assert code == 1 and "not made (nothing exported)" in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad"]


def test_a_remote_directory_is_not_locked(three: list[Path]) -> None:
    """fsspec filesystems have no lock to take: an export to ``memory://`` runs as before,
    with no lock file in it."""
    import fsspec

    summary = run_export(
        [str(p) for p in three], ExportOptions(to="memory://lock32/out"), jobs=1, lock_timeout=0
    )
    assert len(summary.exported) == 3 and not summary.failed
    names = {
        p.rsplit("/", 1)[-1] for p in fsspec.filesystem("memory").ls("/lock32/out", detail=False)
    }
    assert MANIFEST_NAME in names and EXPORT_LOCK not in names


def test_a_waiter_whose_lock_file_was_removed_locks_the_new_one(tmp_path: Path) -> None:
    """The holder that removes an empty export directory unlinks its lock file: a waiter that
    then locks the unlinked file opens the path again, so two exports never both hold DIR."""
    out = ExportDir(str(tmp_path / "out"))
    waiting, locked, release = threading.Event(), threading.Event(), threading.Event()

    def waiter() -> None:
        with out.lock(on_wait=lambda _: waiting.set()):
            locked.set()
            release.wait(timeout=60)

    thread = threading.Thread(target=waiter)
    with out.lock(timeout=0):
        thread.start()
        assert waiting.wait(timeout=60)
        assert out.remove_if_empty()  # the lock file and the directory with it
    try:
        assert locked.wait(timeout=60)
        assert (tmp_path / "out" / EXPORT_LOCK).exists()
        with pytest.raises(ExportBusy), out.lock(timeout=0):
            pass
    finally:
        release.set()
        thread.join()
