"""Crash soak: a recording agent loop killed at random moments, then every bundle checked.

    python benchmarks/soak.py [--runs 100] [--backend asyncio|trio] [--schema 2|3] [--seed N] [--json]

Each run starts a child process running an agent loop that records the way a real one does
(the root thread and a sub-agent, inferences with ~100 KB requests, tool calls, history) and
kills it after a random delay: ``--runs`` times with SIGKILL, then a few runs each with
SIGTERM and SIGINT. For every bundle it checks:

* no line cites a payload file that is missing or not complete JSON (payload before line);
  in schema 3, the strict reducer checks every cited record instead;
* the log holds whole lines with seqs 1..N, but for a last line SIGKILL tore while it was
  written (the kernel stops a write between pages; Codex's own log can tear the same way),
  which the lenient reducer drops;
* the lenient reducer reads it (``reduce_bundle(lenient=True)``);
* the strict reducer fails only when the crash cut the recording short (no
  ``recording_completed``), and SIGTERM / SIGINT runs end with ``recording_completed``.

Prints the counts of each outcome; exits 1 if any bundle broke a rule.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rollout_trace_sdk.reduce import reduce_bundle

AGENT = r"""
import sys
import signal
# Python's own SIGINT handler even when started with SIGINT ignored (a background job)
signal.signal(signal.SIGINT, signal.default_int_handler)
import anyio
from rollout_trace_sdk.record import open_rollout, task_message

PAD = "y" * 100_000

async def child_agent(child):
    async with child, child.turn() as turn:
        for n in range(1_000_000):
            async with turn.inference({"input": [{"type": "message", "role": "user",
                                                  "content": [{"type": "input_text", "text": PAD}]}]}) as call:
                await anyio.sleep(0.001)
                call.completed(response_id=f"c{n}", output_items=[])

async def main(root):
    async with open_rollout(root, schema_version=schema) as rollout, rollout.root.turn() as turn:
        async with turn.tool_call("spawn", "spawn_agent", arguments={"message": "go"}) as tool:
            child = tool.spawn_agent("worker")
            tool.completed({"type": "function_call_output", "call_id": "spawn", "output": "{}"})
        print("ready", flush=True)
        async with anyio.create_task_group() as tg:
            tg.start_soon(child_agent, child)
            for n in range(1_000_000):
                request = {"input": [{"type": "message", "role": "user",
                                      "content": [{"type": "input_text", "text": f"{n}" + PAD}]}]}
                async with turn.inference(request) as call:
                    await anyio.sleep(0.001)
                    out = call.completed(response_id=f"r{n}", output_items=[
                        {"type": "function_call", "name": "f", "arguments": "{}", "call_id": f"t{n}"}])
                async with turn.tool_call(f"t{n}", "f", arguments="{}") as tool:
                    tool.completed({"type": "function_call_output", "call_id": f"t{n}", "output": PAD})

schema = int(sys.argv[3])
anyio.run(main, sys.argv[1], backend=sys.argv[2])
"""


def _refs(value: Any) -> list[str]:
    """Every payload path a line cites."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            path = item.get("path")
            if isinstance(path, str) and "raw_payload_id" in item:
                found.append(path)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def check_bundle(bundle: Path) -> dict[str, Any]:
    """The rules above, for one bundle: a dict of findings (``problems`` must be empty)."""
    problems: list[str] = []
    raw = (bundle / "trace.jsonl").read_bytes()
    lines = raw.splitlines()
    torn = bool(raw) and not raw.endswith(b"\n")
    if torn:
        lines.pop()  # a write SIGKILL stopped part way: left for the reducers to judge
    seqs: list[int] = []
    completed = False
    for number, line in enumerate(lines, 1):
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            problems.append(f"line {number} is not JSON")
            continue
        seqs.append(event["seq"])
        completed = event["payload"]["type"] == "recording_completed"
        for path in _refs(event["payload"]):
            try:
                orjson.loads((bundle / path).read_bytes())
            except (OSError, orjson.JSONDecodeError):
                problems.append(f"line {number} cites a missing or partial payload {path}")
    if seqs != list(range(1, len(seqs) + 1)):
        problems.append("seqs are not 1..N")
    try:
        reduce_bundle(bundle, lenient=True, skipped=[])
        lenient_ok = True
    except Exception as exc:
        lenient_ok = False
        problems.append(f"lenient reduce failed: {exc}")
    strict_error = ""
    try:
        reduce_bundle(bundle)
        strict_ok = True
    except Exception as exc:
        strict_ok = False
        strict_error = str(exc).splitlines()[0]
    if not strict_ok and completed:
        problems.append("strict reduce failed on a completed recording")
    return {
        "lines": len(lines),
        "torn": torn,
        "completed": completed,
        "lenient_ok": lenient_ok,
        "strict_ok": strict_ok,
        "strict_error": strict_error,
        "problems": problems,
    }


def one_run(root: Path, backend: str, signum: int, delay: float, schema: int) -> dict[str, Any]:
    child = subprocess.Popen(
        [sys.executable, "-c", AGENT, str(root), backend, str(schema)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdout is not None
        child.stdout.readline()  # "ready": the bundle exists
        time.sleep(delay)
        child.send_signal(signum)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    bundles = sorted(root.glob("trace-*"))
    if len(bundles) != 1:
        return {"problems": [f"expected one bundle, found {len(bundles)}"], "completed": False}
    result = check_bundle(bundles[0])
    if signum != signal.SIGKILL and not result["completed"]:
        result["problems"].append(f"signal {signum} left the recording without its end")
    if signum != signal.SIGKILL and result["torn"]:
        result["problems"].append(f"signal {signum} left a torn last line")
    return result


def soak(
    runs: int, backend: str, seed: int, graceful_runs: int = 5, schema: int = 3
) -> dict[str, Any]:
    rng = random.Random(seed)
    plan = [signal.SIGKILL] * runs
    plan += [signal.SIGTERM] * graceful_runs + [signal.SIGINT] * graceful_runs
    counts = {
        "runs": 0,
        "completed": 0,
        "cut_by_crash": 0,
        "torn_last_line": 0,
        "strict_ok": 0,
        "lenient_ok": 0,
    }
    problems: list[str] = []
    strict_errors: dict[str, int] = {}  # why the strict reducer refused a crash-cut bundle
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        for n, signum in enumerate(plan):
            root = Path(tmp) / f"run{n}"
            result = one_run(root, backend, signum, rng.uniform(0.0, 0.5), schema)
            counts["runs"] += 1
            counts["completed"] += bool(result.get("completed"))
            counts["cut_by_crash"] += not result.get("completed")
            counts["torn_last_line"] += bool(result.get("torn"))
            counts["strict_ok"] += bool(result.get("strict_ok"))
            counts["lenient_ok"] += bool(result.get("lenient_ok"))
            if result.get("strict_error"):
                why = re.sub(r"\d+", "N", str(result["strict_error"]))
                strict_errors[why] = strict_errors.get(why, 0) + 1
            problems += [
                f"run {n} ({signal.Signals(signum).name}): {p}" for p in result["problems"]
            ]
    return {**counts, "strict_errors": strict_errors, "problems": problems}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100, help="SIGKILL runs")
    parser.add_argument("--graceful", type=int, default=5, help="SIGTERM and SIGINT runs each")
    parser.add_argument("--backend", default="asyncio", choices=["asyncio", "trio"])
    parser.add_argument("--schema", type=int, default=3, choices=[2, 3])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = soak(args.runs, args.backend, args.seed, args.graceful, args.schema)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            if key != "problems":
                print(f"{key:14} {value}")
        print(f"problems       {len(result['problems'])}")
        for problem in result["problems"]:
            print("  " + problem)
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
