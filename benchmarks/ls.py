"""``rollout-trace ls`` over a traces root of many bundles, some of them not closed.

Records one demo bundle, copies it ``--count`` times (default 300, as tests/test_cli_ls.py's
root) under a root, cuts the closing lines off every tenth (``unclosed``), and holds one of
those open for writing from this process without a lock, as Codex holds the log it writes
(``recording``: found in ``/proc``, review status49). Then times ``ls ROOT``, ``ls ROOT
--status recording`` and ``ls ROOT --paths`` in this process (the CLI's start-up left out:
what a root costs), best and median of ``--runs``. ``/proc`` is scanned once a command, not
once a bundle without a lock (``reduce.liveness.OpenLogs``); ``--per-bundle`` times one scan
a bundle as well, what that would have cost.

    python benchmarks/ls.py [--count 300] [--runs 7] [--per-bundle]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from rollout_trace_sdk.cli import main as cli
from rollout_trace_sdk.reduce import liveness


def _root(where: Path, count: int) -> tuple[Path, Path]:
    """A root of ``count`` copies of a demo bundle, every tenth not closed; and the one a
    writer is to hold."""
    source = where / "source"
    assert cli(["demo", "--out", str(source)], out=io.StringIO(), err=io.StringIO()) == 0
    (demo,) = source.iterdir()
    traces = where / "traces"
    traces.mkdir()
    for n in range(count):
        bundle = traces / f"{demo.name}-{n:04d}"
        shutil.copytree(demo, bundle)
        if n % 10 == 3:
            log = bundle / "trace.jsonl"
            log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:-2]))
    return traces, traces / f"{demo.name}-0003"


def _times(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        cli(argv, out=io.StringIO(), err=io.StringIO())
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--per-bundle", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        traces, live = _root(Path(tmp), args.count)
        with (live / "trace.jsonl").open("ab"):  # a writer without a lock, as Codex
            out = io.StringIO()
            cli(["ls", str(traces), "--status", "recording", "--paths"], out=out, err=io.StringIO())
            print(f"{args.count} bundles; recording: {len(out.getvalue().splitlines())}")
            _report("one scan a command", traces, args.runs)
            if args.per_bundle:
                holds = liveness.OpenLogs.holds

                def fresh(self: liveness.OpenLogs, log: os.stat_result) -> bool | None:
                    self.__init__()  # type: ignore[misc]  # forgets the scan: one a bundle
                    return holds(self, log)

                liveness.OpenLogs.holds = fresh  # type: ignore[method-assign]
                try:
                    _report("one scan a bundle", traces, args.runs)
                finally:
                    liveness.OpenLogs.holds = holds  # type: ignore[method-assign]
    print(f"open descriptors on this machine: {_fds()}")
    return 0


def _report(name: str, traces: Path, runs: int) -> None:
    for argv in ([], ["--status", "recording"], ["--paths"]):
        times = _times(["ls", str(traces), *argv], runs)
        shown = f"ls ROOT {' '.join(argv)}"
        print(
            f"{name:>18}  {shown:<28} best {min(times) * 1000:7.1f} ms  "
            f"median {statistics.median(times) * 1000:7.1f} ms"
        )


def _fds() -> int:
    total = 0
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if pid.isdigit():
            with contextlib.suppress(OSError):  # gone, or not ours to look into
                total += len(os.listdir(f"/proc/{pid}/fd"))
    return total


if __name__ == "__main__":
    raise SystemExit(main())
