"""``rollout-trace diff``'s text: a comparison (``view/diff.py``) laid out as ``show``'s lines.

Each rollout's header as ``show`` heads it, then per agent how far the runs went alike, what
each side was asked when that differs, what each side cost, and the first step that differs
(``--steps``: every step, marked as ``diff`` marks lines). Past ten agents alike, they are
named on one line: a 400-agent rollout's diff leads with the agents that differ.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from .diff import CHANGED, ONLY_A, ONLY_B, SAME, compare_sides, step_name
from .show import transcript
from .show_format import Line, clip, status_style

_Obj = Mapping[str, Any]
#: Characters of a step's arguments, message or output in the text (``--json`` keeps them whole).
_SHOWN_CHARS: Final = 160


def diff_report(
    state_a: _Obj,
    state_b: _Obj,
    *,
    steps: bool = False,
    context: int | None = None,
    **options: Any,
) -> tuple[dict[str, Any], list[Line]]:
    """:func:`build_diff` (``options`` are its keywords) and its text, each rollout's view
    model built once for both."""
    states = (state_a, state_b)
    sides = [transcript(state) for state in states]
    diff = compare_sides(sides, states, **options)
    return diff, _diff_lines(diff, sides, steps=steps, context=context)


#: Past this many agents alike (or only in one rollout), they are named on one line, not
#: each on its own: a 400-agent rollout's diff leads with the agents that differ.
_LISTED: Final = 10
#: How many paths such a line names.
_NAMED: Final = 5


def _diff_lines(
    diff: _Obj, sides: Sequence[Any], *, steps: bool = False, context: int | None = None
) -> list[Line]:
    """``diff`` laid out for a terminal: each rollout's line (as ``show`` heads it), then per
    agent how far the runs went alike and the first step that differs; with ``steps`` every
    step, marked as ``diff`` marks lines (``-`` A only, ``+`` B only, ``~`` same action,
    other result), and with ``context`` only that many steps alike around each difference
    (a 300-step agent that differs at one step is a few lines, as a unified diff shows it)."""
    lines: list[Line] = []
    for label, side in zip(("A ", "B "), sides, strict=True):
        for line in side.header(recording=True):
            lines.append(Line(0, ((label, "bold"), *line.parts)))
    groups: dict[str, list[_Obj]] = {"alike": [], "a": [], "b": []}
    for agent in diff["agents"]:
        if agent["in"] == "both" and not agent["alike"]:
            lines.append(Line(0, (("", ""),)))
            lines += list(_agent_lines(agent, steps=steps, context=context))
        else:
            groups["alike" if agent["in"] == "both" else agent["in"]].append(agent)
    for group, agents in groups.items():
        if len(agents) > _LISTED or (group == "alike" and len(diff["agents"]) > _LISTED):
            lines += [Line(0, (("", ""),)), _group_line(group, agents)]
            continue
        for agent in agents:
            lines += [Line(0, (("", ""),)), *_agent_lines(agent, steps=steps, context=context)]
    if diff["alike"]:
        lines += [Line(0, (("", ""),)), Line(0, (("every step alike", "bold green"),))]
    return lines


def _group_line(group: str, agents: Sequence[_Obj]) -> Line:
    words = {"alike": "alike", "a": "only in A", "b": "only in B"}[group]
    named = ", ".join(str(agent["path"]) for agent in agents[:_NAMED])
    more = f" and {len(agents) - _NAMED:,} more" if len(agents) > _NAMED else ""
    counted = f"{len(agents):,} agent" + ("" if len(agents) == 1 else "s")
    style = "green" if group == "alike" else "yellow"
    return Line(0, ((f"━━ {counted} {words}: ", f"bold {style}"), (named + more, style)))


def _agent_lines(agent: _Obj, *, steps: bool, context: int | None = None) -> Iterator[Line]:
    path = agent["path"]
    if agent.get("path_b") not in (None, path):
        path = f"{path} → {agent['path_b']}"
    if agent["in"] != "both":
        side = agent["in"].upper()
        count = agent["steps_a"] if side == "A" else agent["steps_b"]
        yield Line(
            0, ((f"━━ {path}", "bold cyan"), (f"  only in {side} · {_steps(count)}", "yellow"))
        )
        return
    counts = agent["counts"]
    head = f"  A {_steps(agent['steps_a'])} · B {_steps(agent['steps_b'])}"
    first = agent["first_difference"]
    if agent["alike"]:
        yield Line(0, ((f"━━ {path}", "bold cyan"), (head + " · alike", "green")))
        return
    before = agent["alike_before"]
    alike = "" if agent["same_task"] else " · asked otherwise"
    if first is None:
        alike += " · every step alike"
    elif before == 1:
        alike += " · the first step alike"  # not "the first 1 step"
    elif before:
        alike += f" · the first {_steps(before)} alike"
    else:
        alike += " · differ from the first step"
    yield Line(0, ((f"━━ {path}", "bold cyan"), (head + alike, "dim")))
    yield Line(1, ((_cost(agent), "dim"),))
    if not agent["same_task"]:
        yield Line(1, (("asked otherwise", "bold"),))
        for side in ("a", "b"):
            task = clip(str(agent[f"task_{side}"] or ""), False, lines=1, chars=_SHOWN_CHARS)
            yield Line(2, ((f"{side.upper()}  task: ", "bold"), (task, "")))
    if first is not None:
        yield from _difference(agent, first)
    parted = agent["first_other_step"]
    if parted is not None and parted != first:
        yield from _difference(agent, parted)
    rest = ", ".join(
        f"{counts[op]:,} {words}"
        for op, words in (
            (SAME, "alike"),
            (CHANGED, "with another result"),
            (ONLY_A, "only in A"),
            (ONLY_B, "only in B"),
        )
        if counts[op]
    )
    if agent.get("moved"):
        rest += f" ({agent['moved']:,} of each taken in another order)"
    yield Line(1, ((f"in all: {rest}", "dim"),))
    if steps:
        for row in _around(agent["rows"], context):
            if isinstance(row, int):
                yield Line(1, ((f"   … {_steps(row)} alike", "dim"),))
            else:
                yield from _row(agent, row)


def _around(rows: Sequence[_Obj], context: int | None) -> Iterator[_Obj | int]:
    """``rows``, with the runs of rows alike farther than ``context`` rows from any other
    row given as their count (None: every row)."""
    if context is None:
        yield from rows
        return
    near = [False] * len(rows)
    for k, row in enumerate(rows):
        if row["op"] != SAME:
            for j in range(max(0, k - context), min(len(rows), k + context + 1)):
                near[j] = True
    hidden = 0
    for k, row in enumerate(rows):
        if near[k]:
            if hidden:
                yield hidden
                hidden = 0
            yield row
        else:
            hidden += 1
    if hidden:
        yield hidden


def _difference(agent: _Obj, k: int) -> Iterator[Line]:
    """Row ``k``, the first of its kind: a step with another result, or where the agents took
    other steps (with what B did instead when A's step was replaced)."""
    row = agent["rows"][k]
    if row["op"] == CHANGED:
        yield Line(1, ((f"step {row['a'] + 1}: the same call, another result", "bold"),))
        yield from _pair(agent, row, indent=2)
        return
    at = f"A's step {row['a'] + 1}" if row["a"] is not None else f"B's step {row['b'] + 1}"
    moved = row.get("moved")
    if moved is not None:
        other = "B" if row["a"] is not None else "A"
        said = f"{at}: in another order, the same step as {other}'s step {moved + 1}"
    else:
        said = f"{at}: the agents part ways"
    yield Line(1, ((said, "bold"),))
    yield from _pair(agent, row, indent=2)
    instead = replaced_by(agent["rows"], k)
    if instead is not None:
        yield from _pair(agent, instead, indent=2)


def replaced_by(rows: Sequence[_Obj], k: int) -> _Obj | None:
    """What B did instead of A's step at row ``k``: the first of B's steps in the run that
    replaced A's (the alignment lists A's steps of a replaced run first, then B's, so the
    row after ``k`` may be A's next step), or None (A's step was left out, or ``k`` is B's)."""
    if rows[k]["op"] != ONLY_A:
        return None
    for row in rows[k + 1 :]:
        if row["op"] == ONLY_B:
            return row
        if row["op"] != ONLY_A:
            return None
    return None


def _cost(agent: _Obj) -> str:
    """What the agent cost on each side: ``cost: A 3 model calls, 1,537 in / 100 out
    tokens, 4 ms · B ...``."""
    said = []
    for side in ("a", "b"):
        usage = agent.get(f"usage_{side}")
        if usage is None:
            continue
        calls = usage["inference_calls"]
        words = [f"{calls:,} model call" + ("" if calls == 1 else "s")]
        if usage["input_tokens"] is not None:
            words.append(f"{usage['input_tokens']:,} in / {usage['output_tokens']:,} out tokens")
        if usage["duration_ms"] is not None:
            words.append(f"{usage['duration_ms']:,} ms")
        said.append(f"{side.upper()} " + ", ".join(words))
    return "cost: " + " · ".join(said)


def _steps(count: int | None) -> str:
    return f"{count or 0:,} step" + ("" if count == 1 else "s")


def _pair(agent: _Obj, row: _Obj, *, indent: int) -> Iterator[Line]:
    for side in ("a", "b"):
        if row[side] is not None:
            step = agent[side][row[side]]
            parts = _step_parts(step, row.get("line") or 0)
            yield Line(indent, ((f"{side.upper()} {row[side] + 1:>3}  ", "bold"), *parts))


_MARKS: Final = {SAME: "  ", CHANGED: "~ ", ONLY_A: "- ", ONLY_B: "+ "}
_MARK_STYLES: Final = {SAME: "dim", CHANGED: "yellow", ONLY_A: "red", ONLY_B: "green"}


def _row(agent: _Obj, row: _Obj) -> Iterator[Line]:
    numbers = " ".join(
        f"{row[side] + 1:>3}" if row[side] is not None else "   " for side in ("a", "b")
    )
    side = "a" if row["a"] is not None else "b"
    mark = (_MARKS[row["op"]] + numbers + "  ", _MARK_STYLES[row["op"]])
    line = row.get("line") or 0
    yield Line(1, (mark, *_step_parts(agent[side][row[side]], line)))
    if row["op"] == CHANGED:
        yield Line(2, (("B: ", "bold"), *_result_parts(agent["b"][row["b"]], line)))


def _step_parts(step: _Obj, line: int = 0) -> tuple[tuple[str, str], ...]:
    if step["kind"] == "message":
        return (
            (f"{step['name']}: ", "bold"),
            (clip(step["text"], False, lines=1, chars=_SHOWN_CHARS), ""),
        )
    if step["kind"] == "item":  # the model's own action, words as ``show`` prints them
        return (
            (clip(step["text"], False, lines=1, chars=_SHOWN_CHARS) + " · ", "cyan"),
            *_result_parts(step),
        )
    return (
        ("⚙ ", "yellow"),
        (f"{step_name(step)} ", "bold yellow"),
        (clip(step["text"], False, lines=1, chars=_SHOWN_CHARS) + " · ", "dim"),
        *_result_parts(step, line),
    )


def _result_parts(step: _Obj, line: int = 0) -> tuple[tuple[str, str], ...]:
    """A step's status and the first line of its output, or of the part from ``line`` on
    (where two outputs of the same call part ways), said as ``(line N)``."""
    status = str(step["status"])
    text = str(step["output"])
    if line and line < text.count("\n") + 1:
        text = f"(line {line + 1}) " + text.split("\n", line)[line]
    output = clip(text, False, lines=1, chars=_SHOWN_CHARS) if step["output"] else ""
    output = output or str(step.get("output_unknown") or "")
    return ((status, status_style(step["status"])), (f" → {output}" if output else "", ""))
