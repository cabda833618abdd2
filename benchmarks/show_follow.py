"""``rollout-trace show --follow`` on a bundle being recorded: what following costs and how
late it prints.

A recorder process first records ``--before`` turns at once (a user message, an inference call,
a tool call each: the bundle's size when following starts), then one turn every ``--every``
seconds for ``--seconds``, noting when each was flushed; ``show BUNDLE --follow`` runs piped
meanwhile. Measured: the follower's CPU time per second of its life (``wait4``'s rusage), when
its first line came, how late each turn's user message was printed after its flush (median,
p90, max), turns never printed, and how long after the recorder closed it exited.

    python benchmarks/show_follow.py [--before 4000] [--seconds 60] [--every 0.2]

Figures are in docs/viewing.md ("Following a recording").
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

_RECORDER = r"""
import sys, time, anyio
from pathlib import Path
from rollout_trace_sdk.record import open_rollout

root, before, seconds, every = Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])

def said(role, words):
    kind = "output_text" if role == "assistant" else "input_text"
    return {"type": "message", "role": role, "content": [{"type": kind, "text": words}]}

async def one(turn, text):
    history = turn.accept(said("user", text))
    call_id = "c_" + text.replace(" ", "_")
    item = {"type": "function_call", "name": "exec_command", "call_id": call_id,
            "arguments": '{"cmd":"ls"}'}
    async with turn.inference({"model": "m", "input": history}) as call:
        call.completed(output_items=[item])
    async with turn.tool_call(call_id, "exec_command", arguments=item["arguments"]) as tool:
        tool.completed({"type": "function_call_output", "call_id": call_id, "output": "ok " * 20})

async def main():
    async with open_rollout(root, model="m") as rollout:
        print(rollout.bundle_dir, flush=True)
        async with rollout.root.turn() as turn:
            for n in range(before):
                await one(turn, f"before {n}")
            await rollout.flush()
            print("ready", flush=True)
            end = time.monotonic() + seconds
            n = 0
            while time.monotonic() < end:
                await one(turn, f"tick {n}")
                await rollout.flush()
                print(f"{n} {time.time()}", flush=True)
                n += 1
                await anyio.sleep(every)

anyio.run(main)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=int, default=4000, help="turns recorded at once first")
    parser.add_argument("--seconds", type=float, default=60.0, help="then recording this long")
    parser.add_argument("--every", type=float, default=0.2, help="a turn this often")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        sizes = (str(args.before), str(args.seconds), str(args.every))
        recorder = subprocess.Popen(
            [sys.executable, "-c", _RECORDER, f"{scratch}/traces", *sizes],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert recorder.stdout is not None
        bundle = Path(recorder.stdout.readline().strip())
        assert recorder.stdout.readline().strip() == "ready"
        size = sum(f.stat().st_size for f in bundle.rglob("*") if f.is_file())
        began = time.time()
        show = subprocess.Popen(
            [sys.executable, "-m", "rollout_trace_sdk", "show", str(bundle), "--follow"],
            stdout=subprocess.PIPE,
            text=True,
        )
        printed: dict[int, float] = {}
        first: list[float] = []

        def read() -> None:
            assert show.stdout is not None
            for line in show.stdout:
                now = time.time()
                first[:] = first or [now]
                if "user: tick " in line:
                    printed[int(line.split("user: tick ")[1])] = now

        reader = threading.Thread(target=read)
        reader.start()
        flushed = {int(n): float(at) for n, at in (line.split() for line in recorder.stdout)}
        recorder.wait()
        closed = time.time()
        _, status, usage = os.wait4(show.pid, 0)
        ended = time.time()
        reader.join()
    lags = sorted(printed[n] - flushed[n] for n in flushed if n in printed)
    cpu = usage.ru_utime + usage.ru_stime
    print(f"bundle {size / 1e6:.1f} MB when following started ({args.before} turns before)")
    print(
        f"follower: {cpu / (ended - began):.2f} CPU-seconds a second over {ended - began:.1f} s,"
        f" peak RSS {usage.ru_maxrss / 1024:.0f} MB"
    )
    print(f"first line after {first[0] - began:.2f} s" if first else "no line printed")
    if lags:
        p90 = lags[int(len(lags) * 0.9)]
        print(
            f"turns {len(flushed)}, never printed {len(flushed) - len(lags)}; late by "
            f"{statistics.median(lags):.2f} s median, {p90:.2f} s p90, {lags[-1]:.2f} s max"
        )
    code = os.waitstatus_to_exitcode(status)
    print(f"exit {code}, {ended - closed:.2f} s after the recorder closed")


if __name__ == "__main__":
    main()
