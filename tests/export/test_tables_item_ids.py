"""The id lists of ``inference_calls`` and ``compactions`` (tables.py, tables version 9) and the
ready-made queries that read them (query.py): what a model request sent and got back, what a
compaction replaced and what replaced it, in the state's order, as the ``RolloutTrace`` gives
them. Read back through Parquet and DuckDB from an export of both Codex corpora (schemas 2
and 3: a remote compaction each, failed tool calls) and of the demo in both schemas (a
compaction an episode); the other columns: test_tables.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rollout_trace_sdk import RolloutTrace, reduce_bundle
from rollout_trace_sdk.export.parquet import ExportOptions, run_export
from rollout_trace_sdk.export.query import RECIPES, run

from ..conftest import (
    CONFORMANCE,
    CONFORMANCE_V3,
    conformance_bundles,
    needs_conformance,
    needs_conformance_v3,
)

pytestmark = [needs_conformance, needs_conformance_v3]

#: (table, its id column, the id list column): each list is the state's field of that name.
ID_LISTS = [
    ("inference_calls", "inference_call_id", "request_item_ids"),
    ("inference_calls", "inference_call_id", "response_item_ids"),
    ("compactions", "compaction_id", "input_item_ids"),
    ("compactions", "compaction_id", "replacement_item_ids"),
]


@pytest.fixture(scope="module")
def ids_export(demo_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both corpora, the demo (schema 2, as the tests record it) and the demo of two episodes
    recorded in schema 3 (the demo's own), exported."""
    root = tmp_path_factory.mktemp("ids")
    done = subprocess.run(
        [sys.executable, "-m", "rollout_trace_sdk", "demo", "--out", str(root), "--scale", "2"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
        env={**os.environ, "ROLLOUT_TRACE_SCHEMA": "3"},
    )
    demo3 = Path(done.stdout.splitlines()[0])
    sources = [
        *conformance_bundles(CONFORMANCE),
        *conformance_bundles(CONFORMANCE_V3),
        demo_bundle,
        demo3,
    ]
    out = root / "tables"
    summary = run_export([str(s) for s in sources], ExportOptions(to=str(out)), jobs=1)
    assert not summary.failed and len(summary.exported) == len(sources)
    return out


@pytest.fixture(scope="module")
def traces(ids_export: Path) -> dict[str, tuple[int, RolloutTrace]]:
    """Each exported source's schema and ``RolloutTrace`` (the Python API's answer)."""
    _, rows = run(ids_export, "SELECT source, schema_version FROM rollouts")
    return {source: (schema, reduce_bundle(source)) for source, schema in rows}


def _objects(trace: RolloutTrace, table: str) -> dict[str, Any]:
    return dict(trace.inference_calls if table == "inference_calls" else trace.compactions)


@pytest.mark.parametrize(("table", "key", "column"), ID_LISTS, ids=[c for _, _, c in ID_LISTS])
def test_each_id_list_is_the_rollout_traces_in_its_order(
    ids_export: Path,
    traces: dict[str, tuple[int, RolloutTrace]],
    table: str,
    key: str,
    column: str,
) -> None:
    """Before, the tables had only the lists' lengths: which items a request sent, or a
    compaction replaced, was in no column (review export39)."""
    _, rows = run(ids_export, f"SELECT source, {key}, {column} FROM {table}")
    got = {(source, ident): ids for source, ident, ids in rows}
    want = {
        (source, ident): list(getattr(obj, column))
        for source, (_, trace) in traces.items()
        for ident, obj in _objects(trace, table).items()
    }
    assert got == want
    # lists of several items, in both schemas (a list's order is what is checked)
    long = {traces[source][0] for (source, _), ids in got.items() if len(ids) > 1}
    assert long == {2, 3}


def test_every_listed_id_is_an_item_of_its_bundle(ids_export: Path) -> None:
    """The lists join ``conversation_items`` with no id left over (the queries' join)."""
    _, [(listed, unmatched)] = run(
        ids_export,
        """WITH listed AS (
             SELECT source, trace_id, unnest(request_item_ids || response_item_ids) AS item_id
             FROM inference_calls
             UNION ALL
             SELECT source, trace_id, unnest(input_item_ids || replacement_item_ids)
             FROM compactions)
           SELECT count(*), count(*) FILTER (WHERE i.item_id IS NULL)
           FROM listed l LEFT JOIN conversation_items i USING (source, trace_id, item_id)""",
    )
    assert listed > 1000 and unmatched == 0


def _recipe(export_dir: Path, name: str) -> list[dict[str, Any]]:
    columns, rows = run(export_dir, RECIPES[name][1])
    return [dict(zip(columns, row, strict=True)) for row in rows]


def test_failed_tool_call_requests_are_what_the_asking_request_sent(
    ids_export: Path, traces: dict[str, tuple[int, RolloutTrace]]
) -> None:
    """The recipe gives, for each failed tool call, the items of the model request whose
    response started it, in the order sent, each with its role and kind."""
    rows = _recipe(ids_export, "failed-tool-call-requests")
    got: dict[tuple[str, str, str], list[tuple[Any, ...]]] = {}
    for r in rows:
        key = (r["source"], r["tool_call_id"], r["inference_call_id"])
        got.setdefault(key, []).append((r["position"], r["item_id"], r["role"], r["kind"]))
    want = {}
    for source, (_, trace) in traces.items():
        for call in trace.inference_calls.values():
            for tool_id in call.tool_call_ids_started_by_response:
                if trace.tool_calls[tool_id].execution.status != "failed":
                    continue
                items = [trace.conversation_items[i] for i in call.request_item_ids]
                want[(source, tool_id, call.inference_call_id)] = [
                    (n, i.item_id, i.role, i.kind) for n, i in enumerate(items, 1)
                ]
    assert got == want
    assert {traces[source][0] for source, _, _ in got} == {2, 3}


def test_compacted_items_are_what_each_compaction_replaced_and_installed(
    ids_export: Path, traces: dict[str, tuple[int, RolloutTrace]]
) -> None:
    rows = _recipe(ids_export, "compacted-items")
    got: dict[tuple[str, str, str], list[tuple[Any, ...]]] = {}
    for r in rows:
        got.setdefault((r["source"], r["compaction_id"], r["side"]), []).append(
            (r["position"], r["item_id"])
        )
    want = {}
    for source, (_, trace) in traces.items():
        for compaction in trace.compactions.values():
            for side, ids in (
                ("replaced", compaction.input_item_ids),
                ("replacement", compaction.replacement_item_ids),
            ):
                if ids:
                    want[(source, compaction.compaction_id, side)] = list(enumerate(ids, 1))
    assert got == want
    assert {traces[source][0] for source, _, _ in got} == {2, 3}
    # replaced items first, then their replacement, compaction by compaction
    sides = [(r["source"], r["compaction_id"], r["side"]) for r in rows]
    assert sides == sorted(sides, key=lambda s: (s[0], s[1], s[2] == "replacement"))
