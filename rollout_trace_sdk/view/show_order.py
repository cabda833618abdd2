"""Where each record of an agent goes in ``rollout-trace show``'s transcript.

By time first (milliseconds since the rollout's start), then, within one millisecond (a fast
loop starts a tool call, takes in its output and starts the next inference call in the same
one), by the log: each call's start has its seq (``q`` in the view model), and an input item,
which has none, goes just before the first of the agent's inference calls whose request held
it. So a tool call stays under the inference call that asked for it, a sub-agent's answer
that a wait brought in stays under the wait, and the transcript reads the same whatever the
clock's resolution (``tests/view/test_show_order.py``). A tool call the response of one of the
agent's inference calls asked for goes under that call, also when the agent had another
inference call running meanwhile (parallel samples, a side request): printed by time alone,
the first call's tool calls came under the second one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, Final, Literal

from .show_format import FAILED

__all__ = ["Entry", "thread_order"]

Kind = Literal["item", "call", "tool", "cell", "compaction", "guardrail", "turn_end"]
#: what to print and which record: (kind, index in its table, the guardrail for "guardrail")
Entry = tuple[Kind, int, Any]

#: ranks within one millisecond and one log position: input items before the call that sent
#: them; compactions without a request before the calls; a failed turn's end after all
_BEFORE: Final = 0
_LOGGED: Final = 2
_AFTER: Final = 3


def thread_order(
    m: Mapping[str, Any],
    t: int,
    *,
    input_item: Callable[[Mapping[str, Any]], bool],
    hidden_tools: Collection[int],
    hidden_cells: Collection[int],
) -> list[Entry]:
    """The records of thread ``t`` in the order the transcript prints them.

    Args:
        m: the view model (``view/model.py``).
        t: the thread's index.
        input_item: whether an item of the thread is printed as input (not with its call).
        hidden_tools: tool calls printed elsewhere (under the code cell that made them).
        hidden_cells: code cells printed elsewhere (under the exec call that started them).

    Returns:
        The entries, in order.
    """
    keyed: list[tuple[tuple[int, ...], Entry]] = []
    sent_by = _first_sent(m, t)
    asked_by: dict[int, tuple[int, ...]] = {}  # tool -> the key of the call that asked for it
    for n, item in enumerate(m["items"]):
        if item["t"] == t and input_item(item):
            q = sent_by.get(n)
            rank = (_LOGGED, q, 0) if q is not None else (_BEFORE, 0, 0)
            keyed.append(((item.get("at") or 0, *rank, n), ("item", n, None)))
    for n, call in enumerate(m["calls"]):
        if call["t"] == t:
            call_key = _logged(call, call.get("s"), n)
            keyed.append((call_key, ("call", n, None)))
            for tool in call.get("tools") or ():
                asked_by.setdefault(tool, call_key)
    for n, tool in enumerate(m["tools"]):
        if tool["t"] == t and n not in hidden_tools:
            key: tuple[int, ...] = _logged(tool, tool.get("s"), n)
            asking = asked_by.get(n)
            if asking is not None and asking < key:
                # right after its call (and its call's earlier tools), before what followed
                key = (*asking, *key)
            keyed.append((key, ("tool", n, None)))
    for n, cell in enumerate(m["cells"]):
        if cell["t"] == t and n not in hidden_cells:
            keyed.append((_logged(cell, cell.get("s"), n), ("cell", n, None)))
    for n, compaction in enumerate(m["compactions"]):
        if compaction["t"] == t:
            at = compaction.get("at") or 0
            q = compaction.get("q")  # its request's place in the log, when it has one
            if isinstance(q, int) and q:
                keyed.append(((at, _LOGGED, q, 1, n), ("compaction", n, None)))
            else:
                keyed.append(((at, 1, 0, 1, n), ("compaction", n, None)))
    for n, turn in enumerate(m["turns"]):
        if turn["t"] != t:
            continue
        for guardrail in turn.get("g", ()):
            at = guardrail[2] if guardrail[2] is not None else turn.get("s")
            keyed.append((_logged(turn, at, n), ("guardrail", n, guardrail)))
        if turn.get("st") in FAILED:
            # at its end, after what it ran: where the log ended it (the next turn may start
            # the same millisecond), else after all of that millisecond
            at = turn.get("e") if turn.get("e") is not None else turn.get("s") or 0
            ended = turn.get("qe")
            place: tuple[int, int] = (
                (_LOGGED, ended) if isinstance(ended, int) else (_AFTER, turn.get("q") or 0)
            )
            keyed.append(((at, *place, 1, n), ("turn_end", n, None)))
    keyed.sort(key=lambda pair: pair[0])
    return [entry for _, entry in keyed]


def _logged(record: Mapping[str, Any], at: int | None, n: int) -> tuple[int, int, int, int, int]:
    """The key of a record that started at log position ``q``."""
    return (at or 0, _LOGGED, record.get("q") or 0, 1, n)


def _first_sent(m: Mapping[str, Any], t: int) -> dict[int, int]:
    """Each item's index -> the log position of the first inference call of thread ``t``
    whose request held it."""
    sent: dict[int, int] = {}
    calls = [c for c in m["calls"] if c["t"] == t and isinstance(c.get("req"), list)]
    for call in sorted(calls, key=lambda c: (c.get("s") or 0, c.get("q") or 0)):
        for ix in call["req"]:
            sent.setdefault(ix, call.get("q") or 0)
    return sent
