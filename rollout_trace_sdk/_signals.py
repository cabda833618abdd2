"""SIGTERM unwound the way SIGINT is, for the recorder and the CLI alike.

Python's default SIGTERM kills the process on the spot: nothing in a ``finally`` runs, so an
open bundle misses its closing lines and a command leaves what it was writing half-made.
Passing the signal to the current SIGINT handler ends the program as Ctrl-C does: asyncio's
runner cancels the main task, trio raises ``KeyboardInterrupt``, plain Python raises it.
"""

from __future__ import annotations

import signal
from typing import Any


def unwind_as_sigint(frame: Any) -> None:
    """Do what SIGINT would do now (call from a signal handler, in the main thread).

    Args:
        frame: the frame the signal interrupted, as the handler received it.
    """
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:  # SIGINT ignored or default at C level: unwind as Python's default would
        raise KeyboardInterrupt
