"""SIGTERM and SIGHUP unwound the way SIGINT is, for the recorder and the CLI alike.

Python's default SIGTERM kills the process on the spot: nothing in a ``finally`` runs, so an
open bundle misses its closing lines and a command leaves what it was writing half-made.
Passing the signal to the current SIGINT handler ends the program as Ctrl-C does: asyncio's
runner cancels the main task, trio raises ``KeyboardInterrupt``, plain Python raises it.
And the interrupt such a signal raised inside an orjson ``default`` hook, which orjson hands
back as a refusal, raised again (:func:`raise_interrupt`), for the recorder's hooks and the
commands' alike.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any, Final

#: The signals that end a process on the spot at their default disposition and that a
#: program is asked to stop by: ``kill``, ``timeout``, a stopping container (SIGTERM); a
#: closed terminal or SSH session (SIGHUP).
_STOP_SIGNALS: Final = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def _take_over(handler: Any, always: tuple[int, ...] = ()) -> dict[int, Any]:
    """Install ``handler`` for each stop signal at its default disposition (or in
    ``always``); returns the signals taken, with what was there. One that cannot be taken
    (not the main interpreter, no such signal here) is left alone."""
    previous: dict[int, Any] = {}
    for signum in _STOP_SIGNALS:
        if signum in always or signal.getsignal(signum) is signal.SIG_DFL:
            with contextlib.suppress(ValueError, OSError):
                previous[signum] = signal.signal(signum, handler)
    return previous


def unwind_as_sigint(frame: Any) -> None:
    """Do what SIGINT would do now (call from a signal handler, in the main thread).

    Args:
        frame: the frame the signal interrupted, as the handler received it.
    """
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    elif not _delivered_to_trio():
        # SIGINT ignored or default at C level: unwind as Python's default would
        raise KeyboardInterrupt


@contextlib.contextmanager
def stop_signals_as_sigint(stopped_by: list[int]) -> Iterator[None]:
    """SIGTERM (``kill``, ``timeout``, a stopping container) and SIGHUP (the terminal closed)
    end a CLI command the way Ctrl-C does, and say so in ``stopped_by``: ``convert`` and
    ``redact`` remove the bundle they were writing beside the target, an open rollout closes
    its bundle. SIGHUP only at its default disposition (``nohup`` ignores it: the command
    goes on). Only in the main thread (where Python runs signal handlers); the previous
    handlers are put back.

    Args:
        stopped_by: appended to (the signal's number) when one arrived, so the command can
            exit with 128 + that number rather than Ctrl-C's 130.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: object) -> None:
        stopped_by.append(signum)
        unwind_as_sigint(frame)

    previous = _take_over(handle, always=(signal.SIGTERM,))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _delivered_to_trio() -> bool:
    """Under a trio run that installed no SIGINT handler of its own (SIGINT was ignored
    when it started: a job started in the background), hand the interrupt to its runner, as
    that handler would: trio raises ``KeyboardInterrupt`` in the main task where it is safe
    to. Raised here instead, it could land inside trio's own loop and break the run (the
    bundle was then left unclosed). ``False`` when no trio run is current in this thread."""
    run = sys.modules.get("trio._core._run")
    context = getattr(run, "GLOBAL_RUN_CONTEXT", None)
    deliver = getattr(getattr(context, "runner", None), "deliver_ki", None)
    if not callable(deliver):
        return False
    deliver()
    return True


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back for a few steps that must not stop half-way
    (swapping a bundle for its redacted copy and removing the old one): a signal that arrives
    meanwhile is handed to the handler that was in place once they are done. Python runs
    handlers in the main thread whichever thread the kernel picked, so the handlers are
    swapped (not the thread's signal mask); from another thread nothing can be held, and
    nothing is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[tuple[int, Any]] = []
    previous: dict[int, Any] = {}
    for held_signal in (signal.SIGINT, *_STOP_SIGNALS):
        with contextlib.suppress(ValueError, OSError):
            previous[held_signal] = signal.signal(
                held_signal, lambda n, frame: caught.append((n, frame))
            )
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if caught:
            signum, frame = caught[0]
            handler = previous.get(signum)
            if callable(handler):
                handler(signum, frame)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)  # what it would have done: end the process


class _StopAsSigint:
    """While a rollout is open, SIGTERM and SIGHUP unwind the program the way SIGINT does.

    At Python's default disposition either kills the process on the spot and every open
    bundle misses its closing lines. So for each of them that has the default disposition
    (nobody else claimed it: ``nohup`` ignores SIGHUP, a daemon that reloads on it has a
    handler) and when the rollout is opened in the main thread, the first open rollout
    installs a handler that passes the signal to the current SIGINT handler (asyncio's
    runner cancels the main task, trio raises KeyboardInterrupt, plain Python raises it),
    and the last one to close puts the previous disposition back. The process then ends as
    after Ctrl-C (``KeyboardInterrupt``) rather than killed by the signal.
    """

    def __init__(self) -> None:
        self._users = 0
        self._previous: dict[int, Any] = {}  # the signals installed for, and what was there

    def _handle(self, signum: int, frame: Any) -> None:
        unwind_as_sigint(frame)

    def acquire(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        self._users += 1
        if self._users != 1:
            return
        self._previous = _take_over(self._handle)

    def release(self) -> None:
        if threading.current_thread() is not threading.main_thread() or not self._users:
            return
        self._users -= 1
        if self._users:
            return
        self._restore()

    def _restore(self) -> None:
        previous, self._previous = self._previous, {}
        for signum, disposition in previous.items():
            if signal.getsignal(signum) == self._handle:  # nobody replaced it since
                with contextlib.suppress(ValueError, OSError):
                    signal.signal(signum, disposition)

    def after_fork_in_child(self) -> None:
        """A forked child records nothing (its rollouts are inert): the signals end it as
        they would without the recorder. With the parent's handler, the child (a
        multiprocessing worker) handed them to the parent's SIGINT handler: asyncio's
        runner cancelled a main task the child does not run, and the child lived on."""
        self._users = 0
        self._restore()


#: The recorder's: each open rollout acquires it, each close releases it.
RECORDING_STOP_SIGNALS: Final = _StopAsSigint()

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=RECORDING_STOP_SIGNALS.after_fork_in_child)


def raise_interrupt(exc: BaseException) -> None:
    """Raise again what a ``default`` hook raised that is not an error: orjson turns anything
    a hook raises into a ``TypeError`` caused by it, so a ``KeyboardInterrupt`` (or
    ``SystemExit``) a signal handler raised while the hook ran read as a value orjson refused,
    and the slow path then recorded the value and swallowed the agent's Ctrl-C. Call it first
    in each ``except`` after a hooked ``orjson.dumps``; it returns for a true refusal.

    Args:
        exc: what ``orjson.dumps`` raised.

    Raises:
        BaseException: the hook's interrupt, when it was one.
    """
    cause = exc.__cause__
    if cause is not None and not isinstance(cause, Exception):
        raise cause
