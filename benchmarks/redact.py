"""What secret redaction costs: µs and MB/s on clean and secret-bearing payloads and log lines.

    python benchmarks/redact.py [--quick] [--json]

Redaction runs in the writer's worker thread, on bytes the event loop already serialised, so
its cost is CPU (and GIL time) off the loop. Each figure is printed next to baselines
measured in the same run on the same bytes:

* ``cpu_us``: the redaction's CPU time in its thread, per payload (wall time on a shared
  machine includes waiting for a core).
* ``before_us``: the same redactor with the gate scan off: the rules run at every marker
  occurrence, found by one ``bytes.find`` pass per marker (how redaction worked before the
  Hyperscan gates; still the fallback without Hyperscan).
* ``orjson_us``: ``orjson.dumps`` of the same value, pretty (what the event loop already paid
  to snapshot it). The target: a clean 100 KB payload < 100 µs, a small one a few µs.
* ``find_us``: one ``bytes.find`` of a 4-byte needle that is not there (one pass of the old
  scan); ``memchr_us``: of one byte (the floor of any scan).

Workloads: tool outputs (real source code and shell-like text, as a
``function_call_output``) of 200 B, 2 KB, 100 KB and 1 MB, clean and with secrets planted
(one per ~5 KB, at least one); a 100 KB structured result (a list of small dicts with URLs);
a 2 KB agent message; an inference response (its ``token_usage`` keys hit the ``oken``
marker); 1,000 log lines (a ``trace.jsonl`` chunk).

Then the GIL: how late a thread sleeping 1 ms wakes (the event loop, in the writer's
process) while another thread redacts 100 KB payloads non-stop, next to an idle thread. And
adversarial text (``ADVERSARIAL``): the cost per KB at two sizes, which must stay flat.
"""

from __future__ import annotations

import argparse
import functools
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
    sized: dict[str, tuple[Any, bool]] = {}
    big = _source_text(1_000_000)[:1_000_000]
    for label, size in (("200b", 200), ("2k", 2_000), ("100k", 100_000), ("1m", 1_000_000)):
        text = (output if size <= len(output) else big)[:size]
        sized[f"clean_{label}"] = ({**fco, "output": text}, False)
        parts = text.split("\n")
        for i in range(max(1, size // 5_000)):
            parts.insert(rng.randrange(len(parts) + 1), secrets[i % len(secrets)])
        sized[f"dirty_{label}"] = ({**fco, "output": "\n".join(parts)[: size + 200]}, False)
    return {
        **sized,
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


def _cpu_us(fn: Callable[[], object], number: int) -> float:
    """Median CPU µs per call in this thread over 5 rounds."""
    rounds = []
    for _ in range(5):
        start = time.thread_time()
        for _ in range(number):
            fn()
        rounds.append((time.thread_time() - start) / number * 1e6)
    return statistics.median(rounds)


def _before() -> Redactor:
    """The redactor as it was: rules at every marker occurrence, one find pass per marker."""
    redactor = Redactor(key=b"bench")
    redactor._scanner = None
    return redactor


def measure(quick: bool, tiny: bool = False) -> dict[str, dict[str, float]]:
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

        redactor, before = Redactor(key=b"bench"), _before()
        redactor.redact(data, lines=lines)  # compile the gates outside the timing
        number = 1 if tiny else max(1, (10 if quick else 50) * 100_000 // max(len(data), 2_000))
        cpu = _cpu_us(functools.partial(redactor.redact, data, lines=lines), number)
        old = _cpu_us(functools.partial(before.redact, data, lines=lines), max(1, number // 10))
        wall = _time(functools.partial(redactor.redact, data, lines=lines), number)
        orjson_us = _cpu_us(dump, number)
        find = _cpu_us(functools.partial(data.find, b"\x01\x02\x03\x04"), number)
        memchr = _cpu_us(functools.partial(data.find, b"\x01"), number)
        counted = Redactor(key=b"bench")
        counted.redact(data, lines=lines)
        results[name] = {
            "bytes": len(data),
            "cpu_us": cpu,
            "wall_us": wall,
            "mb_s": len(data) / cpu,
            "before_us": old,
            "speedup": old / cpu,
            "orjson_us": orjson_us,
            "over_orjson": cpu / orjson_us,
            "find_us": find,
            "memchr_us": memchr,
            "redactions": sum(counted.counts.values()),
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


def measure_lag(quick: bool, tiny: bool = False) -> dict[str, tuple[float, float]]:
    """Wake-up lag of a thread (the event loop's) while the writer's thread redacts."""
    value, _ = workloads()["clean_100k"]
    data = orjson.dumps(value, option=PRETTY)
    dirty, _ = workloads()["dirty_100k"]
    dirty_data = orjson.dumps(dirty, option=PRETTY)
    redactor = Redactor(key=b"bench")
    seconds = 0.05 if tiny else 1.0 if quick else 3.0
    return {
        "idle thread": _lag(None, seconds),
        "redacting clean 100 KB": _lag(lambda: redactor.redact(data), seconds),
        "redacting dirty 100 KB": _lag(lambda: redactor.redact(dirty_data), seconds),
    }


#: Text built to make a redactor scan the same bytes again from every marker: runs of markers
#: whose values overlap, runs that are rejected only at their end, keys without END lines.
ADVERSARIAL: dict[str, Callable[[int], str]] = {
    "token= run": lambda n: "token=" * n,
    "rejected bare run": lambda n: "token=a1" * n + "(",
    "Authorization: run": lambda n: "Authorization: " * n,
    "Cookie: run": lambda n: 'Cookie:\\"' * n,
    "Cookie: pairs run": lambda n: "Cookie: a=b; " * n,
    "PEM without END": lambda n: ("-----BEGIN RSA PRIVATE KEY-----\n" + "QUJD" * 16 + "\n") * n,
}


def measure_adversarial(quick: bool, tiny: bool = False) -> dict[str, tuple[float, float, float]]:
    """Each adversarial shape at n and 4n repetitions: µs per KB at both sizes and the time
    ratio over the size ratio (1 for linear time; a quadratic redactor gives ~4)."""
    redactor = Redactor()
    n = 50 if tiny else (2_000 if quick else 8_000)
    out: dict[str, tuple[float, float, float]] = {}
    for name, make in ADVERSARIAL.items():
        costs = []
        for count in (n, 4 * n):
            data = orjson.dumps({"type": "function_call_output", "output": make(count)})
            started = time.perf_counter()
            redactor.redact(data)
            costs.append(((time.perf_counter() - started) * 1e6, len(data) / 1000))
        (small_us, small_kb), (large_us, large_kb) = costs
        growth = (large_us / small_us) / (large_kb / small_kb)
        out[name] = (small_us / small_kb, large_us / large_kb, growth)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument(
        "--tiny", action="store_true", help="smoke-test sizes (figures meaningless)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    results = measure(args.quick, args.tiny)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        f"{'workload':18} {'bytes':>8} {'cpu µs':>9} {'MB/s':>6} {'before µs':>10} "
        f"{'speedup':>7} {'orjson µs':>9} {'ratio':>6} {'find µs':>8} {'memchr µs':>9} "
        f"{'found':>5}"
    )
    for name, r in results.items():
        print(
            f"{name:18} {r['bytes']:8.0f} {r['cpu_us']:9.1f} {r['mb_s']:6.0f} "
            f"{r['before_us']:10.1f} {r['speedup']:6.0f}x {r['orjson_us']:9.1f} "
            f"{r['over_orjson']:6.2f} {r['find_us']:8.1f} {r['memchr_us']:9.2f} "
            f"{r['redactions']:5.0f}"
        )
    print("\nwake-up lag of a 1 ms sleep while another thread works (p50 / p99 ms):")
    for label, (p50, p99) in measure_lag(args.quick, args.tiny).items():
        print(f"  {label:28} {p50:6.2f} / {p99:6.2f}")
    print("\nadversarial text (µs per KB at n and 4n; growth 1 = linear, 4 = quadratic):")
    for label, (small, large, growth) in measure_adversarial(args.quick, args.tiny).items():
        print(f"  {label:20} {small:8.1f} {large:8.1f}  growth {growth:4.2f}")
    clean = results["clean_100k"]["cpu_us"]
    small = max(results["clean_200b"]["cpu_us"], results["clean_2k"]["cpu_us"])
    print(f"\nclean 100 KB: {clean:.0f} µs (target < 100); clean 200 B-2 KB: {small:.1f} µs")


if __name__ == "__main__":
    main()
