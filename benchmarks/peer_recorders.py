"""The peers benchmarks/peers.py measures, each an async context manager that opens a
:class:`Recorder`: what the workload calls (one point event, one whole tool call, a chance to
catch up) and, once closed, what reached the exporter or the disk. What an "event" and a
"tool call" are for each peer, and the workload itself, are peers.py's."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import logging.handlers
import os
import queue
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Final

import anyio
import orjson

#: The package each optional peer needs (the others need none of their own).
MODULES: Final = {"otel": "opentelemetry.sdk", "agents_noop": "agents", "agents_batch": "agents"}

ITEM_ID: Final = "msg_0123456789abcdef"
EVENT: Final = "history_item_accepted"
TOOL: Final = "read_file"
ARGS: Final = '{"path":"/workspace/project/src/main.py","offset":0,"limit":400}'


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
