"""What every command does alike (found by a review of the CLI as a new user): a path the
system refuses is a clear error, an empty ``-o`` a usage error, a closed pipe a quiet end,
paths printed with their control characters spelled out, options of another mode refused
rather than ignored."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reduce.test_bundle import make_bundle
from tests.test_cli import run

_ESC_NAME = "x\x1b]0;PWNED\x07y"


@pytest.mark.parametrize(
    "argv",
    [
        ["reduce", "{long}"],
        ["validate", "{long}"],
        ["summary", "{long}"],
        ["show", "{long}"],
        ["ls", "{long}"],
        ["reduce", "{bundle}", "-o", "{long}"],
    ],
)
def test_a_path_the_system_refuses_is_a_clear_error(tmp_path: Path, argv: list[str]) -> None:
    """A name over 255 bytes (ENAMETOOLONG) ended in "internal error" in nearly every
    command."""
    bundle = make_bundle(tmp_path)
    long = str(tmp_path / ("n" * 300))
    code, _, err = run(*[a.format(long=long, bundle=bundle) for a in argv])
    assert code == 1 and "internal error" not in err
    assert "too long" in err.lower()


@pytest.mark.parametrize(
    "argv",
    [
        ["reduce", "{bundle}", "-o", "{out}"],
        ["convert", "{bundle}", "--to", "3", "-o", "{out}"],
        ["view", "{bundle}", "-o", "{out}"],
        ["redact", "{bundle}", "-o", "{out}"],
        ["export", "{bundle}", "--format", "perfetto", "-o", "{out}"],
    ],
)
def test_an_output_in_a_missing_directory_is_said_alike(tmp_path: Path, argv: list[str]) -> None:
    """An output whose directory is missing: every command names itself, the output and the
    system's reason, exit 1. ``reduce`` said Codex's ``Error: write X`` / ``Caused by:`` /
    ``at X`` and ``convert`` ``Error: create X`` where the others said it in one line (found
    by review user40)."""
    bundle = make_bundle(tmp_path)
    out = tmp_path / "missing" / "out"
    code, printed, err = run(*[a.format(out=out, bundle=bundle) for a in argv])
    assert (code, printed) == (1, ""), err
    (line,) = err.splitlines()
    assert line.startswith(f"rollout-trace {argv[0]}: ") and str(out.parent) in line, line
    assert line.endswith(": No such file or directory"), line
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("command", ["reduce", "view"])
def test_an_empty_output_name_is_a_usage_error(tmp_path: Path, command: str) -> None:
    """``-o ""`` fell back to the default path but wrote it as a named one: through a
    symlink planted there."""
    bundle = make_bundle(tmp_path)
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    name = "state.json" if command == "reduce" else "view.html"
    (bundle / name).symlink_to(target)
    code, _, err = run(command, bundle, "-o", "")
    assert code == 2 and "-o needs a file name" in err
    assert target.read_text() == "keep"


@pytest.mark.parametrize("command", [("convert", "--to", "3"), ("redact",)])
@pytest.mark.parametrize("name", ["", "-"])
def test_an_empty_or_dash_directory_is_a_usage_error(
    tmp_path: Path, command: tuple[str, ...], name: str
) -> None:
    """``convert -o ""`` / ``-o -`` and ``redact`` alike exited 1, as for a bundle refused,
    where ``reduce -o ""``, ``demo --out -`` and ``export --to -`` exit 2 as documented
    (found by review user35)."""
    bundle = make_bundle(tmp_path)
    code, out, err = run(*command, bundle, "-o", name)
    assert (code, out) == (2, "") and f"cannot write a bundle to {name!r}" in err, err
    assert err.startswith(f"rollout-trace {command[0]}: "), err


@pytest.mark.parametrize("argv", [["reduce", "{b}", "-o", "-"], ["view", "{b}", "-o", "-"]])
def test_a_closed_pipe_ends_every_command_quietly(tmp_path: Path, argv: list[str]) -> None:
    """``... -o - | head`` exited 1 with "Broken pipe" for reduce, view and export, 0 for
    show and summary."""
    bundle = make_bundle(tmp_path)
    read, write = os.pipe()
    os.close(read)  # the reader has gone before the first byte
    try:
        done = subprocess.run(
            [sys.executable, "-m", "rollout_trace_sdk", *[a.format(b=bundle) for a in argv]],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (0, "")


def test_printed_paths_spell_out_control_characters(tmp_path: Path) -> None:
    """A bundle directory named with ESC and BEL reached the terminal raw from ls, reduce,
    validate and convert."""
    root = tmp_path / "root"
    root.mkdir()
    bundle = make_bundle(tmp_path).rename(root / f"trace-{_ESC_NAME}")
    outputs = [
        run("ls", root),
        run("reduce", bundle),
        run("validate", bundle),
        run("convert", bundle, "--to", "3", "-o", tmp_path / _ESC_NAME),
        run("reduce", root),  # a traces root: its bundles are listed in the error
    ]
    for code, out, err in outputs:
        assert "\x1b" not in out + err and "\x07" not in out + err, (code, out, err)
        assert "\\x1b]0;PWNED\\x07" in out + err


def test_ls_refuses_what_is_not_a_traces_root_as_input(tmp_path: Path) -> None:
    """Exit 1 (input refused), as reduce refuses a traces root where it needs a bundle; ls
    said 2 (usage)."""
    assert run("ls", make_bundle(tmp_path))[0] == 1
    assert run("ls", tmp_path / "missing")[0] == 1


def test_redact_refuses_an_existing_default_output_as_a_usage_error(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    (tmp_path / "bundle-redacted").mkdir()
    code, _, err = run("redact", bundle)
    assert code == 2 and "already exists; give a new directory" in err


def test_demo_refuses_a_bundle_or_nothing_as_its_root(tmp_path: Path) -> None:
    """``demo --out BUNDLE`` nested a new bundle inside an existing one; ``--out ""`` wrote
    into the current directory."""
    bundle = make_bundle(tmp_path)
    before = sorted(p.name for p in bundle.iterdir())
    assert run("demo", "--out", bundle)[0] == 2
    assert run("demo", "--out", "")[0] == 2
    assert sorted(p.name for p in bundle.iterdir()) == before


def test_options_of_another_mode_are_refused_not_ignored(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path)
    code, _, err = run("view", bundle, "--serve", "-o", tmp_path / "page.html")
    assert code == 2 and "--serve writes no file" in err
    code, _, err = run(
        "export", bundle, "--format", "perfetto", "--to", tmp_path / "t", "-o", tmp_path / "f"
    )
    assert code == 2 and "--to is not for --format perfetto" in err
    assert not (tmp_path / "f").exists() and not (tmp_path / "t").exists()


def test_query_refuses_a_directory_that_holds_no_export(tmp_path: Path) -> None:
    """Any directory answered every query with nothing, plausibly."""
    pytest.importorskip("duckdb")
    code, _, err = run("query", tmp_path, "select count(*) from threads")
    assert code == 1 and "not an export" in err


@pytest.mark.parametrize(
    "argv",
    [
        ("convert", "{b}", "--to", "3", "-o", "{o}/payloads/copy"),
        ("convert", "{b}", "--to", "3", "-o", "{o}/copy"),
        ("redact", "{b}", "-o", "{o}/payloads/copy"),
        ("demo", "--out", "{o}/payloads"),
        ("demo", "--out", "{o}/traces/deep"),
    ],
)
def test_no_directory_is_made_inside_another_bundle(tmp_path: Path, argv: tuple[str, ...]) -> None:
    """``convert``, ``redact`` and ``demo`` refused only their own input (or the bundle named
    as ``--out``): a copy or a demo bundle was made inside another bundle, a stray there
    (found by review cli21). ``export --to`` refused this already; all say the same now."""
    bundle = make_bundle(tmp_path)
    (tmp_path / "other").mkdir()
    other = make_bundle(tmp_path / "other")
    code, _, err = run(*(a.format(b=bundle, o=other) for a in argv))
    assert code == 2 and f"is inside the bundle {other}; give a directory outside it" in err
    assert sorted(os.listdir(other)) == ["manifest.json", "payloads", "trace.jsonl"]
    assert sorted(os.listdir(other / "payloads")) == ["1.json", "2.json"]


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (("demo", "--out", "-"), "- names standard output"),
        (("export", "{b}", "--to", "-"), "- names standard output; --to needs a directory"),
    ],
)
def test_dash_is_no_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: tuple[str, ...], why: str
) -> None:
    """``demo --out -`` and ``export --to -`` made a directory named ``-`` in the working
    directory (``convert`` and ``redact`` refused it): a usage error now."""
    bundle = make_bundle(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(*(a.format(b=bundle) for a in argv))
    assert code == 2 and why in err
    assert not (tmp_path / "-").exists()


def test_demo_says_a_recorder_warning_in_one_line_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``ROLLOUT_TRACE_SCHEMA=4 rollout-trace demo`` printed Python's warning format: a line
    naming anyio's ``_asyncio.py:2604``, then its source line ``return await func(*args)``
    (user32)."""
    monkeypatch.setenv("ROLLOUT_TRACE_SCHEMA", "4")
    code, out, err = run("demo", "--out", tmp_path / "traces")
    assert code == 0 and out.startswith(str(tmp_path / "traces"))
    assert err == (
        "rollout-trace demo: warning: $ROLLOUT_TRACE_SCHEMA must be 2 or 3, not '4'; "
        "writing schema 3\n"
    )
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("content", [b"not json\n", b"hi\n", b'{"threads": \n', b"\xff\xfe"])
def test_every_command_words_a_state_file_that_is_not_json_alike(
    tmp_path: Path, content: bytes
) -> None:
    """``summary`` said serde's words for a state file that is not JSON ("expected ident at
    line 1 column 2"), ``show``, ``view`` and ``export`` orjson's ("invalid literal, expected
    'null': line 1 column 1 (char 0)") for the same file (found by polish32): one wording."""
    state = tmp_path / "state.json"
    state.write_bytes(content)
    causes = set()
    commands: list[list[str | Path]] = [
        ["summary", state],
        ["show", state],
        ["view", state, "-o", tmp_path / "page.html"],
        ["export", state, "--format", "perfetto", "-o", tmp_path / "trace.json"],
    ]
    for argv in commands:
        code, _, err = run(*argv)
        assert code != 0, argv
        assert f"parse state {state}" in err, (argv, err)
        causes.add(err.split("Caused by:", 1)[1].split("\n\n")[0].strip())
    [cause] = causes
    assert " at line " in cause, cause  # serde's words, with where
