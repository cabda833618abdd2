"""What ``ls``, ``show``, ``summary``, ``validate`` and ``view`` call a bundle the real Codex
CLI is writing, asked while its model takes its time: ``recording`` / ``still recording``, as
for one our recorder writes, then ``complete`` once Codex ends. Codex takes no lock on its
log; each said ``unclosed``, as if Codex had crashed, mid-session (review status49)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.codex_oracle import codex_bin
from tests.held_log import needs_proc
from tests.live.fake_responses import FakeResponses
from tests.live.recording import bundles, exec_runs
from tests.live.script import Scenario, after, call, first, message
from tests.test_cli import run

#: Seconds the second answer is held back: the commands run meanwhile (nothing is timed).
_HELD_S = 20
#: A tool call, then a message held back while the commands look at the bundle.
_SLOW = Scenario(
    "held_answer",
    "Run it.",
    [
        first(call("exec_command", {"cmd": "echo slow"}, "call_s")),
        {**after("call_s", message("Done slowly.")), "delay": _HELD_S},
    ],
)

#: How long Codex may take (a loaded machine).
WAIT_S = 120.0


def _said(traces: Path, bundle: Path, page: Path) -> dict[str, str]:
    """What each command calls the bundle now."""
    code, out, err = run("ls", traces, "--json")
    assert code == 0, err
    (row,) = map(json.loads, out.splitlines())
    said = {"ls": row["status"]}
    said["ls --status recording"] = str(len(run("ls", traces, "--status", "recording")[1]) > 0)
    for command in ("show", "summary"):
        code, out, err = run(command, bundle)
        assert code == 0, err
        (said[command],) = re.findall(r" · (still recording|recording \w+)", out.splitlines()[0])
    said["validate"] = run("validate", bundle)[2].splitlines()[-1].partition(":")[0]
    assert run("view", bundle, "-o", page)[0] == 0
    (said["view"],) = re.findall(r'"recording":"(\w+)"', page.read_text())
    return said


@pytest.mark.codex
@needs_proc
@pytest.mark.parametrize("schema", [2, 3])
def test_a_bundle_codex_is_writing_is_recording_everywhere(schema: int, tmp_path: Path) -> None:
    codex = codex_bin(schema)
    if codex is None:
        pytest.skip(f"no Codex binary for schema {schema}")
    with FakeResponses(_SLOW.rules) as fake:
        runs, env = exec_runs(codex, _SLOW, tmp_path, fake.base_url)
        codex_run = subprocess.Popen(
            runs[0], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + WAIT_S
            while len(fake.requests) < 2 and codex_run.poll() is None:
                assert time.monotonic() < deadline, "Codex never asked for its second answer"
                time.sleep(0.1)
            (bundle,) = bundles(tmp_path)
            during = _said(tmp_path / "traces", bundle, tmp_path / "page.html")
            assert codex_run.poll() is None, "Codex ended before the commands looked"
        finally:
            assert codex_run.wait(WAIT_S) == 0
    assert during == {
        "ls": "recording",
        "ls --status recording": "True",
        "show": "still recording",
        "summary": "still recording",
        "validate": "recording",
        "view": "recording",
    }
    code, out, err = run("ls", tmp_path / "traces", "--json")
    assert code == 0 and json.loads(out)["status"] == "complete", err
