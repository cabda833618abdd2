"""The sweep of :mod:`tests.record.exotic_values` over every recording call: each value at
every depth and position the recording calls take values (``test_recorder_held_values``'s
SITES, each dict, list, string or integer replaced, or a new item of each dict and list),
in both schemas, with redaction on and off. Each combination runs in a child process (a
crash must not end the sweep) that reports as it goes, so a crash or a hang is pinned on
the combination that was running; the parent resumes after it.

Outcomes: ``crash`` (the child died of a signal), ``raise`` (an exception came out of a
recording call), ``harness`` (an exception no recorder code raised), ``hang`` (no progress for :data:`HANG_SECONDS`), ``stall`` (a call group
took more than :data:`STALL_SECONDS`), ``refused`` (Codex or our reducer refused the
bundle, or they disagree), ``failed`` (a recording call was counted as failed: not a defect
by itself, the guard's doing), ``ok``.

Run::

    python -m tests.record.exotic_sweep [--workers=2] [--redact=on|off] OUT_DIR [VALUE ...]

with ``$CODEX_BIN`` and ``$CODEX3_BIN`` set for Codex to check the bundles (else our reducer
alone does). It takes hours on two cores: name a few values of
:data:`tests.record.exotic_values.EXOTIC` to sweep those.
"""

from __future__ import annotations

import functools
import itertools
import json
import shutil
import subprocess
import sys
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

HANG_SECONDS = 30.0
STALL_SECONDS = 1.0
FORMS = ("dict", "list", "str", "int", "inner", "tail")


def holder(form: str, make: Any) -> Any:
    """The ``hold`` of a recording call's values for ``form`` (see the module doc)."""

    def hold(value: Any) -> Any:
        if type(value) is dict:
            inner = {k: hold(v) for k, v in value.items()}
            if form == "dict":
                return make(inner, None)
            if form == "inner":
                inner["u"] = make(None, inner)
            return inner
        if type(value) is list:
            items = [hold(v) for v in value]
            if form == "list":
                return make(items, None)
            if form == "tail":
                items.append(make(None, items))
            return items
        if type(value) is str and form == "str":
            return make(value, None)
        if type(value) is int and form == "int":
            return make(value, None)
        return value

    return hold


def child(value: str, schema: int, redact: bool, out: str, progress: str, todo: str) -> None:
    """Run the combinations ``todo`` (``site:form,...``) of ``value``, reporting each to
    ``progress`` (one JSON line when it starts, one when it ends)."""
    import anyio

    from rollout_trace_sdk.record import open_rollout

    from . import test_recorder_held_values as held
    from .exotic_values import EXOTIC
    from .recorder_support import bundle_in, check_bundle

    held.open_rollout = functools.partial(open_rollout, redact=redact)  # type: ignore[attr-defined]
    sys.setrecursionlimit(10_000)  # as an agent building a deep chain may have done
    with open(progress, "a", buffering=1) as report:
        for pair in todo.split(","):
            site, form = pair.split(":")
            root = Path(out, f"{value}-{schema}-{int(redact)}-{site}-{form}")
            report.write(json.dumps({"start": pair}) + "\n")
            outcome, detail = "ok", ""
            began = time.monotonic()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    anyio.run(held.SITES[site], root, schema, holder(form, EXOTIC[value]))
                except BaseException as exc:
                    frames = traceback.extract_tb(exc.__traceback__)
                    # raised by no recorder code: the harness's own (a call group spreading
                    # what a failed call returned; asyncio's repr of what the group returned)
                    ours = any("rollout_trace_sdk" in frame.filename for frame in frames)
                    outcome = "raise" if ours else "harness"
                    where = [f"{Path(f.filename).name}:{f.lineno}" for f in frames[-4:]]
                    detail = f"{type(exc).__name__}: {str(exc)[:120]} at {where}"
            took = time.monotonic() - began
            failed = [str(w.message)[:160] for w in caught if "failed (" in str(w.message)]
            if outcome == "ok" and took > STALL_SECONDS:
                outcome, detail = "stall", f"{took:.1f}s"
            if outcome == "ok" and failed:
                outcome, detail = "failed", failed[0]
            if outcome != "raise":
                try:
                    check_bundle(bundle_in(root), root)
                except BaseException as exc:
                    outcome, detail = "refused", f"{type(exc).__name__}: {str(exc)[-300:]}"
            shutil.rmtree(root, ignore_errors=True)
            report.write(
                json.dumps({"end": pair, "outcome": outcome, "detail": detail, "s": took}) + "\n"
            )


def run_value(value: str, schema: int, redact: bool, out: Path) -> list[dict[str, Any]]:
    """Every site and form of ``value`` in one schema, children started again after each
    crash or hang."""
    from .test_recorder_held_values import SITES

    todo = [f"{s}:{f}" for s, f in itertools.product(SITES, FORMS)]
    results: list[dict[str, Any]] = []
    progress = out / f"{value}-{schema}-{int(redact)}.progress"
    while todo:
        progress.write_text("")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.record.exotic_sweep",
                "--child",
                value,
                str(schema),
                str(int(redact)),
                str(out),
                str(progress),
                ",".join(todo),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        last = time.monotonic()
        seen = 0
        hung = False
        while proc.poll() is None:
            time.sleep(0.2)
            lines = progress.read_text().splitlines()
            if len(lines) != seen:
                seen, last = len(lines), time.monotonic()
            elif time.monotonic() - last > HANG_SECONDS:
                proc.kill()
                hung = True
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        proc.wait()
        ended = [json.loads(line) for line in progress.read_text().splitlines() if line]
        done = [e for e in ended if "end" in e]
        results.extend(done)
        finished = {e["end"] for e in done}
        started = [e["start"] for e in ended if "start" in e and e["start"] not in finished]
        if started:
            outcome = "hang" if hung else ("crash" if proc.returncode < 0 else "raise")
            detail = f"rc={proc.returncode} {stderr[-300:]}"
            results.append({"end": started[0], "outcome": outcome, "detail": detail, "s": 0})
            finished.add(started[0])
        elif proc.returncode != 0 and done:  # it died after its last call group (at exit)
            final = results[-1]
            final["outcome"], final["detail"] = "crash", f"at exit: rc={proc.returncode}"
        elif proc.returncode != 0 or not done:
            results.append({"end": "?", "outcome": "child", "detail": stderr[-500:], "s": 0})
            break
        todo = [pair for pair in todo if pair not in finished]
    for result in results:
        result.update(value=value, schema=schema, redact=redact)
    return results


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        value, schema, redact, out, progress, todo = argv[1:]
        child(value, int(schema), redact == "1", out, progress, todo)
        return
    from .exotic_values import EXOTIC

    workers = 2
    redaction: tuple[bool, ...] = (True, False)
    while argv[0].startswith("--"):
        name, _, value = argv.pop(0).partition("=")
        if name == "--workers":
            workers = int(value)
        elif name == "--redact":  # on or off: one of the two only
            redaction = (value == "on",)
    root = Path(argv[0])
    root.mkdir(parents=True, exist_ok=True)
    names = argv[1:] or list(EXOTIC)
    combos = [(v, s, r) for v in names for s in (2, 3) for r in redaction]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool, open(root / "results.jsonl", "a") as sink:
        for results in pool.map(lambda c: run_value(c[0], c[1], c[2], root), combos):
            for result in results:
                sink.write(json.dumps(result) + "\n")
            sink.flush()
            tally = Counter(r["outcome"] for r in results)
            print(results[0]["value"] if results else "?", dict(tally), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
