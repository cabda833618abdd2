"""What one tool call costs in instructions (valgrind's callgrind), not in time.

    python benchmarks/instructions.py [--quick] [--calls] [--base REV] [--json]

Why a count: this machine (a VM on two shared cores) runs at two speeds minutes apart, the
floor below 1.8 µs in one and 3.4-4.1 µs in the other, so a wall-clock A/B of a change worth
a few per cent needs dozens of alternating runs and still misleads (session 31 saw a 6 %
"slowdown" between two trees whose tool calls, counted here, differ by 0.1 %). The
instructions a process retires are the same from run to run, whatever the machine's state
and load: a change to the hot path shows as its count. A count is not time (a cache miss
costs more than an add), so the targets stay in µs, in ``tool_calls.py``.

Figures, each counted over the whole process (the event loop and the writer thread: the
encoding, redaction, compression and writes of ``tool_call_cpu_us``):

* ``tool_call_instructions``: one full tool call through the recorder (``async with
  turn.tool_call(...)`` + ``tool.completed(output)``, a distinct 200-character output each,
  as ``tool_calls.py`` makes them), redaction on; ``_noredact``: off (not with ``--quick``).
* ``floor_instructions``: the same calls through ``tool_calls._Floor``, the least a Python
  recorder can do and keep what it is given: the baseline of the same run.
* ``base_tool_call_instructions`` (``--base REV``): the tool call on commit ``REV`` (checked
  out in a temporary git worktree and imported from there), the A/B in one run.
* ``calls_instructions`` (``--calls``; ``base_calls_instructions`` with ``--base``): the calls
  alone, on the loop's thread: callgrind collects only while they run (driven in chunks of
  100 inside ``functools.reduce``, its collection toggled on that function), not while the
  flush encodes their lines, nor in the writer's thread. The writer's batching and the
  collector's timing move the whole-process figures by ~5 % from run to run; this one moves
  by ~0.01 %, so a change to the call path worth 1 % shows (one run of each tree is enough).

How: a child process warms up (``WARM`` calls, then a flush), makes N calls and flushes;
run at two N under callgrind, the difference of the totals over the difference of the N is
the cost of one call, the interpreter's start, the imports and the warm-up cancelled out.
Valgrind runs the child ~50x slower: ~20-40 s a run.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WARM = 1_000
#: ``calls`` mode: the tool calls counted between two flushes (see ``calls_instructions``)
_CHUNK = 100
_TOTALS = re.compile(rb"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


def _child(mode: str, n: int) -> None:
    """The measured process: ``WARM`` warm-up calls, a flush, ``n`` calls, a flush."""
    import anyio

    # the package first, from PYTHONPATH (this tree or ``--base``'s): the benchmark modules
    # then put this tree on sys.path, and would import its copy instead
    from rollout_trace_sdk.record import open_rollout

    sys.path.insert(0, str(ROOT))
    from benchmarks.tool_calls import ARGS, _Floor, _output

    async def floor() -> None:
        recorder = _Floor()
        gc.collect()
        gc.freeze()
        for i in range(WARM + n):
            async with recorder.tool_call(f"call_{i}", "exec_command", arguments=ARGS) as tool:
                tool.completed(_output(i, 200))
            if len(recorder.queue) > 3000:
                recorder.queue.clear()

    @contextlib.asynccontextmanager
    async def warmed(redact: bool) -> AsyncIterator[tuple[Any, Any]]:
        """A rollout and its turn, after ``WARM`` tool calls and a flush."""
        with tempfile.TemporaryDirectory() as tmp:
            async with (
                open_rollout(tmp, schema_version=3, redact=redact) as rollout,
                rollout.root.turn() as turn,
            ):
                for i in range(WARM):
                    async with turn.tool_call(f"w_{i}", "exec_command", arguments=ARGS) as tool:
                        tool.completed(_output(i, 200, f"w_{i}"))
                await rollout.flush()
                yield rollout, turn

    async def record(redact: bool) -> None:
        async with warmed(redact) as (rollout, turn):
            # the start-up heap (modules, the warm-up's garbage) out of every later
            # collection: a full one over it, in one run and not the other (the writer
            # thread's timing moves when they come), is millions of instructions
            gc.collect()
            gc.freeze()
            for i in range(n):
                async with turn.tool_call(f"c_{i}", "exec_command", arguments=ARGS) as tool:
                    tool.completed(_output(i, 200, f"c_{i}"))
            await rollout.flush()

    async def calls() -> None:
        async with warmed(True) as (rollout, turn):
            outputs = [_output(i, 200, f"c_{i}") for i in range(n)]  # made uncounted
            gc.collect()
            gc.freeze()

            async def one_call(i: int) -> None:
                async with turn.tool_call(f"c_{i}", "exec_command", arguments=ARGS) as tool:
                    tool.completed(outputs[i])

            def step(_: None, i: int) -> None:
                # run to its end without the loop: a call that waits for the writer
                # (its queue over a batch) would be counted in part; none does, 100 at a
                # time with a flush between
                try:
                    one_call(i).send(None)
                except StopIteration:
                    return
                raise SystemExit("instructions.py: a counted tool call waited")

            for start in range(0, n, _CHUNK):
                functools.reduce(step, range(start, min(n, start + _CHUNK)), None)
                await rollout.flush()

    if mode == "floor":
        anyio.run(floor)
    elif mode == "calls":
        anyio.run(calls)
    else:
        anyio.run(record, mode == "recorder")


def _count(mode: str, n: int, tree: Path) -> tuple[int, int]:
    """Instructions retired by a child process of ``mode`` making ``n`` calls, importing
    ``rollout_trace_sdk`` from ``tree``: on its main thread (the event loop's) and in all."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PYTHONPATH"] = str(tree)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONHASHSEED"] = "0"  # the same dict and set layouts in every run
        probe = "import rollout_trace_sdk; print(rollout_trace_sdk.__file__)"
        where = subprocess.run(
            [sys.executable, "-c", probe],
            env=env,
            cwd=tmp,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if not where.startswith(str(tree)):
            raise SystemExit(f"instructions.py: {tree} does not provide rollout_trace_sdk")
        valgrind = ["valgrind", "--tool=callgrind", "--separate-threads=yes"]
        if mode == "calls":  # counted only inside functools.reduce (see _child)
            valgrind += ["--collect-atstart=no", "--toggle-collect=functools_reduce"]
        command = [sys.executable, __file__, "--child", mode, str(n)]
        done = subprocess.run(
            [*valgrind, f"--callgrind-out-file={out}", *command],
            env=env,
            cwd=tmp,
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"instructions.py: the {mode} child failed:\n{done.stderr[-2000:]!r}")
        totals: dict[str, int] = {}
        for part in Path(tmp).glob("callgrind.out-*"):  # one file a thread: -01 is the main one
            found = _TOTALS.search(part.read_bytes())
            if found is None:
                raise SystemExit(f"instructions.py: no totals in callgrind's {part.name}")
            totals[part.name] = int(found.group(1))
        if "callgrind.out-01" not in totals:
            raise SystemExit("instructions.py: callgrind wrote no file for the main thread")
        return totals["callgrind.out-01"], sum(totals.values())


def per_call(mode: str, sizes: tuple[int, int], tree: Path = ROOT) -> tuple[float, float]:
    """Instructions of one call of ``mode``: the difference of two runs' totals.

    Args:
        mode: ``recorder`` (redaction on), ``recorder_noredact``, ``floor`` or ``calls``
            (the recorder's calls alone, see ``calls_instructions``).
        sizes: the two numbers of measured calls.
        tree: the source tree whose ``rollout_trace_sdk`` the child imports.

    Returns:
        The instructions one call adds on the event loop's thread, and to the process's total.
    """
    small, large = sizes
    (loop0, all0), (loop1, all1) = _count(mode, small, tree), _count(mode, large, tree)
    return (loop1 - loop0) / (large - small), (all1 - all0) / (large - small)


def _median(mode: str, sizes: tuple[int, int], runs: int, tree: Path = ROOT) -> dict[str, float]:
    """``runs`` measures of ``mode``: the medians, and the spread of the totals (the writer
    thread's batches, and with them the garbage collections, follow the OS's scheduling:
    ~1-2 % from run to run)."""
    measured = [per_call(mode, sizes, tree) for _ in range(runs)]
    totals = [total for _, total in measured]
    return {
        "loop": statistics.median(loop for loop, _ in measured),
        "all": statistics.median(totals),
        "spread": (max(totals) - min(totals)) / statistics.median(totals),
    }


def measure(
    quick: bool, base: str | None, runs: int, *, tiny: bool = False, calls: bool = False
) -> dict[str, float]:
    """The figures of the module docstring (``tiny``: a smoke-test size, one mode, one run;
    ``calls``: the calls alone, instead of the whole process's figures)."""
    # (tiny: a smoke test's size; its figure can be far off, even negative: what the writer's
    # batching moves between two runs outweighs a few hundred calls)
    sizes = (100, 500) if tiny else (500, 2_500) if quick else (1_000, 5_000)
    runs = 1 if tiny else runs
    results: dict[str, float] = {}

    def add(name: str, mode: str, tree: Path = ROOT) -> None:
        if calls:  # one run: it repeats to ~0.01 % (see the module docstring)
            results[name.replace("tool_call", "calls")] = per_call("calls", sizes, tree)[0]
            return
        figures = _median(mode, sizes, runs, tree)
        results[name] = figures["all"]
        results[f"{name}_loop"] = figures["loop"]
        results[f"{name}_spread"] = figures["spread"]

    add("tool_call_instructions", "recorder")
    if tiny:
        return results
    if not calls:
        add("floor_instructions", "floor")
    if not (quick or calls):
        add("tool_call_instructions_noredact", "recorder_noredact")
    if base is not None:
        with tempfile.TemporaryDirectory() as tmp:
            tree = Path(tmp) / "base"
            git = ["git", "-C", str(ROOT), "worktree"]
            subprocess.run([*git, "add", "--detach", "-q", str(tree), base], check=True)
            try:
                add("base_tool_call_instructions", "recorder", tree)
            finally:
                subprocess.run([*git, "remove", "--force", str(tree)], check=False)
    return results


def table(r: dict[str, float], base: str | None) -> str:
    """The figures as rows: per call in all, on the loop's thread, and the runs' spread (the
    calls alone: on the loop's thread only)."""
    if "calls_instructions" in r:
        rows = [f"{'the calls alone, per call':<32} {'on the loop':>12}"]
        for name in ("calls_instructions", "base_calls_instructions"):
            if name in r:
                rows.append(f"{name:<32} {r[name]:>12,.0f}")
        if "base_calls_instructions" in r:
            old = r["base_calls_instructions"]
            rows.append(f"this tree against {base}: {(r['calls_instructions'] - old) / old:+.2%}")
        return "\n".join(rows)
    rows = [f"{'per call':<32} {'in all':>10} {'on the loop':>12}  spread"]
    for name in (
        "tool_call_instructions",
        "tool_call_instructions_noredact",
        "floor_instructions",
        "base_tool_call_instructions",
    ):
        if name in r:
            rows.append(
                f"{name:<32} {r[name]:>10,.0f} {r[f'{name}_loop']:>12,.0f}  "
                f"{r[f'{name}_spread']:.1%}"
            )
    call = r["tool_call_instructions"]
    if "floor_instructions" in r:
        rows.append(f"a tool call is {call / r['floor_instructions']:.1f}x the floor")
    if "base_tool_call_instructions" in r:
        old = r["base_tool_call_instructions"]
        rows.append(f"this tree against {base}: {(call - old) / old:+.2%}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, redaction on only")
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base", metavar="REV", help="also count the tool call on commit REV")
    parser.add_argument(
        "--runs", type=int, default=3, help="measures of each figure, median kept (default 3)"
    )
    parser.add_argument(
        "--calls",
        action="store_true",
        help="count the calls alone, on the loop (not the flush): repeatable to ~0.01 %%",
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON object line")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child[0], int(args.child[1]))
        return 0
    if shutil.which("valgrind") is None:
        print("instructions.py: needs valgrind (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    results = measure(args.quick, args.base, max(1, args.runs), tiny=args.tiny, calls=args.calls)
    print(table(results, args.base))
    if args.json:
        print(json.dumps({k: round(v, 4) for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
