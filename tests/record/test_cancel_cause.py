"""What cancelled a block, as the event loop says it (``record/_cancel_cause.py``), and where
the recorder writes it: a developer debugging timeouts read only ``interrupted``/``aborted``
/``cancelled`` (user51)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from rollout_trace_sdk.model.layout import CANCEL_CAUSE_EVENT
from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.record._cancel_cause import cancel_cause

from ..codex_oracle import reduced_by_both
from ..conftest import LOOP_NAMES
from .recorder_support import bundle_in, of_type, payload

pytestmark = pytest.mark.anyio


async def _caught(body: Any) -> BaseException:
    """The cancellation ``body`` (given the scope it runs in) leaves a block with."""
    caught: list[BaseException] = []
    with anyio.CancelScope() as scope:
        try:
            await body(scope)
        except anyio.get_cancelled_exc_class() as exc:
            caught.append(exc)
            raise
    (left,) = caught
    return left


async def test_a_deadline_is_said(anyio_backend: Any) -> None:
    async def body(scope: anyio.CancelScope) -> None:
        scope.deadline = anyio.current_time() + 0.01
        await anyio.sleep(5)

    assert cancel_cause(await _caught(body)) == "deadline exceeded"


async def test_an_explicit_cancel_gives_its_reason_or_its_task(anyio_backend: Any) -> None:
    for reason in ("user pressed stop", None):
        caught: list[BaseException] = []

        async def stopper(scope: anyio.CancelScope, reason: str | None = reason) -> None:
            await anyio.sleep(0.01)
            scope.cancel(reason)

        async with anyio.create_task_group() as group:
            with anyio.CancelScope() as scope:
                group.start_soon(stopper, scope, name="stopper")
                try:
                    await anyio.sleep(5)
                except anyio.get_cancelled_exc_class() as exc:
                    caught.append(exc)
                    raise
        said = reason or "cancel scope cancelled by task stopper"
        assert cancel_cause(caught[0]) == said


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_trio_names_the_sibling_that_failed(anyio_backend: Any) -> None:
    caught: list[BaseException] = []

    async def boom() -> None:
        await anyio.sleep(0.01)
        raise RuntimeError("sibling broke")

    async def victim() -> None:
        try:
            await anyio.sleep(5)
        except anyio.get_cancelled_exc_class() as exc:
            caught.append(exc)
            raise

    with pytest.raises(BaseExceptionGroup):
        async with anyio.create_task_group() as group:
            group.start_soon(boom)
            group.start_soon(victim)
    assert cancel_cause(caught[0]) == (
        "a sibling task failed: child task raised exception RuntimeError('sibling broke')"
    )


def test_what_the_loop_does_not_say_is_not_made_up() -> None:
    """anyio's task group on asyncio cancels its tasks saying nothing: no cause, rather than a
    guess; ``task.cancel(msg)`` says its message; Ctrl-C is said as such."""
    assert cancel_cause(asyncio.CancelledError("Cancelled via cancel scope 7f00aa")) is None
    assert cancel_cause(asyncio.CancelledError()) is None
    assert cancel_cause(asyncio.CancelledError("shutting down")) == "shutting down"
    assert cancel_cause(KeyboardInterrupt()) == "Ctrl-C (KeyboardInterrupt)"
    group = BaseExceptionGroup("g", [asyncio.CancelledError("x" * 1000)])
    text = cancel_cause(group)
    assert text is not None and len(text) == 300 and text.endswith("…")


def test_a_cancellation_whose_attributes_raise_has_no_cause() -> None:
    class Odd(asyncio.CancelledError):
        @property
        def args(self) -> Any:  # type: ignore[override]
            raise RuntimeError("no")

    assert cancel_cause(Odd()) is None


async def test_the_recorder_says_what_cancelled_a_turn_a_call_and_a_request(
    tmp_path: Path, schema: int, anyio_backend: Any
) -> None:
    """A tool call timed out by its own deadline (its turn goes on), a model call by another,
    and a turn by a third: each end says why, in a ``cancel_cause`` event (turns, tool
    calls) or the request's cancel reason; both Codex reducers skip the event."""
    async with open_rollout(tmp_path, model="m") as rollout:
        async with rollout.root.turn() as turn:
            with anyio.move_on_after(0.02):
                async with turn.tool_call("c1", "slow", arguments="{}"):
                    await anyio.sleep(5)
            with anyio.move_on_after(0.02):
                async with turn.inference({"input": []}):
                    await anyio.sleep(5)
        with anyio.move_on_after(0.02):
            async with rollout.root.turn():
                await anyio.sleep(5)
    bundle = bundle_in(tmp_path)
    bodies = [
        payload(bundle, e["payload"]["event_payload"])
        for e in of_type(bundle, "protocol_event_observed")
        if e["payload"]["event_type"] == CANCEL_CAUSE_EVENT
    ]
    assert [(b.get("tool_call_id"), b["cause"]) for b in bodies] == [
        ("c1", "deadline exceeded"),
        (None, "deadline exceeded"),
    ]
    (cancelled,) = of_type(bundle, "inference_cancelled")
    assert cancelled["payload"]["reason"] == "cancelled: deadline exceeded"
    reduced_by_both(bundle)


def test_a_cancellation_nested_in_groups_is_found_nine_deep() -> None:
    """Task groups inside task groups wrap a cancellation once each: its cause is found
    through nine groups (the first leaf of each); a deeper chain (a loop that keeps wrapping)
    says nothing rather than walking on."""
    leaf: BaseException = asyncio.CancelledError("shutting down")
    for _ in range(9):
        leaf = BaseExceptionGroup("g", [leaf, asyncio.CancelledError("other")])
    assert cancel_cause(leaf) == "shutting down"
    assert cancel_cause(BaseExceptionGroup("g", [leaf])) is None


#: An agent stopped by Ctrl-C (a real SIGINT) in a tool call: argv is the traces root and
#: the loop (``asyncio``, ``uvloop``, ``trio``).
_CTRL_C = """
import os, signal, sys
import anyio
from rollout_trace_sdk.record import open_rollout

async def main():
    async with open_rollout(sys.argv[1], model="m") as rollout:
        async with rollout.root.turn() as turn:
            async with turn.tool_call("c1", "slow", arguments="{}"):
                os.kill(os.getpid(), signal.SIGINT)
                await anyio.sleep(5)

loop = sys.argv[2]
options = {"use_uvloop": True} if loop == "uvloop" else {}
try:
    anyio.run(main, backend="trio" if loop == "trio" else "asyncio", backend_options=options)
except KeyboardInterrupt:
    print("interrupted")
"""


@pytest.mark.parametrize("loop", LOOP_NAMES)
def test_ctrl_c_is_said_on_every_loop(tmp_path: Path, loop: str) -> None:
    """Ctrl-C read ``Ctrl-C (KeyboardInterrupt)`` on trio only: asyncio's runner cancels the
    main task with no message (then raises ``KeyboardInterrupt``), which read as nothing."""
    done = subprocess.run(
        [sys.executable, "-c", _CTRL_C, str(tmp_path), loop],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "interrupted", done.stderr
    bundle = bundle_in(tmp_path)
    causes = [
        payload(bundle, e["payload"]["event_payload"])["cause"]
        for e in of_type(bundle, "protocol_event_observed")
        if e["payload"]["event_type"] == CANCEL_CAUSE_EVENT
    ]
    assert causes == ["Ctrl-C (KeyboardInterrupt)"] * 2  # the tool call, then its turn
    reduced_by_both(bundle)
