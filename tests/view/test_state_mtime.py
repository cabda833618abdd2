"""``view/state_mtime.py``: the times ``summary`` judges ``state.json`` by, kept true by
``reduce`` (the end-to-end case is in ``tests/test_cli_summary.py``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from rollout_trace_sdk.view.state_mtime import date_back_if_moved, inputs_newest, inputs_seen


def _bundle(demo_bundle: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(demo_bundle, copy)
    (copy / "state.json").write_text("{}")
    return copy


def test_a_state_of_a_still_bundle_keeps_its_time(demo_bundle: Path, tmp_path: Path) -> None:
    bundle = _bundle(demo_bundle, tmp_path)
    before = inputs_seen(bundle)
    written = os.stat(bundle / "state.json").st_mtime_ns
    date_back_if_moved(bundle, str(bundle / "state.json"), before)
    assert os.stat(bundle / "state.json").st_mtime_ns == written


def test_a_state_of_a_bundle_that_moved_is_dated_back(demo_bundle: Path, tmp_path: Path) -> None:
    bundle = _bundle(demo_bundle, tmp_path)
    before = inputs_seen(bundle)
    assert before is not None
    log = bundle / "trace.jsonl"
    later = before[0] + 10**9
    os.utime(log, ns=(later, later))  # the recorder wrote on
    elsewhere = tmp_path / "other.json"
    elsewhere.write_text("{}")
    kept = os.stat(elsewhere).st_mtime_ns
    date_back_if_moved(bundle, str(elsewhere), before)  # not the bundle's state: left alone
    assert os.stat(elsewhere).st_mtime_ns == kept
    date_back_if_moved(bundle, str(bundle / "state.json"), before)
    assert os.stat(bundle / "state.json").st_mtime_ns == before[0]
    date_back_if_moved(bundle, "-", before)  # standard output: nothing to date


def test_a_state_of_a_bundle_that_moved_within_a_tick_is_dated_back(
    demo_bundle: Path, tmp_path: Path
) -> None:
    """A file system keeps times in ticks (a jiffy, a second on some, two on FAT): the log
    appended to in the tick the reduction began in keeps its time. Told by its size, the
    state is still dated back (it was not: newer than the log, summary took the state of
    the shorter log for the bundle as it is)."""
    bundle = _bundle(demo_bundle, tmp_path)
    log = bundle / "trace.jsonl"
    tick = os.stat(log).st_mtime_ns + 10**9
    os.utime(log, ns=(tick, tick))
    before = inputs_seen(bundle)
    assert before is not None and before[0] == tick
    with log.open("ab") as handle:  # the recorder wrote on, in the same tick
        handle.write(b"\n")
    os.utime(log, ns=(tick, tick))
    state = bundle / "state.json"
    os.utime(state, ns=(tick + 10**9, tick + 10**9))  # written after the append
    date_back_if_moved(bundle, str(state), before)
    assert os.stat(state).st_mtime_ns == tick


def test_a_bundle_without_payloads_can_tell_one_without_its_log_cannot(
    demo_bundle: Path, tmp_path: Path
) -> None:
    """No ``payloads`` folder at all is nothing to be newer than: the log and manifest
    still date the bundle. A missing log or manifest is "cannot tell" (``summary`` then does
    not trust a ``state.json``). Swapping the two cases passed every test (mutation
    audit): a payload-less bundle's state was never trusted, one without its log always."""
    bundle = _bundle(demo_bundle, tmp_path)
    shutil.rmtree(bundle / "payloads")
    log = os.stat(bundle / "trace.jsonl").st_mtime_ns
    os.utime(bundle / "manifest.json", ns=(log - 10**9, log - 10**9))
    assert inputs_newest(bundle) == (log, "trace.jsonl")
    (bundle / "trace.jsonl").unlink()
    assert inputs_newest(bundle) == (None, "trace.jsonl")


def test_a_bundle_named_any_way_notes_the_same_inputs(
    demo_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inputs are named by joining strings (not a Path per payload): a trailing slash, a
    relative path or the current directory name the same files, each payload by its inode."""
    bundle = _bundle(demo_bundle, tmp_path)
    seen = inputs_seen(bundle)
    assert seen is not None
    names = [name for name, *_ in seen[1]]
    assert names[:3] == ["manifest.json", "trace.jsonl", "payloads"]
    payloads = sorted(os.listdir(bundle / "payloads"))
    assert payloads and names[3:] == [f"payloads/{name}" for name in payloads]
    first = bundle / "payloads" / payloads[0]
    assert seen[1][3][1:] == (first.stat().st_ino, first.stat().st_size, first.stat().st_mtime_ns)
    monkeypatch.chdir(tmp_path)
    assert inputs_seen(Path(f"{bundle}/")) == seen
    assert inputs_seen(Path("bundle")) == seen
    monkeypatch.chdir(bundle)
    assert inputs_seen(Path(".")) == seen
    assert inputs_seen(Path("")) == seen
