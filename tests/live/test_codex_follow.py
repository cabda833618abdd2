"""``show --follow`` on a bundle the real Codex CLI is writing, against a model whose answers
take longer than the follower's quiet time (``QUIET_S``): it follows to Codex's end and
prints every line ``show`` prints of the finished bundle (review follow48: Codex takes no
lock on its log, and the follower said its writer was gone after 2 s of quiet, halfway
through the session)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from rollout_trace_sdk.view.show_follow import QUIET_S
from tests.codex_oracle import codex_bin
from tests.live.fake_responses import FakeResponses
from tests.live.recording import bundles, exec_runs
from tests.live.script import Scenario, after, call, first, message
from tests.view.test_show_follow import _all_once

#: A tool call, then a message, each answer held back past the follower's quiet time.
_SLOW = Scenario(
    "slow_answers",
    "Run it.",
    [
        {**first(call("exec_command", {"cmd": "echo slow"}, "call_s")), "delay": QUIET_S + 1},
        {**after("call_s", message("Done slowly.")), "delay": QUIET_S + 1},
    ],
)

#: How long Codex or the follower may take (a loaded machine; nothing here is timed).
WAIT_S = 120.0


def _show(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rollout_trace_sdk", "show", *args],
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2])),
    )


@pytest.mark.codex
@pytest.mark.parametrize("schema", [2, 3])
def test_follows_a_bundle_codex_is_writing_through_slow_answers(
    schema: int, tmp_path: Path
) -> None:
    """``ROOT --latest --follow`` started before Codex: it ends as the recording completes,
    with every line ``show`` prints of it, the tool call's and the last message's."""
    codex = codex_bin(schema)
    if codex is None:
        pytest.skip(f"no Codex binary for schema {schema}")
    followed: list[subprocess.CompletedProcess[str]] = []
    with FakeResponses(_SLOW.rules) as fake:
        runs, env = exec_runs(codex, _SLOW, tmp_path, fake.base_url)
        traces = tmp_path / "traces"
        # the follower waits for the bundle under the root, and follows it from its start
        follower = threading.Thread(
            target=lambda: followed.append(_show(str(traces), "--latest", "--follow"))
        )
        follower.start()
        ran = subprocess.run(
            runs[0], env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=WAIT_S
        )
        follower.join(WAIT_S)
    assert ran.returncode == 0, ran.stderr
    assert followed, "the follower did not end"
    (bundle,) = bundles(tmp_path)
    out = followed[0]
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert out.stdout.splitlines()[-1].startswith("■ recording complete · "), out.stdout
    shown = _show(str(bundle))
    assert "Done slowly." in shown.stdout
    _all_once(out.stdout, shown.stdout)
