"""``rollout-trace ls ROOT``: the bundles under a traces root, newest first, without reducing
any (``sources.bundle_info`` reads each one's manifest and the head and tail of its log);
which ones its options pick: ``_cli_ls_select``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Final, TextIO

from ._cli_help import columns
from ._cli_ls_select import (
    STATUSES,
    meta_filter,
    moment,
    none_text,
    notes,
    pick,
    positive,
    status_list,
    thread_prefix,
)
from .outputs import json_line
from .sources import (
    STATUS_WIDTH,
    BundleInfo,
    SourceError,
    describe,
    looks_like_bundle,
    no_bundles_text,
    status_text,
)
from .view.rollout_metadata import read_metadata
from .view.visible import json_visible, one_line, visible


def add_parser(commands: Any) -> None:
    """Add ``ls`` to the CLI's subparsers."""
    listing = commands.add_parser(
        "ls", help="list the bundles under a traces root, newest first (without reducing)"
    )
    listing.add_argument("root", metavar="ROOT", help="traces root (a directory of bundles)")
    shown = listing.add_mutually_exclusive_group()
    shown.add_argument(
        "--json",
        action="store_true",
        help="one JSON object a line per bundle (bundle, started, started_at_unix_ms, status, "
        "rollout_status, lossy, partial, last_turn_failed, schema_version, threads, size_bytes, "
        "task), newest first",
    )
    shown.add_argument(
        "-1",
        "--paths",
        action="store_true",
        help="the bundles' paths alone, one a line (not the ones being recorded, unless "
        "--status asks for them)",
    )
    shown.add_argument(
        "-0",
        dest="null",
        action="store_true",
        help="as --paths, each path followed by a NUL, its bytes as they are (xargs -0)",
    )
    picks = listing.add_argument_group("which bundles (each option given must hold)")
    picks.add_argument(
        "--status",
        type=status_list,
        action="append",
        metavar="WORD[,WORD]",
        help=f"with any of these statuses or outcomes ({', '.join(STATUSES)}: any but "
        "recording; failed: also a run whose last turn failed); a comma list, or the option "
        "again",
    )
    picks.add_argument(
        "--since",
        type=moment,
        metavar="WHEN",
        help="started at or after WHEN: a duration back from now (30m, 2h, 7d) or an ISO "
        "date/time (2026-12-01, 2026-12-01T09:30, ...Z; local time without a zone)",
    )
    picks.add_argument(
        "--before", type=moment, metavar="WHEN", help="started before WHEN (as --since)"
    )
    picks.add_argument(
        "--thread",
        type=thread_prefix,
        metavar="ID",
        help="whose root thread id (in the folder's name, trace-<trace_id>-<thread_id>) "
        "starts with ID",
    )
    picks.add_argument(
        "--meta",
        type=meta_filter,
        action="append",
        metavar="KEY[=VALUE]",
        help="whose metadata (Rollout.add_metadata) holds KEY with VALUE (JSON when it is: 17, "
        "0.5, true; else text), or KEY with any value; the option again: each must hold",
    )
    picks.add_argument(
        "--limit", type=positive, metavar="N", help="the newest N of them (stops reading there)"
    )


def cmd_ls(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print one entry per bundle picked (two lines, one JSON object with ``--json``, or
    its path alone with ``--paths`` / ``-0``).

    Args:
        args: the parsed command line (``root``, ``json``, ``paths``, ``null`` and the
            options :func:`._cli_ls_select.pick` reads).
        out: where the listing goes.
        err: where "no bundles", and what was left out without being asked, go.

    Returns:
        The exit status (0, or 2 for ``--since`` after ``--before``; a root that is no
        directory, or a bundle, raises SourceError).
    """
    if args.since is not None and args.before is not None and args.since >= args.before:
        print("rollout-trace ls: --since is not before --before: no start is between", file=err)
        return 2
    root = Path(args.root)
    if not root.is_dir():
        raise SourceError(f"{one_line(args.root)} is not a directory")
    if looks_like_bundle(root):
        raise SourceError(
            f"{one_line(args.root)} is a bundle; ls lists the bundles under a traces root"
        )
    paths = args.paths or args.null
    picked = pick(root, args, rows=not paths)
    for note in notes(picked):
        print(visible(note), file=err)
    if not picked.bundles:
        text = no_bundles_text(root) if not picked.total else none_text(args.root, picked)
        print(visible(text), file=err)
        return 0
    if args.null:
        _write_paths(out, [info.path for info in picked.bundles])
    elif paths:
        for info in picked.bundles:
            print(visible(str(info.path)), file=out)
    elif args.json:
        for info in picked.bundles:
            metadata = picked.metadata.get(info.path)  # ``--meta`` read it already
            if metadata is None:
                metadata = read_metadata(info.path)
            print(json_visible(describe_json(info, metadata)), file=out)
    else:
        status_width = max(STATUS_WIDTH, *(len(status_text(i)) for i in picked.bundles))
        print(ls_header(status_width), file=out)
        width = columns()
        for info in picked.bundles:
            print(visible(describe(info, status_width)), file=out)
            print(describe_task(info, width), file=out)
    return 0


def _write_paths(out: TextIO, paths: list[Path]) -> None:
    """``-0``: each path's bytes as the file system has them, NUL after each (for ``xargs
    -0``): a name with a newline, a control or bytes that are not UTF-8 reaches ``rm`` whole,
    where the text output spells them out."""
    buffer = getattr(out, "buffer", None)
    if buffer is None:  # a text stream of a program's own (tests): the names as ``str``
        out.write("".join(f"{path}\0" for path in paths))
        return
    out.flush()
    buffer.write(b"".join(os.fsencode(path) + b"\0" for path in paths))
    buffer.flush()


#: Where ``ls`` starts a bundle's task, on the line under its row: under the status, so the
#: start times stay a column of their own to scan.
_TASK_INDENT: Final = 21


def ls_header(status_width: int = STATUS_WIDTH) -> str:
    """``ls``'s heading: the columns of :func:`describe` (the task under each row needs
    none)."""
    return (
        f"{'STARTED (UTC)':<19}  {'STATUS':<{status_width}}  {'THREADS':>10}  {'SIZE':>9}  BUNDLE"
    )


#: The fewest columns a task gets, however narrow the terminal.
_TASK_MIN: Final = 16


def describe_task(info: BundleInfo, width: int) -> str:
    """The line under a bundle's row in ``ls``: its task (``-`` when none was found), its
    control characters spelled out, cut with ``…`` to end within ``width`` columns (a wide
    character takes two)."""
    from rich.cells import cell_len, get_character_cell_size  # the widths rich prints with

    text = visible(info.task) if info.task is not None else "-"
    room = max(width - _TASK_INDENT, _TASK_MIN)
    if cell_len(text) > room:
        kept: list[str] = []
        used = 1  # the ``…``
        for char in text:
            used += get_character_cell_size(char)
            if used > room:
                break
            kept.append(char)
        text = "".join(kept) + "…"
    return " " * _TASK_INDENT + text


def describe_json(info: BundleInfo, metadata: dict[str, Any]) -> str:
    """One JSON object per bundle (``ls --json``): what :func:`describe` prints, with numbers
    as numbers and the statuses as words, for scripts, and the rollout's ``metadata``
    (``Rollout.add_metadata``); a path that is not UTF-8 as ``outputs.json_line`` writes it."""
    row = {
        "bundle": str(info.path),
        "started": None if info.started == "-" else info.started,
        "started_at_unix_ms": info.started_at_unix_ms,
        "status": info.status,
        "rollout_status": info.rollout_status,
        "lossy": info.lossy,
        "partial": info.partial,
        "last_turn_failed": info.last_turn_failed,
        "schema_version": info.schema_version,
        "threads": info.threads,
        "size_bytes": info.size,
        "task": info.task,
        "metadata": metadata,
    }
    return json_line(row)
