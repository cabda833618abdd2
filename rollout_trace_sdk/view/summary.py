"""``rollout-trace summary``'s figures: totals first, then the lists a person scans.

Built straight from the reduced state's JSON form (``state.json`` or a fresh reduction), one
pass per map and nothing per conversation item, so a 30,000-event rollout summarises in well
under a second once its state is parsed; the view model (``view/model.py``) would cost several
times that. The result is a plain dict: ``--json`` prints it as is (its schema is documented in
docs/summary.md and versioned by ``SUMMARY_VERSION``), ``summary_text`` lays it out for a
terminal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from ..reduce.failures import FAILED_STATUSES
from ._summary_failures import MAX_ERROR_CHARS as MAX_ERROR_CHARS
from ._summary_failures import failures as failure_rows
from ._summary_nodes import duration as _duration
from ._summary_nodes import int_of as _int
from ._summary_nodes import objects as _objects
from ._summary_nodes import so_far as _so_far
from ._summary_nodes import started_seq as _started_seq
from ._summary_nodes import status as _status
from ._summary_nodes import window as _window
from .approvals import KEY as APPROVAL
from .approvals import STATUSES
from .capture import recording_status
from .checkpoints import checkpoint_words
from .ids import find_agent
from .item_text import tool_name
from .model import last_known_unix_ms
from .summary_terminals import by_command_status, exit_code, session_command

#: Statuses counted as failures (one set for every reader).
FAILED: Final = FAILED_STATUSES

#: Bumped when a field changes meaning or goes away (adding a field does not bump it).
SUMMARY_VERSION: Final = 1
#: The failures the page's "N failed" counts (its "failures only" rows): inference calls, tool
#: calls, compaction requests and code cells; not turns, threads or terminal operations (the
#: turn or agent a failed call ended says so; an operation is its tool call's).
CALL_FAILURES: Final = frozenset({"inference_call", "tool_call", "compaction_request", "code_cell"})

_Obj = Mapping[str, Any]
#: The lists ``limit`` cuts, in the order they are reported.
LISTS: Final = ("models", "agents", "tools_by_kind", "compactions", "terminal_sessions", "failures")


_TOKEN_FIELDS: Final = (
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
)


def _add_tokens(into: dict[str, Any], usage: Any) -> None:
    """Add a call's usage. A field stays None (unknown) until a call records it, as the
    export's ``rollouts.input_tokens`` is null when no call has it: a call without usage (a
    failed one, a response a capture limit left out) used tokens nobody knows, not none."""
    if isinstance(usage, dict):
        for name in _TOKEN_FIELDS:
            value = usage.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                into[name] = (into.get(name) or 0) + value


def _tokens() -> dict[str, Any]:
    return dict.fromkeys(_TOKEN_FIELDS)


def find_thread(state: _Obj, wanted: str) -> _Obj:
    """The agent ``wanted`` names (:func:`~.ids.find_agent`), among the state's threads in
    the order they started.

    Raises:
        LookupError: nothing, or more than one agent, matches.
    """
    return find_agent(_objects(state, "threads"), wanted)


class _Summary:
    """One pass over each of the state's maps, restricted to one thread when asked."""

    def __init__(self, state: _Obj, thread: _Obj | None, errors: Mapping[str, str]) -> None:
        self.state = state
        self.errors = errors
        self.only = thread.get("thread_id") if thread is not None else None
        self.paths: dict[Any, str] = {
            t.get("thread_id"): str(t.get("agent_path") or "?") for t in _objects(state, "threads")
        }
        #: with no end (still recording, or killed), the last time the state knows: where the
        #: page draws its open turns and calls to
        ended = isinstance(state.get("ended_at_unix_ms"), int)
        self.known = None if ended else last_known_unix_ms(state)

    def mine(self, key: str, thread_field: str = "thread_id") -> list[_Obj]:
        found = _objects(self.state, key)
        if self.only is None:
            return found
        return [o for o in found if o.get(thread_field) == self.only]

    def path(self, thread_id: Any) -> str:
        return self.paths.get(thread_id, str(thread_id))

    # --- the sections ---------------------------------------------------------------------------

    def rollout(self) -> dict[str, Any]:
        state = self.state
        start, end = state.get("started_at_unix_ms"), state.get("ended_at_unix_ms")
        recording = recording_status(state)
        return {
            "rollout_id": state.get("rollout_id"),
            "trace_id": state.get("trace_id"),
            "schema_version": state.get("schema_version"),
            "status": state.get("status"),
            "recording": recording,
            "started_at_unix_ms": start if isinstance(start, int) else None,
            "ended_at_unix_ms": end if isinstance(end, int) else None,
            "wall_ms": end - start if isinstance(start, int) and isinstance(end, int) else None,
            "known_ms": max(self.known, start) - start
            if isinstance(start, int) and self.known is not None
            else None,
        }

    def build(self, limit: int | None) -> dict[str, Any]:
        threads = self.mine("threads")
        turns = self.mine("codex_turns")
        calls = self.mine("inference_calls")
        tools = self.mine("tool_calls")
        ops = self.mine_ops(tools)
        sessions = self.mine("terminal_sessions")
        compactions = self.mine("compactions")
        requests = self.mine("compaction_requests")
        cells = self.mine("code_cells")
        edges = self.edges()
        tokens = _tokens()
        for call in calls:
            _add_tokens(tokens, call.get("usage"))
        failures = failure_rows(
            self.state, self.errors, self.path, (threads, turns, calls, tools, ops, requests, cells)
        )
        failed = Counter(f["thread_id"] for f in failures)
        failed_calls = Counter(f["thread_id"] for f in failures if f["type"] in CALL_FAILURES)
        lists: dict[str, list[dict[str, Any]]] = {
            "models": self.models(calls),
            "agents": self.agents(threads, calls, tools, failed, failed_calls),
            "tools_by_kind": self.tool_kinds(tools, ops),
            "compactions": self.compactions(compactions, requests),
            "terminal_sessions": self.sessions(sessions),
            "failures": failures,
        }
        session_rows = lists["terminal_sessions"]  # every one, before limit cuts the list
        omitted = {}
        for name in LISTS:
            rows = lists[name]
            omitted[name] = max(0, len(rows) - limit) if limit is not None else 0
            if limit is not None:
                lists[name] = rows[:limit]
        return {
            "summary_version": SUMMARY_VERSION,
            "rollout": self.rollout(),
            "thread": self.agents(threads, calls, tools, failed, failed_calls)[0]
            if self.only
            else None,
            "totals": {
                "threads": len(threads),
                "turns": _by_status(turns),
                "inference_calls": _by_status(calls),
                "tool_calls": {**_by_status(tools), "by_approval": _by_approval(tools)},
                "terminal_sessions": {
                    **_by_status(sessions),  # Codex's: always running (summary_terminals)
                    "by_command_status": by_command_status(session_rows),
                },
                "terminal_operations": _by_status(ops),
                "compactions": len(compactions),
                "compaction_requests": _by_status(requests),
                "code_cells": _by_status(cells),
                "interaction_edges": {
                    "total": len(edges),
                    "by_kind": dict(sorted(Counter(str(e.get("kind")) for e in edges).items())),
                },
                "tokens": tokens,
                "model_time_ms": sum(_duration(c) or 0 for c in calls),
                "tool_time_ms": sum(_duration(t) or 0 for t in tools),
                "failed_calls": sum(failed_calls.values()),
                "failures_by_type": dict(sorted(Counter(f["type"] for f in failures).items())),
            },
            **lists,
            "calls": self.timeline(calls, tools, compactions, limit) if self.only else None,
            "omitted": omitted,
        }

    def mine_ops(self, tools: list[_Obj]) -> list[_Obj]:
        ops = _objects(self.state, "terminal_operations")
        if self.only is None:
            return ops
        mine = {t.get("tool_call_id") for t in tools}
        return [o for o in ops if o.get("tool_call_id") in mine]

    def edges(self) -> list[_Obj]:
        edges = _objects(self.state, "interaction_edges")
        if self.only is None:
            return edges
        return [e for e in edges if self.only in _edge_threads(self.state, e)]

    def models(self, calls: list[_Obj]) -> list[dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        for call in calls:
            model = str(call.get("model") or "?")
            row = rows.setdefault(model, {"model": model, "inference_calls": 0, **_tokens()})
            row["inference_calls"] += 1
            _add_tokens(row, call.get("usage"))
        return sorted(rows.values(), key=lambda r: (-(r["input_tokens"] or 0), r["model"]))

    def agents(
        self,
        threads: list[_Obj],
        calls: Iterable[_Obj],
        tools: Iterable[_Obj],
        failed: Mapping[Any, int],
        failed_calls: Mapping[Any, int],
    ) -> list[dict[str, Any]]:
        """One row per agent; ``failures`` is its rows in the failures list (``failed``, by
        thread id): its own status, turns, calls, tools, terminal operations, compaction
        requests and code cells; ``failed_calls`` those the page counts (``CALL_FAILURES``)."""
        rows: dict[Any, dict[str, Any]] = {}
        for order, thread in enumerate(threads):
            rows[thread.get("thread_id")] = {
                "thread_id": thread.get("thread_id"),
                "agent_path": thread.get("agent_path"),
                "nickname": thread.get("nickname"),
                "model": thread.get("default_model"),
                "status": _status(thread),
                "wall_ms": _duration(thread),
                "wall_so_far_ms": _so_far(thread, self.known),
                # still running once the rollout ended: it never ended (show's and the page's)
                "never_ended": self.known is None and _status(thread) == "running",
                "inference_calls": 0,
                "tool_calls": 0,
                "failures": failed.get(thread.get("thread_id"), 0),
                "failed_calls": failed_calls.get(thread.get("thread_id"), 0),
                **_tokens(),
                "_order": order,
            }
        for call in calls:
            row = rows.get(call.get("thread_id"))
            if row is not None:
                row["inference_calls"] += 1
                _add_tokens(row, call.get("usage"))
        for tool in tools:
            row = rows.get(tool.get("thread_id"))
            if row is not None:
                row["tool_calls"] += 1
        ordered = sorted(rows.values(), key=lambda r: (-(r["input_tokens"] or 0), r["_order"]))
        for row in ordered:
            del row["_order"]
        return ordered

    def tool_kinds(self, tools: list[_Obj], ops: list[_Obj]) -> list[dict[str, Any]]:
        """Per tool kind: calls, failed ones, ones whose command exited non-zero (not failed:
        the tool ran, the command did not succeed; the ``tool-failure-rates`` recipe counts
        both as failures) and their time."""
        exits = {op.get("tool_call_id"): exit_code(op) for op in ops}
        rows: dict[str, dict[str, Any]] = {}
        for tool in tools:
            kind = tool_name(tool)
            row = rows.setdefault(
                kind,
                {
                    "kind": kind,
                    "calls": 0,
                    "failed": 0,
                    "nonzero_exit": 0,
                    "total_ms": 0,
                    "max_ms": 0,
                    "_timed": 0,
                },
            )
            row["calls"] += 1
            failed = _status(tool) in FAILED
            row["failed"] += failed
            row["nonzero_exit"] += not failed and exits.get(tool.get("tool_call_id")) not in (
                None,
                0,
            )
            duration = _duration(tool)
            if duration is not None:
                row["_timed"] += 1
                row["total_ms"] += duration
                row["max_ms"] = max(row["max_ms"], duration)
        for row in rows.values():
            timed = row.pop("_timed")
            row["mean_ms"] = round(row["total_ms"] / timed) if timed else None
            if not timed:  # every call still running: no time is known, none is 0 ms
                row["total_ms"] = row["max_ms"] = None
        return sorted(rows.values(), key=lambda r: (-(r["total_ms"] or 0), r["kind"]))

    def compactions(self, compactions: list[_Obj], requests: list[_Obj]) -> list[dict[str, Any]]:
        status_of = {r.get("compaction_id"): _status(r) for r in requests}
        rows = [
            {
                "compaction_id": c.get("compaction_id"),
                "thread_id": c.get("thread_id"),
                "agent_path": self.path(c.get("thread_id")),
                "installed_at_unix_ms": c.get("installed_at_unix_ms"),
                "input_items": len(c.get("input_item_ids") or []),
                "replacement_items": len(c.get("replacement_item_ids") or []),
                "request_status": status_of.get(c.get("compaction_id")),
            }
            for c in compactions
        ]
        rows.sort(key=lambda r: _int(r["installed_at_unix_ms"]))
        return rows

    def sessions(self, sessions: list[_Obj]) -> list[dict[str, Any]]:
        rows = []
        for session in sessions:
            status, took, command = session_command(self.state, session)
            rows.append(
                {
                    "terminal_id": session.get("terminal_id"),
                    "thread_id": session.get("thread_id"),
                    "agent_path": self.path(session.get("thread_id")),
                    "status": _status(session),
                    "operations": len(session.get("operation_ids") or []),
                    "wall_ms": _duration(session),
                    "command": command,
                    # Codex never ends a session; the command that started it does end
                    "command_status": status,
                    "command_ms": took,
                }
            )
        return rows

    def timeline(
        self, calls: list[_Obj], tools: list[_Obj], compactions: list[_Obj], limit: int | None
    ) -> list[dict[str, Any]]:
        """One agent's calls in start order: inference, tools and compactions."""
        rows: list[tuple[int, dict[str, Any]]] = []
        for call in calls:
            usage = call.get("usage")
            record = {
                "type": "inference_call",
                "id": call.get("inference_call_id"),
                "name": call.get("model"),
                "status": _status(call),
                "started_at_unix_ms": _window(call)[0],
                "duration_ms": _duration(call),
                "input_tokens": _int(usage.get("input_tokens"))
                if isinstance(usage, dict)
                else None,
                "output_tokens": _int(usage.get("output_tokens"))
                if isinstance(usage, dict)
                else None,
            }
            rows.append((_started_seq(call), record))
        for tool in tools:
            record = {
                "type": "tool_call",
                "id": tool.get("tool_call_id"),
                "name": tool_name(tool),
                "status": _status(tool),
                "started_at_unix_ms": _window(tool)[0],
                "duration_ms": _duration(tool),
                "input_tokens": None,
                "output_tokens": None,
            }
            rows.append((_started_seq(tool), record))
        for compaction in compactions:
            at = compaction.get("installed_at_unix_ms")
            record = {
                "type": "compaction",
                "id": compaction.get("compaction_id"),
                "name": checkpoint_words(compaction, short=True)
                or f"{len(compaction.get('input_item_ids') or [])} items → "
                f"{len(compaction.get('replacement_item_ids') or [])}",
                "status": "completed",
                "started_at_unix_ms": at if isinstance(at, int) else None,
                "duration_ms": None,
                "input_tokens": None,
                "output_tokens": None,
            }
            rows.append((_int(at), record))
        # calls and tools order by seq; compactions carry only a time: order all by time,
        # seq breaking ties, so the three kinds interleave as they happened
        rows.sort(key=lambda pair: (_int(pair[1]["started_at_unix_ms"]), pair[0]))
        ordered = [record for _, record in rows]
        return ordered if limit is None else ordered[:limit]


def _by_status(objects: list[_Obj]) -> dict[str, Any]:
    counts = Counter(_status(o) for o in objects)
    return {"total": len(objects), "by_status": dict(sorted(counts.items()))}


def _by_approval(tools: list[_Obj]) -> dict[str, int]:
    """How many calls waited for an Agents SDK approval, by its latest status (``pending``,
    ``approved``, ``rejected``: the ``approval`` ``approvals.py`` puts on them from the log,
    which ``log_facts`` reads); ``{}``: none did, or the log was not read."""
    counts = Counter(
        t[APPROVAL] for t in tools if isinstance(t.get(APPROVAL), str) and t[APPROVAL] in STATUSES
    )
    return dict(sorted(counts.items()))


def _edge_threads(state: _Obj, edge: _Obj) -> set[Any]:
    """The threads an interaction edge touches (its ends name an item, a tool or a thread)."""
    found = set()
    for end in (edge.get("source"), edge.get("target")):
        if not isinstance(end, dict):
            continue
        kind = end.get("type")
        if kind == "thread":
            found.add(end.get("thread_id"))
            continue
        table, key = (
            ("conversation_items", "item_id")
            if kind == "conversation_item"
            else ("tool_calls", "tool_call_id")
        )
        objects = state.get(table)
        obj = objects.get(end.get(key)) if isinstance(objects, dict) else None
        if isinstance(obj, dict):
            found.add(obj.get("thread_id"))
    return found


def build_summary(
    state: _Obj,
    *,
    thread: str | None = None,
    limit: int | None = None,
    errors: Mapping[str, str] | None = None,
    reports: Sequence[str] = (),
    metadata: Mapping[str, Any] | None = None,
    metadata_cut: int = 0,
) -> dict[str, Any]:
    """The summary of a reduced state (schema in docs/summary.md).

    Args:
        state: the reduced state as plain JSON values.
        thread: only this agent (agent path, thread id or a unique id prefix); adds its calls.
        limit: keep at most this many rows per list (``omitted`` says how many were cut).
        errors: error texts the state does not keep (an inference call's or a compaction
            request's, a tool call's raw result), by id; see ``summary_source.failure_texts``.
        reports: what our recorder said of the recording (``reports.recorder_reports``):
            events and payloads it dropped, secrets it redacted.
        metadata: the rollout's metadata (``rollout_metadata.read_metadata``): an
            episode's id, its reward, ...
        metadata_cut: how many metadata records a capture limit cut or left out
            (``rollout_metadata.metadata_and_cut``).

    Returns:
        A JSON-ready dict, ``summary_version`` first.

    Raises:
        LookupError: ``thread`` names no agent.
    """
    chosen = find_thread(state, thread) if thread is not None else None
    summary = _Summary(state, chosen, errors or {}).build(limit)
    summary["rollout"]["recorder_reports"] = list(reports)
    summary["rollout"]["metadata"] = dict(metadata or {})
    summary["rollout"]["metadata_cut"] = metadata_cut
    return summary
