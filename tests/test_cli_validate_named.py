"""``validate A B C``: several bundles or roots named at once (a shell's
``traces/trace-*``), each bundle checked once and counted as a root's are."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.reduce.test_bundle import make_bundle
from tests.test_cli import run


def _root(tmp_path: Path, name: str, count: int) -> Path:
    root = tmp_path / name
    root.mkdir()
    for n in range(count):
        shutil.copytree(make_bundle(tmp_path / f"{name}-{n}"), root / f"trace-{name}-{n}")
    return root


def test_several_bundles_and_roots_are_each_checked_once(tmp_path: Path) -> None:
    """It took one path: ``validate traces/trace-*`` was a usage error (found by view38).
    Every bundle named, and every bundle of a root named, is checked once, in that order;
    a damaged one is its line, and the count says how many were OK."""
    first, second = _root(tmp_path, "a", 2), _root(tmp_path, "b", 1)
    named = sorted(first.glob("trace-*"))
    broken = named[1]
    log = broken / "trace.jsonl"
    log.write_bytes(log.read_bytes()[:-10])
    code, out, err = run("validate", *named, second, first)
    assert code == 1, err
    lines = out.splitlines()
    assert lines[0].startswith(f"{broken}: torn") and len(lines) == 2
    assert lines[1] == "2 of 3 bundles OK"
    assert err.startswith("1 bundle not OK: 1 torn")
    code, out, _ = run("validate", named[0], second)
    assert (code, out) == (0, "2 of 2 bundles OK\n")


def test_latest_takes_one_root(tmp_path: Path) -> None:
    root = _root(tmp_path, "a", 1)
    code, _, err = run("validate", "--latest", root, root)
    assert code == 2 and "--latest takes one traces root" in err


def test_a_missing_path_among_them_is_refused_as_alone(tmp_path: Path) -> None:
    root = _root(tmp_path, "a", 1)
    code, _, err = run("validate", root, tmp_path / "missing")
    alone = run("validate", tmp_path / "missing")
    assert (code, err) == alone[0::2] and code != 0
