"""``view/guardrails.py``: a guardrail's protocol event reaches the turn it names, and one
that names none (recorded before the processor wrote the turn) or a turn the state does not
have is left out rather than put in a guessed turn; a malformed entry in a state file is
passed over by the view model."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import anyio

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.view.item_text import MOST_TEXTS
from rollout_trace_sdk.view.load import load_state
from rollout_trace_sdk.view.model import build_view_model


async def _record(root: Path) -> tuple[Path, str]:
    async with open_rollout(root, model="m") as rollout, rollout.root.turn() as turn:
        thread = rollout.root
        thread.protocol_event("agents_sdk_guardrail", {"name": "old", "triggered": False})
        for name, turn_id in (("ok", turn.turn_id), ("elsewhere", "no-such-turn")):
            body = {"name": name, "triggered": False, "codex_turn_id": turn_id}
            thread.protocol_event("agents_sdk_guardrail", {**body, "thread_id": thread.thread_id})
    assert rollout.bundle_dir is not None
    return rollout.bundle_dir, turn.turn_id


def test_each_guardrail_reaches_the_turn_it_names(tmp_path: Path) -> None:
    bundle, turn_id = anyio.run(_record, tmp_path)
    state: dict[str, Any] = load_state(bundle)
    turn = state["codex_turns"][turn_id]
    assert [(g["name"], g["triggered"]) for g in turn["guardrails"]] == [("ok", False)]
    assert isinstance(turn["guardrails"][0]["at_unix_ms"], int)
    turn["guardrails"].append("not an object")
    [record] = build_view_model(state)["turns"]
    assert [g[:2] for g in record["g"]] == [["ok", False]]


async def _record_malformed(root: Path) -> tuple[Path, str]:
    """Guardrail events whose bodies name their turn with something other than an id (a
    protocol event's body is the agent's: any JSON)."""
    async with open_rollout(root, model="m") as rollout, rollout.root.turn() as turn:
        thread = rollout.root
        for turn_id in ([turn.turn_id], {"id": turn.turn_id}, 7):
            body = {"name": "odd", "triggered": False, "codex_turn_id": turn_id}
            thread.protocol_event("agents_sdk_guardrail", body)
        body = {"name": {"n": 1}, "triggered": "yes", "codex_turn_id": turn.turn_id}
        thread.protocol_event("agents_sdk_guardrail", body)
    assert rollout.bundle_dir is not None
    return rollout.bundle_dir, turn.turn_id


def test_a_guardrail_naming_its_turn_with_no_id_is_left_out(tmp_path: Path) -> None:
    """A turn id that is a list or an object (unhashable) was looked up as a key: ``show``
    and the viewer stopped with ``internal error: TypeError: unhashable type`` (review26)."""
    bundle, turn_id = anyio.run(_record_malformed, tmp_path)
    state: dict[str, Any] = load_state(bundle)
    turn = state["codex_turns"][turn_id]
    assert [(g["name"], g["triggered"]) for g in turn["guardrails"]] == [("guardrail", False)]


async def _record_many(root: Path, count: int) -> tuple[Path, str]:
    async with open_rollout(root, model="m") as rollout, rollout.root.turn() as turn:
        for n in range(count):
            body = {"name": f"g{n}", "triggered": False, "codex_turn_id": turn.turn_id}
            rollout.root.protocol_event("agents_sdk_guardrail", body)
    assert rollout.bundle_dir is not None
    return rollout.bundle_dir, turn.turn_id


def test_a_turn_shows_at_most_most_texts_guardrails(tmp_path: Path) -> None:
    """A log may hold any number of guardrail events for one turn (no agent runs that many);
    a turn keeps the first ``MOST_TEXTS``, so reading it stays bounded."""
    bundle, turn_id = anyio.run(_record_many, tmp_path, MOST_TEXTS + 5)
    shown = load_state(bundle)["codex_turns"][turn_id]["guardrails"]
    assert [g["name"] for g in shown] == [f"g{n}" for n in range(MOST_TEXTS)]


def test_a_state_file_whose_turn_holds_guardrails_of_its_own_shape_is_read(
    tmp_path: Path,
) -> None:
    """A state file in its bundle whose turn has a ``guardrails`` that is no list (a key
    Codex's state does not have: a hand-edited or hostile file): the bundle's guardrails
    replace it; ``show`` and ``view`` stopped with ``internal error: AttributeError``."""
    bundle, turn_id = anyio.run(_record, tmp_path)
    assert main(["reduce", str(bundle)], out=io.StringIO(), err=io.StringIO()) == 0
    state_file = bundle / "state.json"
    state = json.loads(state_file.read_bytes())
    for odd in (5, "x", {"a": 1}):
        state["codex_turns"][turn_id]["guardrails"] = odd
        state_file.write_text(json.dumps(state))
        turn = load_state(state_file)["codex_turns"][turn_id]
        assert [g["name"] for g in turn["guardrails"]] == ["ok"]
        for argv in (["show"], ["view", "-o", str(tmp_path / "view.html")]):
            err = io.StringIO()
            assert main([*argv, str(state_file)], out=io.StringIO(), err=err) == 0, err.getvalue()
