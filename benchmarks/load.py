"""Load: many tasks recording at once, with the default policy (nothing may be lost).

    python benchmarks/load.py [--tasks 1000] [--events 1000] [--threads 50]
                              [--backend asyncio|trio] [--overflow wait|drop]
                              [--budget BYTES] [--json]

Every task records ``--events`` point events on a turn of its own thread (``accept_item_id``,
with a checkpoint between calls) and a tool call every ``TOOL_EVERY`` events (its
``async with`` is where producers wait for the writer); ``--threads`` of the threads are spawned
sub-agents with their own turns. Prints what was lost (from the bundle and from the writer's
counters), whether seqs are strictly increasing, the wall time, the peak RSS of the process
(``ru_maxrss``) next to the RSS before recording, and the memory bound the writer promises
(``2 × max_queued_bytes`` of queue plus what the caller's own values hold).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rollout_trace_sdk.record import AgentThread, open_rollout
from rollout_trace_sdk.record import writer as _writer

#: how far sync calls may overdraw the budget (1 before the hard cap existed)
HARD_CAP_FACTOR: int = getattr(_writer, "HARD_CAP_FACTOR", 1)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


#: every this many point events a task makes a tool call (an ``async with``: back-pressure)
TOOL_EVERY = 10


async def _task(thread: AgentThread, n: int, events: int) -> None:
    async with thread.turn() as turn:
        async with turn.inference([]) as call:
            call.completed(response_id=f"r{n}", output_items=[])
        for k in range(events):
            if k % TOOL_EVERY == 0:
                async with turn.tool_call(f"c{n}-{k}", "lookup", arguments={"k": k}) as tool:
                    tool.runtime_started({"k": k})
                    await anyio.lowlevel.checkpoint()
            turn.accept_item_id(f"i{n}-{k}")
            await anyio.lowlevel.checkpoint()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="load-"))
    rss_before = _rss_mb()
    started = time.perf_counter()
    kwargs: dict[str, Any] = {"overflow": args.overflow}
    if args.budget:
        kwargs["max_queued_bytes"] = args.budget
    async with open_rollout(root, **kwargs) as rollout:
        threads = [rollout.root]
        for k in range(max(args.threads - 1, 0)):
            threads.append(rollout.root.spawn(f"sub{k}"))
        async with anyio.create_task_group() as tg:
            for n in range(args.tasks):
                tg.start_soon(_task, threads[n % len(threads)], n, args.events)
        for thread in threads[1:]:
            thread.end()
    elapsed = time.perf_counter() - started
    peak_rss = _rss_mb()  # before reading the bundle back (that costs memory of its own)
    stats = rollout.stats
    assert stats is not None and rollout.bundle_dir is not None
    lines = (rollout.bundle_dir / "trace.jsonl").read_bytes().splitlines()
    seqs = [orjson.loads(line)["seq"] for line in lines]
    accepted = sum(1 for line in lines if b'"item_id":"i' in line)
    tools = sum(1 for line in lines if b'"tool_call_ended"' in line)
    expected = args.tasks * args.events
    budget = stats.max_queued_bytes
    return {
        "tasks": args.tasks,
        "events_per_task": args.events,
        "threads": args.threads,
        "overflow": args.overflow,
        "expected_point_events": expected,
        "written_point_events": accepted,
        "lost_point_events": expected - accepted,
        "tool_calls_ended": tools,
        "tool_calls_expected": args.tasks * -(-args.events // TOOL_EVERY),
        "events_dropped": stats.events_dropped,
        "payloads_dropped": stats.payloads_dropped,
        "seq_strictly_increasing": seqs == list(range(1, len(seqs) + 1)),
        "recording_completed": bool(lines) and b'"recording_completed"' in lines[-1],
        "lines": len(lines),
        "seconds": round(elapsed, 2),
        "events_per_s": round(len(lines) / elapsed),
        "rss_before_mb": round(rss_before, 1),
        "peak_rss_mb": round(peak_rss, 1),
        "queue_bound_mb": round(budget * HARD_CAP_FACTOR / 2**20, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--backend", default="asyncio", choices=["asyncio", "trio"])
    parser.add_argument("--overflow", default="wait", choices=["wait", "drop"])
    parser.add_argument("--budget", type=int, default=0, help="max_queued_bytes (0: default)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = anyio.run(run, args, backend=args.backend)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:26} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
