"""Hostile bundles, and the one check every command must pass on them.

Shared by the fast fuzz tests (``tests/reduce/test_hostile_fuzz.py``) and the long run
(``benchmarks/fuzz_bundles.py``). A case is a name and a function that lays a hostile bundle
out under a scratch directory; ``scale`` sizes the big ones (1 in CI, 40 in the long run: a
5 MB line becomes a 200 MB one).

The contract checked (``verdict``): each of ``reduce``, ``reduce --lenient``, ``validate`` and
``summary`` ends within its timeout with exit 0, 1 or 2; a failure is our clean message, never a
Python traceback and never "internal error"; and nothing outside the bundle is opened
(``outside_opens`` reads an ``strace -f -y`` log).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import socket
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import zstandard

from rollout_trace_sdk.model import codec
from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.reduce.shards import decompress_shard
from tests.codex_oracle import bundle_schema
from tests.reduce.test_bundle import ROLLOUT, TRACE, event_lines, make_bundle

COMMANDS: tuple[tuple[str, ...], ...] = (
    ("reduce",),
    ("reduce", "--lenient"),
    ("validate",),
    ("summary",),
    ("view",),
    ("show",),
    ("export", "--format", "perfetto"),
    ("export", "--format", "otlp"),
    ("convert", "--to", "3"),
    ("redact",),
)
#: Where each writing command puts its output, beside ``reduce``'s state.json.
_OUTPUTS: dict[tuple[str, ...], str] = {
    ("view",): "view.html",
    ("export", "--format", "perfetto"): "trace.perfetto.json",
    ("export", "--format", "otlp"): "otlp.jsonl",
    ("convert", "--to", "3"): "converted",
    ("redact",): "redacted",
}
#: What a decoy outside the bundle contains; seeing it in any output means it was read.
SECRET = "decoy-secret-7f3a"

Builder = Callable[[Path, int], Path]


def argv(command: tuple[str, ...], bundle: Path, out: Path) -> list[str]:
    """The CLI arguments for ``command`` on ``bundle`` (``reduce`` writes to ``out``, the
    other writing commands beside it; ``convert`` to the schema the bundle is not, as its own
    is refused)."""
    if command[0] == "reduce":
        return [*command, str(bundle), "-o", str(out)]
    if command in _OUTPUTS:
        written = list(command)
        if command[0] == "convert":
            written[-1] = str(5 - _schema(bundle))
        return [*written, str(bundle), "-o", str(out.parent / _OUTPUTS[command])]
    return [*command, str(bundle)]


def _schema(bundle: Path) -> int:
    """The schema a hostile bundle declares, read only from a regular manifest (a FIFO there
    would block the test's own process), else 2."""
    try:
        regular = stat.S_ISREG((bundle / "manifest.json").lstat().st_mode)
    except OSError:
        regular = False
    return bundle_schema(bundle) if regular else 2


#: the line the CLI writes when a command ends in an internal error (``cli.main``). Only that
#: message: a bundle's own texts (a tool's output saying "HTTP 500 internal error", as a real
#: MCP server's may), which ``show`` and ``view`` print, are not one of ours
_INTERNAL_ERROR = re.compile(r"rollout-trace [\w-]+: internal error: ")


def verdict(code: int | None, text: str) -> str | None:
    """Why a run broke the contract, or None. ``code`` None means it timed out."""
    if code is None:
        return "hung (timed out)"
    if code not in (0, 1, 2):
        return f"exit code {code}"
    if "Traceback (most recent call last)" in text:
        return "Python traceback"
    if _INTERNAL_ERROR.search(text):
        return "internal error"
    if code != 0 and not text.strip():
        return "failed without a message"
    if SECRET in text:
        return "printed a file from outside the bundle"
    return None


# --- the crafted cases --------------------------------------------------------------------------


def _decoys(scratch: Path) -> Path:
    """A directory beside the bundle with files a hostile bundle may point at."""
    outside = scratch / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.json").write_text(f'{{"{SECRET}": true}}')
    (outside / "trace.jsonl").write_bytes(event_lines())
    (outside / "1.json").write_text(f'{{"model": "{SECRET}"}}')
    return outside


def _base(scratch: Path) -> Path:
    _decoys(scratch)
    return make_bundle(scratch)


def _line(payload: ev.EventPayload, seq: int, thread: str | None = None) -> bytes:
    return codec.event_line(ev.TraceEvent(2, seq, 1_000 + seq, ROLLOUT, thread, None, payload))


def _with_extra(line: bytes, extra: bytes) -> bytes:
    """An event line with one unknown field whose value is ``extra`` (Codex ignores it)."""
    return line.rstrip(b"\n")[:-1] + b',"extra":' + extra + b"}\n"


def _lines(bundle: Path) -> list[bytes]:
    return (bundle / "trace.jsonl").read_bytes().splitlines(keepends=True)


def _set_lines(bundle: Path, lines: list[bytes]) -> None:
    (bundle / "trace.jsonl").write_bytes(b"".join(lines))


def _replace_path(bundle: Path, old: str, new: str) -> None:
    log = bundle / "trace.jsonl"
    log.write_bytes(log.read_bytes().replace(f'"{old}"'.encode(), codec_str(new)))


def codec_str(text: str) -> bytes:
    """``text`` as a JSON string literal (NUL and all)."""
    import orjson

    return orjson.dumps(text)


def _garbage(scratch: Path, scale: int) -> Path:
    bundle = _base(scratch)
    (bundle / "trace.jsonl").write_bytes(os.urandom(64_000 * scale))
    return bundle


def _not_utf8(scratch: Path, scale: int) -> Path:
    bundle = _base(scratch)
    lines = _lines(bundle)
    lines[2] = b'{"schema_version":2,"seq":3,"x":"\xff\xfe\xc0\x80"}\n'
    _set_lines(bundle, lines)
    return bundle


def _huge_line(scratch: Path, scale: int) -> Path:
    """One event line of 5 MB × scale (a string in an ignored field), streamed to disk."""
    bundle = _base(scratch)
    lines = _lines(bundle)
    size = 5_000_000 * scale
    head = lines[0].rstrip(b"\n")[:-1] + b',"extra":"'
    with (bundle / "trace.jsonl").open("wb") as log:
        log.write(head)
        chunk = b"a" * 1_000_000
        for _ in range(size // len(chunk)):
            log.write(chunk)
        log.write(b'"}\n')
        log.writelines(lines[1:])
    return bundle


def _huge_line_no_newline(scratch: Path, scale: int) -> Path:
    bundle = _base(scratch)
    with (bundle / "trace.jsonl").open("ab") as log:
        chunk = b"x" * 1_000_000
        for _ in range(5 * scale):
            log.write(chunk)
    return bundle


def _deep_line(scratch: Path, scale: int) -> Path:
    bundle = _base(scratch)
    lines = _lines(bundle)
    lines[0] = _with_extra(lines[0], b"[" * 100_000 + b"]" * 100_000)
    _set_lines(bundle, lines)
    return bundle


def _deep_payloads(scratch: Path, scale: int) -> Path:
    bundle = _base(scratch)
    (bundle / "payloads" / "1.json").write_bytes(b'{"a":' * 100_000 + b"1" + b"}" * 100_000)
    (bundle / "payloads" / "2.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)
    return bundle


def _huge_numbers(scratch: Path, scale: int) -> Path:
    bundle = _base(scratch)
    lines = _lines(bundle)
    lines[0] = _with_extra(lines[0], b"-" + b"9" * 100_000)
    lines[1] = _with_extra(lines[1], b"1e999999999")
    lines[2] = lines[2].replace(b'"seq":3', b'"seq":' + b"3" * 5_000)
    _set_lines(bundle, lines)
    (bundle / "payloads" / "1.json").write_bytes(b'{"n": ' + b"7" * 50_000 + b".5e-99999}")
    return bundle


def _huge_seq(scratch: Path, scale: int) -> Path:
    bundle = _base(scratch)
    lines = _lines(bundle)
    lines[0] = lines[0].replace(b'"seq":1', b'"seq":18446744073709551616')
    _set_lines(bundle, lines)
    return bundle


def _huge_strings(scratch: Path, scale: int) -> Path:
    bundle = _base(scratch)
    big = "\u00e9\u4e2d\U0001f600" * (500_000 * scale)
    (bundle / "payloads" / "1.json").write_bytes(codec.pretty_bytes({"model": big}))
    lines = _lines(bundle)
    lines[1] = lines[1].replace(b'"/root"', codec_str("/" + big[: 100_000 * scale]))
    _set_lines(bundle, lines)
    return bundle


def _duplicate_ids(scratch: Path, scale: int) -> Path:
    """The same thread and turn started twice, one payload id naming two paths, a line
    repeated."""
    bundle = _base(scratch)
    first = ev.RawPayloadRef("raw_payload:1", "session_metadata", "payloads/1.json")
    second = ev.RawPayloadRef("raw_payload:1", "session_metadata", "payloads/2.json")
    payloads: list[ev.EventPayload] = [
        ev.RolloutStarted(TRACE, ROLLOUT),
        ev.ThreadStarted(ROLLOUT, "/root", first),
        ev.ThreadStarted(ROLLOUT, "/root", second),
        ev.CodexTurnStarted("t", ROLLOUT),
        ev.CodexTurnStarted("t", ROLLOUT),
        ev.CodexTurnEnded("t", "completed"),
    ]
    lines = [_line(p, n, ROLLOUT if n > 1 else None) for n, p in enumerate(payloads, start=1)]
    _set_lines(bundle, [*lines, lines[-1]])
    return bundle


def _payload_path(path: str) -> Builder:
    def build(scratch: Path, scale: int) -> Path:
        bundle = _base(scratch)
        _replace_path(bundle, "payloads/1.json", path)
        return bundle

    build.__name__ = f"payload path {path!r}"
    return build


def _symlink(entry: str, target: Callable[[Path], Path | str]) -> Builder:
    def build(scratch: Path, scale: int) -> Path:
        bundle = _base(scratch)
        where = bundle / entry
        if where.is_dir():
            shutil.rmtree(where)
        else:
            where.unlink()
        os.symlink(target(scratch), where)
        return bundle

    return build


def _special(entry: str, kind: str) -> Builder:
    """``entry`` replaced by a FIFO, a directory, a socket, an empty file or a device."""

    def build(scratch: Path, scale: int) -> Path:
        bundle = _base(scratch)
        where = bundle / entry
        if where.is_dir():
            shutil.rmtree(where)
        elif where.exists():
            where.unlink()
        if kind == "fifo":
            os.mkfifo(where)
        elif kind == "dir":
            where.mkdir()
        elif kind == "empty":
            where.write_bytes(b"")
        elif kind == "socket":
            # bound by a relative name: a socket's path may not pass ~107 bytes, and a
            # deep temporary folder's can
            here = os.getcwd()
            os.chdir(where.parent)
            try:
                with socket.socket(socket.AF_UNIX) as sock:
                    sock.bind(where.name)
            finally:
                os.chdir(here)
        elif kind == "zero-device":
            try:
                os.mknod(where, stat.S_IFCHR | 0o666, os.makedev(1, 5))
            except PermissionError:
                os.mkfifo(where)  # without root, the nearest thing that would never end
        return bundle

    return build


def _many_threads(scratch: Path, scale: int) -> Path:
    """Thousands of threads (each started, one turn, ended): big maps, many ids."""
    bundle = _base(scratch)
    count = 1_000 * scale
    lines = [_line(ev.RolloutStarted(TRACE, ROLLOUT), 1)]
    seq = 1
    for n in range(count):
        thread = ROLLOUT if n == 0 else f"thread-{n:07d}"
        for payload in (
            ev.ThreadStarted(thread, f"/root/{n}", None),
            ev.CodexTurnStarted(f"turn-{n}", thread),
            ev.CodexTurnEnded(f"turn-{n}", "completed"),
            ev.ThreadEnded(thread, "completed"),
        ):
            seq += 1
            lines.append(_line(payload, seq, thread))
    lines.append(_line(ev.RolloutEnded("completed"), seq + 1))
    lines.append(_line(ev.RecordingCompleted(), seq + 2))
    _set_lines(bundle, lines)
    shutil.rmtree(bundle / "payloads")
    (bundle / "payloads").mkdir()
    return bundle


def _bundle_is_a_file(scratch: Path, scale: int) -> Path:
    _decoys(scratch)
    path = scratch / "bundle"
    path.write_bytes(b"not a directory")
    return path


def _bundle_through_symlink(scratch: Path, scale: int) -> Path:
    bundle = _base(scratch)
    alias = scratch / "alias"
    os.symlink(bundle, alias)
    return alias


def crafted_cases() -> Iterator[tuple[str, Builder]]:
    """Every crafted case, by name."""
    yield "garbage log", _garbage
    yield "invalid UTF-8 line", _not_utf8
    yield "huge line", _huge_line
    yield "huge line without newline", _huge_line_no_newline
    yield "100,000-deep line", _deep_line
    yield "100,000-deep payloads", _deep_payloads
    yield "huge numbers", _huge_numbers
    yield "seq beyond u64", _huge_seq
    yield "huge strings", _huge_strings
    yield "duplicate ids", _duplicate_ids
    yield "thousands of threads", _many_threads
    for path in (
        "../outside/secret.json",
        "/etc/passwd",
        "/dev/zero",
        "payloads/../../outside/1.json",
        "payloads/1.json\0.txt",
        "",
        ".",
        "payloads/",
        "payloads/1.json/x",
        "\\..\\outside\\1.json",
    ):
        yield f"payload path {path!r}", _payload_path(path)
    yield "log symlinked outside", _symlink("trace.jsonl", lambda s: s / "outside" / "trace.jsonl")
    yield "log symlinked to /dev/zero", _symlink("trace.jsonl", lambda s: "/dev/zero")
    yield (
        "manifest symlinked outside",
        _symlink("manifest.json", lambda s: s / "outside" / "secret.json"),
    )
    yield "payloads dir symlinked outside", _symlink("payloads", lambda s: s / "outside")
    yield (
        "payload symlinked outside",
        _symlink("payloads/1.json", lambda s: s / "outside" / "1.json"),
    )
    yield (
        "payload symlinked inside",
        _symlink("payloads/1.json", lambda s: s / "bundle" / "payloads" / "2.json"),
    )
    yield "dangling symlink log", _symlink("trace.jsonl", lambda s: s / "nowhere")
    for entry in ("manifest.json", "trace.jsonl", "payloads/1.json", "payloads/2.json"):
        for kind in ("fifo", "dir", "socket", "empty", "zero-device"):
            yield f"{entry} is a {kind}", _special(entry, kind)
    yield "payloads is a file", _special("payloads", "empty")
    yield "bundle is a file", _bundle_is_a_file
    yield "bundle reached through a symlink", _bundle_through_symlink


#: Cases too slow for CI at scale 1 are none today; the long run raises the scale.
FAST_SCALE = 1


# --- reading strace ---------------------------------------------------------------------------

_OPEN = re.compile(r"\b(?:open|openat|openat2)\(.*\)\s+=\s+(\d+)<([^>]*)>")


def outside_opens(strace_log: str, bundle: Path, allowed: list[Path]) -> list[str]:
    """Files a traced run opened (successfully) that it had no business opening.

    Forbidden: anything under ``scratch`` (the bundle's parent) other than the bundle itself
    and ``allowed`` (the output), and any device but /dev/null and /dev/urandom (/dev/zero is
    the classic way to make a reader eat memory), and the decoy system files hostile paths
    name. The runtime's own files (Python, its libraries) are fine.
    """
    scratch = bundle.parent.resolve()
    inside = [bundle.resolve(), *(p.resolve() for p in allowed)]
    bad: list[str] = []
    for match in _OPEN.finditer(strace_log):
        path = match.group(2)
        resolved = Path(path)
        # /dev/shm is a tmpfs of plain files (the tests' temporary folder may be there)
        device = (
            path.startswith("/dev/")
            and not path.startswith("/dev/shm/")
            and path not in ("/dev/null", "/dev/urandom")
        )
        beside = resolved.is_relative_to(scratch) and not any(
            resolved == p or resolved.is_relative_to(p) for p in inside
        )
        if device or beside or path in ("/etc/passwd", "/etc/hostname"):
            bad.append(path)
    return bad


# --- running the CLI in this process, with a hang alarm ----------------------------------------


class _Hung(BaseException):
    """Raised by the alarm; a BaseException so the CLI's own ``except Exception`` lets it by."""


def run_in_process(args: list[str], timeout: float) -> tuple[int | None, str]:
    """``rollout-trace ARGS`` through ``cli.main`` here; (exit code or None if it hung, output).

    The alarm (SIGALRM) interrupts even a blocking ``open`` of a FIFO. Main thread only."""
    import io
    import signal

    from rollout_trace_sdk.cli import main

    def ring(signum: int, frame: object) -> None:
        raise _Hung

    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        code: int | None = main(args, out=out, err=err)
    except _Hung:
        code = None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return code, out.getvalue() + err.getvalue()


# --- random mutations of real bundles ------------------------------------------------------------

#: Values spliced over a JSON scalar: wrong types, extremes, hostile paths.
HOSTILE_VALUES: tuple[bytes, ...] = (
    b"null",
    b"true",
    b"{}",
    b"[]",
    b'""',
    b"-1",
    b"0",
    b"1e999",
    b"-" + b"9" * 5_000,
    b"18446744073709551616",
    b"1.5",
    b'"\\ud800"',
    b'"\\u0000"',
    b'"../outside/secret.json"',
    b'"/etc/passwd"',
    b'"/dev/zero"',
    b'"payloads"',
    b'"raw_payload:1"',
    b"[" * 300 + b"]" * 300,
    b'"' + b"x" * 100_000 + b'"',
)
_SCALAR = re.compile(rb'"(?:[^"\\\n]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null')


def mutate(bundle: Path, rng: random.Random) -> str:
    """Damage one file of ``bundle`` in one of a dozen ways; returns what was done. A schema-3
    shard is as often damaged inside (decompressed, damaged, compressed again: its records and
    template bodies) as on disk."""
    files = sorted(p for p in bundle.rglob("*") if p.is_file() and p.name != "expected_state.json")
    target = rng.choice(files)
    data = target.read_bytes()
    inner = None
    if target.suffix == ".zst" and rng.random() < 0.5:
        with contextlib.suppress(zstandard.ZstdError):  # damaged on disk already
            inner = decompress_shard(data)[0]
    if inner is not None:
        shard = target.with_suffix(".raw")
        shard.write_bytes(inner)
        try:
            done = _damage(shard, inner, rng, str(target.relative_to(bundle)))
            target.write_bytes(zstandard.ZstdCompressor().compress(shard.read_bytes()))
        finally:
            shard.unlink()
        return f"{done}, inside"
    return _damage(target, data, rng, str(target.relative_to(bundle)))


def _damage(target: Path, data: bytes, rng: random.Random, shown: str) -> str:
    op = rng.choice(
        ["flip", "truncate", "insert", "splice", "splice", "splice", "dup", "drop", "swap", "nul"]
    )
    at = rng.randrange(len(data) + 1)
    lines = data.splitlines(keepends=True)
    if op == "flip" and data:
        index = min(at, len(data) - 1)
        data = data[:index] + bytes([data[index] ^ (1 << rng.randrange(8))]) + data[index + 1 :]
    elif op == "truncate":
        data = data[:at]
    elif op == "insert":
        data = data[:at] + rng.randbytes(rng.randrange(1, 16)) + data[at:]
    elif op == "nul":
        data = data[:at] + b"\0" + data[at:]
    elif op == "splice":
        scalars = list(_SCALAR.finditer(data))
        if scalars:
            hit = rng.choice(scalars)
            data = data[: hit.start()] + rng.choice(HOSTILE_VALUES) + data[hit.end() :]
    elif op in ("dup", "drop", "swap") and lines:
        i = rng.randrange(len(lines))
        if op == "dup":
            lines.insert(i, lines[i])
        elif op == "drop":
            del lines[i]
        else:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        data = b"".join(lines)
    target.write_bytes(data)
    return f"{op} {shown} at {at}"
