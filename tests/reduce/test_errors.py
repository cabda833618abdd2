"""``ReduceError``: what ``codex debug trace-reduce`` prints, byte for byte (``codex_text``),
and where we say it happened (``location``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk.model.events import RawPayloadRef
from rollout_trace_sdk.model.state import state_bytes
from rollout_trace_sdk.reduce import reduce_bundle, replay_source
from rollout_trace_sdk.reduce.bundle import Bundle, LocatedEvent
from rollout_trace_sdk.reduce.errors import ReduceError
from tests.reduce.builder import Scenario


def test_every_line_of_a_cause_is_indented() -> None:
    """anyhow writes a cause through an indenter: each line after a newline starts with four
    spaces too (an empty one included; a carriage return is no line end). Codex 0.169's text
    for a payload type written ``"a\\n\\nb\\r\\nc"`` (found by the string differential: the
    second line was not indented)."""
    cause = "unknown variant `a\n\nb\r\nc`, expected one of `recording_completed`"
    error = ReduceError("parse trace event line 8", cause=cause)
    assert error.codex_text() == (
        "Error: parse trace event line 8\n\nCaused by:\n"
        "    unknown variant `a\n    \n    b\r\n    c`, expected one of `recording_completed`"
    )


def test_a_one_line_cause() -> None:
    error = ReduceError("read trace event line 7", cause="stream did not contain valid UTF-8")
    assert error.codex_text() == (
        "Error: read trace event line 7\n\nCaused by:\n    stream did not contain valid UTF-8"
    )


class _Importer:
    """An importer's own reader (``replay_source``'s documented use): a bundle's events and
    payloads without the bundle's display names."""

    def __init__(self, bundle: Bundle) -> None:
        self._bundle = bundle
        self.manifest = bundle.manifest

    def events(self) -> Iterator[LocatedEvent]:
        return self._bundle.events()

    def load_payload(self, ref: RawPayloadRef) -> Any:
        return self._bundle.load_payload(ref)

    def read_payload_bytes(self, ref: RawPayloadRef) -> bytes:
        return self._bundle.read_payload_bytes(ref)

    def load_request(self, ref: RawPayloadRef, known: Any) -> Any:
        return self._bundle.load_request(ref, known)

    def check_registered(self, refs: dict[str, RawPayloadRef], completed: bool) -> None:
        self._bundle.check_registered(refs, completed)


def test_a_source_without_a_log_name_locates_its_errors_by_line_and_seq(tmp_path: Path) -> None:
    """``replay_source`` (public, for an importer's reader) reduces as ``reduce_bundle`` does,
    and with no log to name, its refusal still says where: ``line N, seq N``. Nothing
    called it; dropping the line from ``location`` when no file is known passed (mut30)."""
    scenario = Scenario(tmp_path / "bundle")
    scenario.begin()
    scenario.end_turn()
    scenario.finish()
    with Bundle.open(scenario.flush()) as bundle:
        state = state_bytes(replay_source(_Importer(bundle)))
    assert state == state_bytes(reduce_bundle(scenario.flush()))

    broken = Scenario(tmp_path / "broken")
    broken.begin()
    broken.end_turn(turn_id="turn-unknown")
    with Bundle.open(broken.flush()) as bundle, pytest.raises(ReduceError) as info:
        replay_source(_Importer(bundle))
    assert (info.value.file, info.value.line, info.value.seq) == (None, 4, 4)
    assert info.value.location() == "line 4, seq 4"
    assert str(info.value) == f"{info.value.message} (line 4, seq 4)"
