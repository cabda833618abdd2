"""``validate ROOT --jobs N``: a root's bundles checked by worker processes, on the pool
``export`` uses (``_pool``), their lines printed as the serial loop prints them.

Bundles go out in batches (a one-episode bundle takes ~5 ms to check: a job each would spend
a good part of that handing it over), and their verdicts come back as text
(``_cli_validate.Verdict``). The driver prints them in the root's order whatever finishes
first: a verdict that comes early waits for those before it, a few hundred bytes each. A
worker that dies (killed, out of memory) loses nothing: its batch is checked again, split
until the bundle whose worker dies alone is found, which is then a line of its own saying it
could not be checked, and counted apart (the exit status is 1).
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Generator
from pathlib import Path
from typing import Final, NamedTuple

from ._cli_validate import UNCHECKED, Verdict, judge_in_worker
from ._pool import Pool
from .reduce.liveness import OpenLogs
from .view.visible import visible

#: What the workers' forkserver imports once for all of them.
_PRELOAD: Final = ("rollout_trace_sdk._cli_validate",)
#: A batch's bundles at most: enough to make the hand-over cheap, few enough that the
#: verdicts waiting for a slow bundle's stay few.
_BATCH_MOST: Final = 32


class _Batch(NamedTuple):
    """Bundles to check, the first being the root's ``first``-th."""

    first: int
    bundles: tuple[str, ...]


_Outcome = tuple[int, list[Verdict]]


def _check(batch: _Batch) -> _Outcome:
    """The workers' task: each bundle's verdict (one ``/proc`` scan for the batch)."""
    held = OpenLogs()
    return batch.first, [judge_in_worker(bundle, held) for bundle in batch.bundles]


def _after_died(batch: _Batch, why: str) -> tuple[list[_Batch], _Outcome | None]:
    """A batch whose worker died running it alone is split in two, each half checked again
    alone; a single bundle is not checked, and its line says why."""
    if len(batch.bundles) > 1:
        half = len(batch.bundles) // 2
        return [
            _Batch(batch.first, batch.bundles[:half]),
            _Batch(batch.first + half, batch.bundles[half:]),
        ], None
    line = visible(f"{batch.bundles[0]}: not checked: {why}")
    return [], (batch.first, [Verdict((), line, UNCHECKED)])


def verdicts_in_workers(bundles: list[Path], jobs: int) -> Generator[Verdict, None, None]:
    """Each bundle's verdict, in the order of ``bundles``, checked by ``jobs`` processes.

    Args:
        bundles: the root's bundles, in name order.
        jobs: worker processes (2 or more).

    Returns:
        The verdicts, each as soon as those before it are in.
    """
    size = max(1, min(_BATCH_MOST, len(bundles) // (8 * jobs)))
    names = [str(bundle) for bundle in bundles]
    queue = collections.deque(
        _Batch(first, tuple(names[first : first + size])) for first in range(0, len(names), size)
    )
    early: dict[int, list[Verdict]] = {}
    at = 0
    outcomes = Pool(_check, (), _after_died).run(queue, jobs, _PRELOAD)
    with contextlib.closing(outcomes):  # closed with this one: the workers killed at once
        for first, verdicts in outcomes:
            early[first] = verdicts
            while at in early:
                ready = early.pop(at)
                at += len(ready)
                yield from ready
