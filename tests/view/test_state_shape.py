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


def _generic_tool(state: Any) -> tuple[str, Any]:
    return next(
        (ident, tool)
        for ident, tool in state["tool_calls"].items()
        if tool["summary"]["type"] == "generic"
    )


@pytest.mark.parametrize("command", ["show", "summary", "view"])
@pytest.mark.parametrize(
    ("key", "value", "found"),
    [
        ("input_preview", 5, "an integer"),
        ("output_preview", ["x"], "a list"),
        ("label", 1.5, "a number"),
    ],
)
def test_a_tool_summary_is_checked_as_the_variant_its_tag_names(
    demo_state: Any, tmp_path: Path, command: str, key: str, value: Any, found: str
) -> None:
    """A generic summary's preview that is no text (fuzz29: ``show`` failed with "internal
    error: 'int' object has no attribute 'rstrip'") is refused naming where, as any other
    value of the wrong type; the summary was only asked to be a map."""
    state = copy.deepcopy(demo_state)
    ident, tool = _generic_tool(state)
    tool["summary"][key] = value
    source = tmp_path / "state.json"
    source.write_bytes(orjson.dumps(state))
    argv = [command, str(source)] + (["-o", str(tmp_path / "out")] if command == "view" else [])
    out, err = io.StringIO(), io.StringIO()
    assert main(argv, out=out, err=err) == 1
    text = err.getvalue()
    assert f"tool_calls.{ident}.summary.{key}: expected a string, found {found}" in text
    assert "internal error" not in text


def test_a_summary_of_a_tag_no_codex_writes_is_read(demo_state: Any, tmp_path: Path) -> None:
    """An unknown tag is an open vocabulary (left to the readers): such a summary is read,
    whatever its fields hold."""
    state = copy.deepcopy(demo_state)
    _, tool = _generic_tool(state)
    tool["summary"] = {"type": "future", "input_preview": 5}
    assert state_shape_error(state) is None
    tool["summary"] = {"type": "terminal", "operation_id": 7}
    assert "summary.operation_id: expected a string, found an integer" in (
        state_shape_error(state) or ""
    )
    tool["summary"] = {"type": "generic", "label": "x", "input_preview": None}
    assert state_shape_error(state) is None


@pytest.mark.parametrize("command", ["show", "summary", "view", "export"])
@pytest.mark.parametrize(("end", "value"), [("source", {}), ("target", ["x"])])
def test_an_edge_anchor_is_checked_by_the_id_key_its_type_names(
    demo_state: Any, tmp_path: Path, command: str, end: str, value: Any
) -> None:
    """An anchor keeps its id under ``item_id``, ``tool_call_id`` or ``thread_id`` (its
    ``type`` says which), not under the model's ``id``: one that is a map or a list went
    unchecked, and ``show``, ``view`` and ``export`` failed looking it up (fuzz29: "internal
    error: TypeError: unhashable type: 'dict'"). Now refused naming where."""
    state = copy.deepcopy(demo_state)
    ident, edge = next(iter(state["interaction_edges"].items()))
    anchor = edge[end]
    key = next(k for k in anchor if k != "type")
    anchor[key] = value
    source = tmp_path / "state.json"
    source.write_bytes(orjson.dumps(state))
    argv = [command, str(source)]
    argv += ["-o", str(tmp_path / "out")] if command in ("view", "export") else []
    out, err = io.StringIO(), io.StringIO()
    assert main(argv, out=out, err=err) == 1
    text = err.getvalue()
    assert f"interaction_edges.{ident}.{end}.{key}: expected a string" in text
    assert "internal error" not in text


def test_a_tag_that_is_no_text_is_refused(demo_state: Any) -> None:
    state = copy.deepcopy(demo_state)
    _, tool = _generic_tool(state)
    tool["summary"]["type"] = {"a": 1}
    assert "summary.type: expected a string, found a map" in (state_shape_error(state) or "")
    state = copy.deepcopy(demo_state)
    edge = next(iter(state["interaction_edges"].values()))
    edge["source"]["type"] = ["x"]
    assert "source.type: expected a string, found a list" in (state_shape_error(state) or "")
