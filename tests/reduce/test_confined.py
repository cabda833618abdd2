"""``BundleFiles``: only regular files inside the bundle are ever opened, and nothing blocks."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.reduce.confined import BundleFileError, BundleFiles, read_to_end
from rollout_trace_sdk.reduce.errors import ReduceError
from rollout_trace_sdk.reduce.os_errors import NulInPath
from rollout_trace_sdk.testing import reduce_and_compare
from tests.codex_oracle import codex_bin
from tests.conftest import CONFORMANCE, conformance_bundles, needs_conformance


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    root = tmp_path / "bundle"
    (root / "payloads" / "deep").mkdir(parents=True)
    (root / "manifest.json").write_bytes(b"{}")
    (root / "trace.jsonl").write_bytes(b"one\ntwo\nthree")
    (root / "payloads" / "1.json").write_bytes(b'{"a": 1}')
    (root / "payloads" / "deep" / "2.json").write_bytes(b"[]")
    (tmp_path / "secret.json").write_bytes(b'{"secret": true}')
    return root


def _refusal(files: BundleFiles, relpath: str) -> BundleFileError:
    with pytest.raises(BundleFileError) as info:
        files.read_bytes(relpath, what="payload raw_payload:9")
    error = info.value
    assert isinstance(error, ReduceError)
    assert error.message == "open payload raw_payload:9"
    assert error.relpath == relpath
    return error


def test_reads_regular_files_below_the_root(bundle: Path) -> None:
    with BundleFiles(bundle) as files:
        assert files.read_bytes("payloads/1.json", what="payload") == b'{"a": 1}'
        assert files.read_bytes("./payloads//deep/2.json", what="payload") == b"[]"
        assert list(files.iter_lines("trace.jsonl", what="log")) == [b"one\n", b"two\n", b"three"]
        assert files.exists("manifest.json")
        assert not files.exists("payloads/404.json")
        assert not files.exists("payloads")
        # a what that is no path, as callers pass: with what == relpath, swapping the two
        # in list_dir passed (mutation audit mut40)
        assert files.list_dir("payloads", what="payload shards") == ["1.json", "deep"]


def test_iter_lines_reads_a_growing_log_as_it_stood_when_opened(bundle: Path) -> None:
    """The failure scan (``failures.iter_lines`` via ``BundleFiles.iter_lines``) chased a
    log a recording kept appending to, as the reducer and validate did (c26894c, 6b002ba):
    lines are read to the size at open, a line being written then to its newline."""
    log = bundle / "trace.jsonl"
    log.write_bytes(b"one\ntwo\nthr")
    read: list[bytes] = []
    with BundleFiles(bundle) as files, log.open("ab") as writer:
        for line in files.iter_lines("trace.jsonl", what="log"):
            read.append(line)
            if len(read) < 6:  # bounded: a reader chasing the writer ends too
                writer.write(b"ee\n" if len(read) == 1 else b"more\n")
                writer.flush()
    assert read == [b"one\n", b"two\n", b"three\n"]


@pytest.mark.parametrize(
    ("relpath", "why"),
    [
        ("/etc/hostname", "absolute"),
        ("../secret.json", "'..'"),
        ("payloads/../../secret.json", "'..'"),
        ("payloads/../1.json", "'..'"),
    ],
)
def test_unsafe_paths_are_refused_before_any_system_call(
    bundle: Path, relpath: str, why: str
) -> None:
    files = BundleFiles(bundle)
    files.close()  # a closed reader proves nothing was opened: only the path was looked at
    error = _refusal(files, relpath)
    assert error.unsafe and error.os_error is None
    assert error.cause is not None and repr(relpath) in error.cause and why in error.cause
    assert "read only as regular files inside the bundle" in error.cause


@pytest.mark.parametrize("relpath", ["", ".", "./"])
def test_the_bundle_directory_itself_is_a_directory_not_a_file(bundle: Path, relpath: str) -> None:
    """Codex joins an empty path to the bundle and fails reading a directory: so do we, the
    same OS error, nothing opened."""
    files = BundleFiles(bundle)
    files.close()
    error = _refusal(files, relpath)
    assert not error.unsafe and isinstance(error.os_error, IsADirectoryError)


@pytest.mark.parametrize("target", ["inside", "outside"])
def test_a_symlinked_file_is_refused_wherever_it_points(bundle: Path, target: str) -> None:
    source = bundle / "payloads" / "1.json" if target == "inside" else bundle.parent / "secret.json"
    os.symlink(source, bundle / "payloads" / "9.json")
    error = _refusal(BundleFiles(bundle), "payloads/9.json")
    assert error.unsafe and error.cause is not None and "symlink" in error.cause


def test_a_symlinked_directory_is_refused(bundle: Path) -> None:
    os.symlink(bundle.parent, bundle / "linked")
    error = _refusal(BundleFiles(bundle), "linked/secret.json")
    assert error.unsafe and error.cause is not None and "'linked' is a symlink" in error.cause


def test_a_symlink_to_dev_zero_is_never_opened(bundle: Path) -> None:
    (bundle / "trace.jsonl").unlink()
    os.symlink("/dev/zero", bundle / "trace.jsonl")
    with pytest.raises(BundleFileError, match="symlink"):
        BundleFiles(bundle).open("trace.jsonl", what="trace event log")


def test_a_fifo_is_refused_without_blocking(bundle: Path) -> None:
    os.mkfifo(bundle / "payloads" / "9.json")
    error = _refusal(BundleFiles(bundle), "payloads/9.json")
    assert error.unsafe and error.cause is not None and "a FIFO" in error.cause


def test_a_device_node_is_refused_without_opening_it(bundle: Path) -> None:
    try:
        os.mknod(bundle / "payloads" / "9.json", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs root")
    error = _refusal(BundleFiles(bundle), "payloads/9.json")
    assert error.cause is not None and "a character device" in error.cause


def test_os_refusals_keep_the_os_error_for_codexs_wording(bundle: Path) -> None:
    files = BundleFiles(bundle)
    missing = _refusal(files, "payloads/404.json")
    assert isinstance(missing.os_error, FileNotFoundError)
    assert missing.cause == "No such file or directory (os error 2)"
    directory = _refusal(files, "payloads/deep")
    assert isinstance(directory.os_error, IsADirectoryError)
    assert directory.cause == "Is a directory (os error 21)"
    not_dir = _refusal(files, "payloads/1.json/x")
    assert not_dir.cause == "Not a directory (os error 20)"


def test_the_bundle_path_the_user_named_may_be_a_symlink(bundle: Path) -> None:
    alias = bundle.parent / "alias"
    os.symlink(bundle, alias)
    with BundleFiles(alias) as files:
        assert files.read_bytes("payloads/1.json", what="payload") == b'{"a": 1}'
        assert files.shown("payloads/1.json") == f"{alias}/payloads/1.json"


def test_a_missing_bundle_is_reported_on_the_file_asked_for(tmp_path: Path) -> None:
    files = BundleFiles(tmp_path / "nowhere")
    with pytest.raises(BundleFileError) as info:
        files.read_bytes("manifest.json", what="manifest")
    assert info.value.file == f"{tmp_path}/nowhere/manifest.json"
    assert isinstance(info.value.os_error, FileNotFoundError)


def test_many_directories_do_not_exhaust_descriptors(bundle: Path) -> None:
    for n in range(200):
        (bundle / f"d{n}").mkdir()
        (bundle / f"d{n}" / "x").write_bytes(b"x")
    before = len(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").is_dir() else None
    with BundleFiles(bundle) as files:
        for n in range(200):
            assert files.read_bytes(f"d{n}/x", what="payload") == b"x"
        if before is not None:
            assert len(os.listdir("/proc/self/fd")) <= before + 40


def _python_calls_while_freed(bundle: Path, *, closed: bool) -> list[str]:
    """The Python functions that run while a BundleFiles that read a payload (and then was
    closed, or not) is freed."""
    files = BundleFiles(bundle)
    files.read_bytes("payloads/deep/2.json", what="payload")
    if closed:
        files.close()
        files.close()  # again: nothing
    calls: list[str] = []

    def profile(frame: Any, event: str, _: object) -> None:
        if event == "call":
            calls.append(frame.f_code.co_qualname)

    sys.setprofile(profile)
    try:
        del files
    finally:
        sys.setprofile(None)
    return calls


def test_closed_files_are_freed_without_running_python(bundle: Path) -> None:
    """``__del__`` ran Python code whenever a BundleFiles was freed, closed or not: a Ctrl-C
    that came while a reduction's state was being freed was raised in it, where Python prints
    it as ignored and goes on (``reduce`` printed a traceback, wrote its output and exited 0;
    found by review cli21). Closed, the object is freed without running any."""
    assert _python_calls_while_freed(bundle, closed=True) == []
    assert _python_calls_while_freed(bundle, closed=False) != []  # the check sees a finalizer


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_unclosed_files_still_close_their_descriptors_when_freed(bundle: Path) -> None:
    before = len(os.listdir("/proc/self/fd"))
    files = [BundleFiles(bundle)]
    files[0].read_bytes("payloads/deep/2.json", what="payload")
    assert len(os.listdir("/proc/self/fd")) == before + 3  # the bundle, payloads, deep
    files.clear()
    assert len(os.listdir("/proc/self/fd")) == before


@pytest.mark.parametrize("size", [0, 1, 4096, 65_537, 300_000])
def test_read_to_end_reads_what_a_file_object_reads(bundle: Path, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    (bundle / "payloads" / "sized.json").write_bytes(data)
    files = BundleFiles(bundle)
    fd, known = files.open_fd("payloads/sized.json", what="payload")
    try:
        assert known == size
        assert read_to_end(fd, known) == data
        os.lseek(fd, 0, os.SEEK_SET)
        assert read_to_end(fd) == data
    finally:
        os.close(fd)


def test_read_to_end_reads_what_a_file_grew_by_since_it_was_opened(bundle: Path) -> None:
    """The size ``open_fd`` gave is no limit: a file appended to since is read to its end."""
    path = bundle / "payloads" / "growing.json"
    path.write_bytes(b"[1,2,3]")
    files = BundleFiles(bundle)
    fd, known = files.open_fd("payloads/growing.json", what="payload")
    try:
        with path.open("ab") as more:
            more.write(b" " * 200_000)
        assert read_to_end(fd, known) == b"[1,2,3]" + b" " * 200_000
    finally:
        os.close(fd)


def test_read_to_end_reads_past_the_size_it_was_told() -> None:
    """A descriptor whose size says nothing (a pipe: 0), as a file that grew since: read to
    the end all the same."""
    data = b"0123456789" * 30_000
    read_end, write_end = os.pipe()

    def feed() -> None:
        with os.fdopen(write_end, "wb") as out:
            out.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        assert read_to_end(read_end) == data
    finally:
        writer.join()
        os.close(read_end)


def test_read_to_end_reads_on_after_a_short_read_before_the_told_size() -> None:
    """A first read shorter than the size told (a network file system or FUSE may return
    one before the end; here a pipe fed in two parts) is no end: read on to an empty read
    (review22: the file was taken as cut there)."""
    data = b"0123456789" * 30_000
    read_end, write_end = os.pipe()
    first_part = threading.Event()

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError), os.fdopen(write_end, "wb") as out:
            out.write(data[:1000])
            out.flush()
            first_part.wait(5)
            out.write(data[1000:])

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        first = os.read(read_end, 1)  # the first part is there: the next read stops at it
        first_part.set()
        got = first + read_to_end(read_end, len(data) - 1)
    finally:
        first_part.set()
        os.close(read_end)  # a writer still writing gets EPIPE, not a wait for ever
        writer.join()
    assert got == data


def test_a_nul_byte_in_a_path_is_refused_in_codexs_words(bundle: Path) -> None:
    """No file can be named with a NUL byte: Rust's standard library refuses such a path before
    any system call, and Codex prints its text; so do we (nothing opened: the reader is
    closed), as an OS-side failure (lenient replay passes over it, as over a missing file)."""
    files = BundleFiles(bundle)
    files.close()
    error = _refusal(files, "payloads/1.json\0.txt")
    assert not error.unsafe and isinstance(error.os_error, NulInPath)
    assert error.cause == "file name contained an unexpected NUL byte"
    assert _refusal(files, "../x\0").cause == error.cause  # before the '..' check, as Codex


def _cited_paths(log: bytes) -> list[bytes]:
    return sorted(set(re.findall(rb'"path":"(payloads/[^"]+)"', log)))


@pytest.mark.codex
@pytest.mark.skipif(codex_bin(2) is None, reason="needs CODEX_BIN")
@needs_conformance
def test_a_nul_byte_in_each_cited_path_reduces_as_codex_reduces_it(tmp_path: Path) -> None:
    """Each payload path of a corpus bundle in turn given a NUL byte (one a handler reads, one
    only the end-of-replay check reads): the same refusal as Codex 0.169 (found by the string
    differential, where our refusal was worded as our own)."""
    source = conformance_bundles(CONFORMANCE)[0]
    paths = _cited_paths((source / "trace.jsonl").read_bytes())
    assert paths
    for number, path in enumerate(paths):
        bundle = tmp_path / f"b{number}"
        shutil.copytree(source, bundle, ignore=shutil.ignore_patterns("expected_state.json"))
        log = bundle / "trace.jsonl"
        nul = path.replace(b".json", b"\\u0000.json")
        log.write_bytes(log.read_bytes().replace(b'"path":"' + path, b'"path":"' + nul))
        result = reduce_and_compare(bundle, codex_bin(2) or "", timeout=60)
        assert result.same_text, result.explain()
