"""Our recorder next to its peers: the same workload, each peer in a fresh child process.

    python benchmarks/peers.py [--quick] [--json] [--runs N] [--peers ours,otel,...]

Peers (each optional one is skipped and marked "not installed" when its package is missing;
``pip install -e ".[peers]"`` installs them):

* ``ours``: :func:`rollout_trace_sdk.open_rollout` into a temporary directory (a real bundle
  on disk).
* ``otel``: the OpenTelemetry SDK, ``TracerProvider`` + ``BatchSpanProcessor`` (defaults)
  + a span exporter that only counts.
* ``agents_noop`` / ``agents_batch``: the OpenAI Agents SDK's ``agents.tracing`` inside a
  ``trace``, with (a) a processor that only counts, registered by ``set_trace_processors``,
  (b) ``BatchTraceProcessor`` (defaults) with an exporter that only counts. The default
  processors are replaced, so nothing is sent anywhere (and no API key is given).
* ``logging``: the standard library, a ``QueueHandler`` + ``QueueListener`` feeding a file
  handler that writes every record to a file and counts it.
* ``untraced``: the same loop recording nothing (the floor: the call of an empty function).

What one "event" and one "tool call" are for each (the same data for all):

* event: ours ``Turn.accept_item_id`` (one line in the log); a span started and ended with
  one attribute (OpenTelemetry; ``custom_span`` for the Agents SDK); one ``log.info``.
* tool call: ours ``async with turn.tool_call(...) as tool: tool.completed(result)`` (two
  payload files, three events); a span with start, end and the arguments and result as
  attributes (``function_span`` with input and output for the Agents SDK); two ``log.info``
  (started with the arguments, ended with the result). The result is ~1 KB of text.

Figures (each child measures every figure once; the parent runs ``--runs`` children per peer,
interleaved, and reports the median of each figure):

* ``event_p50_us`` / ``event_p99_us``, ``tool_p50_us`` / ``tool_p99_us``: the time one call
  takes in the agent's task (net of the timer's own cost), in batches after which the
  recorder may catch up (ours: ``flush``; the others: one trip through the loop).
* ``lag_p99_ms`` / ``lag_max_ms``: the scheduling lag of a ready task (the probe of
  benchmarks/run.py: wake at a random moment, time one trip through the scheduler) while the
  agent records a burst of tool calls whose results are ~100 KB of fresh text each, with
  ``await anyio.sleep(0)`` after each, and then while the recorder catches up.
* ``burst_tools_delivered``: how many of those tool calls reached the exporter or the disk.
* ``events_delivered`` / ``events_per_s``: a burst of point events (``await anyio.sleep(0)``
  every 100), then the recorder is closed; how many reached the exporter or the disk, and the
  rate from the first call until the last one was delivered.

Targets: our ``event_p50_us`` at most a fifth of the best peer's; our ``lag_p99_ms`` and
``lag_max_ms`` no worse than the best peer's. The peers' exporters do no work, while ours
writes JSON files to disk: a handicap for us, never for them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, Final

import anyio
import anyio.lowlevel
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# The peers, and the hot-path benchmark's helpers.
from benchmarks.peer_recorders import FACTORIES, MODULES, Peer
from benchmarks.run import _payload_100k, _quantile, _timer_cost_ns, pc

PEERS: Final = ("ours", "otel", "agents_noop", "agents_batch", "logging", "untraced")
#: The peers the targets compare us with (``untraced`` is the floor, not a peer).
RIVALS: Final = ("otel", "agents_noop", "agents_batch", "logging")
LABELS: Final = {
    "ours": "ours (rollout_trace_sdk)",
    "otel": "OpenTelemetry SDK (batch)",
    "agents_noop": "Agents SDK (no-op proc.)",
    "agents_batch": "Agents SDK (batch proc.)",
    "logging": "logging (QueueHandler)",
    "untraced": "untraced (floor)",
}
RESULT_1K: Final = ("def main() -> None:\n    print('hello, world')\n" * 24)[:1000]
#: ~100 KB of text: the hot-path benchmark's large request, as a tool would return it.
RESULT_100K: Final = orjson.dumps(_payload_100k()).decode()


# --- the workload (one child process, one peer) ------------------------------------------


@dataclasses.dataclass(frozen=True)
class Sizes:
    events: int
    tools: int
    burst: int
    drops: int


FULL: Final = Sizes(events=200_000, tools=20_000, burst=5_000, drops=100_000)
QUICK: Final = Sizes(events=20_000, tools=2_000, burst=500, drops=20_000)


def _summary(samples_ns: list[float], name: str) -> dict[str, float]:
    return {
        f"{name}_p50_us": statistics.median(samples_ns) / 1000,
        f"{name}_p99_us": _quantile(samples_ns, 0.99) / 1000,
    }


async def _event_costs(peer: Peer, n: int, timer: float) -> dict[str, float]:
    samples: list[float] = []
    async with peer() as rec:
        event = rec.event
        for batch in range(n // 1000):
            for i in range(batch * 1000, batch * 1000 + 1000):
                t0 = pc()
                event(i)
                samples.append(pc() - t0 - timer)
            await rec.settle()
    return _summary(samples, "event")


async def _tool_costs(peer: Peer, n: int, timer: float) -> dict[str, float]:
    samples: list[float] = []
    async with peer() as rec:
        tool_call = rec.tool_call
        for batch in range(n // 100):
            for i in range(batch * 100, batch * 100 + 100):
                t0 = pc()
                await tool_call(i, RESULT_1K)
                samples.append(pc() - t0 - timer)
            await rec.settle()
    return _summary(samples, "tool")


async def _lag_burst(peer: Peer, n: int) -> dict[str, float]:
    """Tool calls with ~100 KB results, one trip through the loop after each, while a probe
    measures how long a ready task waits for the loop."""
    lags: list[float] = []
    done = anyio.Event()

    async def probe() -> None:
        rng = random.Random(7)
        while not done.is_set():
            await anyio.sleep(rng.uniform(0.05, 0.25) / 1000)
            t0 = pc()
            await anyio.lowlevel.checkpoint()
            lags.append((pc() - t0) / 1e6)

    async with peer() as rec, anyio.create_task_group() as tg:
        tg.start_soon(probe)
        for i in range(n):
            # fresh text each time, as a tool's output is (the same cost for every peer)
            await rec.tool_call(i, RESULT_100K[:-8] + f"{i:08d}")
            await anyio.sleep(0)
        await rec.settle()
        done.set()
    out = {"lag_p99_ms": _quantile(lags, 0.99), "lag_max_ms": max(lags)}
    if rec.delivered:
        out["burst_tools_delivered"] = rec.delivered["tools"] / n
    return out


async def _drops(peer: Peer, n: int) -> dict[str, float]:
    async with peer() as rec:
        event = rec.event
        t0 = pc()
        for i in range(n):
            event(i)
            if i % 100 == 99:
                await anyio.sleep(0)
    elapsed = (pc() - t0) / 1e9  # closing delivers what is left: part of the cost
    out = {"events_per_s": n / elapsed}
    if rec.delivered:
        out["events_delivered"] = rec.delivered["events"] / n
    return out


async def _child(name: str, sizes: Sizes) -> dict[str, float]:
    peer = FACTORIES[name]
    timer = _timer_cost_ns()
    results: dict[str, float] = {}
    results.update(await _event_costs(peer, sizes.events, timer))
    results.update(await _tool_costs(peer, sizes.tools, timer))
    results.update(await _lag_burst(peer, sizes.burst))
    results.update(await _drops(peer, sizes.drops))
    return results


# --- the parent: children, medians, the table --------------------------------------------


def _installed(name: str) -> bool:
    module = MODULES.get(name)
    if module is None:
        return True
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _child_env() -> dict[str, str]:
    """No exporter endpoint, no API key, Agents SDK tracing on (its processors are ours)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "OPENAI_", "ROLLOUT_TRACE_", "CODEX_ROLLOUT_TRACE_"))
    }
    env["OPENAI_AGENTS_DISABLE_TRACING"] = "0"
    return env


def _run_child(name: str, quick: bool) -> dict[str, float]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", name]
    if quick:
        command.append("--quick")
    done = subprocess.run(
        command, capture_output=True, text=True, env=_child_env(), timeout=900, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{name}: child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def _targets(table: dict[str, dict[str, Any]]) -> dict[str, Any]:
    ours = table.get("ours", {})
    rivals = {name: table[name] for name in RIVALS if table.get(name, {}).get("installed")}
    if not ours.get("installed") or not rivals:
        return {}

    def best(key: str) -> tuple[str, float]:
        return min(((name, r[key]) for name, r in rivals.items()), key=lambda x: x[1])

    out: dict[str, Any] = {}
    peer, value = best("event_p50_us")
    out["event_p50_ratio"] = ours["event_p50_us"] / value
    out["event_p50_best_peer"] = peer
    out["event_p50_met"] = ours["event_p50_us"] <= value / 5
    for key in ("lag_p99_ms", "lag_max_ms"):
        peer, value = best(key)
        out[f"{key}_best_peer"] = peer
        out[f"{key}_best"] = value
        out[f"{key}_met"] = ours[key] <= value
    return out


def _pct(r: dict[str, Any], key: str) -> str:
    return f"{100 * r[key]:.1f}%" if key in r else "-"


def _render(report: dict[str, Any]) -> str:
    head = (
        f"{'peer':<26} {'event p50':>9} {'p99':>7} {'tool p50':>9} {'p99':>8}"
        f" {'lag p99':>8} {'lag max':>8} {'100KB del.':>10} {'ev. del.':>9} {'events/s':>10}"
    )
    lines = [head, "-" * len(head)]
    for name, r in report["peers"].items():
        if not r["installed"]:
            lines.append(f"{LABELS[name]:<26} not installed")
            continue
        lines.append(
            f"{LABELS[name]:<26} {r['event_p50_us']:>6.2f} µs {r['event_p99_us']:>7.2f}"
            f" {r['tool_p50_us']:>6.2f} µs {r['tool_p99_us']:>8.2f}"
            f" {r['lag_p99_ms']:>5.2f} ms {r['lag_max_ms']:>5.2f} ms"
            f" {_pct(r, 'burst_tools_delivered'):>10} {_pct(r, 'events_delivered'):>9}"
            f" {r['events_per_s']:>10,.0f}"
        )
    t = report["targets"]
    if t:
        verdict = {True: "met", False: "MISSED"}
        lines.append(
            f"target: our event p50 ≤ 1/5 of the best peer's ({t['event_p50_best_peer']}):"
            f" ours is {t['event_p50_ratio']:.2f}× theirs -> {verdict[t['event_p50_met']]}"
        )
        for key, what in (("lag_p99_ms", "lag p99"), ("lag_max_ms", "lag max")):
            lines.append(
                f"target: our {what} ≤ the best peer's ({t[f'{key}_best_peer']},"
                f" {t[f'{key}_best']:.2f} ms) -> {verdict[t[f'{key}_met']]}"
            )
    sizes = QUICK if report["quick"] else FULL
    lines.append(
        f"median of {report['runs']} run(s) per peer, each in a fresh process; events: "
        f"{sizes.events:,}; tool calls: {sizes.tools:,} (~1 KB result); burst: {sizes.burst:,}"
        f" tool calls with ~100 KB results; drops: {sizes.drops:,} events."
        f" Load (1 min) {report['load_1m'][0]:.2f} -> {report['load_1m'][1]:.2f}"
        f" on {os.cpu_count()} CPUs."
    )
    return "\n".join(lines)


def _parent(names: list[str], runs: int, quick: bool) -> dict[str, Any]:
    load_start = os.getloadavg()[0]
    present = [name for name in names if _installed(name)]
    collected: dict[str, list[dict[str, float]]] = {name: [] for name in present}
    for round_ in range(runs):
        # rotate the order so that noise from the rest of the machine falls on all alike
        for k in range(len(present)):
            name = present[(k + round_) % len(present)]
            print(f"run {round_ + 1}/{runs}: {name}", file=sys.stderr, flush=True)
            collected[name].append(_run_child(name, quick))
    table: dict[str, dict[str, Any]] = {}
    for name in names:
        if name in collected:
            table[name] = {"installed": True, **_medians(collected[name])}
        else:
            table[name] = {"installed": False}
    return {
        "quick": quick,
        "runs": runs,
        "load_1m": [load_start, os.getloadavg()[0]],
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "peers": table,
        "targets": _targets(table),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small samples, one run per peer")
    parser.add_argument("--json", action="store_true", help="end with one JSON object line")
    parser.add_argument("--runs", type=int, help="children per peer (default 5; 1 with --quick)")
    parser.add_argument(
        "--peers", default=",".join(PEERS), help=f"comma-separated subset of {','.join(PEERS)}"
    )
    parser.add_argument("--child", choices=PEERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        results = anyio.run(_child, args.child, QUICK if args.quick else FULL, backend="asyncio")
        print(json.dumps(results))
        return 0
    names = [name.strip() for name in args.peers.split(",") if name.strip()]
    unknown = sorted(set(names) - set(PEERS))
    if unknown:
        parser.error(f"unknown peer(s): {', '.join(unknown)}; known: {', '.join(PEERS)}")
    runs = args.runs or (1 if args.quick else 5)
    report = _parent(names, runs, args.quick)
    print(_render(report))
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
