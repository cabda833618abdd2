"""What resending the history costs: recording CPU per step and bundle bytes, schema 3 vs 2.

The loop: each step sends the full history so far, gets a ~2 KB assistant message and a
function call back, runs the tool and appends a ~4 KB output (issue 8, item 7). Measured for
50 / 200 / 400 steps, in one run:

* ``schema 2``: the real recorder (``open_rollout``), one pretty JSON file per payload;
* ``schema 3``: the schema-3 storage modules driven by the same loop (``ItemStore`` +
  ``ShardPlan`` on the loop, ``ShardSink`` compressing, event lines through the codec), i.e.
  what the recorder will do once it writes schema 3; the writer task and handle objects are
  not in this figure, so it is the storage cost, not yet the whole recorder's;
  ``loopN_v3_storage_cpu_ms_per_step`` leaves out turning events into lines (the harness
  uses the codec for that; the writer has its own encoder);
* ``schema 3 full``: the same, with incremental requests turned off (every request names
  every history item), to show what the inline reference trees alone cost.

CPU is process time (all threads), so compression and disk writes count; for schema 3 the
least of three runs. Run::

    .venv/bin/python benchmarks/history.py [--json] [--steps 50,200,400]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rollout_trace_sdk.record import open_rollout
from tests.record.v3_harness import Conversation, V3Bundle

ASSISTANT_TEXT = 2000
TOOL_OUTPUT = 4000
#: schema-3 runs are repeated (they are fast) and the least CPU is kept
REPEAT = 3


def _text(step: int, size: int, word: str) -> str:
    line = f"{word} {step}: the quick brown fox jumps over the lazy dog {step * 7919 % 10007}. "
    return (line * (size // len(line) + 1))[:size]


def _bundle_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


async def _recorder(steps: int, schema: int = 2, redact: bool = True) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.process_time()
        async with open_rollout(tmp, schema_version=schema, redact=redact) as rollout:
            turn = rollout.root.turn()
            history: list[Any] = [
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "go"}],
                }
            ]
            for step in range(steps):
                async with turn.inference({"model": "m", "input": history}) as call:
                    out = call.completed(
                        response_id=f"resp_{step}",
                        output_items=[
                            {
                                "type": "message",
                                "role": "assistant",
                                "content": [
                                    {
                                        "type": "output_text",
                                        "text": _text(step, ASSISTANT_TEXT, "say"),
                                    }
                                ],
                            },
                            {
                                "type": "function_call",
                                "name": "exec_command",
                                "arguments": f'{{"cmd":"step {step}"}}',
                                "call_id": f"call_{step}",
                            },
                        ],
                    )
                history.extend(out)
                async with turn.tool_call(f"call_{step}", "exec_command", arguments="{}") as tool:
                    item = tool.completed(
                        {
                            "type": "function_call_output",
                            "call_id": f"call_{step}",
                            "output": _text(step, TOOL_OUTPUT, "out"),
                        }
                    )
                history.append(item)
            turn.end()
        cpu = time.process_time() - t0
        size = _bundle_bytes(Path(tmp))
    return cpu, size


def _schema3(steps: int, *, incremental: bool) -> tuple[float, int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.process_time()
        bundle = V3Bundle(Path(tmp) / "bundle", incremental=incremental)
        conv = Conversation(bundle)
        conv.start_turn("go")
        for step in range(steps):
            out = conv.infer(text=_text(step, ASSISTANT_TEXT, "say"), call_tool=f"step {step}")
            conv.tool(out[-1], _text(step, TOOL_OUTPUT, "out"))
            if step % 8 == 7:  # the writer batches records (it lingers ~20 ms)
                bundle.flush()
        conv.end_turn()
        conv.finish()
        cpu = time.process_time() - t0
        size = _bundle_bytes(Path(tmp))
    return cpu, size, bundle.encode_ns / 1e9


def run(step_counts: list[int]) -> dict[str, float]:
    results: dict[str, float] = {}
    for steps in step_counts:
        cpu2, size2 = anyio.run(_recorder, steps, 2)
        cpur, sizer = min(anyio.run(_recorder, steps, 3) for _ in range(REPEAT))
        results[f"loop{steps}_v3rec_cpu_ms_per_step"] = cpur * 1000 / steps
        results[f"loop{steps}_v3rec_bundle_mb"] = sizer / 1e6
        # the least CPU of a few runs: the machine's other load only ever adds to it
        cpu3, size3, encode3 = min(_schema3(steps, incremental=True) for _ in range(REPEAT))
        cpuf, sizef, _ = min(_schema3(steps, incremental=False) for _ in range(REPEAT))
        results[f"loop{steps}_v3_storage_cpu_ms_per_step"] = (cpu3 - encode3) * 1000 / steps
        for name, cpu, size in (("v2", cpu2, size2), ("v3", cpu3, size3), ("v3full", cpuf, sizef)):
            results[f"loop{steps}_{name}_cpu_ms_per_step"] = cpu * 1000 / steps
            results[f"loop{steps}_{name}_bundle_mb"] = size / 1e6
    last = step_counts[-1]
    first = step_counts[0]
    results[f"loop{last}_cpu_ms_per_step"] = results[f"loop{last}_v3_cpu_ms_per_step"]
    results[f"loop{last}_bundle_mb"] = results[f"loop{last}_v3_bundle_mb"]
    for name in ("v2", "v3", "v3full"):
        a = results[f"loop{first}_{name}_bundle_mb"]
        b = results[f"loop{last}_{name}_bundle_mb"]
        results[f"{name}_size_growth_exponent"] = math.log(b / a) / math.log(last / first)
    return results


def _table(r: dict[str, float], step_counts: list[int]) -> str:
    rows = [f"{'steps':>6} {'schema':>8} {'cpu ms/step':>12} {'bundle MB':>10}"]
    for steps in step_counts:
        for name, label in (("v2", "2"), ("v3", "3"), ("v3full", "3 full")):
            rows.append(
                f"{steps:>6} {label:>8} {r[f'loop{steps}_{name}_cpu_ms_per_step']:>12.3f}"
                f" {r[f'loop{steps}_{name}_bundle_mb']:>10.3f}"
            )
        rows.append(
            f"{steps:>6} {'3 rec':>8} {r[f'loop{steps}_v3rec_cpu_ms_per_step']:>12.3f}"
            f" {r[f'loop{steps}_v3rec_bundle_mb']:>10.3f}  (open_rollout, schema 3)"
        )
        storage = r[f"loop{steps}_v3_storage_cpu_ms_per_step"]
        rows.append(f"{steps:>6} {'3 store':>8} {storage:>12.3f}  (without encoding event lines)")
    for name in ("v2", "v3", "v3full"):
        rows.append(f"size growth exponent {name}: N^{r[f'{name}_size_growth_exponent']:.2f}")
    last = step_counts[-1]
    ratio = r[f"loop{last}_v2_bundle_mb"] / r[f"loop{last}_v3_bundle_mb"]
    rows.append(f"schema 2 / schema 3 bundle size at {last} steps: {ratio:.0f}x")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--steps", default="50,200,400", help="comma-separated loop lengths")
    args = parser.parse_args(argv)
    step_counts = [int(s) for s in args.steps.split(",")]
    os.environ.pop("ROLLOUT_TRACE_DIR", None)
    results = run(step_counts)
    print(json.dumps(results, indent=2) if args.json else _table(results, step_counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
