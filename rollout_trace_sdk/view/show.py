"""``rollout-trace show``: a rollout as a readable transcript in the terminal.

Per agent, in the order things happened: the input it was given, each inference call with the
reasoning summaries and messages it produced, each tool call with its arguments, (truncated)
output, status and terminal command, compactions, sub-agent spawns and the results that came
back, and the code cell each exec call started (status, duration, first line of source) with
the tool calls it made under it. Ids are shortened. On a TTY, ``rich`` adds colour and wraps
to the terminal's width with the indentation kept (with ``NO_COLOR``, the wrapping only);
piped, the same lines come out as plain text.

Built on the view model (``view/model.py``), so it reads the same bundle or ``state.json``
the HTML viewer does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

import attrs

from .capture import recording_words
from .model import build_view_model, last_known_unix_ms, thread_tree_order
from .show_format import ARGS_CHARS as _ARGS_CHARS
from .show_format import FAILED as _FAILED
from .show_format import Line as Line
from .show_format import Segment as Segment
from .show_format import action_label, approval_segments, guardrail_lines, kind_words
from .show_format import clip as _clip
from .show_format import counted as _counted
from .show_format import duration as _duration
from .show_format import error_line as _error_line
from .show_format import first_line as _first_line
from .show_format import item_text as _item_text
from .show_format import ms as _ms
from .show_format import render_plain as render_plain
from .show_format import render_rich as render_rich
from .show_format import short_id as short_id
from .show_format import status_style as _status_style
from .show_format import thread_model as _thread_model
from .show_format import tool_error_text as _tool_error_text
from .show_format import with_json as _with_json
from .show_order import Entry, thread_order


class _Transcript:
    def __init__(self, model: Mapping[str, Any], *, full: bool, known: int | None) -> None:
        self.m = model
        self.full = full
        #: an unfinished rollout's last known time (relative, as the records' times): its open
        #: records' durations run to it
        self.known = known
        self.tool_of_call: dict[int, int] = {}
        for n, call in enumerate(model["calls"]):
            for tool in call["tools"]:
                self.tool_of_call[tool] = n
        #: items a tool call prints (its call items): an inference call does not print them
        self.tool_items = {ix for tool in model["tools"] for ix in tool["ci"]}
        self.cells: list[Mapping[str, Any]] = model["cells"]
        #: the exec call that started each code cell: the cell is printed under it
        self.exec_of_cell: dict[int, int] = {}
        for n, tool in enumerate(model["tools"]):
            if isinstance(tool.get("starts_cell"), int):
                self.exec_of_cell.setdefault(tool["starts_cell"], n)
        #: the tool calls a cell made, printed under the cell (they were the agent's own,
        #: siblings of the exec call); an exec call is always the agent's own
        execs = set(self.exec_of_cell.values())
        self.under_cell = {
            k
            for cell in self.cells
            for k in cell["nested"]
            if k not in execs and model["tools"][k]["t"] == cell["t"]
        }
        #: the cell each ``wait`` call waits on
        self.wait_on = {w: c for c, cell in enumerate(self.cells) for w in cell.get("waits", [])}

    def lost(self, label: str, ident: Any) -> Iterator[Line]:
        """A raw payload a capture limit cut or left out, said where its text would be (an
        omitted response or result leaves no item to print)."""
        info = self.m["payloads"].get(ident) if isinstance(ident, str) else None
        if info and len(info) > 2:
            yield Line(2, ((f"[{label} {ident}, {info[2]}]", "yellow"),))

    def lane(self, t: int) -> str:
        threads = self.m["threads"]
        if not 0 <= t < len(threads):
            return "?"
        th = threads[t]
        return str(th["path"]) + (f" ({th['nick']})" if th.get("nick") else "")

    def header(self, *, recording: bool = True) -> Iterator[Line]:
        """The rollout's line: status, counts, tokens, failures; ``recording``: with how the
        recording stands when it is not complete (``show --follow``'s last line says it
        itself)."""
        m = self.m
        meta = m["meta"]
        usage = [c["u"] for c in m["calls"] if c.get("u")]
        # no call's usage (a failed call, a response a capture limit left out) is not zero
        # tokens: said so, as summary does
        tokens = (
            f" · {sum(u[0] for u in usage):,} in / {sum(u[2] for u in usage):,} out tokens"
            if usage
            else " · tokens not recorded"
        )
        # what the page's "N failed" counts: calls, tools, compactions, and code cells (a
        # failed cell's exec call completes)
        rows = m["calls"] + m["tools"] + m["compactions"] + m["cells"]
        failed = sum(1 for c in rows if c.get("st") in _FAILED)
        # a log that never closed, or payloads a capture limit cut or left out (items may
        # be missing from the conversation): said first, not left to be guessed
        said = meta.get("recording")
        partial = (
            ((f" · {recording_words(str(said))}", "bold yellow"),)
            if said not in (None, "complete") and recording
            else ()
        )
        yield Line(
            0,
            (
                (f"rollout {short_id(meta.get('rollout_id'))}", "bold"),
                (f" · {meta.get('status')}", _status_style(meta.get("status"))),
                *partial,
                (
                    f" · {_counted(len(m['threads']), 'agent')}"
                    f" · {_counted(len(m['calls']), 'inference call')}"
                    f" · {_counted(len(m['tools']), 'tool call')}"
                    f"{tokens}" + (f" · {_ms(meta['end'])}" if meta.get("end") is not None else ""),
                    "dim",
                ),
                *((((f" · {failed} failed"), "bold red"),) if failed else ()),
            ),
        )

    def thread(self, t: int) -> Iterator[Line]:
        yield from self.thread_head(t)
        for kind, n, guardrail in self.entries(t):
            yield from self.entry(kind, n, guardrail)

    def thread_head(self, t: int) -> Iterator[Line]:
        """A blank line and the agent's own: path, nickname, id, model, status, counts."""
        m = self.m
        th = m["threads"][t]
        calls = [c for c in m["calls"] if c["t"] == t]
        spawned = f" · spawned by {self.lane(th['parent'])}" if th.get("parent", -1) >= 0 else ""
        yield Line(0, (("", ""),))
        yield Line(
            0,
            (
                (f"━━ {self.lane(t)}", "bold cyan"),
                (f"  {short_id(th['id'])} · {_thread_model(th)} · ", "dim"),
                (str(th.get("st")), _status_style(th.get("st"))),
                (
                    f" · {_counted(len(calls), 'inference call')} · {_duration(th, self.known)}{spawned}",
                    "dim",
                ),
            ),
        )

    def entries(self, t: int) -> list[Entry]:
        """Thread ``t``'s records in the order :meth:`thread` prints them."""
        return thread_order(
            self.m,
            t,
            input_item=lambda item: not self.shown_with_its_call(item),
            hidden_tools=self.under_cell,
            hidden_cells=self.exec_of_cell,
        )

    def entry(self, kind: str, n: int, guardrail: Any) -> Iterator[Line]:
        """One record of an agent as its transcript prints it (``show --follow`` prints them
        one by one as the recording adds them)."""
        m = self.m
        if kind == "item":
            yield from self.input_item(m["items"][n])
        elif kind == "call":
            yield from self.call(n)
        elif kind == "tool":
            yield from self.tool(n)
        elif kind == "cell":
            yield from self.cell(n, 2, alone=True)
        elif kind == "compaction":
            yield from self.compaction(m["compactions"][n])
        elif kind == "guardrail":
            yield from guardrail_lines(guardrail[0], guardrail[1])
        else:
            yield from self.turn_end(m["turns"][n])

    def turn_end(self, turn: Mapping[str, Any]) -> Iterator[Line]:
        """A turn that failed or was interrupted, with why (its protocol events say it; see
        ``turn_errors.py``)."""
        error = turn.get("err")
        yield Line(
            1,
            (
                (f"✗ turn {short_id(turn['id'])} {turn.get('st')}", "bold red"),
                *(((": ", "bold red"), (_clip(str(error), self.full), "red")) if error else ()),
            ),
        )

    def shown_with_its_call(self, item: Mapping[str, Any]) -> bool:
        """Whether an inference call, tool call or code cell of the item's own thread made it
        (it is shown with that call). An item one of another thread made (the history a
        handoff or a fork hands a child) is the child's input, shown as such."""
        tables = {"inference": self.m["calls"], "tool": self.m["tools"], "code_cell": self.cells}
        for producer in item.get("by") or ():
            table = tables.get(producer[0])
            if table is None:
                continue
            ix = producer[1] if len(producer) > 1 else None
            if not isinstance(ix, int) or table[ix].get("t") == item["t"]:
                return True  # an object the state does not hold: as before, not input
        return False

    def input_item(self, item: Mapping[str, Any]) -> Iterator[Line]:
        role = str(item.get("role"))
        label = role
        kind = item.get("kind")
        if kind not in (None, "message"):  # a call, an output, reasoning: not words said
            call_id = f" {item['call_id']}" if item.get("call_id") else ""
            label = f"{role} [{kind}{call_id}]"
        if item.get("from"):
            label = f"{role} from {item['from']}"
        by = item.get("by") or []
        if any(p[0] == "interaction_edge" for p in by):
            label = f"⇠ {label} (interaction)"
        elif any(p[0] == "compaction" for p in by):
            return
        yield Line(
            1,
            (
                (f"{label}: ", f"bold {_ROLE_STYLE.get(role, '')}".strip()),
                (_item_text(item, self.full), ""),
            ),
        )

    def call(self, n: int) -> Iterator[Line]:
        call = self.m["calls"][n]
        usage = call.get("u")
        tokens = f" · {usage[0]:,} in / {usage[2]:,} out" if usage else ""
        yield Line(
            1,
            (
                ("▸ inference ", "bold blue"),
                (f"{short_id(call['id'])} {call.get('model')} · ", ""),
                (str(call.get("st")), _status_style(call.get("st"))),
                (f" · {_duration(call, self.known)}{tokens}", "dim"),
            ),
        )
        if call.get("st") in _FAILED:
            yield _error_line(call, "call", 2, self.full)
        if not call["resp"]:
            yield from self.lost("response", call.get("rs"))
        for ix in call["resp"]:
            item = self.m["items"][ix]
            kind = item.get("kind")
            if kind == "reasoning":
                summary = item.get("summary") or ""
                if summary:
                    yield Line(
                        2,
                        (("reasoning: ", "italic magenta"), (_clip(summary, self.full), "italic")),
                    )
            elif kind == "message":
                yield Line(
                    2,
                    ((f"{item.get('role')}: ", "bold green"), (_item_text(item, self.full), "")),
                )
            elif ix not in self.tool_items:
                # what the model did that no tool call records (a web search it ran itself,
                # read as words; a local shell call the agent did not run): what happened
                if item.get("json"):
                    yield Line(2, ((_item_text(item, self.full), "cyan"),))
                else:
                    # named by its call id, as the tool call that runs it will be
                    label = action_label(kind, item["text"])
                    if isinstance(item.get("call_id"), str):
                        label += f" {item['call_id']}"
                    yield Line(
                        2, ((f"{label}: ", "bold cyan"), (_clip(item["text"], self.full), ""))
                    )

    def tool(self, n: int, indent: int = 2, *, in_cell: bool = False) -> Iterator[Line]:
        """A tool call at ``indent``; an exec call with the code cell it started under it, a
        ``wait`` call with the cell it waits on (``in_cell``: a call printed under a cell,
        which names no cell)."""
        m = self.m
        tool = m["tools"][n]
        args = (
            "\n".join(_with_json(m["items"][ix], self.full) for ix in tool["ci"])
            or tool.get("input_preview")
            or tool.get("message_preview")
            or ""
        )
        target = f" → {tool['target_agent_path']}" if tool.get("target_agent_path") else ""
        yield Line(
            indent,
            (
                ("⚙ ", "yellow"),
                (f"{tool['name']}{target} ", "bold yellow"),
                (f"{tool.get('call_id') or short_id(tool['id'])} · ", "dim"),
                (str(tool.get("st")), _status_style(tool.get("st"))),
                *approval_segments(tool),
                (f" · {_duration(tool, self.known)}", "dim"),
            ),
        )
        if args:
            yield Line(
                indent + 1,
                (("args: ", "dim"), (_clip(args, self.full, lines=4, chars=_ARGS_CHARS), "")),
            )
        if n in self.wait_on and not in_cell:
            cell = self.cells[self.wait_on[n]]
            yield Line(
                indent + 1,
                (
                    ("⧗ waits on code cell ", "dim"),
                    (f"{cell['id']}", "yellow"),
                    (" · ", "dim"),
                    (str(cell.get("st")), _status_style(cell.get("st"))),
                ),
            )
        op = m["ops"][tool["op"]] if tool.get("op") is not None else None
        if op is not None:
            what = f"$ {op['command']}" if op.get("command") else f"stdin {op.get('stdin')!r}"
            what = _clip(what, self.full, lines=4, chars=_ARGS_CHARS)
            exit_code = f" (exit {op['exit']})" if op.get("exit") is not None else ""
            # no result: a capture limit left out the event that carried it (the page says so)
            info = m["payloads"].get(op["lost"]) if op.get("lost") else None
            lost = f" (exit code not kept: {op['lost']}, {info[2]})" if info else ""
            yield Line(indent + 1, ((what + exit_code, "cyan"), (lost, "yellow")))
        for edge in m["edges"]:
            if edge.get("tool") == n and edge.get("to", -1) >= 0:
                yield Line(
                    indent + 1,
                    (
                        (
                            f"⇢ {kind_words(edge)} → {self.lane(edge['to'])}",
                            "bold magenta",
                        ),
                    ),
                )
        started = tool.get("starts_cell")
        if not in_cell and started is not None and self.exec_of_cell.get(started) == n:
            yield from self.cell(started, indent + 1)
        output = (
            "\n".join(_with_json(m["items"][ix], self.full) for ix in tool["oi"])
            or tool.get("output_preview")
            or tool.get("result")  # an answer no request carried: in the raw result
            or ""
        )
        failed = tool.get("st") in _FAILED
        if failed:
            error = _tool_error_text(m, tool) or "(no error text was recorded)"
            yield Line(indent + 1, (("error: ", "bold red"), (_clip(error, self.full), "red")))
        elif output:
            yield Line(indent + 1, (("→ ", "dim"), (_clip(output, self.full), "")))
        else:
            yield from (
                attrs.evolve(line, indent=indent + 1)
                for line in self.lost("result", tool.get("res"))
            )

    def cell(self, c: int, indent: int, *, alone: bool = False) -> Iterator[Line]:
        """A code cell: its id, status (a failed cell reads as failed, though its exec call
        completed), duration and first line of source; the tool calls it made under it; the
        ``wait`` calls on it. ``alone``: its source and output too (no exec call printed
        them: ``--call`` on the cell, or a cell whose exec call is not in the state)."""
        m = self.m
        cell = self.cells[c]
        status = cell.get("st")
        runtime = cell.get("runtime")
        also = f" (runtime {runtime})" if runtime and runtime != status else ""
        yield Line(
            indent,
            (
                ("▣ code cell ", "bold yellow"),
                (f"{cell['id']} · ", "dim"),
                (str(status), _status_style(status)),
                (f"{also} · {_duration(cell, self.known)} · ", "dim"),
                (_first_line(cell.get("source"), self.full), ""),
            ),
        )
        if alone and cell.get("source"):
            source = _clip(str(cell["source"]), self.full)
            yield Line(indent + 1, (("source: ", "dim"), (source, "")))
        nested = [k for k in cell["nested"] if alone or k in self.under_cell]
        for k in sorted(nested, key=lambda k: (m["tools"][k].get("s") or 0, k)):
            yield from self.tool(k, indent + 1, in_cell=True)
        output = "\n".join(m["items"][ix]["text"] for ix in cell["out"])
        if alone and status in _FAILED:  # with no output, what stopped it (``stop``)
            error = output or cell.get("stop") or "(no error text was recorded)"
            yield Line(indent + 1, (("error: ", "bold red"), (_clip(error, self.full), "red")))
        elif alone and output:
            yield Line(indent + 1, (("→ ", "dim"), (_clip(output, self.full), "")))
        waits = cell.get("waits", [])
        if alone:  # what each wait returned: a yielded cell's later output
            for w in waits:
                yield from self.tool(w, indent + 1, in_cell=True)
        elif waits:
            tools = [m["tools"][w] for w in waits]
            named = ", ".join(str(w.get("call_id") or short_id(w["id"])) for w in tools)
            yield Line(indent + 1, ((f"waited on by {named}", "dim"),))

    def compaction(self, compaction: Mapping[str, Any], indent: int = 1) -> Iterator[Line]:
        """A compaction with its id (``--call`` takes it back, as the page's ``#compaction=``
        link does) and its replacement history; a request that installed nothing, its status."""
        ident = (f"{short_id(compaction.get('id'))} · ", "dim")
        if compaction.get("req"):  # a request that installed nothing
            failed = compaction.get("st") in _FAILED
            yield Line(
                indent,
                (
                    ("⟲ compaction request ", "bold magenta"),
                    ident,
                    (
                        f"{compaction.get('st')} · {_duration(compaction, self.known)}",
                        "red" if failed else "dim",
                    ),
                ),
            )
            if failed:
                yield _error_line(compaction, "request", indent + 1, self.full)
            return
        yield Line(
            indent,
            (
                ("⟲ compaction ", "bold magenta"),
                ident,
                (
                    f"{compaction.get('cut') or _replaced(compaction)} · "
                    f"{_duration(compaction, self.known)}",
                    "dim",
                ),
            ),
        )
        for ix in compaction["repl"]:
            item = self.m["items"][ix]
            yield Line(
                indent + 1,
                ((f"{item.get('role')}: ", "magenta"), (_item_text(item, self.full), "")),
            )


def _replaced(compaction: Mapping[str, Any]) -> str:
    return f"{compaction['inputs']} items → {len(compaction['repl'])}"


_ROLE_STYLE: Final = {
    "user": "green",
    "developer": "yellow",
    "system": "yellow",
    "assistant": "blue",
    "tool": "cyan",
}


def transcript(state: Mapping[str, Any], *, full: bool = False) -> _Transcript:
    """The printer of a reduced state's transcript (its view model built)."""
    model = build_view_model(state)
    # no end: open records run to the last time the state knows, as in ``summary``
    ended = isinstance(state.get("ended_at_unix_ms"), int)
    known = None if ended else last_known_unix_ms(state) - model["meta"]["t0"]
    return _Transcript(model, full=full, known=known)


def transcript_lines(
    state: Mapping[str, Any],
    *,
    thread: str | None = None,
    call: str | None = None,
    full: bool = False,
    reports: Sequence[str] = (),
) -> list[Line]:
    """The transcript of a reduced state.

    Args:
        state: the reduced state as plain JSON values.
        thread: only the agent with this path, thread id or unambiguous thread id prefix
            (None = all, tree order).
        call: only this inference call's conversation, this tool call, this code cell
            with the calls it made, or this compaction (its id, or an unambiguous id prefix).
        full: do not truncate outputs and arguments.
        reports: what our recorder said of the recording (``reports.recorder_reports``),
            said under the header.

    Returns:
        The lines, for ``render_plain`` or ``render_rich``.

    Raises:
        LookupError: ``thread`` or ``call`` names nothing (or more than one thing) in the
            rollout.
    """
    t = transcript(state, full=full)
    lines = list(t.header())
    lines += [Line(0, (("recorder: ", "bold yellow"), (report, ""))) for report in reports]
    if call is not None:
        from ._show_one import one_call  # ``--call`` only

        found = one_call(t, call)
        if found is None:
            raise LookupError(
                f"no inference call, tool call, code cell or compaction {call!r} in this rollout"
            )
        return [*lines, *found]
    threads = thread_tree_order(t.m["threads"])
    if thread is not None:
        from .summary import find_thread  # the same rule as summary --thread

        wanted = find_thread(state, thread).get("thread_id")
        threads = [n for n in threads if t.m["threads"][n]["id"] == wanted]
    for n in threads:
        lines.extend(t.thread(n))
    return lines
