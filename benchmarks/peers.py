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
import contextlib
import dataclasses
import json
import logging
import logging.handlers
import os
import queue
import random
import statistics
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Final

import anyio
import anyio.lowlevel
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# The hot-path benchmark's helpers.
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
MODULES: Final = {"otel": "opentelemetry.sdk", "agents_noop": "agents", "agents_batch": "agents"}

ITEM_ID: Final = "msg_0123456789abcdef"
EVENT: Final = "history_item_accepted"
TOOL: Final = "read_file"
ARGS: Final = '{"path":"/workspace/project/src/main.py","offset":0,"limit":400}'
RESULT_1K: Final = ("def main() -> None:\n    print('hello, world')\n" * 24)[:1000]
#: ~100 KB of text: the hot-path benchmark's large request, as a tool would return it.
RESULT_100K: Final = orjson.dumps(_payload_100k()).decode()


@dataclasses.dataclass
class Recorder:
    """One peer, open: what the workload calls, and what reached the far end once closed."""

    #: one point event
    event: Callable[[int], None]
    #: one whole tool call with this result
    tool_call: Callable[[int, str], Awaitable[None]]
    #: let the recorder catch up (ours: flush; the others: one trip through the loop)
    settle: Callable[[], Awaitable[None]]
    #: filled in on close: "events" and "tools" that reached the exporter or the disk
    delivered: dict[str, int] = dataclasses.field(default_factory=dict)


Peer = Callable[[], AbstractAsyncContextManager[Recorder]]


async def _one_trip() -> None:
    await anyio.sleep(0)


# --- the peers ---------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _ours() -> AsyncIterator[Recorder]:
    from rollout_trace_sdk import open_rollout

    with tempfile.TemporaryDirectory() as tmp:
        async with open_rollout(tmp, model="bench") as rollout:  # the default: schema 3
            turn = rollout.root.turn()
            accept = turn.accept_item_id

            def event(i: int) -> None:
                accept(ITEM_ID)

            async def tool_call(i: int, result: str) -> None:
                call_id = f"call_{i}"
                async with turn.tool_call(call_id, TOOL, arguments=ARGS) as tool:
                    tool.completed(
                        {"type": "function_call_output", "call_id": call_id, "output": result}
                    )

            recorder = Recorder(event, tool_call, rollout.flush)
            yield recorder
            turn.end()
        bundle = rollout.bundle_dir
        assert bundle is not None
        recorder.delivered.update(_bundle_counts(bundle))


def _bundle_counts(bundle: Path) -> dict[str, int]:
    """Point events and tool results that are on disk: log lines, and the results the
    ``tool_call_ended`` lines name (a payload file in schema 2; in schema 3 shard records,
    the template's parts included)."""
    from rollout_trace_sdk.reduce.errors import ReduceError
    from rollout_trace_sdk.reduce.shards import ShardReader

    shards = ShardReader(str(bundle), lambda name: (bundle / name).read_bytes())

    def stored(ref: dict[str, Any]) -> bool:
        if "path" in ref:
            return (bundle / str(ref["path"])).is_file()
        if ref.get("shard") is None:  # omitted by a size limit
            return False
        try:
            shards.record(ref["raw_payload_id"], ref["shard"])
        except ReduceError:
            return False
        return all(stored(part) for part in ref.get("parts") or ())

    events = tools = 0
    marker = f'"item_id":"{ITEM_ID}"'.encode()
    with (bundle / "trace.jsonl").open("rb") as log:
        for line in log:
            if marker in line:
                events += 1
            elif b'"type":"tool_call_ended"' in line:
                ref = orjson.loads(line)["payload"]["result_payload"]
                tools += ref is not None and stored(ref)
    return {"events": events, "tools": tools}


@contextlib.asynccontextmanager
async def _otel() -> AsyncIterator[Recorder]:
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    counts = {"events": 0, "tools": 0}

    class Counting(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            for span in spans:
                counts["tools" if span.name == TOOL else "events"] += 1
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Counting()))
    tracer = provider.get_tracer("bench")
    start = tracer.start_span

    def event(i: int) -> None:
        start(EVENT, attributes={"item_id": ITEM_ID}).end()

    async def tool_call(i: int, result: str) -> None:
        attributes = {"tool.call_id": f"call_{i}", "tool.name": TOOL, "tool.arguments": ARGS}
        with tracer.start_as_current_span(TOOL, attributes=attributes) as span:
            span.set_attribute("tool.result", result)

    recorder = Recorder(event, tool_call, _one_trip)
    with tracer.start_as_current_span("turn"):
        yield recorder
    provider.shutdown()  # drains the queue into the exporter
    counts["events"] -= 1  # the "turn" span
    recorder.delivered.update(counts)


def _agents(batch: bool) -> Peer:
    @contextlib.asynccontextmanager
    async def peer() -> AsyncIterator[Recorder]:
        from agents.tracing import (
            CustomSpanData,
            FunctionSpanData,
            Span,
            Trace,
            TracingProcessor,
            custom_span,
            function_span,
            set_trace_processors,
            trace,
        )
        from agents.tracing.processor_interface import TracingExporter
        from agents.tracing.processors import BatchTraceProcessor

        # A full queue logs one warning per dropped span; measure the library, not stderr.
        quiet = logging.getLogger("openai.agents")
        quiet.addHandler(logging.NullHandler())
        quiet.propagate = False
        counts = {"events": 0, "tools": 0}

        def count(item: Trace | Span[Any]) -> None:
            if isinstance(item, Trace):
                return
            data = item.span_data
            if isinstance(data, FunctionSpanData):
                counts["tools"] += 1
            elif isinstance(data, CustomSpanData):
                counts["events"] += 1

        class Counting(TracingProcessor):
            def on_trace_start(self, trace: Trace) -> None:
                pass

            def on_trace_end(self, trace: Trace) -> None:
                pass

            def on_span_start(self, span: Span[Any]) -> None:
                pass

            def on_span_end(self, span: Span[Any]) -> None:
                count(span)

            def shutdown(self) -> None:
                pass

            def force_flush(self) -> None:
                pass

        class CountingExporter(TracingExporter):
            def export(self, items: list[Trace | Span[Any]]) -> None:
                for item in items:
                    count(item)

        processor = BatchTraceProcessor(CountingExporter()) if batch else Counting()
        set_trace_processors([processor])

        def event(i: int) -> None:
            span = custom_span(EVENT, {"item_id": ITEM_ID})
            span.start()
            span.finish()

        async def tool_call(i: int, result: str) -> None:
            with function_span(TOOL, input=ARGS) as span:
                span.span_data.output = result

        recorder = Recorder(event, tool_call, _one_trip)
        with trace("bench"):
            yield recorder
        processor.shutdown()
        set_trace_processors([])
        recorder.delivered.update(counts)

    return peer


@contextlib.asynccontextmanager
async def _logging() -> AsyncIterator[Recorder]:
    counts = {"events": 0, "tools": 0}

    class CountingFile(logging.FileHandler):
        def emit(self, record: logging.LogRecord) -> None:
            super().emit(record)
            if record.msg.startswith(EVENT):
                counts["events"] += 1
            elif record.msg.startswith("tool_call_ended"):
                counts["tools"] += 1

    with tempfile.TemporaryDirectory() as tmp:
        records: queue.Queue[logging.LogRecord] = queue.Queue()
        handler = CountingFile(Path(tmp) / "bench.log")
        listener = logging.handlers.QueueListener(records, handler)
        log = logging.getLogger(f"bench.{os.getpid()}.{id(records)}")
        log.setLevel(logging.INFO)
        log.propagate = False
        log.addHandler(logging.handlers.QueueHandler(records))
        listener.start()
        info = log.info

        def event(i: int) -> None:
            info("history_item_accepted %s", ITEM_ID)

        async def tool_call(i: int, result: str) -> None:
            call_id = f"call_{i}"
            info("tool_call_started %s %s %s", call_id, TOOL, ARGS)
            info("tool_call_ended %s %s", call_id, result)

        recorder = Recorder(event, tool_call, _one_trip)
        try:
            yield recorder
        finally:
            listener.stop()  # drains the queue into the handler
            handler.close()
        recorder.delivered.update(counts)


@contextlib.asynccontextmanager
async def _untraced() -> AsyncIterator[Recorder]:
    def event(i: int) -> None:
        pass

    async def tool_call(i: int, result: str) -> None:
        pass

    yield Recorder(event, tool_call, _one_trip)


FACTORIES: Final[dict[str, Peer]] = {
    "ours": _ours,
    "otel": _otel,
    "agents_noop": _agents(batch=False),
    "agents_batch": _agents(batch=True),
    "logging": _logging,
    "untraced": _untraced,
}


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
