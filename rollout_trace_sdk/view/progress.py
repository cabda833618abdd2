"""A progress bar for long reductions, on a terminal's standard error only.

The reducer reports how far it has read ``trace.jsonl`` every 1,024 lines (see
``reduce.bundle.Progress``); this turns those reports into a ``rich`` bar once the reduction
has run for a second, so short reductions print nothing. Off a terminal no callback is made at
all: the reducer's loop then pays a single ``is None`` test per line.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from ..reduce.bundle import Progress as ProgressCallback

#: A reduction shorter than this shows no bar.
DELAY_S: Final = 1.0


class _Bar:
    """The callback: waits ``DELAY_S``, then draws and updates a transient bar on ``err``."""

    def __init__(self, err: TextIO, label: str, delay: float) -> None:
        self._err = err
        self._label = label
        self._delay = delay
        self._start = time.monotonic()
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if self._progress is None:
            if time.monotonic() - self._start < self._delay:
                return
            self._open(total)
        assert self._progress is not None and self._task is not None
        self._progress.update(self._task, completed=done, total=total)

    def _open(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=Console(file=self._err),
            transient=True,
            # each redraw costs the reduction's thread a few milliseconds (the GIL): rich's
            # default 10 a second added ~1 s to a 20 s reduction, 2 a second is smooth enough
            refresh_per_second=2,
        )
        self._progress.start()
        self._task = self._progress.add_task(self._label, total=total)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def wants_bar(err: TextIO) -> bool:
    """A bar only on an interactive terminal (not piped, not ``TERM=dumb``)."""
    if os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(err, "isatty", None)
    return bool(isatty and isatty())


@contextlib.contextmanager
def reduction_progress(
    err: TextIO | None, label: str, *, delay: float | None = None
) -> Iterator[ProgressCallback | None]:
    """A callback for ``reduce_bundle(progress=...)`` that draws a bar on ``err``.

    Args:
        err: where the bar goes (standard error); no bar unless it is a terminal.
        label: what is being done, e.g. ``reducing BUNDLE``.
        delay: seconds before the bar appears (:data:`DELAY_S`, read when called).

    Yields:
        The callback, or None when no bar is wanted (pass it on as is).
    """
    stream = sys.stderr if err is None else err
    if not wants_bar(stream):
        yield None
        return
    bar = _Bar(stream, label, DELAY_S if delay is None else delay)
    try:
        yield bar
    finally:
        bar.close()
