"""Paths an attacker or a careless user names (``rollout_trace_sdk/sources.py``): symlinks
(loops, to a bundle's files, to roots), names holding a newline, and the files of a bundle
given to ``export --to``. Each says what it is in the command's own words, never an internal
error, and a name never forges a line of the message (found by review34)."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest

from rollout_trace_sdk.cli import main

from .conftest import make_demo

#: Every command that reads one rollout, with what it needs besides its source.
_READERS = ("summary", "show", "view", "export", "reduce", "validate", "convert", "redact")


def _run(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _more(command: str, tmp_path: Path) -> list[str]:
    """What ``command`` needs besides its source, writing under ``tmp_path/out``."""
    out = str(tmp_path / "out")
    return {
        "view": ["-o", out],
        "export": ["-o", out],
        "convert": ["--to", "2", "-o", out],
        "redact": ["-o", out],
    }.get(command, [])


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo(tmp_path_factory.mktemp("traces"), 1)


@pytest.mark.parametrize("name", ["loop", "state.json"])
def test_a_symlink_loop_is_refused_as_the_system_words_it(tmp_path: Path, name: str) -> None:
    """A symlink loop made every command an internal error ("RuntimeError: Symlink loop
    from ..."): ``Path.resolve`` raises on a loop before Python 3.13."""
    loop = tmp_path / name
    other = tmp_path / f"{name}.other"
    loop.symlink_to(other)
    other.symlink_to(loop)
    otlp = ["export", "--format", "otlp", "-o", str(tmp_path / "out")]
    tables = ["export", "--to", str(tmp_path / "out")]
    for command, *more in [[c, *_more(c, tmp_path)] for c in _READERS] + [otlp, tables]:
        code, _, err = _run(command, *more[:-2], loop, *more[-2:])
        assert code == 1, (command, more, err)
        assert "internal error" not in err and "RuntimeError" not in err, (command, err)
    assert not (tmp_path / "out").exists()


def test_a_symlink_to_a_bundles_file_is_named_as_that_file(tmp_path: Path, bundle: Path) -> None:
    """A link named otherwise (``latest-log -> BUNDLE/trace.jsonl``) was judged by its own
    name: ``summary`` said "parse state latest-log: trailing characters at line 2"."""
    for file, what in (("trace.jsonl", "event log"), ("manifest.json", "manifest")):
        link = tmp_path / f"latest-{what.replace(' ', '-')}"
        link.symlink_to(bundle / file)
        for command in ("summary", "show", "reduce"):
            code, out, err = _run(command, link, *_more(command, tmp_path))
            assert (code, out) == (1, ""), err
            assert err == (
                f"rollout-trace {command}: {link} is a bundle's {what}; {command} reads the "
                f"bundle directory\n  run: rollout-trace {command} {bundle.resolve()}\n"
            )


#: A directory name that, printed as it is, forges a line of a message.
_FORGED = "b\n  run: rollout-trace redact --in-place ~\nx"


def test_a_name_with_a_newline_cannot_forge_a_line(tmp_path: Path, bundle: Path) -> None:
    """A bundle named ``b\\n  run: rollout-trace redact --in-place ~\\nx`` printed a "run:"
    line of its own choosing under the command's (control characters were spelled out, the
    newline was not): each message below has the lines it would have for a plain name."""
    roots = tmp_path / "roots"
    evil = roots / _FORGED
    shutil.copytree(bundle, evil)
    shutil.copytree(bundle, tmp_path / "deeper" / _FORGED / "b")
    shown = _FORGED.replace("\n", "\\n")
    cases: list[tuple[list[str | Path], int]] = [
        (["summary", roots], 4),  # a root: its bundles listed
        (["reduce", evil / "trace.jsonl"], 2),  # a bundle's file: the command to run
        (["show", tmp_path / "deeper"], 1),  # a root of roots: where the bundles lie
        (["ls", roots], 2),  # a row and its task
    ]
    for argv, lines in cases:
        code, out, err = _run(*argv)
        text = err if code else out
        assert len(text.splitlines()) == lines + (argv[0] == "ls"), (argv, text)
        assert "\n  run: rollout-trace redact" not in text, (argv, text)
        assert shown in text, (argv, text)


def test_a_bad_name_among_export_sources_stays_on_one_line(tmp_path: Path) -> None:
    """``export --to`` names each refused source on one line (the commit that made it so
    says it): a newline in the source's name broke that line in three."""
    bad = tmp_path / f"bad{_FORGED}"
    bad.write_text("hi\n")
    code, _, err = _run("export", bad, "--to", tmp_path / "tables")
    assert code == 1
    (line,) = err.splitlines()
    assert line.startswith("rollout-trace export: parse state ")
    assert _FORGED.replace("\n", "\\n") in line


def test_export_to_a_directory_names_a_bundles_file_as_that_file(
    tmp_path: Path, bundle: Path
) -> None:
    """``export BUNDLE/manifest.json --to DIR`` said "… is not a reduced state (no
    `threads`)", and the event log "parse state …: trailing characters", where the same
    source given with ``-o`` says what it is and what to run; nothing is exported."""
    for file, what in (("trace.jsonl", "event log"), ("manifest.json", "manifest")):
        code, out, err = _run("export", bundle / file, "--to", tmp_path / "tables")
        assert (code, out) == (1, ""), err
        assert err == (
            f"rollout-trace export: {bundle / file} is a bundle's {what}; export reads the "
            f"bundle directory\n  run: rollout-trace export {bundle.resolve()}\n"
        )
    assert not (tmp_path / "tables").exists()
    # a root (exported whole) and a state file are taken as they were
    code, out, _ = _run("export", bundle.parent, "--to", tmp_path / "tables")
    assert code == 0 and out.startswith("exported 1 bundle(s)")
    shutil.rmtree(tmp_path / "tables")
    assert _run("reduce", bundle, "-o", tmp_path / "state.json")[0] == 0
    code, out, _ = _run("export", tmp_path / "state.json", "--to", tmp_path / "tables")
    assert code == 0 and out.startswith("exported 1 bundle(s)")


def test_a_wide_or_deep_tree_is_judged_quickly_and_without_following_links(
    tmp_path: Path, bundle: Path
) -> None:
    """10,000 directories under a root, or 400 nested, and a symlink from inside it to
    another root: the search for deeper bundles looks at its bounded few entries and does
    not follow the link (whose bundles are not under the root named)."""
    wide = tmp_path / "wide"
    for i in range(10_000):
        (wide / f"d{i:05}").mkdir(parents=True)
    (wide / "d00000" / "link").symlink_to(bundle.parent)
    deep = tmp_path / "deep"
    deep.mkdir()
    fd = os.open(deep, os.O_RDONLY)
    for _ in range(400):  # os.makedirs (and rmtree) recurse once a level
        os.mkdir("d", dir_fd=fd)
        fd, above = os.open("d", os.O_RDONLY, dir_fd=fd), fd
        os.close(above)
    os.close(fd)
    for root in (wide, deep):
        code, out, err = _run("summary", root)
        assert (code, out) == (1, ""), err
        assert err.startswith(f"Error: read {root}/manifest.json\n"), err
