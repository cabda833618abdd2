"""What secret redaction costs: MB/s on clean and secret-bearing payloads and log lines.

    python benchmarks/redact.py [--quick] [--json]

Redaction runs in the writer's worker thread, on bytes the event loop already serialised, so
its cost is CPU (and GIL time) off the loop. Each figure is printed next to baselines
measured in the same run on the same bytes:

* ``orjson_us``: ``orjson.dumps`` of the same value, pretty (what the event loop already paid
  to snapshot it). The target: clean 100 KB redaction < 10% of it.
* ``memchr_us``: ``bytes.find`` of a byte that is not there (the floor of any scan).
* ``copy_us``: ``bytearray(data)`` (a memcpy and an allocation).
* ``redact_cpu_us``: the redaction's CPU time in its thread (wall time on a shared machine
  includes waiting for a core, and the GIL pauses' ``sleep(0)`` invites such waits).

Workloads: a 100 KB tool output (real source code and shell-like text, as a
``function_call_output``), a 100 KB structured result (a list of small dicts), a 2 KB agent
message, an inference response (its ``token_usage`` keys hit the ``oken`` marker), the same
100 KB tool output with 20 planted secrets, and 1,000 log lines (a ``trace.jsonl`` chunk).

Then the GIL: how late a thread sleeping 1 ms wakes (the event loop, in the writer's
process) while another thread redacts 100 KB payloads non-stop, next to an idle thread and
to the same ``bytes.find`` passes without the redactor's pauses.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rollout_trace_sdk.record.redact import Redactor

ROOT = Path(__file__).resolve().parent.parent
PRETTY = orjson.OPT_INDENT_2


def _source_text(size: int) -> str:
    """Real code and prose: the reducer's own sources, with a shell prompt now and then."""
    text = []
    total = 0
    for path in sorted((ROOT / "rollout_trace_sdk" / "reduce").glob("*.py")):
        for line in path.read_text().splitlines():
            text.append(line)
            total += len(line) + 1
            if total % 7 == 0:
                text.append(f"$ ls -la {path.parent.name}/ && git status --short")
            if total >= size:
                return "\n".join(text)
    return "\n".join(text) * (size // max(total, 1) + 1)


def workloads() -> dict[str, tuple[Any, bool]]:
    """name -> (value, lines?)."""
    rng = random.Random(7)
    output = _source_text(100_000)[:100_000]
    secrets = [
        "Authorization: Bearer abcDEF0123456789xyzABC",
        "OPENAI_API_KEY=sk-proj-Q2x9LmN4pR7sT1vW3yZ5bC8dF0gH2",
        "AKIAZ7QW3RTY5UIOP2AS,wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz9EXAMPLE",
        "Cookie: session=q8Lx2Zp0; csrftoken=Hq8fZ2pLk1x9Vw3",
        '{"api_key": "5f8e2c1d9b7a4e3f"}',
    ]
    chunks = output.split("\n")
    for i in range(20):
        chunks.insert(rng.randrange(len(chunks)), secrets[i % len(secrets)])
    with_secrets = "\n".join(chunks)
    words = ["alpha", "beta", "result", "value", "path", "line", "status", "ok", "error"]
    structured = [
        {
            "id": i,
            "name": rng.choice(words),
            "score": rng.random(),
            "tags": [rng.choice(words) for _ in range(3)],
            "url": f"https://example.com/{rng.choice(words)}/{i}",
        }
        for i in range(700)
    ]
    message = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": output[:2000]}],
    }
    response = {
        "response_id": "resp_1",
        "token_usage": {"input_tokens": 2291, "output_tokens": 320, "total_tokens": 2611},
        "output_items": [message, {"type": "function_call", "arguments": output[2000:6000]}],
    }
    lines = [
        {
            "schema_version": 2,
            "seq": i,
            "wall_time_unix_ms": 1_795_503_514_447 + i,
            "rollout_id": "01a20c59-6349-71d1-a832-b3dfd6bfdff0",
            "thread_id": "01a20c59-6349-71d1-a832-b3dfd6bfdff0",
            "codex_turn_id": "01a20c59-6354-7391-ad09-468bd9792ffe",
            "payload": {
                "type": "tool_call_started",
                "tool_call_id": f"call_{i}",
                "summary": {
                    "type": "generic",
                    "label": "exec_command",
                    "input_preview": output[i : i + 160],
                },
                "invocation_payload": {
                    "raw_payload_id": f"raw_payload:{i}",
                    "kind": {"type": "tool_invocation"},
                    "path": f"payloads/{i}.json",
                },
            },
        }
        for i in range(1000)
    ]
    fco = {"type": "function_call_output", "call_id": "call_1"}
    return {
        "tool_output_100k": ({**fco, "output": output}, False),
        "structured_100k": (structured, False),
        "message_2k": (message, False),
        "inference_response": (response, False),
        "secrets_100k": ({**fco, "output": with_secrets}, False),
        "log_lines_1000": (lines, True),
    }


def _time(fn: Callable[[], object], number: int) -> float:
    """Median µs per call over 7 rounds (interleaving is done by the caller)."""
    rounds = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        rounds.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(rounds)


def measure(quick: bool) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for name, (value, lines) in workloads().items():
        if lines:
            data = b"".join(orjson.dumps(v) + b"\n" for v in value)

            def dump(value: Any = value) -> bytes:
                return b"".join(orjson.dumps(v) + b"\n" for v in value)
        else:
            data = orjson.dumps(value, option=PRETTY)

            def dump(value: Any = value) -> bytes:
                return orjson.dumps(value, option=PRETTY)

        redactor = Redactor(key=b"bench")
        number = max(1, (20 if quick else 100) * 100_000 // max(len(data), 1))
        redact = _time(lambda d=data, r=redactor, li=lines: r.redact(d, lines=li), number)
        orjson_us = _time(dump, number)
        memchr = _time(lambda d=data: d.find(b"\x01"), number)
        copy = _time(lambda d=data: bytearray(d), number)
        cpu_start = time.thread_time()
        for _ in range(number):
            redactor.redact(data, lines=lines)
        redact_cpu = (time.thread_time() - cpu_start) / number * 1e6
        results[name] = {
            "bytes": len(data),
            "redact_cpu_us": redact_cpu,
            "redact_us": redact,
            "redact_mb_s": len(data) / redact,
            "orjson_us": orjson_us,
            "memchr_us": memchr,
            "copy_us": copy,
            "redact_over_orjson": redact / orjson_us,
            "redactions": sum(redactor.counts.values()) / (number * 7 + 0.0),
        }
    return results


def _lag(work: Callable[[], object] | None, seconds: float) -> tuple[float, float]:
    """p50 and p99 (ms) of how late a 1 ms sleep in this thread wakes while another thread
    runs ``work`` in a loop (``None``: an idle thread)."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            if work is None:
                time.sleep(0.001)
            else:
                work()

    thread = threading.Thread(target=loop)
    thread.start()
    lags = []
    end = time.perf_counter() + seconds
    try:
        while time.perf_counter() < end:
            start = time.perf_counter()
            time.sleep(0.001)
            lags.append((time.perf_counter() - start - 0.001) * 1e3)
    finally:
        stop.set()
        thread.join()
    lags.sort()
    return lags[len(lags) // 2], lags[int(len(lags) * 0.99)]


def measure_lag(quick: bool) -> dict[str, tuple[float, float]]:
    """Wake-up lag of a thread (the event loop's) while the writer's thread redacts."""
    value, _ = workloads()["tool_output_100k"]
    data = orjson.dumps(value, option=PRETTY)
    redactor = Redactor(key=b"bench")
    markers = [b"sk-", b"AKIA", b"oken", b"ecret", b"pass", b"key"] * 3

    def unpaused() -> None:  # the same passes, holding the GIL throughout
        low = data.lower()
        for marker in markers:
            low.find(marker)

    seconds = 1.0 if quick else 3.0
    return {
        "idle thread": _lag(None, seconds),
        "redacting 100 KB payloads": _lag(lambda: redactor.redact(data), seconds),
        "same scan without pauses": _lag(unpaused, seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    results = measure(args.quick)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        f"{'workload':20} {'bytes':>8} {'redact µs':>10} {'cpu µs':>8} {'MB/s':>7} "
        f"{'orjson µs':>10} {'ratio':>6} {'memchr µs':>10} {'copy µs':>8} {'found':>6}"
    )
    for name, r in results.items():
        print(
            f"{name:20} {r['bytes']:8.0f} {r['redact_us']:10.1f} {r['redact_cpu_us']:8.1f} "
            f"{r['redact_mb_s']:7.0f} "
            f"{r['orjson_us']:10.1f} {r['redact_over_orjson']:6.2f} {r['memchr_us']:10.1f} "
            f"{r['copy_us']:8.1f} {r['redactions']:6.0f}"
        )
    print("\nwake-up lag of a 1 ms sleep while another thread works (p50 / p99 ms):")
    for label, (p50, p99) in measure_lag(args.quick).items():
        print(f"  {label:28} {p50:6.2f} / {p99:6.2f}")
    clean = results["tool_output_100k"]["redact_over_orjson"]
    print(f"\nclean 100 KB tool output: redaction = {clean:.0%} of orjson.dumps (target < 10%)")


if __name__ == "__main__":
    main()
