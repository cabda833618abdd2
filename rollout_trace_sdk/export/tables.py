"""One reduced state → the rows of the thirteen analytics tables (schemas: ``schema.py``).

The reduced state is a graph keyed by ids that are unique only inside one bundle, so every row
carries the bundle's ``trace_id`` and ``rollout_id``. Nested state (execution windows, token
usage, edge anchors, terminal requests and results) is flattened into typed columns so SQL
needs no JSON functions, and an edge's ends get their owning thread looked up, so "who talked
to whom" is a plain join. Rows are built from the state as plain JSON values
(``RolloutTrace.to_json()`` or a parsed ``state.json``): both bundle schemas and any state
version that has the fields read here go through one path, and a missing or mistyped field
becomes a null rather than an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from ..reduce.failures import FAILED_STATUSES
from ..view.agent_tools import spawning_call
from ..view.capture import capture_notes, cut_status, not_whole, unavailable_ids
from ..view.error_texts import logged_error, tool_error
from ..view.item_text import add_delivered, delivers, first_line
from ..view.reports import is_loss_report
from ..view.rollout_metadata import metadata_json
from .schema import TABLE_NAMES, TOKEN_NAMES, Row
from .tables_guardrails import guardrail_rows

_Obj = Mapping[str, Any]

#: Longest ``rollouts.failure``: a line to read in a query's result (the turn's or call's
#: row has the whole text).
FAILURE_CHARS: Final = 200

#: A payload reference's body, or why it cannot be read (a text).
PayloadText = Callable[[_Obj], bytes | str]


def build_rows(
    state: _Obj,
    *,
    source: str,
    lenient: bool = False,
    notes: list[str] | None = None,
    payload_text: PayloadText | None = None,
    reports: list[str] | None = None,
) -> dict[str, list[Row]]:
    """Every table's rows for one reduced state.

    Args:
        state: the reduced state as plain JSON values.
        source: the bundle's path or URL (every row's ``source``).
        lenient: the state came from a lenient reduction.
        notes: what lenient reduction skipped.
        payload_text: reads a payload reference's body (or says why it cannot); None leaves
            ``raw_payloads.text`` null.
        reports: what our recorder reported at the end of the bundle's log
            (``view.reports.recorder_reports``: loss, redaction).

    Returns:
        Table name → rows (dicts keyed by column name), every table present.
    """
    keys = _keys(state, source)
    items = _map(state, "conversation_items")
    tools = _map(state, "tool_calls")
    payloads = _map(state, "raw_payloads")
    compactions = _map(state, "compactions")
    requests = _map(state, "compaction_requests")
    cut = {key for key, ref in payloads.items() if cut_status(ref) is not None}
    cut_notes = capture_notes(state)
    out: dict[str, list[Row]] = {
        "threads": [
            _thread(keys, t, _map(state, "interaction_edges"), tools)
            for t in _map(state, "threads").values()
        ],
        "turns": [_turn(keys, t) for t in _map(state, "codex_turns").values()],
        "conversation_items": [_item(keys, i, cut) for i in items.values()],
        "inference_calls": [_inference(keys, c) for c in _map(state, "inference_calls").values()],
        "tool_calls": [_tool(keys, t, tool_error(state, t, cut_notes)) for t in tools.values()],
        "terminal_operations": [
            _terminal(keys, op, tools) for op in _map(state, "terminal_operations").values()
        ],
        "code_cells": [_cell(keys, c) for c in _map(state, "code_cells").values()],
        "compactions": [_compaction(keys, c, requests) for c in compactions.values()],
        "compaction_requests": [
            _compaction_request(keys, r, compactions) for r in requests.values()
        ],
        "interaction_edges": [
            _edge(keys, e, items, tools) for e in _map(state, "interaction_edges").values()
        ],
        "guardrails": guardrail_rows(keys, _map(state, "codex_turns")),
        "raw_payloads": [_payload(keys, r, payload_text) for r in payloads.values()],
    }
    out["rollouts"] = [_rollout(keys, state, out, lenient, notes or [], reports or [])]
    return {name: out[name] for name in TABLE_NAMES}


def payload_row_batches(
    state: _Obj, *, source: str, payload_text: PayloadText, max_bytes: int
) -> Iterator[list[Row]]:
    """The ``raw_payloads`` rows with their bodies read, a batch at a time: a batch ends once
    its bodies pass ``max_bytes``, so a writer holds one batch's text, not the bundle's.

    ``build_rows`` with ``payload_text`` would hold every body at once: a schema-3 bundle's
    requests are spliced from the whole history each time, so the bodies of a 47 MB bundle
    came to 1.8 GB of text (6.5 GB of memory, found by review).

    Args:
        state: the reduced state as plain JSON values.
        source: the bundle's path or URL.
        payload_text: reads a payload reference's body (or says why it cannot).
        max_bytes: the bodies' size past which a batch ends.

    Yields:
        Rows, in the order ``build_rows`` gives them.
    """
    keys = _keys(state, source)
    batch: list[Row] = []
    size = 0
    for ref in _map(state, "raw_payloads").values():
        row = _payload(keys, ref, payload_text)
        batch.append(row)
        size += row["text_bytes"] or 0
        if size >= max_bytes:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


# --- one builder per table -----------------------------------------------------------------------


def _keys(state: _Obj, source: str) -> Row:
    return {
        "trace_id": state.get("trace_id"),
        "rollout_id": state.get("rollout_id"),
        "source": source,
    }


def _map(state: _Obj, key: str) -> dict[str, _Obj]:
    value = state.get(key)
    if not isinstance(value, Mapping):
        return {}
    return {k: v for k, v in value.items() if isinstance(v, Mapping)}


def _obj(value: Any) -> _Obj:
    return value if isinstance(value, Mapping) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _strs(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _strs_of(obj: _Obj, *names: str) -> Row:
    """Columns named as the state's fields they copy, as text (most columns are)."""
    return {name: _str(obj.get(name)) for name in names}


def _ints_of(obj: _Obj, *names: str) -> Row:
    """Columns named as the state's fields they copy, as integers."""
    return {name: _int(obj.get(name)) for name in names}


def _ids_of(obj: _Obj, *names: str) -> Row:
    """Columns named as the state's id lists they copy, in the state's order (a request's
    items as sent: SQL unnests them with their positions)."""
    return {name: _strs(obj.get(name)) for name in names}


def _window(execution: Any) -> Row:
    e = _obj(execution)
    started, ended = _int(e.get("started_at_unix_ms")), _int(e.get("ended_at_unix_ms"))
    return {
        "started_at": started,
        "ended_at": ended,
        "duration_ms": ended - started if started is not None and ended is not None else None,
        "status": _str(e.get("status")),
        **_ints_of(e, "started_seq", "ended_seq"),
    }


def _rollout(
    keys: Row,
    state: _Obj,
    tables: dict[str, list[Row]],
    lenient: bool,
    notes: list[str],
    reports: list[str],
) -> Row:
    started, ended = _int(state.get("started_at_unix_ms")), _int(state.get("ended_at_unix_ms"))
    recording = _str(state.get("recording_status"))
    if recording is None and isinstance(state.get("recording_complete"), bool):
        recording = "complete" if state["recording_complete"] else "unclosed"
    row: Row = {
        **keys,
        "schema_version": _int(state.get("schema_version")),
        "started_at": started,
        "ended_at": ended,
        "duration_ms": ended - started if started is not None and ended is not None else None,
        "status": _str(state.get("status")),
        "recording_status": recording,
        "root_thread_id": _str(state.get("root_thread_id")),
        **{name: len(rows) for name, rows in tables.items()},
        "guardrails_tripped": sum(row["triggered"] for row in tables["guardrails"]),
        "lenient": lenient,
        "lenient_notes": list(notes),
        "failure": _failure(tables, _str(state.get("status"))),
        "last_turn_failed": _last_turn_failed(tables["turns"], _str(state.get("root_thread_id"))),
        "lossy": any(map(is_loss_report, reports)),
        "recorder_reports": list(reports),
        "metadata": metadata_json(state),
    }
    for name in TOKEN_NAMES:
        # as SQL's sum(): null when no call reported the count (0 would claim a measurement)
        counts = [r[name] for r in tables["inference_calls"] if r[name] is not None]
        row[name] = sum(counts) if counts else None
    return row


def _last_turn_failed(turns: list[Row], root: str | None) -> bool:
    """``rollouts.last_turn_failed``: the root agent's last turn (the last it started) ended
    ``failed``, as ``ls`` reads it from the log's tail (``_log_status``): a turn started since
    is a run that went on; a sub-agent's failed turn is not the run's (review status49)."""
    own = [t for t in turns if t["thread_id"] == root and t["started_seq"] is not None]
    return bool(own) and max(own, key=lambda t: t["started_seq"])["status"] == "failed"


def _failure(tables: dict[str, list[Row]], status: str | None) -> str | None:
    """``rollouts.failure``: why the first turn (in the order they ended) that failed or was
    cancelled or aborted ended so (its ``error_text``, else that of the first of its calls
    that ended badly); without such a turn, for a rollout that failed or was aborted, the
    first text of a call that ended badly. Its first line, cut at :data:`FAILURE_CHARS`."""

    def ended(row: Row) -> tuple[bool, int]:
        return row["ended_seq"] is None, row["ended_seq"] or 0

    calls = sorted(
        (
            row
            for name in ("inference_calls", "compaction_requests", "tool_calls")
            for row in tables[name]
            if row["error_text"]
        ),
        key=ended,
    )
    turns = sorted((r for r in tables["turns"] if r["status"] in FAILED_STATUSES), key=ended)
    for turn in turns:
        mine = (c["error_text"] for c in calls if c["codex_turn_id"] == turn["codex_turn_id"])
        text = _first_line(turn["error_text"] or next(mine, None) or "")
        if text:
            return text
    if status in FAILED_STATUSES and calls:
        return _first_line(calls[0]["error_text"])
    return None


def _first_line(text: str) -> str | None:
    return first_line(text, FAILURE_CHARS) or None


def _thread(keys: Row, t: _Obj, edges: _Obj, tools: _Obj) -> Row:
    origin = _obj(t.get("origin"))
    return {
        **keys,
        **_strs_of(t, "thread_id", "agent_path", "nickname"),
        **_strs_of(origin, "parent_thread_id", "spawn_edge_id"),
        "spawned_by_tool_call_id": spawning_call(t, edges, tools),
        **_strs_of(origin, "task_name", "agent_role"),
        "default_model": _str(t.get("default_model")),
        **_window(t.get("execution")),
        "conversation_items": len(_strs(t.get("conversation_item_ids"))),
    }


def _turn(keys: Row, t: _Obj) -> Row:
    return {
        **keys,
        **_strs_of(t, "codex_turn_id", "thread_id"),
        **_window(t.get("execution")),
        "input_items": len(_strs(t.get("input_item_ids"))),
        "error_text": logged_error(t),
    }


def _parts(body: Any) -> list[_Obj]:
    parts = _obj(body).get("parts") if isinstance(body, Mapping) else body
    return [p for p in parts if isinstance(p, Mapping)] if isinstance(parts, list) else []


def _part_text(part: _Obj) -> str:
    kind = part.get("type")
    if kind in ("text", "summary"):
        return str(part.get("text", ""))
    if kind == "json":
        return str(part.get("summary", ""))
    if kind == "code":
        return str(part.get("source", ""))
    return ""


def _body_text(parts: list[_Obj], delivered: bool) -> str:
    """The body's text; ``delivered``: a message between agents, whose ``encrypted_content``
    is the text delivered to the agent (a spawn's task; ``view.item_text.parts_text``)."""
    texts: list[str] = []
    for part in parts:
        value = part.get("value")
        if delivered and part.get("type") == "encoded" and isinstance(value, str):
            add_delivered(texts, value)
        elif text := _part_text(part):
            texts.append(text)
    return "\n".join(t for t in texts if t)


def _cut_parts(parts: list[_Obj], cut: set[str]) -> tuple[list[str], bool]:
    """The payloads recorded truncated or omitted that a body's parts stand for, and whether
    one of them stood for text (then the body's text is not whole).

    A ``payload_ref`` part names a cut payload in Codex's schema 3 where the text or value
    was (label ``text``, ...), or an element of a content array (an image: it carries a
    ``content_sha256``, and the text around it is whole); a JSON part's summary names one by
    the placeholder ``{"$trace_unavailable": id}`` where the value was.
    """
    named: dict[str, bool] = {}
    for part in parts:
        kind = part.get("type")
        if kind == "payload_ref" and part.get("raw_payload_id") in cut:
            ident = str(part["raw_payload_id"])
            named[ident] = named.get(ident, False) or "content_sha256" not in part
        elif kind == "json":
            for ident in unavailable_ids(str(part.get("summary", ""))):
                if ident in cut:
                    named[ident] = True
    return list(named), any(named.values())


def _item(keys: Row, i: _Obj, cut: set[str]) -> Row:
    parts = _parts(i.get("body"))
    cut_ids, text_cut = _cut_parts(parts, cut)
    meta = _obj(i.get("agent_message"))
    text = None if text_cut else _body_text(parts, delivers(i))
    producers = []
    for p in i.get("produced_by") or []:
        p = _obj(p)
        ident = next((v for k, v in p.items() if k != "type" and isinstance(v, str)), None)
        producers.append({"type": _str(p.get("type")), "id": ident})
    return {
        **keys,
        **_strs_of(
            i,
            "item_id",
            "thread_id",
            "codex_turn_id",
            "responses_item_id",
            "role",
            "channel",
            "kind",
            "call_id",
        ),
        "first_seen_at": _int(i.get("first_seen_at_unix_ms")),
        "accepted_at": _int(i.get("accepted_at_unix_ms")),
        **_strs_of(meta, "author", "recipient"),
        "part_types": [str(p.get("type")) for p in parts],
        "text": text,
        "text_chars": len(text) if text is not None else None,
        "cut_payload_ids": cut_ids,
        "raw_payload_ids": [str(p["raw_payload_id"]) for p in parts if "raw_payload_id" in p],
        "produced_by": producers,
    }


def _inference(keys: Row, c: _Obj) -> Row:
    usage = _obj(c.get("usage"))
    return {
        **keys,
        **_strs_of(
            c,
            "inference_call_id",
            "thread_id",
            "codex_turn_id",
            "model",
            "provider_name",
            "response_id",
            "upstream_request_id",
        ),
        **_window(c.get("execution")),
        **{name: _int(usage.get(name)) for name in TOKEN_NAMES},
        "request_items": len(_strs(c.get("request_item_ids"))),
        "response_items": len(_strs(c.get("response_item_ids"))),
        **_ids_of(c, "request_item_ids", "response_item_ids"),
        "tool_calls_started": len(_strs(c.get("tool_call_ids_started_by_response"))),
        **_strs_of(
            c, "raw_request_payload_id", "prepared_prompt_payload_id", "raw_response_payload_id"
        ),
        "error_text": logged_error(c),
    }


def _tool_name(kind: _Obj, tag: str | None) -> str | None:
    if tag == "mcp":
        # "server/tool", or whichever of the two the state names ("mcp" if neither)
        named = [str(kind[key]) for key in ("server", "tool") if kind.get(key) is not None]
        return "/".join(named) or tag
    if tag == "other" and kind.get("name"):
        return str(kind["name"])
    return tag


def _tool(keys: Row, t: _Obj, error_text: str | None) -> Row:
    kind = _obj(t.get("kind"))
    tag = _str(kind.get("type"))
    requester = _obj(t.get("requester"))
    summary = _obj(t.get("summary"))
    return {
        **keys,
        **_strs_of(t, "tool_call_id", "thread_id"),
        "codex_turn_id": _str(t.get("started_by_codex_turn_id")),
        "tool_name": _tool_name(kind, tag),
        "kind": tag,
        "mcp_server": _str(kind.get("server")),
        "mcp_tool": _str(kind.get("tool")),
        **_strs_of(t, "model_visible_call_id", "mcp_call_id", "code_mode_runtime_tool_id"),
        "requester": _str(requester.get("type")),
        "requester_code_cell_id": _str(requester.get("code_cell_id")),
        **_strs_of(t, "started_code_cell_id", "terminal_operation_id"),
        **_window(t.get("execution")),
        "summary_type": _str(summary.get("type")),
        "summary_label": _str(summary.get("label")),
        "input_preview": _str(summary.get("input_preview") or summary.get("message_preview")),
        **_strs_of(summary, "output_preview", "target_agent_path"),
        **_strs_of(t, "raw_invocation_payload_id", "raw_result_payload_id"),
        "raw_runtime_payload_ids": _strs(t.get("raw_runtime_payload_ids")),
        "error_text": error_text,
        "approval": _str(t.get("approval")),
    }


# Each builder is the column list of one table (column: the field it copies): the builders
# look alike line by line because they are tables of the same form, not one logic.
def _terminal(keys: Row, op: _Obj, tools: dict[str, _Obj]) -> Row:
    request = _obj(op.get("request"))
    result = _obj(op.get("result"))
    tool = tools.get(str(op.get("tool_call_id")), {})
    return {
        **keys,
        **_strs_of(op, "operation_id", "terminal_id", "tool_call_id"),
        "thread_id": _str(tool.get("thread_id")),
        "kind": _str(op.get("kind")),
        **_window(op.get("execution")),
        "command": _strs(request.get("command")),
        **_strs_of(request, "display_command", "cwd", "stdin"),
        **_ints_of(request, "yield_time_ms", "max_output_tokens"),
        "exit_code": _int(result.get("exit_code")),
        **_strs_of(result, "stdout", "stderr"),
        "original_token_count": _int(result.get("original_token_count")),
        "raw_payload_ids": _strs(op.get("raw_payload_ids")),
    }


def _cell(keys: Row, c: _Obj) -> Row:
    return {
        **keys,
        **_strs_of(
            c,
            "code_cell_id",
            "thread_id",
            "codex_turn_id",
            "model_visible_call_id",
            "runtime_cell_id",
            "source_item_id",
        ),
        **_window(c.get("execution")),
        "runtime_status": _str(c.get("runtime_status")),
        "initial_response_at": _int(c.get("initial_response_at_unix_ms")),
        "initial_response_status": _str(c.get("initial_response_status")),
        "yielded_at": _int(c.get("yielded_at_unix_ms")),
        "source_js": _str(c.get("source_js")),
        "output_items": len(_strs(c.get("output_item_ids"))),
        "nested_tool_calls": len(_strs(c.get("nested_tool_call_ids"))),
        "wait_tool_calls": len(_strs(c.get("wait_tool_call_ids"))),
        **_strs_of(c, "raw_initial_response_payload_id", "raw_result_payload_id"),
    }


def _compaction(keys: Row, c: _Obj, requests: dict[str, _Obj]) -> Row:
    mine = [requests[r] for r in _strs(c.get("request_ids")) if r in requests]
    windows = [_window(r.get("execution")) for r in mine]
    starts = [w["started_at"] for w in windows if w["started_at"] is not None]
    ends = [w["ended_at"] for w in windows if w["ended_at"] is not None]
    last = mine[-1] if mine else {}
    return {
        **keys,
        **_strs_of(c, "compaction_id", "thread_id", "codex_turn_id"),
        "installed_at": _int(c.get("installed_at_unix_ms")),
        "marker_item_id": _str(c.get("marker_item_id")),
        "input_items": len(_strs(c.get("input_item_ids"))),
        "replacement_items": len(_strs(c.get("replacement_item_ids"))),
        **_ids_of(c, "input_item_ids", "replacement_item_ids"),
        "requests": len(_strs(c.get("request_ids"))),
        **_strs_of(last, "model", "provider_name"),
        "request_started_at": min(starts, default=None),
        "request_ended_at": max(ends, default=None),
        "request_status": windows[-1]["status"] if windows else None,
    }


def _compaction_request(keys: Row, r: _Obj, compactions: dict[str, _Obj]) -> Row:
    """One request, installed or not: a request that failed (or was cut off) belongs to no
    row of ``compactions``, which holds the installed ones only."""
    compaction = compactions.get(str(r.get("compaction_id")), {})
    return {
        **keys,
        **_strs_of(r, "compaction_request_id", "compaction_id", "thread_id", "codex_turn_id"),
        **_window(r.get("execution")),
        **_strs_of(r, "model", "provider_name"),
        "installed_at": _int(compaction.get("installed_at_unix_ms")),
        **_strs_of(r, "raw_request_payload_id", "raw_response_payload_id"),
        "error_text": logged_error(r),
    }


_ANCHOR_ID: Final = {
    "conversation_item": "item_id",
    "tool_call": "tool_call_id",
    "thread": "thread_id",
}


def _anchor(anchor: Any, items: dict[str, _Obj], tools: dict[str, _Obj]) -> tuple[Any, ...]:
    """(type, id, owning thread) of an edge end; the thread is looked up for items and tools."""
    a = _obj(anchor)
    kind = _str(a.get("type"))
    ident = _str(a.get(_ANCHOR_ID.get(kind or "", ""), None))
    if kind == "thread":
        thread = ident
    else:
        owner = (items if kind == "conversation_item" else tools).get(ident or "", {})
        thread = _str(owner.get("thread_id"))
    return kind, ident, thread


def _edge(keys: Row, e: _Obj, items: dict[str, _Obj], tools: dict[str, _Obj]) -> Row:
    s_type, s_id, s_thread = _anchor(e.get("source"), items, tools)
    t_type, t_id, t_thread = _anchor(e.get("target"), items, tools)
    return {
        **keys,
        **_strs_of(e, "edge_id", "kind"),
        "source_type": s_type,
        "source_id": s_id,
        "source_thread_id": s_thread,
        "target_type": t_type,
        "target_id": t_id,
        "target_thread_id": t_thread,
        "started_at": _int(e.get("started_at_unix_ms")),
        "ended_at": _int(e.get("ended_at_unix_ms")),
        "carried_item_ids": _strs(e.get("carried_item_ids")),
        "carried_raw_payload_ids": _strs(e.get("carried_raw_payload_ids")),
    }


def _payload(keys: Row, ref: _Obj, payload_text: PayloadText | None) -> Row:
    capture = _obj(ref.get("capture"))
    # a payload recorded cut short or left out, or spliced from such a part, has no text to
    # give (the reader would give Codex's placeholder for the cut): its capture columns, or
    # its parts' rows, say why
    body: bytes | None = None
    unread: str | None = None
    if payload_text is not None:
        cut = not_whole(ref)
        read = payload_text(ref) if cut is None else cut
        body, unread = (read, None) if isinstance(read, bytes) else (None, read)
    return {
        **keys,
        "raw_payload_id": _str(ref.get("raw_payload_id")),
        "kind": _str(_obj(ref.get("kind")).get("type")),
        "path": _str(ref.get("path")),
        "shard": _int(ref.get("shard")),
        "capture_status": _str(capture.get("status")),
        **_ints_of(capture, "original_bytes", "retained_bytes"),
        "part_ids": [str(_obj(p).get("raw_payload_id")) for p in ref.get("parts") or []],
        "text": body.decode("utf-8", "replace") if body is not None else None,
        "text_bytes": len(body) if body is not None else None,
        "text_unread": unread,
    }
