"""``view.state_shape``: a state file with a value of the wrong type is refused naming where,
before any command shows it (it failed halfway with "internal error")."""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.view.state_shape import state_shape_error
from tests.conftest import CONFORMANCE, CONFORMANCE_V3


def test_states_codex_wrote_have_the_shape() -> None:
    states = sorted(CONFORMANCE.glob("*/trace-*/expected_state.json"))
    states += sorted(CONFORMANCE_V3.glob("*/trace-*/expected_state.json"))
    if not states:
        pytest.skip("the conformance corpora are not present")
    for path in states:
        assert state_shape_error(orjson.loads(path.read_bytes())) is None, path


def _first(state: Any, collection: str) -> Any:
    return next(iter(state[collection].values()))


#: (command, where the wrong value goes, the value, what the error names)
CASES = [
    ("show", ("conversation_items", "produced_by"), True, "produced_by: expected a list"),
    ("summary", ("tool_calls", "thread_id"), {}, "thread_id: expected a string, found a map"),
    ("view", ("conversation_items", "first_seen_at_unix_ms"), "x", "expected an integer"),
    ("export", ("inference_calls", "usage"), {"input_tokens": []}, "usage.input_tokens"),
]


@pytest.mark.parametrize(("command", "where", "value", "named"), CASES)
def test_a_wrong_type_is_refused_naming_where(
    demo_state: Any, tmp_path: Path, command: str, where: tuple[str, str], value: Any, named: str
) -> None:
    state = copy.deepcopy(demo_state)
    _first(state, where[0])[where[1]] = value
    source = tmp_path / "state.json"
    source.write_bytes(orjson.dumps(state))
    argv = [command, str(source)] + (["-o", str(tmp_path / "out")] if command == "export" else [])
    out, err = io.StringIO(), io.StringIO()
    assert main(argv, out=out, err=err) == 1
    text = err.getvalue()
    assert f"{source} is not a reduced state" in text and named in text
    assert "internal error" not in text
