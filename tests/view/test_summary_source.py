"""Where the summary's state and error texts come from (view/summary_source.py): a
``state.json`` used only when it is up to date and its bundle's, parsed only as far as the
summary reads, and the failures' texts read from the bundle's log and payloads (a real
recording, both schemas, and the Codex corpora's failed and interrupted turns)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.reduce import reduce_bundle, state_bytes
from rollout_trace_sdk.view.summary import build_summary
from rollout_trace_sdk.view.summary_source import (
    failure_texts,
    fresh_state,
    load_summary_state,
    parse_for_summary,
)

from ..conftest import (
    ENDED_BADLY,
    codex_turn_texts,
)


@pytest.fixture
def bundle(demo_bundle: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(demo_bundle, copy, symlinks=True)
    (copy / "state.json").unlink(missing_ok=True)
    (copy / "view.html").unlink(missing_ok=True)
    return copy


def _reduce_into(bundle: Path) -> bytes:
    data = state_bytes(reduce_bundle(bundle))
    (bundle / "state.json").write_bytes(data)
    return data


def test_an_up_to_date_state_is_read_and_a_stale_one_is_not(bundle: Path) -> None:
    assert fresh_state(bundle) == (None, "no state.json")
    data = _reduce_into(bundle)
    state, why = fresh_state(bundle)
    assert state is not None and "newer" in why
    assert build_summary(state) == build_summary(orjson.loads(data))
    later = os.stat(bundle / "state.json").st_mtime_ns + 1_000_000
    os.utime(bundle / "trace.jsonl", ns=(later, later))
    assert fresh_state(bundle) == (None, "state.json is older than trace.jsonl")


def test_a_newer_payload_makes_the_state_stale(bundle: Path) -> None:
    _reduce_into(bundle)
    later = os.stat(bundle / "state.json").st_mtime_ns + 1_000_000
    payload = sorted((bundle / "payloads").iterdir())[-1]
    os.utime(payload, ns=(later, later))
    assert fresh_state(bundle) == (None, f"state.json is older than payloads/{payload.name}")


def test_a_state_of_another_bundle_is_not_used(bundle: Path) -> None:
    data = orjson.loads(_reduce_into(bundle))
    data["trace_id"] = "someone-else"
    (bundle / "state.json").write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    state, why = fresh_state(bundle)
    assert state is None and "trace_id differs" in why


def test_a_symlinked_state_is_not_followed(bundle: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes(_reduce_into(bundle))
    (bundle / "state.json").unlink()
    (bundle / "state.json").symlink_to(elsewhere)
    state, why = fresh_state(bundle)
    assert state is None and why.startswith("state.json unusable")


def test_load_says_what_it_did(bundle: Path) -> None:
    loaded = load_summary_state(str(bundle), lenient=False, err=io.StringIO())
    assert loaded.how.startswith(f"reduced {bundle} (no state.json;")
    _reduce_into(bundle)
    loaded = load_summary_state(str(bundle), lenient=False, err=io.StringIO())
    assert loaded.how == f"read {bundle}/state.json (state.json is newer than the bundle's files)"
    assert loaded.bundle == bundle


def test_parsing_only_what_the_summary_reads_gives_the_same_summary(demo_state: Any) -> None:
    raw = orjson.dumps(demo_state, option=orjson.OPT_INDENT_2)
    parsed = parse_for_summary(raw)
    assert "raw_payloads" not in parsed and "conversation_items" not in parsed
    assert build_summary(parsed) == build_summary(demo_state)
    assert parse_for_summary(orjson.dumps(demo_state)) == demo_state  # compact: parsed whole


def test_one_agents_summary_from_a_state_file_counts_the_edges_its_items_anchor(
    bundle: Path, demo_state: Any
) -> None:
    """An interaction edge anchored on conversation items is an agent's only through the
    items' ``thread_id``: with ``--thread``, reading ``state.json`` without its items counted
    1 edge of /root's 2 and none of the helper's 2 (found by review: the multi-agent
    conformance bundle's agents lost their ``agent_result`` edges)."""
    raw = _reduce_into(bundle)
    paths = [t["agent_path"] for t in demo_state["threads"].values()]
    for source in (str(bundle), str(bundle / "state.json")):
        for path in paths:
            loaded = load_summary_state(source, lenient=False, err=io.StringIO(), thread=path)
            assert loaded.how.startswith("read "), loaded.how
            got = build_summary(loaded.state, thread=path)["totals"]["interaction_edges"]
            assert got == build_summary(demo_state, thread=path)["totals"]["interaction_edges"]
    # without --thread the items are not needed, and still not parsed
    assert "conversation_items" not in parse_for_summary(raw)


def test_a_failed_tool_makes_the_items_parsed_for_its_error(demo_state: Any) -> None:
    state = orjson.loads(orjson.dumps(demo_state))
    state["tool_calls"]["call_0_sum"]["execution"]["status"] = "failed"
    parsed = parse_for_summary(orjson.dumps(state, option=orjson.OPT_INDENT_2))
    assert build_summary(parsed) == build_summary(state)
    (failure,) = build_summary(parsed)["failures"]
    assert failure["id"] == "call_0_sum" and failure["error"]


_RECORD = """
import sys, anyio
from rollout_trace_sdk.record import open_rollout

async def main(root):
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}
    call_item = {"type": "function_call", "name": "exec_command", "call_id": "c1", "arguments": "{}"}
    async with open_rollout(root, model="m-1") as rollout, rollout.root.turn() as turn:
        history = turn.accept(user)
        async with turn.inference({"model": "m-1", "input": history}) as call:
            call.failed("HTTP 503: upstream overloaded")
        async with turn.inference({"model": "m-1", "input": history}) as call:
            history += call.completed(output_items=[call_item])
        async with turn.tool_call("c1", "exec_command", arguments="{}") as tool:
            tool.failed("permission denied: /etc/shadow")
    print(rollout.bundle_dir)

anyio.run(main, sys.argv[1])
"""


@pytest.mark.parametrize("schema", ["2", "3"])
def test_error_texts_come_from_the_log_and_the_result_payload(tmp_path: Path, schema: str) -> None:
    """A real recording (both schemas): the inference error is only in trace.jsonl, the tool's
    only in its raw result payload."""
    done = subprocess.run(
        [sys.executable, "-c", _RECORD, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "ROLLOUT_TRACE_SCHEMA": schema},
    )
    bundle = Path(done.stdout.strip())
    state = orjson.loads(state_bytes(reduce_bundle(bundle)))
    texts = failure_texts(bundle, state)
    assert sorted(texts.values()) == [
        "HTTP 503: upstream overloaded",
        "permission denied: /etc/shadow",
    ]
    errors = [f["error"] for f in build_summary(state, errors=texts)["failures"]]
    assert errors == ["HTTP 503: upstream overloaded", "permission denied: /etc/shadow"]
    assert failure_texts(tmp_path / "missing", state) == {}
    # the state file named inside its bundle: the texts are read from the bundle as well
    from rollout_trace_sdk.cli import main

    (bundle / "state.json").write_bytes(state_bytes(reduce_bundle(bundle)))
    out = io.StringIO()
    assert main(["summary", str(bundle / "state.json")], out=out, err=io.StringIO()) == 0
    assert "HTTP 503: upstream overloaded" in out.getvalue(), out.getvalue()


def test_a_failed_turns_error_is_read_from_its_protocol_events(stopped_bundle: Path) -> None:
    """A failed turn (an Agents SDK run past ``max_turns``, a tripped guardrail) and its
    failed thread said "(no error text was recorded)": the text is in the turn's ``error``
    and ``turn_complete`` protocol events, which the state does not keep (found by review
    viewfix19)."""
    from rollout_trace_sdk.cli import main

    from .conftest import TURN_ERROR

    for source in (stopped_bundle, stopped_bundle / "state.json"):
        if source.name == "state.json":
            source.write_bytes(state_bytes(reduce_bundle(stopped_bundle)))
        out = io.StringIO()
        assert main(["summary", str(source), "--json"], out=out, err=io.StringIO()) == 0
        failures = orjson.loads(out.getvalue())["failures"]
        assert [(f["type"], f["error"]) for f in failures] == [
            ("thread", TURN_ERROR),
            ("turn", TURN_ERROR),
        ]
        out = io.StringIO()
        assert main(["summary", str(source)], out=out, err=io.StringIO()) == 0
        assert "no error text" not in out.getvalue() and TURN_ERROR in out.getvalue()


@pytest.mark.parametrize(
    "bundle", ENDED_BADLY, ids=[f"{b.parents[1].name}/{b.parent.name}" for b in ENDED_BADLY]
)
def test_codexs_failed_turns_read_with_codexs_text(bundle: Path) -> None:
    """The corpora's failed and interrupted turns: the summary gives each Codex's text."""
    state = orjson.loads(state_bytes(reduce_bundle(bundle)))
    expected = codex_turn_texts(bundle)
    turns = [
        t["codex_turn_id"]
        for t in state["codex_turns"].values()
        if t["execution"]["status"] in ("failed", "cancelled", "aborted")
    ]
    assert turns and set(turns) <= set(expected)
    failures = build_summary(state, errors=failure_texts(bundle, state))["failures"]
    shown = {f["id"]: f["error"] for f in failures if f["type"] == "turn"}
    assert shown == {turn: expected[turn] for turn in turns}


def test_a_state_file_inside_its_bundle_is_read_with_the_bundle(
    bundle: Path, tmp_path: Path
) -> None:
    """``summary BUNDLE/state.json`` read the state as a file alone: an inference call's
    error text, in the bundle's log, was "not in a state file alone", though docs/reducing.md
    says a state inside its bundle gets it, and ``show`` does (found by review). The bundle is
    used when the state is its rollout's; another rollout's state is read alone."""
    raw = _reduce_into(bundle)
    loaded = load_summary_state(str(bundle / "state.json"), lenient=False, err=io.StringIO())
    assert loaded.bundle == bundle and loaded.how == f"read {bundle}/state.json"
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes(raw)
    assert load_summary_state(str(elsewhere), lenient=False, err=io.StringIO()).bundle is None
    other = orjson.loads(raw)
    other["trace_id"] = "someone-else"
    (bundle / "other.json").write_bytes(orjson.dumps(other))
    loaded = load_summary_state(str(bundle / "other.json"), lenient=False, err=io.StringIO())
    assert loaded.bundle is None


def test_summary_reads_the_approvals_in_its_one_pass_over_the_log(tmp_path: Path) -> None:
    """``summary`` of a bundle whose Agents SDK calls waited for approvals: its pass over the
    log (``log_facts``) puts each call's ``approval`` on it, as ``load_state`` does for show
    and the page, so the totals count them (text and ``--json``; agents51)."""
    import anyio

    from rollout_trace_sdk.cli import main

    from .test_approvals import record_approvals

    bundle = anyio.run(record_approvals, tmp_path)
    out = io.StringIO()
    assert main(["summary", str(bundle), "--json"], out=out, err=io.StringIO()) == 0
    counts = orjson.loads(out.getvalue())["totals"]["tool_calls"]
    assert counts["by_approval"] == {"approved": 1, "pending": 1, "rejected": 1}
    out = io.StringIO()
    assert main(["summary", str(bundle)], out=out, err=io.StringIO()) == 0
    assert (
        "  approvals            1 waiting for approval, 1 approved, 1 rejected\n" in out.getvalue()
    )
