"""What a bundle's event log says of its recording, from the log's lock and last lines alone.

``ls`` shows it for every bundle of a root, so it reads no more than the log's end (and, for
a log ending in a warning, the recorder's reports): ``complete`` when the last line is
``recording_completed``, ``recording`` while a writer is at the log (ours holds its lock;
Codex, which takes none, holds it open for writing: ``reduce.liveness``), ``ended``,
``unclosed``, ``torn`` or ``empty`` otherwise; the rollout's own outcome from
``rollout_ended``; ``lossy`` when our recorder's loss report is among the last lines (a closed
bundle that does not hold all the rollout did); ``last_turn_failed`` when the root agent's last
turn ended ``failed`` (Codex ends such a rollout ``completed``: a model error ends the turn,
not the session).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO, Final

import attrs
import orjson

from .model.layout import EVENT_LOG
from .reduce.liveness import OpenLogs, log_fd_is_written

#: Bytes read from the end of the event log to find its last events.
_TAIL: Final = 64 << 10
#: A last line longer than the tail is read whole up to this many bytes (a longer one is judged
#: by the lines before it, as if cut).
_TAIL_MAX: Final = 16 << 20
#: A turn's start and end: the last of the root agent's says whether its last turn failed.
_TURN_BOUNDS: Final = frozenset({"codex_turn_started", "codex_turn_ended"})


@attrs.frozen
class LogStatus:
    """What a bundle's log says of its recording, from its lock and last lines alone."""

    #: as :attr:`BundleInfo.status`
    status: str
    #: as :attr:`BundleInfo.rollout_status`
    rollout_status: str | None = None
    #: as :attr:`BundleInfo.lossy`
    lossy: bool = False
    #: as :attr:`BundleInfo.last_turn_failed`
    last_turn_failed: bool = False


NO_LOG: Final = LogStatus("no log")


def bundle_status(bundle: Path, open_logs: OpenLogs | None = None) -> LogStatus:
    """The status :func:`bundle_info` reads, from the log's lock and tail alone (``ls
    --status`` and ``--paths`` ask it of bundles whose threads, size and task they never
    show: the whole log and every payload file are not read); ``open_logs``: the command's
    one scan of the logs held open (``None``: scanned for this bundle if it needs one)."""
    try:
        fd = os.open(bundle / EVENT_LOG, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return NO_LOG
    with open(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return NO_LOG
        return log_status(handle, info.st_size, log_fd_is_written(fd), bundle, open_logs)


def log_status(
    handle: BinaryIO,
    size: int,
    written: bool | None,
    bundle: Path,
    open_logs: OpenLogs | None = None,
) -> LogStatus:
    """The status from the log's tail (``handle``: the log, opened), ``recording`` when
    ``written`` (its writer holds the log's lock: whatever the tail says now) or, for a log not
    closed, when a process holds it open for writing (Codex, which takes no lock: asked of
    ``open_logs``, the command's one ``/proc`` scan, made here when ``None``). Lossy when the
    tail holds a warning that is our recorder's loss report (its text is a payload: read only
    for a tail with a warning)."""
    status, rollout_status, warned, turn_failed = _tail_facts(*_last_lines(handle, size))
    if status != "complete" and (
        written is True or (open_logs or OpenLogs()).holds(os.fstat(handle.fileno())) is True
    ):
        status = "recording"
    lossy = False
    if warned and status != "recording":
        from .view.reports import loss_reported  # opens the payloads (shards: zstd)

        lossy = loss_reported(bundle)
    return LogStatus(status, rollout_status, lossy, turn_failed)


def _last_lines(handle: BinaryIO, size: int) -> tuple[bytes, bool]:
    """The log's last bytes, holding its last line whole (up to ``_TAIL_MAX``: a last line
    longer than the tail would leave nothing to judge but its cut end), and whether they
    start inside a line."""
    length = _TAIL
    while True:
        handle.seek(max(0, size - length))
        tail = handle.read(length)
        cut = size > length
        if not cut or b"\n" in tail.rstrip() or length >= _TAIL_MAX:
            return tail, cut
        length *= 4


def _tail_facts(tail: bytes, cut: bool) -> tuple[str, str | None, bool, bool]:
    """(status, rollout status, whether a ``warning`` protocol event is among them, whether
    the root agent's last turn there ended ``failed``) from the log's last bytes (``cut``: the
    first line may be a part of one). The root agent's lines are those whose ``thread_id`` is
    the ``rollout_id`` (Codex's and our recorder's root thread is the rollout's id); its last
    turn ends a few lines before ``recording_completed``, well inside the tail."""
    if not tail.strip():
        return "empty", None, False, False
    lines = tail.split(b"\n")
    torn = lines[-1] != b""
    types: list[str] = []
    rollout_status = None
    warned = turn_failed = False
    for line in lines[1:] if cut else lines:  # the first may be cut
        if not line.strip():
            continue
        try:
            event = orjson.loads(line)
            payload = event["payload"]
            types.append(str(payload["type"]))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            types.append("")  # not an event
            continue
        if payload["type"] == "rollout_ended":
            value = payload.get("status")
            rollout_status = value if isinstance(value, str) else None
        elif payload["type"] == "protocol_event_observed":
            warned = warned or payload.get("event_type") == "warning"
        elif payload["type"] in _TURN_BOUNDS and event.get("thread_id") == event.get("rollout_id"):
            turn_failed = payload.get("status") == "failed"  # a turn started since: not failed
    # a last line that is no event, even followed by its newline or blank lines (a write cut
    # off, then more appended), leaves the log as torn as one cut mid-line: reducers refuse it
    if torn or (types and not types[-1]):
        return "torn", rollout_status, warned, turn_failed
    if types and types[-1] == "recording_completed":
        return "complete", rollout_status, warned, turn_failed
    if rollout_status is not None:
        return "ended", rollout_status, warned, turn_failed
    return "unclosed", rollout_status, warned, turn_failed
