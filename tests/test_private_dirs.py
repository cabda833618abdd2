"""``_private_dirs.make_private_dirs``: the folders made for what the recorder and the
commands write, each ``0700`` whatever the umask, parents too."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rollout_trace_sdk._private_dirs import make_private_dirs


def test_private_dirs_are_made_from_a_relative_path_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative path's last missing parent is '' (os.path.dirname of a bare name), which
    os.mkdir refused: FileNotFoundError instead of the folders (found by review40)."""
    monkeypatch.chdir(tmp_path)
    make_private_dirs("out")
    make_private_dirs(os.path.join("a", "b", "c"))
    for made in ("out", "a", "a/b", "a/b/c"):
        assert stat.S_IMODE(os.stat(tmp_path / made).st_mode) == 0o700


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o000, 0o700])
def test_every_folder_made_is_0700_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    """mkdir's mode goes through the umask: one taking the owner's bits (0700) made a parent
    its owner could not make the next folder in (PermissionError; found by review40). A
    folder that was there keeps its mode."""
    kept = tmp_path / "kept"
    kept.mkdir()
    kept.chmod(0o755)
    old = os.umask(umask)
    try:
        make_private_dirs(kept / "a" / "b")
    finally:
        os.umask(old)
    for made in ("kept/a", "kept/a/b"):
        assert stat.S_IMODE(os.stat(tmp_path / made).st_mode) == 0o700
    assert stat.S_IMODE(kept.stat().st_mode) == 0o755


@pytest.mark.parametrize("relative", [False, True])
def test_the_folder_made_is_the_one_the_path_names_through_dot_dot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, relative: bool
) -> None:
    """The system reads ``link/..`` as the parent of the link's target and ``missing/..``
    only once ``missing`` exists; a path normalised as text first (``os.path.abspath``)
    made ``./t`` instead, and the recorder's bundle then could not be made in the folder its
    root names (FileNotFoundError: not recording; it was before c521acc)."""
    (tmp_path / "real" / "deep").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "real" / "deep")
    monkeypatch.chdir(tmp_path)
    base = "" if relative else str(tmp_path)
    for path in ("link/../t", "missing/../u", "v/"):
        make_private_dirs(os.path.join(base, path))
        assert os.path.isdir(os.path.join(base, path))
    assert (tmp_path / "real" / "t").is_dir() and not (tmp_path / "t").exists()
    assert (tmp_path / "missing").is_dir() and (tmp_path / "u").is_dir()
