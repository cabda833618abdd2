"""``Rollout.add_metadata`` and ``open_rollout(metadata=)``: what a user attaches to a rollout
(an episode's id, its reward) is recorded as the ``rollout_metadata`` protocol event, which
both Codex reducers skip, and read back merged (``view/rollout_metadata.py``). An RL user had
no way to find a rollout's episode in the exports but the bundle's folder name (user50)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from rollout_trace_sdk.model.layout import ROLLOUT_METADATA_EVENT
from rollout_trace_sdk.record import RecorderWarning, open_rollout
from rollout_trace_sdk.record.rollout import NULL_ROLLOUT
from rollout_trace_sdk.view.rollout_metadata import read_metadata

from ..codex_oracle import reduced_by_both
from .recorder_support import bundle_in, of_type, payload

pytestmark = pytest.mark.anyio


async def test_metadata_given_at_open_and_added_later_merge_in_order(
    tmp_path: Path, schema: int
) -> None:
    async with open_rollout(tmp_path, metadata={"episode": 7, "task": "sort"}) as rollout:
        async with rollout.root.turn():
            pass
        rollout.add_metadata(reward=0.5)
        rollout.add_metadata({"episode": 8, "task-id": [1, 2]})
    bundle = bundle_in(tmp_path)
    events = [
        e
        for e in of_type(bundle, "protocol_event_observed")
        if e["payload"]["event_type"] == ROLLOUT_METADATA_EVENT
    ]
    assert len(events) == 3
    first = payload(bundle, events[0]["payload"]["event_payload"])
    assert first == {"type": ROLLOUT_METADATA_EVENT, "values": {"episode": 7, "task": "sort"}}
    assert read_metadata(bundle) == {"episode": 8, "task": "sort", "reward": 0.5, "task-id": [1, 2]}
    reduced_by_both(bundle)  # both Codex reducers register the events and skip them


async def test_a_key_named_type_is_kept(tmp_path: Path) -> None:
    """The values sit under ``values``: a user's ``type`` does not clash with the event's."""
    async with open_rollout(tmp_path) as rollout:
        rollout.add_metadata(type="eval", split="test")
    assert read_metadata(bundle_in(tmp_path)) == {"type": "eval", "split": "test"}


async def test_no_metadata_records_no_event(tmp_path: Path) -> None:
    async with open_rollout(tmp_path, metadata={}) as rollout:
        rollout.add_metadata()
        rollout.add_metadata({})
    bundle = bundle_in(tmp_path)
    types = [e["payload"]["event_type"] for e in of_type(bundle, "protocol_event_observed")]
    assert ROLLOUT_METADATA_EVENT not in types
    assert read_metadata(bundle) == {}


async def test_metadata_that_is_not_a_mapping_is_warned_about_not_raised(tmp_path: Path) -> None:
    """The warning names the method called, ``Rollout.add_metadata`` (it said
    ``AgentThread.add_metadata``, a method no user called)."""
    async with open_rollout(tmp_path) as rollout:
        with pytest.warns(RecorderWarning, match=r"Rollout\.add_metadata failed"):
            rollout.add_metadata(5)  # type: ignore[arg-type]
        rollout.add_metadata(episode=1)
    assert read_metadata(bundle_in(tmp_path)) == {"episode": 1}


async def test_a_value_the_encoder_cannot_take_is_recorded_approximately(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecorderWarning)
        async with open_rollout(tmp_path) as rollout:
            rollout.add_metadata(tags={"a"}, seed=1)
    assert read_metadata(bundle_in(tmp_path)) == {"tags": ["a"], "seed": 1}


async def test_the_values_are_taken_when_given(tmp_path: Path) -> None:
    """A dict the agent changes after the call: the recorded values are the call's."""
    values = {"episode": 1}
    async with open_rollout(tmp_path, metadata=values) as rollout:
        values["episode"] = 2
        rollout.add_metadata(values)
        values["reward"] = 1
    assert read_metadata(bundle_in(tmp_path)) == {"episode": 2}


async def test_a_disabled_rollout_records_nothing() -> None:
    async with open_rollout(None, enabled=False, metadata={"episode": 1}) as rollout:
        assert rollout is NULL_ROLLOUT
        rollout.add_metadata(reward=1)


def test_metadata_that_is_not_a_mapping_is_refused_at_open(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="metadata must be a mapping"):
        open_rollout(tmp_path, metadata=[("episode", 1)])  # type: ignore[arg-type]


async def test_metadata_added_after_the_rollout_closed_is_warned_about(tmp_path: Path) -> None:
    """A reward computed after the ``async with`` block (``rollout.add_metadata(reward=r)``
    once the episode is scored) reaches no bundle: it was dropped without a word, as no other
    call made after its owner's end is; it gives one ``RecorderWarning`` now (review50)."""
    async with open_rollout(tmp_path, metadata={"episode": 1}) as rollout:
        pass
    with pytest.warns(RecorderWarning, match="metadata added after the rollout closed"):
        rollout.add_metadata(reward=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecorderWarning)  # once
        rollout.add_metadata(reward=0.6)
    assert read_metadata(bundle_in(tmp_path)) == {"episode": 1}
