"""``export --to DIR``: many bundles → Parquet tables, incrementally, from local or fsspec
sources, failures reported without stopping the rest."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any

import fsspec
import orjson
import pytest

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.export.export_dir import EXPORTED, MANIFEST_NAME
from rollout_trace_sdk.export.parquet import ExportOptions, run_export
from rollout_trace_sdk.export.schema import STATE_MAPS, TABLES
from rollout_trace_sdk.model.layout import EXPORT_LOCK
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


def test_an_export_is_private_to_its_owner(three: list[Path], tmp_path: Path) -> None:
    """The tables hold prompts and tool output, as a bundle does: the folders an export makes
    (missing parents too) are 0700 and its files 0600 under a umask of 022, as every other
    file we write; they were 0755 and 0644. A folder that was there keeps its mode."""
    kept = tmp_path / "kept"
    kept.mkdir(mode=0o755)
    kept.chmod(0o755)
    old = os.umask(0o022)
    try:
        for to in (tmp_path / "new" / "parent" / "out", kept):
            code, _, err = _cli("export", str(tmp_path / "bundles"), "--to", str(to), "--jobs", "2")
            assert (code, err) == (0, "")
    finally:
        os.umask(old)
    made = tmp_path / "new"
    paths = [made, *made.rglob("*"), *kept.rglob("*")]
    files = [p for p in paths if p.is_file()]
    assert {p.name for p in files} >= {MANIFEST_NAME, EXPORT_LOCK}
    assert len([p for p in files if p.suffix == ".parquet"]) >= 2 * len(TABLES)
    modes = {str(p.relative_to(tmp_path)): p.stat().st_mode & 0o777 for p in paths}
    assert modes == {k: 0o600 if (tmp_path / k).is_file() else 0o700 for k in modes}
    assert kept.stat().st_mode & 0o777 == 0o755


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
    assert f"rollout-trace export: read {three[2]}/manifest.json: " in err
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
    # (the lock file stays: the directory's lock, held by no one once the run ended)
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".") and p.name != EXPORT_LOCK]
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

    from rollout_trace_sdk import _pool
    from rollout_trace_sdk.export import listing, parquet, process_engine
    from rollout_trace_sdk.export.jobs import ExportJob, Job

    bundles = copies(demo_bundle, tmp_path / "bundles", 12)  # 8 in flight, 4 queued
    monkeypatch.setenv("RTT_TEST_DIES_ON", str(bundles[5]))
    monkeypatch.setattr(parquet, "export_bundle", _dies_on_marked)
    pools: list[cf.ProcessPoolExecutor] = []

    class Pool(_pool._Executor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            pools.append(self)

    monkeypatch.setattr(_pool, "_Executor", Pool)
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


def test_a_lossy_bundle_exports_its_recorder_reports(tmp_path: Path) -> None:
    """A bundle whose recorder dropped events exported as ``recording_status`` ``complete``
    with nothing saying so (review ops41): ``rollouts.lossy`` and ``recorder_reports`` say
    it, as ``summary`` does; a bundle with a redaction report only is not lossy."""
    from tests.test_log_status import record_one_turn

    lossy = record_one_turn(tmp_path / "traces", schema=3, drop=True)
    redacted = record_one_turn(tmp_path / "traces", schema=2, secret=True)
    out = tmp_path / "out"
    code, _, err = _cli("export", str(lossy), str(redacted), "--to", str(out))
    assert code == 0, err
    rows = read_tables_rows(out, "SELECT source, lossy, recorder_reports FROM rollouts")
    by_source = {Path(source).name: (flag, reports) for source, flag, reports in rows}
    flag, reports = by_source[lossy.name]
    assert flag is True and re.match(r"dropped [1-9]\d* events", reports[0]), reports
    flag, reports = by_source[redacted.name]
    assert flag is False and [r.split(" ", 1)[0] for r in reports] == ["redacted"]
