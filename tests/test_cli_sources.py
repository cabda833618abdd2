"""What every reading command does with its argument (``rollout_trace_sdk/sources.py``): a
traces root lists its bundles newest first and ``--latest`` picks the newest; a state file
where a bundle is needed says what to run; ``reduce`` and ``validate`` word the same mistakes
the same way; ``ls`` lists a root without reducing; a failed inference call's error text is
shown by ``summary``, ``show`` and the viewer."""

from __future__ import annotations

import io
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import anyio
import orjson
import pytest

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.sources import _CHUNK, _THREAD_STARTED, bundle_info

ERROR = "APIStatusError: model overloaded <b>(code overloaded)</b>"


def run(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


async def _record(root: Path, *, fail: bool = False, children: int = 0) -> Path:
    async with open_rollout(root, model="m", schema_version=3) as rollout:
        async with rollout.root.turn() as turn:
            call = turn.inference({"model": "m", "input": "hi"})
            if fail:
                call.failed(ERROR)
            else:
                call.completed(output_items=[{"role": "assistant", "content": "hello"}])
        for n in range(children):
            async with rollout.root.spawn(f"worker{n}") as child, child.turn():
                pass
    assert rollout.bundle_dir is not None
    return rollout.bundle_dir


def _bundle(root: Path, **options: object) -> Path:
    return anyio.run(lambda: _record(root, **options))  # type: ignore[arg-type]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A traces root with an older bundle (two threads) and a newer one (a failed call)."""
    traces = tmp_path / "traces"
    older = _bundle(traces, children=1)
    while _started(older) == _started(_bundle(traces, fail=True)):  # pragma: no cover
        shutil.rmtree(_newest(traces))  # same millisecond: record the newer one again
    return traces


def _started(bundle: Path) -> int:
    value: int = orjson.loads((bundle / "manifest.json").read_bytes())["started_at_unix_ms"]
    return value


def _newest(root: Path) -> Path:
    """The bundle with the failed call (recorded second)."""
    return next(
        b for b in root.iterdir() if b'"inference_failed"' in (b / "trace.jsonl").read_bytes()
    )


# --- the same mistakes, the same words ----------------------------------------------------------


def _bad_inputs(tmp_path: Path, root: Path) -> dict[str, Path]:
    newest = _newest(root)
    assert run("reduce", newest)[0] == 0  # leaves newest/state.json
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    return {
        "missing": tmp_path / "nope",
        "file": tmp_path / "notes.txt",
        "empty dir": tmp_path / "empty",
        "state file": newest / "state.json",
        "traces root": root,
    }


@pytest.mark.parametrize("case", ["missing", "file", "empty dir", "state file"])
def test_reduce_and_validate_word_the_same_mistakes_alike(
    tmp_path: Path, root: Path, case: str
) -> None:
    bad = _bad_inputs(tmp_path, root)[case]
    code_r, out_r, err_r = run("reduce", bad)
    code_v, out_v, err_v = run("validate", bad)
    assert code_r == code_v == 1
    assert out_r == out_v == ""
    assert err_r.replace("rollout-trace reduce", "rollout-trace CMD").replace(
        "; reduce reads", "; CMD reads"
    ) == err_v.replace("rollout-trace validate", "rollout-trace CMD").replace(
        "; validate reads", "; CMD reads"
    )
    assert "Traceback" not in err_r and str(bad) in err_r


def test_a_traces_root_lists_its_bundles_newest_first(root: Path) -> None:
    # convert and redact too (they said "read ROOT/manifest.json: No such file"; review)
    # (validate reads every bundle of a root: test_validate_of_a_root_checks_each_bundle)
    for command in ("reduce", "summary", "show", "view", "convert", "redact"):
        extra = ("--to", "2", "-o", str(root.parent / "out")) if command == "convert" else ()
        code, _, err = run(command, root, *extra)
        assert code == 1, command
        lines = err.splitlines()
        assert lines[0] == (
            f"rollout-trace {command}: {root} is a traces root, not a bundle; "
            "it holds 2 bundles (newest first):"
        )
        assert " complete " in lines[1] and " 1 thread " in lines[1]
        assert lines[1].endswith(str(_newest(root)))
        assert " complete " in lines[2] and " 2 threads " in lines[2]
        newest = f"  name one, or take the newest: rollout-trace {command} {root} --latest"
        assert newest in lines[-2:]


def test_summary_of_a_root_points_at_the_export_for_all_of_them(root: Path) -> None:
    """``summary ROOT`` of an RL run's 550 bundles (newuser26) offered one bundle or the
    newest; what sums them all (``export`` then ``query``) went unmentioned. ``summary`` and
    ``show`` of a root now name it after the newest; ``reduce`` (a state per bundle) does
    not."""
    for command in ("summary", "show"):
        _, _, err = run(command, root)
        assert err.splitlines()[-1] == (
            f"  all of them at once: rollout-trace export {root} --to TABLES, then "
            "rollout-trace query TABLES --recipe ... (docs/exports.md)"
        ), err
    _, _, err = run("reduce", root)
    assert "rollout-trace export" not in err


def test_latest_picks_the_newest_bundle(tmp_path: Path, root: Path) -> None:
    code, out, _ = run("reduce", root, "--latest", "-o", tmp_path / "s.json")
    assert code == 0
    state = orjson.loads((tmp_path / "s.json").read_bytes())
    newest = orjson.loads((_newest(root) / "manifest.json").read_bytes())
    assert state["trace_id"] == newest["trace_id"]
    code, out, _ = run("validate", root, "--latest")
    assert code == 0 and out.startswith(f"OK {_newest(root)}")
    code, out, _ = run("summary", root, "--latest")
    assert code == 0 and "failures (1 call)" in out and "inference call" in out
    code, out, _ = run("redact", root, "--latest", "-o", tmp_path / "clean")
    assert code == 0 and out.startswith(str(tmp_path / "clean"))
    code, out, err = run("convert", root, "--latest", "--to", "2", "-o", tmp_path / "v2")
    assert code == 0, err
    assert orjson.loads((tmp_path / "v2" / "manifest.json").read_bytes())["schema_version"] == 2


def test_a_killed_convert_or_redact_leaves_nothing_latest_would_pick(root: Path) -> None:
    """``convert`` and ``redact`` write beside the target under a hidden name; killed (SIGKILL)
    they leave it behind, half written and newer than anything: ``ls`` listed it first and
    ``--latest`` read it (found by review)."""
    from rollout_trace_sdk.model import layout

    newest = _newest(root)
    for verb in ("convert", "redact", "old"):
        shutil.copytree(newest, root / (layout.work_prefix("out", verb) + "a1b2c3"))
    code, out, _ = run("ls", root)
    assert code == 0 and "out." not in out and str(newest) in out
    code, out, _ = run("validate", root, "--latest")
    assert code == 0 and out.startswith(f"OK {newest}")


def test_latest_needs_a_root_with_bundles(tmp_path: Path, root: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = run("summary", tmp_path / "empty", "--latest")
    assert (
        code == 1
        and err == f"rollout-trace summary: --latest: no bundles under {tmp_path / 'empty'}\n"
    )
    code, _, err = run("reduce", _newest(root), "--latest")
    assert code == 1 and "is a bundle; --latest picks the newest bundle under a traces root" in err


def test_a_state_file_where_a_bundle_is_needed_says_what_to_run(root: Path) -> None:
    newest = _newest(root)
    assert run("reduce", newest)[0] == 0
    code, out, err = run("reduce", newest / "state.json")
    assert (code, out) == (1, "")
    assert "is a reduced state (state.json), not a bundle; reduce reads a bundle" in err
    assert f"  run: rollout-trace reduce {newest.resolve()}\n" in err
    # where a state is fine, it is read as before
    assert run("summary", newest / "state.json")[0] == 0


def test_a_manifest_given_for_its_bundle_says_what_to_run(root: Path) -> None:
    """A manifest holds a schema version and a trace id, as a state does: it is named as
    what it is, with the bundle to give instead."""
    newest = _newest(root)
    for command in ("reduce", "validate"):
        code, out, err = run(command, newest / "manifest.json")
        assert (code, out) == (1, "")
        assert f"manifest.json is a bundle's manifest; {command} reads the bundle directory" in err
        assert f"  run: rollout-trace {command} {newest.resolve()}\n" in err
        assert "reduced state" not in err


def test_a_file_of_a_bundle_given_for_it_says_what_to_run(root: Path) -> None:
    """Its event log's first line holds a schema version and a trace id too: it was called a
    reduced state, with `summary trace.jsonl` (which fails) as the way to read it (review20).
    A payload is named as one as well."""
    newest = _newest(root)
    payload = next((newest / "payloads").iterdir())
    for name, path in (("event log", newest / "trace.jsonl"), ("payload", payload)):
        for command in ("reduce", "validate", "convert", "redact"):
            more = ("--to", "2", "-o", root.parent / "copy") if command == "convert" else ()
            code, out, err = run(command, path, *more)
            assert (code, out) == (1, ""), err
            assert f"is a bundle's {name}; {command} reads the bundle directory" in err, err
            assert f"  run: rollout-trace {command} {newest.resolve()}\n" in err
            assert "reduced state" not in err


def test_a_file_of_a_bundle_where_a_state_will_do_says_what_to_run(root: Path) -> None:
    """``summary trace.jsonl`` said "parse state …: trailing characters at line 2 column 1",
    where docs/reducing.md promises every command the same words (user32)."""
    newest, page = _newest(root), ("-o", str(root.parent / "out.json"))
    for name, file in (("event log", "trace.jsonl"), ("manifest", "manifest.json")):
        for command, *more in (["summary"], ["show"], ["view", *page], ["export", *page]):
            code, out, err = run(command, newest / file, *more)
            assert (code, out) == (1, ""), err
            assert f"is a bundle's {name}; {command} reads the bundle directory" in err, err
            assert f"  run: rollout-trace {command} {newest.resolve()}\n" in err
    assert not (root.parent / "out.json").exists()


# --- ls ---------------------------------------------------------------------------------------------


def test_ls_reads_a_last_line_longer_than_its_tail_whole(root: Path) -> None:
    """``ls`` judges a log by its last line; one longer than the 64 KiB it reads from the end
    is read whole, so garbage there is still ``torn`` and a long ``rollout_ended`` still
    ``ended`` (both read ``unclosed``: only the line's cut end was seen, and skipped)."""
    newest = _newest(root)
    lines = (newest / "trace.jsonl").read_bytes().splitlines(keepends=True)
    end = next(n for n, line in enumerate(lines) if b'"rollout_ended"' in line)
    event = json.loads(lines[end])
    event["payload"]["padding"] = "x" * (300 << 10)  # an unknown field: read past, as Codex does
    for name, last in (
        ("garbage", b"y" * (300 << 10) + b"\n"),
        ("ended", json.dumps(event).encode() + b"\n"),
    ):
        shutil.copytree(newest, root / name)
        (root / name / "trace.jsonl").write_bytes(b"".join(lines[:end]) + last)
    code, out, _ = run("ls", root)
    assert code == 0
    by_name = {Path(row.split()[-1]).name: row for row in out.splitlines()[1::2]}
    assert " torn " in by_name["garbage"], by_name["garbage"]
    assert " ended " in by_name["ended"], by_name["ended"]


# --- validate ROOT -----------------------------------------------------------------------------------


def test_validate_of_a_root_checks_each_bundle(root: Path) -> None:
    """``validate`` took one bundle; an RL run's root holds thousands, as ``ls`` and ``export``
    read them (newuser25). It checks the bundles ``ls`` lists, one line per damaged one."""
    code, out, err = run("validate", root)
    assert (code, err) == (0, "")
    assert out == f"2 of 2 bundles OK under {root}\n"
    newest = _newest(root)
    torn = root / "b-torn"
    shutil.copytree(newest, torn)
    (torn / "trace.jsonl").write_bytes((torn / "trace.jsonl").read_bytes()[:-20])
    gap = root / "a-gap"
    shutil.copytree(newest, gap)
    lines = (gap / "trace.jsonl").read_bytes().splitlines(keepends=True)
    (gap / "trace.jsonl").write_bytes(b"".join(lines[:2] + lines[3:]))  # seq 3 is gone
    (root / "notes").mkdir()  # no bundle: not counted
    code, out, err = run("validate", root)
    assert code == 1
    rows = out.splitlines()
    assert len(rows) == 3, out
    assert rows[0].startswith(f"{gap}: ") and "first trace.jsonl:3: " in rows[0], rows[0]
    assert "missing or reordered trace event 3" in rows[0]
    assert rows[1].startswith(f"{torn}: torn, 2 problems, first trace.jsonl:"), rows[1]
    assert ": parse trace event line " in rows[1]
    assert rows[2] == f"2 of 4 bundles OK under {root}"
    assert err.startswith(f"2 bundles not OK under {root}: 1 damaged; 1 torn "), err
    # --latest still picks one bundle, which it checks as before
    code, out, _ = run("validate", root, "--latest")
    assert code == 0 and out.startswith(f"OK {newest}: ")


def test_validate_of_a_root_holds_one_report_at_a_time(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bounded memory: each bundle's report is dropped once its line is out, so a root of
    thousands costs one validation's memory (weak references show none is kept)."""
    import weakref

    from rollout_trace_sdk.reduce.validate import validate_bundle as real

    for n in range(3):
        shutil.copytree(_newest(root), root / f"copy{n}")
    alive: list[weakref.ref[object]] = []

    def watched(path: Path, **options: object) -> object:
        assert all(ref() is None for ref in alive), "an earlier report is still held"
        report = real(path, **options)  # type: ignore[arg-type]
        alive.append(weakref.ref(report))
        return report

    monkeypatch.setattr("rollout_trace_sdk._cli_validate.validate_bundle", watched)
    code, out, _ = run("validate", root)
    assert code == 0 and out == f"5 of 5 bundles OK under {root}\n"
    assert len(alive) == 5


# --- a failed call's error text ---------------------------------------------------------------------


def test_failed_inference_error_text_in_summary_show_and_view(tmp_path: Path, root: Path) -> None:
    newest = _newest(root)
    code, out, _ = run("summary", newest)
    assert code == 0 and f"  {ERROR}\n" in out
    code, out, _ = run("show", newest)
    assert code == 0 and f"error: {ERROR}" in out
    page = tmp_path / "view.html"
    code, _, _ = run("view", newest, "-o", page)
    assert code == 0
    html = page.read_text()
    # the view model embedded in the page carries the text (``<`` escaped in the script);
    # tests/view/test_browser.py checks the page shows it
    assert '"err":"APIStatusError: model overloaded \\u003cb>(code overloaded)\\u003c/b>"' in html
    # a state file in its bundle finds the text in the bundle's log too
    assert run("reduce", newest)[0] == 0
    code, out, _ = run("show", newest / "state.json")
    assert code == 0 and f"error: {ERROR}" in out


def test_a_root_whose_bundles_lie_deeper_says_where(tmp_path: Path, root: Path) -> None:
    """``ls`` and ``--latest`` read the bundles directly under a root, where ``export --to``
    searches the whole tree; a root of roots (``runs/exp1/trace-*``, the conformance corpora's
    layout) was answered "no bundles under runs" and nothing more, while ``export runs`` found
    every bundle (found by review export24). It now names the roots below that hold bundles."""
    runs = tmp_path / "runs"
    for name in ("exp2", "exp1"):
        shutil.copytree(root, runs / name / "seed0")
    (runs / "notes").mkdir()
    code, out, err = run("ls", runs)
    assert code == 0 and out == ""
    assert err == (
        f"no bundles under {runs}; bundles lie deeper, under {runs / 'exp1' / 'seed0'}, "
        f"{runs / 'exp2' / 'seed0'} (ls, validate and --latest read one root's own bundles)\n"
    )
    code, _, err = run("summary", runs, "--latest")
    assert code == 1 and err.startswith(
        f"rollout-trace summary: --latest: no bundles under {runs}; bundles lie deeper, under "
    )
    code, out, err = run("validate", runs)
    assert (code, out) == (1, "") and err.startswith(
        f"rollout-trace validate: no bundles under {runs}; bundles lie deeper, under "
    )
    # a bundle's own subdirectories are not searched, nor an empty tree
    (tmp_path / "empty" / "a" / "b").mkdir(parents=True)
    code, _, err = run("ls", tmp_path / "empty")
    assert code == 0 and err == f"no bundles under {tmp_path / 'empty'}\n"


def test_every_command_given_a_root_of_roots_says_where_its_bundles_lie(
    tmp_path: Path, root: Path
) -> None:
    """``summary`` of the corpora's root of roots said "read …/manifest.json: No such file"
    where ``validate`` and ``ls`` name the roots below that hold bundles (user32)."""
    runs = tmp_path / "runs"
    shutil.copytree(root, runs / "exp1" / "seed0")
    copy = ("-o", str(tmp_path / "copy"))
    for command, *more in (
        ["reduce"], ["summary"], ["show"], ["view", *copy], ["export", *copy],
        ["convert", "--to", "2", *copy], ["redact", *copy],
    ):  # fmt: skip
        code, out, err = run(command, runs, *more)
        assert (code, out) == (1, ""), err
        assert err == (
            f"rollout-trace {command}: no bundles under {runs}; bundles lie deeper, under "
            f"{runs / 'exp1' / 'seed0'} (ls, validate and --latest read one root's own "
            "bundles)\n"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs", "traces"]


def test_the_search_for_deeper_bundles_looks_at_2000_entries_at_most(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hint's search stopped between directories only: a directory below the root with
    100,000 subdirectories had each one looked at (100,001 manifest probes, 2.8 s on a local
    disk) where the hint promises 2,000 entries at most (found by review24b)."""
    from rollout_trace_sdk import sources

    wide = tmp_path / "runs" / "a"
    for i in range(3000):
        (wide / str(i)).mkdir(parents=True)
    probed: list[Path] = []
    real = sources.looks_like_bundle

    def probe(path: Path) -> bool:
        probed.append(path)
        return real(path)

    monkeypatch.setattr(sources, "looks_like_bundle", probe)
    assert sources.no_bundles_text(tmp_path / "runs") == f"no bundles under {tmp_path / 'runs'}"
    assert 0 < len(probed) <= 2000


def test_a_manifest_codex_reads_past_orjson_is_read_alike_by_every_command(root: Path) -> None:
    """An unknown manifest field holding bytes that are not UTF-8: both Codex builds skip it
    unread, and so does the reducer (fuzz26); ``ls`` took the log's mtime for the start, and
    ``summary`` reduced the bundle again rather than read its fresh state, because they read
    the manifest with orjson alone (``json_check.manifest_value`` is now every reader's)."""
    newest = _newest(root)
    manifest = newest / "manifest.json"
    raw = manifest.read_bytes().rstrip()
    manifest.write_bytes(raw[:-1] + b',"zz_extra":"\xc3("}\n')
    started = orjson.loads(raw)["started_at_unix_ms"]
    os.utime(newest / "trace.jsonl", ns=(started * 10**6 - 7 * 10**12,) * 2)  # an older mtime
    code, out, err = run("ls", root, "--json")
    assert code == 0, err
    rows = {Path(row["bundle"]).name: row for row in map(json.loads, out.splitlines())}
    assert rows[newest.name]["started_at_unix_ms"] == started
    assert run("reduce", newest)[0] == 0
    code, out, err = run("summary", newest)  # the fresh state.json, not a reduction again
    assert code == 0 and "is newer than the bundle's files" in out + err, out + err


def test_a_root_of_many_bundles_lists_ten_and_counts_the_rest(root: Path) -> None:
    """Eleven bundles: the message lists ten and says how many more ``ls`` would show."""
    older = next(b for b in root.iterdir() if b != _newest(root))
    for n in range(9):
        shutil.copytree(older, root / f"copy{n}")
    code, _, err = run("reduce", root)
    lines = err.splitlines()
    assert code == 1 and "it holds 11 bundles (newest first):" in lines[0]
    assert len([line for line in lines if " complete " in line]) == 10
    assert f"  ... and 1 more (rollout-trace ls {root})" in lines


def test_sizes_change_unit_at_1024() -> None:
    from rollout_trace_sdk.sources import human_size

    assert [human_size(n) for n in (1023, 1024, 1536, 1024**2)] == [
        "1023 B",
        "1.0 KB",
        "1.5 KB",
        "1.0 MB",
    ]


@pytest.mark.parametrize("shift", [-len(_THREAD_STARTED), -len(_THREAD_STARTED) + 1, -9, -1, 0])
def test_ls_counts_a_thread_start_cut_by_a_read_chunk_once(tmp_path: Path, shift: int) -> None:
    """The log is read in chunks: a ``thread_started`` marker ending at a chunk's end, cut by
    it, or starting the next chunk is counted once (mut27 found the carry's own count dead:
    one byte short of a marker, it can hold none; removed)."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    line = b'{"seq":1,"payload":{"type":"thread_started","thread_id":"t"}}\n'
    at = line.index(_THREAD_STARTED)
    pad = _CHUNK + shift - at - len(b'{"payload":{"type":"other","pad":""}}\n')
    log = b'{"payload":{"type":"other","pad":"' + b"x" * pad + b'"}}\n' + line * 3
    assert log.index(_THREAD_STARTED, _CHUNK - len(line)) == _CHUNK + shift
    (bundle / "trace.jsonl").write_bytes(log)
    assert bundle_info(bundle).threads == 3


def _recipe(heading: str) -> str:
    """The shell recipe of docs/recording.md's paragraph that starts with ``heading``."""
    text = (Path(__file__).parent.parent / "docs" / "recording.md").read_text()
    return text.split(heading, 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]


@pytest.mark.skipif(shutil.which("jq") is None, reason="the recipe needs jq")
def test_the_docs_recipe_removes_old_ended_bundles_only(tmp_path: Path, root: Path) -> None:
    """docs/recording.md's "Old bundles" recipe (``ls --json`` through jq) removes a bundle
    started over a week ago, and keeps a newer one and one whose start ``ls`` cannot tell (a
    bundle being made: a manifest without its start, no log yet), which jq's ``null <
    number`` would have removed (review review27)."""
    newest = _newest(root)
    [older] = [b for b in root.iterdir() if b != newest]
    manifest = orjson.loads((older / "manifest.json").read_bytes())
    manifest["started_at_unix_ms"] -= 8 * 86_400_000
    (older / "manifest.json").write_bytes(orjson.dumps(manifest))
    making = root / "trace-making"
    making.mkdir()
    del manifest["started_at_unix_ms"]
    (making / "manifest.json").write_bytes(orjson.dumps(manifest))
    rows = {
        Path(r["bundle"]).name: r
        for r in map(json.loads, run("ls", root, "--json")[1].splitlines())
    }
    assert rows["trace-making"]["started_at_unix_ms"] is None  # what the recipe must keep
    script = _recipe("**Old bundles.**").replace("ls traces", f"ls {shlex.quote(str(root))}")
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    subprocess.run(["bash", "-c", script], check=True, env={**os.environ, "PATH": path})
    assert sorted(b.name for b in root.iterdir()) == sorted([newest.name, "trace-making"])
