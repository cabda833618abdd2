"""Which event loop runs the calling code: trio or asyncio (the two anyio backends we record
on), without ``sniffio``.

anyio 4 no longer installs ``sniffio``: a plain ``pip install`` of this package has none (the
test extras bring it in through trio and httpx). Importing it failed every rollout's close on
such an install, and made other OS threads' records wait for the next flush.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Final, Literal

import anyio

#: The name of every bundle writer's task (``others_running`` leaves them out).
WRITER_TASK: Final = "rollout_trace_sdk.writer"


def current_async_library() -> Literal["trio", "asyncio"] | None:
    """The library whose event loop runs the calling code, ``None`` outside one.

    Returns:
        ``"trio"``, ``"asyncio"``, or ``None``.
    """
    trio = sys.modules.get("trio")  # not imported: not running
    if trio is not None:
        try:
            trio.lowlevel.current_task()
        except (RuntimeError, AttributeError):
            # AttributeError: another OS thread is importing trio this instant (its module
            # is in sys.modules half made), so no trio runs this thread: its loop would
            # have imported trio whole first (an asyncio thread beside a trio thread failed
            # to open its rollouts)
            pass
        else:
            return "trio"
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return None
    return "asyncio"


def others_running(name: str) -> bool:
    """Whether a task of the running event loop not named ``name`` is still running."""
    return any(task.name != name for task in anyio.get_running_tasks())
