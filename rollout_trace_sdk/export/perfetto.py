"""``rollout-trace export --format perfetto``: the rollout as Chrome trace-event JSON.

Opens in ui.perfetto.dev and ``chrome://tracing``. One process for the rollout; each agent
gets a group of tracks (trace-event "threads"), kept together and in tree order by
``thread_sort_index``: its turns, its model calls (inference calls and compaction requests),
its tool calls and its terminal operations / code cells. Complete events (``ph: X``) on one
track must nest, and parallel tool calls overlap, so each kind is packed greedily onto as many
tracks as its overlaps need ("tools", "tools 2", ...). Interaction edges become flow arrows
(``ph: s`` / ``f``) from the source agent's track to the target agent's turn track, and so
does the link from the call that ran an Agents SDK agent as a tool to that agent's first turn
(``agent_tool``: such a thread has no spawn edge).

Times are microseconds from the rollout's start. Failed, aborted and cancelled slices carry
their status in ``args`` and a red colour name; a failed turn, inference or tool call its
error text (``error``), when the bundle has one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from ..reduce.failures import FAILED_STATUSES as _FAILED
from ..view.agent_tools import KEY as AGENT_TOOL_KEY
from ..view.model import build_view_model, thread_tree_order
from ..view.reports import is_loss_report

_PID: Final = 1
_US: Final = 1000  # the view model's times are milliseconds
#: The lenient notes a trace carries at most, as the page's notice shows the first 100.
_NOTES: Final = 100
#: Each agent's track groups, in display order: group name -> (view-model table, slice kind)
#: of the slices on its tracks.
_GROUPS: Final = (
    ("turns", (("turns", "turn"),)),
    ("model", (("calls", "call"), ("compactions", "cmp"))),
    ("tools", (("tools", "tool"),)),
    ("terminal", (("ops", "op"), ("cells", "cell"))),
)


class _Tracks:
    """Allocates trace-event thread ids, one per track, in display order."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._next = 1

    def new(self, name: str) -> int:
        tid = self._next
        self._next += 1
        self.events.append(
            {"ph": "M", "pid": _PID, "tid": tid, "name": "thread_name", "args": {"name": name}}
        )
        self.events.append(
            {
                "ph": "M",
                "pid": _PID,
                "tid": tid,
                "name": "thread_sort_index",
                "args": {"sort_index": tid},
            }
        )
        return tid


def _pack(spans: Iterable[tuple[int, int, Any]]) -> list[list[tuple[int, int, Any]]]:
    """Greedy interval packing: each row holds spans that do not overlap."""
    rows: list[list[tuple[int, int, Any]]] = []
    ends: list[int] = []
    for span in sorted(spans, key=lambda s: (s[0], -s[1])):
        start, end, _ = span
        for n, last in enumerate(ends):
            if last <= start:
                rows[n].append(span)
                ends[n] = end
                break
        else:
            rows.append([span])
            ends.append(end)
    return rows


def _slice(
    tid: int, start: int, end: int, name: str, cat: str, status: Any, args: dict[str, Any]
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "ph": "X",
        "pid": _PID,
        "tid": tid,
        "ts": start * _US,
        "dur": max(0, end - start) * _US,
        "name": name,
        "cat": cat,
        "args": {"status": status, **{k: v for k, v in args.items() if v is not None}},
    }
    if status in _FAILED:
        event["cname"] = "terrible"
    return event


def chrome_trace(
    state: Mapping[str, Any], notes: Sequence[str] = (), reports: Sequence[str] = ()
) -> dict[str, Any]:
    """The Chrome trace-event document for a reduced state.

    Args:
        state: the reduced state as plain JSON values.
        notes: what lenient reduction skipped, if it reduced the state: a trace file is passed
            on without the terminal that printed them, so ``otherData`` says them (the first
            100, and how many), as its ``recording_status`` says a recording cut short or cut
            by a capture limit.
        reports: what our recorder reported at the end of the bundle's log
            (``view.reports.recorder_reports``): ``otherData`` says them, and ``lossy``.

    Returns:
        ``{"traceEvents": [...], "displayTimeUnit": "ms", "otherData": {...}}``.
    """
    model = build_view_model(state)
    meta = model["meta"]
    horizon = meta.get("end") or 0
    for key in ("threads", "calls", "tools", "ops", "cells", "turns", "compactions"):
        for obj in model[key]:
            horizon = max(horizon, obj.get("e") or 0, obj.get("s") or 0)

    tracks = _Tracks()
    tracks.events.append(
        {
            "ph": "M",
            "pid": _PID,
            "name": "process_name",
            "args": {"name": f"rollout {meta.get('rollout_id')}"},
        }
    )
    turn_track: dict[int, int] = {}
    tool_track: dict[int, tuple[int, int, int]] = {}  # tool index -> (tid, start, end)
    slices: list[dict[str, Any]] = []
    for t in thread_tree_order(model["threads"]):
        thread = model["threads"][t]
        label = str(thread["path"]) + (f" ({thread['nick']})" if thread.get("nick") else "")
        for group, sources in _GROUPS:
            spans = [
                (*w, (tag, n))
                for table, tag in sources
                for n, o in enumerate(model[table])
                if o["t"] == t
                if (w := _window(o, horizon))
            ]
            if not spans and group != "turns":
                continue
            rows = _pack(spans) or [[]]
            for r, row in enumerate(rows):
                tid = tracks.new(f"{label} · {group}" + (f" {r + 1}" if r else ""))
                if group == "turns" and r == 0:
                    turn_track[t] = tid
                for start, end, (kind, n) in row:
                    slices.append(_describe(model, tid, start, end, kind, n))
                    if kind == "tool":
                        tool_track[n] = (tid, start, end)
    turns = _turn_windows(model, horizon)
    points = _edge_points(model, turn_track, tool_track, turns)
    for t, (start, end) in _agent_windows(model, turns, points, horizon).items():
        if t in turn_track:
            thread = model["threads"][t]
            args = {"thread_id": thread.get("id"), "agent_path": thread.get("path")}
            status = thread.get("st")
            slices.append(_slice(turn_track[t], start, end, "agent", "agent", status, args))
    marks = _guardrail_marks(model, turn_track)
    flows = _flows(points, turn_track)
    flows += _agent_tool_flows(state, model, turn_track, tool_track, turns, len(points))
    other: dict[str, Any] = {
        "rollout_id": meta.get("rollout_id"),
        "trace_id": meta.get("trace_id"),
        "status": meta.get("status"),
        "started_at_unix_ms": meta.get("t0"),
        "recording_status": meta.get("recording"),
    }
    if notes:
        other["lenient_skipped"] = len(notes)
        other["lenient_notes"] = list(notes[:_NOTES])
    if reports:
        other["recorder_reports"] = list(reports)
        other["lossy"] = any(map(is_loss_report, reports))
    return {
        "traceEvents": tracks.events + slices + marks + flows,
        "displayTimeUnit": "ms",
        "otherData": other,
    }


def _guardrail_marks(
    model: Mapping[str, Any], turn_track: Mapping[int, int]
) -> list[dict[str, Any]]:
    """The Agents SDK guardrails each turn ran (``show`` and the page list them, from their
    protocol events): an instant event on its agent's turns track at the time it ended (a
    guardrail with no time, at its turn's start), so a run a guardrail stopped does not read
    as a failed turn with nothing on it."""
    marks: list[dict[str, Any]] = []
    for turn in model["turns"]:
        tid = turn_track.get(turn["t"])
        if tid is None:
            continue
        for name, triggered, at in turn.get("g") or ():
            when = at if isinstance(at, int) else turn.get("s")
            if not isinstance(when, int):
                continue
            marks.append(
                {
                    "ph": "i",
                    "s": "t",
                    "pid": _PID,
                    "tid": tid,
                    "ts": max(0, when) * _US,
                    "name": f"guardrail {name} {'tripped' if triggered else 'passed'}",
                    "cat": "guardrail",
                    "args": {"triggered": triggered},
                }
            )
    return marks


def _describe(
    model: Mapping[str, Any], tid: int, start: int, end: int, kind: str, n: int
) -> dict[str, Any]:
    if kind == "turn":
        o = model["turns"][n]
        args = {"codex_turn_id": o["id"], "error": o.get("err")}
        return _slice(tid, start, end, "turn", "turn", o["st"], args)
    if kind == "call":
        o = model["calls"][n]
        usage = o.get("u") or [None, None, None, None]
        return _slice(
            tid, start, end, o.get("model") or "inference", "inference", o["st"],
            {"inference_call_id": o["id"], "input_tokens": usage[0], "cached_input_tokens": usage[1],
             "output_tokens": usage[2], "reasoning_output_tokens": usage[3], "request_items": len(o["req"]),
             "error": o.get("err")},
        )  # fmt: skip
    if kind == "cmp":
        o = model["compactions"][n]
        if o.get("req"):  # a request that installed nothing
            return _slice(
                tid, start, end, "compaction request", "compaction", o["st"],
                {"compaction_request_id": o["id"]},
            )  # fmt: skip
        return _slice(
            tid, start, end, "compaction", "compaction", o["st"],
            {"compaction_id": o["id"], "input_items": o["inputs"], "replacement_items": len(o["repl"])},
        )  # fmt: skip
    if kind == "tool":
        o = model["tools"][n]
        return _slice(
            tid, start, end, o["name"], "tool", o["st"],
            {"tool_call_id": o["id"], "call_id": o.get("call_id"), "input": o.get("input_preview"),
             "error": o.get("err"), **({"approval": o["appr"]} if "appr" in o else {})},
        )  # fmt: skip
    if kind == "op":
        o = model["ops"][n]
        name = f"$ {o['command']}" if o.get("command") else "write_stdin"
        return _slice(
            tid, start, end, name, "terminal", o["st"],
            {"operation_id": o["id"], "terminal_id": o.get("terminal"), "exit_code": o.get("exit")},
        )  # fmt: skip
    o = model["cells"][n]
    return _slice(tid, start, end, "code cell", "code_cell", o["st"], {"code_cell_id": o["id"]})


def _window(obj: Mapping[str, Any], horizon: int) -> tuple[int, int] | None:
    """An object's (start, end) as its slice is drawn: one still running reaches
    ``horizon``; ``None`` without a start."""
    start = obj.get("s")
    if start is None:
        return None
    end = obj.get("e")
    return start, end if end is not None else horizon


def _turn_windows(model: Mapping[str, Any], horizon: int) -> dict[int, list[tuple[int, int]]]:
    """Each agent's turns as their slices are drawn."""
    turns: dict[int, list[tuple[int, int]]] = {}
    for turn in model["turns"]:
        if (window := _window(turn, horizon)) is not None:
            turns.setdefault(turn["t"], []).append(window)
    return turns


def _edge_points(
    model: Mapping[str, Any],
    turn_track: Mapping[int, int],
    tool_track: Mapping[int, tuple[int, int, int]],
    turns: Mapping[int, list[tuple[int, int]]],
) -> list[tuple[int, Mapping[str, Any], int, int, int]]:
    """Where each interaction edge's arrow starts and ends: ``(n, edge, source track, start,
    arrival)``. It starts inside a slice of the source (the tool call that caused it, else the
    source agent's turn, moved into the nearest turn if it fell just outside one; an agent
    without turns has its agent slice, which :func:`_agent_windows` stretches over the start)
    and never ends before it starts."""
    out = []
    for n, edge in enumerate(model["edges"]):
        source, target = edge.get("from", -1), edge.get("to", -1)
        if edge.get("s") is None or source not in turn_track or target not in turn_track:
            continue
        start = edge["s"]
        end = edge["e"] if edge.get("e") is not None else start
        tool = edge.get("tool")
        if tool is not None and tool in tool_track:
            source_tid, tool_start, tool_end = tool_track[tool]
            start = min(max(start, tool_start), tool_end)
        else:
            source_tid = turn_track[source]
            windows = turns.get(source)
            if windows:
                start = _nearest_inside(start, windows)
        out.append((n, edge, source_tid, start, max(end, start)))
    return out


def _agent_windows(
    model: Mapping[str, Any],
    turns: Mapping[int, list[tuple[int, int]]],
    points: list[tuple[int, Mapping[str, Any], int, int, int]],
    horizon: int,
) -> dict[int, tuple[int, int]]:
    """Each agent's slice on its turns track: its lifetime, stretched over its turns, over
    every arrow that reaches it (a ``close_agent`` lands after its last turn) and over every
    arrow leaving an agent without turns, so each arrow starts and ends inside a slice."""
    times: dict[int, list[int]] = {t: [s for w in ws for s in w] for t, ws in turns.items()}
    for _, edge, _, start, arrive in points:
        times.setdefault(edge["to"], []).append(arrive)
        if edge["from"] not in turns:  # its arrow may start on the agent's own slice
            times.setdefault(edge["from"], []).append(start)
    for t, thread in enumerate(model["threads"]):
        if (window := _window(thread, horizon)) is not None:
            times.setdefault(t, []).extend(window)
    return {t: (min(ts), max(ts)) for t, ts in times.items() if ts}


def _flows(
    points: list[tuple[int, Mapping[str, Any], int, int, int]], turn_track: Mapping[int, int]
) -> list[dict[str, Any]]:
    """Each interaction edge as a flow, from its start to its arrival on the target agent's
    turns track, bound to the slice enclosing that point (a turn, else the agent's slice)."""
    out: list[dict[str, Any]] = []
    for n, edge, source_tid, start, arrive in points:
        common = {"pid": _PID, "name": edge["kind"], "cat": "interaction", "id": n + 1}
        out.append(
            {
                **common,
                "ph": "s",
                "tid": source_tid,
                "ts": start * _US,
                "args": {"edge_id": edge["id"]},
            }
        )
        # "bp": "e" binds to the slice enclosing the point (without it, to the next slice)
        tid = turn_track[edge["to"]]
        out.append({**common, "ph": "f", "tid": tid, "ts": arrive * _US, "bp": "e"})
    return out


def _agent_tool_flows(
    state: Mapping[str, Any],
    model: Mapping[str, Any],
    turn_track: Mapping[int, int],
    tool_track: Mapping[int, tuple[int, int, int]],
    turns: Mapping[int, list[tuple[int, int]]],
    first_id: int,
) -> list[dict[str, Any]]:
    """An ``agent_tool`` flow from each tool call that ran an Agents SDK agent as a tool to
    that agent's first turn: such a thread has no spawn edge (no arrow of its own), only the
    call ``view.agent_tools`` read from the bundle (``agent_tool_call_id``, which a state
    file loaded by ``load_state`` has too). The arrow starts inside the call's slice and
    ends inside the turn; ids follow the edges' (``first_id``)."""
    threads = state.get("threads")
    if not isinstance(threads, Mapping):
        return []
    tool_ix = {tool.get("id"): n for n, tool in enumerate(model["tools"])}
    out: list[dict[str, Any]] = []
    for t, thread in enumerate(model["threads"]):
        raw = threads.get(thread.get("id"))
        call = raw.get(AGENT_TOOL_KEY) if isinstance(raw, Mapping) else None
        tool = tool_ix.get(call)
        windows = turns.get(t)
        if tool is None or tool not in tool_track or t not in turn_track or not windows:
            continue
        source_tid, tool_start, tool_end = tool_track[tool]
        arrive = min(start for start, _ in windows)
        start = min(max(arrive, tool_start), tool_end)
        common = {"pid": _PID, "name": "agent_tool", "cat": "interaction"}
        common["id"] = first_id + len(out) // 2 + 1
        out.append(
            {
                **common,
                "ph": "s",
                "tid": source_tid,
                "ts": start * _US,
                "args": {"tool_call_id": call, "thread_id": thread.get("id")},
            }
        )
        out.append(
            {**common, "ph": "f", "tid": turn_track[t], "ts": max(arrive, start) * _US, "bp": "e"}
        )
    return out


def _nearest_inside(point: int, windows: list[tuple[int, int]]) -> int:
    """``point`` moved into the closest of ``windows``."""
    best = min(
        windows,
        key=lambda w: 0 if w[0] <= point <= w[1] else min(abs(point - w[0]), abs(point - w[1])),
    )
    return min(max(point, best[0]), best[1])
