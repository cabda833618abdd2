"""What the integrations cost per inference call beyond recording it by hand.

    python benchmarks/integrations.py [--blocks N] [--block CALLS] [--backend asyncio|trio]

Two parts: the OpenAI SDK's ``instrument(client)`` (below), and the Agents SDK's
``RolloutTraceProcessor`` (see :func:`agents_main`; skipped without ``openai-agents``).

Three loops make the same ``responses.create`` (and ``chat.completions.create``) calls on a
real ``AsyncOpenAI`` client whose ``create`` is replaced by a stub returning a real SDK
``Response`` / ``ChatCompletion`` object parsed once (so HTTP, which costs milliseconds and
varies far more than what is measured, is left out):

* ``bare``: the stub alone, no tracing (the floor);
* ``by_hand``: the call recorded by hand, as ``docs/recording.md`` shows it
  (``async with turn.inference(request) as call`` + ``call.completed(response_id=...,
  output_items=response.output, token_usage=response.usage, upstream_request_id=...)``);
* ``instrumented``: the same call through ``instrument(client)`` in an open turn.

Times are CPU time of the loop's thread. Blocks of calls interleave the three in one rollout
and turn (the writer catches up between
blocks, untimed); each figure is the median over blocks of the mean µs per call, and
``overhead`` is the median over blocks of (instrumented − by hand), target ≤ 5 µs; the
same difference between the fastest blocks is printed too (on a busy machine it is the
least disturbed figure). The
bundle goes to a temporary directory (``/dev/shm`` when there is one).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

from rollout_trace_sdk.integrations.openai import instrument
from rollout_trace_sdk.record import Turn, open_rollout

HISTORY = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What is the weather in Oslo?"},
    {
        "type": "function_call",
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": '{"city":"Oslo"}',
    },
    {"type": "function_call_output", "call_id": "call_1", "output": "rain, 7 C"},
]
USAGE = {
    "input_tokens": 120,
    "input_tokens_details": {"cached_tokens": 64, "cache_write_tokens": 0},
    "output_tokens": 12,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 132,
}
RESPONSE = Response.model_validate(
    {
        "id": "resp_1",
        "object": "response",
        "created_at": 0,
        "model": "gpt-test",
        "status": "completed",
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "Rain, 7 C.", "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": USAGE,
    }
)
COMPLETION = ChatCompletion.model_validate(
    {
        "id": "chatcmpl_1",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-test",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Rain, 7 C."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 120, "completion_tokens": 12, "total_tokens": 132},
    }
)
RESPONSE._request_id = "req_1"  # what the SDK sets from the x-request-id header
COMPLETION._request_id = "req_1"
MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What is the weather in Oslo?"},
]


async def _response_stub(**kwargs: Any) -> Response:
    return RESPONSE


async def _completion_stub(**kwargs: Any) -> ChatCompletion:
    return COMPLETION


def _client(instrumented: bool) -> AsyncOpenAI:
    client = AsyncOpenAI(api_key="bench", base_url="http://127.0.0.1:9/v1")
    client.responses.create = _response_stub  # type: ignore[assignment,method-assign]
    client.chat.completions.create = _completion_stub  # type: ignore[assignment,method-assign]
    return instrument(client) if instrumented else client


async def _bare(turn: Turn, client: AsyncOpenAI, calls: int, api: str) -> None:
    for i in range(calls):
        if api == "responses":
            await client.responses.create(model="gpt-test", input=[*HISTORY, _user(i)])  # type: ignore[list-item]
        else:
            await client.chat.completions.create(model="gpt-test", messages=[*MESSAGES, _user(i)])  # type: ignore[list-item]


async def _by_hand(turn: Turn, client: AsyncOpenAI, calls: int, api: str) -> None:
    for i in range(calls):
        if api == "responses":
            request: dict[str, Any] = {"model": "gpt-test", "input": [*HISTORY, _user(i)]}
            async with turn.inference(request) as call:
                response = await client.responses.create(**request, extra_headers=call.headers)
                call.completed(
                    response_id=response.id,
                    output_items=response.output,
                    token_usage=response.usage,
                    upstream_request_id=response._request_id,
                )
        else:
            chat_request: dict[str, Any] = {"model": "gpt-test", "messages": [*MESSAGES, _user(i)]}
            async with turn.inference(chat_request) as call:
                completion = await client.chat.completions.create(
                    **chat_request, extra_headers=call.headers
                )
                call.completed(
                    response_id=completion.id,
                    output_items=completion,
                    token_usage=completion.usage,
                    upstream_request_id=completion._request_id,
                )


def _user(i: int) -> dict[str, str]:
    return {"role": "user", "content": f"and now? ({i})"}


async def _block(turn: Turn, loop: Any, client: AsyncOpenAI, calls: int, api: str) -> float:
    """Mean CPU µs per call of one block of ``calls`` calls. CPU time of this thread, not
    wall time: the stubbed calls never wait, and other processes on a busy machine then do
    not count (the writer does not run inside a block: nothing in it yields)."""
    start = time.thread_time_ns()
    await loop(turn, client, calls, api)
    return (time.thread_time_ns() - start) / calls / 1000


async def _instrumented(turn: Turn, client: AsyncOpenAI, calls: int, api: str) -> None:
    await _bare(turn, client, calls, api)


async def main(blocks: int, block: int) -> dict[str, float]:
    """Blocks of ``block`` calls, the three ways in turn, ``blocks`` times, in one rollout
    and one turn; the writer catches up between blocks (outside the timed part), so every
    block starts with the same empty queue."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    plain, instrumented = _client(False), _client(True)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=base, prefix="bench-integrations-") as tmp:
        async with open_rollout(Path(tmp), model="gpt-test") as rollout:
            for api in ("responses", "chat"):
                samples: dict[str, list[float]] = {"bare": [], "by_hand": [], "instrumented": []}
                diffs: list[float] = []
                async with rollout.root.turn() as turn:
                    for _ in range(blocks):
                        gc.collect()
                        samples["bare"].append(await _block(turn, _bare, plain, block, api))
                        hand = await _block(turn, _by_hand, plain, block, api)
                        auto = await _block(turn, _instrumented, instrumented, block, api)
                        samples["by_hand"].append(hand)
                        samples["instrumented"].append(auto)
                        diffs.append(auto - hand)
                        await rollout.flush()
                for name, values in samples.items():
                    figures[f"{api}_{name}_us"] = statistics.median(values)
                    figures[f"{api}_{name}_min_us"] = min(values)
                figures[f"{api}_overhead_us"] = statistics.median(diffs)
                # the fastest block of each is the least disturbed by other processes
                figures[f"{api}_overhead_min_us"] = (
                    figures[f"{api}_instrumented_min_us"] - figures[f"{api}_by_hand_min_us"]
                )
    return figures


# --- the Agents SDK processor ---------------------------------------------------------------------


def agents_main(blocks: int, block: int) -> dict[str, float] | None:
    """The processor's cost per model call: one ``response`` span (a real ``SpanImpl`` with a
    real ``ResponseSpanData`` holding the parsed ``Response``), started and ended through
    ``on_span_start`` / ``on_span_end`` as the SDK calls them, against the same call recorded
    by hand (``turn.inference(request)`` + ``call.completed(...)``) into the same turn of the
    same bundle, from the same thread. Both record through the recorder's thread path (the
    processor's rollout lives on its own loop thread), so the difference is the processor's
    own work: finding the span's turn, building the request and remembering the function
    calls. Last, the same spans go into the recorder's disabled turn: what is left is the
    processor's own work per call, next to the hand-written calls into the same disabled
    turn: their difference is what the processor adds, the figure the target is about when
    the paired difference with recording on drowns in noise. Spans are made before each block (the SDK's own cost is not ours); CPU time of
    this thread; the writer catches up between blocks, untimed. ``None`` without the SDK."""
    try:
        from agents.tracing.span_data import AgentSpanData, ResponseSpanData
        from agents.tracing.spans import SpanImpl
        from agents.tracing.traces import TraceImpl

        from rollout_trace_sdk.integrations.agents import RolloutTraceProcessor
    except ImportError:
        return None
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=base, prefix="bench-agents-") as tmp:
        processor = RolloutTraceProcessor(root=tmp, model="gpt-test")
        trace = TraceImpl("bench", None, None, None, processor)
        processor.on_trace_start(trace)
        recording = processor._traces.current(trace.trace_id)
        assert recording is not None
        # the bundle opens at the first agent span, named after it (agents49)
        agent = SpanImpl(trace.trace_id, None, None, processor, AgentSpanData("Bench"), None)
        processor.on_span_start(agent)
        rollout = recording.rollout
        assert rollout is not None
        turn = recording.spans[agent.span_id].turn
        loop = processor.loop()

        def spans(n: int) -> list[Any]:
            return [
                SpanImpl(
                    trace.trace_id,
                    None,
                    agent.span_id,
                    processor,
                    ResponseSpanData(response=RESPONSE, input=cast(Any, [*HISTORY, _user(i)])),
                    None,
                )
                for i in range(n)
            ]

        def by_hand(n: int, turn: Any = turn) -> float:
            start = time.thread_time_ns()
            for i in range(n):
                call = turn.inference({"model": "gpt-test", "input": [*HISTORY, _user(i)]})
                call.completed(
                    response_id=RESPONSE.id,
                    output_items=RESPONSE.output,
                    token_usage=RESPONSE.usage,
                    upstream_request_id=RESPONSE._request_id,
                )
            return (time.thread_time_ns() - start) / n / 1000

        def processed(made: list[Any]) -> float:
            start = time.thread_time_ns()
            for span in made:
                processor.on_span_start(span)
                processor.on_span_end(span)
            return (time.thread_time_ns() - start) / len(made) / 1000

        hand_samples: list[float] = []
        auto_samples: list[float] = []
        diffs: list[float] = []
        for n in range(blocks):
            made = spans(block)
            gc.collect()
            if n % 2:  # alternate which goes first: the second runs on a fuller queue
                auto = processed(made)
                loop.submit(rollout.flush()).result()
                hand = by_hand(block)
            else:
                hand = by_hand(block)
                loop.submit(rollout.flush()).result()
                auto = processed(made)
            hand_samples.append(hand)
            auto_samples.append(auto)
            diffs.append(auto - hand)
            loop.submit(rollout.flush()).result()
        # the processor's own work alone: the same spans into the recorder's disabled turn
        # (whose calls return at once), so recording costs nothing here
        from rollout_trace_sdk.record.threads import NULL_TURN

        recording.spans[agent.span_id].turn = NULL_TURN
        alone: list[float] = []
        hand_off: list[float] = []
        alone_diffs: list[float] = []
        for _ in range(blocks):
            made = spans(block)
            gc.collect()
            off = by_hand(block, NULL_TURN)
            auto = processed(made)
            alone.append(auto)
            hand_off.append(off)
            alone_diffs.append(auto - off)
        processor.on_span_end(agent)
        processor.on_trace_end(trace)
        processor.shutdown()
    return {
        "agents_by_hand_us": statistics.median(hand_samples),
        "agents_processor_us": statistics.median(auto_samples),
        "agents_overhead_us": statistics.median(diffs),
        "agents_by_hand_min_us": min(hand_samples),
        "agents_processor_min_us": min(auto_samples),
        "agents_overhead_min_us": min(auto_samples) - min(hand_samples),
        "agents_alone_us": statistics.median(alone),
        "agents_alone_min_us": min(alone),
        "agents_hand_off_us": statistics.median(hand_off),
        "agents_alone_overhead_us": statistics.median(alone_diffs),
    }


def _cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=60)
    parser.add_argument("--block", type=int, default=25, help="calls per block")
    parser.add_argument("--backend", default="asyncio", choices=["asyncio", "trio"])
    args = parser.parse_args()
    figures = anyio.run(main, args.blocks, args.block, backend=args.backend)
    for api in ("responses", "chat"):
        print(
            f"{api:9s} bare {figures[f'{api}_bare_us']:7.2f} µs/call   "
            f"by hand {figures[f'{api}_by_hand_us']:7.2f}   "
            f"instrumented {figures[f'{api}_instrumented_us']:7.2f}   "
            f"overhead {figures[f'{api}_overhead_us']:+6.2f} µs (target ≤ 5); "
            f"fastest blocks: by hand {figures[f'{api}_by_hand_min_us']:.2f}, "
            f"instrumented {figures[f'{api}_instrumented_min_us']:.2f}, "
            f"overhead {figures[f'{api}_overhead_min_us']:+.2f} µs"
        )
    agents = agents_main(args.blocks, args.block)
    if agents is None:
        print("agents    skipped (pip install openai-agents)")
        return
    print(
        f"agents    by hand {agents['agents_by_hand_us']:7.2f} µs/call   "
        f"processor {agents['agents_processor_us']:7.2f}   "
        f"overhead {agents['agents_overhead_us']:+6.2f} µs (target ≤ 5); "
        f"fastest blocks: by hand {agents['agents_by_hand_min_us']:.2f}, "
        f"processor {agents['agents_processor_min_us']:.2f}, "
        f"overhead {agents['agents_overhead_min_us']:+.2f} µs; "
        f"the processor's own work (recording off) {agents['agents_alone_us']:.2f} µs "
        f"(fastest block {agents['agents_alone_min_us']:.2f}); by hand with recording off "
        f"{agents['agents_hand_off_us']:.2f}; processor − by hand, recording off: "
        f"{agents['agents_alone_overhead_us']:+.2f} µs"
    )


if __name__ == "__main__":
    _cli()
