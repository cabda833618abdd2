"""``_pool``, the process pool of export's default engine and of ``validate ROOT --jobs``,
through ``export`` (``validate``'s side: tests/test_cli_validate_jobs.py; a dead worker's
jobs: tests/export/test_parquet.py): Ctrl-C ends the command at once, however long the jobs
in flight would run on."""

from __future__ import annotations

import collections
import os
import shutil
import signal
from pathlib import Path

import pytest

from rollout_trace_sdk._pool import Pool
from tests.conftest import make_demo
from tests.held_workers import Held, gone


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_ends_an_export_without_waiting_for_its_jobs(
    tmp_path: Path, stop: signal.Signals
) -> None:
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) or SIGTERM (``kill``,
    to the command alone) during ``export --to``: its workers went on with the jobs in flight
    and the command waited for them (30 s on 2,400 demo bundles, session 34); a job that would
    never end held it forever. The workers are killed, the command ends as before (130: the
    run's next start tidies what they were writing)."""
    demo = make_demo(tmp_path / "demo", 1)
    root = tmp_path / "traces"
    for n in range(6):
        shutil.copytree(demo, root / (f"b{n}-hang" if n == 2 else f"b{n}"))
    held = Held(
        tmp_path,
        ["export", str(root), "--to", str(tmp_path / "tables"), "--jobs", "2"],
        ("rollout_trace_sdk.export.parquet", "export_bundle"),
    )
    [pid] = held.held(1)
    if stop == signal.SIGINT:
        os.killpg(held.process.pid, stop)
    else:
        os.kill(held.process.pid, stop)
    code, _, err = held.end()
    assert code == (130 if stop == signal.SIGINT else 128 + stop), err
    assert err.splitlines()[-1] == ("interrupted" if stop == signal.SIGINT else "terminated")
    assert "Traceback" not in err, err
    assert gone(pid)


def _no_death(job: signal.Signals, why: str) -> tuple[list[signal.Signals], None]:
    raise AssertionError(f"a worker died: {why}")


def test_the_workers_ignore_ctrl_c() -> None:
    """A terminal's Ctrl-C reaches the whole process group: a worker that took it printed a
    traceback of its own (each idle one) under the command's "interrupted". The workers
    ignore SIGINT, the driver alone handles it: what ``signal.getsignal`` says in each."""
    jobs = collections.deque([signal.SIGINT] * 4)  # more than one job: a real pool
    handlers = list(Pool(signal.getsignal, (), _no_death).run(jobs, 2, ()))
    assert handlers == [signal.SIG_IGN] * 4
    assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN  # the driver's is its own
