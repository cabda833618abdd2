"""The view model against the reduced state it comes from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.view.html import _script_json, static_page
from rollout_trace_sdk.view.item_text import MAX_ITEM_TEXT
from rollout_trace_sdk.view.model import build_view_model, last_known_unix_ms, thread_tree_order
from rollout_trace_sdk.view.payloads import PayloadReader


def test_counts_match_the_state(demo_state: Any) -> None:
    model = build_view_model(demo_state)
    pairs = {
        "threads": "threads",
        "turns": "codex_turns",
        "items": "conversation_items",
        "calls": "inference_calls",
        "tools": "tool_calls",
        "ops": "terminal_operations",
        "cells": "code_cells",
        "compactions": "compactions",
        "edges": "interaction_edges",
        "payloads": "raw_payloads",
    }
    for ours, theirs in pairs.items():
        assert len(model[ours]) == len(demo_state[theirs]), ours


def test_references_point_at_the_right_objects(demo_state: Any) -> None:
    model = build_view_model(demo_state)
    items = model["items"]
    for call in model["calls"]:
        state_call = demo_state["inference_calls"][call["id"]]
        assert [items[i]["id"] for i in call["req"]] == state_call["request_item_ids"]
        assert [items[i]["id"] for i in call["resp"]] == state_call["response_item_ids"]
        assert model["threads"][call["t"]]["id"] == state_call["thread_id"]
    for tool in model["tools"]:
        state_tool = demo_state["tool_calls"][tool["id"]]
        assert [items[i]["id"] for i in tool["oi"]] == state_tool["model_visible_output_item_ids"]
        if state_tool["terminal_operation_id"]:
            assert model["ops"][tool["op"]]["id"] == state_tool["terminal_operation_id"]
    spawn = next(e for e in model["edges"] if e["kind"] == "spawn_agent")
    assert model["threads"][spawn["from"]]["path"] == "/root"
    assert model["threads"][spawn["to"]]["path"] == "/root/helper_0"
    assert model["tools"][spawn["tool"]]["name"] == "spawn_agent"


def test_times_are_relative_and_usage_kept(demo_state: Any) -> None:
    model = build_view_model(demo_state)
    assert model["meta"]["t0"] == demo_state["started_at_unix_ms"]
    first = model["calls"][0]
    state_call = demo_state["inference_calls"][first["id"]]
    assert first["s"] == state_call["execution"]["started_at_unix_ms"] - model["meta"]["t0"]
    assert first["u"][0] == state_call["usage"]["input_tokens"]
    assert first["u"][2] == state_call["usage"]["output_tokens"]


def test_script_json_cannot_close_its_element() -> None:
    text = _script_json({"t": "</script><script>alert(1)</script>\u2028"})
    assert "</" not in text and "\u2028" not in text
    assert orjson.loads(text) == {"t": "</script><script>alert(1)</script>\u2028"}


def test_static_page_is_self_contained(demo_bundle: Path, demo_state: Any) -> None:
    page = static_page(demo_state, PayloadReader(demo_bundle))
    assert "<script src" not in page and "<link" not in page
    assert "http://" not in page and "https://" not in page
    assert page.count('id="rt-payloads"') == 1


def test_static_page_payload_limit_leaves_a_note(demo_bundle: Path, demo_state: Any) -> None:
    page = static_page(demo_state, PayloadReader(demo_bundle), payload_limit=1000)
    assert "left out of this page" in page


@pytest.mark.parametrize("command", ["show", "view"])
def test_a_fifo_named_as_the_state_is_refused_not_waited_on(tmp_path: Path, command: str) -> None:
    """Opening a FIFO for reading blocks until a writer comes: the state file is opened
    without blocking and refused as not a regular file (this hung before)."""
    fifo = tmp_path / "state.json"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-m", "rollout_trace_sdk", command, str(fifo), "-o", str(tmp_path / "o")]
        if command == "view"
        else [sys.executable, "-m", "rollout_trace_sdk", command, str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "not a regular file" in done.stderr


def test_every_kept_text_is_cut(demo_state: Any) -> None:
    """A terminal command, its cwd, a reasoning summary and an error text were kept whole: a
    4 MB heredoc made a 4 MB page (found by review)."""
    huge = "y" * (MAX_ITEM_TEXT * 3)
    state = orjson.loads(orjson.dumps(demo_state))
    for op in state["terminal_operations"].values():
        if op["request"]["type"] == "exec_command":
            op["request"].update(display_command=huge, cwd=huge)
        else:
            op["request"]["stdin"] = huge
    for item in state["conversation_items"].values():
        if item["kind"] == "reasoning":
            item["body"]["parts"] = [{"type": "summary", "text": huge}]
    for call in state["inference_calls"].values():
        call["error_text"] = huge
    for tool in state["tool_calls"].values():
        tool["error_text"] = huge
    model = build_view_model(state)
    kept = [
        *(op.get(key) for op in model["ops"] for key in ("command", "cwd", "stdin")),
        *(item.get("summary") for item in model["items"]),
        *(record["err"] for record in model["calls"] + model["tools"]),
    ]
    texts = [text for text in kept if isinstance(text, str)]
    assert len(texts) >= len(model["calls"]) + len(model["tools"]) + len(model["ops"]) + 1
    assert all(len(text) <= MAX_ITEM_TEXT + 40 for text in texts)
    assert all(text.endswith(f"({MAX_ITEM_TEXT * 2:,} more characters)") for text in texts)


def test_an_agent_messages_delivered_text_is_its_text(demo_state: Any) -> None:
    """An agent message's ``encrypted_content`` is the text delivered to the agent (the task
    a spawn gave it): the page, ``show`` and its search read "[encrypted_content]" instead
    (found by newuser25). A reasoning item's stays an opaque blob, named by its label."""
    state = orjson.loads(orjson.dumps(demo_state))
    (message,) = [
        item
        for item in state["conversation_items"].values()
        if (item.get("agent_message") or {}).get("recipient") == "/root/helper_0"
    ]
    (task,) = [p["value"] for p in message["body"]["parts"] if p["type"] == "encoded"]
    reasoning = next(i for i in state["conversation_items"].values() if i["kind"] == "reasoning")
    reasoning["body"]["parts"].append(
        {"type": "encoded", "label": "encrypted_content", "value": "gAAAA-opaque"}
    )
    items = {item["id"]: item for item in build_view_model(state)["items"]}
    assert items[message["item_id"]]["text"].endswith(f"Payload:\n{task}")
    reasoning_text = items[reasoning["item_id"]]["text"]
    assert "[encrypted_content]" in reasoning_text and "gAAAA" not in reasoning_text


def test_every_request_of_a_retried_compaction_is_shown() -> None:
    """A compaction installed by its second request: the first (failed) is a record of its
    own (``req``) beside the compaction, timed by the request that installed it. Only a
    compaction with one request was tried: leaving the earlier requests out passed, mut30."""

    def request(ident: str, seq: int, status: str) -> dict[str, Any]:
        execution = {
            "started_at_unix_ms": 1000 + seq,
            "ended_at_unix_ms": 1001 + seq,
            "started_seq": seq,
            "status": status,
        }
        return {
            "compaction_request_id": ident,
            "compaction_id": "c1",
            "thread_id": "t1",
            "execution": execution,
        }

    state = {
        "started_at_unix_ms": 1000,
        "threads": {"t1": {"thread_id": "t1", "agent_path": "/root"}},
        "compaction_requests": {
            "r1": request("r1", 1, "failed"),
            "r2": request("r2", 5, "completed"),
        },
        "compactions": {
            "c1": {"compaction_id": "c1", "thread_id": "t1", "installed_at_unix_ms": 1007}
        },
    }
    records = build_view_model(state)["compactions"]
    assert [(r["id"], r.get("req"), r["st"], r["q"]) for r in records] == [
        ("r1", True, "failed", 1),
        ("c1", None, "completed", 5),
    ]


def test_threads_whose_parents_loop_keep_their_place_in_tree_order() -> None:
    """A damaged state whose spawn parents form a loop still lists every thread (after the
    tree), as the OTLP export does: dropping them passed every test, mut30."""
    threads = [{"parent": -1}, {"parent": 3}, {"parent": 0}, {"parent": 1}]
    assert thread_tree_order(threads) == [0, 2, 1, 3]


def test_compaction_records_are_in_time_order_failed_requests_among_them() -> None:
    """A request that installed nothing, made after a compaction was installed, comes after
    it on the model track (the records of requests alone were built first: dropping the
    sort by time passed every view test, mut31)."""
    state = {
        "started_at_unix_ms": 1000,
        "threads": {"t1": {"thread_id": "t1", "agent_path": "/root"}},
        "compaction_requests": {
            "r1": {
                "compaction_request_id": "r1",
                "compaction_id": "c1",
                "thread_id": "t1",
                "execution": {
                    "started_at_unix_ms": 1001,
                    "ended_at_unix_ms": 1002,
                    "started_seq": 1,
                    "status": "completed",
                },
            },
            "r2": {
                "compaction_request_id": "r2",
                "compaction_id": "c2",
                "thread_id": "t1",
                "execution": {
                    "started_at_unix_ms": 1050,
                    "ended_at_unix_ms": 1060,
                    "started_seq": 9,
                    "status": "failed",
                },
            },
        },
        "compactions": {
            "c1": {"compaction_id": "c1", "thread_id": "t1", "installed_at_unix_ms": 1003}
        },
    }
    records = build_view_model(state)["compactions"]
    assert [(r["id"], r["at"]) for r in records] == [("c1", 3), ("r2", 60)]


def test_spawned_agents_follow_their_parent_in_the_order_they_were_started() -> None:
    """Tree order lists an agent's children in their own order under it (taking them off a
    stack without reversing them listed the later first: the demo has one helper per agent,
    and every view test passed, mut31)."""
    threads = [{"parent": -1}, {"parent": 0}, {"parent": 0}, {"parent": 1}, {"parent": 1}]
    assert thread_tree_order(threads) == [0, 1, 3, 4, 2]


@pytest.mark.parametrize(
    "table",
    [
        "threads",
        "codex_turns",
        "inference_calls",
        "tool_calls",
        "terminal_operations",
        "code_cells",
        "compaction_requests",
    ],
)
@pytest.mark.parametrize("field", ["started_at_unix_ms", "ended_at_unix_ms"])
def test_the_last_known_time_is_the_latest_start_or_end_of_any_timed_object(
    demo_state: Any, table: str, field: str
) -> None:
    """An unfinished rollout is drawn (and ``summary``'s wall time counted) up to the latest
    time any of its objects has: a code cell started after everything else moves it too.
    Leaving code cells out passed every view test (mut31)."""
    state = orjson.loads(orjson.dumps(demo_state))
    latest = last_known_unix_ms(state)
    assert latest > 0
    execution = {"started_at_unix_ms": latest - 1, "ended_at_unix_ms": None}
    execution[field] = latest + 5_000
    state.setdefault(table, {})["late"] = {"execution": execution}
    assert last_known_unix_ms(state) == latest + 5_000


def test_a_compactions_record_names_what_it_replaced_and_its_replacement(
    demo_state: Any,
) -> None:
    """The page's compaction details list the items replaced (``in``) and the replacement
    history (``repl``) by item index: the two lists swapped passed every view test (mut42)."""
    model = build_view_model(demo_state)
    ids = [item["id"] for item in model["items"]]
    records = {r["id"]: r for r in model["compactions"] if not r.get("req")}
    assert records
    for compaction in demo_state["compactions"].values():
        record = records[compaction["compaction_id"]]
        assert [ids[ix] for ix in record["in"]] == compaction["input_item_ids"]
        assert [ids[ix] for ix in record["repl"]] == compaction["replacement_item_ids"]
