"""Our reducer against ``codex debug trace-reduce`` on large agent-loop bundles.

Each bundle is one thread running N model steps the way a real loop does: every request resends
the whole history so far (developer and user messages, then each earlier function_call and its
function_call_output), the response asks for one ``exec_command``, the tool runs with runtime
start/end payloads, and its output joins the history. Request payloads therefore grow
quadratically, which is what makes long rollouts expensive to reduce.

Bundles are written with ``rollout_trace_sdk.testing.BundleBuilder`` (no recorder involved) and
cached under ``--work``. Both reducers run as child processes, alternating; wall time is the
median of the runs and peak RSS comes from ``wait4`` for that one child. Both outputs must be
byte-identical.

Every command runs once untimed first (page cache; for ours, the package's bytecode cached as
an installed package has it, even under ``PYTHONDONTWRITEBYTECODE``). N = 100 (~3 MB) is the
small bundle, where the CLI's start-up counts: it gets 9 runs.

    python benchmarks/reduce_vs_codex.py --quick          # N = 100, 200, 400 (under a minute)
    python benchmarks/reduce_vs_codex.py                  # adds N = 800 (~166 MB)
    python benchmarks/reduce_vs_codex.py --demo-scale 400 # adds `rollout-trace demo --scale 400`
    python benchmarks/reduce_vs_codex.py --json           # last line: one JSON object
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from rollout_trace_sdk.model import events as ev
from rollout_trace_sdk.testing import BundleBuilder

ROLLOUT = "01a20c59-b0b0-7000-8000-00000000b0b0"
TRACE = "b0b0b0b0-0000-4000-8000-00000000b0b0"
TURN = "01a20c59-b0b1-7000-8000-00000000b0b1"
MODEL = "gpt-5.5"
#: Tool output per step; sized so that N=100 is about 4 MB, like the earlier Codex figures.
OUTPUT_BYTES = 200
#: Ours / Codex's, measured in the same run. ``*_3mb``: the N = 100 loop, CLI start-up
#: included; ``demo_*``: `rollout-trace demo --scale N` written in schema 2.
TARGETS = {
    "time_ratio_3mb": 1.0,
    "time_ratio_45mb": 1.0,
    "time_ratio_166mb": 0.25,
    "rss_ratio": 2.0,
    "demo_time_ratio": 1.0,
    "demo_rss_ratio": 1.0,
}
#: Bundles below this many bytes are timed 9 times (their run is a fraction of a second).
_SMALL = 10_000_000


def _codex_bin() -> str | None:
    """The schema-2 oracle: ``$CODEX_BIN`` (``scripts/test.sh`` installs it), else ``codex``."""
    return os.environ.get("CODEX_BIN") or shutil.which("codex")


# --- building a bundle ---------------------------------------------------------------------------


def _builder(root: Path, schema: int = 2) -> BundleBuilder:
    """A bundle laid out as Codex writes it; payload files go straight to disk, lines are
    buffered (the builder writes them in large chunks)."""
    return BundleBuilder(
        root,
        schema=schema,
        trace_id=TRACE,
        rollout_id=ROLLOUT,
        root_thread_id=ROLLOUT,
        started_at=1_795_000_000_000,
        clock_step=3,
        autoflush=False,
    )


def _scoped(w: BundleBuilder, payload: ev.EventPayload) -> None:
    w.event(payload, thread=ROLLOUT, turn=TURN)


def _message(item_id: str, role: str, text: str) -> dict[str, Any]:
    kind = "output_text" if role == "assistant" else "input_text"
    part: dict[str, Any] = {"type": kind, "text": text}
    if role == "assistant":
        part["annotations"] = []
    return {"type": "message", "id": item_id, "role": role, "content": [part]}


def _request(history: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "model": MODEL,
        "stream": True,
        "input": history,
        "tools": [],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "store": False,
        "prompt_cache_key": ROLLOUT,
    }


def _response(step: int, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "response_id": f"resp_{step}",
        "upstream_request_id": None,
        "token_usage": {
            "input_tokens": 1000 + step,
            "cached_input_tokens": 0,
            "cache_write_input_tokens": 0,
            "output_tokens": 20,
            "reasoning_output_tokens": 0,
            "total_tokens": 1020 + step,
        },
        "output_items": [item],
    }


def build_bundle(root: Path, steps: int, *, schema: int = 2) -> None:
    """Write a complete N-step agent-loop bundle of ``schema`` at ``root``."""
    w = _builder(root, schema)
    w.event(ev.RolloutStarted(TRACE, ROLLOUT))
    meta = w.payload(
        "session_metadata", {"thread_id": ROLLOUT, "agent_path": "/root", "model": MODEL}
    )
    w.event(ev.ThreadStarted(ROLLOUT, "/root", meta))
    _scoped(w, ev.CodexTurnStarted(TURN, ROLLOUT))
    history = [
        _message("msg_dev", "developer", "You are a benchmark agent. Use exec_command."),
        _message("msg_user", "user", f"Run {steps} commands, one at a time."),
    ]
    for item in history:
        _scoped(w, ev.HistoryItemAccepted(item["id"]))
    filler = "x" * OUTPUT_BYTES
    for step in range(1, steps + 1):
        call_id = f"call_{step}"
        arguments = orjson.dumps({"cmd": f"echo step-{step}"}).decode()
        call = {
            "type": "function_call",
            "id": f"fc_{step}",
            "name": "exec_command",
            "arguments": arguments,
            "call_id": call_id,
        }
        _inference(w, step, history, call)
        _scoped(w, ev.HistoryItemAccepted(call["id"]))
        history.append(call)
        output = f"Process exited with code 0\nOutput:\nstep-{step} {filler}\n"
        _tool_call(w, step, call_id, arguments, output)
        result = {
            "type": "function_call_output",
            "id": f"fco_{step}",
            "call_id": call_id,
            "output": output,
        }
        _scoped(w, ev.HistoryItemAccepted(result["id"]))
        history.append(result)
    final = _message("msg_final", "assistant", "All commands ran.")
    _inference(w, steps + 1, history, final)
    _scoped(w, ev.HistoryItemAccepted(final["id"]))
    _scoped(w, ev.CodexTurnEnded(TURN, "completed"))
    w.event(ev.ThreadEnded(ROLLOUT, "completed"))
    w.event(ev.RolloutEnded("completed"))
    w.event(ev.RecordingCompleted())
    w.close()


def _inference(
    w: BundleBuilder, step: int, history: list[dict[str, Any]], item: dict[str, Any]
) -> None:
    call = f"00000000-0000-4000-8000-{step:012d}"
    request = w.payload("inference_request", _request(history))
    _scoped(w, ev.InferenceStarted(call, ROLLOUT, TURN, MODEL, "bench", request))
    response = w.payload("inference_response", _response(step, item))
    _scoped(w, ev.InferenceCompleted(call, f"resp_{step}", None, response))


def _tool_call(w: BundleBuilder, step: int, call_id: str, arguments: str, output: str) -> None:
    invocation = w.payload(
        "tool_invocation",
        {
            "tool_name": "exec_command",
            "tool_namespace": None,
            "payload": {"type": "function", "arguments": arguments},
        },
    )
    kind = ev.ToolCallKind("exec_command")
    summary = ev.GenericSummary("exec_command", arguments, None)
    _scoped(
        w,
        ev.ToolCallStarted(call_id, call_id, None, ev.ModelRequester(), kind, summary, invocation),
    )
    command = ["/bin/bash", "-lc", f"echo step-{step}"]
    common = {
        "call_id": call_id,
        "process_id": str(10_000 + step),
        "turn_id": TURN,
    }
    begin = w.payload(
        "tool_runtime_event",
        {
            **common,
            "started_at_ms": w.clock,
            "command": command,
            "cwd": "/tmp",
            "parsed_cmd": [],
            "source": "unified_exec_startup",
        },
    )
    _scoped(w, ev.ToolCallRuntimeStarted(call_id, kind, begin))
    end = w.payload(
        "tool_runtime_event",
        {
            **common,
            "completed_at_ms": w.clock + 2,
            "command": command,
            "cwd": "/tmp",
            "parsed_cmd": [],
            "source": "unified_exec_startup",
            "aggregated_output": f"step-{step}\n",
            "exit_code": 0,
            "duration": {"secs": 0, "nanos": 5000},
            "status": "completed",
        },
    )
    _scoped(w, ev.ToolCallRuntimeEnded(call_id, "completed", end))
    result = w.payload(
        "tool_result",
        {
            "type": "direct_response",
            "response_item": {"type": "function_call_output", "call_id": call_id, "output": output},
        },
    )
    _scoped(w, ev.ToolCallEnded(call_id, "completed", result))


def cached_bundle(work: Path, steps: int) -> Path:
    root = work / f"loop-{steps}-o{OUTPUT_BYTES}"
    if not (root / "trace.jsonl").is_file() or not (root / ".complete").exists():
        shutil.rmtree(root, ignore_errors=True)
        build_bundle(root, steps)
        (root / ".complete").touch()
    return root


def bundle_stats(root: Path) -> tuple[int, int]:
    """(events, bytes on disk)."""
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and p.name != ".complete")
    with (root / "trace.jsonl").open("rb") as handle:
        events = sum(1 for _ in handle)
    return events, size


# --- measuring -----------------------------------------------------------------------------------


def measure(argv: list[str]) -> tuple[float, int, int, str]:
    """(wall seconds, peak RSS in KiB, exit status, stderr) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_with_bytecode()
    )
    assert child.stderr is not None
    err = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, int(usage.ru_maxrss), child.returncode, err.decode(errors="replace")


def _with_bytecode() -> dict[str, str]:
    """Our child's environment, bytecode caching allowed (an installed package has its
    ``.pyc`` files; compiling every module at each start is not what users run)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def compare(
    bundle: Path, label: str, codex: str | None, runs: int, scratch: Path
) -> dict[str, Any]:
    ours_out, codex_out = scratch / "ours.json", scratch / "codex.json"
    ours_cmd = [
        sys.executable,
        "-m",
        "rollout_trace_sdk",
        "reduce",
        str(bundle),
        "-o",
        str(ours_out),
    ]
    codex_cmd = (
        [codex, "debug", "trace-reduce", str(bundle), "-o", str(codex_out)] if codex else None
    )
    ours: list[tuple[float, int]] = []
    theirs: list[tuple[float, int]] = []
    failure = None
    subprocess.run(ours_cmd, env=_with_bytecode(), capture_output=True, check=False)
    if codex_cmd:
        subprocess.run(codex_cmd, capture_output=True, check=False)
    for _ in range(runs):
        seconds, rss, status, err = measure(ours_cmd)
        if status != 0:
            failure = f"ours exited {status}: {err.strip()[-400:]}"
            break
        ours.append((seconds, rss))
        if codex_cmd:
            seconds, rss, status, err = measure(codex_cmd)
            if status != 0:
                failure = f"codex exited {status}: {err.strip()[-400:]}"
                break
            theirs.append((seconds, rss))
    events, size = bundle_stats(bundle)
    row: dict[str, Any] = {
        "bundle": label,
        "events": events,
        "mb": round(size / 1e6, 1),
        "runs": runs,
    }
    if failure:
        row["error"] = failure
        return row
    row["ours_s"] = round(statistics.median(s for s, _ in ours), 3)
    row["ours_rss_mb"] = round(max(r for _, r in ours) / 1024, 1)
    row["events_per_s"] = round(events / row["ours_s"])
    row["mb_per_s"] = round(size / 1e6 / row["ours_s"], 1)
    if theirs:
        row["codex_s"] = round(statistics.median(s for s, _ in theirs), 3)
        row["codex_rss_mb"] = round(max(r for _, r in theirs) / 1024, 1)
        row["time_ratio"] = round(row["ours_s"] / row["codex_s"], 2)
        row["rss_ratio"] = round(row["ours_rss_mb"] / row["codex_rss_mb"], 2)
        row["identical"] = ours_out.read_bytes() == codex_out.read_bytes()
    return row


def _print_row(row: dict[str, Any]) -> None:
    if "error" in row:
        print(f"{row['bundle']:>18} {row['mb']:>7} MB  ERROR {row['error']}")
        return
    codex = (
        f"codex {row['codex_s']:>7.3f} s {row['codex_rss_mb']:>7.1f} MB  "
        f"ratio time {row['time_ratio']:>5.2f} rss {row['rss_ratio']:>5.2f}  "
        f"same={'yes' if row['identical'] else 'NO'}"
        if "codex_s" in row
        else "codex not found"
    )
    print(
        f"{row['bundle']:>18} {row['events']:>7} ev {row['mb']:>7} MB  "
        f"ours {row['ours_s']:>7.3f} s {row['ours_rss_mb']:>7.1f} MB "
        f"({row['events_per_s']} ev/s, {row['mb_per_s']} MB/s)  {codex}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="N = 100, 200, 400 only")
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object as the last line"
    )
    parser.add_argument("--steps", type=int, nargs="*", help="explicit step counts")
    parser.add_argument(
        "--runs", type=int, default=0, help="runs per bundle (default 3 below 20 MB, else 1)"
    )
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "rollout-trace-bench"
    )
    parser.add_argument(
        "--demo-scale", type=int, default=0, help="also time `rollout-trace demo --scale N`"
    )
    args = parser.parse_args()

    steps = args.steps or ([100, 200, 400] if args.quick else [100, 200, 400, 800])
    codex = _codex_bin()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("targets (ours / Codex 0.169's in this run): " + _targets_text())
    with tempfile.TemporaryDirectory() as scratch:
        bundles: list[tuple[str, Path]] = []
        for n in steps:
            started = time.perf_counter()
            bundles.append((f"loop N={n}", cached_bundle(args.work, n)))
            print(f"bundle N={n}: ready in {time.perf_counter() - started:.1f} s", flush=True)
        if args.demo_scale:
            demo = demo_bundle(args.work, args.demo_scale, schema=2)
            if demo is not None:
                bundles.append((f"demo x{args.demo_scale}", demo))
        for label, bundle in bundles:
            size = bundle_stats(bundle)[1]
            runs = args.runs or (9 if size < _SMALL else 3 if size < 20_000_000 else 1)
            row = compare(bundle, label, codex, runs, Path(scratch))
            rows.append(row)
            _print_row(row)
    verdict = _verdict(rows)
    for line in verdict["lines"]:
        print(line)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        print(orjson.dumps({"rows": rows, "targets": TARGETS, "met": verdict["met"]}).decode())
    return 0 if all("error" not in r for r in rows) else 1


def demo_bundle(work: Path, scale: int, *, schema: int) -> Path | None:
    """A fresh ``rollout-trace demo --scale N`` bundle written in ``schema``."""
    out = work / f"demo-{scale}-v{schema}"
    shutil.rmtree(out, ignore_errors=True)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rollout_trace_sdk",
            "demo",
            "--out",
            str(out),
            "--scale",
            str(scale),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "ROLLOUT_TRACE_SCHEMA": str(schema)},
    )
    if done.returncode != 0:
        print(f"demo --scale {scale} failed: {done.stderr.strip()[-300:]}")
        return None
    return Path(done.stdout.strip().splitlines()[0])


def _targets_text() -> str:
    return ", ".join(f"{key} <= {value}" for key, value in TARGETS.items())


def _window(row: dict[str, Any]) -> str | None:
    """Which size target a loop row speaks to (the demo has its own)."""
    if not row["bundle"].startswith("loop"):
        return None
    if 2 <= row["mb"] <= 5:
        return "3mb"
    if 30 <= row["mb"] <= 70:
        return "45mb"
    return "166mb" if row["mb"] >= 120 else None


def _verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Each target with the figure it was judged on: ``{key: (figure, met)}``."""
    met: dict[str, bool] = {}
    figures: dict[str, float] = {}

    def judge(key: str, figure: float) -> None:
        ok = figure <= TARGETS[key]
        figures[key] = max(figures.get(key, figure), figure)
        met[key] = met.get(key, True) and ok

    for row in rows:
        if "time_ratio" not in row:
            continue
        window = _window(row)
        if window is not None:
            judge(f"time_ratio_{window}", row["time_ratio"])
        if row["bundle"].startswith("demo"):
            judge("demo_time_ratio", row["time_ratio"])
            judge("demo_rss_ratio", row["rss_ratio"])
        judge("rss_ratio", row["rss_ratio"])
        met["identical"] = met.get("identical", True) and bool(row["identical"])
    lines = [
        f"{key}: {figures[key]:.2f} (target <= {TARGETS[key]}) {'met' if ok else 'NOT met'}"
        if key in figures
        else f"{key}: {'met' if ok else 'NOT met'}"
        for key, ok in met.items()
    ]
    return {"lines": lines, "met": met}


if __name__ == "__main__":
    raise SystemExit(main())
