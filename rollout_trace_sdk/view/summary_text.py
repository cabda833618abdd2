"""The summary laid out for a person: totals, then tables cut to the terminal's width.

Every line is fitted to ``width`` here (the column that can give, an agent path, a command or
an error, is shortened with ``…``), so an 80-column terminal never wraps a row; the headings
(the rollout's line, an agent's) and the recorder's reports are wrapped instead, never cut. Lines are runs
of (text, style): ``render_rich`` colours them on a terminal, ``render_plain`` drops the styles
when the output is piped. Agent-controlled text (models, commands, error texts, agent paths)
has its terminal control characters spelled out as ``show`` does, before it is measured, so an
escaped line still fits.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any, Final, TextIO

from .capture import recording_words
from .rollout_metadata import METADATA_KEYS, metadata_texts
from .show_format import APPROVAL_WORDS, counted, short_id
from .summary import CALL_FAILURES, FAILED
from .visible import visible

#: The longest a metadata value on the rollout's line is (``key=value``).
_METADATA_CHARS: Final = 80

Segment = tuple[str, str]  # (text, rich style; "" for none)
TextLine = list[Segment]

_INDENT: Final = "  "
_GAP: Final = "  "
#: Narrowest the giving column gets before the line is simply cut.
_MIN_FLEX: Final = 8


def _n(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "-"


def _ms(value: Any) -> str:
    if not isinstance(value, int):
        return "-"
    if value < 1000:
        return f"{value} ms"
    if value < 60_000:
        return f"{value / 1000:.2f} s"
    if value < 3_600_000:
        return f"{value // 60_000}m {value % 60_000 // 1000:02}s"
    return f"{value // 3_600_000}h {value % 3_600_000 // 60_000:02}m"


def _cut(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)] + "…" if width > 0 else ""


def _one_line(text: Any) -> str:
    """A cell's text on one line, escaped here so its column is as wide as what is shown."""
    return visible(" ".join(str(text).split())) if text is not None else "-"


def _visible(line: TextLine) -> TextLine:
    """A line with no terminal control characters: ESC, OSC or CR in a model name or agent
    path must not retitle, recolour or overwrite the terminal that shows the summary."""
    return [(visible(text), style) for text, style in line]


def _status_style(status: Any) -> str:
    if status in FAILED:
        return "bold red"
    return "yellow" if status == "running" else "green"


def _statuses(counts: Mapping[str, Any]) -> TextLine:
    """``3,600 (3,590 completed, 10 failed)``; the count alone when everything completed."""
    total = counts.get("total", 0)
    by_status = counts.get("by_status") or {}
    out: TextLine = [(_n(total), "bold")]
    if set(by_status) - {"completed"}:
        out.append((" (", ""))
        for n, (status, count) in enumerate(sorted(by_status.items(), key=lambda kv: -kv[1])):
            out.append((", " if n else "", ""))
            out.append((f"{_n(count)} {status}", _status_style(status)))
        out.append((")", ""))
    return out


def _sessions(counts: Mapping[str, Any]) -> TextLine:
    """Terminal sessions counted by how the command that started each went (``22``: all
    completed; ``3 (2 completed, 1 running)``): Codex keeps every session ``running``
    (``summary_terminals``), which said "22 running" after every command had exited. The
    state's own count (``by_status``) is the JSON's."""
    by_command = counts.get("by_command_status")
    if not isinstance(by_command, Mapping):  # a summary of an older version
        return _statuses(counts)
    by_status = dict(by_command)
    unknown = counts.get("total", 0) - sum(by_status.values())
    if unknown:
        by_status["no command in the state"] = unknown
    return _statuses({"total": counts.get("total", 0), "by_status": by_status})


def _approvals(counts: Mapping[str, Any]) -> list[tuple[str, TextLine]]:
    """The ``approvals`` row under the tool calls' (``1 waiting for approval, 2 approved``,
    in ``show``'s words, ``APPROVAL_WORDS``) for the calls that waited for an Agents SDK
    approval: a paused run's call read ``1 running`` and nothing more (a row of its own: on
    the tool calls' row an 80-column terminal cut it off). None when no call did."""
    by_approval = counts.get("by_approval")
    if not isinstance(by_approval, Mapping):  # an older summary's
        return []
    said: TextLine = []
    for status, words in APPROVAL_WORDS.items():
        count = by_approval.get(status)
        if isinstance(count, int) and count:
            said.append((", " if said else "", ""))
            said.append((f"{_n(count)} {words}", "yellow" if status == "pending" else ""))
    return [("approvals", said)] if said else []


class _Table:
    """Columns sized to their content; one flexible column absorbs what ``width`` lacks."""

    def __init__(self, header: Sequence[str], *, right: Sequence[int] = (), flex: int = 0):
        self.header = list(header)
        self.right = set(right)
        self.flex = flex
        self.rows: list[list[Segment]] = []

    def add(self, *cells: Any, style: Mapping[int, str] | None = None) -> None:
        styles = style or {}
        self.rows.append([(_one_line(c), styles.get(n, "")) for n, c in enumerate(cells)])

    def lines(self, width: int) -> list[TextLine]:
        columns = len(self.header)
        widths = [
            max(len(self.header[i]), *(len(r[i][0]) for r in self.rows)) for i in range(columns)
        ]
        spare = width - len(_INDENT) - len(_GAP) * (columns - 1) - sum(widths)
        if spare < 0:
            widths[self.flex] = max(_MIN_FLEX, widths[self.flex] + spare)
        out = [self._line([(h, "dim") for h in self.header], widths, width)]
        out += [self._line(row, widths, width) for row in self.rows]
        return out

    def _line(self, cells: list[Segment], widths: list[int], width: int) -> TextLine:
        line: TextLine = [(_INDENT, "")]
        for n, (text, style) in enumerate(cells):
            text = _cut(text, widths[n])
            last = n == len(cells) - 1
            if n in self.right:
                text = text.rjust(widths[n])
            elif not last:
                text = text.ljust(widths[n])
            line.append((text, style))
            if not last:
                line.append((_GAP, ""))
        return _fit(line, width)


def _fit(line: TextLine, width: int) -> TextLine:
    """Cut a line to ``width`` characters (the last resort when columns cannot shrink)."""
    out: TextLine = []
    room = width
    for text, style in line:
        if len(text) > room:
            out.append((_cut(text, room), style))
            break
        out.append((text, style))
        room -= len(text)
    return out


#: Between the parts of a heading line.
_DOT: Final = " · "


def _wrapped(parts: Sequence[Segment], width: int) -> list[TextLine]:
    """A heading (the rollout's line, the agent's) as parts joined by `` · ``, on as many lines
    as ``width`` needs: a part that does not fit starts the next line, indented; one longer
    than a line is broken inside. Nothing is cut: an 80-column terminal lost the trace id and
    the schema (the agent's line its status and time, behind a long agent path)."""
    lines: list[TextLine] = [[]]
    room = width
    for text, style in _visible(list(parts)):
        if lines[-1] and len(_DOT) + len(text) <= room:
            lines[-1].append((_DOT, ""))
            room -= len(_DOT)
        elif lines[-1]:
            lines.append([(_INDENT, "")])
            room = width - len(_INDENT)
        while len(text) > room:
            lines[-1].append((text[:room], style))
            text = text[room:]
            lines.append([(_INDENT, "")])
            room = width - len(_INDENT)
        lines[-1].append((text, style))
        room -= len(text)
    return lines


def _title(name: str, total: int, omitted: int) -> TextLine:
    shown = f"; first {total - omitted:,} shown, --limit N for more" if omitted else ""
    return [(f"{name} ", "bold"), (f"({total:,}{shown})", "dim")]


def _wall(rollout: Mapping[str, Any]) -> tuple[str, str]:
    """The rollout's wall time; with no end (still recording, or killed), the time up to the
    last event the state knows, said to be unfinished (where the page draws its open turns)."""
    if rollout.get("wall_ms") is not None or rollout.get("known_ms") is None:
        return (f"{_ms(rollout.get('wall_ms'))} wall", "")
    return (f"{_ms(rollout['known_ms'])} wall so far (unfinished: to its last event)", "yellow")


def _agent_wall(agent: Mapping[str, Any]) -> str:
    """An agent's wall time; still running in a rollout with no end, its time so far (as
    ``show`` says it, and the rollout's line says its own); still running in one that ended,
    that it never ended (``show`` and the page say so; it read "-")."""
    if agent.get("never_ended"):
        return "never ended"
    if agent.get("wall_ms") is None and agent.get("wall_so_far_ms") is not None:
        return f"{_ms(agent['wall_so_far_ms'])} so far"
    return _ms(agent.get("wall_ms"))


def _failures_title(totals: Mapping[str, Any], omitted: int) -> TextLine:
    """``failures (1 call · also 1 turn, 1 terminal operation)``: first the failed calls, what
    the page's "N failed" counts (rows of its calls list: inference calls, tool calls,
    compaction requests, code cells), then the turns, agents and terminal operations listed
    with them, which the page does not count (the call's agent or tool call says so)."""
    by_type: Mapping[str, int] = totals["failures_by_type"]
    calls = totals["failed_calls"]
    also = [
        counted(n, _FAILURE_WORDS.get(kind, kind.replace("_", " ")))
        for kind, n in sorted(by_type.items(), key=lambda kv: _FAILURE_ORDER.get(kv[0], 9))
        if kind not in CALL_FAILURES and n
    ]
    shown = (
        f"; first {sum(by_type.values()) - omitted:,} shown, --limit N for more" if omitted else ""
    )
    text = counted(calls, "call") + (f" · also {', '.join(also)}" if also else "")
    return [("failures ", "bold"), (f"({text}{shown})", "dim")]


#: How the failures the page does not count are named, and in what order.
_FAILURE_WORDS: Final = {
    "thread": "agent",
    "turn": "turn",
    "terminal_operation": "terminal operation",
}
_FAILURE_ORDER: Final = {"thread": 0, "turn": 1, "terminal_operation": 2}


def summary_lines(summary: Mapping[str, Any], width: int) -> list[TextLine]:
    """The summary as styled lines, none longer than ``width``.

    Args:
        summary: ``build_summary``'s result.
        width: the terminal's width (or the width chosen for piped output).

    Returns:
        Lines of (text, style) runs.
    """
    width = max(width, 40)
    lines: list[TextLine] = []
    rollout = summary["rollout"]
    totals = summary["totals"]
    omitted = summary["omitted"]
    start = rollout.get("started_at_unix_ms")

    lines += _wrapped(
        [
            (f"rollout {short_id(rollout.get('rollout_id'))}", "bold"),
            (str(rollout.get("status")), _status_style(rollout.get("status"))),
            (recording_words(str(rollout.get("recording"))), ""),
            _wall(rollout),
            (f"trace {short_id(rollout.get('trace_id'))}", "dim"),
            (f"schema {rollout.get('schema_version')}", "dim"),
        ],
        width,
    )
    metadata = rollout.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    cut = rollout.get("metadata_cut")
    cut = cut if isinstance(cut, int) and not isinstance(cut, bool) and cut > 0 else 0
    if metadata or cut:
        texts = metadata_texts(metadata, _METADATA_CHARS, METADATA_KEYS)
        more: list[Segment] = []
        if len(metadata) > len(texts):  # all of them in summary --json
            more = [(f"{len(metadata) - len(texts):,} more (--json: all)", "dim")]
        if cut:  # their values are unknown: what is shown may not be all, nor the latest
            more.append((f"{counted(cut, 'record')} cut by a capture limit", "yellow"))
        pairs = [(f"{k}={v}", "") for k, v in texts]
        lines += _wrapped([("metadata", "dim"), *pairs, *more], width)
    for report in rollout.get("recorder_reports") or ():
        # what the recorder dropped (or redacted) is said in full, wrapped, never cut; the
        # text comes from the bundle: spelled out as every other text is
        said = "recorder: "
        wrapped = textwrap.wrap(visible(str(report)), width - len(said)) or [""]
        lines.append([(said, "yellow"), (wrapped[0], "")])
        lines += [[(" " * len(said), ""), (rest, "")] for rest in wrapped[1:]]
    agent = summary.get("thread")
    if agent is not None:
        nick = f" ({agent['nickname']})" if agent.get("nickname") else ""
        lines += _wrapped(
            [
                (f"agent {agent.get('agent_path')}{nick}", "bold"),
                (f"thread {short_id(agent.get('thread_id'))}", "dim"),
                (str(agent.get("status")), _status_style(agent.get("status"))),
                (_agent_wall(agent), ""),
            ],
            width,
        )

    lines += [[("", "")], [("totals", "bold")]]
    tokens = totals["tokens"]
    edges = totals["interaction_edges"]
    kinds = ", ".join(f"{_n(v)} {k}" for k, v in sorted(edges["by_kind"].items()))
    rows: list[tuple[str, TextLine]] = [
        ("agents", [(_n(totals["threads"]), "bold")]),
        ("turns", _statuses(totals["turns"])),
        ("inference calls", _statuses(totals["inference_calls"])),
        ("tool calls", _statuses(totals["tool_calls"])),
        *_approvals(totals["tool_calls"]),
        ("terminal sessions", _sessions(totals["terminal_sessions"])),
        ("terminal operations", _statuses(totals["terminal_operations"])),
        ("compactions", [(_n(totals["compactions"]), "bold")]),
        ("code cells", _statuses(totals["code_cells"])),
        ("interactions", [(_n(edges["total"]), "bold"), (f" ({kinds})" if kinds else "", "")]),
        (
            "tokens",
            [
                (f"{_n(tokens['input_tokens'])} in", "bold"),
                (f" ({_n(tokens['cached_input_tokens'])} cached)", "dim"),
                (f" · {_n(tokens['output_tokens'])} out", "bold"),
                (f" ({_n(tokens['reasoning_output_tokens'])} reasoning)", "dim"),
            ]
            if any(value is not None for value in tokens.values())
            else [("not recorded (no inference call has its usage)", "dim")],
        ),
        (
            "time in calls",
            [(f"model {_ms(totals['model_time_ms'])} · tools {_ms(totals['tool_time_ms'])}", "")],
        ),
    ]
    label = max(len(name) for name, _ in rows)
    for name, value in rows:
        lines.append(_fit([(_INDENT + name.ljust(label) + _GAP, ""), *value], width))

    failures = summary["failures"]
    if failures or omitted["failures"]:
        lines += [
            [("", "")],
            _failures_title(summary["totals"], omitted["failures"]),
        ]
        for failure in failures:
            what = failure.get("name")
            if what == failure.get("agent_path"):  # a thread's name is its path: said once
                what = None
            lines.append(
                _fit(
                    [
                        (_INDENT, ""),
                        (f"{failure['type'].replace('_', ' ')} ", "bold"),
                        (f"{short_id(failure.get('id'))} ", ""),
                        (f"{failure.get('agent_path')} ", "dim"),
                        (f"{_one_line(what)} " if what else "", ""),
                        (str(failure.get("status")), "bold red"),
                        (f" after {_ms(failure.get('duration_ms'))}", "dim"),
                    ],
                    width,
                )
            )
            error = failure.get("error")
            text = _one_line(error) if error else _no_error_text(failure)
            lines.append(_fit([(_INDENT * 2, ""), (text, "red" if error else "dim")], width))

    def listed(title: str, key: str, table: _Table) -> list[TextLine]:
        """The section of the list ``summary[key]`` (saying how many were left out)."""
        return _section(title, table, len(summary[key]), omitted[key], width)

    table = _Table(["model", "calls", "in", "cached", "out"], right=(1, 2, 3, 4))
    for row in summary["models"]:
        counts = ("inference_calls", "input_tokens", "cached_input_tokens", "output_tokens")
        table.add(row["model"], *(_n(row[key]) for key in counts))
    lines += listed("models", "models", table)

    table = _Table(
        ["tool", "calls", "failed", "exit≠0", "total", "mean", "max"], right=(1, 2, 3, 4, 5, 6)
    )
    for row in summary["tools_by_kind"]:
        table.add(
            row["kind"],
            _n(row["calls"]),
            _n(row["failed"]),
            _n(row["nonzero_exit"]),
            *(_ms(row[key]) for key in ("total_ms", "mean_ms", "max_ms")),
            style={2: "bold red"} if row["failed"] else None,
        )
    lines += listed("tool time by kind", "tools_by_kind", table)

    if agent is None:
        table = _Table(
            ["agent", "status", "wall", "calls", "tools", "failed", "in", "out"],
            right=(2, 3, 4, 5, 6, 7),
        )
        for row in summary["agents"]:
            nick = f" ({row['nickname']})" if row.get("nickname") else ""
            table.add(
                f"{row['agent_path']}{nick}",
                row["status"],
                _agent_wall(row),
                _n(row["inference_calls"]),
                _n(row["tool_calls"]),
                _n(row["failed_calls"]),
                _n(row["input_tokens"]),
                _n(row["output_tokens"]),
                style={
                    1: _status_style(row["status"]),
                    5: "bold red" if row["failed_calls"] else "",
                },
            )
        lines += listed("agents by tokens in", "agents", table)

    table = _Table(["agent", "at", "items", "kept", "request"], right=(1, 2, 3))
    for row in summary["compactions"]:
        at = row.get("installed_at_unix_ms")
        table.add(
            row["agent_path"],
            "+" + _ms(at - start) if isinstance(at, int) and isinstance(start, int) else "-",
            _n(row["input_items"]),
            _n(row["replacement_items"]),
            row.get("request_status") or "-",
            style={4: _status_style(row.get("request_status"))},
        )
    lines += listed("compactions", "compactions", table)

    table = _Table(["session", "agent", "ops", "status", "wall", "first command"], right=(2, 4))
    table.flex = 5
    for row in summary["terminal_sessions"]:
        table.add(
            short_id(str(row["terminal_id"]).removeprefix("terminal_session:")),
            row["agent_path"],
            _n(row["operations"]),
            row.get("command_status") or row["status"],  # its command's (_sessions)
            _ms(row["wall_ms"] if row["wall_ms"] is not None else row.get("command_ms")),
            row.get("command") or "-",
            style={3: _status_style(row.get("command_status") or row["status"])},
        )
    lines += listed("terminal sessions", "terminal_sessions", table)

    calls = summary.get("calls")
    if calls is not None:
        table = _Table(["at", "what", "id", "status", "took", "in", "out"], right=(0, 4, 5, 6))
        table.flex = 1
        for row in calls:
            at = row.get("started_at_unix_ms")
            table.add(
                "+" + _ms(at - start) if isinstance(at, int) and isinstance(start, int) else "-",
                f"{row['type'].replace('_call', '')} {row.get('name') or ''}",
                short_id(row.get("id")),
                row["status"],
                _ms(row.get("duration_ms")),
                _n(row.get("input_tokens")),
                _n(row.get("output_tokens")),
                style={3: _status_style(row["status"])},
            )
        total = (
            summary["totals"]["inference_calls"]["total"] + summary["totals"]["tool_calls"]["total"]
        )
        total += summary["totals"]["compactions"]
        lines += _section("calls", table, len(calls), total - len(calls), width)
    return [_fit(_visible(line), width) for line in lines]


def _no_error_text(failure: Mapping[str, Any]) -> str:
    if failure.get("type") in ("inference_call", "compaction_request"):
        return "(no error text: the bundle's trace.jsonl has it, a state file alone does not)"
    return "(no error text was recorded)"


def _section(name: str, table: _Table, shown: int, omitted: int, width: int) -> list[TextLine]:
    if not table.rows:
        return []
    return [[("", "")], _title(name, shown + omitted, omitted), *table.lines(width)]


def render_plain(lines: Sequence[TextLine], out: TextIO) -> None:
    """The lines without styles (piped output, ``NO_COLOR``)."""
    for line in lines:
        out.write("".join(text for text, _ in line).rstrip() + "\n")


def render_rich(lines: Sequence[TextLine], console: Any) -> None:
    """The lines coloured through a ``rich.console.Console`` (already fitted: never wrapped)."""
    from rich.text import Text

    for line in lines:
        text = Text.assemble(*[(t, s) if s else t for t, s in line])
        console.print(text, no_wrap=True, overflow="crop", soft_wrap=False)
