"""The ``rollout-trace`` command's entry: ``python -m rollout_trace_sdk`` and the console script
(``run``)."""

from __future__ import annotations

import gc


def run() -> int:
    """Run the command line (``cli.main``) as the process's own.

    The command's imports are made without the cycle collector, then frozen (``gc.freeze``):
    their objects live as long as the process, yet the collector went over them ~50 times
    while ``cli`` loaded (orjson's and attrs' standard modules), ~2 ms of ``reduce``'s
    start-up. ``cli.main`` does the same for what the command itself loads.

    Returns:
        The exit status.
    """
    enabled = gc.isenabled()
    gc.disable()
    from .cli import main

    gc.freeze()
    if enabled:
        gc.enable()
    return main()


if __name__ == "__main__":
    raise SystemExit(run())
