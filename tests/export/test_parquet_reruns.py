"""The Parquet export run again over the same export: bundles gone since pruned (and nothing
outside the export), a killed run's part files removed, payload text read a batch at a time,
a tables version bump exporting older bundles again, why a rollout failed said alike by the
pool and a state file (the first export: test_parquet.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from rollout_trace_sdk.export.export_dir import MANIFEST_NAME
from rollout_trace_sdk.export.parquet import ExportOptions, run_export
from rollout_trace_sdk.export.schema import TABLES_VERSION
from rollout_trace_sdk.reduce import reduce_bundle
from tests.export.tables_util import read_tables
from tests.held_log import counted_scans, held_open, needs_proc, unclosed_bundle, unclosed_root

from .test_parquet import _cli, read_tables_rows


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


def test_an_export_of_tables_version_8_gets_the_item_id_lists_when_exported_again(
    three: list[Path], tmp_path: Path
) -> None:
    """Version 9 added the id lists of inference_calls and compactions: a bundle exported by
    version 8 (no such columns) is exported again by the next run, with the lists the
    ``RolloutTrace`` has, and the query needs no export of its own to see them."""
    import pyarrow.parquet as pq

    out = tmp_path / "out"
    assert not run_export([str(tmp_path / "bundles")], ExportOptions(to=str(out)), jobs=1).failed
    manifest = orjson.loads((out / MANIFEST_NAME).read_bytes())
    [key] = [k for k, e in manifest["bundles"].items() if e["source"] == str(three[0])]
    manifest["bundles"][key]["tables_version"] = 8
    (out / MANIFEST_NAME).write_bytes(orjson.dumps(manifest))
    for table, added in (
        ("inference_calls", ["request_item_ids", "response_item_ids"]),
        ("compactions", ["input_item_ids", "replacement_item_ids"]),
    ):
        part = out / table / f"{key}.parquet"
        pq.write_table(pq.read_table(part).drop_columns(added), part)
    code, stdout, err = _cli("export", str(three[1]), "--to", str(out))
    assert (code, err) == (0, "") and "1 of another tables version exported again" in stdout
    trace = reduce_bundle(three[0])
    calls = read_tables_rows(
        out,
        "SELECT inference_call_id, request_item_ids, response_item_ids FROM inference_calls "
        f"WHERE source = '{three[0]}'",
    )
    assert {c: (req, resp) for c, req, resp in calls} == {
        c.inference_call_id: (c.request_item_ids, c.response_item_ids)
        for c in trace.inference_calls.values()
    }
    compactions = read_tables_rows(
        out,
        "SELECT compaction_id, input_item_ids, replacement_item_ids FROM compactions "
        f"WHERE source = '{three[0]}'",
    )
    assert trace.compactions and {c: (i, r) for c, i, r in compactions} == {
        c.compaction_id: (c.input_item_ids, c.replacement_item_ids)
        for c in trace.compactions.values()
    }


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


@pytest.mark.anyio
async def test_a_bundle_still_being_recorded_waits_for_a_later_run(tmp_path: Path) -> None:
    """An RL run exported its traces root while workers recorded into it: a rollout half
    recorded was exported as if whole (its rows a partial rollout's, the manifest `ok`), and
    only a later run's changed fingerprint replaced them (review scale33: 25 of 2,000
    bundles). A bundle whose recorder holds its log is left out, named on stderr and in the
    manifest (`recording`, and why); a run after its close exports it."""
    from rollout_trace_sdk.record import open_rollout

    root, out = tmp_path / "root", tmp_path / "out"
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "a"}]}
    async with open_rollout(root) as done, done.root.turn() as turn:
        turn.accept(user)
    async with open_rollout(root) as live:
        async with live.root.turn() as turn:
            turn.accept(user)
        await live.flush()
        code, stdout, err = await anyio.to_thread.run_sync(
            _cli, "export", str(root), "--to", str(out), "--jobs", "1"
        )
        assert code == 0, err
        assert "exported 1 bundle(s), 0 failed, 0 unchanged (skipped), 1 still recording" in stdout
        assert "note: 1 bundle(s) still being recorded were not exported" in err
        assert str(live.bundle_dir) in err
        entries = orjson.loads((out / MANIFEST_NAME).read_bytes())["bundles"]
        by_source = {e["source"]: e for e in entries.values()}
        assert by_source[str(live.bundle_dir)]["status"] == "recording"
        assert "still being recorded" in by_source[str(live.bundle_dir)]["error"]
        assert read_tables_rows(out, "SELECT source FROM rollouts") == [(str(done.bundle_dir),)]
    code, stdout, err = await anyio.to_thread.run_sync(
        _cli, "export", str(root), "--to", str(out), "--jobs", "1"
    )
    assert code == 0, err
    assert "exported 1 bundle(s), 0 failed, 1 unchanged (skipped) to" in stdout
    assert "still" not in err
    rows = read_tables_rows(out, "SELECT source, status FROM rollouts ORDER BY source")
    assert sorted(rows) == sorted(
        [(str(done.bundle_dir), "completed"), (str(live.bundle_dir), "completed")]
    )
    entries = orjson.loads((out / MANIFEST_NAME).read_bytes())["bundles"]
    assert {e["status"] for e in entries.values()} == {"ok"}


@pytest.mark.anyio
async def test_a_bundle_still_being_recorded_under_a_file_url_waits_too(tmp_path: Path) -> None:
    """``file:///runs`` is the local traces root ``/runs`` spelled as an fsspec URL: a bundle
    whose recorder held its log was exported from it as if whole, and named among those
    "never closed (their recorder was killed, crashed ...)", while ``/runs`` left it for a
    later run (review39). A ``file://`` source's recorder is asked, as a path's is."""
    from rollout_trace_sdk.record import open_rollout

    root, out = tmp_path / "root", tmp_path / "out"
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "a"}]}
    async with open_rollout(root) as live:
        async with live.root.turn() as turn:
            turn.accept(user)
        await live.flush()
        url = root.as_uri()
        code, stdout, err = await anyio.to_thread.run_sync(
            _cli, "export", url, "--to", str(out), "--jobs", "1"
        )
        assert code == 0, err
        assert "exported 0 bundle(s), 0 failed, 0 unchanged (skipped), 1 still recording" in stdout
        assert "never closed" not in err
    code, stdout, err = await anyio.to_thread.run_sync(
        _cli, "export", url, "--to", str(out), "--jobs", "1"
    )
    assert code == 0, err
    assert "exported 1 bundle(s)" in stdout
    rows = read_tables_rows(out, "SELECT recording_status, status FROM rollouts")
    assert rows == [("complete", "completed")]


@pytest.mark.anyio
async def test_a_bundle_left_recording_then_deleted_is_not_said_to_have_rows(
    tmp_path: Path,
) -> None:
    """A bundle a run left as ``recording`` has no rows; deleted before a later run (a
    discarded rollout), that run said its rows stay in the export until ``--prune``, as of
    a bundle exported earlier (found by review36). Only bundles with rows are named gone."""
    from rollout_trace_sdk.record import open_rollout

    root, out = tmp_path / "root", tmp_path / "out"
    async with open_rollout(root):
        pass  # a finished one stays
    async with open_rollout(root) as live:
        await live.flush()
        code, _, err = await anyio.to_thread.run_sync(_cli, "export", str(root), "--to", str(out))
        assert code == 0 and "1 bundle(s) still being recorded" in err, err
    assert live.bundle_dir is not None
    shutil.rmtree(live.bundle_dir)
    code, _, err = await anyio.to_thread.run_sync(_cli, "export", str(root), "--to", str(out))
    assert code == 0, err
    assert "gone" not in err


_KILLED = """
import os, signal, sys, anyio
from rollout_trace_sdk.record import open_rollout

async def main():
    async with open_rollout(sys.argv[1]) as rollout, rollout.root.turn() as turn:
        turn.accept({"type": "message", "role": "user", "content": "a"})
        await rollout.flush()
        os.kill(os.getpid(), signal.SIGKILL)

anyio.run(main)
"""


def test_an_export_names_the_bundles_it_exported_unclosed(tmp_path: Path) -> None:
    """Two RL workers killed mid-rollout left 32 bundles never closed; the export said
    `exported 646 bundle(s), 0 failed` and nothing of them (only `rollouts.recording_status`
    told, for whoever thought to ask). It names them now (review scale33)."""
    root, out = tmp_path / "root", tmp_path / "out"
    killed = subprocess.run([sys.executable, "-c", _KILLED, str(root)], timeout=120)
    assert killed.returncode == -9
    [bundle] = root.iterdir()
    code, stdout, err = _cli("export", str(root), "--to", str(out), "--jobs", "1")
    assert code == 0, err
    assert "exported 1 bundle(s), 0 failed" in stdout
    assert "note: 1 exported bundle(s) were never closed" in err
    assert str(bundle) in err
    assert read_tables_rows(out, "SELECT recording_status FROM rollouts") == [("unclosed",)]
    code, stdout, err = _cli("export", str(root), "--to", str(out), "--jobs", "1")
    assert code == 0 and "1 unchanged" in stdout and "never closed" not in err


def test_a_root_holding_names_in_no_utf8_exports_the_rest(
    three: list[Path], tmp_path: Path
) -> None:
    """A file so named in one bundle, and a bundle so named: the first is exported with its
    bundle, the second named and left out (exit 1), the others exported (review36: the whole
    root was "cannot list", nothing exported)."""
    root, out = tmp_path / "bundles", tmp_path / "out"
    with open(os.path.join(os.fsencode(three[0]), b"notes-\xff.txt"), "wb") as f:
        f.write(b"x")
    shutil.copytree(three[1], os.fsdecode(os.path.join(os.fsencode(root), b"copy-\xfe")))
    code, stdout, err = _cli("export", str(root), "--to", str(out), "--jobs", "1")
    assert code == 1
    assert "exported 3 bundle(s), 0 failed" in stdout
    assert err.splitlines() == [
        f"rollout-trace export: {root}/copy-\\xfe: cannot export: its path is not UTF-8 (rename it)"
    ]
    assert read_tables_rows(out, "SELECT count(*) FROM rollouts") == [(3,)]


@needs_proc
def test_a_bundle_a_lockless_writer_holds_waits_too(tmp_path: Path) -> None:
    """A bundle another process holds open for writing without a lock, as Codex writes its
    own, is being recorded too: left for a later run, not exported half written as
    ``unclosed`` (review status49); once the writer is gone, exported."""
    root, out = tmp_path / "root", tmp_path / "out"
    root.mkdir()
    bundle = unclosed_bundle(root / "live")
    with held_open(bundle):
        code, stdout, err = _cli("export", str(root), "--to", str(out), "--jobs", "1")
        assert code == 0, err
        assert "exported 0 bundle(s), 0 failed, 0 unchanged (skipped), 1 still recording" in (
            stdout
        )
        assert f"note: 1 bundle(s) still being recorded were not exported, e.g. {bundle}: " in err
    code, stdout, err = _cli("export", str(root), "--to", str(out), "--jobs", "1")
    assert code == 0, err
    rows = read_tables_rows(out, "SELECT recording_status FROM rollouts")
    assert rows == [("unclosed",)]


@needs_proc
def test_a_root_of_unclosed_bundles_is_scanned_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``export ROOT``: whether each unclosed bundle is being recorded is asked of one
    ``/proc`` scan for the run, not one a bundle (review review49: 40 bundles a crash left
    unclosed, 40 scans of every descriptor on the machine); the one held open still waits."""
    root, out = tmp_path / "root", tmp_path / "out"
    live = unclosed_root(root)
    scans = counted_scans(monkeypatch)
    with held_open(live):
        code, stdout, err = _cli("export", str(root), "--to", str(out), "--jobs", "1")
    assert code == 0, err
    assert "exported 4 bundle(s), 0 failed, 0 unchanged (skipped), 1 still recording" in stdout
    assert len(scans) == 1
