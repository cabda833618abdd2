"""``export/tables_guardrails.py``: the ``guardrails`` table, one row per Agents SDK guardrail
a turn ran (its ``agents_sdk_guardrail`` protocol event, which both reducers skip), passed or
tripped. A guardrail that passed could not be queried at all, and one that tripped only
through ``turns.error_text LIKE 'Guardrail tripwire triggered%'`` (user49). The real Agents SDK
run is in tests/integrations/agents_sdk/test_guardrails.py."""

from __future__ import annotations

import io
from pathlib import Path

import anyio

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.export.query import RECIPES, run
from rollout_trace_sdk.record import open_rollout

TRIPPED = "Guardrail tripwire triggered: rude"


async def record_guardrails(root: Path) -> tuple[Path, str, str]:
    """A root turn whose input guardrail passed and whose output guardrail tripped, failing
    it, as the processor records them; and a guardrail naming no turn (an older processor's),
    which no row can place."""
    async with open_rollout(root, model="m") as rollout:
        thread = rollout.root
        turn = thread.turn()
        where = {"thread_id": thread.thread_id, "codex_turn_id": turn.turn_id}
        thread.protocol_event("agents_sdk_guardrail", {"name": "old", "triggered": False})
        body = {"name": "no_secrets", "triggered": False, "span_id": "span_1", **where}
        thread.protocol_event("agents_sdk_guardrail", body)
        body = {"name": "rude", "triggered": True, "span_id": "span_2", "error": TRIPPED}
        thread.protocol_event("agents_sdk_guardrail", {**body, **where})
        turn.end("failed", error=TRIPPED)
    assert rollout.bundle_dir is not None
    return rollout.bundle_dir, thread.thread_id, turn.turn_id


def _export(source: Path, out: Path) -> None:
    err = io.StringIO()
    assert main(["export", str(source), "--to", str(out)], out=io.StringIO(), err=err) == 0, (
        err.getvalue()
    )


def test_each_guardrail_a_turn_ran_is_a_row(tmp_path: Path) -> None:
    bundle, thread_id, turn_id = anyio.run(record_guardrails, tmp_path / "traces")
    out = tmp_path / "tables"
    _export(bundle, out)
    _, rows = run(
        out,
        "SELECT thread_id, codex_turn_id, name, triggered, error_text, span_id, ended_at IS NOT NULL,"
        " seq > 0 FROM guardrails ORDER BY seq",
    )
    assert rows == [
        (thread_id, turn_id, "no_secrets", False, None, "span_1", True, True),
        (thread_id, turn_id, "rude", True, TRIPPED, "span_2", True, True),
    ]
    _, counts = run(out, "SELECT guardrails, guardrails_tripped FROM rollouts")
    assert counts == [(2, 1)]


def test_runs_where_a_guardrail_tripped(tmp_path: Path) -> None:
    """The ready-made query (``--recipe tripped-guardrails``) names the run, the agent and the
    guardrail; a run whose guardrails all passed is not listed."""
    bundle, _, _ = anyio.run(record_guardrails, tmp_path / "traces")
    out = tmp_path / "tables"
    _export(bundle, out)
    columns, rows = run(out, RECIPES["tripped-guardrails"][1])
    assert len(rows) == 1
    row = dict(zip(columns, rows[0], strict=True))
    assert (row["agent_path"], row["guardrail"], row["error_text"]) == ("/root", "rude", TRIPPED)


def test_a_state_file_gets_its_bundles_guardrails(tmp_path: Path) -> None:
    """A ``state.json`` in its bundle reads them from that bundle, as ``show`` does."""
    bundle, _, _ = anyio.run(record_guardrails, tmp_path / "traces")
    state = bundle / "state.json"
    assert main(["reduce", str(bundle), "-o", str(state)], out=io.StringIO()) == 0
    out = tmp_path / "tables"
    _export(state, out)
    _, rows = run(out, "SELECT name, triggered FROM guardrails ORDER BY seq")
    assert rows == [("no_secrets", False), ("rude", True)]
