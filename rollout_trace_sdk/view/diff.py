"""``rollout-trace diff``: where two rollouts of the same task part ways.

An evaluation runs one task twice (two agent versions, two models, two seeds, a replay of a
failure) and the first question is where the runs stopped doing the same thing. Each agent's
rollout is read as its *steps*, the actions it took in order: every tool call (name and
arguments) and every message it answered with (reasoning is thinking, not an action). The
steps of the agent with the same path in each rollout (``/root``, ``/root/worker``...) are
aligned by :class:`difflib.SequenceMatcher` on what each step did (``_diff_align.py``, apart
from the reading and pairing of agents here); an aligned pair whose
result differs (another status, another output) is a step that went otherwise, and often the
cause of what follows. The first place the runs differ, by action or by result, is what the
command leads with.

Built on the view model, as ``show`` is (the same bundle or ``state.json`` sources). The result
is a plain dict (``--json`` prints it; ``DIFF_VERSION`` versions it); ``diff_text``
lays it out as ``show``'s lines.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..model.items import ENVELOPE_PAYLOAD
from ._diff_align import CHANGED as CHANGED
from ._diff_align import ONLY_A as ONLY_A
from ._diff_align import ONLY_B as ONLY_B
from ._diff_align import SAME as SAME
from ._diff_align import Compare, aligned, mark_moved
from ._diff_align import step_name as step_name
from .diff_steps import agent_steps as agent_steps
from .model import thread_tree_order
from .rollout_metadata import metadata_of
from .show import transcript

#: Bumped when a field changes meaning or goes away (adding a field does not bump it).
DIFF_VERSION: Final = 1

_Obj = Mapping[str, Any]


def agent_tasks(model: _Obj) -> dict[int, str]:
    """What each agent (by its index in the view model's threads) was asked: the messages
    of its first inference call's input that came from a user or another agent (a spawned
    agent's task, an agent run as a tool's input, the root's prompt), each delivered message
    without its envelope, joined by newlines. Agents aligned by path may have been asked
    different things (two sub-agents spawned in another order): their steps can match while
    their work does not. An agent that made no model call has no entry: what it was asked is
    not known (it is compared as asked the same).
    """
    items = model["items"]
    tasks: dict[int, str] = {}
    for call in model["calls"]:
        t = call.get("t")
        if t in tasks:
            continue
        texts = []
        for ix in call.get("req", ()):
            item = items[ix]
            if item.get("kind") != "message":
                continue
            if item.get("role") != "user" and not item.get("from"):
                continue
            text = str(item.get("text") or "")
            if item.get("from"):  # Codex's envelope: Message Type, Task name, Sender, Payload
                text = text.partition(ENVELOPE_PAYLOAD)[2] or text
            texts.append(text)
        tasks[t] = "\n".join(texts)
    return tasks


def _agent(
    path: str,
    a: list[dict[str, Any]] | None,
    b: list[dict[str, Any]] | None,
    compare: Compare,
    tasks: Sequence[str | None] = (None, None),
) -> dict[str, Any]:
    rows = aligned(a or [], b or [], compare)
    mark_moved(rows, a or [], b or [], compare)
    counts = dict.fromkeys((SAME, CHANGED, ONLY_A, ONLY_B), 0)
    for row in rows:
        counts[row["op"]] += 1
    first = next((k for k, row in enumerate(rows) if row["op"] != SAME), None)
    parted = next((k for k, row in enumerate(rows) if row["op"] in (ONLY_A, ONLY_B)), None)
    both = a is not None and b is not None
    # a task not known (an agent that made no model call yet) is not another task
    known = both and None not in tasks
    same_task = not known or compare.task(tasks[0]) == compare.task(tasks[1])
    return {
        "path": path,
        "in": "both" if both else ("a" if a is not None else "b"),
        "alike": both and same_task and first is None,
        "task_a": tasks[0],
        "task_b": tasks[1],
        "same_task": same_task,
        "steps_a": None if a is None else len(a),
        "steps_b": None if b is None else len(b),
        "alike_before": len(rows) if first is None else first,
        "first_difference": first,
        "first_other_step": parted,
        "counts": counts,
        "moved": sum(1 for row in rows if row["op"] == ONLY_A and "moved" in row),
        "rows": rows,
        "a": a or [],
        "b": b or [],
    }


def _agents_by_path(model: _Obj) -> dict[str, int]:
    """Each agent (its index in the view model's threads) by its path, in tree order. Two
    agents may have one path: Codex gives a multi-agent v1 sub-agent its parent's, and an
    agent may be spawned under the name of one that ended. The first keeps the path; a later
    one is named as ``show`` labels it, by its nickname (``/root (Rawls)``), else numbered as
    the recorder renames an id used again (``/root/helper#2``, ``#3``...), so each is compared
    with its counterpart of the other side (one key a path, the later agent took the first's
    place: the root's steps were compared no more, review user53; the last helper alone was,
    review53)."""
    threads = model["threads"]
    keys: dict[str, int] = {}
    for t in thread_tree_order(threads):
        path = key = str(threads[t]["path"])
        if key in keys:
            nick = threads[t].get("nick")
            labels = [f"{path} ({nick})"] if nick else []
            numbered = (f"{path}#{n}" for n in itertools.count(2))
            key = next(k for k in itertools.chain(labels, numbered) if k not in keys)
        keys[key] = t
    return keys


def build_diff(
    state_a: _Obj,
    state_b: _Obj,
    *,
    thread: str | None = None,
    ignore: Sequence[str] = (),
    results: bool = True,
) -> dict[str, Any]:
    """Two reduced states compared agent by agent.

    Args:
        state_a: the first rollout's reduced state, as plain JSON values.
        state_b: the second's.
        thread: only the agent with this path (None: every agent of either, A's tree order
            first, then B's agents A does not have).
        ignore: regular expressions whose matches are left out of every comparison (in
            arguments, messages and outputs; what is shown keeps them).
        results: compare results too (status and output); off, only what each agent did.

    Returns:
        ``{"diff_version", "a", "b", "alike", "agents"}``: ``a``/``b`` the rollouts' ids,
        statuses and totals; ``alike`` whether every step matched in action and result;
        ``agents`` one entry per agent path (docs/viewing.md, "Comparing two rollouts").

    Raises:
        NoSuchAgent: ``thread`` is an agent of neither rollout (a ``LookupError``).
        re.error: an ``ignore`` pattern is not a regular expression.
    """
    states = (state_a, state_b)
    sides = [transcript(state) for state in states]
    return compare_sides(sides, states, thread=thread, ignore=ignore, results=results)


def compare_sides(
    sides: Sequence[Any],
    states: Sequence[_Obj],
    *,
    thread: str | None = None,
    ignore: Sequence[str] = (),
    results: bool = True,
) -> dict[str, Any]:
    """:func:`build_diff` on each rollout's transcript already built: ``diff_text`` builds
    them once for the comparison and for each rollout's header lines.

    Args:
        sides: each rollout's ``show.transcript`` (its view model is ``.m``), A then B.
        states: the reduced states they were built from (each rollout's metadata).
        thread: ignore: results: as :func:`build_diff` takes them.

    Returns:
        What :func:`build_diff` returns.

    Raises:
        AmbiguousAgent: ``thread`` is a nickname more than one agent has.
        NoSuchAgent: ``thread`` is an agent of neither rollout (a ``LookupError``).
    """
    compare = Compare([re.compile(pattern) for pattern in ignore], results=results)
    paths = [_agents_by_path(side.m) for side in sides]
    every = [agent_steps(side.m) for side in sides]
    asked = [agent_tasks(side.m) for side in sides]
    used = [_agent_usage(side.m) for side in sides]
    pairs = _paired(paths, asked, compare)
    if thread is not None:
        # a path of either side (``/root/helper#2`` too), else a nickname
        path = thread if thread in paths[0] or thread in paths[1] else _named(thread, sides, paths)
        pairs = [pair for pair in pairs if path in pair]
    agents = []
    for pair in pairs:
        index = [
            None if path is None else by_path[path]
            for path, by_path in zip(pair, paths, strict=True)
        ]
        steps = [
            None if t is None else by_agent.get(t, [])
            for t, by_agent in zip(index, every, strict=True)
        ]
        tasks = [
            None if t is None else by_task.get(t) for t, by_task in zip(index, asked, strict=True)
        ]
        entry = _agent(str(pair[0] or pair[1]), steps[0], steps[1], compare, tasks)
        entry["path_b"] = pair[1]
        for side, t, by_usage in zip("ab", index, used, strict=True):
            entry[f"usage_{side}"] = None if t is None else by_usage[t]
        agents.append(entry)
    return _compared(sides, states, agents)


def without_agent(sides: Sequence[Any], states: Sequence[_Obj]) -> dict[str, Any]:
    """What :func:`compare_sides` says of a pair where neither rollout has the ``--thread``
    agent (``diff --by`` counts such a pair alike): each rollout's totals and no agent,
    without aligning the agents it then leaves out."""
    return _compared(sides, states, [])


def _compared(
    sides: Sequence[Any], states: Sequence[_Obj], agents: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "diff_version": DIFF_VERSION,
        "a": _rollout(sides[0].m, states[0]),
        "b": _rollout(sides[1].m, states[1]),
        "alike": all(entry["alike"] for entry in agents),
        "agents": agents,
    }


class NoSuchAgent(LookupError):
    """``--thread`` names no agent of either rollout. Its own class, so the commands catch
    this and not every ``LookupError`` (a ``KeyError`` from a bug in the comparison would
    have read as "no agent")."""


class AmbiguousAgent(LookupError):
    """``--thread`` gave a nickname more than one agent has: refused, never read as no agent
    (``diff --by`` compares a pair whose runs lack the agent as alike)."""


def _named(thread: str, sides: Sequence[Any], paths: Sequence[Mapping[str, int]]) -> str:
    """The path of the agent whose nickname ``--thread`` gives, when it is no path of either
    rollout (``paths``: each side's agents by path; ``show`` and the page name agents by
    nickname: ``Ada``, an Agents SDK agent's name).

    Raises:
        AmbiguousAgent: more than one path has that nickname.
        NoSuchAgent: no agent has that path or nickname.
    """
    named = sorted(
        {
            key
            for side, by_path in zip(sides, paths, strict=True)
            for key, t in by_path.items()
            if side.m["threads"][t].get("nick") == thread
        }
    )
    if len(named) == 1:
        return named[0]
    if named:
        raise AmbiguousAgent(f"{thread!r} names {len(named)} agents: {', '.join(named)}")
    raise NoSuchAgent(f"no agent {thread!r} in either rollout (give its path: /root/...)")


def _paired(
    paths: Sequence[Mapping[str, int]], asked: Sequence[Mapping[int, str]], compare: Compare
) -> list[tuple[str | None, str | None]]:
    """The agents compared: each path of A with the same path of B, in A's tree order then
    B's agents A does not have; an agent only A has is paired with one only B has under the
    same parent (or the parent's renamed counterpart) that was asked the same thing (a
    sub-agent renamed in B: ``researcher`` to ``research_agent``, an Agents SDK agent given
    another name), so a renamed agent's work is compared rather than read as one agent gone
    and another new."""
    only_b = {path: compare.task(asked[1].get(t)) for path, t in paths[1].items()}
    only_b = {path: task for path, task in only_b.items() if path not in paths[0]}
    counterpart: dict[str, str] = {}  # A's path -> B's, for the agents renamed
    pairs: list[tuple[str | None, str | None]] = []
    for path, t in paths[0].items():
        if path in paths[1]:
            pairs.append((path, path))
            continue
        task = compare.task(asked[0].get(t))
        parent = path.rpartition("/")[0]
        parents = {parent, counterpart.get(parent, parent)}
        renamed = next(
            (
                other
                for other, other_task in only_b.items()
                if task and other_task == task and other.rpartition("/")[0] in parents
            ),
            None,
        )
        if renamed is not None:
            del only_b[renamed]
            counterpart[path] = renamed
        pairs.append((path, renamed))
    pairs += [(None, path) for path in only_b]
    return _unswapped(pairs, paths, asked, compare)


def _unswapped(
    pairs: list[tuple[str | None, str | None]],
    paths: Sequence[Mapping[str, int]],
    asked: Sequence[Mapping[int, str]],
    compare: Compare,
) -> list[tuple[str | None, str | None]]:
    """``pairs`` with the agents of one parent that were asked each other's tasks paired by
    task: paths numbered in the order agents started (an Agents SDK agent run as a tool twice,
    ``/root/translator`` and ``/root/translator_2``; two sub-agents given ``worker_1`` and
    ``worker_2`` as spawned) name other work when v2 starts them in another order. An agent
    of either side asked what no agent of the other was keeps its place."""

    def task(side: int, path: str) -> str | None:
        return compare.task(asked[side].get(paths[side][path]))

    def otherwise(path: str) -> bool:
        tasks = task(0, path), task(1, path)
        return None not in tasks and tasks[0] != tasks[1]

    crossed = [k for k, (a, b) in enumerate(pairs) if a is not None and a == b and otherwise(a)]
    b_of: dict[int, str] = {}
    free = {pairs[k][1]: k for k in crossed}  # B's paths not yet given another partner
    for k in crossed:
        a = str(pairs[k][0])
        wanted = task(0, a)
        match = next(
            (
                b
                for b in free
                if b is not None
                and b.rpartition("/")[0] == a.rpartition("/")[0]
                and task(1, b) == wanted
            ),
            None,
        )
        if wanted and match is not None:
            b_of[k] = match
            del free[match]
    if not b_of:
        return pairs
    left = iter(sorted(free.items(), key=lambda entry: entry[1]))  # the rest, in A's order
    out = list(pairs)
    for k in crossed:
        out[k] = (pairs[k][0], b_of[k] if k in b_of else next(left)[0])
    return out


def _agent_usage(model: _Obj) -> dict[int, dict[str, Any]]:
    """Each agent's cost (by its index in the view model's threads): its inference calls,
    their input and output tokens (None: no call reported usage) and its lifetime in ms
    (None: still running). Which version of an agent is dearer or slower is the next
    question after where two runs part ways."""
    usage: dict[int, dict[str, Any]] = {}
    for t, thread in enumerate(model["threads"]):
        start, end = thread.get("s"), thread.get("e")
        usage[t] = {
            "inference_calls": 0,
            "input_tokens": None,
            "output_tokens": None,
            "duration_ms": end - start if isinstance(start, int) and isinstance(end, int) else None,
        }
    for call in model["calls"]:
        entry = usage.get(call.get("t"))
        if entry is None:
            continue
        entry["inference_calls"] += 1
        u = call.get("u")
        if u:
            entry["input_tokens"] = (entry["input_tokens"] or 0) + u[0]
            entry["output_tokens"] = (entry["output_tokens"] or 0) + u[2]
    return usage


def _rollout(model: _Obj, state: _Obj) -> dict[str, Any]:
    meta = model["meta"]
    usage = [c["u"] for c in model["calls"] if c.get("u")]
    return {
        "rollout_id": meta.get("rollout_id"),
        "status": meta.get("status"),
        "agents": len(model["threads"]),
        "inference_calls": len(model["calls"]),
        "tool_calls": len(model["tools"]),
        "input_tokens": sum(u[0] for u in usage) if usage else None,
        "output_tokens": sum(u[2] for u in usage) if usage else None,
        "duration_ms": meta.get("end"),
        "metadata": metadata_of(state),
    }
