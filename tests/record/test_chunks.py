"""The writer's worker threads (``record/_chunks.py``): the recorder's writes and the agent's own
thread work never wait for each other.

Both used anyio's default thread limiter (40 tokens a loop): the agent's blocking calls in
``anyio.to_thread.run_sync`` held every rollout's writes (``flush`` and the close waited for
them: 2.8 s behind 40 sleeping calls in the review's probe), and forty rollouts writing at
once held the agent's own thread calls (found by the rl20 review).
"""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest

from rollout_trace_sdk.record import _files, open_rollout
from rollout_trace_sdk.record._worker_threads import WRITER_THREADS

pytestmark = pytest.mark.anyio

#: How long the blocked side stays blocked; the other side must be done well before.
_BLOCKED_S = 4.0
_PROMPT_S = 1.5


def _item(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def _closed(bundle: Path | None) -> bool:
    assert bundle is not None
    lines = (bundle / "trace.jsonl").read_bytes().splitlines()
    return bool(lines) and b'"recording_completed"' in lines[-1]


async def test_the_agents_own_thread_work_does_not_hold_the_writers(tmp_path: Path) -> None:
    """Every token of anyio's default limiter held by the agent's blocking calls: a rollout
    still writes, flushes and closes at once."""
    release = threading.Event()
    tokens = int(anyio.to_thread.current_default_thread_limiter().total_tokens)
    async with anyio.create_task_group() as tg:
        for _ in range(tokens):
            tg.start_soon(anyio.to_thread.run_sync, release.wait, _BLOCKED_S)
        await anyio.sleep(0.1)  # every token taken
        started = time.perf_counter()
        async with open_rollout(tmp_path, close_timeout=_BLOCKED_S) as rollout:
            async with rollout.root.turn() as turn:
                for k in range(20):
                    async with turn.tool_call(f"c{k}", "sh", arguments="{}") as tool:
                        tool.completed(
                            {"type": "function_call_output", "call_id": f"c{k}", "output": "ok"}
                        )
            await rollout.flush()
        elapsed = time.perf_counter() - started
        release.set()
    assert elapsed < _PROMPT_S, f"the rollout waited {elapsed:.2f} s for the agent's threads"
    assert _closed(rollout.bundle_dir)
    stats = rollout.stats
    assert stats is not None and stats.events_dropped == 0 and stats.failed is None


async def test_writers_on_a_slow_disk_do_not_hold_the_agents_thread_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More rollouts than the writers have threads, each stuck writing to a slow disk: the
    agent's own ``to_thread`` call still runs at once, and every bundle closes whole once the
    disk answers."""
    disk = threading.Event()
    inside = [0]
    lock = threading.Lock()
    real = _files.append_lines

    def slow_append(*args: Any, **kwargs: Any) -> Any:
        with lock:
            inside[0] += 1
        disk.wait(_BLOCKED_S)
        return real(*args, **kwargs)

    monkeypatch.setattr(_files, "append_lines", slow_append)
    rollouts = WRITER_THREADS + 1
    go = anyio.Event()
    bundles: list[Path | None] = []

    async def episode(n: int) -> None:
        async with open_rollout(tmp_path) as rollout, rollout.root.turn() as turn:
            bundles.append(rollout.bundle_dir)
            turn.accept(_item(f"episode {n}"))
            await go.wait()

    async with anyio.create_task_group() as tg:
        for n in range(rollouts):
            tg.start_soon(episode, n)
        with anyio.fail_after(_BLOCKED_S):
            while inside[0] < WRITER_THREADS:  # every writer thread is stuck on the disk
                await anyio.sleep(0.01)
        started = time.perf_counter()
        assert await anyio.to_thread.run_sync(sum, [1, 2]) == 3
        elapsed = time.perf_counter() - started
        disk.set()
        go.set()
    assert elapsed < _PROMPT_S, f"the agent's thread call waited {elapsed:.2f} s for the writers"
    assert len(bundles) == rollouts and all(_closed(bundle) for bundle in bundles)


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_disk_that_stays_full_gets_one_last_attempt_per_closing_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, schema: int
) -> None:
    """A disk that fills and stays full: the chunk that met it is retried (0.05, 0.25, 1 s),
    then the writer stops; the close's loss report and ``recording_completed`` get one
    attempt each. They were retried too, each as long, so a full disk added 2.6 s to
    every rollout's close in a service (review prod27: 2.7 s against 0.2 s)."""
    real = _files.append_lines
    attempts: list[bool] = []  # one per append of the log: whether the disk was full

    def fills_up(fd: int, data: Any) -> int:
        attempts.append(len(attempts) >= 2)  # the first two appends fit
        if attempts[-1]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return int(real(fd, data))

    monkeypatch.setattr(_files, "append_lines", fills_up)
    async with (
        open_rollout(tmp_path, schema_version=schema) as rollout,
        rollout.root.turn() as turn,
    ):
        await rollout.flush()
        for k in range(3):
            async with turn.tool_call(f"c{k}", "sh", arguments="{}") as tool:
                tool.completed({"type": "function_call_output", "call_id": f"c{k}", "output": "ok"})
            await rollout.flush()
    stats = rollout.stats
    assert stats is not None and isinstance(stats.failed, OSError) and stats.lost_anything
    failed = attempts.count(True)
    # the chunk that met the full disk: its first try and 3 retries; then the loss report
    # and the closing line: one attempt each (schema 3 writes no closing line over the
    # shard it could not seal, when the failure cut one)
    assert 4 + 1 <= failed <= 4 + 2, attempts


@pytest.mark.parametrize("schema", [2, 3])
async def test_a_closed_rollout_keeps_no_descriptor_open(tmp_path: Path, schema: int) -> None:
    """Once closed, a rollout holds no file descriptor: the close shuts the log after the
    last chunk unless a chunk is still being written (that chunk's end shuts it). Found by
    the mut38 audit: a drain that left its chunk's scope set after the chunk made every
    close skip shutting the log (a descriptor leaked per rollout) and no test failed."""
    before = len(os.listdir("/proc/self/fd"))
    for n in range(5):
        async with open_rollout(tmp_path / str(n), schema_version=schema) as rollout:
            rollout.root.protocol_event("note", {"n": n})
            await rollout.flush()
        assert _closed(rollout.bundle_dir)
    assert len(os.listdir("/proc/self/fd")) <= before
