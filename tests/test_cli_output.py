"""Where ``reduce -o`` writes: regular files are replaced atomically with mode 0600; anything
else the user named (a device, a FIFO, ``-``, a symlink) is written in place, never replaced."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.reduce.test_bundle import make_bundle
from tests.test_cli import run


@pytest.fixture
def state(tmp_path: Path) -> bytes:
    """The bytes ``reduce`` writes for the small bundle (to a fresh regular file)."""
    bundle = make_bundle(tmp_path)
    assert run("reduce", bundle, "-o", tmp_path / "reference.json")[0] == 0
    return (tmp_path / "reference.json").read_bytes()


def _device(path: Path) -> Path:
    """A null character device at ``path`` (the same device as /dev/null), or skip."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("creating a device node needs root")
    return path


def test_a_regular_output_is_private_and_replaced_atomically(tmp_path: Path, state: bytes) -> None:
    out = tmp_path / "out" / "s.json"
    out.parent.mkdir()
    out.write_bytes(b"old")
    os.chmod(out, 0o644)
    code, printed, _ = run("reduce", tmp_path / "bundle", "-o", out)
    assert code == 0 and printed == f"{out}\n"
    assert out.read_bytes() == state
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # the state holds prompts and outputs
    assert os.listdir(out.parent) == ["s.json"]  # no temporary file left behind


def test_a_device_is_written_in_place_not_replaced(tmp_path: Path, state: bytes) -> None:
    null = _device(tmp_path / "null")
    before = null.stat()
    assert run("reduce", tmp_path / "bundle", "-o", null)[0] == 0
    after = os.lstat(null)
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino
    assert sorted(os.listdir(tmp_path)) == ["bundle", "null", "reference.json"]


def test_dev_null_stays_a_device(tmp_path: Path) -> None:
    if not stat.S_ISCHR(os.stat("/dev/null").st_mode):
        pytest.skip("/dev/null is not a device here")
    bundle = make_bundle(tmp_path)
    # A private device node first: only if it survives is the real /dev/null risked (a
    # regression here would otherwise replace the machine's /dev/null).
    probe = _device(tmp_path / "probe")
    assert run("reduce", bundle, "-o", probe)[0] == 0
    assert stat.S_ISCHR(os.lstat(probe).st_mode), "refusing to risk /dev/null"
    assert run("reduce", bundle, "-o", "/dev/null")[0] == 0
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_a_fifo_is_written_in_place(tmp_path: Path, state: bytes) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as handle:
            received.append(handle.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert run("reduce", tmp_path / "bundle", "-o", fifo)[0] == 0
    reader.join(timeout=120)
    assert received == [state]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_dash_writes_to_standard_output_only(tmp_path: Path, state: bytes) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rollout_trace_sdk", "reduce", str(tmp_path / "bundle"), "-o", "-"],
        capture_output=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == state
    assert not (tmp_path / "-").exists()


def test_a_symlinked_output_is_written_through_and_both_entries_stay(
    tmp_path: Path, state: bytes
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "target.json"
    target.write_bytes(b"old content, longer than the state: " + b"x" * len(state))
    inode = target.stat().st_ino
    link = tmp_path / "link.json"
    os.symlink(target, link)
    assert run("reduce", tmp_path / "bundle", "-o", link)[0] == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.stat().st_ino == inode and target.read_bytes() == state
    assert os.listdir(elsewhere) == ["target.json"]


def test_a_symlink_to_a_device_leaves_the_device(tmp_path: Path, state: bytes) -> None:
    null = _device(tmp_path / "null")
    os.symlink(null, tmp_path / "link")
    assert run("reduce", tmp_path / "bundle", "-o", tmp_path / "link")[0] == 0
    assert stat.S_ISCHR(os.lstat(null).st_mode) and (tmp_path / "link").is_symlink()


def test_a_dangling_symlink_is_an_error_not_a_new_file(tmp_path: Path, state: bytes) -> None:
    os.symlink(tmp_path / "nowhere" / "x.json", tmp_path / "link")
    code, _, err = run("reduce", tmp_path / "bundle", "-o", tmp_path / "link")
    assert code == 1 and "No such file or directory" in err
    assert (tmp_path / "link").is_symlink()


def test_the_default_output_never_writes_through_the_bundles_own_entries(
    tmp_path: Path, state: bytes
) -> None:
    """BUNDLE/state.json is in an untrusted directory: a symlink there is replaced, not
    followed (as root it could point at /etc/passwd); a FIFO there is replaced, not waited on."""
    bundle = tmp_path / "bundle"
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    os.symlink(victim, bundle / "state.json")
    assert run("reduce", bundle)[0] == 0
    assert victim.read_bytes() == b"precious"
    assert not (bundle / "state.json").is_symlink()
    assert (bundle / "state.json").read_bytes() == state
    (bundle / "state.json").unlink()
    os.mkfifo(bundle / "state.json")
    assert run("reduce", bundle)[0] == 0
    assert (bundle / "state.json").read_bytes() == state


def test_a_path_that_is_not_utf8_is_printed_not_fatal(tmp_path: Path) -> None:
    # the state was written, then printing its name on a strict UTF-8 stdout failed
    bundle = make_bundle(tmp_path)
    odd = tmp_path / os.fsdecode(b"bad\xffname")
    bundle.rename(odd)
    done = subprocess.run(
        [sys.executable, "-m", "rollout_trace_sdk", "reduce", odd],
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith(b"bad\\udcffname/state.json\n")
    assert (odd / "state.json").is_file()


def _closed(fd: int, *argv: str | Path) -> subprocess.CompletedProcess[bytes]:
    """Run the CLI with descriptor ``fd`` (1 or 2) closed, as ``>&-`` or ``2>&-`` leave it;
    the other one captured."""
    return subprocess.run(
        [sys.executable, "-m", "rollout_trace_sdk", *map(str, argv)],
        stdout=subprocess.PIPE if fd == 2 else None,
        stderr=subprocess.PIPE if fd == 1 else None,
        preexec_fn=lambda: os.close(fd),
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("command", ["ls", "validate", "show", "summary"])
def test_a_closed_standard_output_is_an_error_not_silence(tmp_path: Path, command: str) -> None:
    """``>&-``: Python's ``sys.stdout`` is then ``None``, and ``print`` to it prints nowhere:
    ``ls`` and ``validate`` exited 0 having shown nothing, ``show`` and ``summary`` ended in an
    internal error (``'NoneType' object has no attribute 'isatty'``)."""
    bundle = make_bundle(tmp_path)
    done = _closed(1, command, tmp_path if command == "ls" else bundle)
    assert done.returncode == 1
    assert done.stderr.endswith(f"rollout-trace {command}: standard output is closed\n".encode())


@pytest.mark.parametrize("named", ["-", "/dev/stdout", "/dev/fd/1"])
@pytest.mark.parametrize("command", ["reduce", "view", "export"])
def test_a_closed_standard_output_named_by_dash_is_said_so(
    tmp_path: Path, command: str, named: str
) -> None:
    """``reduce -o - >&-`` said Codex's ``Error: write -`` / ``Bad file descriptor (os error
    9)`` where every other command says standard output is closed (found by review user35);
    ``-o /dev/stdout`` (or ``/dev/fd/1``) then said ``No such file or directory``, the link's
    target being a descriptor that is not there, and ``view`` worded either as ``cannot write
    -: ...`` (polish35): one sentence, whichever way standard output is named."""
    bundle = make_bundle(tmp_path)
    done = _closed(1, command, bundle, "-o", named)
    assert done.returncode == 1
    assert done.stderr == f"rollout-trace {command}: standard output is closed\n".encode()


def test_a_closed_standard_error_keeps_messages_out_of_the_output(tmp_path: Path) -> None:
    """``2>&-``: ``print(file=None)`` writes to standard output, so ``summary --json``'s note
    ("summary: reduced ... (no state.json ...)") came out ahead of the JSON."""
    bundle = make_bundle(tmp_path)
    done = _closed(2, "summary", bundle, "--json")
    assert done.returncode == 0
    assert done.stdout.startswith(b"{")
    done = _closed(2, "reduce", tmp_path / "missing", "-o", "-")
    assert (done.returncode, done.stdout) == (1, b"")
