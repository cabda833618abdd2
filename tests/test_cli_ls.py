"""``rollout-trace ls ROOT`` (``rollout_trace_sdk/_cli_ls.py``): each bundle's row (start,
status, threads, size, its task under it), the same facts as JSON (``--json``), a start no
date can say, and what it refuses. Bundles recorded as in ``test_cli_sources`` (its ``root``
fixture: an older bundle with two threads, a newer one with a failed call); how a log's
head and tail are read: ``test_cli_sources.py``; the status column: ``test_cli_sources_status.py``."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.test_cli_sources import _newest, _started, root, run

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
            "threads",
            "size_bytes",
            "task",
        ]
        assert text.startswith(row["started"]) and text.split()[2] == row["status"]
        assert text.endswith(Path(row["bundle"]).name[-4:]) or row["bundle"] == str(odd)
        assert isinstance(row["started_at_unix_ms"], int) and isinstance(row["size_bytes"], int)
        assert row["status"] == "complete" and row["rollout_status"] == "completed"
        assert row["task"] == "hi"
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
