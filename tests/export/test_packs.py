"""Packs: small bundles' parts merged by the driver, taken out again when a bundle is
exported again or pruned, a killed compaction repaired by the next run, and the tables and
every ready-made query the same as with one part per bundle."""

from __future__ import annotations

import collections
import io
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import fsspec
import orjson
import pytest

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.export.export_dir import MANIFEST_NAME, ExportDir, live_files, pack_of
from rollout_trace_sdk.export.parquet import ExportOptions, run_export
from rollout_trace_sdk.export.query import RECIPES, run
from tests.export.tables_util import read_tables


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _files(out: Path) -> dict[str, list[str]]:
    """Each table's files on disk (every name, dot-files too)."""
    return {
        d.name: sorted(p.name for p in d.iterdir()) for d in sorted(out.iterdir()) if d.is_dir()
    }


def _named(out: Path) -> dict[str, list[str]]:
    """Each table's files the manifest names."""
    named = live_files(ExportDir(str(out)).read_manifest())
    return {table: sorted(files) for table, files in named.items() if files}


def _manifest(out: Path) -> dict[str, Any]:
    bundles: dict[str, Any] = orjson.loads((out / MANIFEST_NAME).read_bytes())["bundles"]
    return bundles


def _answers(out: Path) -> dict[str, Any]:
    """Every table's rows and every ready-made query's answer."""
    recipes = {name: run(out, sql) for name, (_, sql) in RECIPES.items()}
    return {"tables": read_tables(out), "recipes": recipes}


@pytest.fixture
def runs(episodes: Path, tmp_path: Path) -> Path:
    """A copy of the episodes (the test may change them)."""
    shutil.copytree(episodes, tmp_path / "runs")
    return tmp_path / "runs"


@pytest.fixture(scope="module")
def loose_and_packed(
    episodes: Path,
    demo_bundle: Path,
    demo_state: Any,
    why_bundles: dict[str, Path],
    capped_bundles: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path]:
    """The episodes, the demo (sub-agents, a compaction, terminal operations), its state with
    the helper's result edge removed (a silent sub-agent) and an Agents SDK guardrail that
    tripped in a turn (as ``view.guardrails`` reads it from a bundle; a lone state file keeps
    its own), the failing rollouts and the capture-limited ones, exported with one part per
    bundle and table (``pack=False``) and packed: every ready-made query has something to
    answer."""
    root = tmp_path_factory.mktemp("packs")
    silent = orjson.loads(orjson.dumps(demo_state))
    silent["interaction_edges"] = {
        k: e for k, e in silent["interaction_edges"].items() if e["kind"] != "agent_result"
    }
    turn = next(iter(silent["codex_turns"].values()))
    turn["guardrails"] = [{"name": "rude", "triggered": True, "at_unix_ms": 1, "seq": 9}]
    (root / "silent.json").write_bytes(orjson.dumps(silent))
    sources = [str(episodes), str(demo_bundle), str(root / "silent.json")]
    sources += [str(p) for p in (*why_bundles.values(), *capped_bundles.values())]
    loose = run_export(sources, ExportOptions(to=str(root / "loose")), jobs=2, pack=False)
    packed = run_export(sources, ExportOptions(to=str(root / "packed")), jobs=2)
    assert not loose.failed and not packed.failed
    assert (loose.packed, packed.packed) == (0, 80)
    return root / "loose", root / "packed"


def test_an_export_of_many_small_bundles_is_packed(loose_and_packed: tuple[Path, Path]) -> None:
    """70 episodes and 10 other bundles: a part per bundle and table before (more than 500
    files), one pack per table now, and nothing else left in the tables' folders."""
    loose, packed = loose_and_packed
    assert sum(map(len, _files(loose).values())) > 500
    files = _files(packed)
    [pack] = set(files["rollouts"])
    assert pack.startswith("pack-") and all(names == [pack] for names in files.values())
    assert _named(packed) == files
    assert {e["pack"] for e in _manifest(packed).values()} == {
        pack.removeprefix("pack-").removesuffix(".parquet")
    }


def test_packed_tables_answer_every_query_as_parts_do(loose_and_packed: tuple[Path, Path]) -> None:
    loose, packed = loose_and_packed
    answers = _answers(packed)
    assert answers == _answers(loose)
    assert len(answers["tables"]["rollouts"]) == 80
    assert all(rows for _, rows in answers["recipes"].values()), "each recipe answers something"


def test_workers_write_small_bundles_into_packs(episodes: Path, tmp_path: Path) -> None:
    """140 small bundles (the episodes twice) and a torn one, over two pool workers: batches
    of 128 and 12, each written by its worker into a pack (no part written or read back); the
    torn bundle fails and is in no pack, and the tables are those of one part per bundle."""
    root = tmp_path / "runs"
    for copy in ("a", "b"):
        shutil.copytree(episodes, root / copy)
    torn = sorted((root / "b").iterdir())[0]
    (torn / "trace.jsonl").write_text("{ torn")
    loose = run_export([str(root)], ExportOptions(to=str(tmp_path / "loose")), pack=False)
    out = tmp_path / "out"
    packed = run_export([str(root)], ExportOptions(to=str(out)), jobs=2)
    assert [r.source for r in packed.failed] == [r.source for r in loose.failed] == [str(torn)]
    assert packed.packed == 139 and all(r.pid != os.getpid() for r in packed.exported)
    entries = _manifest(out)
    assert sorted(collections.Counter(e.get("pack") for e in entries.values()).values()) == [
        1,
        12,
        127,
    ]  # the torn bundle's entry names no pack
    assert len(_files(out)["rollouts"]) == 2 and _files(out) == _named(out)
    assert _answers(out) == _answers(tmp_path / "loose")


def test_a_batch_bundle_grown_too_large_gets_its_own_parts(
    episodes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bundle of a batch whose rows grow past ``jobs._OWN_PARTS`` (``--payload-text``
    splicing resent histories) is written to its own parts, the rows held so far and the
    rest of its table; here every one (the bound lowered to 1 byte, in this process), so
    the end of the run merges them: the tables, payload bodies too, are the same."""
    from rollout_trace_sdk.export import jobs

    loose = tmp_path / "loose"
    assert not run_export(
        [str(episodes)], ExportOptions(to=str(loose), payload_text=True), pack=False
    ).failed
    batched = tmp_path / "batched"  # the bodies in the batch's pack, as the parts hold them
    assert (
        run_export([str(episodes)], ExportOptions(to=str(batched), payload_text=True)).packed == 70
    )
    assert _answers(batched) == _answers(loose)
    monkeypatch.setattr(jobs, "_OWN_PARTS", 1)
    out = tmp_path / "out"
    summary = run_export([str(episodes)], ExportOptions(to=str(out), payload_text=True), jobs=1)
    assert (summary.failed, summary.packed) == ([], 70)
    assert len(_files(out)["raw_payloads"]) == 1 and _files(out) == _named(out)
    texts = "SELECT count(*) FROM raw_payloads WHERE text IS NOT NULL"
    assert run(out, texts)[1] == run(loose, texts)[1] != [(0,)]
    assert _answers(out) == _answers(loose)


def _refused(*args: Any) -> Any:
    raise AssertionError("the driver merged parts itself")


def test_a_running_export_merges_in_its_workers(
    episodes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """40 bundles (too few for a batch: each written to its own parts) and a running export
    that merges every 16 loose bundles: the merges go to the pool's workers with the bundles
    still to export (the driver's own ``packs.merge`` refuses), and the driver commits them."""
    from rollout_trace_sdk.export import packs

    root = _move(sorted(episodes.iterdir())[:40], tmp_path / "runs", copy=True)
    monkeypatch.setattr(packs, "DURING_RUN", 16)
    monkeypatch.setattr(packs, "merge", _refused)
    out = tmp_path / "out"
    summary = run_export([str(root)], ExportOptions(to=str(out)), jobs=2)
    assert (len(summary.exported), summary.failed, summary.packed) == (40, [], 32)
    kinds = collections.Counter(name[:5] for name in _files(out)["rollouts"])
    assert kinds["pack-"] == 2 and sum(kinds.values()) == 10  # 8 left loose (fewer than 64)
    assert _files(out) == _named(out)
    loose = run_export([str(root)], ExportOptions(to=str(tmp_path / "loose")), pack=False)
    assert not loose.failed and _answers(out) == _answers(tmp_path / "loose")


def test_a_changed_bundle_leaves_its_pack_and_is_exported_again(runs: Path, tmp_path: Path) -> None:
    """Its old rows leave the pack (written again without them, under a new id) before its
    new rows are written: counted once, never twice."""
    out = tmp_path / "out"
    assert run_export([str(runs)], ExportOptions(to=str(out)), jobs=1).packed == 70
    before = _answers(out)
    [old_pack] = {e["pack"] for e in _manifest(out).values()}
    changed = sorted(runs.iterdir())[5]
    (changed / "manifest.json").write_bytes((changed / "manifest.json").read_bytes() + b"\n")
    again = run_export([str(runs)], ExportOptions(to=str(out)), jobs=1)
    assert (again.skipped, [r.source for r in again.exported]) == (69, [str(changed)])
    assert _answers(out) == before
    entries = _manifest(out)
    packs = {e.get("pack") for key, e in entries.items() if e["source"] != str(changed)}
    assert len(packs) == 1 and old_pack not in packs
    assert "pack" not in next(e for e in entries.values() if e["source"] == str(changed))
    assert _files(out) == _named(out)  # the old pack is gone; the bundle's own parts named
    # a run with --compact packs it again
    assert run_export([], ExportOptions(to=str(out)), compact=True).packed == 70
    assert len(_files(out)["rollouts"]) == 1 and _answers(out) == before


def test_a_pruned_bundle_leaves_its_pack(runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_export([str(runs)], ExportOptions(to=str(out)), jobs=1).packed == 70
    gone = sorted(runs.iterdir())[0]
    shutil.rmtree(gone)
    assert run_export([str(runs)], ExportOptions(to=str(out)), jobs=1, prune=True).pruned == 1
    assert run(out, "SELECT count(*), count(DISTINCT source) FROM tool_calls")[1] == [(69, 69)]
    assert run(out, f"SELECT count(*) FROM rollouts WHERE source = '{gone}'")[1] == [(0,)]
    assert _files(out) == _named(out)


def _move(bundles: list[Path], target: Path, *, copy: bool = False) -> Path:
    target.mkdir()
    for bundle in bundles:
        if copy:
            shutil.copytree(bundle, target / bundle.name)
        else:
            bundle.rename(target / bundle.name)
    return target


def test_compact_merges_a_pack_and_loose_bundles(runs: Path, tmp_path: Path) -> None:
    """``--compact`` packs a few bundles; an export of 40 more leaves them loose (fewer than
    an export's end packs); ``export --to DIR --compact`` alone merges pack and parts."""
    out = tmp_path / "out"
    names = sorted(runs.iterdir())
    code, stdout, err = _cli(
        "export", str(_move(names[:30], tmp_path / "a")), "--to", str(out), "--compact"
    )
    assert (code, err) == (0, "") and ", 30 packed to" in stdout
    code, stdout, err = _cli("export", str(_move(names[30:], tmp_path / "b")), "--to", str(out))
    assert (code, err) == (0, "") and "packed" not in stdout
    assert len(_files(out)["rollouts"]) == 41
    expected = _answers(out)
    code, stdout, err = _cli("export", "--to", str(out), "--compact")
    assert (code, err) == (0, "")
    assert "exported 0 bundle(s), 0 failed, 0 unchanged (skipped), 70 packed" in stdout
    assert len(_files(out)["rollouts"]) == 1 and _answers(out) == expected


def test_small_packs_are_merged_once_there_are_eight(runs: Path, tmp_path: Path) -> None:
    """Exports that each pack a few bundles (an RL loop exporting its newest episodes) leave
    small packs; the eighth is merged with the others rather than kept."""
    from rollout_trace_sdk.export import packs

    out = tmp_path / "out"
    names = sorted(runs.iterdir())
    made = []
    for n in range(8):
        batch = _move(names[n * 8 : n * 8 + 8], tmp_path / f"batch{n}")
        assert not run_export([str(batch)], ExportOptions(to=str(out)), jobs=1, pack=False).failed
        directory = ExportDir(str(out))
        manifest = directory.read_manifest()
        made.append(packs.pack(directory, manifest, loose_at=5))
        made.append((len(_files(out)["rollouts"]), 0))
    assert made[-4:] == [(8, 0), (7, 0), (8, 0), (8, 0)]  # 7 packs; then 8 packs ...
    expected = _answers(out)
    directory = ExportDir(str(out))
    assert packs.pack(directory, directory.read_manifest(), loose_at=5) == (64, 0)
    assert len(_files(out)["rollouts"]) == 1 and _answers(out) == expected


def test_bundles_too_large_to_share_a_pack_each_get_one(
    runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Packing everything, bundles whose parts together pass a pack's size are cut into runs
    of one, each a pack of its own: the last one too (only runs of several had been made:
    leaving a last run of one loose bundle out passed, mut30)."""
    from rollout_trace_sdk.export import packs

    out = tmp_path / "out"
    batch = _move(sorted(runs.iterdir())[:3], tmp_path / "three")
    assert not run_export([str(batch)], ExportOptions(to=str(out)), jobs=1, pack=False).failed
    expected = _answers(out)
    monkeypatch.setattr(packs, "PACK_BYTES", 1)  # no two bundles fit one pack
    directory = ExportDir(str(out))
    assert packs.pack(directory, directory.read_manifest(), loose_at=1, everything=True) == (3, 0)
    assert len({pack_of(entry) for entry in _manifest(out).values()} - {None}) == 3
    assert len(_files(out)["rollouts"]) == 3 and _answers(out) == expected


def test_a_pack_holding_a_bundle_of_an_older_tables_version_is_not_merged(
    runs: Path, tmp_path: Path
) -> None:
    """A pack holding a bundle an older export wrote (its rows in the old tables' shape) that
    cannot be exported again (its source is gone) is left as it is by ``--compact``, never
    merged with rows of this version; the loose bundles are packed. Merging it passed every
    test (mut30)."""
    from rollout_trace_sdk.export.schema import TABLES_VERSION

    out = tmp_path / "out"
    names = sorted(runs.iterdir())
    code, _, err = _cli(
        "export", str(_move(names[:4], tmp_path / "a")), "--to", str(out), "--compact"
    )
    assert (code, err) == (0, "")
    batch = _move(names[4:8], tmp_path / "b")
    assert not run_export([str(batch)], ExportOptions(to=str(out)), jobs=1, pack=False).failed
    directory = ExportDir(str(out))
    manifest = directory.read_manifest()
    old = {pack_of(entry) for entry in manifest.values()} - {None}
    assert len(old) == 1
    aged = next(e for e in manifest.values() if pack_of(e) in old)
    aged["tables_version"] = TABLES_VERSION - 1
    directory.write_manifest(manifest)
    shutil.rmtree(aged["source"])  # so it cannot be exported again
    code, stdout, err = _cli("export", "--to", str(out), "--compact")
    assert code == 1 and ", 4 packed" in stdout and "exported by another tables version" in err
    made = collections.Counter(pack_of(entry) for entry in _manifest(out).values())
    assert len(made) == 2 and all(made[pack] == 4 for pack in old), made


def test_compact_alone_needs_an_export(tmp_path: Path) -> None:
    code, _, err = _cli("export", "--to", str(tmp_path / "nothing"), "--compact")
    assert code == 1 and "not an export to compact" in err
    assert not (tmp_path / "nothing").exists()
    code, _, err = _cli("export", "--format", "perfetto", "-o", str(tmp_path / "x.json"))
    assert code == 2 and "give a SOURCE" in err


_KILLED = """
import os, signal, sys
from rollout_trace_sdk.export.export_dir import ExportDir
from rollout_trace_sdk.export.parquet import ExportOptions, run_export

step, out = sys.argv[1], sys.argv[2]
specs = sys.argv[3:]
calls = {"pack": 0, "remove": 0}

def killed(reason):
    os.kill(os.getpid(), signal.SIGKILL)

write_file, write_manifest, remove = ExportDir.write_file, ExportDir.write_manifest, ExportDir.remove

def write_file_then(self, table, name, schema, batches):
    write_file(self, table, name, schema, batches)
    if name.startswith("pack-"):
        calls["pack"] += 1
        if step == "pack-half-written" and calls["pack"] == 3:
            killed(step)
        if step == "batch-pack-written" and calls["pack"] == 7:  # every table's file
            killed(step)

def write_manifest_then(self, bundles):
    write_manifest(self, bundles)
    if step == "manifest-names-the-pack" and any("pack" in e for e in bundles.values()):
        killed(step)

def remove_then(self, table, name):
    remove(self, table, name)
    calls["remove"] += 1
    if step == "parts-half-removed" and calls["remove"] == 100:
        killed(step)

ExportDir.write_file, ExportDir.write_manifest = write_file_then, write_manifest_then
ExportDir.remove = remove_then
run_export(specs, ExportOptions(to=out), jobs=1, compact=not specs)
print("not killed")
"""


@pytest.mark.parametrize("step", ["pack-half-written", "batch-pack-written"])
def test_a_batch_killed_before_the_manifest_names_its_pack_is_exported_again(
    step: str, episodes: Path, tmp_path: Path
) -> None:
    """A worker writes a batch of small bundles straight into a pack, which nothing names
    until the driver saves the manifest: killed (SIGKILL) halfway through the pack's files or
    after all of them, the bundles are in no table (not half in one), and the next run
    exports them again and removes the pack nobody named."""
    expected = _answers(_loose(episodes, tmp_path / "loose"))
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-c", _KILLED, step, str(out), str(episodes)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr + done.stdout
    assert any(name.startswith("pack-") for names in _files(out).values() for name in names)
    assert _named(out) == {} and run(out, "SELECT count(*) FROM tool_calls")[1] == [(0,)]
    again = run_export([str(episodes)], ExportOptions(to=str(out)), jobs=2)
    assert (len(again.exported), again.packed, again.failed) == (70, 70, [])
    assert _files(out) == _named(out) and _answers(out) == expected


def _loose(episodes: Path, out: Path) -> Path:
    assert not run_export([str(episodes)], ExportOptions(to=str(out)), pack=False).failed
    return out


@pytest.mark.parametrize(
    "step", ["pack-half-written", "manifest-names-the-pack", "parts-half-removed"]
)
def test_a_compaction_killed_at_any_step_is_read_right_and_repaired(
    step: str, episodes: Path, tmp_path: Path
) -> None:
    """A process packing the parts is killed (SIGKILL) after writing half the pack's files,
    after the manifest names the pack, or halfway through removing the parts merged: a query
    reads every bundle's rows once, and the next run leaves only the files it names, packed."""
    out = tmp_path / "out"
    assert not run_export([str(episodes)], ExportOptions(to=str(out)), jobs=1, pack=False).failed
    expected = _answers(out)
    done = subprocess.run(
        [sys.executable, "-c", _KILLED, step, str(out)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == -signal.SIGKILL, done.stderr + done.stdout
    assert _files(out) != _named(out)  # something half done, left behind
    assert _answers(out) == expected
    again = run_export([str(episodes)], ExportOptions(to=str(out)), jobs=1)
    assert (again.skipped, again.exported) == (70, [])
    assert _files(out) == _named(out)
    assert len(_files(out)["rollouts"]) == 1 and _answers(out) == expected


def test_a_rewrite_killed_before_the_old_pack_is_removed_is_repaired(
    runs: Path, tmp_path: Path
) -> None:
    """Killed after the manifest names the pack written again without a changed bundle, and
    before the old pack is removed: the old pack (every bundle's rows) is not read."""
    out = tmp_path / "out"
    assert run_export([str(runs)], ExportOptions(to=str(out)), jobs=1).packed == 70
    expected = _answers(out)
    changed = sorted(runs.iterdir())[3]
    (changed / "manifest.json").write_bytes((changed / "manifest.json").read_bytes() + b"\n")
    done = subprocess.run(
        [sys.executable, "-c", _KILLED, "manifest-names-the-pack", str(out), str(runs)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr + done.stdout
    assert len(_files(out)["rollouts"]) == 2  # the old pack and the new, one named
    # the changed bundle is out until it is exported again; the others, once each
    [(rows, sources)] = run(out, "SELECT count(*), count(DISTINCT source) FROM rollouts")[1]
    assert rows == sources == 69
    again = run_export([str(runs)], ExportOptions(to=str(out)), jobs=1)
    assert [r.source for r in again.exported] == [str(changed)]
    assert _files(out) == _named(out) and _answers(out) == expected


def test_a_missing_file_is_refused_by_query_and_repaired_by_export(
    runs: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert run_export([str(runs)], ExportOptions(to=str(out)), jobs=1).packed == 70
    expected = _answers(out)
    [pack] = (out / "tool_calls").iterdir()
    pack.unlink()
    code, stdout, err = _cli("query", str(out), "SELECT count(*) FROM tool_calls")
    assert (code, stdout) == (1, "")
    assert "1 file(s) its manifest names are missing, e.g. tool_calls/pack-" in err
    code, stdout, err = _cli("export", str(runs), "--to", str(out))
    assert code == 0 and "note: 70 bundle(s) whose files were missing" in err
    assert "exported 70 bundle(s)" in stdout
    assert _answers(out) == expected and _files(out) == _named(out)


def test_packs_on_an_fsspec_filesystem(runs: Path) -> None:
    """The driver packs through fsspec (here ``memory://``, with the export in this process)."""
    fs = fsspec.filesystem("memory")
    to = "memory://packs-test/out"
    try:
        assert run_export([str(runs)], ExportOptions(to=to), jobs=1).packed == 70
        changed = sorted(runs.iterdir())[7]
        (changed / "manifest.json").write_bytes((changed / "manifest.json").read_bytes() + b"\n")
        assert len(run_export([str(runs)], ExportOptions(to=to), jobs=1).exported) == 1
        names = sorted(
            p.rsplit("/", 1)[-1] for p in fs.ls("/packs-test/out/rollouts", detail=False)
        )
        assert len(names) == 2 and sum(n.startswith("pack-") for n in names) == 1
        import pyarrow.parquet as pq

        sources = []
        for name in names:
            with fs.open(f"/packs-test/out/rollouts/{name}", "rb") as f:
                sources += pq.read_table(f).column("source").to_pylist()
        assert sorted(sources) == sorted(str(p) for p in runs.iterdir())
    finally:
        fs.rm("/packs-test", recursive=True)


def test_a_damaged_part_is_named_and_its_bundle_exported_again(runs: Path, tmp_path: Path) -> None:
    """A part damaged since it was written (its footer overwritten): the merge that reads it
    stops with an error naming the file and what to do, not pyarrow's words about the export
    directory; once it is removed, the next export forgets its bundle and exports it again,
    and the compaction then answers as before."""
    out = tmp_path / "out"
    source = _move(sorted(runs.iterdir())[:30], tmp_path / "a")
    code, stdout, err = _cli("export", str(source), "--to", str(out))
    assert (code, err) == (0, "") and "packed" not in stdout
    expected = _answers(out)
    part = sorted((out / "tool_calls").iterdir())[0]
    damaged = bytearray(part.read_bytes())
    damaged[-60:-8] = b"\xff" * 52
    part.write_bytes(bytes(damaged))
    code, stdout, err = _cli("export", "--to", str(out), "--compact")
    assert code == 1 and f"{part}: not a readable Parquet file (" in err
    assert "remove it and export its bundle again" in err
    part.unlink()
    code, stdout, err = _cli("export", str(source), "--to", str(out), "--compact")
    assert code == 0 and "note: 1 bundle(s) whose files were missing" in err
    assert "exported 1 bundle(s)" in stdout and "30 packed" in stdout
    assert _answers(out) == expected and _files(out) == _named(out)
