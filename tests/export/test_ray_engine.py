"""``--engine ray`` on a local Ray instance (2 CPUs): the same tables as the process pool, a
failing bundle reported without stopping the rest. One short module: Ray takes a while to
start on a loaded 2-core machine."""

from __future__ import annotations

import io
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.export.parquet import ExportOptions, run_export
from rollout_trace_sdk.export.query import run
from tests.export.ray_worker_hook import MARK
from tests.export.tables_util import copies, read_tables

ray = pytest.importorskip("ray")
#: All on one pytest-xdist worker (scripts/test.sh runs two): one local Ray instance, 5-10 s to
#: start, serves the module, not one on each worker (two at once on 2 cores, each of 2 CPUs).
pytestmark = pytest.mark.xdist_group("ray")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    root = str(Path(__file__).resolve().parents[2])
    hook = {  # a worker given a bundle marked ``worker-dies`` exits (see ray_worker_hook)
        "env_vars": {"PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])},
        "worker_process_setup_hook": "tests.export.ray_worker_hook.setup",
    }
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env=hook)
    try:
        yield
    finally:
        ray.shutdown()


def test_ray_tables_equal_the_pool_tables(
    local_ray: None, demo_bundle: Path, tmp_path: Path
) -> None:
    bundles = copies(demo_bundle, tmp_path / "bundles", 3)
    (bundles[2] / "trace.jsonl").write_text("{ torn")
    pool = run_export([str(tmp_path / "bundles")], ExportOptions(to=str(tmp_path / "p")), jobs=2)
    on_ray = run_export(
        [str(tmp_path / "bundles")], ExportOptions(to=str(tmp_path / "r")), jobs=2, engine="ray"
    )
    assert sorted(r.status for r in on_ray.exported) == ["failed", "ok", "ok"]
    assert [(r.source, r.error) for r in on_ray.failed] == [
        (r.source, r.error) for r in pool.failed
    ]
    ray_tables, pool_tables = read_tables(tmp_path / "r"), read_tables(tmp_path / "p")
    assert ray_tables == pool_tables
    assert len(ray_tables["rollouts"]) == 2 and ray_tables["conversation_items"]
    # the work ran in Ray's worker processes, not in this one
    assert all(r.pid != os.getpid() for r in on_ray.exported)
    # the CLI drives the same engine; a re-run skips what is unchanged
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["export", str(tmp_path / "bundles"), "--to", str(tmp_path / "r"), "--engine", "ray"],
        out=out,
        err=err,
    )
    assert code == 1 and "0 bundle(s), 1 failed, 2 unchanged" in out.getvalue()
    assert str(bundles[2]) in err.getvalue()


def test_ray_says_why_as_the_pool_does(
    local_ray: None, why_bundles: dict[str, Path], tmp_path: Path
) -> None:
    """The error texts are read in the Ray worker from the bundle it reduces: the same
    ``error_text`` and ``failure`` columns as the process pool's (review why27)."""
    bundles = [str(b) for b in why_bundles.values()]
    pool = run_export(bundles, ExportOptions(to=str(tmp_path / "p")), jobs=2)
    on_ray = run_export(bundles, ExportOptions(to=str(tmp_path / "r")), jobs=2, engine="ray")
    assert not pool.failed and not on_ray.failed
    assert all(r.pid != os.getpid() for r in on_ray.exported)
    ray_tables = read_tables(tmp_path / "r")
    assert ray_tables == read_tables(tmp_path / "p")
    failures = run(tmp_path / "r", "SELECT failure FROM rollouts ORDER BY ALL")[1]
    interrupted = [("interrupted (cancel scope cancelled)",)]  # what cancelled it, after
    assert failures == [("Boom: tool exploded on k0",)] * 2 + interrupted * 2 + [(None,)] * 2


def test_ray_workers_write_the_packs(local_ray: None, episodes: Path, tmp_path: Path) -> None:
    """A Ray worker writes a batch of small bundles into a pack (one per table, no part), and
    a changed bundle leaves its pack: the same tables as the pool's."""
    runs = tmp_path / "runs"
    shutil.copytree(episodes, runs)
    on_ray = run_export([str(runs)], ExportOptions(to=str(tmp_path / "r")), jobs=2, engine="ray")
    assert on_ray.packed == 70 and all(r.pid != os.getpid() for r in on_ray.exported)
    assert [p.name.startswith("pack-") for p in (tmp_path / "r" / "rollouts").iterdir()] == [True]
    changed = sorted(runs.iterdir())[2]
    (changed / "manifest.json").write_bytes((changed / "manifest.json").read_bytes() + b"\n")
    again = run_export([str(runs)], ExportOptions(to=str(tmp_path / "r")), jobs=2, engine="ray")
    assert [r.source for r in again.exported] == [str(changed)]
    assert not run_export([str(runs)], ExportOptions(to=str(tmp_path / "p")), jobs=2).failed
    assert read_tables(tmp_path / "r") == read_tables(tmp_path / "p")


def test_a_worker_that_dies_fails_its_bundle_only(
    local_ray: None, demo_bundle: Path, tmp_path: Path
) -> None:
    """A Ray worker killed while it exported a bundle (after Ray's one retry) ended the
    whole export with ``WorkerCrashedError`` (found by review): that bundle fails, saying
    so, and the others are exported, as with the process pool."""
    bundles = copies(demo_bundle, tmp_path / "bundles", 3)
    dying = bundles[0].rename(bundles[0].with_name(f"a-{MARK}"))
    summary = run_export(
        [str(tmp_path / "bundles")], ExportOptions(to=str(tmp_path / "r")), jobs=2, engine="ray"
    )
    assert sorted(r.status for r in summary.exported) == ["failed", "ok", "ok"]
    [failed] = summary.failed
    assert failed.source == str(dying) and failed.error is not None
    assert failed.error.startswith("its Ray task failed: ") and "Crash" in failed.error
    assert len(read_tables(tmp_path / "r")["rollouts"]) == 2


def test_a_worker_that_dies_in_a_batch_fails_its_bundle_only(
    local_ray: None, episodes: Path, tmp_path: Path
) -> None:
    """A bundle whose worker dies, batched with small ones: the batch is split until that
    bundle is found; it fails alone, and the other 69 are packed."""
    runs = tmp_path / "runs"
    shutil.copytree(episodes, runs)
    victim = sorted(runs.iterdir())[33]
    dying = victim.rename(victim.with_name(f"{victim.name}-{MARK}"))
    summary = run_export([str(runs)], ExportOptions(to=str(tmp_path / "r")), jobs=2, engine="ray")
    assert [r.source for r in summary.failed] == [str(dying)]
    assert summary.packed == 69 and len(read_tables(tmp_path / "r")["rollouts"]) == 69


def test_a_local_instance_of_our_own_is_quiet(demo_bundle: Path, tmp_path: Path) -> None:
    """``export --engine ray`` without a cluster starts one for itself; Ray's start-up notes
    (INFO "Started a local Ray instance", a token-authentication WARNING on every run of Ray
    2.5x and later) filled the command's stderr. Its own process: the instance is the CLI's."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    argv = ["export", str(demo_bundle), "--to", str(tmp_path / "out"), "--engine", "ray"]
    done = subprocess.run(
        [sys.executable, "-m", "rollout_trace_sdk", *argv, "--jobs", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "exported 1 bundle(s), 0 failed" in done.stdout
    assert re.findall(r"\b(?:WARNING|INFO)\b.*", done.stderr) == []
