"""``rollout-trace show --call ID``: one inference call's conversation (new items marked),
one tool call, one code cell with the calls it made, or one compaction, found by its id or
an id prefix only it has.

Apart from :mod:`.show`, which prints whole agents, because it is one lookup and four views
of a single record reached only through ``--call``; it prints each record with the
transcript's own pieces (:class:`.show._Transcript`), so a call reads the same alone as in
its agent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .ids import abbreviates, names
from .sent_in import sent_in_words
from .show_format import Line, short_id
from .show_format import counted as _counted
from .show_format import item_text as _item_text

if TYPE_CHECKING:
    from .show import _Transcript as Transcript


def one_call(t: Transcript, ident: str) -> Iterator[Line] | None:
    """The lines of what :func:`locate` finds (None: nothing): a conversation, one tool
    call, one code cell with the calls it made, or one compaction.

    Raises:
        LookupError: the prefix starts the ids of more than one call.
    """
    found = locate(t, ident)
    if found is None:
        return None
    kind, n = found
    if kind == "call":
        return _conversation(t, n)
    if kind == "tool":
        return _tool_alone(t, n)
    if kind == "cell":
        return _cell_alone(t, n)
    return _compaction_alone(t, t.m["compactions"][n])


def locate(t: Transcript, ident: str) -> tuple[str, int] | None:
    """The inference call (its conversation, new items marked), tool call, code cell or
    compaction ``ident`` names: by its id, or an id prefix only one of them has (the short
    ids the transcript prints); (kind, index in the view model's table of that kind).

    Raises:
        LookupError: the prefix starts the ids of more than one call.
    """
    m = t.m
    for n, call in enumerate(m["calls"]):
        if names(ident, call["id"]):
            return "call", n
    for n, tool in enumerate(m["tools"]):
        if names(ident, tool["id"]) or names(ident, tool.get("call_id")):
            return "tool", n
    for n, cell in enumerate(t.cells):
        if names(ident, cell["id"]):
            return "cell", n
    compactions: list[Mapping[str, Any]] = m["compactions"]
    for n, compaction in enumerate(compactions):
        if names(ident, compaction["id"]):
            return "compaction", n

    calls = [n for n, call in enumerate(m["calls"]) if abbreviates(ident, str(call["id"]))]
    tools = [n for n, tool in enumerate(m["tools"]) if abbreviates(ident, str(tool["id"]))]
    cells = [n for n, cell in enumerate(t.cells) if abbreviates(ident, str(cell["id"]))]
    cmps = [n for n, c in enumerate(compactions) if abbreviates(ident, str(c["id"]))]
    found = len(calls) + len(tools) + len(cells) + len(cmps)
    if found > 1:
        raise LookupError(f"{ident!r} starts {found} call, cell or compaction ids; give more of it")
    if calls:
        return "call", calls[0]
    if tools:
        return "tool", tools[0]
    if cells:
        return "cell", cells[0]
    if cmps:
        return "compaction", cmps[0]
    return None


def _compaction_alone(t: Transcript, compaction: Mapping[str, Any]) -> Iterator[Line]:
    """One compaction: what it replaced (every item, as the page's details list them) and
    the replacement history."""
    what = "compaction request" if compaction.get("req") else "compaction"
    lane = t.lane(compaction["t"])
    yield Line(0, ((f"{what} {compaction['id']} in {lane}", "bold"),))
    yield from t.compaction(compaction)
    if compaction.get("req"):
        return
    yield Line(1, ((f"replaced: {_counted(len(compaction['in']), 'item')}", "bold"),))
    for ix in compaction["in"]:
        item = t.m["items"][ix]
        yield Line(
            2,
            (
                (f"{short_id(item['id'])} {item.get('role')}: ", "dim"),
                (_item_text(item, t.full), ""),
            ),
        )


def _cell_alone(t: Transcript, c: int) -> Iterator[Line]:
    cell = t.cells[c]
    yield Line(0, ((f"code cell {cell['id']} in {t.lane(cell['t'])}", "bold"),))
    exec_call = t.exec_of_cell.get(c)
    if exec_call is not None:
        tool = t.m["tools"][exec_call]
        by = f"started by {tool['name']} {tool.get('call_id') or short_id(tool['id'])}"
        caller = t.tool_of_call.get(exec_call)
        if caller is not None:
            by += f" of inference {short_id(t.m['calls'][caller]['id'])}"
        yield Line(1, ((by, "dim"),))
    yield from t.cell(c, 1, alone=True)


def _tool_alone(t: Transcript, n: int) -> Iterator[Line]:
    tool = t.m["tools"][n]
    yield Line(0, ((f"tool call {tool['id']} in {t.lane(tool['t'])}", "bold"),))
    caller = t.tool_of_call.get(n)
    if caller is not None:
        yield Line(1, ((f"started by inference {short_id(t.m['calls'][caller]['id'])}", "dim"),))
    yield Line(1, ((sent_in_words(t.m, n, t.lane), "dim"),))
    yield from t.tool(n)


def _conversation(t: Transcript, n: int) -> Iterator[Line]:
    m = t.m
    call = m["calls"][n]
    previous = next((c for c in reversed(m["calls"][:n]) if c["t"] == call["t"]), None)
    seen = set(previous["req"]) | set(previous["resp"]) if previous else set()
    yield Line(0, ((f"inference {call['id']} in {t.lane(call['t'])}", "bold"),))
    yield from t.call(n)
    new = sum(1 for ix in call["req"] if ix not in seen)
    yield Line(1, ((f"request: {len(call['req'])} items, {new} new", "bold"),))
    if not call["req"]:  # a request a capture limit cut or left out (as the page says)
        yield from t.lost("request", call.get("rq"))
    for ix in call["req"]:
        item = m["items"][ix]
        mark = "+" if ix not in seen else " "
        kind = "" if item.get("kind") == "message" else f" [{item.get('kind')}]"
        yield Line(
            2,
            (
                (
                    f"{mark} {short_id(item['id'])} {item.get('role')}{kind}: ",
                    "bold green" if mark == "+" else "dim",
                ),
                (_item_text(item, t.full), ""),
            ),
        )
