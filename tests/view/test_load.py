"""Loading the reduced state the viewer's commands read: a bundle, or a state file."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout_trace_sdk.reduce.errors import ReduceError
from rollout_trace_sdk.view.load import load_state


def test_load_state_reads_a_state_file_and_refuses_other_json(
    demo_bundle: Path, tmp_path: Path
) -> None:
    state_file = tmp_path / "state.json"
    from rollout_trace_sdk.reduce import reduce_bundle, state_bytes

    state_file.write_bytes(state_bytes(reduce_bundle(demo_bundle)))
    assert load_state(state_file) == load_state(demo_bundle)
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    with pytest.raises(ReduceError, match="not a reduced state"):
        load_state(other)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ReduceError, match="parse state"):
        load_state(broken)
