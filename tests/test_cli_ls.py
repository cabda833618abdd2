"""``rollout-trace ls ROOT`` (``rollout_trace_sdk/_cli_ls.py``): each bundle's row (start,
status, threads, size, its task under it), the same facts as JSON (``--json``), a start no
date can say, and what it refuses; which bundles its options pick (``_cli_ls_select.py``:
``--status``, ``--since`` / ``--before``, ``--thread``, ``--meta``, ``--limit``, paths alone with ``-1`` /
``-0``) on a root of 300 bundles, and the clean-up docs/recording.md gives, run. Bundles
recorded as in ``test_cli_sources`` (its ``root`` fixture: an older bundle with two threads,
a newer one with a failed call); how a log's head and tail are read:
``test_cli_sources.py``; the status column: ``test_cli_sources_status.py``; the options'
words: ``test_cli_ls_select.py``."""

from __future__ import annotations

import datetime
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.held_log import counted_scans, held_open, needs_proc, unclosed_bundle
from tests.test_cli_sources import _bundle, _newest, _started, root, run

__all__ = ["root"]  # the fixture, shared with test_cli_sources


def test_ls_lists_status_threads_and_size(root: Path) -> None:
    newest = _newest(root)
    torn = root / "torn"
    shutil.copytree(newest, torn)
    log = (torn / "trace.jsonl").read_bytes()
    (torn / "trace.jsonl").write_bytes(log[:-20])  # cut inside the last line
    unclosed = root / "unclosed"
    shutil.copytree(newest, unclosed)
    lines = (unclosed / "trace.jsonl").read_bytes().splitlines(keepends=True)
    kept = [
        line
        for line in lines
        if b'"rollout_ended"' not in line and b'"recording_completed"' not in line
    ]
    (unclosed / "trace.jsonl").write_bytes(b"".join(kept))
    ended = root / "ended"
    shutil.copytree(newest, ended)
    (ended / "trace.jsonl").write_bytes(b"".join(lines[:-1]))
    # a cut write followed by its newline and a blank line: torn too, not "unclosed" (review)
    garbage = root / "garbage"
    shutil.copytree(newest, garbage)
    (garbage / "trace.jsonl").write_bytes(b"".join(lines[:-2]) + lines[-2][:30] + b"\n\n")

    code, out, _ = run("ls", root)
    assert code == 0
    rows = out.splitlines()
    assert rows[0].split() == ["STARTED", "(UTC)", "STATUS", "THREADS", "SIZE", "BUNDLE"]
    assert rows[2::2] == [" " * 21 + "hi"] * 6  # each bundle's task, under its row
    by_name = {Path(row.split()[-1]).name: row for row in rows[1::2]}
    assert len(by_name) == 6
    assert " torn " in by_name["torn"] and " torn " in by_name["garbage"]
    assert " unclosed " in by_name["unclosed"]
    assert " ended " in by_name["ended"]
    assert " complete " in by_name[newest.name] and " KB " in by_name[newest.name]
    assert " 2 threads " in rows[-2]  # the oldest last


def test_ls_json_is_one_object_a_bundle_with_what_ls_prints(root: Path) -> None:
    """``ls --json``: a script reads each bundle's facts without parsing columns (review
    cli26): numbers as numbers, the statuses as words, the same rows in the same order."""
    failed = _newest(root)
    # a name that is not UTF-8 (a lone surrogate in Python) and holds a bidi control
    odd = root / os.fsdecode(b"trace-odd\xff\xe2\x80\xae")
    shutil.copytree(failed, odd)
    code, out, err = run("ls", root, "--json")
    assert code == 0 and err == ""
    assert "\u202e" not in out and "\udcff" not in out  # escaped, never raw
    text_rows = run("ls", root)[1].splitlines()[1::2]
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == len(text_rows) == 3
    for row, text in zip(rows, text_rows, strict=True):
        assert list(row) == [
            "bundle",
            "started",
            "started_at_unix_ms",
            "status",
            "rollout_status",
            "lossy",
            "partial",
            "last_turn_failed",
            "schema_version",
            "threads",
            "size_bytes",
            "task",
            "metadata",
        ]
        assert text.startswith(row["started"]) and text.split()[2] == row["status"]
        assert text.endswith(Path(row["bundle"]).name[-4:]) or row["bundle"] == str(odd)
        assert isinstance(row["started_at_unix_ms"], int) and isinstance(row["size_bytes"], int)
        assert row["status"] == "complete" and row["rollout_status"] == "completed"
        assert row["task"] == "hi" and row["lossy"] is row["partial"] is False
        assert row["schema_version"] == 3  # as recorded (test_cli_sources._record)
        assert row["metadata"] == {}
    by_name = {Path(row["bundle"]).name: row for row in rows}
    assert by_name[odd.name]["size_bytes"] == by_name[failed.name]["size_bytes"] > 0
    assert by_name[failed.name]["threads"] == 1
    assert rows[-1]["threads"] == 2  # the oldest last


def test_ls_of_a_bundle_or_a_file_is_a_usage_error(tmp_path: Path, root: Path) -> None:
    # input refused (1), as reduce refuses a traces root where it needs a bundle
    assert run("ls", _newest(root))[0] == 1
    assert run("ls", tmp_path / "nope")[0] == 1


@pytest.mark.parametrize("start", [2**64 - 1, -(2**63), 253_402_300_800_000, -62_135_596_800_001])
def test_a_start_no_date_can_say_is_listed_without_one(root: Path, start: int) -> None:
    """A manifest's start past year 9999 or before year 1 (u64's and i64's extremes, as the
    number differential writes them) made ``ls`` an internal error (``year 584556019 is out
    of range``; fuzz28). The row says ``-`` (JSON ``started`` null) and keeps the number;
    its columns stay under the heading's (an unknown start was not padded to the column)."""
    newest = _newest(root)
    manifest = newest / "manifest.json"
    raw = manifest.read_bytes()
    manifest.write_bytes(raw.replace(b"%d" % _started(newest), b"%d" % start, 1))
    code, out, err = run("ls", root)
    assert code == 0 and err == "", err
    header = out.splitlines()[0]
    [row] = [line for line in out.splitlines() if line.endswith(newest.name)]
    assert row.startswith("- ") and row.index("complete") == header.index("STATUS")
    code, out, err = run("ls", root, "--json")
    assert code == 0 and err == "", err
    rows = {Path(row["bundle"]).name: row for row in map(json.loads, out.splitlines())}
    assert (rows[newest.name]["started"], rows[newest.name]["started_at_unix_ms"]) == (None, start)


# --- which bundles: a root of hundreds, as a service fills one ---------------------------------

#: Bundles in :func:`many`: one an hour back from a minute ago (review user37's root held 6,528).
_MANY = 300
_HOUR = 3_600_000
#: Every tenth bundle (from the fourth) lost its closing lines: ``unclosed``.
_UNCLOSED = range(3, _MANY, 10)
#: The bundle whose log is held as its recorder holds it: ``recording``.
_LIVE = 1
#: The bundle whose start no date can say (a u64's largest): unknown to --since / --before.
_NO_DATE = 5


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[int, Path]]]:
    """A root of ``_MANY`` copies of one small bundle, each named as the recorder names one
    (``trace-<uuid>-req-NNNN-<hex>``: its root thread id begins ``req-NNNN``), started
    ``NNNN`` hours and a minute ago; the copies are made, as tests/export/tables_util.py
    makes them, and their manifests' starts edited. Yields the root and the bundles by N."""
    fcntl = pytest.importorskip("fcntl")
    source = _bundle(tmp_path_factory.mktemp("source") / "traces")
    start = _started(source)
    traces = tmp_path_factory.mktemp("many") / "traces"
    now = int(time.time() * 1000) - 60_000
    made: dict[int, Path] = {}
    for n in range(_MANY):
        bundle = traces / f"trace-{uuid.uuid4()}-req-{n:04d}-{uuid.uuid4().hex[:8]}"
        shutil.copytree(source, bundle)
        manifest = bundle / "manifest.json"
        started = 2**64 - 1 if n == _NO_DATE else now - n * _HOUR
        manifest.write_bytes(manifest.read_bytes().replace(b"%d" % start, b"%d" % started, 1))
        if n in _UNCLOSED or n == _LIVE:  # the live one's last lines are not written yet
            log = bundle / "trace.jsonl"
            log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:-2]))
        made[n] = bundle
    held = os.open(made[_LIVE] / "trace.jsonl", os.O_RDWR)
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield traces, made
    finally:
        os.close(held)


def _names(out: str) -> list[str]:
    """The bundles' folder names, in order, from ``ls``'s rows, JSON or paths."""
    lines = out.splitlines()
    if lines and lines[0].startswith("STARTED"):
        return [Path(row.split()[-1]).name for row in lines[1::2]]
    if lines and lines[0].startswith("{"):
        return [Path(json.loads(line)["bundle"]).name for line in lines]
    return [Path(line).name for line in out.replace("\0", "\n").splitlines()]


def _n(names: list[str]) -> list[int]:
    return [int(name.split("-req-")[1][:4]) for name in names]


def _newest_first() -> list[int]:
    return [_NO_DATE, *(n for n in range(_MANY) if n != _NO_DATE)]


def test_limit_lists_the_newest_n(many: tuple[Path, dict[int, Path]]) -> None:
    """``--limit N``: the first N rows ``ls`` lists, as rows, JSON or paths."""
    traces, _ = many
    code, out, err = run("ls", traces)
    assert code == 0 and err == ""
    assert _n(_names(out)) == _newest_first()
    for shown in ([], ["--json"]):
        code, out, err = run("ls", traces, "--limit", "4", *shown)
        assert (code, err) == (0, "")
        assert _n(_names(out)) == _newest_first()[:4]
    code, out, err = run("ls", traces, "--limit", "4", "--paths")  # the live one left out
    assert _n(_names(out)) == [_NO_DATE, 0, 2, 3]
    assert err == "1 bundle still being recorded is not listed (--status recording lists them)\n"


def test_status_picks_by_status_outcome_or_closed(many: tuple[Path, dict[int, Path]]) -> None:
    """``--status``: the statuses ``ls`` prints, a comma list or the option again (any of
    them), and ``closed`` (any but ``recording``)."""
    traces, _ = many
    code, out, err = run("ls", traces, "--status", "unclosed")
    assert (code, err) == (0, "")
    assert _n(_names(out)) == list(_UNCLOSED)
    assert all(row.split()[2] == "unclosed" for row in out.splitlines()[1::2])
    assert _n(_names(run("ls", traces, "--status", "recording")[1])) == [_LIVE]
    both = sorted([_LIVE, *_UNCLOSED])
    for argv in (
        ["--status", "recording,unclosed"],
        ["--status", "unclosed", "--status", "recording"],
    ):
        assert sorted(_n(_names(run("ls", traces, *argv)[1]))) == both
    closed = _n(_names(run("ls", traces, "--status", "closed", "--json")[1]))
    assert closed == [n for n in _newest_first() if n != _LIVE]
    assert run("ls", traces, "--status", "torn")[1:] == (
        "",
        f"no bundle under {traces} matches (of 300 bundles)\n",
    )


def test_since_and_before_take_durations_and_iso_times(
    many: tuple[Path, dict[int, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--since`` / ``--before``: a duration back from now, or an ISO date/time with ``Z``,
    an offset, or none (local time: a zone 5.5 hours from UTC gives the same bundles); a
    start no date can say is not listed, and standard error says so."""
    traces, made = many
    code, out, err = run("ls", traces, "--since", "10h")
    assert code == 0
    assert _n(_names(out)) == [n for n in range(10) if n != _NO_DATE]
    assert err == (
        "1 bundle whose start is unknown is not listed (--since and --before compare starts; "
        "ls without them lists it)\n"
    )
    assert _n(_names(run("ls", traces, "--before", "290h")[1])) == list(range(290, _MANY))
    assert _n(_names(run("ls", traces, "--since", "1d2h", "--before", "20h")[1])) == list(
        range(20, 26)
    )

    def iso(n: int, zone: datetime.tzinfo) -> str:
        moment = datetime.datetime.fromtimestamp(_started(made[n]) / 1000, zone)
        return moment.replace(tzinfo=None).isoformat()

    utc = ["--since", iso(20, datetime.UTC) + "Z", "--before", iso(10, datetime.UTC) + "Z"]
    assert _n(_names(run("ls", traces, *utc)[1])) == list(range(11, 21))
    offset = datetime.timezone(datetime.timedelta(hours=-7))
    assert _n(_names(run("ls", traces, "--since", iso(20, offset) + "-07:00")[1]))[-1] == 20
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        kolkata = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
        local = ["--since", iso(20, kolkata), "--before", iso(10, kolkata)]
        assert _n(_names(run("ls", traces, *local)[1])) == list(range(11, 21))
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    day = datetime.datetime.fromtimestamp(_started(made[100]) / 1000, datetime.UTC).date()
    shown = _n(
        _names(
            run(
                "ls",
                traces,
                "--since",
                f"{day}T00:00Z",
                "--before",
                f"{day + datetime.timedelta(days=1)}T00:00Z",
            )[1]
        )
    )
    assert len(shown) == 24 and 100 in shown


def test_thread_picks_by_the_folders_root_thread_id_or_its_prefix(
    many: tuple[Path, dict[int, Path]],
) -> None:
    """``--thread ID``: the bundle whose folder ends with the root thread id (the docs' way
    of finding one request's rollout), or every one whose id begins with ID; none is no
    error."""
    traces, made = many
    whole = made[42].name.split("-", 6)[-1]
    assert whole.startswith("req-0042-")
    assert _n(_names(run("ls", traces, "--thread", whole)[1])) == [42]
    assert _n(_names(run("ls", traces, "--thread", "req-004")[1])) == list(range(40, 50))
    code, out, err = run("ls", traces, "--thread", made[42].name[:12])  # the trace id is not it
    assert (code, out) == (0, "") and "matches" in err


def test_options_combine_and_json_keeps_its_rows(many: tuple[Path, dict[int, Path]]) -> None:
    """Every option given must hold; ``--json`` prints the picked bundles' whole objects."""
    traces, _ = many
    argv = ["--status", "unclosed,recording", "--since", "100h", "--limit", "3", "--json"]
    code, out, err = run("ls", traces, *argv)
    assert code == 0 and "unknown" in err
    rows = [json.loads(line) for line in out.splitlines()]
    assert _n(_names(out)) == [_LIVE, 3, 13]
    assert [row["status"] for row in rows] == ["recording", "unclosed", "unclosed"]
    assert all(
        row["threads"] == 1 and row["size_bytes"] > 0 and row["task"] == "hi" for row in rows
    )
    assert _n(_names(run("ls", traces, "--thread", "req-01", "--before", "150h", "-1")[1])) == list(
        range(150, 200)
    )


def test_null_paths_feed_the_documented_clean_up(
    many: tuple[Path, dict[int, Path]], tmp_path: Path
) -> None:
    """``ls ROOT --before 7d --status closed -0 | xargs -0 rm -rf --`` (docs/recording.md,
    "Old bundles") removes the bundles started over a week ago, a name with a newline and
    bytes that are not UTF-8 among them, and keeps the newer ones, the one whose start is
    unknown and the one being recorded even when old (``-0`` alone leaves it out too)."""
    fcntl = pytest.importorskip("fcntl")
    traces = tmp_path / "traces"
    shutil.copytree(many[0], traces)
    odd = traces / os.fsdecode(b"trace-odd\nname-\xff")
    (traces / many[1][250].name).rename(odd)
    old_live = traces / many[1][200].name
    log = old_live / "trace.jsonl"
    log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:-2]))
    held = os.open(log, os.O_RDWR)
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        for status in (" --status closed", ""):
            done = subprocess.run(
                f"{shlex.quote(sys.executable)} -m rollout_trace_sdk ls {traces}"
                f" --before 7d{status} -0 | xargs -0 -r rm -rf --",
                shell=True,
                capture_output=True,
                check=False,
                timeout=300,
            )
            assert done.returncode == 0, done.stderr
            kept = sorted(_n(os.listdir(traces)))
            assert kept == sorted({*range(168), _NO_DATE, 200}), kept
    finally:
        os.close(held)
    assert not os.path.lexists(odd)


def test_bad_options_are_usage_errors_naming_the_option_and_text(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A duration or time that is neither, a status ``ls`` never prints, a limit under 1,
    ``--json`` with paths, or ``--since`` not before ``--before``: exit 2, and why."""
    for argv, said in (
        (["--since", "7x"], "argument --since: '7x' is no duration (30m, 2h, 7d) or ISO"),
        (["--before", "yesterday"], "argument --before: 'yesterday' is no duration"),
        (["--before", "2026-13-01"], "argument --before: '2026-13-01' is no duration"),
        (["--status", "complete,done"], "argument --status: 'done' is no status (one of complete,"),
        (["--status", ""], "argument --status: '' is no status"),
        (["--limit", "0"], "argument --limit: '0': must be 1 or more"),
        (["--meta", "=17"], "argument --meta: '=17': give KEY=VALUE, or KEY alone"),
        (["--limit", "x"], "argument --limit: 'x': must be 1 or more"),
        (["--json", "-0"], "argument -0: not allowed with argument --json"),
        (["--since", "1h", "--before", "2h"], "--since is not before --before"),
    ):
        code, out, err = run("ls", root, *argv)
        err += capsys.readouterr().err  # argparse's own errors go to the process's stderr
        assert (code, out) == (2, ""), argv
        assert said in err, (argv, err)


@needs_proc
def test_a_bundle_a_lockless_writer_holds_is_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bundle another process holds open for writing without a lock, as Codex writes its
    own, is ``recording`` (it was ``unclosed``, as if Codex had crashed: review status49):
    ``--status recording`` finds it, ``--paths`` leaves it out as it leaves our recorder's
    out; the unclosed bundle no process holds stays ``unclosed``. ``/proc`` is scanned once
    a command, not once a bundle (the real scan, counted)."""
    traces = tmp_path / "traces"
    traces.mkdir()
    live = unclosed_bundle(traces / "live")
    unclosed_bundle(traces / "left")
    scans = counted_scans(monkeypatch)
    with held_open(live):
        code, out, err = run("ls", traces, "--json")
        assert (code, err) == (0, "")
        rows = {
            Path(row["bundle"]).name: row["status"] for row in map(json.loads, out.splitlines())
        }
        assert rows == {"live": "recording", "left": "unclosed"}
        assert len(scans) == 1
        assert _names(run("ls", traces, "--status", "recording")[1]) == ["live"]
        code, out, err = run("ls", traces, "--paths")
        assert _names(out) == ["left"]
        assert (
            err == "1 bundle still being recorded is not listed (--status recording lists them)\n"
        )
    assert _names(run("ls", traces, "--status", "recording")[1]) == []


def test_meta_picks_the_rollouts_whose_metadata_holds_the_value(tmp_path: Path) -> None:
    """``--meta KEY=VALUE`` (user50: an RL user could not find one episode's bundle): the
    value as JSON when it is, else text; a number equals a number, a boolean only a boolean,
    a value recorded as text its text; ``KEY`` alone any value; each given must hold; and
    ``--json`` lists each row's metadata."""
    import anyio

    from rollout_trace_sdk.record import open_rollout

    root = tmp_path / "traces"

    async def record() -> dict[str, Path]:
        made = {}
        for name, metadata in (
            ("a", {"episode": 17, "task": "sort", "ok": True}),
            ("b", {"episode": "17", "task": "sort"}),
            ("c", {"episode": 18.0, "ok": 1}),
            ("d", {}),
        ):
            async with open_rollout(root, model="m", metadata=metadata) as rollout:
                rollout.add_metadata(name=name)
            assert rollout.bundle_dir is not None
            made[name] = rollout.bundle_dir
        return made

    made = anyio.run(record)
    by_dir = {path.name: name for name, path in made.items()}

    def picked(*meta: str) -> set[str]:
        argv = [arg for m in meta for arg in ("--meta", m)]
        code, out, err = run("ls", root, "--json", *argv)
        assert code == 0, err
        return {by_dir[Path(json.loads(line)["bundle"]).name] for line in out.splitlines()}

    assert picked("episode=17") == {"a", "b"}  # 17, and "17" recorded as text
    assert picked('episode="17"') == {"b"}
    assert picked("episode=18") == {"c"}  # 18.0
    assert picked("task=sort") == {"a", "b"}
    assert picked("ok=true") == {"a"}  # not 1
    assert picked("ok") == {"a", "c"}
    assert picked("task=sort", "ok") == {"a"}
    assert picked("missing") == set()
    code, out, _ = run("ls", root, "--json", "--meta", "name=d")
    assert code == 0
    [row] = [json.loads(line) for line in out.splitlines()]
    assert row["metadata"] == {"name": "d"}
    code, out, _ = run("ls", root, "-1", "--meta", "name=a")
    assert code == 0
    assert [Path(line).name for line in out.splitlines()] == [made["a"].name]


def test_meta_with_json_reads_each_log_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ls --json --meta``: the metadata ``--meta`` read to pick a bundle is the one its row
    prints; each log was read for it twice (a whole pass each)."""
    import anyio

    from rollout_trace_sdk import _cli_ls, _cli_ls_select
    from rollout_trace_sdk.record import open_rollout
    from rollout_trace_sdk.view.rollout_metadata import read_metadata

    root = tmp_path / "traces"

    async def record() -> None:
        for episode in (1, 2):
            async with open_rollout(root, model="m", metadata={"episode": episode}):
                pass

    anyio.run(record)
    reads: list[Path] = []

    def counted(bundle: Path) -> dict[str, Any]:
        reads.append(bundle)
        return read_metadata(bundle)

    monkeypatch.setattr(_cli_ls_select, "read_metadata", counted)
    monkeypatch.setattr(_cli_ls, "read_metadata", counted)
    code, out, err = run("ls", root, "--json", "--meta", "episode")
    assert code == 0, err
    assert sorted(json.loads(line)["metadata"]["episode"] for line in out.splitlines()) == [1, 2]
    assert len(reads) == 2 == len(set(reads))
