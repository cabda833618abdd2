"""Crash-cut bundles, every way a crash can leave one: the log cut at every line boundary (or a
sample of them in a long log), torn at a random byte inside a line (the line kept without its
newline too), and, with the log whole or cut, a schema-3 shard or a schema-2 payload file cut
at a random byte. ``tests/killed_checks.py``'s ``tear`` cuts near the end, as a kill does;
these cut anywhere, so that every event is once the last one a reducer reads.

:func:`check_cut` judges one cut: our strict reduction agrees with the Codex of its schema (the
same bytes, or the same refusal); ``reduce --lenient`` ends cleanly, and when it reaches a state
its threads, turns, inferences and tool calls are a prefix of the whole bundle's
(:func:`prefix_problem`).
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from rollout_trace_sdk.reduce import reduce_bundle, state_bytes
from rollout_trace_sdk.testing import reduce_and_compare
from tests.hostile import run_in_process, verdict
from tests.killed_checks import agrees

#: a cut: (name of its kind, what it did, a function laying the cut bundle out at a path)
Cut = tuple[str, str, "Cutter"]


class Cutter:
    """Lays out ``base`` with its log cut at ``log_at`` bytes (None: whole) and one payload
    file (a path inside the bundle) cut at ``file_at`` bytes."""

    def __init__(
        self, base: Path, log_at: int | None, file: str | None = None, file_at: int = 0
    ) -> None:
        self.base, self.log_at, self.file, self.file_at = base, log_at, file, file_at

    def lay_out(self, target: Path) -> Path:
        shutil.copytree(self.base, target)
        if self.log_at is not None:
            log = target / "trace.jsonl"
            log.write_bytes(log.read_bytes()[: self.log_at])
        if self.file is not None:
            victim = target / self.file
            victim.write_bytes(victim.read_bytes()[: self.file_at])
        return target


def _payload_files(base: Path) -> list[str]:
    return sorted(str(p.relative_to(base)) for p in (base / "payloads").glob("*") if p.is_file())


def cuts(base: Path, rng: random.Random, most_lines: int, torn: int) -> Iterator[Cut]:
    """The cuts of ``base``: every line boundary (``most_lines`` of them at most, drawn), then
    ``torn`` lines torn inside and ``torn`` payload files cut (half with the log cut too)."""
    data = (base / "trace.jsonl").read_bytes()
    ends = [0] + [i + 1 for i, byte in enumerate(data) if byte == 0x0A]
    bounds = ends[:-1] if ends[-1] == len(data) else ends
    if len(bounds) > most_lines:
        bounds = sorted(rng.sample(bounds, most_lines))
    for at in bounds:
        yield "line boundary", f"log cut at {at} of {len(data)}", Cutter(base, at)
    lines = [(ends[i], ends[i + 1]) for i in range(len(ends) - 1)]
    for _ in range(torn if lines else 0):
        start, end = rng.choice(lines)
        at = end - 1 if rng.random() < 0.2 else rng.randrange(start + 1, end)
        yield "torn line", f"log cut at {at} of {len(data)}", Cutter(base, at)
    files = _payload_files(base)
    for _ in range(torn if files else 0):
        file = rng.choice(files)
        size = (base / file).stat().st_size
        file_at = rng.randrange(size) if size else 0
        log_at = rng.choice(ends) if rng.random() < 0.5 else None
        kind = "shard cut" if file.endswith(".zst") else "payload file cut"
        shown = f"{file} cut at {file_at} of {size}, log cut at {log_at}"
        yield kind, shown, Cutter(base, log_at, file, file_at)


def _by_seq(table: dict[str, Any], thread: str) -> list[str]:
    rows = [row for row in table.values() if row.get("thread_id") == thread]
    return [row.get("codex_turn_id") for row in sorted(rows, key=_started)]


def _started(row: dict[str, Any]) -> int:
    seq = row.get("execution", {}).get("started_seq")
    return seq if isinstance(seq, int) else -1


def prefix_problem(cut: dict[str, Any], whole: dict[str, Any]) -> str | None:
    """Why ``cut``'s state is not a prefix of ``whole``'s, or None: its threads, inferences and
    tool calls are among the whole's, and each thread's turns, by start, are the first of the
    whole's turns of that thread (started at the same seq)."""
    for table in ("threads", "codex_turns", "inference_calls", "tool_calls"):
        extra = set(cut[table]) - set(whole[table])
        if extra:
            return f"{table} not in the whole bundle's: {sorted(extra)[:3]}"
    for thread in cut["threads"]:
        mine, theirs = _by_seq(cut["codex_turns"], thread), _by_seq(whole["codex_turns"], thread)
        if mine != theirs[: len(mine)]:
            return f"thread {thread}'s turns {mine} are not a prefix of {theirs}"
        for turn in mine:
            if _started(cut["codex_turns"][turn]) != _started(whole["codex_turns"][turn]):
                return f"turn {turn} started at another seq"
    return None


def check_cut(cut: Path, codex: str, whole: dict[str, Any], tally: dict[str, int]) -> str | None:
    """What is wrong with the cut bundle ``cut`` (see the module's docstring), or None;
    ``tally`` counts the strict and lenient outcomes."""
    result = reduce_and_compare(cut, codex, timeout=60)
    if not agrees(result):
        return f"strict: {result.explain()}"
    strict = "state" if result.error is None else "refused alike"
    tally[f"strict {strict}"] = tally.get(f"strict {strict}", 0) + 1
    out = cut.parent / f"{cut.name}-lenient.json"
    code, text = run_in_process(["reduce", "--lenient", str(cut), "-o", str(out)], 60)
    broken = verdict(code, text)
    if broken is not None:
        return f"reduce --lenient: {broken}: {text[-1500:]}"
    if code != 0:
        tally["lenient refused"] = tally.get("lenient refused", 0) + 1
        if result.error is None:
            return f"reduce --lenient refused what strict reduces: {text[-1500:]}"
        return None
    tally["lenient state"] = tally.get("lenient state", 0) + 1
    state = orjson.loads(out.read_bytes())
    out.unlink()
    problem = prefix_problem(state, whole)
    if problem is None and result.ours is not None and result.ours != orjson.dumps(state):
        # strict reached a state: lenient skips nothing, so it must be the same state
        strict_state = orjson.loads(result.ours)
        if strict_state != state:
            problem = "lenient's state differs from the strict one's"
    return None if problem is None else f"lenient: {problem}"


def check_some_cuts(
    bundle: Path, codex: str, rng: random.Random, scratch: Path, lines: int = 6, torn: int = 3
) -> list[str]:
    """A few cuts of ``bundle`` (one whose strict reduction reaches a state), each judged by
    :func:`check_cut`: the crash-cut differential applied to bundles made elsewhere (Codex
    under capture limits, our recorder under them). Returns what went wrong."""
    whole = orjson.loads(state_bytes(reduce_bundle(bundle)))
    problems = []
    for number, (kind, shown, cutter) in enumerate(cuts(bundle, rng, lines, torn)):
        cut = cutter.lay_out(scratch / f"cut{number}")
        problem = check_cut(cut, codex, whole, {})
        if problem is not None:
            problems.append(f"{kind}, {shown}: {problem}")
        shutil.rmtree(cut)
    return problems
