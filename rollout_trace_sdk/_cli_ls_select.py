"""Which bundles ``rollout-trace ls ROOT`` lists: its options' values (``--status``,
``--since`` / ``--before``, ``--thread``, ``--meta``, ``--limit``) read from the command
line, and the bundles picked with them, read no further than each needs.

A root a service fills holds thousands of bundles (review user37: 6,528, ``ls`` 1.4 s), and
the questions asked of it are narrow: the live ones, last hour's, one request's, what is old
enough to remove. So the cheap facts are asked first: ``--thread`` by the folder's name
alone, the start (which orders the listing) from each manifest, then ``--since`` /
``--before``; a status from the log's lock and last bytes only; ``--meta`` from the whole log
(a scan for its events' lines) of the bundles left; and a bundle's threads, size and task
(its whole log, every payload file, its first request) only for the rows printed, the
reading stopped once ``--limit`` rows are found.
"""

from __future__ import annotations

import argparse
import datetime
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, NamedTuple

import attrs
import orjson

from ._log_status import LogStatus, bundle_status
from .reduce.liveness import OpenLogs
from .sources import BundleInfo, bundle_dirs, bundle_info, manifest_facts
from .view.rollout_metadata import read_metadata

#: The statuses ``ls`` prints (``no log`` written ``no-log`` on the command line), the
#: outcomes it puts in brackets, and ``closed``: every status but ``recording`` (a bundle its
#: recorder no longer writes, which may be removed).
STATUSES: Final = (
    "complete",
    "recording",
    "ended",
    "unclosed",
    "torn",
    "empty",
    "no-log",
    "failed",
    "aborted",
    "lossy",
    "partial",
    "closed",
)
_OUTCOMES: Final = frozenset({"failed", "aborted"})

_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION: Final = re.compile(r"(?:\d+[smhdw])+")
_PART: Final = re.compile(r"(\d+)([smhdw])")
#: ``trace-<trace_id>-<root_thread_id>``: the trace id is a UUID (36 characters).
_FOLDER_THREAD_AT: Final = len("trace-") + 36 + 1


def status_list(text: str) -> frozenset[str]:
    """``--status``: one status or a comma list of them (``recording,unclosed``)."""
    words = {word.strip().replace(" ", "-") for word in text.split(",") if word.strip()}
    unknown = sorted(words - set(STATUSES))
    if not words or unknown:
        raise argparse.ArgumentTypeError(
            f"{(unknown or [text])[0]!r} is no status (one of {', '.join(STATUSES)})"
        )
    return frozenset(words)


def moment(text: str) -> int:
    """``--since`` / ``--before``: a duration back from now (``30m``, ``2h``, ``7d``,
    ``1h30m``; units s m h d w) or an ISO date or date and time (``2026-12-01``,
    ``2026-12-01T09:30``, ``2026-12-01 09:30:00Z``, ``...+02:00``; without a zone, local
    time), as Unix milliseconds."""
    if _DURATION.fullmatch(text):
        seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(text))
        return int(time.time() * 1000) - seconds * 1000
    try:
        when = datetime.datetime.fromisoformat(text)
        return int(when.astimezone().timestamp() * 1000)  # a naive time is local
    except (ValueError, OverflowError, OSError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is no duration (30m, 2h, 7d) or ISO date/time (2026-12-01, "
            "2026-12-01T09:30, 2026-12-01T09:30Z)"
        ) from None


def positive(text: str) -> int:
    """``--limit``: 1 or more."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be 1 or more")
    return value


#: ``--meta KEY`` alone: the key is there, whatever its value.
ANY_VALUE: Final = object()


class MetaWanted(NamedTuple):
    """One ``--meta``: the key, the value (``ANY_VALUE``: any) and the text it was given as
    (``None``: no value given)."""

    key: str
    value: object
    text: str | None


def meta_filter(text: str) -> MetaWanted:
    """``--meta KEY=VALUE`` (or ``KEY`` alone: any value): a rollout whose metadata
    (``Rollout.add_metadata``) holds that value under that key. The value is read as JSON
    when it is JSON (``17``, ``0.5``, ``true``, ``"17"``), else as text (``sort``); its text
    is kept for a value recorded as text (``1.10``, a version, is the number 1.1 as JSON)."""
    key, equals, value = text.partition("=")
    if not key:
        raise argparse.ArgumentTypeError(f"{text!r}: give KEY=VALUE, or KEY alone")
    if not equals:
        return MetaWanted(key, ANY_VALUE, None)
    try:
        return MetaWanted(key, orjson.loads(value), value)
    except orjson.JSONDecodeError:
        return MetaWanted(key, value, value)


def meta_matches(metadata: dict[str, Any], wanted: list[MetaWanted]) -> bool:
    """Whether ``metadata`` holds every ``--meta`` asked for: the key, with the value given
    (a number equal to it, ``17`` to ``17.0``; true or false only to a boolean; or, for a
    value recorded as text, the text as given, or as the value read as JSON is written:
    ``"17"`` for ``17``)."""
    for key, value, text in wanted:
        if key not in metadata:
            return False
        have = metadata[key]
        if value is ANY_VALUE or (
            have == value and isinstance(have, bool) == isinstance(value, bool)
        ):
            continue
        if not isinstance(have, str) or isinstance(value, str):
            return False
        if have != text and have != _text(value):
            return False
    return True


def _text(value: object) -> str:
    """The text a ``--meta`` value read as JSON is written as (``17`` for 17), to match a
    metadata value recorded as text (``"17"``) however it was given (`` 17``)."""
    return orjson.dumps(value).decode()


def thread_prefix(text: str) -> str:
    """``--thread``: a root thread id or the start of one; an empty one would pick every
    bundle, which no one asking for one request's rollout means."""
    if not text:
        raise argparse.ArgumentTypeError("'': give a root thread id or the start of one")
    return text


@attrs.frozen
class Picked:
    """What :func:`pick` found: the bundles to list, newest first, and how many it left out
    for a reason the listing must say."""

    bundles: list[BundleInfo]
    #: bundles whose start is unknown, not listed by ``--since`` / ``--before``
    unknown_start: int = 0
    #: bundles being recorded, not listed by ``--paths`` without ``--status``
    recording: int = 0
    #: bundles under the root before any option
    total: int = 0
    #: the metadata ``--meta`` read of each bundle it looked at, by path: ``ls --json`` prints
    #: it without reading each log a second time
    metadata: dict[Path, dict[str, Any]] = attrs.Factory(dict)


def pick(root: Path, args: argparse.Namespace, *, rows: bool) -> Picked:
    """The bundles directly under ``root`` that ``args`` asks for, newest first.

    Args:
        root: the traces root.
        args: ``ls``'s options (``status``, ``since``, ``before``, ``thread``, ``meta``,
            ``limit``).
        rows: the rows are printed (threads, size and task read); else paths alone, whose
            bundles are read for their start and status only.

    Returns:
        The bundles, with what was left out for an unknown start or as still recording.
    """
    paths = bundle_dirs(root)
    total = len(paths)
    if args.thread is not None:
        paths = [path for path in paths if folder_thread(path.name).startswith(args.thread)]
    dated = sorted(
        ((manifest_facts(path), path) for path in paths),
        key=lambda item: (item[0][0] or 0, item[1].name),
        reverse=True,
    )  # the order ``bundles_under`` gives
    timed = args.since is not None or args.before is not None
    unknown = 0
    found: list[BundleInfo] = []
    left: list[str] = []
    wanted = frozenset[str]().union(*args.status) if args.status else None
    open_logs = OpenLogs()  # one /proc scan for the command, not one a bundle
    metadata: dict[Path, dict[str, Any]] = {}
    for facts, path in dated:
        started = facts[0]
        if timed:
            if started is None or not _dated(started):
                unknown += 1
                continue
            if (args.since is not None and started < args.since) or (
                args.before is not None and started >= args.before
            ):
                continue
        if args.limit is not None and len(found) >= args.limit:
            break
        info = _read(
            path,
            facts,
            wanted,
            rows=rows,
            left=left,
            open_logs=open_logs,
            meta=args.meta or [],
            metadata=metadata,
        )
        if info is not None:
            found.append(info)
    return Picked(found, unknown, left.count("recording"), total, metadata)


def _read(
    path: Path,
    facts: tuple[int | None, int | None],
    wanted: frozenset[str] | None,
    *,
    rows: bool,
    left: list[str],
    open_logs: OpenLogs,
    meta: list[MetaWanted],
    metadata: dict[Path, dict[str, Any]],
) -> BundleInfo | None:
    """One bundle's facts if its status is ``wanted`` (``None``: any, but paths alone leave
    the bundles being recorded out, which ``left`` counts) and its metadata holds ``meta``
    (read after the status: the whole log); ``facts``: its start and schema, read from its
    manifest once (``sources.manifest_facts``); ``open_logs``: the command's one scan of the
    logs held open; ``metadata``: what ``meta`` read, kept by path."""
    # a partial capture is found in the whole log, which the status alone does not read
    whole = wanted is not None and "partial" in wanted
    if (wanted is not None or not rows) and not whole:
        said = bundle_status(path, open_logs)
        if wanted is None and said.status == "recording":
            left.append(said.status)
            return None
        if wanted is not None and not matches(said, wanted):
            return None
        if meta and not meta_matches(_metadata(path, metadata), meta):
            return None
        if not rows:
            started, schema = facts
            status, outcome = said.status, said.rollout_status
            lossy, turn_failed = said.lossy, said.last_turn_failed
            return BundleInfo(
                path, started, status, outcome, 0, 0, None, lossy, False, schema, turn_failed
            )
    elif meta and not meta_matches(_metadata(path, metadata), meta):
        return None
    info = bundle_info(path, task=rows, facts=facts, held=open_logs)
    if wanted is not None and not matches(info, wanted):
        return None  # its status changed between the two readings (a recorder closed it)
    return info


def _metadata(path: Path, read: dict[Path, dict[str, Any]]) -> dict[str, Any]:
    """A bundle's metadata (``read_metadata``: a pass over its log), kept in ``read``."""
    if path not in read:
        read[path] = read_metadata(path)
    return read[path]


def matches(said: BundleInfo | LogStatus, wanted: frozenset[str]) -> bool:
    """Whether a bundle of this status (its rollout's outcome, its loss) is one ``--status``
    asks for. ``failed`` is also a rollout whose root agent's last turn failed: Codex ends
    the session ``completed`` after a model error, and a run whose turn failed is what one
    looking for failed runs wants (``complete (failed turn)``); not while it is recorded: a
    turn that failed so far may be followed by one that goes on."""
    outcome = said.rollout_status
    return (
        said.status.replace(" ", "-") in wanted
        or (outcome in _OUTCOMES and outcome in wanted)
        or ("failed" in wanted and said.last_turn_failed and said.status != "recording")
        or ("lossy" in wanted and said.lossy)
        or ("partial" in wanted and isinstance(said, BundleInfo) and said.partial)
        or ("closed" in wanted and said.status != "recording")
    )


def folder_thread(name: str) -> str:
    """The root thread id a bundle's folder name holds (``trace-<trace_id>-<thread_id>``,
    a redacted copy's ``-redacted`` after it), ``""`` for a name of another form."""
    if not name.startswith("trace-") or name[_FOLDER_THREAD_AT - 1 : _FOLDER_THREAD_AT] != "-":
        return ""
    return name[_FOLDER_THREAD_AT:]


def _dated(started: int) -> bool:
    """Whether a date can say ``started`` (``ls`` prints ``-`` for one past year 9999 or
    before year 1: as unknown as a missing one)."""
    return BundleInfo(Path(), started, "", None, 0, 0).started != "-"


def none_text(root: str, picked: Picked) -> str:
    """What ``ls`` says when its options leave no bundle to list."""
    return f"no bundle under {root} matches (of {_bundles(picked.total)})"


def notes(picked: Picked) -> Iterator[str]:
    """The lines standard error gets about bundles left out for a reason other than the
    options' words (each a count and how to list them)."""
    if picked.unknown_start:
        count = picked.unknown_start
        yield (
            f"{_bundles(count)} whose start is unknown {'is' if count == 1 else 'are'} not "
            "listed (--since and --before compare starts; ls without them lists "
            f"{'it' if count == 1 else 'them'})"
        )
    if picked.recording:
        count = picked.recording
        yield (
            f"{_bundles(count)} still being recorded {'is' if count == 1 else 'are'} not "
            "listed (--status recording lists them)"
        )


def _bundles(count: int) -> str:
    return f"{count} bundle{'' if count == 1 else 's'}"
