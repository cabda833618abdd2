"""The ``export`` subcommand: one argument parser, one writer per ``--format``.

A format is a function ``(args, out, err) -> exit code`` in ``_FORMATS``; the modules that do
the work are imported only when their format is chosen, so optional extras (pyarrow, duckdb,
ray, opentelemetry) are needed only by the formats that use them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

if TYPE_CHECKING:
    from .lock import Holder

_Writer = Callable[[argparse.Namespace, TextIO, TextIO], int]


def add_parsers(commands: Any) -> None:
    """Add ``export`` to the CLI's subparsers."""
    export = commands.add_parser(
        "export",
        help="export rollouts to other tools (perfetto: Chrome trace-event JSON; parquet: "
        "analytics tables over many bundles; otlp: OpenTelemetry GenAI spans)",
    )
    export.add_argument(
        "sources",
        nargs="*",
        metavar="SOURCE",
        help="bundle directory or a state.json file; a traces root lists its bundles (--latest "
        "takes the newest), except for parquet, which exports every bundle under it; for "
        "parquet also an fsspec URL (s3://, gs://, file://)",
    )
    export.add_argument(
        "--latest",
        action="store_true",
        help="each SOURCE is a traces root: export its newest bundle",
    )
    export.add_argument(
        "--format",
        choices=sorted(_FORMATS),
        help="output format (default perfetto; parquet with --to)",
    )
    export.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="file to write (perfetto, otlp); with --format parquet, the export directory",
    )
    export.add_argument("--lenient", action="store_true", help="reduce leniently (bundles)")
    otlp = export.add_argument_group("otlp (needs the [otel] extra)")
    otlp.add_argument(
        "--endpoint", metavar="URL", help="send to this OTLP/HTTP receiver (instead of -o FILE)"
    )
    otlp.add_argument(
        "--inline-payloads",
        action="store_true",
        help="put messages, tool arguments/results and payload bodies on the spans",
    )
    tables = export.add_argument_group("parquet (needs the [analytics] extra)")
    tables.add_argument("--to", metavar="DIR", help="export directory (path or fsspec URL)")
    # no defaults here (None: not given), so that one given to another format is refused
    tables.add_argument("--jobs", type=int, metavar="N", help="worker processes (default: CPUs)")
    tables.add_argument(
        "--engine", choices=("process", "ray"), help="process pool (default) or Ray"
    )
    tables.add_argument(
        "--payload-text", action="store_true", help="store payload bodies in raw_payloads.text"
    )
    tables.add_argument(
        "--prune",
        action="store_true",
        help="remove the rows of sources earlier runs exported that SOURCES no longer hold",
    )
    tables.add_argument(
        "--lock-timeout",
        type=float,
        metavar="SECONDS",
        help="how long to wait for another export into DIR to end (default: as long as it "
        "takes; 0: refuse at once)",
    )
    tables.add_argument(
        "--compact",
        action="store_true",
        help="also merge every small bundle's parts and small pack into packs now (an export "
        "packs as it goes and leaves a few); without SOURCE, only that",
    )
    from .query import add_parser as add_query_parser

    add_query_parser(commands)


def cmd_export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the chosen format's writer (``--to`` implies parquet, ``--endpoint`` otlp)."""
    if args.format is None:
        args.format = (
            "parquet" if args.to or args.compact else "otlp" if args.endpoint else "perfetto"
        )
    if not args.sources and not (args.compact and args.format == "parquet"):
        # (SOURCE is optional for --compact alone: an export directory packed, nothing added)
        print("rollout-trace export: give a SOURCE (a bundle, a state file or a root)", file=err)
        return 2
    # an option of another format would be quietly ignored: say so instead
    ignored = [name for name in _given(args) if args.format not in _OPTION_FORMATS[name]]
    if ignored:
        also = " (its output is --to DIR)" if "-o" in ignored else ""
        print(
            f"rollout-trace export: {', '.join(ignored)} is not for --format {args.format}{also}",
            file=err,
        )
        return 2
    return _FORMATS[args.format](args, out, err)


#: The formats each format-specific option is for (``-o``: with ``--to``, see ``_given``).
_OPTION_FORMATS: Final[dict[str, tuple[str, ...]]] = {
    "--to": ("parquet",),
    "--endpoint": ("otlp",),
    "-o": ("perfetto", "otlp"),
    "--inline-payloads": ("otlp",),
    "--jobs": ("parquet",),
    "--engine": ("parquet",),
    "--payload-text": ("parquet",),
    "--prune": ("parquet",),
    "--lock-timeout": ("parquet",),
    "--compact": ("parquet",),
}


def _given(args: argparse.Namespace) -> list[str]:
    """The format-specific options given, in ``_OPTION_FORMATS``' order. ``-o`` counts only
    beside ``--to``: alone it names the parquet directory, as ``--to`` does."""
    given = {
        "--to": args.to is not None,
        "--endpoint": args.endpoint is not None,
        "-o": args.output is not None and args.to is not None,
        "--inline-payloads": args.inline_payloads,
        "--jobs": args.jobs is not None,
        "--engine": args.engine is not None,
        "--payload-text": args.payload_text,
        "--prune": args.prune,
        "--lock-timeout": args.lock_timeout is not None,
        "--compact": args.compact,
    }
    return [name for name in _OPTION_FORMATS if given[name]]


def cmd_query(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``rollout-trace query``."""
    from .query import cmd_query as run

    return run(args, out, err)


def _resolved(args: argparse.Namespace, err: TextIO, *, roots: bool = False) -> list[str] | None:
    """The SOURCES as the reading commands take theirs (``sources.resolve``): a traces root
    lists its bundles (``rollout-trace reduce ROOT`` does the same) and ``--latest`` takes its
    newest; ``roots``: a root is exported whole (parquet) unless ``--latest`` is given, and a
    URL is taken as it is. None after saying why not (a usage error).

    Raises:
        SourceError: a traces root without ``--latest``, ``--latest`` without bundles under
            a SOURCE (the CLI reports it, exit 1).
    """
    from ..sources import resolve
    from .listing import is_url

    if "" in args.sources:
        print(
            "rollout-trace export: an empty path names nothing; give a bundle, a state file "
            "or a root",
            file=err,
        )
        return None
    if roots and args.latest and any(is_url(s) for s in args.sources):
        print("rollout-trace export: --latest reads local traces roots, not URLs", file=err)
        return None
    if roots and not args.latest:
        # a root is exported whole, a URL as it is; a bundle's own file is named as one
        return [
            s if is_url(s) or os.path.isdir(s) else resolve(s, "export", needs_bundle=False)
            for s in map(str, args.sources)
        ]
    return [resolve(str(s), "export", latest=args.latest, needs_bundle=False) for s in args.sources]


def _single_source(args: argparse.Namespace, err: TextIO) -> str | None:
    """The one source a single-rollout format takes, or None after saying why."""
    if len(args.sources) != 1:
        print(f"rollout-trace export: --format {args.format} takes one SOURCE", file=err)
        return None
    sources = _resolved(args, err)
    return None if sources is None else sources[0]


def _perfetto(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Write the Chrome trace-event JSON (opens in ui.perfetto.dev and chrome://tracing)."""
    import orjson

    from ..view.commands import load_noting, write_named
    from .perfetto import chrome_trace

    source = _single_source(args, err)
    if source is None:
        return 2
    if not args.output:
        print("rollout-trace export: --format perfetto needs -o FILE", file=err)
        return 2
    notes: list[str] = []
    state = load_noting(source, args.lenient, err, notes)
    from ..view.reports import recorder_reports

    trace = chrome_trace(state, notes, recorder_reports(source))
    try:
        document = orjson.dumps(trace)
    except TypeError:  # a time past int64 (a start of +-2^63 ms, as Codex reads; fuzz28)
        import json

        document = json.dumps(trace, separators=(",", ":")).encode()
    return write_named(
        "export", [source], args.output, Path(args.output), lambda: [document], out, err
    )


def _otlp(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Send OpenTelemetry GenAI spans to an OTLP/HTTP receiver, or write OTLP/JSON lines."""
    try:
        from .otlp_run import export_otlp
    except ImportError as exc:
        print(
            f"rollout-trace export: --format otlp needs the otel extra "
            f"(pip install '.[otel]' in a checkout): {exc}",
            file=err,
        )
        return 2
    sources = _resolved(args, err)
    if sources is None:
        return 2
    args.sources = sources
    return export_otlp(args, out, err)


def _parquet(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Write the analytics tables for every bundle under the sources (see parquet.py)."""
    target = args.to or args.output
    if not target:
        print("rollout-trace export: --format parquet needs --to DIR", file=err)
        return 2
    from ..view.visible import one_line, visible

    if not args.to and target != "-":
        # -o is "the file to write" elsewhere; a Parquet export is a directory of parts
        print(
            visible(
                f"note: -o names the export directory with --format parquet (--to DIR): {target}"
            ),
            file=err,
        )
    jobs, engine = args.jobs or 0, args.engine or "process"
    if jobs < 0:
        print("rollout-trace export: --jobs must be 0 (all CPUs) or more", file=err)
        return 2
    if args.lock_timeout is not None and not args.lock_timeout >= 0:  # NaN too
        print("rollout-trace export: --lock-timeout must be 0 (refuse at once) or more", file=err)
        return 2
    try:
        import fsspec  # noqa: F401
        import pyarrow  # noqa: F401

        if engine == "ray":
            import ray  # noqa: F401
    except ImportError as exc:
        extra = "ray" if engine == "ray" else "analytics"
        print(
            f"rollout-trace export: needs {exc.name}: pip install '.[{extra}]' in a checkout",
            file=err,
        )
        return 2
    from ..outputs import bundle_around
    from .export_dir import ExportDir
    from .listing import is_url, lenient_hint, named
    from .parquet import BundleResult, ExportBusy, ExportOptions, run_export

    if target == "-":
        print("rollout-trace export: - names standard output; --to needs a directory", file=err)
        return 2

    # workers (Ray's above all) need not share this process's working directory
    target = target if is_url(target) else str(Path(target).absolute())
    inside = None if is_url(target) else bundle_around(Path(target))
    if inside is not None:
        print(f"rollout-trace export: {target} is inside the bundle {inside}", file=err)
        return 2

    def report(result: BundleResult) -> None:
        """One line per bundle that failed or was exported leniently; its error quotes the
        bundle's (agent-controlled) ids and paths, so control characters and newlines are
        spelled out."""
        if result.status == "failed":
            error = str(result.error)
            error = lenient_hint(error) if result.lenient_reads else error
            line = f"rollout-trace export: {named(result.source, error)}"
            print(one_line(visible(line)), file=err)
        elif result.status == "lenient":
            line = (
                f"lenient: {result.source}: exported as far as it goes ({result.error}); "
                f"skipped {len(result.notes)} thing(s)"
            )
            print(one_line(visible(line)), file=err)

    sources = _resolved(args, err, roots=True)
    if sources is None:
        return 2
    if not sources and not _is_export(target):
        print(f"rollout-trace export: {target}: not an export to compact", file=err)
        return 1
    options = ExportOptions(to=target, lenient=args.lenient, payload_text=args.payload_text)
    made = _made_from(target)  # removed again if nothing is exported into it
    try:
        # held until the directory it made is removed too (run_export holds it again)
        with ExportDir(target).lock(
            args.lock_timeout, lambda holder: _waiting(target, holder, err)
        ):
            summary = run_export(
                sources,
                options,
                jobs=jobs,
                engine=engine,
                on_result=report,
                prune=args.prune,
                compact=args.compact,
            )
            failed = len(summary.failed)
            gone = made is not None and failed == len(summary.exported) and _removed(target, made)
    except ExportBusy as exc:
        how = (
            "refused at once (--lock-timeout 0)"
            if args.lock_timeout == 0
            else f"gave up after {args.lock_timeout:g} s (--lock-timeout)"
        )
        print(
            visible(f"rollout-trace export: {target}: {exc.holder} is writing it; {how}"), file=err
        )
        return 1
    except OSError as exc:
        print(f"rollout-trace export: {exc.filename or target}: {exc.strerror or exc}", file=err)
        return 1
    except ImportError as exc:  # fsspec names the package a URL's filesystem needs (s3fs, gcsfs)
        print(f"rollout-trace export: {exc}", file=err)
        return 2
    for line in summary.listing_errors:
        print(f"rollout-trace export: {line}", file=err)
    for spec in summary.stale:
        print(
            visible(
                f"rollout-trace export: {spec}: exported by another tables version and cannot "
                f"be listed to export again; query refuses {target} until it is (or --prune "
                "removes its rows)"
            ),
            file=err,
        )
    if summary.gone:
        print(
            visible(
                f"note: {len(summary.gone)} bundle(s) exported earlier from these sources are "
                f"gone (moved or deleted), e.g. {summary.gone[0]}: their rows stay in {target} "
                "(counted twice if moved) until export --prune"
            ),
            file=err,
        )
    unclosed = [r.source for r in summary.exported if r.unclosed]
    if unclosed:
        print(
            visible(
                f"note: {len(unclosed)} exported bundle(s) were never closed (their recorder "
                f"was killed, crashed or could not write: a full disk), e.g. {unclosed[0]}: "
                "exported as far as they go "
                "(rollouts.recording_status is 'unclosed')"
            ),
            file=err,
        )
    if summary.recording:
        print(
            visible(
                f"note: {len(summary.recording)} bundle(s) still being recorded were not "
                f"exported, e.g. {summary.recording[0]}: a later export picks them up once "
                "they are finished (the manifest says `recording`)"
            ),
            file=err,
        )
    if summary.repaired:
        print(
            visible(
                f"note: {summary.repaired} bundle(s) whose files were missing from {target} "
                "were forgotten: export their sources again"
            ),
            file=err,
        )
    print(
        f"exported {len(summary.exported) - failed} bundle(s), {failed} failed, "
        f"{summary.skipped} unchanged (skipped)"
        + (f", {summary.pruned} pruned" if summary.pruned else "")
        + (f", {len(summary.recording)} still recording" if summary.recording else "")
        + (f", {summary.packed} packed" if summary.packed else "")
        + (
            f", {summary.upgraded} of another tables version exported again"
            if summary.upgraded
            else ""
        )
        + (f" to {target}" if not gone else "")
        + f" in {summary.seconds:.1f} s"
        + (f": {target} not made (nothing exported)" if gone else ""),
        file=out,
    )
    return 1 if failed or summary.listing_errors or summary.stale else 0


def _waiting(target: str, holder: Holder, err: TextIO) -> None:
    """Say at once that the export waits for another into the same directory, and how to
    stop it (``.lock`` says why it waits rather than refuses)."""
    from ..view.visible import visible

    print(
        visible(
            f"note: {target}: {holder} is writing it; waiting for it to end (Ctrl-C stops; "
            "--lock-timeout SECONDS bounds the wait)"
        ),
        file=err,
        flush=True,
    )


def _made_from(target: str) -> str | None:
    """The outermost directory an export to ``target`` makes: ``target`` itself, or the first
    of its parents that does not exist (``--to new/a/b`` makes ``new``); None when ``target``
    exists, or whether it does is unknown (a URL whose filesystem is not installed is the
    export's to report)."""
    import posixpath

    from .export_dir import ExportDir

    try:
        out = ExportDir(target)
        path: str = out.root
        if out.fs.exists(path):
            return None
        while (parent := posixpath.dirname(path)) not in ("", path) and not out.fs.exists(parent):
            path = parent
        return path
    except (OSError, ImportError, ValueError):
        return None


def _removed(target: str, made: str) -> bool:
    """Remove the export directory this run made when it holds no exported bundle (every
    SOURCE failed), and the parents it made for it up to ``made`` while they are empty: a
    failed command leaves nothing behind (see ``ExportDir.remove_if_empty``; ``--to a/b/c``
    left ``a/b``, found by review34). Only empty directories go, so a file anyone put there
    meanwhile stays, with the directories above it.

    Returns:
        Whether ``target`` is gone (or was never made).
    """
    import posixpath

    from .export_dir import ExportDir

    try:
        out = ExportDir(target)
        if out.fs.exists(out.root) and not out.remove_if_empty():
            return False
    except OSError:
        return False
    path = out.root
    with contextlib.suppress(OSError):  # a parent someone put a file in meanwhile: it stays
        while path != made and (path := posixpath.dirname(path)).startswith(made):
            out.fs.rmdir(path)
    return True


def _is_export(target: str) -> bool:
    """Whether ``target`` holds an export's manifest (local path or URL)."""
    from .export_dir import MANIFEST_NAME, ExportDir

    try:
        out = ExportDir(target)
        return bool(out.fs.exists(f"{out.root}/{MANIFEST_NAME}"))
    except OSError:
        return False


_FORMATS: Final[dict[str, _Writer]] = {
    "otlp": _otlp,
    "perfetto": _perfetto,
    "parquet": _parquet,
}
