"""The viewer's JSON view model: the reduced state cut down to what the page draws.

``state.json`` names everything by string id and repeats id lists (a request lists every item
the model saw), which makes it large and slow to walk in a browser. The view model numbers
threads, items, calls and tool calls once, refers to them by index, stores times relative to
the rollout start and keeps the text the page shows and searches. Raw payload bodies are not
part of it: the page asks for them only when the user opens one.

It is built from the state as plain JSON values (``orjson.loads(state_bytes(trace))`` or a
``state.json`` read from disk), so one code path serves both inputs and any state version
that has the fields we read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..model.state_execution import UNKNOWN_MODEL
from ._model_joins import compaction_records, edge_records
from .capture import capture_notes, recording_status
from .hosted_text import hosted_text
from .images import image_refs
from .item_text import (
    clip,
    delivers,
    ending_turn_id,
    own_item_ids,
    parts_text,
    payload_of,
    summary_text,
    tool_name,
    what_stopped,
)
from .rollout_metadata import METADATA_KEYS, metadata_of, metadata_texts
from .sent_in import mark_sent_in

VIEW_MODEL_VERSION: Final = 1
#: How a web search's JSON starts (both reducers write its ``type`` first).
#: The longest a metadata value is on the page (its title has it up to this too).
METADATA_CHARS: Final = 200
_WEB_SEARCH: Final = '{"type":"web_search_call"'

_Obj = Mapping[str, Any]


def _map(state: _Obj, key: str) -> list[_Obj]:
    value = state.get(key)
    if not isinstance(value, Mapping):
        return []
    return [v for v in value.values() if isinstance(v, Mapping)]


def _seq(obj: _Obj, key: str = "started_seq") -> int:
    execution = obj.get("execution")
    seq = execution.get(key) if isinstance(execution, Mapping) else None
    return seq if isinstance(seq, int) else 0


class _Builder:
    """Numbers the state's objects and writes the compact records."""

    def __init__(self, state: _Obj) -> None:
        self.state = state
        started = state.get("started_at_unix_ms")
        self.t0: int = started if isinstance(started, int) else 0
        self.notes = capture_notes(state)  # what capture limits cut or left out
        #: the rollout has ended: what is still "running" then never ended
        self.finished = isinstance(state.get("ended_at_unix_ms"), int)
        self.thread_ix: dict[str, int] = {}
        self.item_ix: dict[str, int] = {}
        self.call_ix: dict[str, int] = {}
        self.tool_ix: dict[str, int] = {}
        self.op_ix: dict[str, int] = {}
        self.cell_ix: dict[str, int] = {}
        self.turn_ix: dict[str, int] = {}
        #: each thread's first inference call's model (for a thread recorded without one)
        self.called: dict[Any, Any] = {}

    def rel(self, value: Any) -> int | None:
        return value - self.t0 if isinstance(value, int) else None

    def window(self, obj: _Obj) -> dict[str, Any]:
        """Start, end and status; ``"ne": True`` for what never ended: still ``running``
        (Codex's status, kept) with no end in a rollout that has ended (a tool call a
        ``turn_aborted`` left open), which the views say rather than "running · running"."""
        execution = obj.get("execution")
        if not isinstance(execution, Mapping):
            window: dict[str, Any] = {"s": None, "e": None, "st": "running"}
        else:
            window = {
                "s": self.rel(execution.get("started_at_unix_ms")),
                "e": self.rel(execution.get("ended_at_unix_ms")),
                "st": execution.get("status", "running"),
                # the start's place in the log: a fast loop starts a tool call and the next
                # inference call in the same millisecond, and only this tells which came first
                "q": _seq(obj),
            }
        if self.finished and window["e"] is None and window["st"] == "running":
            window["ne"] = True
        return window

    def indexes(self, table: dict[str, int], ids: Any) -> list[int]:
        if not isinstance(ids, list):
            return []
        return [table[i] for i in ids if isinstance(i, str) and i in table]

    def thread(self, thread_id: Any) -> int:
        return self.thread_ix.get(thread_id, -1) if isinstance(thread_id, str) else -1

    def build(self) -> dict[str, Any]:
        state = self.state
        threads = sorted(_map(state, "threads"), key=_seq)
        for n, thread in enumerate(threads):
            self.thread_ix[str(thread.get("thread_id"))] = n
        items = sorted(
            _map(state, "conversation_items"),
            key=lambda i: (i.get("first_seen_at_unix_ms") or 0, _item_number(i.get("item_id"))),
        )
        for n, item in enumerate(items):
            self.item_ix[str(item.get("item_id"))] = n
        calls = _indexed(state, "inference_calls", "inference_call_id", self.call_ix)
        tools = _indexed(state, "tool_calls", "tool_call_id", self.tool_ix)
        ops = _indexed(state, "terminal_operations", "operation_id", self.op_ix)
        cells = _indexed(state, "code_cells", "code_cell_id", self.cell_ix)
        turns = _indexed(state, "codex_turns", "codex_turn_id", self.turn_ix)
        for call in reversed(calls):  # recording order: the first call's model is kept
            if isinstance(call.get("model"), str) and call["model"]:
                self.called[call.get("thread_id")] = call["model"]
        return {
            "version": VIEW_MODEL_VERSION,
            "meta": self.meta(),
            "threads": [self.thread_record(t) for t in threads],
            "turns": [self.turn_record(t) for t in turns],
            "items": [self.item_record(i) for i in items],
            "calls": [self.call_record(c) for c in calls],
            "tools": [self.tool_record(t) for t in tools],
            "ops": [self.op_record(o) for o in ops],
            "cells": [self.cell_record(c) for c in cells],
            "compactions": compaction_records(
                self,
                sorted(_map(state, "compaction_requests"), key=_seq),
                _map(state, "compactions"),
            ),
            "edges": edge_records(self, _map(state, "interaction_edges")),
            "payloads": self.payload_records(),
        }

    def meta(self) -> dict[str, Any]:
        state = self.state
        metadata = metadata_of(state)
        return {
            "trace_id": state.get("trace_id"),
            "rollout_id": state.get("rollout_id"),
            "status": state.get("status"),
            "recording_complete": bool(state.get("recording_complete")),
            "recording": recording_status(state),
            "t0": self.t0,
            "end": self.rel(state.get("ended_at_unix_ms")),
            "root": self.thread(state.get("root_thread_id")),
            "metadata": metadata_texts(metadata, METADATA_CHARS, METADATA_KEYS),
            "metadata_more": len(metadata) - min(len(metadata), METADATA_KEYS),
        }

    def thread_record(self, thread: _Obj) -> dict[str, Any]:
        origin = thread.get("origin")
        parent = -1
        task = None
        if isinstance(origin, Mapping) and origin.get("type") == "spawned":
            parent = self.thread(origin.get("parent_thread_id"))
            task = origin.get("task_name")
        record = {
            "id": thread.get("thread_id"),
            "path": thread.get("agent_path"),
            "nick": thread.get("nickname"),
            "model": thread.get("default_model"),
            "parent": parent,
            "task": task,
            **self.window(thread),
        }
        if record["model"] in (None, "", UNKNOWN_MODEL):
            # recorded without a model (the Agents SDK names none before the first response):
            # the model its first inference call used, marked as such (``mc``)
            called = self.called.get(thread.get("thread_id"))
            if called is not None:
                record["model"], record["mc"] = called, 1
        return record

    def turn_record(self, turn: _Obj) -> dict[str, Any]:
        record = {
            "id": turn.get("codex_turn_id"),
            "t": self.thread(turn.get("thread_id")),
            **self.window(turn),
        }
        ended_seq = _seq(turn, "ended_seq")
        if ended_seq:
            # its end's place in the log: a loop that starts the next turn the millisecond
            # this one was cut off has only this to tell the end came first (show_order.py)
            record["qe"] = ended_seq
        if isinstance(turn.get("error_text"), str):  # from its protocol events (turn_errors.py)
            record["err"] = clip(turn["error_text"])
        guardrails = turn.get("guardrails")  # from their protocol events (guardrails.py)
        if isinstance(guardrails, list) and guardrails:
            record["g"] = [
                [
                    clip(str(g.get("name"))),
                    g.get("triggered") is True,
                    self.rel(g.get("at_unix_ms")),
                ]
                for g in guardrails
                if isinstance(g, Mapping)
            ]
        return record

    def item_record(self, item: _Obj) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": item.get("item_id"),
            "t": self.thread(item.get("thread_id")),
            "role": item.get("role"),
            "kind": item.get("kind"),
            "at": self.rel(item.get("first_seen_at_unix_ms")),
            # reasoning keeps its summary apart (shown first, as the model's own gloss)
            "text": parts_text(
                item.get("body"),
                summaries=item.get("kind") != "reasoning",
                notes=self.notes,
                delivered=delivers(item),
            ),
        }
        words = hosted_text(item.get("body"))  # a web search, a tool search, a local shell...
        if words is not None:  # read as words; its JSON kept for show --full and the page
            record["text"], record["json"] = clip(words), record["text"]
        if item.get("channel"):
            record["ch"] = item["channel"]
        if item.get("call_id"):
            record["call_id"] = item["call_id"]
        if item.get("kind") == "reasoning":
            summary = summary_text(item.get("body"))
            if summary:
                record["summary"] = summary
        message = item.get("agent_message")
        if isinstance(message, Mapping):
            record["from"] = message.get("author")
            record["to"] = message.get("recipient")
        producers = []
        for producer in item.get("produced_by") or []:
            if isinstance(producer, Mapping):
                producers.append(self.producer(producer))
        if producers:
            record["by"] = producers
        payload = payload_of(item.get("body"))
        if payload:
            record["p"] = payload
        images = image_refs(item.get("body"))
        if images:
            record["im"] = images
        return record

    def producer(self, producer: _Obj) -> list[Any]:
        """``[type, index or id]``: an index into calls/tools/cells when we know the object."""
        kind = str(producer.get("type"))
        tables = {
            "inference": ("inference_call_id", self.call_ix),
            "tool": ("tool_call_id", self.tool_ix),
            "code_cell": ("code_cell_id", self.cell_ix),
        }
        if kind in tables:
            field, table = tables[kind]
            ident = producer.get(field)
            return [kind, table.get(ident, ident) if isinstance(ident, str) else None]
        ident = producer.get("edge_id") or producer.get("compaction_id")
        return [kind, ident] if ident else [kind]

    def call_record(self, call: _Obj) -> dict[str, Any]:
        usage = call.get("usage")
        record: dict[str, Any] = {
            "id": call.get("inference_call_id"),
            "t": self.thread(call.get("thread_id")),
            "turn": self.turn_ix.get(call.get("codex_turn_id"), -1),  # type: ignore[arg-type]
            **self.window(call),
            "model": call.get("model"),
            "provider": call.get("provider_name"),
            "req": self.indexes(self.item_ix, call.get("request_item_ids")),
            "resp": self.indexes(self.item_ix, call.get("response_item_ids")),
            "tools": self.indexes(self.tool_ix, call.get("tool_call_ids_started_by_response")),
            "rq": call.get("raw_request_payload_id"),
            "rs": call.get("raw_response_payload_id"),
        }
        if isinstance(usage, Mapping):
            record["u"] = [
                usage.get("input_tokens", 0),
                usage.get("cached_input_tokens", 0),
                usage.get("output_tokens", 0),
                usage.get("reasoning_output_tokens", 0),
            ]
        if call.get("response_id"):
            record["response_id"] = call["response_id"]
        if isinstance(call.get("error_text"), str):  # from the log (see reduce/failures.py)
            record["err"] = clip(call["error_text"])
        return record

    def tool_record(self, tool: _Obj) -> dict[str, Any]:
        items = self.state.get("conversation_items")
        summary = tool.get("summary") if isinstance(tool.get("summary"), Mapping) else {}
        assert isinstance(summary, Mapping)
        requester = tool.get("requester")
        record: dict[str, Any] = {
            "id": tool.get("tool_call_id"),
            "t": self.thread(tool.get("thread_id")),
            **self.window(tool),
            "name": tool_name(tool),
            "kind": (tool.get("kind") or {}).get("type")
            if isinstance(tool.get("kind"), Mapping)
            else None,
            "ci": self.indexes(
                self.item_ix, own_item_ids(tool, "model_visible_call_item_ids", items)
            ),
            "oi": self.indexes(
                self.item_ix, own_item_ids(tool, "model_visible_output_item_ids", items)
            ),
            "inv": tool.get("raw_invocation_payload_id"),
            "res": tool.get("raw_result_payload_id"),
        }
        if tool.get("model_visible_call_id"):
            record["call_id"] = tool["model_visible_call_id"]
        record.update(self.stop(tool, ending_turn_id(self.state, tool)))
        if isinstance(tool.get("approval"), str):  # an Agents SDK approval (approvals.py)
            record["appr"] = tool["approval"]
        if isinstance(tool.get("error_text"), str):  # from its raw result (see payloads.py)
            record["err"] = clip(tool["error_text"])
        if isinstance(tool.get("result_text"), str):  # an output no request carried (idem)
            record["result"] = clip(tool["result_text"])
        op = tool.get("terminal_operation_id")
        if isinstance(op, str) and op in self.op_ix:
            record["op"] = self.op_ix[op]
        if isinstance(requester, Mapping) and requester.get("type") == "code_cell":
            cell = requester.get("code_cell_id")
            record["cell"] = self.cell_ix.get(cell, -1) if isinstance(cell, str) else -1
        started_cell = tool.get("started_code_cell_id")
        if isinstance(started_cell, str) and started_cell in self.cell_ix:
            record["starts_cell"] = self.cell_ix[started_cell]
        for key in (
            "input_preview",
            "output_preview",
            "message_preview",
            "target_agent_path",
            "label",
        ):
            if summary.get(key):
                record[key] = clip(summary[key])
        if tool.get("mcp_call_id"):
            record["mcp_call_id"] = tool["mcp_call_id"]
        return record

    def op_record(self, op: _Obj) -> dict[str, Any]:
        request = op.get("request") if isinstance(op.get("request"), Mapping) else {}
        result = op.get("result") if isinstance(op.get("result"), Mapping) else None
        assert isinstance(request, Mapping)
        record: dict[str, Any] = {
            "id": op.get("operation_id"),
            "terminal": op.get("terminal_id"),
            "tool": self.tool_ix.get(op.get("tool_call_id"), -1),  # type: ignore[arg-type]
            "kind": op.get("kind"),
            **self.window(op),
        }
        if request.get("type") == "exec_command":
            record["command"] = clip(request.get("display_command"))
            record["cwd"] = clip(request.get("cwd"))
        else:
            record["stdin"] = clip(request.get("stdin"))
        if result is not None:
            record["exit"] = result.get("exit_code")
            record["stdout"] = clip(result.get("stdout"))
            record["stderr"] = clip(result.get("stderr"))
        else:  # the runtime event with its result a capture limit cut or left out, if one was
            lost = [p for p in op.get("raw_payload_ids") or () if str(p) in self.notes]
            if lost:
                record["lost"] = str(lost[-1])
        record["t"] = -1  # the tool call's lane, filled in once tools are numbered
        return record

    def cell_record(self, cell: _Obj) -> dict[str, Any]:
        return {
            "id": cell.get("code_cell_id"),
            "t": self.thread(cell.get("thread_id")),
            **self.window(cell),
            "runtime": cell.get("runtime_status"),
            "source": clip(cell.get("source_js")),
            "nested": self.indexes(self.tool_ix, cell.get("nested_tool_call_ids")),
            # the model's ``wait`` calls on this cell (the transcript names the cell on them)
            "waits": self.indexes(self.tool_ix, cell.get("wait_tool_call_ids")),
            "call_id": cell.get("model_visible_call_id"),
            "out": self.indexes(self.item_ix, cell.get("output_item_ids")),
            **self.stop(cell, cell.get("codex_turn_id")),
        }

    def stop(self, obj: _Obj, turn_id: Any) -> dict[str, str]:
        """What stopped an aborted or cancelled call or cell (``item_text.what_stopped``),
        said by ``show`` and the page when it says nothing itself: ``{"stop": text}``."""
        said = what_stopped(self.state, obj, turn_id)
        return {} if said is None else {"stop": said}

    def payload_records(self) -> dict[str, list[Any]]:
        payloads = self.state.get("raw_payloads")
        if not isinstance(payloads, Mapping):
            return {}
        out: dict[str, list[Any]] = {}
        for key, ref in payloads.items():
            if isinstance(ref, Mapping):
                kind = ref.get("kind")
                out[str(key)] = [
                    ref.get("path"),
                    kind.get("type") if isinstance(kind, Mapping) else kind,
                ]
                if str(key) in self.notes:  # a third element: what a capture limit cut
                    out[str(key)].append(self.notes[str(key)])
        return out


def _item_number(item_id: Any) -> int:
    """``conversation_item:12`` → 12, so ties in time keep creation order."""
    if isinstance(item_id, str):
        tail = item_id.rsplit(":", 1)[-1]
        if tail.isdigit():
            return int(tail)
    return 0


def build_view_model(state: _Obj) -> dict[str, Any]:
    """The page's view model of a reduced state.

    Args:
        state: the reduced state as plain JSON values (see ``load.load_state``).

    Returns:
        A JSON-ready dict: threads, turns, items, inference calls, tool calls, terminal
        operations, code cells, compactions, interaction edges and the payload index, each a
        list of small records that refer to one another by list index.
    """
    model = _Builder(state).build()
    for call in model["calls"]:  # the web searches it ran: its row in the calls list says so
        jsons = (model["items"][ix].get("json", "") for ix in call["resp"])
        searches = sum(1 for text in jsons if text.startswith(_WEB_SEARCH))
        if searches:
            call["ws"] = searches
    for op in model["ops"]:
        tool = op["tool"]
        if 0 <= tool < len(model["tools"]):
            op["t"] = model["tools"][tool]["t"]
    mark_sent_in(model)  # where each tool call's output went (the page, show --call)
    return model


def last_known_unix_ms(state: _Obj) -> int:
    """The last start or end any thread, turn, call, terminal operation, code cell or
    compaction request has: where the page draws an unfinished rollout's open turns and calls
    to (``S.known`` in ``static/app.js``), and what ``summary`` reads its wall time up to; 0
    when none has one."""
    known = 0
    for key in _TIMED:
        for obj in _map(state, key):
            execution = obj.get("execution")
            if isinstance(execution, Mapping):
                for field in ("started_at_unix_ms", "ended_at_unix_ms"):
                    at = execution.get(field)
                    if isinstance(at, int) and at > known:
                        known = at
    return known


_TIMED: Final = (
    "threads",
    "codex_turns",
    "inference_calls",
    "tool_calls",
    "terminal_operations",
    "code_cells",
    "compaction_requests",
)


def thread_tree_order(threads: Sequence[Mapping[str, Any]]) -> list[int]:
    """View-model thread indexes in tree order: each agent right after the one that spawned
    it (transcript and exported tracks list agents this way)."""
    children: dict[int, list[int]] = {}
    for n, th in enumerate(threads):
        children.setdefault(th.get("parent", -1), []).append(n)
    order: list[int] = []
    stack = list(reversed(children.get(-1, [])))
    seen: set[int] = set()
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        order.append(n)
        stack.extend(reversed(children.get(n, [])))
    order.extend(n for n in range(len(threads)) if n not in seen)
    return order


def _indexed(state: _Obj, table: str, id_key: str, index: dict[str, int]) -> list[_Obj]:
    """The objects of one state table in recording order, each id's position put in
    ``index`` (the compact model refers to objects by these positions)."""
    objects = sorted(_map(state, table), key=_seq)
    for n, obj in enumerate(objects):
        index[str(obj.get(id_key))] = n
    return objects
