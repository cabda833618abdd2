"""``validate ROOT --jobs N``: the root's bundles checked by worker processes print what the
serial loop prints, byte for byte and in its order; Ctrl-C ends the workers with the serial
exit status; a killed worker loses no bundle's verdict.

The CLI runs as a process of its own (its pool is the real one: a forkserver and its workers);
the hang tests hold the worker that checks a bundle named ``*-hang`` (tests/held_workers.py)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from rollout_trace_sdk.record import open_rollout
from tests.conftest import make_demo
from tests.held_workers import Held, env, gone


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo(tmp_path_factory.mktemp("demo"), 1)


def _copy(demo: Path, root: Path, name: str) -> Path:
    bundle = root / name
    shutil.copytree(demo, bundle)
    return bundle


def _mixed_root(demo: Path, root: Path, count: int = 40) -> Path:
    """Good bundles around every kind of bad one: damaged (a seq gap), unclosed, cut mid-line,
    an unreadable log, a manifest that is no JSON."""
    for n in range(count):
        _copy(demo, root, f"b{n:03d}")
    log = root / "b003" / "trace.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:2] + lines[3:]))  # seq 3 is gone
    log = root / "b011" / "trace.jsonl"
    log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:-3]))  # unclosed
    log = root / "b017" / "trace.jsonl"
    log.write_bytes(log.read_bytes()[:-20])  # the last line cut
    (root / "b023" / "trace.jsonl").chmod(0)
    (root / "b031" / "manifest.json").write_text("{")
    return root


def _command(root: Path, *options: str) -> list[str]:
    command = [sys.executable, "-m", "rollout_trace_sdk", "validate", str(root), *options]
    if os.geteuid() == 0:  # root reads any file: run it without that capability
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a file unreadable")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    return command


def _validate(root: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(root, *options), env=env(), capture_output=True, text=True, timeout=300
    )


def _same(
    serial: subprocess.CompletedProcess[str], *runs: subprocess.CompletedProcess[str]
) -> None:
    for parallel in runs:
        assert (parallel.returncode, parallel.stdout, parallel.stderr) == (
            serial.returncode,
            serial.stdout,
            serial.stderr,
        )


@pytest.mark.anyio
async def test_workers_print_what_the_serial_loop_prints(demo: Path, tmp_path: Path) -> None:
    """Damaged, unclosed, cut, unreadable, unparsable and still-recording bundles among good
    ones: ``--jobs 2`` prints the serial run's bytes, on both streams, with its exit status."""
    root = _mixed_root(demo, tmp_path / "traces")
    async with open_rollout(root) as rollout:
        async with rollout.root.turn() as turn:
            turn.accept_item_id("a")
        await rollout._writer.flush()
        serial = await anyio.to_thread.run_sync(_validate, root, "--jobs", "1")
        parallel = await anyio.to_thread.run_sync(_validate, root, "--jobs", "2")
    assert serial.returncode == 1, serial.stderr
    lines = serial.stdout.splitlines()
    assert len(lines) == 7 and lines[-1] == f"35 of 41 bundles OK under {root}", serial.stdout
    assert "Permission denied" in serial.stdout, serial.stdout
    assert "recording, " in serial.stdout and "Traceback" not in serial.stderr
    _same(serial, parallel)


def test_without_jobs_a_large_root_is_checked_by_workers_alike(demo: Path, tmp_path: Path) -> None:
    """Without ``--jobs``, a root of ``_cli_validate._WORKERS_FROM`` bundles or more is
    checked by a worker a CPU: the same bytes again."""
    from rollout_trace_sdk._cli_validate import _WORKERS_FROM

    root = _mixed_root(demo, tmp_path / "traces", _WORKERS_FROM)
    serial = _validate(root, "--jobs", "1")
    assert serial.returncode == 1 and f"{_WORKERS_FROM - 5} of " in serial.stdout
    _same(serial, _validate(root))


def test_without_jobs_workers_start_from_the_set_count(demo: Path, tmp_path: Path) -> None:
    """Without ``--jobs`` a root of ``_WORKERS_FROM`` bundles or more is checked by workers
    (a process other than the command's checks its held bundle), one bundle fewer by the
    command itself: the outputs alone cannot tell."""
    from rollout_trace_sdk._cli_validate import _WORKERS_FROM

    if (os.cpu_count() or 1) < 2:
        pytest.skip("one CPU: one worker a CPU is the command itself")
    for count, by_worker in ((_WORKERS_FROM - 1, False), (_WORKERS_FROM, True)):
        root = tmp_path / str(count) / "traces"
        for n in range(count):
            _copy(demo, root, f"b{n:03d}-hang" if n == 7 else f"b{n:03d}")
        held = Held(
            tmp_path / str(count),
            ["validate", str(root)],
            ("rollout_trace_sdk._cli_validate", "validate_bundle"),
        )
        [pid] = held.held(1)
        os.killpg(held.process.pid, signal.SIGKILL)  # the held one never ends
        held.end()
        assert (pid != held.process.pid) is by_worker, count


def test_an_all_good_root_is_ok_with_workers(demo: Path, tmp_path: Path) -> None:
    root = tmp_path / "traces"
    for n in range(5):
        _copy(demo, root, f"b{n}")
    done = _validate(root, "--jobs", "2")
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        f"5 of 5 bundles OK under {root}\n",
        "",
    )


def test_jobs_zero_is_a_worker_a_cpu(demo: Path, tmp_path: Path) -> None:
    """``--jobs 0`` is one worker a CPU whatever the root's size (not refused as no count):
    the serial run's bytes again."""
    root = _mixed_root(demo, tmp_path / "traces")
    _same(_validate(root, "--jobs", "1"), _validate(root, "--jobs", "0"))


def test_jobs_must_be_a_count(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rollout_trace_sdk", "validate", str(tmp_path), "--jobs", "-1"],
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--jobs: must be 0 (all CPUs) or more" in done.stderr


def _held(
    demo: Path,
    tmp_path: Path,
    jobs: str,
    *,
    once_only: bool = False,
    count: int = 12,
    gapped: tuple[str, ...] = (),
) -> Held:
    """``validate ROOT --jobs JOBS`` on a root whose ``b05-hang`` holds the worker checking it
    (and whose ``gapped`` bundles miss their event 3)."""
    root = tmp_path / "traces"
    for n in range(count):
        _copy(demo, root, f"b{n:02d}-hang" if n == 5 else f"b{n:02d}")
    for name in gapped:
        log = root / name / "trace.jsonl"
        lines = log.read_bytes().splitlines(keepends=True)
        log.write_bytes(b"".join(lines[:2] + lines[3:]))
    return Held(
        tmp_path,
        ["validate", str(root), "--jobs", jobs],
        ("rollout_trace_sdk._cli_validate", "validate_bundle"),
        once_only=once_only,
    )


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_ends_every_worker_with_the_serial_status(
    demo: Path, tmp_path: Path, jobs: str
) -> None:
    """Ctrl-C (SIGINT to the command's process group, as a terminal sends it) while a worker
    is busy: the command ends with 130 and "interrupted", as the serial loop does, no worker's
    traceback, and the busy worker is killed rather than waited for (it would wait forever)."""
    held = _held(demo, tmp_path, jobs)
    root = tmp_path / "traces"
    [pid] = held.held(1)
    os.killpg(held.process.pid, signal.SIGINT)
    code, out, err = held.end()
    assert (code, err) == (130, "interrupted\n"), err
    assert f"{root}/b05-hang" not in out
    assert gone(pid)


def test_sigterm_ends_the_workers_too(demo: Path, tmp_path: Path) -> None:
    """``kill`` (or ``timeout``) signals the command alone, not its workers: it ends them."""
    held = _held(demo, tmp_path, "2")
    [pid] = held.held(1)
    held.process.terminate()
    code, _, err = held.end()
    assert (code, err) == (128 + signal.SIGTERM, "terminated\n")
    assert gone(pid)


def test_a_killed_worker_loses_no_verdict(demo: Path, tmp_path: Path) -> None:
    """A worker killed (``kill -9``, the OOM killer) while it checks a bundle: its bundles are
    checked again, and the output is the serial run's, in its order though the bundles after
    the held one (damaged, as it is) were done before it."""
    held = _held(demo, tmp_path, "2", once_only=True, gapped=("b02", "b05-hang", "b09"))
    root = tmp_path / "traces"
    [pid] = held.held(1)
    held.checked(11)  # every other bundle's verdict first: b09's is in before b05's
    os.kill(pid, signal.SIGKILL)
    code, out, err = held.end()
    serial = _validate(root, "--jobs", "1")
    assert (code, out, err) == (serial.returncode, serial.stdout, serial.stderr)
    assert code == 1 and out.count("missing or reordered trace event 3") == 3, out
    assert out.index(f"{root}/b05-hang: ") < out.index(f"{root}/b09: "), out


def test_a_bundle_whose_worker_dies_each_time_is_named(demo: Path, tmp_path: Path) -> None:
    """A bundle whose worker dies again when it is checked alone is not checked: a line of
    its own says so, in its place, the count says how many, and the exit status is 1; the
    other bundles are checked (40: checked in batches of two, the held one's split)."""
    held = _held(demo, tmp_path, "2", count=40)
    root = tmp_path / "traces"
    killed: set[int] = set()
    while held.process.poll() is None and len(killed) < 8:
        pids = held.held(len(killed) + 1, may_end=True)
        for pid in set(pids) - killed:
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
    code, out, err = held.end()
    assert code == 1, err
    lines = out.splitlines()
    assert lines[0].startswith(f"{root}/b05-hang: not checked: its worker process died "), out
    assert lines[1:] == [f"39 of 40 bundles OK under {root}"]
    assert len(killed) == 3  # in the pool, in its batch alone, then alone
    assert err.startswith(f"1 bundle not OK under {root}: 1 not checked (the worker "), err


def test_a_workers_batch_of_unclosed_bundles_is_scanned_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's batch asks one ``/proc`` scan whether any of its unclosed bundles is being
    written, not one a bundle (review review49); the batch's verdicts are the serial loop's."""
    from rollout_trace_sdk._cli_validate import _judge
    from rollout_trace_sdk._cli_validate_jobs import _Batch, _check
    from rollout_trace_sdk.reduce.validate import validate_bundle
    from tests.held_log import counted_scans, unclosed_bundle

    names = tuple(str(unclosed_bundle(tmp_path / f"left{n}")) for n in range(4))
    serial = [_judge(validate_bundle(name)) for name in names]
    scans = counted_scans(monkeypatch)
    assert _check(_Batch(0, names)) == (0, serial)
    assert len(scans) == (1 if Path("/proc/self/fdinfo").is_dir() else 0)
