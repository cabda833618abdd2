"""Where ``view`` and ``export`` write (``rollout_trace_sdk.outputs``, the rules ``reduce -o``
follows too, see ``test_cli_output.py``): never through an entry planted in the bundle, never
over the input, ``-`` to standard output, private files written whole."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from rollout_trace_sdk.outputs import json_line, write_output
from tests.reduce.test_bundle import make_bundle
from tests.test_cli import run


def _tree(bundle: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(bundle)): p.read_bytes() for p in sorted(bundle.rglob("*")) if p.is_file()
    }


def test_the_default_page_is_never_written_through_a_planted_symlink(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("IMPORTANT")
    (bundle / "view.html").symlink_to(victim)
    code, printed, _ = run("view", bundle)
    assert code == 0 and printed == f"{bundle / 'view.html'}\n"
    assert victim.read_text() == "IMPORTANT"
    page = os.lstat(bundle / "view.html")
    assert stat.S_ISREG(page.st_mode) and stat.S_IMODE(page.st_mode) == 0o600


def test_a_fifo_in_place_of_the_default_page_is_replaced_not_waited_on(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    os.mkfifo(bundle / "view.html")
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(run("view", bundle)[0]), daemon=True)
    worker.start()
    worker.join(60)
    assert result == [0]  # a hang leaves it empty
    assert stat.S_ISREG(os.lstat(bundle / "view.html").st_mode)


@pytest.mark.parametrize(
    "argv",
    [
        ("view", "{b}", "-o", "{b}/trace.jsonl"),
        ("view", "{b}", "-o", "{b}/../bundle//manifest.json"),
        ("export", "{b}", "-o", "{b}/manifest.json"),
        ("export", "{b}", "-o", "{b}/payloads/1.json"),
    ],
)
def test_a_bundles_own_files_are_refused(tmp_path: Path, argv: tuple[str, ...]) -> None:
    bundle = make_bundle(tmp_path)
    before = _tree(bundle)
    code, _, err = run(*(a.format(b=bundle) for a in argv))
    assert code == 2 and "refusing to" in err
    assert _tree(bundle) == before


def test_the_state_file_read_is_not_overwritten(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    state = tmp_path / "state.json"
    assert run("reduce", bundle, "-o", state)[0] == 0
    before = state.read_bytes()
    code, _, err = run("view", state, "-o", state)
    assert code == 2 and "refusing to overwrite the input" in err
    assert state.read_bytes() == before


def test_dash_is_standard_output(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    code, printed, _ = run("view", bundle, "-o", "-")
    assert code == 0 and printed.startswith("<!doctype html>") and printed.endswith("</html>\n")
    assert not (tmp_path / "-").exists() and not Path("-").exists()


def test_an_export_file_is_private_and_replaced_whole(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    target = tmp_path / "trace.perfetto.json"
    target.write_text("old")
    os.chmod(target, 0o644)
    code, printed, _ = run("export", bundle, "-o", target)
    assert code == 0 and printed == f"{target}\n"
    assert target.read_bytes().startswith(b"{") and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["bundle", "trace.perfetto.json"]  # no temp left


@pytest.mark.parametrize(
    ("argv", "inside"),
    [
        (("reduce",), "rollouts/x.parquet"),
        (("reduce",), "_export.json"),
        (("export", "--format", "perfetto"), "tool_calls/part.parquet"),
        (("view",), "threads/page.html"),
    ],
)
def test_an_exports_own_files_are_refused(
    tmp_path: Path, argv: tuple[str, ...], inside: str
) -> None:
    """An export's manifest and table folders are its data: a file written there is read as
    one of a table's parts (a rollout counted twice, silently). ``query -o`` refused them;
    ``reduce``, ``export`` and ``view`` wrote there (found by review export20)."""
    bundle = make_bundle(tmp_path)
    export = tmp_path / "tables"
    for table in ("rollouts", "tool_calls", "threads"):
        (export / table).mkdir(parents=True)
    (export / "_export.json").write_text("{}")
    target = export / inside
    code, _, err = run(*argv, bundle, "-o", target)
    assert code != 0 and "refusing" in err and "export" in err
    assert not target.exists() or target.read_text() == "{}"


def _two_bundles(tmp_path: Path) -> tuple[Path, Path]:
    """The bundle a command reads and another one beside it (in ``other/``)."""
    (tmp_path / "other").mkdir()
    return make_bundle(tmp_path), make_bundle(tmp_path / "other")


@pytest.mark.parametrize(
    ("argv", "inside"),
    [
        (("reduce",), "trace.jsonl"),
        (("reduce",), "payloads/1.json"),
        (("view",), "manifest.json"),
        (("export", "--format", "perfetto"), "trace.jsonl"),
        (("export", "--format", "perfetto"), "payloads"),
        (("export", "--format", "otlp"), "payloads/new.json"),
    ],
)
def test_another_bundles_own_files_are_refused(
    tmp_path: Path, argv: tuple[str, ...], inside: str
) -> None:
    """Only the input's own files were refused: ``reduce A -o B/trace.jsonl`` replaced B's log
    with A's state, and ``view``, ``export`` and ``query`` alike wrote over another bundle's
    manifest, log or payloads (found by review cli21)."""
    bundle, other = _two_bundles(tmp_path)
    before = _tree(other)
    code, _, err = run(*argv, bundle, "-o", other / inside)
    assert code == 2 and f"of the bundle {other}" in err
    assert _tree(other) == before and sorted(os.listdir(other)) == [
        "manifest.json",
        "payloads",
        "trace.jsonl",
    ]


def test_another_bundles_files_are_refused_through_a_symlink(tmp_path: Path) -> None:
    """A symlink the user names is written through (a device, ``/dev/stdout``), so where it
    leads is what is checked: a link to another bundle's log is refused, not followed."""
    bundle, other = _two_bundles(tmp_path)
    before = _tree(other)
    (tmp_path / "out.json").symlink_to(other / "trace.jsonl")
    code, _, err = run("reduce", bundle, "-o", tmp_path / "out.json")
    assert code == 2 and "refusing to overwrite the trace.jsonl of the bundle" in err
    assert _tree(other) == before


def test_a_bundle_being_made_is_protected_and_a_lone_manifest_is_not(tmp_path: Path) -> None:
    """A bundle counts by two of its entries beside the one written: a recorder's bundle
    before its log exists (payloads and manifest come first) is protected; a folder holding
    only some web project's ``manifest.json`` is no bundle, and its ``trace.jsonl`` may be
    written."""
    bundle = make_bundle(tmp_path)
    starting = tmp_path / "starting"
    (starting / "payloads").mkdir(parents=True)
    (starting / "manifest.json").write_text("{}")
    code, _, err = run("reduce", bundle, "-o", starting / "trace.jsonl")
    assert code == 2 and "refusing" in err and not (starting / "trace.jsonl").exists()
    web = tmp_path / "web"
    web.mkdir()
    (web / "manifest.json").write_text("{}")
    assert run("export", "--format", "otlp", bundle, "-o", web / "trace.jsonl")[0] == 0
    assert (web / "manifest.json").read_text() == "{}"


def test_a_state_or_page_beside_another_bundle_is_written(tmp_path: Path) -> None:
    """Not the bundle's own files: ``state.json`` and ``view.html`` are what the commands
    write into a bundle by default (and ``summary`` checks a state is its bundle's)."""
    bundle, other = _two_bundles(tmp_path)
    assert run("reduce", bundle, "-o", other / "state.json")[0] == 0
    assert run("view", bundle, "-o", other / "view.html")[0] == 0


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    """A write that fails half-way (the disk filled, the state could not be rendered) keeps
    the old output whole and leaves no hidden ``.NAME.xxxx`` file beside it."""
    target = tmp_path / "state.json"
    target.write_bytes(b"old")

    def pieces() -> Iterator[bytes]:
        yield b"{"
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_output(str(target), pieces(), io.StringIO())
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["state.json"]


@pytest.mark.parametrize("unknown", [b"", b',"zz_extra":"\xc3("'])
def test_a_declared_payloads_dir_is_refused_whatever_else_the_manifest_holds(
    tmp_path: Path, unknown: bytes
) -> None:
    """A manifest naming its own ``payloads_dir`` protects that folder too, also when an
    unknown field holds bytes that are not UTF-8 (Codex skips it unread): the check read the
    manifest with orjson alone and fell back to ``payloads`` (review27: the fix,
    ``json_check.manifest_value``, had no test; dropping it passed every test)."""
    bundle = make_bundle(tmp_path)
    manifest = bundle / "manifest.json"
    raw = manifest.read_bytes().replace(b'"payloads_dir": "payloads"', b'"payloads_dir": "blobs"')
    assert b'"blobs"' in raw
    manifest.write_bytes(raw.rstrip()[:-1] + unknown + b"}\n")
    (bundle / "blobs").mkdir()
    code, _, err = run("reduce", bundle, "-o", bundle / "blobs" / "state.json")
    assert code == 2 and "refusing to write inside" in err, err
    assert not (bundle / "blobs" / "state.json").exists()


def test_an_absolute_payloads_dir_protects_nothing_outside_the_bundle(tmp_path: Path) -> None:
    """A manifest's ``payloads_dir`` names a folder of its bundle; an absolute one (any
    folder of the machine: the manifest is the bundle maker's text) is not taken as the
    bundle's, so it cannot make a command refuse an output elsewhere. Taking it as it is
    passed every output test (mut33)."""
    bundle = make_bundle(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    manifest = bundle / "manifest.json"
    raw = manifest.read_bytes()
    declared = f'"payloads_dir": "{elsewhere}"'.encode()
    manifest.write_bytes(raw.replace(b'"payloads_dir": "payloads"', declared))
    assert declared in manifest.read_bytes()
    code, _, err = run("reduce", bundle, "-o", elsewhere / "state.json")
    assert code == 0, err
    assert (elsewhere / "state.json").is_file()
    code, _, err = run("reduce", bundle, "-o", bundle / "payloads" / "state.json")
    assert code == 2 and "refusing to write inside" in err


@pytest.mark.parametrize(
    "argv",
    [
        ("reduce",),
        ("view",),
        ("export", "--format", "perfetto"),
        ("export", "--format", "otlp"),
    ],
)
@pytest.mark.parametrize("name", ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"])
def test_a_name_of_standard_output_writes_there_as_dash_does(
    tmp_path: Path, argv: tuple[str, ...], name: str
) -> None:
    """``-o /dev/stdout`` is ``-o -``: the output alone, where standard output stands. It was
    reopened, truncated and written from its start, and the path printed after it through
    standard output's own offset: piped, the JSON ended in ``/dev/stdout``; redirected to a
    file after a header, the header was lost and the path overwrote the output's first bytes
    (found by review user35; Codex 0.169's ``trace-reduce -o /dev/stdout`` does the same)."""
    bundle = make_bundle(tmp_path)
    command = [sys.executable, "-m", "rollout_trace_sdk", *argv, str(bundle), "-o"]
    dash = subprocess.run([*command, "-"], capture_output=True, timeout=120, check=True)
    piped = subprocess.run([*command, name], capture_output=True, timeout=120)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == dash.stdout
    log = tmp_path / "log.txt"
    with log.open("wb") as handle:
        handle.write(b"header\n")
        handle.flush()
        done = subprocess.run([*command, name], stdout=handle, stderr=subprocess.PIPE, timeout=120)
    assert done.returncode == 0, done.stderr
    assert log.read_bytes() == b"header\n" + dash.stdout


def test_json_line_escapes_a_path_that_is_not_utf8() -> None:
    """orjson refuses a lone surrogate (a file name's byte that is not UTF-8): the line has
    its ``\\udcXX`` escape, which reads back as the same ``str``; the rest as orjson writes it."""
    path = os.fsdecode(b"/runs/trace-\xff")
    assert json.loads(json_line({"bundle": path, "n": 1})) == {"bundle": path, "n": 1}
    assert json_line({"bundle": "/runs/é", "n": 1}) == '{"bundle":"/runs/é","n":1}'
