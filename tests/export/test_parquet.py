"""``export --to DIR``: many bundles → Parquet tables, incrementally, from local or fsspec
sources, failures reported without stopping the rest."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import fsspec
import orjson
import pytest

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.export.export_dir import EXPORTED, MANIFEST_NAME
from rollout_trace_sdk.export.parquet import ExportOptions, run_export
from rollout_trace_sdk.export.schema import STATE_MAPS, TABLES, TABLES_VERSION
from rollout_trace_sdk.reduce import reduce_bundle
from tests.conftest import (
    CONFORMANCE,
    CONFORMANCE_V3,
    conformance_bundles,
    needs_conformance,
    needs_conformance_v3,
)
from tests.export.tables_util import copies, counts_by_trace, read_tables


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _parts(directory: Path) -> dict[str, int]:
    return {
        str(p.relative_to(directory)): p.stat().st_mtime_ns for p in directory.rglob("*.parquet")
    }


@pytest.fixture
def three(demo_bundle: Path, tmp_path: Path) -> list[Path]:
    return copies(demo_bundle, tmp_path / "bundles", 3)


def test_pool_exports_every_bundle_with_its_counts(three: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, err = _cli("export", str(tmp_path / "bundles"), "--to", str(out), "--jobs", "2")
    assert (code, err) == (0, "")
    assert "exported 3 bundle(s), 0 failed, 0 unchanged" in stdout
    state = reduce_bundle(three[0]).to_json()
    sources = [r[0] for r in read_tables_rows(out, "SELECT source FROM rollouts ORDER BY 1")]
    assert sources == sorted(str(b.absolute()) for b in three)
    for table, key in STATE_MAPS.items():
        assert counts_by_trace(out, table).get(state["trace_id"], 0) == 3 * len(state[key])


def read_tables_rows(directory: Path, sql: str) -> list[tuple[Any, ...]]:
    from rollout_trace_sdk.export.query import run

    return run(directory, sql)[1]


def test_rerun_skips_unchanged_and_redoes_changed(three: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    options = ExportOptions(to=str(out))
    first = run_export([str(tmp_path / "bundles")], options, jobs=1)
    assert len(first.exported) == 3 and not first.failed
    before = _parts(out)
    again = run_export([str(tmp_path / "bundles")], options, jobs=1)
    assert (again.skipped, again.exported) == (3, [])
    assert _parts(out) == before
    manifest = three[1] / "manifest.json"
    manifest.write_bytes(manifest.read_bytes() + b"\n")
    third = run_export([str(tmp_path / "bundles")], options, jobs=1)
    assert third.skipped == 2 and [r.source for r in third.exported] == [str(three[1])]
    changed = {k for k, v in _parts(out).items() if before.get(k) != v}
    assert changed and all(third.exported[0].key in k for k in changed)
    # other options are another export: payload text redoes every bundle
    with_text = run_export(
        [str(tmp_path / "bundles")], ExportOptions(to=str(out), payload_text=True), jobs=1
    )
    assert len(with_text.exported) == 3


def test_a_failing_bundle_is_reported_and_the_rest_exported(
    three: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert _cli("export", str(tmp_path / "bundles"), "--to", str(out), "--jobs", "2")[0] == 0
    (three[2] / "manifest.json").write_text("{ not json")
    code, stdout, err = _cli("export", str(tmp_path / "bundles"), "--to", str(out), "--jobs", "2")
    assert code == 1
    assert "exported 0 bundle(s), 1 failed, 2 unchanged" in stdout
    assert f"rollout-trace export: {three[2]}: " in err and "manifest.json" in err
    assert "Traceback" not in err
    # the broken bundle's old rows are gone; the others stay
    sources = {r[0] for r in read_tables_rows(out, "SELECT source FROM rollouts")}
    assert sources == {str(three[0]), str(three[1])}
    entry = orjson.loads((out / MANIFEST_NAME).read_bytes())["bundles"]
    assert sorted(e["status"] for e in entry.values()) == ["failed", "ok", "ok"]


def test_lenient_exports_a_torn_bundle_as_far_as_it_goes(demo_bundle: Path, tmp_path: Path) -> None:
    torn = copies(demo_bundle, tmp_path / "bundles", 1)[0]
    log = torn / "trace.jsonl"
    data = log.read_bytes()
    log.write_bytes(data[: data.rstrip(b"\n").rfind(b"\n") + 20])  # cut the last line
    out = tmp_path / "out"
    code, _, err = _cli("export", str(torn), "--to", str(out))
    assert code == 1 and "parse trace event line" in err
    assert "(--lenient exports the rest)" in err
    assert not (out / "rollouts").exists()
    # the advice is the command line's: the run's result and the manifest keep the
    # reducer's words (review26: the hint had reached both)
    result = run_export([str(torn)], ExportOptions(to=str(out)), jobs=1)
    ((failed,),) = [result.failed]
    assert failed.lenient_reads and "--lenient" not in (failed.error or "")
    (entry,) = orjson.loads((out / MANIFEST_NAME).read_bytes())["bundles"].values()
    assert entry["error"] == failed.error and "--lenient" not in entry["error"]
    code, stdout, err = _cli("export", str(torn), "--to", str(out), "--lenient")
    assert code == 0 and "exported 1 bundle(s)" in stdout
    assert f"lenient: {torn}: exported as far as it goes" in err
    ((lenient, notes, items),) = read_tables_rows(
        out, "SELECT lenient, lenient_notes, conversation_items FROM rollouts"
    )
    assert lenient is True and notes and items > 0


def _put_tree(fs: Any, local: Path, remote: str) -> None:
    for path in local.rglob("*"):
        if path.is_file():
            fs.pipe_file(f"{remote}/{path.relative_to(local)}", path.read_bytes())


def test_fsspec_memory_source_matches_a_local_export(demo_bundle: Path, tmp_path: Path) -> None:
    fs = fsspec.filesystem("memory")
    _put_tree(fs, demo_bundle, f"/runs/a/{demo_bundle.name}")
    try:
        remote = run_export(["memory://runs"], ExportOptions(to=str(tmp_path / "m")), jobs=1)
        assert [r.status for r in remote.exported] == ["ok"]
        assert remote.exported[0].source == f"memory:///runs/a/{demo_bundle.name}"
        run_export([str(demo_bundle)], ExportOptions(to=str(tmp_path / "l")), jobs=1)
        # output to an fsspec URL too
        run_export(["memory://runs"], ExportOptions(to="memory://exported"), jobs=1)
        assert fs.exists(f"/exported/{MANIFEST_NAME}") and fs.glob("/exported/threads/*.parquet")
    finally:
        fs.rm("/runs", recursive=True)
        if fs.exists("/exported"):
            fs.rm("/exported", recursive=True)
    remote_tables, local_tables = read_tables(tmp_path / "m"), read_tables(tmp_path / "l")
    at = [name for name, _, _ in TABLES["rollouts"]].index("source")  # every table's keys
    for table in local_tables:
        unsourced = [
            sorted(row[:at] + row[at + 1 :] for row in rows)
            for rows in (remote_tables[table], local_tables[table])
        ]
        assert unsourced[0] == unsourced[1], table
    assert len(remote_tables["rollouts"]) == len(local_tables["rollouts"]) == 1


def test_file_urls_through_the_pool(three: list[Path], tmp_path: Path) -> None:
    url = f"file://{tmp_path / 'bundles'}"
    summary = run_export([url], ExportOptions(to=str(tmp_path / "out")), jobs=2)
    assert sorted(r.status for r in summary.exported) == ["ok"] * 3
    assert all(r.source.startswith("file://") for r in summary.exported)
    assert len(read_tables(tmp_path / "out")["rollouts"]) == 3


def test_payload_text_reads_every_body(demo_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _cli("export", str(demo_bundle), "--to", str(out), "--payload-text")[0] == 0
    rows = read_tables_rows(out, "SELECT text, text_bytes FROM raw_payloads")
    assert rows and all(text is not None and n == len(text.encode()) for text, n in rows)
    assert any("demo" in text for text, _ in rows)


def test_usage_errors(demo_bundle: Path, tmp_path: Path) -> None:
    code, _, err = _cli("export", str(demo_bundle), "--format", "parquet")
    assert code == 2 and "needs --to DIR" in err
    code, stdout, err = _cli("export", str(tmp_path / "nothing"), "--to", str(tmp_path / "o"))
    assert code == 1 and "nothing: cannot list" in err and "exported 0 bundle(s)" in stdout
    assert not (tmp_path / "o").exists()  # a mistyped path left an empty export behind
    (tmp_path / "file").write_text("")
    code, _, err = _cli("export", str(demo_bundle), "--to", str(tmp_path / "file"))
    assert code == 1 and err == f"rollout-trace export: {tmp_path / 'file'}: Not a directory\n"
    (tmp_path / "empty").mkdir()
    code, _, err = _cli("export", str(tmp_path / "empty"), "--to", str(tmp_path / "o"))
    assert code == 1 and "no bundle" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("engine", ["Ray", "threads", ""])
def test_an_unknown_engine_is_refused_not_taken_for_the_pool(
    demo_bundle: Path, tmp_path: Path, engine: str
) -> None:
    """``run_export(..., engine="Ray")`` ran the process pool without a word (any name but
    ``ray`` did; found by review): the CLI limits the choices, the Python API did not."""
    with pytest.raises(ValueError, match="engine must be 'process' or 'ray'"):
        run_export([str(demo_bundle)], ExportOptions(to=str(tmp_path / "o")), engine=engine)
    assert not (tmp_path / "o").exists()


def test_a_state_file_is_a_source(failing_state: Path, tmp_path: Path) -> None:
    code, _, err = _cli("export", str(failing_state), "--to", str(tmp_path / "o"))
    assert (code, err) == (0, "")
    (status,) = read_tables_rows(
        tmp_path / "o", "SELECT status FROM tool_calls WHERE tool_call_id = 'call_0_sum'"
    )
    assert status == ("failed",)
    # asked for payload text, a state file says why it has none (it was null, silently)
    code, _, err = _cli("export", str(failing_state), "--to", str(tmp_path / "t"), "--payload-text")
    assert code == 0, err
    unread = read_tables_rows(tmp_path / "t", "SELECT DISTINCT text, text_unread FROM raw_payloads")
    assert unread == [(None, "a state file: the bodies are in its bundle")]


def _check_corpus(corpus: Path, tmp_path: Path) -> None:
    """Exported counts equal the reduced states' counts on every bundle of a corpus."""
    bundles = conformance_bundles(corpus)
    out = tmp_path / "out"
    summary = run_export([str(b) for b in bundles], ExportOptions(to=str(out)), jobs=2)
    assert not summary.failed and len(summary.exported) == len(bundles)
    counts = {table: counts_by_trace(out, table) for table in STATE_MAPS}
    rollouts = {r[0]: r[1:] for r in read_tables_rows(out, "SELECT trace_id, * FROM rollouts")}
    assert len(rollouts) == len(bundles)
    for bundle in bundles:
        state = reduce_bundle(bundle).to_json()
        for table, key in STATE_MAPS.items():
            assert counts[table].get(state["trace_id"], 0) == len(state[key]), (bundle, table)


@needs_conformance
def test_conformance_counts(tmp_path: Path) -> None:
    _check_corpus(CONFORMANCE, tmp_path)


@needs_conformance_v3
def test_conformance_v3_counts(tmp_path: Path) -> None:
    _check_corpus(CONFORMANCE_V3, tmp_path)


def test_parts_are_written_whole(three: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_export([str(tmp_path / "bundles")], ExportOptions(to=str(out)), jobs=2)
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".")]
    assert leftovers == []
    assert len(os.listdir(out / "rollouts")) == 3


def test_an_unreadable_manifest_means_export_again_not_twice(
    three: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run_export([str(tmp_path / "bundles")], ExportOptions(to=str(out)), jobs=1)
    (out / MANIFEST_NAME).write_text("{ torn")
    again = run_export([str(tmp_path / "bundles")], ExportOptions(to=str(out)), jobs=1)
    assert len(again.exported) == 3 and again.skipped == 0
    assert len(read_tables(out)["rollouts"]) == 3


def test_a_run_killed_midway_is_redone_whatever_the_next_options(
    three: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed while it rewrote bundles (SIGKILL: no manifest saved at its end) left
    their old entries saying "exported, these options": the next run with those options
    skipped them, keeping the killed run's rows (found by review)."""
    from rollout_trace_sdk.export.export_dir import ExportDir

    out = tmp_path / "out"
    root = str(tmp_path / "bundles")
    assert not run_export([root], ExportOptions(to=str(out)), jobs=1).failed
    saved = ExportDir.write_manifest
    writes = 0

    def killed_after_the_first_write(self: Any, bundles: dict[str, Any]) -> None:
        nonlocal writes
        writes += 1
        if writes == 1:  # before any bundle is touched: the only one a SIGKILL lets through
            saved(self, bundles)

    class Killed(BaseException):
        pass

    def kill(result: Any) -> None:
        raise Killed

    monkeypatch.setattr(ExportDir, "write_manifest", killed_after_the_first_write)
    with pytest.raises(Killed):
        run_export([root], ExportOptions(to=str(out), payload_text=True), jobs=1, on_result=kill)
    monkeypatch.setattr(ExportDir, "write_manifest", saved)
    again = run_export([root], ExportOptions(to=str(out)), jobs=1)
    assert len(again.exported) == 3 and not again.failed
    texts = read_tables_rows(out, "SELECT count(*) FROM raw_payloads WHERE text IS NOT NULL")
    assert texts == [(0,)]


def test_one_bundle_under_two_spellings_is_one_source(three: list[Path], tmp_path: Path) -> None:
    """``root/../root/b`` and a symlink to ``b`` named the bundle ``b`` again: two more
    copies of its rows (found by review)."""
    out = tmp_path / "out"
    root = tmp_path / "bundles"
    (tmp_path / "link").symlink_to(three[0])
    for spec in (root, root / ".." / "bundles" / three[0].name, tmp_path / "link"):
        assert not run_export([str(spec)], ExportOptions(to=str(out)), jobs=1).failed
    assert read_tables_rows(out, "SELECT count(*) FROM rollouts") == [(3,)]


_REAL_EXPORT = run_export.__globals__["export_bundle"]


def _dies_on_marked(source: Any, options: Any, *rest: Any) -> Any:
    """``export_bundle``, but the worker exporting ``$RTT_TEST_DIES_ON`` dies (as a SIGKILL
    would have it); module-level, so the pool can send it to its workers."""
    if source.url == os.environ.get("RTT_TEST_DIES_ON"):
        os._exit(9)
    return _REAL_EXPORT(source, options, *rest)


@pytest.mark.parametrize("batched", [False, True], ids=["one job a bundle", "one batch"])
def test_a_dead_worker_fails_its_bundle_alone(
    batched: bool, tmp_path: Path, demo_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed (out of memory, a signal) broke the pool, and the whole export ended
    in an internal error (found by review); then every job in flight with it failed too,
    and a batch with it: hundreds of bundles failed for one. Now only the bundle whose worker
    dies when it is exported alone fails; the others are exported."""
    import collections
    import multiprocessing

    from rollout_trace_sdk.export import listing, parquet, process_engine
    from rollout_trace_sdk.export.jobs import ExportJob, Job

    bundles = copies(demo_bundle, tmp_path / "bundles", 7)
    # forked workers see the patched function (forkserver ones would import it afresh)
    monkeypatch.setenv("RTT_TEST_DIES_ON", str(bundles[4]))
    monkeypatch.setattr(parquet, "export_bundle", _dies_on_marked)
    sources = listing.list_bundles([str(tmp_path / "bundles")], "", [])
    queue: collections.deque[Job] = collections.deque(
        [ExportJob(tuple(sources), batch=True)] if batched else (ExportJob((s,)) for s in sources)
    )
    outcomes = process_engine._pools(
        queue, ExportOptions(to=str(tmp_path / "out")), 2, multiprocessing.get_context("fork")
    )
    results = [result for outcome in outcomes if isinstance(outcome, list) for result in outcome]
    assert sorted(r.source for r in results) == sorted(s.url for s in sources)
    failed = [r for r in results if r.status == "failed"]
    assert [r.source for r in failed] == [str(bundles[4])]
    assert "worker process died (also when run alone)" in (failed[0].error or "")
    assert all(r.status in EXPORTED for r in results if r not in failed)


def test_a_worker_dying_while_the_driver_reads_an_outcome_leaves_the_queue_to_a_new_pool(
    tmp_path: Path, demo_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job came back, and while the driver recorded it another job's worker died: handing
    the pool the next job from the queue then raised (a broken pool takes none), the job
    taken was lost and the whole export ended in an internal error. The job goes back to
    the queue, for the next pool; only the bundle whose worker dies fails."""
    import collections
    import concurrent.futures as cf
    import multiprocessing
    import time

    from rollout_trace_sdk.export import listing, parquet, process_engine
    from rollout_trace_sdk.export.jobs import ExportJob, Job

    bundles = copies(demo_bundle, tmp_path / "bundles", 12)  # 8 in flight, 4 queued
    monkeypatch.setenv("RTT_TEST_DIES_ON", str(bundles[5]))
    monkeypatch.setattr(parquet, "export_bundle", _dies_on_marked)
    pools: list[cf.ProcessPoolExecutor] = []

    class Pool(cf.ProcessPoolExecutor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            pools.append(self)

    monkeypatch.setattr(cf, "ProcessPoolExecutor", Pool)
    sources = listing.list_bundles([str(tmp_path / "bundles")], "", [])
    queue: collections.deque[Job] = collections.deque(ExportJob((s,)) for s in sources)
    outcomes = process_engine._pools(
        queue, ExportOptions(to=str(tmp_path / "out")), 2, multiprocessing.get_context("fork")
    )
    results: list[Any] = []
    for outcome in outcomes:
        assert isinstance(outcome, list)
        if not results:  # the driver is busy with the first: the pool breaks meanwhile
            deadline = time.monotonic() + 120
            while not pools[0]._broken and time.monotonic() < deadline:
                time.sleep(0.01)
        results += outcome
    assert sorted(r.source for r in results) == sorted(s.url for s in sources)
    assert [r.source for r in results if r.status not in EXPORTED] == [str(bundles[5])]


@needs_conformance_v3
def test_payload_text_of_a_cut_or_omitted_payload_is_null(tmp_path: Path) -> None:
    """The reader's placeholder (``{"$trace_unavailable": id}``) was stored as the text of
    payloads recorded truncated or omitted (found by review)."""
    [bundle] = sorted((CONFORMANCE_V3 / "capture_payload_limit_exec").glob("trace-*"))
    out = tmp_path / "out"
    summary = run_export([str(bundle)], ExportOptions(to=str(out), payload_text=True), jobs=1)
    assert not summary.failed
    rows = read_tables_rows(
        out, "SELECT capture_status, text, text_bytes, text_unread FROM raw_payloads"
    )
    cut = [(text, n, why) for status, text, n, why in rows if status in ("truncated", "omitted")]
    assert cut and {(text, n) for text, n, _ in cut} == {(None, None)}
    assert {why for _, _, why in cut} <= {"recorded truncated", "recorded omitted"}
    whole = [(text, why) for status, text, _, why in rows if status in (None, "complete")]
    assert whole and all(text is not None or why for text, why in whole)
    assert all("$trace_unavailable" not in text for text, _ in whole if text is not None)


@needs_conformance_v3
def test_payload_text_spliced_from_a_cut_part_is_null(tmp_path: Path) -> None:
    """A template payload (a request, a response) one of whose parts was recorded truncated
    or omitted was stored whole, Codex's placeholder (``{"$trace_unavailable": id}``) spliced
    in as if it were the text, with nothing saying so (found by review)."""
    [bundle] = sorted((CONFORMANCE_V3 / "capture_payload_limit_exec").glob("trace-*"))
    out = tmp_path / "out"
    summary = run_export([str(bundle)], ExportOptions(to=str(out), payload_text=True), jobs=1)
    assert not summary.failed
    rows = read_tables_rows(
        out, "SELECT raw_payload_id, capture_status, text, text_unread FROM raw_payloads"
    )
    by_id = {pid: (status, text, why) for pid, status, text, why in rows}
    # the request spliced from four whole items and raw_payload:18, recorded truncated;
    # the response from an item whose text (raw_payload:23) was, two levels down
    assert by_id["raw_payload:19"] == (None, None, "part raw_payload:18 recorded truncated")
    assert by_id["raw_payload:25"] == (None, None, "part raw_payload:23 recorded truncated")
    assert by_id["raw_payload:14"][1] is not None  # a whole part of that request: its text


def test_prune_removes_the_rows_of_bundles_gone_since(three: list[Path], tmp_path: Path) -> None:
    """Rows of a bundle deleted or renamed since an earlier export stayed for good (found by
    review): ``--prune`` removes every source the run's SOURCES no longer hold, and only then."""
    import shutil

    out = tmp_path / "out"
    root = tmp_path / "bundles"
    assert _cli("export", str(root), "--to", str(out))[0] == 0
    shutil.rmtree(three[0])
    three[1].rename(three[1].with_name(three[1].name + "-moved"))
    code, _, err = _cli("export", str(root), "--to", str(out))
    assert code == 0
    assert read_tables_rows(out, "SELECT count(*) FROM rollouts") == [(4,)]  # kept, as documented
    # ... and said: four rollouts counted for three bundles went unremarked (review rl20)
    assert "note: 2 bundle(s) exported earlier from these sources are gone" in err
    assert "until export --prune" in err
    code, stdout, _ = _cli("export", str(root), "--to", str(out), "--prune")
    assert code == 0 and "2 pruned" in stdout
    sources = {r[0] for r in read_tables_rows(out, "SELECT DISTINCT source FROM threads")}
    assert sources == {str(three[2]), str(three[1]) + "-moved"}
    manifest = orjson.loads((out / MANIFEST_NAME).read_bytes())["bundles"]
    assert len(manifest) == 2
    # a spec that cannot be listed prunes nothing: its bundles would only look gone
    code, _, err = _cli("export", str(tmp_path / "missing"), "--to", str(out), "--prune")
    assert code == 1 and "cannot list" in err
    assert read_tables_rows(out, "SELECT count(*) FROM rollouts") == [(2,)]


def test_prune_removes_nothing_outside_the_export(three: list[Path], tmp_path: Path) -> None:
    """A manifest key is a part's file name: one with a path in it (an export directory
    shared or copied from elsewhere) had ``--prune`` remove ``../../victim/data.parquet``,
    outside ``--to`` (found by review). Only keys the export makes are read."""
    out = tmp_path / "out"
    victim = tmp_path / "victim" / "data.parquet"
    victim.parent.mkdir()
    victim.write_bytes(b"not the export's")
    assert _cli("export", str(three[0]), "--to", str(out))[0] == 0
    manifest = orjson.loads((out / MANIFEST_NAME).read_bytes())
    [entry] = manifest["bundles"].values()
    manifest["bundles"]["../../victim/data"] = {**entry, "source": "/gone"}
    (out / MANIFEST_NAME).write_bytes(orjson.dumps(manifest))
    code, stdout, _ = _cli("export", str(three[0]), "--to", str(out), "--prune")
    assert code == 0 and "1 unchanged" in stdout
    assert victim.read_bytes() == b"not the export's"
    assert read_tables_rows(out, "SELECT count(*) FROM rollouts") == [(1,)]


def test_a_killed_runs_part_files_are_removed_by_the_next(
    three: list[Path], tmp_path: Path
) -> None:
    """A run killed while it wrote a part left ``.KEY.PID.tmp`` in the table's folder for
    good (found by review); one of a process still running is left alone."""
    import subprocess

    out = tmp_path / "out"
    root = str(tmp_path / "bundles")
    assert not run_export([root], ExportOptions(to=str(out)), jobs=1).failed
    gone = subprocess.Popen(["true"])  # a process that has ended
    gone.wait()
    stale = out / "threads" / f".somekey.{gone.pid}.tmp"
    live = out / "threads" / f".otherkey.{os.getpid()}.tmp"
    stale.write_bytes(b"half a part")
    live.write_bytes(b"being written")
    run_export([root], ExportOptions(to=str(out)), jobs=1)
    assert not stale.exists() and live.exists()


_RESENDING_AGENT = """
import resource, sys, anyio
import pyarrow.parquet
from rollout_trace_sdk.export.parquet import ExportOptions, run_export
from rollout_trace_sdk.record import open_rollout

async def record(root):
    # each request resends the whole history (newest first: no prefix to send as a delta)
    async with open_rollout(root, schema_version=3, model="m", provider_name="p") as rollout:
        async with rollout.root.turn() as turn:
            history = []
            for n in range(150):
                text = f"{n}:" + "x" * 20_000
                history.append({"type": "message", "role": "user",
                                "content": [{"type": "input_text", "text": text}]})
                async with turn.inference({"model": "m", "input": history[::-1]}) as call:
                    output = [{"type": "message", "role": "assistant",
                               "content": [{"type": "output_text", "text": "ok"}]}]
                    usage = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
                    history += call.completed(response_id=f"r{n}", output_items=output,
                                              token_usage=usage)

anyio.run(record, sys.argv[1])
[bundle] = [p for p in __import__("pathlib").Path(sys.argv[1]).iterdir()]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
summary = run_export([str(bundle)], ExportOptions(to=sys.argv[2], payload_text=True), jobs=1)
assert not summary.failed, summary.failed
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""


def test_payload_text_is_read_a_batch_at_a_time(tmp_path: Path) -> None:
    """``--payload-text`` held every body of a bundle at once (as bytes, as text and as
    Arrow): a schema-3 bundle of 6 MB whose requests resend the history spliced to 460 MB of
    bodies and the export grew by 2.3 GB (5 x the bodies; found by review). Measured in a
    fresh process as the growth of its peak RSS across the export: now one batch of bodies
    at a time, under the bodies' total."""
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-c", _RESENDING_AGENT, str(tmp_path / "rec"), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    grown = int(done.stdout)
    [(bodies, unread)] = read_tables_rows(
        out, "SELECT sum(text_bytes), count(text_unread) FROM raw_payloads"
    )
    assert unread == 0 and bodies > 400_000_000
    assert grown < bodies, f"grew {grown:,} bytes exporting {bodies:,} bytes of bodies"


def _as_if_exported_by_an_older_version(out: Path, source: Path) -> None:
    """Make ``source``'s parts look written by tables version 5: its manifest entry says so
    (an entry of a version before they were recorded has none) and its conversation_items
    part lacks the column version 6 added."""
    import pyarrow.parquet as pq

    manifest = orjson.loads((out / MANIFEST_NAME).read_bytes())
    [key] = [k for k, e in manifest["bundles"].items() if e["source"] == str(source)]
    manifest["bundles"][key]["tables_version"] = 5
    (out / MANIFEST_NAME).write_bytes(orjson.dumps(manifest))
    part = out / "conversation_items" / f"{key}.parquet"
    pq.write_table(pq.read_table(part).drop_columns(["cut_payload_ids"]), part)


def test_a_tables_version_bump_exports_the_older_bundles_again(
    three: list[Path], tmp_path: Path
) -> None:
    """A run after a version bump exported only the bundles it was given: the directory mixed
    parts of two versions, and a query read one part's columns for all (a column missing, a
    count silently 0; found by review). The export now exports the older ones again from
    their recorded sources; ``query`` refuses a directory still holding any."""
    out = tmp_path / "out"
    assert not run_export([str(tmp_path / "bundles")], ExportOptions(to=str(out)), jobs=1).failed
    _as_if_exported_by_an_older_version(out, three[0])
    code, stdout, err = _cli("query", str(out), "SELECT count(*) FROM rollouts")
    assert (code, stdout) == (1, "")
    assert f"exported by another version of the tables (5; this is {TABLES_VERSION})" in err
    assert f"\n  {three[0]}\n" in err
    # an export of another bundle exports the older one again too
    code, stdout, err = _cli("export", str(three[1]), "--to", str(out))
    assert (code, err) == (0, "")
    assert "exported 1 bundle(s), 0 failed, 1 unchanged (skipped), 1 of another" in stdout
    counts = read_tables_rows(
        out, "SELECT count(*), count(cut_payload_ids) FROM conversation_items"
    )
    assert counts[0][0] == counts[0][1] > 0
    entries = orjson.loads((out / MANIFEST_NAME).read_bytes())["bundles"].values()
    assert {e["tables_version"] for e in entries} == {TABLES_VERSION}


def test_an_older_bundle_gone_is_named_until_pruned(three: list[Path], tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "out"
    assert not run_export([str(tmp_path / "bundles")], ExportOptions(to=str(out)), jobs=1).failed
    _as_if_exported_by_an_older_version(out, three[0])
    shutil.rmtree(three[0])
    code, stdout, err = _cli("export", str(three[1]), "--to", str(out))
    assert code == 1 and "exported 0 bundle(s), 0 failed, 1 unchanged" in stdout
    assert f"rollout-trace export: {three[0]}: exported by another tables version" in err
    assert _cli("query", str(out), "SELECT 1")[0] == 1
    code, stdout, err = _cli("export", str(tmp_path / "bundles"), "--to", str(out), "--prune")
    assert (code, err) == (0, "") and "1 pruned" in stdout
    assert read_tables_rows(out, "SELECT count(*) FROM rollouts") == [(2,)]


_WHY = {
    "inference_calls": "inference_call_id",
    "compaction_requests": "compaction_request_id",
    "tool_calls": "tool_call_id",
    "turns": "codex_turn_id",
}


def _why_rows(out: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row's error text (and each rollout's failure), by trace and id."""
    got = {
        table: read_tables_rows(
            out, f"SELECT trace_id, {key}, error_text FROM {table} ORDER BY ALL"
        )
        for table, key in _WHY.items()
    }
    got["rollouts"] = read_tables_rows(out, "SELECT trace_id, failure FROM rollouts ORDER BY ALL")
    return got


def test_the_pool_and_a_state_file_in_its_bundle_say_why_as_the_bundle_does(
    why_bundles: dict[str, Path], tmp_path: Path
) -> None:
    """The error texts are read in the worker that reduces the bundle: a process pool gives
    the rows one process gives, and a ``state.json`` inside its bundle (read as ``show``
    reads it) the same texts; a state file alone has none to give (nulls, not an error)."""
    one, pool = tmp_path / "one", tmp_path / "pool"
    bundles = [str(b) for b in why_bundles.values()]
    assert not run_export(bundles, ExportOptions(to=str(one)), jobs=1).failed
    summary = run_export(bundles, ExportOptions(to=str(pool)), jobs=2)
    assert not summary.failed and {r.pid for r in summary.exported} != {os.getpid()}
    assert read_tables(pool) == read_tables(one)
    why = _why_rows(one)
    assert sum(text is not None for _, _, text in why["tool_calls"]) == 4
    assert sum(failure is not None for _, failure in why["rollouts"]) == 4
    states = tmp_path / "states"
    for name, bundle in why_bundles.items():
        copy = states / name
        shutil.copytree(bundle, copy)
        (copy / "state.json").write_bytes(orjson.dumps(reduce_bundle(copy).to_json()))
        (tmp_path / f"{name}.json").write_bytes((copy / "state.json").read_bytes())
    files = [str(p / "state.json") for p in sorted(states.iterdir())]
    assert not run_export(files, ExportOptions(to=str(tmp_path / "files")), jobs=1).failed
    assert _why_rows(tmp_path / "files") == why
    alone = [str(tmp_path / f"{name}.json") for name in why_bundles]
    assert not run_export(alone, ExportOptions(to=str(tmp_path / "alone")), jobs=1).failed
    nulls = _why_rows(tmp_path / "alone")
    assert {row[-1] for rows in nulls.values() for row in rows} == {None}
    assert [row[:-1] for row in nulls["tool_calls"]] == [row[:-1] for row in why["tool_calls"]]
