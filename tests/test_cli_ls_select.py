"""The words ``ls``'s options take (``rollout_trace_sdk/_cli_ls_select.py``): statuses,
times, a folder's root thread id, and which status a ``--status`` list takes in. What the
options list on a root of bundles: ``test_cli_ls.py``."""

from __future__ import annotations

import argparse
import datetime
import time

import pytest

from rollout_trace_sdk._cli_ls_select import (
    folder_thread,
    matches,
    meta_filter,
    meta_matches,
    moment,
    status_list,
    thread_prefix,
)
from rollout_trace_sdk._log_status import LogStatus


def test_status_words_are_what_ls_prints_spelled_for_a_shell() -> None:
    """``no log`` is ``no-log`` (either spelling taken); a comma list's blanks are no word."""
    assert status_list("no log, recording,") == {"no-log", "recording"}
    with pytest.raises(argparse.ArgumentTypeError, match="'done' is no status"):
        status_list("complete,done")


@pytest.mark.parametrize(
    ("status", "outcome", "wanted", "taken"),
    [
        ("complete", "failed", {"failed"}, True),  # ls prints it "complete (failed)"
        ("ended", "aborted", {"aborted"}, True),
        ("complete", "completed", {"failed", "aborted"}, False),
        ("complete", None, {"closed"}, True),
        ("unclosed", None, {"closed"}, True),
        ("recording", None, {"closed"}, False),
        ("no log", None, {"no-log"}, True),
        ("recording", None, {"recording", "torn"}, True),
        ("complete", None, {"lossy"}, False),
        ("complete (lossy)", None, {"lossy"}, True),  # ls prints it "complete (lossy)"
        ("ended (lossy)", "failed", {"complete"}, False),
    ],
)
def test_a_status_list_takes_statuses_outcomes_lossy_and_closed(
    status: str, outcome: str | None, wanted: set[str], taken: bool
) -> None:
    word, lossy = status.removesuffix(" (lossy)"), status.endswith(" (lossy)")
    assert matches(LogStatus(word, outcome, lossy), frozenset(wanted)) is taken


def test_status_failed_takes_a_rollout_whose_last_turn_failed() -> None:
    """``ls`` prints it ``complete (failed turn)`` (Codex ends the rollout ``completed``)."""
    turn_failed = LogStatus("complete", "completed", last_turn_failed=True)
    assert matches(turn_failed, frozenset({"failed"}))
    assert not matches(turn_failed, frozenset({"aborted", "lossy"}))
    # still recorded: the agent may go on with another turn, so no failed run yet (ls still
    # prints "recording (failed turn)": review48)
    live = LogStatus("recording", None, last_turn_failed=True)
    assert not matches(live, frozenset({"failed"}))
    assert matches(live, frozenset({"recording"}))


def test_a_time_is_a_duration_back_from_now_or_an_iso_moment() -> None:
    """Units add up (``1h30m``); ``Z`` and an offset are the zone; a date alone is midnight."""
    before = int(time.time() * 1000)
    assert before - 5_400_000 - 1000 <= moment("1h30m") <= before - 5_400_000 + 1000
    assert moment("2026-12-01T09:30Z") == moment("2026-12-01T11:30+02:00") == 1_796_117_400_000
    local = datetime.datetime(2026, 12, 1).astimezone().timestamp() * 1000
    assert moment("2026-12-01") == local
    for bad in ("7", "7 d", "-2h", "2026-02-30", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="is no duration"):
            moment(bad)


def test_the_root_thread_id_is_what_follows_the_trace_id_in_the_folder_name() -> None:
    trace = "0aa3cc0c-6064-4c0c-aa8f-6abac4f4370f"
    assert folder_thread(f"trace-{trace}-req-7-a") == "req-7-a"
    assert folder_thread(f"trace-{trace}-t1-redacted") == "t1-redacted"
    assert folder_thread("trace-short-t1") == folder_thread("copy of it") == ""


def test_an_empty_thread_id_is_refused() -> None:
    """``--thread ""`` was the start of every id: it listed every bundle (and with
    ``--before 7d -0 | xargs rm`` removed them) where one request's rollout was asked for."""
    assert thread_prefix("019a") == "019a"
    with pytest.raises(argparse.ArgumentTypeError, match="root thread id"):
        thread_prefix("")


@pytest.mark.parametrize("text", ["1.10", "0.50", "1e3", " 17", "1.0", "-0"])
def test_meta_finds_a_value_recorded_as_text_by_the_text_given(text: str) -> None:
    """``--meta version=1.10`` finds a version recorded as the text ``"1.10"``: the value
    is read as JSON (the number 1.1), and a value recorded as text is compared with the text
    as given, not with that number written again (``1.1``), which lost it (review50)."""
    wanted = [meta_filter(f"version={text}")]
    assert meta_matches({"version": text}, wanted)
    assert not meta_matches({"version": text + "0"}, wanted)
