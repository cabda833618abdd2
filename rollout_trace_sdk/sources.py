"""What a command was given: a bundle, a traces root holding bundles, or a reduced state.

Every command that reads a rollout (``reduce``, ``validate``, ``summary``, ``view``, ``show``)
resolves its argument here first, so the same mistake gets the same words whichever command
it was made with: a traces root lists its bundles (newest first) and ``--latest`` picks the
newest; a ``state.json`` where a bundle is needed says what to run instead. ``ls`` lists a
root with the same cheap reading: the manifest and the tail of the event log, never a
reduction.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import itertools
import os
import stat
import time
from pathlib import Path
from typing import Final, TextIO, TypeAlias

import attrs

from ._log_status import NO_LOG, LogStatus, log_status
from .model.json_check import manifest_value
from .model.layout import (
    EVENT_LOG,
    MANIFEST,
    PAYLOADS_DIR,
    REDACTED_SUFFIX,
    SPACE_RESERVE,
    STATE_FILE,
    is_work_in_progress,
)
from .reduce.errors import ReduceError
from .reduce.liveness import OpenLogs, log_fd_is_written
from .reduce.os_errors import errno_text
from .view.visible import one_line, visible

#: Bytes of the log's start searched for the root thread's first request (``ls``'s task):
#: its first events, however many threads start before it.
_HEAD: Final = 256 << 10
#: A bundle's start and schema, as its manifest says them (:func:`manifest_facts`).
Facts: TypeAlias = tuple[int | None, int | None]
_CHUNK: Final = 1 << 20
_THREAD_STARTED: Final = b'"type":"thread_started"'
#: A reference's capture, which a writer adds only to a payload it stored ``truncated`` or
#: ``omitted`` (v3.md, capture limits). Inside a JSON string these bytes would be escaped.
_CAPTURED_IN_PART: Final = b'"capture":{"status":"'
#: The bytes of one chunk searched again with the next, one short of the longer marker (the
#: thread's): a marker cut between them is found, a thread's never counted twice.
_CARRY: Final = max(len(_THREAD_STARTED), len(_CAPTURED_IN_PART)) - 1
#: Bundles listed in an error message before "... and N more".
_LISTED: Final = 10


class SourceError(Exception):
    """The argument is not what the command reads; the text says what to do instead."""


@attrs.frozen
class BundleInfo:
    """What ``ls`` shows of one bundle, read without reducing it."""

    path: Path
    started_at_unix_ms: int | None
    #: ``complete`` (closed by the recorder), ``recording`` (its writer is still at it: it
    #: holds the log's lock), ``ended`` (rollout ended, the writer did not finish),
    #: ``unclosed`` (its writer is gone: killed or crashed), ``torn`` (last line cut),
    #: ``empty`` (no events) or ``no log``
    status: str
    #: ``completed`` / ``failed`` / ``aborted`` from ``rollout_ended``, else ``None``
    rollout_status: str | None
    threads: int
    size: int
    #: the first line of the rollout's first user message (``ls`` only: see
    #: ``_bundle_task``), ``None`` when not read or there is none
    task: str | None = None
    #: its recorder reported loss (events or payloads dropped, values recorded
    #: approximately): a ``complete`` bundle that does not hold all the rollout did
    lossy: bool = False
    #: a payload was stored cut or left out by a capture limit (schema 3's
    #: ``max_payload_bytes`` / ``max_bytes``): the reducers' ``closed_with_partial_payloads``
    partial: bool = False
    #: the manifest's ``schema_version`` (2: Codex 0.169 reads it, 3: 0.171), ``None`` when
    #: it has none that is a whole number
    schema_version: int | None = None
    #: the root agent's last turn ended ``failed`` (a model error: Codex still ends the
    #: rollout ``completed``), read from the log's tail as the status is
    last_turn_failed: bool = False

    @property
    def started(self) -> str:
        """The start time, UTC, to the second (``-`` when unknown, or when no date can say
        it: a manifest's start past year 9999 or before year 1, as its own 2^64 - 1 or an
        i64's extremes, made ``ls`` an internal error; fuzz28)."""
        if self.started_at_unix_ms is None:
            return "-"
        try:
            moment = datetime.datetime.fromtimestamp(self.started_at_unix_ms / 1000, datetime.UTC)
        except (ValueError, OverflowError, OSError):
            return "-"
        return moment.strftime("%Y-%m-%d %H:%M:%S")


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


def looks_like_bundle(path: Path) -> bool:
    """A directory with any of a bundle's own entries (a damaged bundle still counts: the
    command then says what is wrong with it)."""
    return any(os.path.lexists(path / name) for name in (MANIFEST, EVENT_LOG, PAYLOADS_DIR))


def bundle_dirs(root: Path) -> list[Path]:
    """The bundles directly under ``root``, in name order: what ``ls`` lists, ``--latest``
    picks from and ``validate ROOT`` checks (paths only: nothing of a bundle is read)."""
    try:
        entries = sorted(os.scandir(root), key=_name)
    except OSError:
        return []
    return [
        Path(entry.path)
        for entry in entries
        if entry.is_dir(follow_symlinks=False)
        and not is_work_in_progress(entry.name)  # a killed convert or redact left it
        and looks_like_bundle(Path(entry.path))
    ]


def bundles_under(root: Path, *, task: bool = False) -> list[BundleInfo]:
    """The bundles directly under ``root``, newest first (``task``: with their tasks, which
    ``ls`` shows and ``--latest`` does not need); one ``/proc`` scan for all (``held``)."""
    held = OpenLogs()
    found = [bundle_info(path, task=task, held=held) for path in bundle_dirs(root)]
    found.sort(key=lambda b: (b.started_at_unix_ms or 0, b.path.name), reverse=True)
    return found


#: How many directories :func:`no_bundles_text` looks at below a root, and how many roots it
#: names: a hint, never a walk of a whole disk.
_DEEPER_SCAN: Final = 2000
_DEEPER_NAMED: Final = 3


def no_bundles_text(root: Path) -> str:
    """What to say of a root without bundles directly under it: ``ls``, ``validate`` and
    ``--latest`` read one root's own bundles, where ``export --to`` searches the whole tree,
    so a root of roots (``runs/exp1/trace-*``) names the roots below it that hold bundles."""
    text = f"no bundles under {one_line(str(root))}"
    deeper = roots_below(root)
    if not deeper:
        return text
    more = ", ..." if len(deeper) == _DEEPER_NAMED else ""
    named = ", ".join(one_line(str(path)) for path in deeper)
    return (
        f"{text}; bundles lie deeper, under {named}{more} "
        "(ls, validate and --latest read one root's own bundles)"
    )


def roots_below(root: Path) -> list[Path]:
    """The first few directories below ``root`` that hold bundles, in name order, breadth
    first, found looking at no more than ``_DEEPER_SCAN`` entries."""
    deeper: list[Path] = []
    queue, seen = [root], 0
    while queue and seen < _DEEPER_SCAN and len(deeper) < _DEEPER_NAMED:
        here = queue.pop(0)
        try:  # no more entries than the scan has left (a directory may hold millions)
            with os.scandir(here) as listing:
                entries = sorted(itertools.islice(listing, _DEEPER_SCAN - seen), key=_name)
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if not entry.is_dir(follow_symlinks=False) or is_work_in_progress(entry.name):
                continue
            path = Path(entry.path)
            if looks_like_bundle(path):  # its own subdirectories are not searched
                if here != root and here not in deeper:
                    deeper.append(here)
            else:
                queue.append(path)
    return deeper


def bundle_info(
    bundle: Path, *, task: bool = False, facts: Facts | None = None, held: OpenLogs | None = None
) -> BundleInfo:
    """Read the manifest and the log's tail (and count thread starts) of one bundle; with
    ``task``, its head and first request too (see ``_bundle_task``); ``facts``: as read by
    :func:`manifest_facts` already; ``held``: the command's one ``/proc`` scan (``None``: new)."""
    started, schema = facts if facts is not None else manifest_facts(bundle)
    said, threads, partial, head = _log_facts(bundle / EVENT_LOG, held)
    asked = None
    if task:  # its reading (zstd, confined opens) is imported by ``ls`` alone
        from ._bundle_task import first_task

        asked = first_task(bundle, head)
    size = _size(bundle)
    return BundleInfo(
        bundle,
        started,
        said.status,
        said.rollout_status,
        threads,
        size,
        asked,
        said.lossy,
        partial,
        schema,
        said.last_turn_failed,
    )


def manifest_facts(bundle: Path) -> Facts:
    """(start, schema) from one reading of the manifest: the start ``ls`` orders by, its
    ``started_at_unix_ms``, else the log's modification time, else ``None``; its
    ``schema_version`` (``None`` when it has none that is a whole number, or no manifest can
    be read)."""
    try:
        manifest = manifest_value(_read_regular(bundle / MANIFEST, 1 << 20))
    except (OSError, ValueError):
        manifest = None
    started, schema = (_whole(manifest, key) for key in ("started_at_unix_ms", "schema_version"))
    if started is None:
        with contextlib.suppress(OSError):  # none: its start is unknown
            started = int(os.lstat(bundle / EVENT_LOG).st_mtime * 1000)
    return started, schema


def _whole(manifest: object, key: str) -> int | None:
    """The manifest's ``key`` when it is a whole number."""
    value = manifest.get(key) if isinstance(manifest, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _read_regular(path: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of a regular file (never a FIFO or device, never through a
    symlink)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    with open(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        return handle.read(limit)


def _log_facts(log: Path, held: OpenLogs | None) -> tuple[LogStatus, int, bool, bytes]:
    """(status, threads started, whether a payload was captured in part, the log's first
    bytes) from the event log."""
    try:
        fd = os.open(log, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return NO_LOG, 0, False, b""
    with open(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return NO_LOG, 0, False, b""
        # asked before the log is read: a writer that closes meanwhile leaves a whole tail
        written = log_fd_is_written(fd)
        threads, partial, carry, head = 0, False, b"", b""
        while chunk := handle.read(_CHUNK):
            head = head or chunk[:_HEAD]  # a task is read from the log's start
            data = carry + chunk
            # a marker cut by the chunk's end is whole with the next chunk; the carry is one
            # byte short of a thread's marker, so none is counted twice
            threads += data.count(_THREAD_STARTED)
            partial = partial or _CAPTURED_IN_PART in data
            carry = data[-_CARRY:]
        said = log_status(handle, info.st_size, written, log.parent, held)
    return said, threads, partial, head


def _size(bundle: Path) -> int:
    """The bytes of the bundle's files, less its recorder's space reserve (room held, not
    data: ``SPACE_RESERVE``)."""
    total = 0
    for directory, _, files in os.walk(bundle):  # symlinks to directories are not followed
        for name in files:
            if name == SPACE_RESERVE:
                continue
            try:
                info = os.lstat(os.path.join(directory, name))
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                total += info.st_size
    return total


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover - the loop always returns


#: The status column's width at least (``ls`` widens it to its longest status).
STATUS_WIDTH: Final = 20


def status_text(info: BundleInfo) -> str:
    """The status column of a bundle: its status, then in brackets the rollout's outcome
    other than ``completed`` (else ``failed turn``: its root agent's last turn failed),
    ``lossy`` and ``partial`` (``complete (failed, lossy)``, ``complete (failed turn)``)."""
    said = [info.rollout_status] if info.rollout_status not in (None, "completed") else []
    said = said or ["failed turn"] * info.last_turn_failed
    said += ["lossy"] * info.lossy + ["partial"] * info.partial
    return f"{info.status} ({', '.join(map(str, said))})" if said else info.status


def describe(info: BundleInfo, status_width: int = STATUS_WIDTH) -> str:
    """One line per bundle: start, status, threads, size, path (``ls`` and error listings).

    Args:
        info: the bundle's facts.
        status_width: the status column's width (``ls``: its longest status's).

    Returns:
        The line, its path as it is (the caller spells out what it must).
    """
    threads = f"{info.threads} thread" + ("" if info.threads == 1 else "s")
    return (
        f"{info.started:<19}  {status_text(info):<{status_width}}  {threads:>10}  "
        f"{human_size(info.size):>9}  " + one_line(str(info.path))
    )


# --- resolving a command's argument -----------------------------------------------------------------


def resolve(
    source: str,
    command: str,
    *,
    latest: bool = False,
    needs_bundle: bool,
    takes_root: bool = False,
) -> str:
    """The bundle (or state file, or traces root) ``command`` should read for ``source``.

    Args:
        source: what the user gave.
        command: the subcommand, for the suggestions.
        latest: ``--latest``: ``source`` is a traces root; take its newest bundle (for
            ``redact``, the newest that is not a redacted copy: see :func:`_to_redact`).
        needs_bundle: the command reads bundles only (``reduce``, ``validate``).
        takes_root: the command reads every bundle of a traces root too (``validate``):
            a root is given back as it is, one whose bundles lie deeper is refused with
            where they are.

    Returns:
        ``source`` itself, or with ``latest`` the newest bundle under it.

    Raises:
        SourceError: a traces root without ``--latest`` (unless ``takes_root``), a root whose
            bundles lie deeper, ``--latest`` without bundles, a state file where a bundle is
            needed, or a bundle's own file (manifest, event log, payload) for its bundle.
        ReduceError: the path does not exist or is no bundle (the reducer's own words).
    """
    path = Path(source)
    shown = one_line(source)  # the messages' lines are their own (see ``one_line``)
    is_dir = path.is_dir()
    if latest:
        found = _latest(path)
        if command == "redact":
            return str(_to_redact(path, found))
        return str(found[0].path)
    if is_dir:
        if looks_like_bundle(path):
            return source
        if takes_root:
            if bundle_dirs(path):
                return source
            if roots_below(path):  # a root of roots: say where its bundles are
                raise SourceError(no_bundles_text(path))
        else:
            found = bundles_under(path)
            if found:
                raise SourceError(_root_text(source, command, found))
            if roots_below(path):  # a root of roots (the corpora's layout): say where
                raise SourceError(no_bundles_text(path))
        if needs_bundle:
            raise _not_a_bundle(source, errno_text(errno.ENOENT))
        return source
    if not os.path.lexists(path):
        if not needs_bundle:  # the state reader names what is missing
            return source
        raise _not_a_bundle(source, errno_text(errno.ENOENT))
    # before the state test: a command that reads a state file too would call the event log
    # one that does not parse ("trailing characters at line 2")
    part = _part_of_bundle(path)
    if part is not None:
        what, bundle = part
        raise SourceError(
            f"{shown} is a bundle's {what}; {command} reads the bundle directory\n"
            f"  run: rollout-trace {command} {one_line(str(bundle))}"
        )
    if not needs_bundle:
        return source
    if _is_state(path):
        raise SourceError(_state_text(source, command))
    raise _not_a_bundle(source, errno_text(errno.ENOTDIR))


def newest_pair(source: str) -> tuple[str, str]:
    """``diff ROOT --latest``'s two rollouts: the bundle before the newest, and the newest.

    Raises:
        SourceError: ``source`` is a bundle, or a root with fewer than two bundles.
    """
    found = _latest(Path(source))  # one listing: a bundle landing meanwhile is not both
    if len(found) < 2:
        raise SourceError(
            f"--latest: {one_line(source)} holds one bundle; diff compares two"
            " (give A B, or a root with two runs)"
        )
    return str(found[1].path), str(found[0].path)


def _latest(path: Path) -> list[BundleInfo]:
    """``--latest``'s bundles of the traces root ``path``, newest first.

    Raises:
        SourceError: ``path`` is a bundle, or no root with a bundle.
    """
    is_dir = path.is_dir()
    if is_dir and looks_like_bundle(path):
        raise SourceError(
            f"{one_line(str(path))} is a bundle; --latest picks the newest bundle under a"
            " traces root"
        )
    found = bundles_under(path) if is_dir else []
    if not found:
        raise SourceError(f"--latest: {no_bundles_text(path)}")
    return found


def _to_redact(root: Path, found: list[BundleInfo]) -> Path:
    """The newest of ``found`` (newest first) that is no redacted copy (``NAME-redacted``,
    the name ``redact`` gives its copy): a copy keeps its source's manifest, so the two tie on
    their start and the copy, named later, is the newest. ``redact ROOT --latest`` run twice
    took it and wrote ``NAME-redacted-redacted``; now it takes the recording again, whose
    copy exists (which ``redact`` says). A root of copies alone has nothing to redact
    (redacting a redacted bundle changes nothing): refused, the copies named."""
    for info in found:
        if not info.path.name.endswith(REDACTED_SUFFIX):
            return info.path
    count = len(found)
    names = ", ".join(one_line(str(info.path)) for info in found[:_LISTED])
    more = ", ..." if count > _LISTED else ""
    what = (
        "its one bundle is a redacted copy"
        if count == 1
        else f"its {count} bundles are redacted copies"
    )
    raise SourceError(
        f"--latest: no bundle to redact under {one_line(str(root))}: {what} ({names}{more})"
    )


def _part_of_bundle(path: Path) -> tuple[str, Path] | None:
    """What a file of a bundle is, and the bundle, when ``path`` is one: its manifest and its
    event log hold a schema version and a trace id as a state does, and must not be named
    as one. A symlink is judged by what it names (``latest-log -> BUNDLE/trace.jsonl``); a
    loop names nothing (``os.path.realpath``: ``Path.resolve`` raises on one before 3.13)."""
    real = Path(os.path.realpath(path))
    parent = real.parent
    if real.name in (MANIFEST, EVENT_LOG) and looks_like_bundle(parent):
        return ("manifest" if real.name == MANIFEST else "event log"), parent
    if parent.name == PAYLOADS_DIR and looks_like_bundle(parent.parent):
        return "payload", parent.parent
    return None


def _not_a_bundle(source: str, cause: str) -> ReduceError:
    """What the reducer says when ``source`` has no manifest (reduce and validate alike)."""
    manifest = f"{source.rstrip('/') or '/'}/{MANIFEST}"
    return ReduceError(f"read {manifest}", cause=cause, file=manifest)


def _is_state(path: Path) -> bool:
    if path.name == STATE_FILE:
        return True
    try:
        head = _read_regular(path, 4096)
    except (OSError, ValueError):
        return False
    return head.lstrip().startswith(b"{") and b'"schema_version"' in head and b'"trace_id"' in head


def _state_text(source: str, command: str) -> str:
    parent = Path(os.path.realpath(source)).parent
    shown = one_line(source)
    lines = [f"{shown} is a reduced state (state.json), not a bundle; {command} reads a bundle"]
    if looks_like_bundle(parent):
        lines.append(f"  run: rollout-trace {command} {one_line(str(parent))}")
    else:
        lines.append(
            f"  give the bundle directory it was reduced from: rollout-trace {command} BUNDLE"
        )
    lines.append(f"  to read the state itself: rollout-trace summary {shown}  (or show, view)")
    return "\n".join(lines)


#: The commands whose question a root's bundles answer together (totals, failures): a root
#: given to one is pointed at ``export`` and ``query`` too.
_ACROSS = frozenset({"summary", "show"})


def _root_text(source: str, command: str, found: list[BundleInfo]) -> str:
    source = one_line(source)
    count = len(found)
    lines = [
        f"{source} is a traces root, not a bundle; it holds {count} "
        f"bundle{'' if count == 1 else 's'} (newest first):"
    ]
    lines += [f"  {describe(info)}" for info in found[:_LISTED]]
    if count > _LISTED:
        lines.append(f"  ... and {count - _LISTED} more (rollout-trace ls {source})")
    lines.append(f"  name one, or take the newest: rollout-trace {command} {source} --latest")
    if command in _ACROSS:
        # a root of an RL run: what sums all its rollouts is the export, which nothing named
        lines.append(
            f"  all of them at once: rollout-trace export {source} --to TABLES, then "
            "rollout-trace query TABLES --recipe ... (docs/exports.md)"
        )
    return "\n".join(lines)


def wait_for_newest(root: str, command: str, err: TextIO, poll_s: float) -> str:
    """``show ROOT --latest --follow``: the root's newest bundle, waited for (said on ``err``)
    while the root has none; anything else ``--latest`` refuses is refused at once.

    Args:
        root: the traces root named.
        command: the command's name, for its messages.
        err: where the wait is said.
        poll_s: seconds between two looks at the root.

    Returns:
        The newest bundle's path, as :func:`resolve` gives it.

    Raises:
        SourceError: as :func:`resolve` with ``latest``.
    """
    path = Path(root)
    waited = False
    while path.is_dir() and not looks_like_bundle(path) and not bundles_under(path):
        if not waited:
            said = f"rollout-trace {command}: no bundle under {root} yet; waiting for one"
            print(visible(said), file=err, flush=True)
            waited = True
        time.sleep(poll_s)
    found = resolve(root, command, latest=True, needs_bundle=False)
    if waited:
        print(visible(f"rollout-trace {command}: following {found}"), file=err, flush=True)
    return found
