"""``view/state_mtime.py``: the times ``summary`` judges ``state.json`` by, kept true by
``reduce`` (the end-to-end case is in ``tests/test_cli_summary.py``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

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
