"""The ``export`` command's own reporting and its SOURCES (export/commands.py)."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from rollout_trace_sdk.cli import main

from ..conftest import make_demo, needs_conformance
from ..view.conftest import HOSTILE_ID_SHOWN, hostile_id_bundle


@needs_conformance
@pytest.mark.parametrize(("lenient", "code"), [([], 1), (["--lenient"], 0)])
def test_a_bundles_error_is_reported_with_control_characters_spelled_out(
    lenient: list[str], code: int, tmp_path: Path
) -> None:
    """The reducer's error quotes the agent's call id: a failed (or lenient) bundle's line on
    standard error must not carry its ESC and BEL to the terminal."""
    bundle = hostile_id_bundle(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    argv = ["export", str(bundle), "--to", str(tmp_path / "tables"), "--jobs", "1", *lenient]
    assert main(argv, out=out, err=err) == code
    assert f"unknown call {HOSTILE_ID_SHOWN} (" in err.getvalue()
    assert not any(ch in err.getvalue() for ch in "\x1b\x07")


# --- SOURCES resolved as the reading commands resolve theirs ------------------------------------


def _run(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def traces(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A traces root holding two demo recordings, and the newer of them (recorded second)."""
    root = tmp_path_factory.mktemp("traces")
    older = make_demo(root, 1)
    newer = make_demo(root, 1)
    started = [
        orjson.loads((b / "manifest.json").read_bytes())["started_at_unix_ms"]
        for b in (older, newer)
    ]
    assert started[0] < started[1]
    return root, newer


@pytest.mark.parametrize("fmt", ["perfetto", "otlp"])
def test_a_traces_root_lists_its_bundles_for_a_single_rollout_format(
    traces: tuple[Path, Path], tmp_path: Path, fmt: str
) -> None:
    """``export ROOT -o FILE`` said "read ROOT/manifest.json: No such file or directory"
    where ``reduce ROOT`` lists the bundles and names ``--latest`` (found by review)."""
    root, newer = traces
    code, out, err = _run("export", "--format", fmt, root, "-o", tmp_path / "x")
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert lines[0] == (
        f"rollout-trace export: {root} is a traces root, not a bundle; "
        "it holds 2 bundles (newest first):"
    )
    assert lines[1].endswith(str(newer))
    assert lines[-1] == f"  name one, or take the newest: rollout-trace export {root} --latest"
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("fmt", ["perfetto", "otlp"])
def test_latest_exports_the_newest_bundle(
    traces: tuple[Path, Path], tmp_path: Path, fmt: str
) -> None:
    root, newer = traces
    assert _run("export", "--format", fmt, newer, "-o", tmp_path / "named")[0] == 0
    code, _, err = _run("export", "--format", fmt, root, "--latest", "-o", tmp_path / "latest")
    assert (code, err) == (0, "")
    assert (tmp_path / "latest").read_bytes() == (tmp_path / "named").read_bytes()


def test_parquet_latest_exports_the_newest_bundle_of_each_root(
    traces: tuple[Path, Path], tmp_path: Path
) -> None:
    """Without ``--latest`` a root is exported whole, as before; with it, its newest bundle."""
    from rollout_trace_sdk.export.query import run

    root, newer = traces
    trace_id = orjson.loads((newer / "manifest.json").read_bytes())["trace_id"]
    whole, latest = tmp_path / "whole", tmp_path / "latest"
    assert _run("export", root, "--to", whole, "--jobs", "1")[0] == 0
    assert run(whole, "SELECT count(*) FROM rollouts")[1] == [(2,)]
    code, _, err = _run("export", root, "--latest", "--to", latest, "--jobs", "1")
    assert (code, err) == (0, ""), err
    assert run(latest, "SELECT trace_id, source FROM rollouts")[1] == [(trace_id, str(newer))]
    code, _, err = _run("export", "memory://runs", "--latest", "--to", latest)
    assert code == 2 and "--latest reads local traces roots, not URLs" in err
    code, _, err = _run("export", newer, "--latest", "--to", latest)
    assert code == 1 and "is a bundle; --latest picks the newest bundle" in err


# --- options of another format -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "extra", "named"),
    [
        ("parquet", ["--inline-payloads"], "--inline-payloads"),
        ("parquet", ["-o", "{tmp}/o"], "-o"),
        ("otlp", ["--payload-text"], "--payload-text"),
        ("otlp", ["--jobs", "3"], "--jobs"),
        ("otlp", ["--engine", "ray"], "--engine"),
        ("otlp", ["--prune"], "--prune"),
        ("perfetto", ["--inline-payloads"], "--inline-payloads"),
        ("perfetto", ["--jobs", "1", "--prune"], "--jobs, --prune"),
    ],
)
def test_an_option_of_another_format_is_refused_not_ignored(
    demo_bundle: Path, tmp_path: Path, fmt: str, extra: list[str], named: str
) -> None:
    """``export B --to T --inline-payloads`` exported tables without a word; ``--format otlp``
    took ``--payload-text``, ``--jobs``, ``--engine`` and ``--prune`` and did nothing with
    them, and ``--to T -o F`` wrote T and ignored F (found by review): only ``--to`` and
    ``--endpoint`` were checked. Each is a usage error naming the option, and nothing is
    written."""
    extra = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    target = ["--to", str(tmp_path / "t")] if fmt == "parquet" else ["-o", str(tmp_path / "f")]
    code, out, err = _run("export", "--format", fmt, demo_bundle, *target, *extra)
    assert (code, out) == (2, ""), err
    assert f"rollout-trace export: {named} is not for --format {fmt}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_parquet_with_o_says_it_wrote_a_directory(tmp_path: Path) -> None:
    """``export runs --format parquet -o x.parquet`` (newuser26) wrote a directory of tables
    named ``x.parquet`` and said nothing: ``-o`` is documented as the file to write, and a
    Parquet export is a directory (``--to DIR``). It still takes ``-o`` as the directory, and
    says so."""
    pytest.importorskip("pyarrow")
    bundle = make_demo(tmp_path / "demo", 1)
    target = tmp_path / "x.parquet"
    code, _, err = _run("export", bundle, "--format", "parquet", "-o", target, "--jobs", "1")
    assert code == 0, err
    assert (target / "_export.json").is_file()
    assert f"note: -o names the export directory with --format parquet (--to DIR): {target}" in err
    code, _, err = _run("export", bundle, "--to", tmp_path / "t", "--jobs", "1")
    assert code == 0 and "note: -o" not in err


# --- a source that is refused: named once, and no export left when nothing was exported ----------


@pytest.mark.parametrize("fmt", [["--to", "tables"], ["--format", "otlp", "-o", "spans.jsonl"]])
@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("hi\n", "parse state {}: expected value at line 1 column 1"),
        ("{}\n", "{} is not a reduced state (no `threads`)"),
    ],
)
def test_a_refused_file_is_named_once_on_one_line(
    tmp_path: Path, fmt: list[str], content: str, says: str
) -> None:
    """``export AFILE --to DIR`` said ``rollout-trace export: AFILE: parse state AFILE: ...
    (AFILE)``: the path three times on one line (found by polish32). One line, the path once."""
    afile = tmp_path / "afile"
    afile.write_text(content)
    argv = [str(afile), *(str(tmp_path / a) if a in ("tables", "spans.jsonl") else a for a in fmt)]
    code, _, err = _run("export", *argv)
    assert code == 1
    (line,) = err.splitlines()
    assert line.startswith(f"rollout-trace export: {says.format(afile)}")
    assert line.count(str(afile)) == 1


def test_a_bundles_error_names_its_files_relative_to_it(tmp_path: Path) -> None:
    """A bundle's refusal gives where it happened inside the bundle relative to it (the bundle
    is named at the head of the line: its path was there twice)."""
    bundle = make_demo(tmp_path / "traces", 1)
    lines = (bundle / "trace.jsonl").read_bytes().splitlines(keepends=True)
    lines[5] = lines[5][:20] + b"\n"  # a torn line in the middle of the log
    (bundle / "trace.jsonl").write_bytes(b"".join(lines))
    code, _, err = _run("export", bundle, "--to", tmp_path / "tables")
    assert code == 1
    (line,) = err.splitlines()
    assert line.startswith(f"rollout-trace export: {bundle}: parse trace event line 6: ")
    assert line.endswith(" (trace.jsonl:6)") and line.count(str(bundle)) == 1


def test_an_export_of_nothing_leaves_no_directory(tmp_path: Path) -> None:
    """Every SOURCE refused: ``DIR/_export.json`` was left naming 0 bundles exported, litter
    of a command that failed. A directory the run made is removed when nothing was exported
    into it (``--format otlp`` writes no file then either); one that existed stays, and a bad
    source among good ones is passed over, its failure kept in the manifest."""
    afile = tmp_path / "afile"
    afile.write_text("hi\n")
    tables = tmp_path / "tables"
    code, out, _ = _run("export", afile, "--to", tables)
    assert code == 1 and not tables.exists()
    assert out.startswith("exported 0 bundle(s), 1 failed, ")
    assert out.endswith(f": {tables} not made (nothing exported)\n")
    # among a good bundle: exported, the bad one's failure recorded
    bundle = make_demo(tmp_path / "traces", 1)
    code, out, _ = _run("export", afile, bundle, "--to", tables)
    assert code == 1 and out.startswith("exported 1 bundle(s), 1 failed, ")
    manifest = orjson.loads((tables / "_export.json").read_bytes())["bundles"]
    assert sorted(e["status"] for e in manifest.values()) == ["failed", "ok"]
    # an existing export whose run exports nothing keeps what it holds
    code, out, _ = _run("export", afile, "--to", tables)
    assert code == 1 and (tables / "_export.json").is_file()
    assert out.endswith(f" to {tables} in {out.split(' in ')[-1]}")


# --- what an export of nothing removes: only what it made, never what anyone else put there ---


def test_an_export_of_nothing_removes_the_parents_it_made_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--to new/a/b`` with every SOURCE refused removed ``b`` and left ``new/a`` (found by
    review34); directories that existed, ``.``, ``/``, a symlink (dangling or to an empty
    directory) and a parent holding a file all stay as they were."""
    afile = tmp_path / "afile"
    afile.write_text("hi\n")
    code, out, _ = _run("export", afile, "--to", tmp_path / "new" / "a" / "b")
    assert code == 1 and out.endswith(" not made (nothing exported)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
    # what existed before stays
    (tmp_path / "empty").mkdir()
    (tmp_path / "kept" / "a").mkdir(parents=True)
    (tmp_path / "kept" / "mine.txt").write_text("mine")
    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    for to in ("empty", "kept/a/b/c", "link", "dangling", "."):
        monkeypatch.chdir(tmp_path / ("empty" if to == "." else ""))
        code, out, err = _run("export", afile, "--to", to)
        assert code == 1, (to, err)
    assert (tmp_path / "empty").is_dir() and (tmp_path / "kept" / "a").is_dir()
    assert (tmp_path / "kept" / "mine.txt").read_text() == "mine"
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["a", "mine.txt"]
    assert (tmp_path / "link").is_symlink() and (tmp_path / "target").is_dir()
    assert (tmp_path / "dangling").is_symlink() and not (tmp_path / "nowhere").exists()
    code, _, _ = _run("export", afile, "--to", "/")
    assert code == 1 and os.path.isdir("/")
    with contextlib.suppress(FileNotFoundError):  # an existing directory keeps the manifest
        os.remove("/_export.json")


@pytest.mark.parametrize("url", [False, True])
def test_removing_an_empty_export_keeps_whatever_another_put_there(
    tmp_path: Path, url: bool
) -> None:
    """The removal an export of nothing ends with, run on a directory where, meanwhile, the
    user put a file, a concurrent export wrote a part (whole, or a dot-file still being
    written) or its manifest naming a bundle: each stays, and so does the directory; on a
    remote filesystem too (memory://). Only empty table folders and a manifest naming no
    exported bundle may go."""
    import fsspec

    from rollout_trace_sdk.export.export_dir import MANIFEST_NAME, ExportDir

    failed = {"0" * 24: {"status": "failed", "error": "x"}}
    exported = {"1" * 24: {"status": "ok"}}
    cases = {
        "mine.txt": failed,
        "turns/mine.txt": failed,
        "mine/": failed,
        f"turns/{'1' * 24}.parquet": failed,
        f"turns/.{'1' * 24}.99.tmp": failed,
        "": exported,
    }
    for n, (path, bundles) in enumerate(cases.items()):
        to = f"memory://review34/{n}" if url else str(tmp_path / str(n))
        out = ExportDir(to)
        out.write_manifest(bundles)
        out.fs.makedirs(f"{out.root}/rollouts", exist_ok=True)  # empty: ours to remove
        if path.endswith("/"):
            out.fs.makedirs(f"{out.root}/{path}", exist_ok=True)
        elif path:
            out.fs.makedirs(os.path.dirname(f"{out.root}/{path}"), exist_ok=True)
            out.fs.pipe(f"{out.root}/{path}", b"mine")
        assert not out.remove_if_empty(), path
        if path and not path.endswith("/"):
            assert out.fs.cat(f"{out.root}/{path}") == b"mine", path
        assert out.fs.isdir(out.root), path
        if bundles is exported:  # a concurrent export's: its bundles stay named
            assert out.fs.exists(f"{out.root}/{MANIFEST_NAME}")
    # and with nothing of anyone else's, it is gone
    out = ExportDir("memory://review34/none" if url else str(tmp_path / "none"))
    out.write_manifest(failed)
    assert out.remove_if_empty() and not out.fs.exists(out.root)
    if url:
        fsspec.filesystem("memory").rm("/review34", recursive=True)


def test_a_directory_that_cannot_be_listed_is_said_not_skipped(tmp_path: Path) -> None:
    """A directory below the root that cannot be read hid its bundles: the listing's walk
    ignored the error, the export said it exported what it found and exited 0 (found by
    review34). It is a listing error now: said, exit status 1 (and no pruning that run)."""
    root = tmp_path / "root"
    make_demo(root / "open", 1)
    make_demo(root / "locked", 1)
    os.chmod(root / "locked", 0)
    command = [sys.executable, "-m", "rollout_trace_sdk", "export", str(root), "--to", "out"]
    if os.geteuid() == 0:  # root reads any directory: run it without that capability
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a directory unreadable")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *command]
    try:
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    finally:
        os.chmod(root / "locked", 0o700)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{root / 'locked'}: cannot list: permission denied" in done.stderr
    assert "exported 1 bundle(s)" in done.stdout
