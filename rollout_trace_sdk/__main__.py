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
        The exit status (a command that left nothing open exits here: :func:`_leave`).
    """
    enabled = gc.isenabled()
    gc.disable()
    from . import cli

    gc.freeze()
    if enabled:
        gc.enable()
    status = cli.main()
    if cli.nothing_left_open:
        _leave(status)
    return status


def _leave(status: int) -> None:
    """End the process with ``status`` without the interpreter's teardown, after doing what
    the interpreter's exit does that can be seen from outside.

    The teardown frees every module and object one by one: ~1.4 ms of ``reduce``'s ~88 on
    the 3.3 MB benchmark bundle, for memory the system takes back whole. Taken only when the
    command said it closed every file it wrote (``cli.nothing_left_open``: no buffered data
    that a file object's finaliser would still write) and no other thread runs (the
    interpreter would wait for it). Then, in the interpreter's own order: the ``atexit``
    handlers (attrs' kept code is saved there, ``_attrs_code``), standard output and error
    flushed. A flush that fails returns instead, and the interpreter's exit reports it as it
    always does (status 120).
    """
    import atexit
    import os
    import sys

    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return
    atexit._run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return
    os._exit(status)


if __name__ == "__main__":
    raise SystemExit(run())
