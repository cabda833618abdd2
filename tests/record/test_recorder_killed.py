"""Bundles our recorder leaves when its agent is killed reduce with our reducer exactly as with
the matching Codex: a realistic agent loop (``killed_agent.py``: sub-agents, terminals, code
cells and waits, MCP, compactions, images, a worker thread, 1-100 KB requests; half the time
busy, never waiting, so the writer runs behind) recording in schema 2 or 3 (with capture
limits, ``overflow="drop"`` or ``durable`` sometimes), on asyncio or trio, is stopped at a
random moment by SIGKILL, SIGTERM, SIGINT, SIGTERM then SIGKILL while it closes, or a
file-size limit (the disk "fills": EFBIG, then a signal). Both reducers accept what the kill
left (unless the kill tore its last line), and it, and a copy torn further as a crash tears
files, must hold what :mod:`tests.killed_checks` checks: the same state or refusal as Codex,
lenient reduction, validate, ``convert`` to each schema reducing with that Codex as with
ours, and ``convert --lenient`` keeping what lenient reduction keeps
(:mod:`tests.lenient_convert_checks`). CI runs 8 fixed seeds (~25 s); ``OUR_KILLED_EXAMPLES`` (and ``OUR_KILLED_SEED``) run
more."""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from tests.codex_oracle import codex_bin
from tests.killed_checks import check_converted, check_killed, tear
from tests.lenient_convert_checks import check_lenient_converted

from .recorder_support import bundle_in

EXAMPLES = int(os.environ.get("OUR_KILLED_EXAMPLES", "8"))
SEED = int(os.environ.get("OUR_KILLED_SEED", "20261204"))
_AGENT = Path(__file__).with_name("killed_agent.py")


@attrs.frozen
class Kill:
    schema: int
    backend: str
    #: SIGKILL, SIGTERM, SIGINT, TERM+KILL (SIGKILL while closing) or EFBIG (then ``signum``)
    how: str
    options: dict[str, Any]
    #: seconds after the agent said it is ready
    after: float
    #: the agent never waits, so the writer runs behind
    busy: bool = False
    #: EFBIG: the file-size limit in bytes, and the signal that ends the run
    limit: int = 0
    signum: int = signal.SIGKILL

    def describe(self) -> str:
        extra = f", {self.limit} byte files, then {signal.Signals(self.signum).name}"
        how = self.how + (extra if self.how == "EFBIG" else "")
        busy = "a busy agent, " if self.busy else ""
        settings = f"schema {self.schema} on {self.backend} {self.options}"
        return f"{busy}{settings}: {how} after {self.after:.2f} s"


def kill_of(seed: int) -> Kill:
    """The kill of ``seed`` (the same seed, the same kill): the schema alternates, the way it is
    stopped turns every two seeds (so any 8 seeds in a row stop both schemas each way), the
    rest is drawn."""
    rng = random.Random(seed)
    schema = 2 + seed % 2
    options: dict[str, Any] = {}
    if schema == 3 and rng.random() < 0.4:
        options["max_payload_bytes"] = rng.choice([200, 2000, 20000])
        if rng.random() < 0.5:
            options["max_bundle_bytes"] = rng.randint(100_000, 2_000_000)
    if rng.random() < 0.1:
        options["durable"] = True
    if rng.random() < 0.15:
        options.update(overflow="drop", max_queued_bytes=rng.choice([256 << 10, 1 << 20]))
    how = ["SIGKILL", "TERM+KILL", "EFBIG", rng.choice(["SIGTERM", "SIGINT"])][seed // 2 % 4]
    backend, busy = rng.choice(["asyncio", "trio"]), rng.random() < 0.5
    # a busy agent records a few MB a second: killed sooner, its bundle stays as small
    after = rng.uniform(0.05, 0.4 if busy else 1.2)
    kill = Kill(schema, backend, how, options, after, busy)
    if how == "EFBIG":
        signum = rng.choice([signal.SIGKILL, signal.SIGTERM])
        # a limit the agent passes within the first second, and a signal after it did
        limit, after = rng.randint(100_000, 1_000_000), rng.uniform(0.6, 1.5)
        kill = attrs.evolve(kill, limit=limit, signum=signum, after=after)
    return kill


def _record_killed(kill: Kill, root: Path, seed: int) -> Path:
    """Run the agent recording under ``root``, stop it as ``kill`` says, return its bundle."""
    root.mkdir()
    limit: Callable[[], None] | None = None
    if kill.how == "EFBIG":

        def limit() -> None:  # in the child: a write past the limit fails with EFBIG
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (kill.limit, kill.limit))

    args = [str(root), kill.backend, str(kill.schema), str(seed), json.dumps(kill.options)]
    args += ["busy"] if kill.busy else []
    child = subprocess.Popen(
        [sys.executable, str(_AGENT), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=limit,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(kill.after)
        if kill.how == "TERM+KILL":
            child.send_signal(signal.SIGTERM)
            time.sleep(random.Random(seed).uniform(0, 0.02))
            child.send_signal(signal.SIGKILL)
        elif kill.how == "EFBIG":
            child.send_signal(kill.signum)
        else:
            child.send_signal(getattr(signal, kill.how))
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return bundle_in(root)


@pytest.mark.codex
@pytest.mark.parametrize("seed", range(SEED, SEED + EXAMPLES))
def test_a_killed_recording_reduces_as_codex_reduces_it(seed: int, tmp_path: Path) -> None:
    kill = kill_of(seed)
    codex = codex_bin(kill.schema)
    if codex is None:
        pytest.skip(f"no Codex binary for schema {kill.schema}")
    bundle = _record_killed(kill, tmp_path / "run", seed)
    described = f"seed {seed}: {kill.describe()}"
    result = check_killed(bundle, codex, described)
    # what the kill left is whole but for a last line SIGKILL stopped mid-write (the kernel
    # stops a write between pages): both reducers accept it, as they accept Codex's
    log = (bundle / "trace.jsonl").read_bytes()
    if log.endswith(b"\n") or not log:
        assert result.codex is not None and result.ours is not None, result.explain()
    check_converted(bundle, tmp_path, described)
    check_lenient_converted(bundle, tmp_path, described)
    torn, how = tear(bundle, tmp_path / "torn" / bundle.name, random.Random(seed))
    check_killed(torn, codex, f"{described}, then {how}")
    check_converted(torn, tmp_path, f"{described}, then {how}")
    check_lenient_converted(torn, tmp_path, f"{described}, then {how}")
