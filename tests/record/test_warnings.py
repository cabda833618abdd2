"""The recorder's warnings (``record/_warnings.py``): a service making one recording mistake
in every request sees it once on stderr, with its detail and how to see every one; whoever
asked for every warning gets every one; ``-W error`` never fails a recording call.

The loops run in a child process: the first warning of each kind is shown once per process,
and the child starts with Python's own filters (pytest installs its own)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest

from rollout_trace_sdk.record import RecorderWarning
from rollout_trace_sdk.record._warnings import LATER_NOT_SHOWN, forget_shown, recorder_warning

ROLLOUTS = 50


def record_requests(root: str, mistakes: str, count: int = ROLLOUTS) -> None:
    """A service's loop: ``count`` rollouts, each making the recording mistakes named in
    ``mistakes`` (``m``: a spawn_agent call whose arguments hold no message; ``t``: a request
    id, not a UUID, given as the thread id). Run in a child process by the tests below;
    prints how many rollouts it finished."""
    import anyio

    from rollout_trace_sdk.record import open_rollout

    async def one(i: int) -> None:
        thread_id = f"request-{i}" if "t" in mistakes else None
        async with (
            open_rollout(root, thread_id=thread_id) as rollout,
            rollout.root.turn() as turn,
        ):
            turn.accept({"type": "message", "role": "user", "content": "go"})
            if "m" in mistakes:
                async with turn.tool_call(f"call_{i}", "spawn_agent", arguments={}) as tool:
                    tool.spawn_agent(f"worker_{i}")
                    tool.completed(
                        {"type": "function_call_output", "call_id": f"call_{i}", "output": "{}"}
                    )

    async def loop() -> None:
        for i in range(count):
            await one(i)

    anyio.run(loop)
    print(count)


def _run(tmp_path: Path, mistakes: str, *options: str, setup: str = "") -> tuple[str, str]:
    """Run :func:`record_requests` in a child with Python's default warning filters (plus
    ``options`` and the ``setup`` statement); returns its stdout and stderr."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    code = (
        f"import sys, warnings; {setup or 'pass'}; "
        "from tests.record.test_warnings import record_requests; "
        "record_requests(sys.argv[1], sys.argv[2])"
    )
    done = subprocess.run(
        [sys.executable, *options, "-c", code, str(tmp_path), mistakes],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stdout.strip() == str(ROLLOUTS)
    assert len(list(tmp_path.glob("trace-*"))) == ROLLOUTS
    return done.stdout, done.stderr


def _warnings_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "RecorderWarning: " in line]


def test_one_mistake_in_every_request_is_shown_once(tmp_path: Path) -> None:
    """The same mistake in 50 rollouts, default filters: one warning on stderr (50 before,
    each naming its own call), naming the first call and saying how to see the rest."""
    _, stderr = _run(tmp_path, "m")
    shown = _warnings_in(stderr)
    assert len(shown) == 1, stderr
    assert "tool call call_0's arguments hold no message text" in shown[0]
    assert shown[0].endswith(LATER_NOT_SHOWN)


def test_two_kinds_of_mistake_show_two_warnings(tmp_path: Path) -> None:
    """Two mistakes in each of 50 rollouts: one warning of each kind."""
    _, stderr = _run(tmp_path, "mt")
    shown = _warnings_in(stderr)
    assert len(shown) == 2, stderr
    assert "thread id 'request-0' is not a UUID" in stderr
    assert "tool call call_0's arguments hold no message text" in stderr


@pytest.mark.parametrize(
    ("options", "setup"),
    [
        ((), 'warnings.simplefilter("always")'),
        ((), 'warnings.simplefilter("always", RuntimeWarning)'),
        (("-W", "always::RuntimeWarning"), ""),
    ],
)
def test_asking_for_every_warning_shows_every_one(
    tmp_path: Path, options: tuple[str, ...], setup: str
) -> None:
    """A filter with action "always" for RecorderWarning or a parent class (what
    ``pytest.warns`` and ``recwarn`` set) shows all 50, none saying later ones are hidden."""
    _, stderr = _run(tmp_path, "m", *options, setup=setup)
    shown = _warnings_in(stderr)
    assert len(shown) == ROLLOUTS, stderr
    assert {line.split("tool call ")[1].split("'")[0] for line in shown} == {
        f"call_{i}" for i in range(ROLLOUTS)
    }
    assert LATER_NOT_SHOWN not in stderr


@pytest.mark.parametrize("options", [("-W", "error"), ("-W", "error::RuntimeWarning")])
def test_warnings_as_errors_never_fail_a_recording_call(
    tmp_path: Path, options: tuple[str, ...]
) -> None:
    """``-W error``: every rollout finishes and is recorded, nothing raised nor shown."""
    _, stderr = _run(tmp_path, "mt", *options)
    assert _warnings_in(stderr) == []


def test_an_ignored_warning_does_not_use_up_its_kind() -> None:
    """A warning issued while its kind is ignored is not the one shown: the next, under
    default filters, is (and only it)."""
    forget_shown()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", RecorderWarning)
        recorder_warning("rollout trace: first", kind="test kind")
        warnings.simplefilter("default", RecorderWarning)
        recorder_warning("rollout trace: second", kind="test kind")
        recorder_warning("rollout trace: third", kind="test kind")
    assert [str(w.message) for w in caught] == ["rollout trace: second" + LATER_NOT_SHOWN]
    forget_shown()


def test_a_filter_on_the_text_is_honoured() -> None:
    """A filter matching only some texts (``filterwarnings("always", message=...)``) shows
    every warning it matches, and only the first of the others."""
    forget_shown()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        warnings.filterwarnings("always", message="rollout trace: keep", category=Warning)
        for text in ("keep 1", "drop 1", "keep 2", "drop 2"):
            recorder_warning(f"rollout trace: {text}", kind="test kind")
    assert [str(w.message) for w in caught] == [
        "rollout trace: keep 1",
        "rollout trace: drop 1" + LATER_NOT_SHOWN,
        "rollout trace: keep 2",
    ]
    forget_shown()


def test_warnings_from_many_threads_show_one_of_a_kind() -> None:
    """Warnings of one kind issued at once from 8 threads (the loop, the writer's workers,
    the Agents SDK processor's thread): one shown."""
    forget_shown()
    start = threading.Barrier(8)

    def issue(n: int) -> None:
        start.wait()
        for i in range(50):
            recorder_warning(f"rollout trace: thread {n} warning {i}", kind="test kind")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        threads = [threading.Thread(target=issue, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(caught) == 1
    assert str(caught[0].message).endswith(LATER_NOT_SHOWN)
    forget_shown()


def test_a_warning_of_several_kinds_is_shown_when_any_is_new() -> None:
    """A warning of kinds (a, b) after one of a is shown, and uses up b: a later one of
    (a, b) or of b alone is not."""
    forget_shown()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        recorder_warning("rollout trace: a", kind="kind a")
        recorder_warning("rollout trace: a and b", kind=("kind a", "kind b"))
        recorder_warning("rollout trace: a and b again", kind=("kind a", "kind b"))
        recorder_warning("rollout trace: b", kind="kind b")
    assert [str(w.message) for w in caught] == [
        "rollout trace: a" + LATER_NOT_SHOWN,
        "rollout trace: a and b" + LATER_NOT_SHOWN,
    ]
    forget_shown()
