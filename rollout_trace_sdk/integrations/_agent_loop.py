"""The event loop the Agents SDK processor's rollouts live on: the SDK calls processors
synchronously from plain threads, and a rollout needs an event loop of its own, so the
processor runs one in a daemon thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any


class LoopThread:
    """An asyncio event loop in a daemon thread, where the rollouts live."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="rollout-trace-agents", daemon=True
        )
        self.thread.start()

    def submit(self, coro: Any) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self) -> None:
        """Stop the loop and close it (its selector and self-pipe are file descriptors: left
        to the garbage collector, each processor kept three and warned when collected)."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():  # a loop still running cannot be closed
            self.loop.close()
