"""``view/protocol_scan.py``: loading a bundle for the viewer, ``summary`` and the Parquet
export read its log once for every reader of what the state does not keep (error texts,
guardrails, metadata, approvals, cut checkpoints), where each reader read it whole for itself
(four passes for ``view`` and ``export``, two for ``summary``: scan50); and the one pass puts
in what the readers put in one after another."""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.model.layout import EVENT_LOG
from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.reduce import reduce_bundle, state_bytes
from rollout_trace_sdk.reduce.confined import BundleFiles
from rollout_trace_sdk.view.agent_tools import annotate_agent_tools
from rollout_trace_sdk.view.approvals import EVENT, annotate_approvals
from rollout_trace_sdk.view.checkpoints import annotate_cut_checkpoints
from rollout_trace_sdk.view.guardrails import annotate_guardrails
from rollout_trace_sdk.view.load import bundle_state
from rollout_trace_sdk.view.payloads import annotate_tool_errors
from rollout_trace_sdk.view.rollout_metadata import annotate_metadata
from rollout_trace_sdk.view.turn_errors import annotate_logged_errors

TRIPPED = "Guardrail tripwire triggered: rude"


async def _record(root: Path) -> Path:
    """A rollout with something for every reader: metadata, a failed model call, a turn a
    tripped guardrail failed (its event says no error: the turn's says it), a call waiting
    for an approval."""
    async with open_rollout(root, model="m", metadata={"episode": 7}) as rollout:
        thread = rollout.root
        turn = thread.turn()
        where = {"thread_id": thread.thread_id, "codex_turn_id": turn.turn_id}
        turn.inference([]).failed("the model is down")
        call = turn.tool_call("call_1", "get_weather")
        body = {"tool_call_id": call.tool_call_id, "call_id": "call_1", "status": "pending"}
        thread.protocol_event(EVENT, {**body, "thread_id": thread.thread_id})
        call.left_open()
        thread.protocol_event("agents_sdk_guardrail", {"name": "rude", "triggered": True, **where})
        turn.end("failed", error=TRIPPED)
        rollout.add_metadata(reward=1.5)
    assert rollout.bundle_dir is not None
    return rollout.bundle_dir


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return anyio.run(_record, tmp_path / "traces")


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each full read of a bundle's log by a reader (the reduction reads it otherwise), as
    it starts: the real reading goes on."""
    started: list[str] = []
    real = BundleFiles.iter_lines

    def counted(self: BundleFiles, relpath: str, *, what: str) -> Iterator[bytes]:
        if relpath == EVENT_LOG:
            started.append(relpath)
        return real(self, relpath, what=what)

    monkeypatch.setattr(BundleFiles, "iter_lines", counted)
    return started


def _reduced(bundle: Path) -> dict[str, Any]:
    state: dict[str, Any] = orjson.loads(state_bytes(reduce_bundle(bundle)))
    return state


def test_loading_a_bundle_reads_its_log_once(bundle: Path, passes: list[str]) -> None:
    state = bundle_state(_reduced(bundle), bundle, None)
    assert len(passes) == 1
    turn = next(iter(state["codex_turns"].values()))
    assert turn["error_text"] == TRIPPED
    assert [(g["name"], g["error"]) for g in turn["guardrails"]] == [("rude", TRIPPED)]
    assert state["rollout_metadata"] == {"episode": 7, "reward": 1.5}
    assert [t.get("approval") for t in state["tool_calls"].values()] == ["pending"]
    [call] = state["inference_calls"].values()
    assert call["error_text"] == "the model is down"


def test_summary_and_the_parquet_export_read_the_log_once(
    bundle: Path, passes: list[str], tmp_path: Path
) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["summary", "--json", str(bundle)], out=out, err=err) == 0, err.getvalue()
    assert len(passes) == 1
    summary = orjson.loads(out.getvalue())
    assert summary["rollout"]["metadata"] == {"episode": 7, "reward": 1.5}
    assert TRIPPED in out.getvalue() and "the model is down" in out.getvalue()
    passes.clear()
    command = ["export", str(bundle), "--to", str(tmp_path / "tables")]
    assert main(command, out=io.StringIO(), err=err) == 0, err.getvalue()
    assert len(passes) == 1


def test_the_one_pass_puts_in_what_each_reader_put_in_alone(bundle: Path) -> None:
    """The readers as they ran before, each its own pass in ``bundle_state``'s order (a
    guardrail then took its turn's error, read by the pass before), give the same state."""
    reduced = _reduced(bundle)
    alone = copy.deepcopy(reduced)
    annotate_logged_errors(alone, bundle)
    annotate_tool_errors(alone, bundle)
    annotate_guardrails(alone, bundle)
    annotate_agent_tools(alone, bundle)
    annotate_metadata(alone, bundle)
    annotate_approvals(alone, bundle)
    annotate_cut_checkpoints(alone, bundle)
    assert bundle_state(reduced, bundle, None) == alone
