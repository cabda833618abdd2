"""How ``rollout-trace diff`` aligns one agent's steps in two rollouts (``view/diff.py``).

Apart from ``diff.py``, which reads each agent's steps out of the view model and pairs the
agents of two rollouts: this is only sequences of steps, what two steps are compared on and
how two runs of them line up, bounded on long agents (an agent polling one command 15,000
times); its tests give it steps made by hand.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

_Obj = Mapping[str, Any]

#: The alignment of each agent's steps: steps alike, a step of each side where they differ
#: (``diff_text`` marks them).
SAME, CHANGED, ONLY_A, ONLY_B = "same", "changed", "only_a", "only_b"


def step_name(step: _Obj) -> str:
    """A step's name as compared and shown: a tool call's with the agent it went to
    (``spawn_agent → /root/writer``, as ``show`` prints it)."""
    target = step.get("target")
    return f"{step['name']} → {target}" if target else str(step["name"])


class Compare:
    """What two steps are compared on: the action (kind, name, arguments or text) and, unless
    ``results`` is off, the result (status and output), with the parts ``ignore`` matches
    masked (a process id, a timestamp, a temporary path: what differs between two runs of the
    same thing)."""

    def __init__(self, ignore: Sequence[re.Pattern[str]], *, results: bool) -> None:
        self.ignore = ignore
        self.results = results

    def _masked(self, text: str) -> str:
        for pattern in self.ignore:
            text = pattern.sub("…", text)
        return text

    def task(self, text: str | None) -> str | None:
        return None if text is None else self._masked(text)

    def action(self, step: _Obj) -> tuple[str, str, str]:
        return (step["kind"], step_name(step), self._masked(step["text"]))

    def other_line(self, a: _Obj, b: _Obj) -> int:
        """The first line (from 0) where two outputs differ once masked: where ``diff``
        shows them from. Codex's outputs start alike-looking (``Chunk ID: 9f9426``, ``Wall
        time: …``), so their first lines, cut, read the same on both sides."""
        lines_a = self._masked(a["output"]).split("\n")
        lines_b = self._masked(b["output"]).split("\n")
        pairs = zip(lines_a, lines_b, strict=False)
        return next((k for k, (x, y) in enumerate(pairs) if x != y), 0)

    def same_result(self, a: _Obj, b: _Obj) -> bool:
        """Whether two steps got the same result; an output a capture limit cut or left out
        on either side is not known (``output_unknown``): only the statuses are compared
        (one run recorded under ``max_payload_bytes`` read as every call answered otherwise)."""
        if not self.results:
            return True
        if a["status"] != b["status"]:
            return False
        if a.get("output_unknown") or b.get("output_unknown"):
            return True
        return self._masked(a["output"]) == self._masked(b["output"])


#: The most cells (A's steps times B's, the steps alike at both ends set aside) aligned
#: exactly. ``SequenceMatcher`` is quadratic on steps repeated many times (an agent polling
#: one command): 5,000 steps a side took 2-8 s, 15,000 34 s. Past this (~1 s at most), the
#: steps that make up over 1% of B's are junk to it, anchoring no alignment of their own,
#: and the steps between its anchors are walked in step (``_lockstep``).
_EXACT_CELLS: Final = 4_000_000


def aligned(a: Sequence[_Obj], b: Sequence[_Obj], compare: Compare) -> list[dict[str, Any]]:
    """Each step of both sides once, in order: ``same`` and ``changed`` pair a step of each
    (the same action; ``changed``: another result), ``only_a``/``only_b`` stand alone. Where
    a run of steps was replaced by another, A's come first, as ``diff`` prints them. The
    steps alike from the first and from the last are aligned as they are, the rest by
    :class:`difflib.SequenceMatcher` (bounded by ``_EXACT_CELLS``)."""
    # each distinct action as a small int: the matcher hashes every element many times, and
    # a tuple of long strings hashes anew each time (a 2,800-step agent: 3x faster)
    codes: dict[tuple[str, str, str], int] = {}
    keys_a = [codes.setdefault(compare.action(s), len(codes)) for s in a]
    keys_b = [codes.setdefault(compare.action(s), len(codes)) for s in b]
    both = min(len(a), len(b))
    head = next((k for k in range(both) if keys_a[k] != keys_b[k]), both)
    tail = next((k for k in range(both - head) if keys_a[-1 - k] != keys_b[-1 - k]), both - head)
    end_a, end_b = len(a) - tail, len(b) - tail
    middle_a, middle_b = keys_a[head:end_a], keys_b[head:end_b]
    exact = len(middle_a) * len(middle_b) <= _EXACT_CELLS
    matcher = difflib.SequenceMatcher(None, middle_a, middle_b, autojunk=not exact)
    opcodes: list[tuple[str, int, int, int, int]] = [("equal", 0, head, 0, head)]
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal" or exact:
            opcodes.append((op, head + a0, head + a1, head + b0, head + b1))
        else:  # between the steps the junk matcher anchored: its popular steps, in step
            opcodes += _lockstep(middle_a, middle_b, (a0, a1, b0, b1), head)
    opcodes.append(("equal", end_a, len(a), end_b, len(b)))
    rows: list[dict[str, Any]] = []
    for tag, a0, a1, b0, b1 in opcodes:
        if tag == "equal":
            for i, j in zip(range(a0, a1), range(b0, b1), strict=True):
                if compare.same_result(a[i], b[j]):
                    rows.append({"op": SAME, "a": i, "b": j})
                else:
                    line = compare.other_line(a[i], b[j])
                    rows.append({"op": CHANGED, "a": i, "b": j, "line": line})
            continue
        rows += [{"op": ONLY_A, "a": i, "b": None} for i in range(a0, a1)]
        rows += [{"op": ONLY_B, "a": None, "b": j} for j in range(b0, b1)]
    return rows


#: How far apart (steps of A and of B together) ``_lockstep`` looks for the two sides' next
#: step alike when they differ.
_RESYNC: Final = 16


def _lockstep(
    keys_a: Sequence[int], keys_b: Sequence[int], span: tuple[int, int, int, int], offset: int
) -> list[tuple[str, int, int, int, int]]:
    """Opcodes for ``keys_a[a0:a1]`` against ``keys_b[b0:b1]`` (``span``) in linear time, for
    the part of a long alignment the junk matcher left between its anchors (steps repeated
    all along: a poll, a sleep): the two sides walked together, a step of each alike paired,
    else the nearest pair alike within ``_RESYNC`` steps is where they go on together (what
    is passed over is each side's alone). Indexes shifted by ``offset``."""
    a0, a1, b0, b1 = span
    out: list[tuple[str, int, int, int, int]] = []
    i, j = a0, b0
    while i < a1 and j < b1:
        if keys_a[i] == keys_b[j]:
            out.append(("equal", offset + i, offset + i + 1, offset + j, offset + j + 1))
            i, j = i + 1, j + 1
            continue
        x, y = next(
            (
                (x, d - x)
                for d in range(1, _RESYNC + 1)
                for x in range(d + 1)
                if i + x < a1 and j + d - x < b1 and keys_a[i + x] == keys_b[j + d - x]
            ),
            (1, 1),  # none near: one step of each, each alone
        )
        out.append(("replace", offset + i, offset + i + x, offset + j, offset + j + y))
        i, j = i + x, j + y
    out.append(("replace", offset + i, offset + a1, offset + j, offset + b1))
    return out


def mark_moved(
    rows: list[dict[str, Any]], a: Sequence[_Obj], b: Sequence[_Obj], compare: Compare
) -> None:
    """Give a step one side took alone the same step the other side took alone elsewhere
    (``moved``: its index on the other side): two sub-agents spawned in the other order, two
    tool calls swapped. The alignment keeps one in place and leaves the other out on both
    sides, which reads as a step dropped and one added unless the text says it moved."""
    waiting: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if row["op"] == ONLY_B:
            waiting.setdefault(compare.action(b[row["b"]]), []).append(row)
    for row in rows:
        if row["op"] != ONLY_A:
            continue
        others = waiting.get(compare.action(a[row["a"]]))
        if others:
            other = others.pop(0)
            row["moved"] = other["b"]
            other["moved"] = row["a"]
