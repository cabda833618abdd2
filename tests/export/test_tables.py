"""Reduced state → table rows: one row per state object, keys on every row, typed columns."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from rollout_trace_sdk.cli import main
from rollout_trace_sdk.export.parquet import ExportOptions, run_export
from rollout_trace_sdk.export.schema import STATE_MAPS, TABLE_NAMES, TABLES, TOKEN_NAMES, to_arrow
from rollout_trace_sdk.export.tables import FAILURE_CHARS, build_rows, payload_row_batches
from rollout_trace_sdk.reduce import reduce_bundle
from rollout_trace_sdk.reduce.failures import FAILURE_EVENTS
from rollout_trace_sdk.view.item_text import MAX_ITEM_TEXT, cut
from rollout_trace_sdk.view.load import load_state
from rollout_trace_sdk.view.model import build_view_model
from rollout_trace_sdk.view.show_format import tool_error_text

from ..conftest import (
    CONFORMANCE,
    CONFORMANCE_V3,
    ENDED_BADLY,
    codex_turn_texts,
    needs_conformance,
    needs_conformance_v3,
)
from .tables_util import fresh_copy


def test_one_row_per_state_object_and_keys_everywhere(demo_state: Any) -> None:
    rows = build_rows(demo_state, source="b")
    for table, key in STATE_MAPS.items():
        assert len(rows[table]) == len(demo_state[key]), table
    assert len(rows["rollouts"]) == 1
    for table in TABLE_NAMES:
        for row in rows[table]:
            assert row["trace_id"] == demo_state["trace_id"]
            assert row["rollout_id"] == demo_state["rollout_id"]
    rollout = rows["rollouts"][0]
    assert rollout["source"] == "b"
    assert rollout["tool_calls"] == len(demo_state["tool_calls"])
    usage = [c["usage"] for c in demo_state["inference_calls"].values() if c.get("usage")]
    assert rollout["output_tokens"] == sum(u["output_tokens"] for u in usage) > 0


def test_arrow_types_follow_the_schema(demo_state: Any) -> None:
    rows = build_rows(demo_state, source="b")
    calls = to_arrow("inference_calls", rows["inference_calls"])
    assert calls.schema.field("started_at").type == pa.timestamp("ms", tz="UTC")
    assert calls.schema.field("input_tokens").type == pa.int64()
    first = min(demo_state["inference_calls"].values(), key=lambda c: c["inference_call_id"])
    got = calls.filter(pc.equal(calls["inference_call_id"], first["inference_call_id"]))
    started = got["started_at"][0].as_py()
    assert int(started.timestamp() * 1000) == first["execution"]["started_at_unix_ms"]
    for table in TABLE_NAMES:
        arrow = to_arrow(table, rows[table])
        assert arrow.schema.names == [name for name, _, _ in TABLES[table]]
        assert arrow.num_rows == len(rows[table])


def test_edges_name_the_threads_at_both_ends(demo_state: Any) -> None:
    rows = build_rows(demo_state, source="b")
    threads = {t["thread_id"]: t for t in rows["threads"]}
    spawned = [t for t in threads.values() if t["parent_thread_id"]]
    assert spawned, "the demo spawns a helper agent"
    for edge in rows["interaction_edges"]:
        assert edge["source_thread_id"] in threads and edge["target_thread_id"] in threads
    results = [e for e in rows["interaction_edges"] if e["kind"] == "agent_result"]
    assert {e["source_thread_id"] for e in results} == {t["thread_id"] for t in spawned}


def test_missing_and_mistyped_fields_become_nulls(demo_state: Any) -> None:
    state = orjson.loads(orjson.dumps(demo_state))
    call = next(iter(state["inference_calls"].values()))
    call["usage"] = None
    call["execution"] = "garbage"
    del state["ended_at_unix_ms"]
    rows = build_rows(state, source="b")
    row = next(
        r for r in rows["inference_calls"] if r["inference_call_id"] == call["inference_call_id"]
    )
    assert row["input_tokens"] is None and row["started_at"] is None and row["status"] is None
    assert rows["rollouts"][0]["duration_ms"] is None
    to_arrow("inference_calls", rows["inference_calls"])  # still fits the schema


def test_payload_text_is_opt_in(demo_state: Any) -> None:
    plain = build_rows(demo_state, source="b")["raw_payloads"]
    assert all(r["text"] is None for r in plain)
    read = build_rows(demo_state, source="b", payload_text=lambda ref: b'{"x": 1}')
    assert all(r["text"] == '{"x": 1}' and r["text_bytes"] == 8 for r in read["raw_payloads"])


def test_token_totals_are_null_when_no_call_reported_them(demo_state: Any) -> None:
    state = orjson.loads(orjson.dumps(demo_state))
    for call in state["inference_calls"].values():
        call["usage"] = None
    rollout = build_rows(state, source="b")["rollouts"][0]
    assert all(rollout[name] is None for name in TOKEN_NAMES), rollout


def test_an_mcp_tool_is_named_by_what_the_state_has(demo_state: Any) -> None:
    state = orjson.loads(orjson.dumps(demo_state))
    calls = list(state["tool_calls"].values())[:3]
    kinds = [
        {"type": "mcp", "server": "files", "tool": "read"},
        {"type": "mcp", "server": None, "tool": "read"},
        {"type": "mcp", "server": None, "tool": None},
    ]
    for call, kind in zip(calls, kinds, strict=True):
        call["kind"] = kind
    rows = {r["tool_call_id"]: r for r in build_rows(state, source="b")["tool_calls"]}
    names = [rows[call["tool_call_id"]]["tool_name"] for call in calls]
    assert names == ["files/read", "read", "mcp"]


def test_another_tool_is_named_by_its_name(demo_state: Any) -> None:
    """A tool of kind ``other`` (the agent's own function tools) is named by the name the
    state gives it, else ``other``: naming it ``other`` always passed every table test (mut31)."""
    state = orjson.loads(orjson.dumps(demo_state))
    named, unnamed = list(state["tool_calls"].values())[:2]
    named["kind"] = {"type": "other", "name": "lookup_weather"}
    unnamed["kind"] = {"type": "other", "name": None}
    rows = {r["tool_call_id"]: r for r in build_rows(state, source="b")["tool_calls"]}
    assert rows[named["tool_call_id"]]["tool_name"] == "lookup_weather"
    assert rows[unnamed["tool_call_id"]]["tool_name"] == "other"


def test_a_payload_the_reader_refuses_says_why(demo_state: Any) -> None:
    """A body over the reader's limit (or unreadable) had a null text and nothing saying why."""
    rows = build_rows(demo_state, source="b", payload_text=lambda ref: "over the limit")
    assert rows["raw_payloads"]
    assert {(r["text"], r["text_unread"]) for r in rows["raw_payloads"]} == {
        (None, "over the limit")
    }
    plain = build_rows(demo_state, source="b")["raw_payloads"]
    assert all(r["text_unread"] is None for r in plain)


def test_a_payload_spliced_from_a_cut_part_has_no_text(demo_state: Any) -> None:
    """A template whose part (at any depth) was recorded omitted was read whole, the
    reader's placeholder standing in for the part (found by review)."""
    state = orjson.loads(orjson.dumps(demo_state))
    inner = {"raw_payload_id": "p:2", "kind": {"type": "content_value"}, "shard": 1}
    inner["capture"] = {"status": "omitted", "original_bytes": 9}
    middle = {"raw_payload_id": "p:1", "kind": {"type": "model_item"}, "parts": [inner]}
    state["raw_payloads"] = {
        "p:0": {"raw_payload_id": "p:0", "kind": {"type": "inference_response"}, "parts": [middle]},
        "p:3": {"raw_payload_id": "p:3", "kind": {"type": "model_item"}, "parts": []},
    }
    rows = build_rows(state, source="b", payload_text=lambda ref: b"{}")["raw_payloads"]
    got = {r["raw_payload_id"]: (r["text"], r["text_unread"]) for r in rows}
    assert got == {"p:0": (None, "part p:2 recorded omitted"), "p:3": ("{}", None)}


def test_payload_rows_come_in_batches_of_bounded_bodies(demo_state: Any) -> None:
    """The rows ``build_rows`` gives, read a batch at a time: a batch ends once its bodies
    pass the bound, so the export holds one batch's bodies, not the bundle's."""
    whole = build_rows(demo_state, source="b", payload_text=lambda ref: b"x" * 100)
    batches = list(
        payload_row_batches(
            demo_state, source="b", payload_text=lambda ref: b"x" * 100, max_bytes=250
        )
    )
    assert [row for batch in batches for row in batch] == whole["raw_payloads"]
    assert len(batches) > 1 and all(len(batch) <= 3 for batch in batches)


def _items(state: Any) -> dict[str, Any]:
    return {r["item_id"]: r for r in build_rows(state, source="b")["conversation_items"]}


def test_an_item_a_capture_limit_cut_has_no_text_and_names_the_cut(
    capped_bundles: dict[str, Path],
) -> None:
    """A conversation item whose text or value a capture limit cut had text '' and 0 chars
    (a ``payload_ref`` part) or Codex's placeholder ``{"$trace_unavailable": id}`` as its text
    (a JSON part), nothing saying so but part_types (found by review): now a null text and
    ``cut_payload_ids`` naming the payloads."""
    state = reduce_bundle(capped_bundles["truncated"]).to_json()
    items = _items(state)
    kinds = Counter(row["kind"] for row in items.values())
    assert kinds == {"message": 4, "function_call": 3, "function_call_output": 3}
    for row in items.values():
        assert (row["text"], row["text_chars"]) == (None, None), row
        [ident] = row["cut_payload_ids"]
        assert state["raw_payloads"][ident]["capture"]["status"] == "truncated"
    # the omitted recording kept its first items whole
    whole = _items(reduce_bundle(capped_bundles["omitted"]).to_json())
    assert whole and all(r["cut_payload_ids"] == [] for r in whole.values())
    assert all(r["text_chars"] == len(r["text"]) > 0 for r in whole.values())


@needs_conformance_v3
def test_items_of_codex_capture_limited_and_image_recordings() -> None:
    """Codex 0.171's own recordings: a cut assistant text, and whole images (a payload_ref
    that is no cut: the text around it stays)."""
    [cut] = (CONFORMANCE_V3 / "capture_payload_limit_exec").glob("trace-*/expected_state.json")
    row = _items(orjson.loads(cut.read_bytes()))["conversation_item:5"]
    assert (row["part_types"], row["text"], row["cut_payload_ids"]) == (
        ["payload_ref"],
        None,
        ["raw_payload:23"],
    )
    [image] = (CONFORMANCE_V3 / "user_image_input").glob("trace-*/expected_state.json")
    row = _items(orjson.loads(image.read_bytes()))["conversation_item:3"]
    assert "payload_ref" in row["part_types"] and row["cut_payload_ids"] == []
    assert row["text"] is not None and "<image name=[Image #1]" in row["text"]


@needs_conformance_v3
def test_every_compaction_request_has_a_row_installed_or_not() -> None:
    """A request whose compaction never installed (Codex's failed remote compaction) was in
    no table, while the OTLP and Perfetto exports show it (found by review)."""
    for name, installed in (("compaction_remote_failed", False), ("auto_compaction_remote", True)):
        [path] = (CONFORMANCE_V3 / name).glob("trace-*/expected_state.json")
        state = orjson.loads(path.read_bytes())
        [row] = build_rows(state, source="b")["compaction_requests"]
        [request] = state["compaction_requests"].values()
        assert row["compaction_request_id"] == request["compaction_request_id"]
        assert row["status"] == request["execution"]["status"]
        assert row["raw_request_payload_id"] == request["raw_request_payload_id"]
        compaction = state["compactions"].get(request["compaction_id"], {})
        assert row["installed_at"] == compaction.get("installed_at_unix_ms")
        assert (row["installed_at"] is not None) == installed


def test_a_compaction_retried_spans_its_first_requests_start_to_its_last_requests_end(
    demo_state: Any,
) -> None:
    """A compaction installed by its second request: its row runs from the first request's
    start to the last's end, with the last's status and model. Every compaction tried had one
    request: starting at the last request passed every table test (mut31)."""
    state = orjson.loads(orjson.dumps(demo_state))
    thread = next(iter(state["threads"]))

    def request(ident: str, start: int, status: str, model: str) -> dict[str, Any]:
        return {
            "compaction_request_id": ident,
            "compaction_id": "k",
            "thread_id": thread,
            "model": model,
            "execution": {
                "started_at_unix_ms": start,
                "ended_at_unix_ms": start + 10,
                "started_seq": start,
                "ended_seq": start + 1,
                "status": status,
            },
        }

    state["compaction_requests"] = {
        "r1": request("r1", 1_000, "failed", "m-first"),
        "r2": request("r2", 2_000, "completed", "m-last"),
    }
    state["compactions"] = {
        "k": {
            "compaction_id": "k",
            "thread_id": thread,
            "installed_at_unix_ms": 2_020,
            "request_ids": ["r1", "r2"],
            "input_item_ids": [],
            "replacement_item_ids": [],
        }
    }
    [row] = build_rows(state, source="b")["compactions"]
    assert (row["requests"], row["request_started_at"], row["request_ended_at"]) == (
        2,
        1_000,
        2_010,
    )
    assert (row["request_status"], row["model"]) == ("completed", "m-last")


def test_a_message_between_agents_has_its_delivered_text(demo_state: Any) -> None:
    """``SELECT author, recipient, text FROM conversation_items`` could not say which
    sub-agent got which task: a spawn's task is the agent message's ``encrypted_content``
    (the text, as Codex writes it), which ``text`` left out (found by newuser25). It is
    there now, as ``show`` and the page read it; a reasoning item's blob is still left out."""
    state = orjson.loads(orjson.dumps(demo_state))
    (message,) = [
        i
        for i in state["conversation_items"].values()
        if (i.get("agent_message") or {}).get("recipient") == "/root/helper_0"
    ]
    (task,) = [p["value"] for p in message["body"]["parts"] if p["type"] == "encoded"]
    reasoning = next(i for i in state["conversation_items"].values() if i["kind"] == "reasoning")
    reasoning["body"]["parts"].append(
        {"type": "encoded", "label": "encrypted_content", "value": "gAAAA-opaque"}
    )
    rows = {r["item_id"]: r for r in build_rows(state, source="b")["conversation_items"]}
    assert rows[message["item_id"]]["text"].endswith(f"Payload:\n{task}")
    assert rows[message["item_id"]]["text_chars"] == len(rows[message["item_id"]]["text"])
    assert "gAAAA" not in rows[reasoning["item_id"]]["text"]


def test_inference_rows_count_the_tool_calls_their_response_started(demo_state: Any) -> None:
    rows = {
        r["inference_call_id"]: r for r in build_rows(demo_state, source="b")["inference_calls"]
    }
    started = {
        ident: len(call["tool_call_ids_started_by_response"])
        for ident, call in demo_state["inference_calls"].items()
    }
    assert {ident: r["tool_calls_started"] for ident, r in rows.items()} == started
    assert any(started.values())
    # a response holds more items than the calls it starts: the columns must not agree
    assert any(started[ident] != r["response_items"] for ident, r in rows.items())


def test_an_agent_summarys_message_is_the_tools_input_preview(demo_state: Any) -> None:
    """A call to another agent is summarised by its message (``message_preview``: an agent
    summary has no ``input_preview``); the row's ``input_preview`` holds it."""
    state = orjson.loads(orjson.dumps(demo_state))
    tool = state["tool_calls"]["call_0_ping"]
    tool["summary"] = {
        "type": "agent",
        "target_agent_path": "/root/helper_0",
        "task_name": None,
        "message_preview": "check the logs",
    }
    row = next(
        r for r in build_rows(state, source="b")["tool_calls"] if r["tool_call_id"] == "call_0_ping"
    )
    assert (row["summary_type"], row["input_preview"]) == ("agent", "check the logs")
    assert row["target_agent_path"] == "/root/helper_0"


# --- why it failed: the error_text and failure columns ------------------------------------------


def _query(directory: Path, sql: str) -> list[dict[str, Any]]:
    """``rollout-trace query DIR SQL --format json``: the rows as the user gets them."""
    out, err = io.StringIO(), io.StringIO()
    assert main(["query", str(directory), sql, "--format", "json"], out=out, err=err) == 0, (
        err.getvalue()
    )
    return [dict(row) for row in orjson.loads(out.getvalue())]


@pytest.mark.parametrize("schema", ["2", "3"])
def test_failed_calls_turns_and_rollouts_say_why(
    why_export: Path, why_bundles: dict[str, Path], schema: str
) -> None:
    """The tables had statuses but no reason: "which rollouts failed, and why?" needed the
    protocol events' bodies (``--payload-text``) and JSON functions (review why27). Each
    row that ended badly now says why, as ``show`` does; every other row has a null."""
    traces = {
        name[:-1]: reduce_bundle(path).trace_id
        for name, path in why_bundles.items()
        if name.endswith(schema)
    }

    def rows(table: str, *columns: str) -> dict[str, list[tuple[Any, ...]]]:
        """``columns`` of ``table``'s rows of each rollout (the first: the order they started)."""
        got: dict[str, list[tuple[Any, ...]]] = {}
        for name, trace in traces.items():
            got[name] = [
                tuple(v for k, v in r.items() if k != "started_seq")
                for r in _query(
                    why_export,
                    f"SELECT {', '.join(columns)} FROM {table} "
                    f"WHERE trace_id = '{trace}' ORDER BY ALL",
                )
            ]
        return got

    assert rows("inference_calls", "started_seq", "status", "error_text") == {
        "failed": [
            ("failed", "HTTP 503: upstream overloaded"),
            ("cancelled", "superseded by a retry"),
            ("completed", None),
        ],
        "recovered": [("failed", "HTTP 500: try again"), ("completed", None)],
        "aborted": [("cancelled", "ended before the response")],
    }
    assert rows("compaction_requests", "started_seq", "status", "error_text") == {
        "failed": [("failed", "context_length_exceeded: nothing left to compact")],
        "recovered": [],
        "aborted": [],
    }
    assert rows("tool_calls", "started_seq", "tool_name", "error_text") == {
        "failed": [
            ("exec_command", "permission denied: /etc/shadow"),  # its raw result's error
            ("apply_patch", "patch rejected:\nhunk 2 of 2 does not apply"),  # its output item
        ],
        "recovered": [],
        "aborted": [],
    }
    assert rows("turns", "started_seq", "status", "error_text") == {
        "failed": [("failed", "Boom: tool exploded on k0")],
        "recovered": [("completed", None)],
        # Codex's turn_aborted reason, and what cancelled it (record/_cancel_cause.py)
        "aborted": [("cancelled", "interrupted (cancel scope cancelled)")],
    }
    assert {name: rows[0] for name, rows in rows("rollouts", "status", "failure").items()} == {
        "failed": ("failed", "Boom: tool exploded on k0"),
        "recovered": ("completed", None),  # its failed call was retried: the rollout did not fail
        "aborted": ("aborted", "interrupted (cancel scope cancelled)"),
    }


def test_a_failed_tool_calls_error_text_is_what_show_prints(
    why_bundles: dict[str, Path], failing_state: Path
) -> None:
    """``tool_calls.error_text`` is read from the state as ``show`` reads it from the view
    model (``show_format.tool_error_text``): the same text, for recorded failures, Codex's
    own failed and cancelled calls, and an output item replaced by one (``failing_state``)."""
    sources = [*why_bundles.values(), failing_state, *ENDED_BADLY]
    compared = 0
    for source in sources:
        state = load_state(source)
        model = build_view_model(state)
        tools = {t["id"]: t for t in model["tools"]}
        for row in build_rows(state, source="b")["tool_calls"]:
            tool = tools[row["tool_call_id"]]
            if row["status"] in ("failed", "cancelled", "aborted"):
                assert row["error_text"] == (tool_error_text(model, tool) or None), source
                compared += row["error_text"] is not None
            else:
                assert row["error_text"] is None
    assert compared >= 2 * 2 + 1


@needs_conformance_v3
def test_a_web_searchs_text_is_its_json_which_the_viewer_reads_as_words() -> None:
    """A web search the model ran (Codex's ``web_search_call`` item) is its JSON in
    ``conversation_items.text``, for JSON functions; the viewer and ``show`` read the same
    JSON as words and keep it beside them (review codexview27)."""
    [bundle] = sorted((CONFORMANCE_V3 / "web_search_call").glob("trace-*"))
    state = load_state(bundle)
    texts = {r["item_id"]: r["text"] for r in build_rows(state, source="b")["conversation_items"]}
    searches = [i for i in build_view_model(state)["items"] if "json" in i]
    assert [orjson.loads(texts[i["id"]])["action"]["type"] for i in searches] == [
        "search",
        "open_page",
    ]
    assert all(texts[i["id"]] == i["json"] for i in searches)
    assert [i["text"] for i in searches] == [
        '⌕ web search: "rollout trace format"',
        "⌕ open page: https://example.com/docs",
    ]


@pytest.mark.parametrize(
    "bundle", ENDED_BADLY, ids=[f"{b.parents[1].name}/{b.parent.name}" for b in ENDED_BADLY]
)
def test_codexs_failures_read_with_codexs_text(bundle: Path, tmp_path: Path) -> None:
    """The corpora's failed and interrupted turns, calls and compaction requests, exported:
    each turn has Codex's text (its ``task_complete`` error or ``turn_aborted`` reason),
    each call and request the text of its failing event, and the rollout (which Codex ends
    ``completed``: the session goes on) the first bad turn's."""
    out = tmp_path / "tables"
    assert not run_export([str(bundle)], ExportOptions(to=str(out)), jobs=1).failed
    expected = codex_turn_texts(bundle)
    turns = _query(out, "SELECT codex_turn_id, status, error_text FROM turns ORDER BY ended_seq")
    bad = [t for t in turns if t["status"] != "completed"]
    assert bad and all(t["error_text"] == expected[t["codex_turn_id"]] for t in bad), turns
    assert all(t["error_text"] is None for t in turns if t["status"] == "completed")
    logged = {
        e["payload"].get("inference_call_id") or e["payload"]["compaction_request_id"]: (
            e["payload"].get("error") or e["payload"].get("reason")
        )
        for e in _events(bundle)
        if e["payload"]["type"] in FAILURE_EVENTS
    }
    calls = _query(
        out,
        "SELECT inference_call_id AS id, error_text FROM inference_calls "
        "WHERE error_text IS NOT NULL UNION ALL SELECT compaction_request_id, error_text "
        "FROM compaction_requests WHERE error_text IS NOT NULL",
    )
    assert {c["id"]: c["error_text"] for c in calls} == logged
    [rollout] = _query(out, "SELECT status, failure FROM rollouts")
    assert rollout == {"status": "completed", "failure": expected[bad[0]["codex_turn_id"]]}


def _events(bundle: Path) -> list[Any]:
    return [orjson.loads(line) for line in (bundle / "trace.jsonl").read_bytes().splitlines()]


def test_long_texts_are_cut_as_the_viewer_cuts_them(demo_state: Any) -> None:
    """An error text of any length is cut at the view model's 20,000 characters, saying how
    much was left out; the rollout's ``failure`` is one line of at most 200 characters."""
    state = orjson.loads(orjson.dumps(demo_state))
    turn = next(iter(state["codex_turns"].values()))
    call = next(
        c for c in state["inference_calls"].values() if c["codex_turn_id"] == turn["codex_turn_id"]
    )
    for obj in (turn, call):
        obj["execution"]["status"] = "failed"
    call["error_text"] = "E" * 30_000 + "\nsecond line"
    rows = build_rows(state, source="b")
    [row] = [
        r for r in rows["inference_calls"] if r["inference_call_id"] == call["inference_call_id"]
    ]
    assert (
        row["error_text"]
        == cut(call["error_text"])
        == "E" * MAX_ITEM_TEXT + (f"\n… ({30_000 - MAX_ITEM_TEXT + 12:,} more characters)")
    )
    # the turn says nothing itself: the rollout gives its first bad call's text, one line
    assert rows["rollouts"][0]["failure"] == "E" * (FAILURE_CHARS - 1) + "…"
    turn["error_text"] = "\n  why it failed  \nmore"
    assert build_rows(state, source="b")["rollouts"][0]["failure"] == "why it failed"
    # a text on a row that did not end badly is no error of it
    turn["execution"]["status"] = call["execution"]["status"] = "completed"
    again = build_rows(state, source="b")
    assert {r["error_text"] for r in again["inference_calls"] + again["turns"]} == {None}
    assert again["rollouts"][0]["failure"] is None


def test_a_value_no_int64_holds_is_null(demo_bundle: Path, tmp_path: Path) -> None:
    """A manifest's start of ``-2^63`` ms, which Codex reads: the rollout's duration from it
    passes int64 and pyarrow raised, the bundle's export an internal error (fuzz28). Such a
    value is null; the start itself, which int64 holds, is kept."""
    bundle = fresh_copy(demo_bundle, tmp_path / "b")
    manifest = orjson.loads((bundle / "manifest.json").read_bytes())
    start = -(2**63)
    (bundle / "manifest.json").write_bytes(orjson.dumps({**manifest, "started_at_unix_ms": start}))
    argv = ["export", "--format", "parquet", "--to", str(tmp_path / "out"), str(bundle)]
    err = io.StringIO()
    assert main(argv, out=io.StringIO(), err=err) == 0, err.getvalue()
    import pyarrow.parquet as pq

    [rollouts] = (tmp_path / "out").glob("rollouts/*.parquet")
    table = pq.read_table(rollouts)
    assert table.column("duration_ms").null_count == table.num_rows == 1
    assert table.column("started_at").cast(pa.int64()).to_pylist() == [start]


@pytest.mark.parametrize(("status", "failure"), [("failed", "HTTP 503"), ("completed", None)])
def test_a_rollout_that_failed_with_no_failed_turn_says_its_first_bad_calls_text(
    demo_state: Any, status: str, failure: str | None
) -> None:
    """A rollout that failed (or was aborted) while none of its turns did gives the first
    text of a call that ended badly; one that completed gives none though a call failed (it
    was retried). Only rollouts with a failed turn were tried: dropping the fallback passed
    every table test (mut31)."""
    state = orjson.loads(orjson.dumps(demo_state))
    state["status"] = status
    # the first two calls to end (the state's map is in id order, no order of time)
    first, second = sorted(
        state["inference_calls"].values(), key=lambda c: c["execution"]["ended_seq"]
    )[:2]
    for call, text in ((second, "HTTP 500\nlater"), (first, "HTTP 503\nfirst")):
        call["execution"]["status"] = "failed"
        call["error_text"] = text
    assert {t["execution"]["status"] for t in state["codex_turns"].values()} == {"completed"}
    assert build_rows(state, source="b")["rollouts"][0]["failure"] == failure


@needs_conformance
@needs_conformance_v3
def test_last_turn_failed_agrees_with_ls(tmp_path: Path) -> None:
    """``rollouts.last_turn_failed``: a Codex run whose turn failed ends ``completed``; the
    rollouts table carried its ``failure`` but nothing a ``WHERE`` on failed runs could take,
    where ``ls`` says ``complete (failed turn)`` (review status49). It agrees with ``ls
    --json``'s ``last_turn_failed`` bundle for bundle: a sub-agent's failed turn and an
    interrupted one are no failed run."""
    import json

    from tests.test_cli import run
    from tests.test_log_status import _codex_bundle

    from .test_parquet import _cli, read_tables_rows

    root = tmp_path / "traces"
    failed = [
        _codex_bundle(corpus, "inference_fatal_error", root)
        for corpus in (CONFORMANCE, CONFORMANCE_V3)
    ]
    for name in ("multi_agent_v2_child_failure", "app_server_turn_interrupt", "plain_message"):
        _codex_bundle(CONFORMANCE, name, root)
    code, out, err = run("ls", root, "--json")
    assert code == 0, err
    listed = {
        Path(row["bundle"]).name: row["last_turn_failed"]
        for row in map(json.loads, out.splitlines())
    }
    code, _, err = _cli("export", str(root), "--to", str(tmp_path / "out"))
    assert code == 0, err
    rows = read_tables_rows(tmp_path / "out", "SELECT source, last_turn_failed FROM rollouts")
    assert {Path(source).name: flag for source, flag in rows} == listed
    assert {name for name, flag in listed.items() if flag} == {b.name for b in failed}
    query = (
        "SELECT count(*) FROM rollouts WHERE status IN ('failed', 'aborted') OR last_turn_failed"
    )
    assert read_tables_rows(tmp_path / "out", query) == [(2,)]


def test_a_spawned_thread_names_the_call_of_its_spawn_edge(demo_state: Any) -> None:
    """``threads.spawned_by_tool_call_id``: a Codex sub-agent's is its spawn edge's source
    call (the root's none); an Agents SDK agent run as a tool's, which has no edge, is in
    tests/integrations/agents_sdk/test_agent_tools.py (agents50)."""
    edges = demo_state["interaction_edges"]
    spawned = 0
    for row in build_rows(demo_state, source="b")["threads"]:
        edge = edges.get(row["spawn_edge_id"]) if row["spawn_edge_id"] else None
        if edge is None:
            assert row["spawned_by_tool_call_id"] is None
            continue
        spawned += 1
        assert row["spawned_by_tool_call_id"] == edge["source"]["tool_call_id"]
    assert spawned
