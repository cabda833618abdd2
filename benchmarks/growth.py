"""What the recorder does not bound: the two figures docs/guarantees.md gives for it.

    python benchmarks/growth.py [--turns 30000] [--big-mb 100] [--backend asyncio|trio]
                                [--schema 2|3] [--json]

* ``rss_kb_per_turn`` ("No silent loss; bounded memory"): the queue is bounded, but an open
  rollout keeps the ids it links what it records by (turn and call ids, each thread's call-id
  table, history item ids, schema 3's content keys). One rollout with a 4 MiB queue budget
  records ``--turns`` turns, each: a user message accepted, an inference resending the last 40
  history items and asking for a tool call, the tool call with a terminal, a second inference
  answering (reasoning and a message): 5 new items a turn. The process's resident set size
  (``/proc/self/statm``, not the peak) is read after the first tenth of the turns (the
  baseline: allocator and caches warm) and after the last; the growth between them divided
  by the turns between them is the figure, next to the events a turn writes. The loop keeps
  the last 40 items it resends and no more (until session 25 it kept its whole history, ~1.5
  KB a turn counted as the recorder's).
* ``gc_us_per_turn_early`` / ``gc_us_per_turn_late``: the garbage collector's time a turn
  (``gc.callbacks``) in the second tenth of the turns and in the last: what the rollout keeps
  must not make collections dearer as it grows (it did until session 25).
* ``big_output_call_ms`` / ``big_output_stall_s`` ("Known limits"): one ``tool.completed``
  of a ``--big-mb`` MB tool output: how long the call takes, and the event loop's longest
  stall (a task sleeping 1 ms at a time) from the call until the writer has written it
  (escaping, compressing and hashing run in the worker thread, which takes the GIL), next
  to the same ticker's longest stall with nothing recorded and to ``orjson.dumps`` of the
  item, in the same run.

Both schemas, each in a child process of its own, unless ``--schema`` says one. The figures depend on the machine and its load:
read the baseline printed beside each.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rollout_trace_sdk.record import open_rollout

_PAGE = os.sysconf("SC_PAGE_SIZE")
#: the history window each inference resends
WINDOW = 40


class _Collector:
    """Time the garbage collector spends in the windows named by :meth:`window` (``gc.callbacks``):
    what a rollout keeps must not make collections dearer as it grows."""

    def __init__(self) -> None:
        self.spent = {"early": 0.0, "late": 0.0}
        self._window: str | None = None
        self._started = 0.0
        gc.callbacks.append(self._note)

    def window(self, name: str | None) -> None:
        self._window = name

    def stop(self) -> None:
        gc.callbacks.remove(self._note)

    def _note(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._window is not None:
            self.spent[self._window] += time.perf_counter() - self._started


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


def _message(role: str, text: str) -> dict[str, Any]:
    kind = "output_text" if role == "assistant" else "input_text"
    return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}


async def _long_rollout(root: Path, turns: int, schema: int) -> dict[str, Any]:
    warm = max(turns // 10, 1)
    baseline = 0
    collector = _Collector()
    async with open_rollout(
        root, model="m", schema_version=schema, max_queued_bytes=4 << 20
    ) as rollout:
        history: list[Any] = [_message("developer", "Be brief.")]
        for n in range(turns):
            if n == warm:
                await rollout.flush()
                baseline = _rss_bytes()
                collector.window("early")
            elif n == 2 * warm:
                collector.window(None)
            elif n == turns - warm:
                collector.window("late")
            async with rollout.root.turn() as turn:
                history += turn.accept(_message("user", f"step {n}: list the files"))
                call_id = f"call_{n}"
                args = json.dumps({"cmd": f"ls /tmp/{n}"})
                async with turn.inference({"model": "m", "input": history[-WINDOW:]}) as call:
                    ask = {"type": "function_call", "name": "exec_command", "call_id": call_id}
                    history += call.completed(output_items=[{**ask, "arguments": args}])
                async with turn.tool_call(call_id, "exec_command", arguments=args) as tool:
                    session = tool.exec_started(["ls", f"/tmp/{n}"], process_id=1000 + n)
                    session.exited(0, f"file_{n}.txt\n")
                    output = {"type": "function_call_output", "call_id": call_id}
                    history.append(tool.completed({**output, "output": f"file_{n}.txt"}))
                async with turn.inference({"model": "m", "input": history[-WINDOW:]}) as call:
                    thought = {"type": "reasoning", "summary": [], "encrypted_content": f"e{n}"}
                    answer = _message("assistant", f"step {n} has one file")
                    history += call.completed(output_items=[thought, answer])
            # the loop keeps what it resends, no more: its own list would count as ours
            del history[:-WINDOW]
        await rollout.flush()
        grown = _rss_bytes() - baseline
        collector.stop()
    assert rollout.bundle_dir is not None and rollout.stats is not None
    events = (rollout.bundle_dir / "trace.jsonl").read_bytes().count(b"\n")
    return {
        "turns": turns,
        "events": events,
        "lost": rollout.stats.events_dropped + rollout.stats.payloads_dropped,
        "rss_kb_per_turn": round(grown / (turns - warm) / 1024, 2),
        "bytes_per_event": round(grown / max((turns - warm) * events / turns, 1)),
        "rss_mb_at_end": round(_rss_bytes() / 2**20, 1),
        "gc_us_per_turn_early": round(collector.spent["early"] / warm * 1e6, 1),
        "gc_us_per_turn_late": round(collector.spent["late"] / warm * 1e6, 1),
    }


async def _big_output(root: Path, megabytes: int, schema: int) -> dict[str, Any]:
    item = {"type": "function_call_output", "call_id": "c1", "output": "x" * (megabytes << 20)}
    started = time.perf_counter()
    orjson.dumps(item)
    dumps = time.perf_counter() - started
    stalls = [0.0]
    done = anyio.Event()

    async def ticker() -> None:  # the loop's longest wait between 1 ms sleeps, less the 1 ms
        last = time.perf_counter()
        while not done.is_set():
            await anyio.sleep(0.001)
            now = time.perf_counter()
            stalls.append(now - last - 0.001)
            last = now

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        await anyio.sleep(0.05)
        idle = max(stalls)  # the baseline: the same ticker with nothing recorded
        stalls[:] = [0.0]
        async with (
            open_rollout(root, model="m", schema_version=schema) as rollout,
            rollout.root.turn() as turn,
            turn.tool_call("c1", "f", arguments="{}") as tool,
        ):
            started = time.perf_counter()
            tool.completed(item)
            held = time.perf_counter() - started
            await rollout.flush()
        done.set()
    return {
        "big_output_call_ms": round(held * 1000, 2),
        "big_output_stall_s": round(max(stalls), 3),
        "idle_stall_s": round(idle, 3),
        "orjson_dumps_s": round(dumps, 3),
    }


async def _one_schema(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="growth-") as root:
        return {
            **await _long_rollout(Path(root, "long"), args.turns, args.schema),
            **await _big_output(Path(root, "big"), args.big_mb, args.schema),
        }


def _in_child(args: argparse.Namespace, schema: int) -> dict[str, Any]:
    """One schema in a fresh process: the second would reuse the memory the first freed."""
    argv = [sys.executable, __file__, "--schema", str(schema), "--json"]
    argv += ["--turns", str(args.turns), "--big-mb", str(args.big_mb), "--backend", args.backend]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    figures: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])[f"schema{schema}"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=30_000)
    parser.add_argument("--big-mb", type=int, default=100)
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="trio")
    parser.add_argument("--schema", type=int, choices=[2, 3])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.turns < 2:
        parser.error("--turns must be 2 or more")
    figures: dict[str, Any] = {"backend": args.backend, "turns": args.turns}
    if args.schema:
        figures[f"schema{args.schema}"] = anyio.run(_one_schema, args, backend=args.backend)
    else:
        for schema in (2, 3):
            figures[f"schema{schema}"] = _in_child(args, schema)
    if args.json:
        print(json.dumps(figures))
        return
    for schema in (2, 3):
        f = figures.get(f"schema{schema}")
        if f is None:
            continue
        print(
            f"schema {schema}: {f['turns']:,} turns, {f['events']:,} events, {f['lost']} lost; "
            f"RSS +{f['rss_kb_per_turn']} KB a turn (~{f['bytes_per_event']} bytes an event), "
            f"{f['rss_mb_at_end']} MB at the end; garbage collection "
            f"{f['gc_us_per_turn_early']} µs a turn in the second tenth of the turns, "
            f"{f['gc_us_per_turn_late']} µs in the last; a {args.big_mb} MB tool output: "
            f"tool.completed {f['big_output_call_ms']} ms, the loop's longest stall while it "
            f"was written {f['big_output_stall_s']} s (idle {f['idle_stall_s']} s; "
            f"orjson.dumps of it: {f['orjson_dumps_s']} s)"
        )


if __name__ == "__main__":
    main()
