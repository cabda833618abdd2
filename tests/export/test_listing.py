"""Listing an export's sources: the fingerprint a bundle's files make (which an earlier
export's manifest holds) stays the same from one version of the listing to the next."""

from __future__ import annotations

import os
from pathlib import Path

from rollout_trace_sdk.export.listing import list_bundles


def _bundle(bundle: Path, extra: dict[str, bytes]) -> None:
    (bundle / "payloads" / "deep").mkdir(parents=True)
    files = {
        "manifest.json": b"{}",
        "trace.jsonl": b"x" * 10,
        "payloads/1.json": b"{}",
        "payloads/deep/2.zst": b"zz",
        **extra,
    }
    for rel, data in files.items():
        (bundle / rel).write_bytes(data)
        stamp = 1_700_000_000_000_000_000
        os.utime(bundle / rel, ns=(stamp, stamp + len(rel)))


def test_fingerprints_are_those_earlier_exports_recorded(tmp_path: Path) -> None:
    """The listing walks every file of every bundle: review scale33 rewrote it in strings
    (pathlib's parsing was over half of a 10,000-bundle re-export). A changed fingerprint
    would have every bundle of every existing export exported again by the next run: these
    are the values the pathlib listing gave, nested directories, a nested bundle and a root
    named through ``..`` included."""
    root = tmp_path / "r"
    _bundle(root / "a", {})
    _bundle(root / "nested" / "b", {"state.json": b'{"s": 1}'})
    spec = str(tmp_path / "r" / ".." / "r")
    errors: list[str] = []
    found = {
        os.path.relpath(s.url, root): (s.fingerprint, s.size_bytes, s.remote)
        for s in list_bundles([spec], "stamp", errors)
    }
    assert errors == []
    assert found == {
        "a": ("d12e4fd2a6aca348b329ea28c1440aba", 16, False),
        os.path.join("nested", "b"): ("27f4206448984e5d51b001d77abeb2c6", 24, False),
    }
    [one] = list_bundles([str(root / "a") + "/"], "stamp", errors)
    assert (one.url, one.fingerprint) == (str(root / "a"), "d12e4fd2a6aca348b329ea28c1440aba")


def test_a_remote_root_lists_its_outermost_bundles_with_all_their_files() -> None:
    """Remote listing matched every file against every bundle (quadratic: 4.2 s for 2,000
    bundles of five files, minutes for an RL run's root; review scale33); now each file by
    its ancestors. What it finds is unchanged: bundles inside a bundle are its files, a
    sibling whose name extends a bundle's (``a-x`` beside ``a``) is its own bundle."""
    import fsspec

    fs = fsspec.filesystem("memory")
    files = {
        "a/manifest.json": b"{}",
        "a/trace.jsonl": b"xx",
        "a/inner/manifest.json": b"{}",  # a bundle's own subdirectories are not searched
        "a-x/manifest.json": b"{}",
        "a-x/payloads/1.json": b"yyyy",
        "deep/er/c/manifest.json": b"{}",
        "loose.txt": b"z",
    }
    for rel, data in files.items():
        fs.pipe(f"/listing-scale33/{rel}", data)
    try:
        found = {
            s.url.rsplit("listing-scale33/", 1)[1]: (s.size_bytes, s.remote)
            for s in list_bundles(["memory://listing-scale33"], "stamp", [])
        }
    finally:
        fs.rm("/listing-scale33", recursive=True)
    assert found == {"a": (6, True), "a-x": (6, True), "deep/er/c": (2, True)}


def test_a_bundle_at_a_remote_filesystems_root_holds_every_file() -> None:
    """A bundle whose manifest is at the filesystem's root (``memory://``, paths ``/x``) has
    the empty path: every file is in it, a bundle below it too, as the listing before
    review scale33 had it. The ancestor match started past the leading ``/`` and never
    tried the empty path: the root bundle listed with no files (a new fingerprint) and each
    bundle below it listed again on its own (found by review36)."""
    import fsspec

    fs = fsspec.filesystem("memory")
    files = {"/manifest.json": b"{}", "/trace.jsonl": b"xx", "/root36/b/manifest.json": b"{}"}
    for path, data in files.items():
        fs.pipe(path, data)
    try:
        every = sum(int(info["size"]) for info in fs.find("/", detail=True).values())
        found = [(s.url, s.size_bytes) for s in list_bundles(["memory://"], "stamp", [])]
    finally:
        fs.rm(["/manifest.json", "/trace.jsonl"])
        fs.rm("/root36", recursive=True)
    assert found == [("memory://", every)]


def test_a_file_named_in_no_utf8_is_listed_with_its_bundle(tmp_path: Path) -> None:
    """A stray file whose name is no UTF-8 (``os.walk`` gives its bytes as lone surrogates)
    made the whole root unlistable: "cannot list: 'utf-8' codec can't encode characters", no
    bundle of it exported (found by review36). Its bytes enter the fingerprint as they are;
    a UTF-8 name's fingerprint is the same as before."""
    root = tmp_path / "r"
    _bundle(root / "a", {})
    _bundle(root / "b", {})
    stray = os.path.join(os.fsencode(root / "b"), b"notes-\xff\xfe.txt")
    with open(stray, "wb") as f:
        f.write(b"x")
    errors: list[str] = []
    found = {os.path.basename(s.url): s for s in list_bundles([str(root)], "stamp", errors)}
    assert errors == []
    assert sorted(found) == ["a", "b"]
    assert found["b"].size_bytes == found["a"].size_bytes + 1
    assert found["b"].fingerprint != found["a"].fingerprint


def test_a_bundle_whose_path_is_no_utf8_is_refused_by_name(tmp_path: Path) -> None:
    """Its path is a column of every row it would give, and Parquet's strings are UTF-8:
    the bundle is refused with its name spelled in escapes, the others listed."""
    root = tmp_path / "r"
    _bundle(root / "a", {})
    _bundle(Path(os.fsdecode(os.path.join(os.fsencode(root), b"run-\xff"))), {})
    errors: list[str] = []
    found = [os.path.basename(s.url) for s in list_bundles([str(root)], "stamp", errors)]
    assert found == ["a"]
    assert errors == [f"{root}/run-\\xff: cannot export: its path is not UTF-8 (rename it)"]
