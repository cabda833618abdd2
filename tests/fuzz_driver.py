"""Run many CLI invocations in one process (so one ``strace`` can watch them all).

    python -m tests.fuzz_driver JOBS.json RESULTS.json [OPENED.json]

``JOBS.json`` is a list of ``{"argv": [...], "timeout": seconds}``; ``RESULTS.json`` receives
one ``{"code": int | null, "text": str, "seconds": float}`` per job, in order. Address space is
capped (``--max-gb``, default 4) so a runaway allocation fails here instead of starving the
machine. With ``OPENED.json``, an audit hook records every path the jobs ``open`` (the fallback
when ``strace`` is missing; names opened relative to a directory descriptor are recorded as
given).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

from tests.hostile import run_in_process


def main(jobs_path: str, results_path: str, opened_path: str | None, max_gb: float = 4.0) -> int:
    limit = int(max_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    with open(jobs_path) as handle:
        jobs = json.load(handle)
    opened: list[str] = []
    if opened_path is not None:

        def hook(event: str, args: tuple[object, ...]) -> None:
            if event == "open" and isinstance(args[0], str | bytes):
                opened.append(os.fsdecode(args[0]))

        sys.addaudithook(hook)
    results = []
    for job in jobs:
        started = time.perf_counter()
        code, text = run_in_process(job["argv"], job["timeout"])
        results.append({"code": code, "text": text, "seconds": time.perf_counter() - started})
    with open(results_path, "w") as handle:
        json.dump(results, handle)
    if opened_path is not None:
        with open(opened_path, "w") as handle:
            json.dump(opened, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
