"""The calls a paused Agents SDK run left waiting, kept on disk under the trace root for the
run resumed from its ``RunState`` in another process.

A web service pauses a run for an approval, stores ``result.to_state().to_string()``, and
resumes it minutes later in another worker: that process's processor never saw the model's
calls (the resumed run's ``function`` spans come before any model call of its own), so the
calls are kept in a small private file the paused run's processor writes when its trace
ends, beside its bundle: ``<root>/.agents-sdk-paused/<key>-<ns>-<pid>-<token>.json`` (the key
a hash of the trace id, so any id makes a safe name). Why a file of its own and not the
paused bundle: the bundle is the reducer's to read (``reduce/confined.py``, which the
integrations may not import), its tool calls do not say which agent run as a tool each
belongs to, and a root may hold thousands of bundles; this file is one JSON line of what
:class:`~._agent_spans.WaitingCall` keeps (the model's call items, by agent), redacted as
the bundle is, at most :data:`MAX_BYTES`, 0600 in a 0700 folder. The trace id and the agent
it was kept under are written as their SHA-256, outside what is redacted: a resumed run
looks for them as they are, and a trace id the redaction matched (a customer's id) was
found by none.

A resumed run takes a file by renaming it ``.resumed`` (atomic: two workers resuming two
runs paused under one trace id at once take one each); a state resumed twice gets the
latest resumed again; a run's request answering a kept call without running it (rejected:
no function span runs it) marks its file resumed too. Each write removes files older than
:data:`KEPT_SECONDS` and the oldest past :data:`FILES_KEPT` (resumed ones first). Every read
and write runs in a thread of its own, waited for at most :data:`IO_TIMEOUT` seconds (a hung
disk costs each one that long, and leaves its thread waiting on the disk); reads are confined as the reducer's are (the folder and files
opened ``O_NOFOLLOW``, regular files only, ``O_NONBLOCK``, bounded), and a folder found there
that is not the user's own, or that others may write in, is refused. Nothing here raises:
a failure is a warning, and the run is recorded as before (``call_<span id>``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import orjson

from ..record.runtime import warn
from ._agent_spans import PausedAgentRun, WaitingCall

if TYPE_CHECKING:
    from ..record.redact import RedactionConfig

#: the folder under the trace root (hidden: ``ls`` and ``validate ROOT`` list bundles only)
FOLDER: Final = ".agents-sdk-paused"
#: the largest file written or read (a run's calls whose arguments make it larger are kept
#: without their arguments: the resumed span traces its own)
MAX_BYTES: Final = 1 << 20
#: files kept under one root, and their age at most
FILES_KEPT: Final = 1024
KEPT_SECONDS: Final = 30 * 24 * 3600
#: seconds a span waits for one read or write of these files
IO_TIMEOUT: Final = 5.0

_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_FILE_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_FRESH: Final = ".json"
_RESUMED: Final = ".resumed"

T = TypeVar("T")


def key_of(trace_id: str) -> str:
    """The files' name prefix for ``trace_id``."""
    return hashlib.sha256(trace_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class PausedFiles:
    """The paused runs' files under a processor's trace roots (see the module's docstring).

    Args:
        redact: the processor's ``redact`` (``False``: written as they are).
        durable: the processor's ``durable``: each file and its folder are synced, as the
            bundle is at its close (a state stored for an approval outlives a power cut).
    """

    def __init__(self, redact: bool | RedactionConfig, *, durable: bool = False) -> None:
        self._redact = redact
        self._durable = durable

    def write(self, root: Path, trace_id: str, agent: str, calls: list[WaitingCall]) -> bool:
        """Keep a run of ``agent`` under ``trace_id`` that ended with ``calls`` waiting in a
        file under ``root``. Whether it was written (else a warning was given)."""
        done = _bounded(lambda: self._write(root, trace_id, agent, calls), "writing")
        return bool(done)

    def resumed(
        self,
        root: Path | None,
        trace_id: str,
        agent: str,
        runs: Callable[[list[dict[str, Any]]], bool],
    ) -> list[WaitingCall]:
        """The calls of the paused run kept under ``root`` that a run of ``agent`` resumed
        under ``trace_id`` runs (``runs`` says which fit, as for ``PausedCalls``): the oldest
        not resumed yet, else the latest resumed; ``[]`` (with a warning) when none is."""
        if root is None:
            return []
        found = _bounded(lambda: _take(root, trace_id, agent, runs), "reading")
        if found is None:
            warn(
                "rollout trace: no paused run's calls were found under "
                f"{str(root)!r} for a run resumed from its state (trace {trace_id!r}): its "
                "tool call is recorded as call_<span id> with arguments {}",
                kind="Agents SDK paused calls not found",
            )
            return []
        return found

    def answered(self, root: Path | None, trace_id: str, call_ids: set[str]) -> None:
        """A run resumed under ``trace_id`` answered ``call_ids`` without running them (the
        calls were rejected: the SDK runs no ``function`` span, it sends the rejection): the
        files not resumed yet holding one of them are marked resumed, so that no later
        resumed run takes their calls for its own."""
        if root is not None and call_ids:
            _bounded(lambda: _mark(root, trace_id, call_ids), "reading")

    def _write(self, root: Path, trace_id: str, agent: str, calls: list[WaitingCall]) -> bool:
        data = self._encoded(trace_id, agent, calls, arguments=True)
        if len(data) > MAX_BYTES:
            data = self._encoded(trace_id, agent, calls, arguments=False)
        if len(data) > MAX_BYTES:
            raise ValueError(f"{len(data)} bytes of calls, over {MAX_BYTES}")
        root_fd = os.open(root, _DIR_FLAGS)
        try:
            with contextlib.suppress(FileExistsError):
                os.mkdir(FOLDER, 0o700, dir_fd=root_fd)
            folder = _private(os.open(FOLDER, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=root_fd), root)
        finally:
            os.close(root_fd)
        try:
            _prune(folder)
            name = f"{key_of(trace_id)}-{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}"
            fd = os.open(
                name + ".tmp",
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=folder,
            )
            try:
                _write_all(fd, data)
                if self._durable:
                    os.fsync(fd)
            except OSError:
                _remove(folder, name + ".tmp")
                raise
            finally:
                os.close(fd)
            os.rename(name + ".tmp", name + _FRESH, src_dir_fd=folder, dst_dir_fd=folder)
            if self._durable:
                os.fsync(folder)
        finally:
            os.close(folder)
        return True

    def _encoded(
        self, trace_id: str, agent: str, calls: list[WaitingCall], *, arguments: bool
    ) -> bytes:
        """The file's bytes: the calls redacted as the bundle's are; the trace id and the
        agent, which a resumed run looks for as they are, by their hashes (redacted, a trace
        id or agent name the redaction matched, a customer's id, was found by no run)."""
        data = orjson.dumps([_call(waiting, arguments) for waiting in calls], default=str)
        if self._redact is not False:
            from ..record.redact import RedactionConfig, Redactor

            config = self._redact if isinstance(self._redact, RedactionConfig) else None
            data = bytes(Redactor(config).redact(data))
        return b'{"trace":"%s","agent":"%s","calls":%s}' % (
            _hashed(trace_id).encode(),
            _hashed(agent).encode(),
            data,
        )


def _hashed(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()


def _call(waiting: WaitingCall, arguments: bool) -> dict[str, Any]:
    call = dict(waiting.call)
    if not arguments:
        call.pop("arguments", None)
    inner = waiting.inner.calls if waiting.inner is not None else []
    return {"call": call, "inner": [_call(one, arguments) for one in inner]}


def _waiting(value: Any) -> WaitingCall:
    """A kept call back as :meth:`WaitingCall.kept` gives it (``ValueError``: not one)."""
    if not isinstance(value, dict) or not isinstance(value.get("call"), dict):
        raise ValueError("not a kept call")
    inner = value.get("inner") or []
    if not isinstance(inner, list):
        raise ValueError("not a kept call")
    calls = [_waiting(one) for one in inner]
    return WaitingCall(value["call"], inner=PausedAgentRun(None, calls) if calls else None)


def _take(
    root: Path, trace_id: str, agent: str, runs: Callable[[list[dict[str, Any]]], bool]
) -> list[WaitingCall] | None:
    """The chosen paused run's calls (see :meth:`PausedFiles.resumed`), its file renamed
    ``.resumed``; ``None`` when no file fits."""
    folder = _folder(root)
    try:
        names = _names(folder, trace_id)
        for name in names:
            if not name.endswith(_FRESH):
                continue
            calls = _fitting(folder, name, trace_id, agent, runs)
            if calls is None or not _taken(folder, name):
                continue
            return calls
        for name in reversed(names):
            if name.endswith(_RESUMED):
                calls = _fitting(folder, name, trace_id, agent, runs)
                if calls is not None:
                    return calls
        return None
    finally:
        os.close(folder)


def _mark(root: Path, trace_id: str, call_ids: set[str]) -> None:
    """Mark resumed the files not resumed yet under ``trace_id`` whose calls (not those of
    an agent run as a tool under them) include one of ``call_ids``."""
    folder = _folder(root)
    try:
        for name in _names(folder, trace_id):
            body = _read(folder, name, trace_id) if name.endswith(_FRESH) else None
            calls = body.get("calls") if body is not None else None
            if isinstance(calls, list) and any(
                isinstance(one, dict)
                and isinstance(one.get("call"), dict)
                and one["call"].get("call_id") in call_ids
                for one in calls
            ):
                _taken(folder, name)
    finally:
        os.close(folder)


def _folder(root: Path) -> int:
    """The kept files' folder under ``root``, opened (the root followed: the user named it;
    the folder not, a symlink there is refused, as one not private: :func:`_private`)."""
    root_fd = os.open(root, _DIR_FLAGS)
    try:
        return _private(os.open(FOLDER, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=root_fd), root)
    finally:
        os.close(root_fd)


def _private(folder: int, root: Path) -> int:
    """``folder`` (an open descriptor) when it is this user's and no one else may write in
    it; else it is closed and ``PermissionError`` raised. The folder is made 0700, but one
    found there was taken as it was: made by another user (on a shared traces root), or
    0777, another local user could plant a run's calls for a resumed run to take as the
    model's, or swap the files (fix47). Checked on the opened folder, not its path, so the
    folder checked is the one used."""
    info = os.fstat(folder)
    owner = getattr(os, "geteuid", lambda: info.st_uid)()
    if info.st_uid != owner or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        os.close(folder)
        raise PermissionError(
            f"{str(root / FOLDER)!r} is not private to this user (owner uid {info.st_uid}, "
            f"mode {stat.S_IMODE(info.st_mode):o}): refused, as another user could plant or "
            "read its files"
        )
    return folder


def _names(folder: int, trace_id: str) -> list[str]:
    """The files kept under ``trace_id``, oldest first."""
    prefix = key_of(trace_id) + "-"
    return sorted(name for name in os.listdir(folder) if name.startswith(prefix))


def _taken(folder: int, name: str) -> bool:
    """Rename a file not resumed yet ``.resumed``: whether this call did (another process
    may take it first)."""
    try:
        os.rename(name, name.removesuffix(_FRESH) + _RESUMED, src_dir_fd=folder, dst_dir_fd=folder)
    except FileNotFoundError:
        return False
    return True


def _read(folder: int, name: str, trace_id: str) -> dict[str, Any] | None:
    """The run kept in ``name`` under ``trace_id``; ``None`` when it is no regular file, is
    too large, or holds no run of that trace id."""
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=folder)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            return None
        data = os.read(fd, MAX_BYTES + 1)
    finally:
        os.close(fd)
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) and body.get("trace") == _hashed(trace_id) else None


def _fitting(
    folder: int,
    name: str,
    trace_id: str,
    agent: str,
    runs: Callable[[list[dict[str, Any]]], bool],
) -> list[WaitingCall] | None:
    """The calls kept in ``name`` when its run is ``agent``'s under ``trace_id`` and ``runs``
    them; ``None`` otherwise, or when it is not a kept run (see :func:`_read`)."""
    body = _read(folder, name, trace_id)
    if body is None or body.get("agent") != _hashed(agent):
        return None
    try:
        calls = [_waiting(one) for one in body["calls"]]
    except (KeyError, TypeError, ValueError):
        return None
    return calls if calls and runs([waiting.call for waiting in calls]) else None


def _prune(folder: int) -> None:
    """Remove the files older than :data:`KEPT_SECONDS` (and leftovers of writes older than
    an hour), then the oldest past :data:`FILES_KEPT`, resumed ones first."""
    now = time.time()
    kept: list[tuple[bool, float, str]] = []
    for name in os.listdir(folder):
        try:
            age = now - os.stat(name, dir_fd=folder, follow_symlinks=False).st_mtime
        except OSError:
            continue
        stale = age > KEPT_SECONDS or (name.endswith(".tmp") and age > 3600)
        if stale:
            _remove(folder, name)
        elif not name.endswith(".tmp"):
            kept.append((not name.endswith(_RESUMED), -age, name))
    kept.sort()  # resumed first, oldest first
    for _, _, name in kept[: max(0, len(kept) - FILES_KEPT + 1)]:
        _remove(folder, name)


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte: ``os.write`` writes what fits on a filling disk and returns how
    much, and a file cut there would be published as a run kept."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _remove(folder: int, name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name, dir_fd=folder)


def _bounded(work: Callable[[], T], doing: str) -> T | None:
    """``work()`` in a thread of its own, waited for at most :data:`IO_TIMEOUT` seconds:
    its result, or ``None`` (with a warning) when it failed or took longer. A missing
    folder (no run paused under the root) is no failure."""
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except Exception as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name="rollout-trace-agents-paused", daemon=True)
    thread.start()
    thread.join(IO_TIMEOUT)
    if result:
        return result[0]
    if failure and isinstance(failure[0], FileNotFoundError) and doing == "reading":
        return None
    problem = repr(failure[0]) if failure else f"no answer in {IO_TIMEOUT:g} s"
    warn(
        f"rollout trace: {doing} the calls a paused Agents SDK run left waiting failed: "
        f"{problem} (a run resumed from its state in another process records its tool call "
        "as call_<span id>)",
        kind=f"Agents SDK paused calls {doing}",
    )
    return None
