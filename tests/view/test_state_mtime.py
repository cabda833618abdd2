"""``view/state_mtime.py``: the times ``summary`` judges ``state.json`` by, kept true by
``reduce`` (the end-to-end case is in ``tests/test_cli_summary.py``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from rollout_trace_sdk.view.state_mtime import date_back_if_moved, inputs_mtime


def _bundle(demo_bundle: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(demo_bundle, copy)
    (copy / "state.json").write_text("{}")
    return copy


def test_a_state_of_a_still_bundle_keeps_its_time(demo_bundle: Path, tmp_path: Path) -> None:
    bundle = _bundle(demo_bundle, tmp_path)
    before = inputs_mtime(bundle)
    written = os.stat(bundle / "state.json").st_mtime_ns
    date_back_if_moved(bundle, str(bundle / "state.json"), before)
    assert os.stat(bundle / "state.json").st_mtime_ns == written


def test_a_state_of_a_bundle_that_moved_is_dated_back(demo_bundle: Path, tmp_path: Path) -> None:
    bundle = _bundle(demo_bundle, tmp_path)
    before = inputs_mtime(bundle)
    assert before is not None
    log = bundle / "trace.jsonl"
    os.utime(log, ns=(before + 10**9, before + 10**9))  # the recorder wrote on
    elsewhere = tmp_path / "other.json"
    elsewhere.write_text("{}")
    kept = os.stat(elsewhere).st_mtime_ns
    date_back_if_moved(bundle, str(elsewhere), before)  # not the bundle's state: left alone
    assert os.stat(elsewhere).st_mtime_ns == kept
    date_back_if_moved(bundle, str(bundle / "state.json"), before)
    assert os.stat(bundle / "state.json").st_mtime_ns == before
    date_back_if_moved(bundle, "-", before)  # standard output: nothing to date
