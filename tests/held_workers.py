"""A command whose worker is held on one bundle, for the tests of the process pool
(``_pool``) through the commands that use it: ``validate ROOT --jobs`` and ``export``.

The command runs as a process of its own (its pool is the real one: a forkserver and its
workers), with a ``sitecustomize`` on its path that makes a package function (``validate_bundle``
of ``_cli_validate``, ``export_bundle`` of ``export.parquet``), given a bundle whose name ends
in ``-hang``, write its process's id to a file and wait, SIGINT ignored, as a job deep in a
native library would: the forkserver imports it, so every worker has it (with ``--jobs 1``,
the command itself, which Ctrl-C still interrupts)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

#: ``MODULE.NAME`` patched: given a bundle named ``*-hang``, it appends this process's id to
#: the file ``PIDS`` and waits for a signal: forever, or, when the file ``ONCE`` (if not None)
#: exists, only the first time (which removes it). A worker ignores SIGINT while it waits.
#: Any other bundle's name is appended to the file ``DONE`` once it is checked.
_SITECUSTOMIZE = """
import importlib, multiprocessing, os, signal
MODULE, NAME, PIDS, ONCE, DONE = {module!r}, {name!r}, {pids!r}, {once!r}, {done!r}
module = importlib.import_module(MODULE)
real = getattr(module, NAME)

def held(bundle, *args, **options):
    if str(getattr(bundle, "url", bundle)).endswith("-hang") and (
        ONCE is None or os.path.exists(ONCE)
    ):
        if ONCE is not None:
            os.unlink(ONCE)
        if multiprocessing.parent_process() is not None:  # a worker, not the command
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        with open(PIDS, "a") as pids:
            pids.write(f"{{os.getpid()}}\\n")
        while True:
            signal.pause()
    result = real(bundle, *args, **options)
    with open(DONE, "a") as done:
        done.write(os.path.basename(str(getattr(bundle, "url", bundle))) + "\\n")
    return result

setattr(module, NAME, held)
"""


def env(site: Path | None = None) -> dict[str, str]:
    """This checkout on the command's path, after ``site`` (a ``sitecustomize``) if given."""
    path = [str(site)] if site is not None else []
    return {**os.environ, "PYTHONPATH": os.pathsep.join([*path, str(REPO)])}


class Held:
    """``command`` (the package's CLI arguments) run with ``module.name`` holding its worker
    on a bundle named ``*-hang``, in a process group of its own (as a terminal's job is)."""

    def __init__(
        self,
        tmp_path: Path,
        command: list[str],
        target: tuple[str, str],
        *,
        once_only: bool = False,
    ) -> None:
        self.pids = tmp_path / "pids"
        self.pids.touch()
        self.done = tmp_path / "done"
        self.done.touch()
        once = tmp_path / "once" if once_only else None
        if once is not None:
            once.touch()
        site = tmp_path / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(
            _SITECUSTOMIZE.format(
                module=target[0],
                name=target[1],
                pids=str(self.pids),
                once=once and str(once),
                done=str(self.done),
            )
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rollout_trace_sdk", *command],
            env=env(site),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def held(self, count: int, *, may_end: bool = False) -> list[int]:
        """The ids of the processes held so far, once there are ``count`` (or the command
        has ended, if it ``may_end``)."""
        deadline = time.monotonic() + 120  # a guard against a hang, not a timing check
        while time.monotonic() < deadline:
            pids = [int(line) for line in self.pids.read_text().splitlines()]
            if len(pids) >= count:
                return pids
            if self.process.poll() is not None:
                assert may_end, self.process.communicate()
                return pids
            time.sleep(0.01)
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.communicate()
        raise AssertionError("no process took the held bundle")

    def checked(self, count: int) -> None:
        """Wait until ``count`` bundles other than the held one are checked."""
        deadline = time.monotonic() + 120  # a guard against a hang, not a timing check
        while len(self.done.read_text().splitlines()) < count:
            assert time.monotonic() < deadline and self.process.poll() is None
            time.sleep(0.01)

    def end(self) -> tuple[int, str, str]:
        """The command's exit status and output; a command that does not end, and its
        workers (its process group), killed rather than left behind."""
        try:
            out, err = self.process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.communicate()
            raise
        return self.process.returncode, out, err


def gone(pid: int) -> bool:
    """Whether ``pid`` has ended (exited, or a zombie nobody has waited for yet)."""
    deadline = time.monotonic() + 60  # a guard against a hang, not a timing check
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.01)
    return False
