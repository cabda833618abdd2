"""The ``view``, ``show`` and ``diff`` subcommands (registered by ``cli.py``; the logic lives
here)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO


def add_parsers(commands: Any) -> None:
    """Add ``view``, ``show`` and ``diff`` to the CLI's subparsers."""
    view = commands.add_parser(
        "view", help="open a rollout in an HTML viewer (file or local server)"
    )
    view.add_argument(
        "source", metavar="BUNDLE_OR_STATE", help="bundle directory or a state.json file"
    )
    view.add_argument(
        "-o", "--output", metavar="FILE", help="page to write (default BUNDLE/view.html)"
    )
    view.add_argument(
        "--serve", action="store_true", help="serve on 127.0.0.1 and follow a live bundle"
    )
    view.add_argument(
        "--port",
        type=_port,
        default=8765,
        metavar="N",
        help="port for --serve (default 8765; 0 = any)",
    )
    view.add_argument("--lenient", action="store_true", help="reduce leniently (bundles)")

    show = commands.add_parser("show", help="print a rollout as a readable transcript")
    show.add_argument(
        "source", metavar="BUNDLE_OR_STATE", help="bundle directory or a state.json file"
    )
    show.add_argument(
        "--thread",
        metavar="PATH",
        help="only this agent (agent path, nickname, thread id or its prefix)",
    )
    show.add_argument(
        "--call",
        metavar="ID",
        help=(
            "only this inference call (its conversation), tool call, code cell or compaction"
            " (id or its prefix)"
        ),
    )
    show.add_argument("--full", action="store_true", help="do not truncate outputs")
    show.add_argument("--lenient", action="store_true", help="reduce leniently (bundles)")
    show.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="then print what the recording adds, until it closes (a bundle, or ROOT --latest:"
        " waits for one)",
    )

    diff = commands.add_parser(
        "diff", help="compare two rollouts agent by agent: where their steps part ways"
    )
    diff.add_argument("source", metavar="A", help="bundle directory or a state.json file")
    diff.add_argument(
        "other",
        metavar="B",
        nargs="?",
        help="bundle directory or a state.json file (none: A is a root, --latest compares its"
        " two newest bundles)",
    )
    diff.add_argument(
        "--thread", metavar="PATH", help="only this agent (its path: /root/..., or its nickname)"
    )
    diff.add_argument(
        "--steps", action="store_true", help="list every step of both, aligned (- A, + B, ~ both)"
    )
    diff.add_argument(
        "--context",
        type=_count,
        metavar="N",
        help="with --steps: only N steps alike around each difference (the others counted)",
    )
    diff.add_argument(
        "--ignore",
        action="append",
        metavar="REGEX",
        help="leave what this matches out of the comparison (a process id, a time, a temporary"
        " path; repeatable)",
    )
    diff.add_argument(
        "--actions-only",
        action="store_true",
        help="compare what the agents did, not the results they got",
    )
    diff.add_argument("--json", action="store_true", help="print the comparison as JSON")
    diff.add_argument(
        "--exit-code",
        action="store_true",
        help="exit 3 when the rollouts differ (0 when every step is alike)",
    )
    diff.add_argument("--lenient", action="store_true", help="reduce leniently (bundles)")
    diff.add_argument(
        "--by",
        metavar="KEY",
        help="A and B are traces roots: pair their bundles by this metadata key (a task's id)"
        " and compare each pair, one line each (--json: one object a line)",
    )
    diff.add_argument(
        "--meta-a",
        action="append",
        metavar="KEY=VALUE",
        help="with --by: A's bundles are those whose metadata holds this (version=v1); repeatable",
    )
    diff.add_argument(
        "--meta-b",
        action="append",
        metavar="KEY=VALUE",
        help="with --by: B's bundles (version=v2); B may then be left out (A's root)",
    )


def _count(text: str) -> int:
    """A count of 0 or more, checked while parsing (a usage error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid count: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value}: must be 0 or more")
    return value


def _port(text: str) -> int:
    """A TCP port, 0 to 65535, checked while parsing: a usage error, not the socket's
    ``OverflowError`` once the page is being served."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0 to 65535, not {port}")
    return port


def notes_to(notes: list[str], err: TextIO) -> None:
    """Say on ``err`` what lenient reduction skipped (nothing when it skipped nothing), with
    control characters spelled out: a note quotes the bundle's ids, which the agent chose."""
    if notes:
        from .lenient_notes import lenient_lines
        from .visible import visible

        for line in lenient_lines(notes):
            print(visible(line), file=err)


def load_noting(
    source: str | Path, lenient: bool, err: TextIO, notes: list[str] | None = None
) -> Any:
    """The reduced state of a bundle or state file (``load.load_state``), with what lenient
    reduction skipped said on ``err`` (and appended to ``notes``, for a page that says it
    too); what every command showing a rollout starts with."""
    from .load import load_state
    from .progress import reduction_progress

    notes = [] if notes is None else notes
    # a bar on a terminal's stderr past a second, as `reduce` and `summary` draw it
    with reduction_progress(err, f"reducing {Path(source).name}") as progress:
        state = load_state(source, lenient=lenient, skipped=notes, progress=progress)
    notes_to(notes, err)
    return state


def write_named(
    command: str,
    sources: Sequence[str | Path],
    output: str | None,
    default: Path,
    data: Callable[[], Iterable[bytes]],
    out: TextIO,
    err: TextIO,
) -> int:
    """Write a command's output by :func:`~..outputs.write_output`'s rules (``-`` is standard
    output; a path is refused when it would clobber one of ``sources``, what the command read,
    whether the user named it or it is the ``default``, which ``view run.html`` makes the
    state file itself; the default path, not named, is replaced, never written through) and
    name the file on ``out``: 0. Say on ``err`` why it could not be written: 1 (2 for a
    refused path)."""
    from ..outputs import StandardOutputClosed, forbidden_output, write_output
    from .visible import visible  # paths are named by whoever made them: spelled out as well

    if output == "":
        print(f"rollout-trace {command}: -o needs a file name (or - for standard output)", file=err)
        return 2
    target = output or str(default)
    if target != "-":
        for source in sources:
            why = forbidden_output(Path(source), Path(target))
            if why is not None:
                hint = "" if output is not None else "; name another with -o FILE"
                print(visible(f"rollout-trace {command}: {why}{hint}"), file=err)
                return 2
    try:
        to_out = write_output(target, data(), out, named=output is not None)
    except (BrokenPipeError, StandardOutputClosed):
        # `-o - | head`: the reader has all it wanted (``main`` ends quietly); `>&-`: ``main``
        # says standard output is closed, as every command does
        raise
    except OSError as exc:
        why = f"cannot write {target}: {exc.strerror or exc}"
        print(visible(f"rollout-trace {command}: {why}"), file=err)
        return 1
    if not to_out:
        print(visible(target), file=out)
    return 0


def cmd_view(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Write the static page, or serve until interrupted."""
    from .html import static_page_chunks
    from .payloads import PayloadReader

    source = Path(args.source)
    if args.serve and args.output is not None:
        # serving writes no page: an -o given with it would be quietly ignored
        print("rollout-trace view: --serve writes no file; drop -o (or --serve)", file=err)
        return 2
    if args.serve:
        from .serve import ViewServer
        from .visible import visible

        try:
            server = ViewServer(source, args.port, err=err)
        except OSError as exc:
            print(
                f"rollout-trace view: cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}",
                file=err,
            )
            return 1
        shown = visible(str(source))
        print(f"serving {shown} at {server.url} (Ctrl-C to stop)", file=out, flush=True)
        try:
            server.serve_forever()
        finally:
            server.close()
        return 0
    from .reports import recorder_reports

    notes: list[str] = []
    state = load_noting(args.source, args.lenient, err, notes)  # the path as typed
    reader = PayloadReader(source) if source.is_dir() else None
    reports = recorder_reports(source) if source.is_dir() else []
    default = source / "view.html" if source.is_dir() else source.with_suffix(".html")
    try:
        # in pieces, written as they come: the page as one string doubled the command's peak
        page = static_page_chunks(state, reader, notes=notes, reports=reports)
    finally:
        if reader is not None:
            reader.close()
    return write_named("view", [source], args.output, default, lambda: page, out, err)


def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print the transcript: rich on a terminal, plain text otherwise."""
    if args.follow:
        return _show_follow(args, out, err)
    from .reports import recorder_reports
    from .show import transcript_lines

    state = load_noting(args.source, args.lenient, err)
    source = Path(args.source)
    reports = recorder_reports(source)
    try:
        lines = transcript_lines(
            state, thread=args.thread, call=args.call, full=args.full, reports=reports
        )
    except LookupError as exc:
        print(f"rollout-trace show: {exc.args[0]}", file=err)
        return 1
    _show_renderer(out)(lines)
    return 0


#: ``diff --exit-code``'s status when the rollouts differ (1 is refused input, 2 a usage error).
DIFFER_EXIT = 3


def cmd_diff(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Compare two rollouts (``view/diff.py``, ``view/diff_text.py``): text, or JSON with ``--json``."""
    from .diff import AmbiguousAgent, NoSuchAgent
    from .diff_text import diff_report
    from .visible import visible

    if args.meta_a or args.meta_b:  # not left unused: the user meant to pick bundles
        print(
            "rollout-trace diff: --meta-a and --meta-b pick each side's bundles, only with --by KEY",
            file=err,
        )
        return 2
    ignore: list[str] = args.ignore or []
    if not ignore_patterns_compile(ignore, err):
        return 2
    states = [load_noting(source, args.lenient, err) for source in (args.source, args.other)]
    try:
        diff, lines = diff_report(
            states[0],
            states[1],
            steps=args.steps or args.context is not None,
            context=args.context,
            thread=args.thread,
            ignore=ignore,
            results=not args.actions_only,
        )
    except (NoSuchAgent, AmbiguousAgent) as exc:  # paths and nicknames are the agents'
        print(visible(f"rollout-trace diff: {exc.args[0]}"), file=err)
        return 1
    if args.json:
        import orjson

        out.write(orjson.dumps(diff, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _show_renderer(out)(lines)
    return DIFFER_EXIT if args.exit_code and not diff["alike"] else 0


def ignore_patterns_compile(patterns: Sequence[str], err: TextIO) -> bool:
    """Whether every ``diff --ignore`` pattern is a regular expression, said on ``err`` when
    one is not: checked before any bundle is reduced (a typo costs no wait, and reads as a
    usage error, not as an internal one met in the middle of ``--by``'s pairs)."""
    import re

    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            print(f"rollout-trace diff: --ignore {pattern!r}: {exc}", file=err)
            return False
    return True


def _show_renderer(out: TextIO) -> Callable[[Sequence[Any]], None]:
    """How ``show`` prints lines on ``out``: rich on a terminal, plain text otherwise."""
    from .show import render_plain, render_rich

    if out is sys.stdout and out.isatty():
        from rich.console import Console

        from ..outputs import terminal_width

        # NO_COLOR takes the colour away, not the wrapping to the terminal's width with the
        # indentation kept (no-color.org): no escape codes at all, the same lines. The width
        # is ours: rich takes COLUMNS=0 (a terminal whose size is not set yet) as 0 columns
        # and printed nothing at all, exit 0
        console = Console(
            file=out,
            highlight=False,
            width=terminal_width(),
            color_system=None if os.environ.get("NO_COLOR") else "auto",
        )
        return lambda lines: render_rich(lines, console)
    return lambda lines: render_plain(lines, out)


def _show_follow(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``show --follow``: the transcript, then what the recording adds until it ends."""
    from .._signals import held
    from .show_follow import Follower, follow

    source = Path(args.source)  # ``--latest``: the newest bundle, waited for (cli)
    if not source.is_dir():
        print(
            "rollout-trace show: --follow follows a bundle directory (or ROOT --latest), "
            "not a state file",
            file=err,
        )
        return 2
    render = _show_renderer(out)

    def emit(lines: Sequence[Any]) -> None:
        # whole: Ctrl-C meanwhile is handled once the lines are out (nothing half-printed)
        if lines:
            with held():
                render(lines)
                out.flush()

    follower = Follower(thread=args.thread, call=args.call, full=args.full)
    try:
        return follow(source, follower, emit, err)
    except LookupError as exc:
        print(f"rollout-trace show: {exc.args[0]}", file=err)
        return 1


#: Rows per list in the text summary unless ``--limit`` says otherwise (JSON keeps all).
SUMMARY_TEXT_LIMIT = 10
#: Width of the text summary when it is not written to a terminal (``COLUMNS`` overrides).
SUMMARY_PIPED_WIDTH = 100


def summary_json(summary: Any) -> str:
    """``summary --json``'s text: orjson's, indented; a count past 64 bits (token sums of an
    odd state), which orjson refuses, written exact by the standard library instead. DEL, C1
    and bidi controls, which JSON allows raw, are written ``\\uNNNN`` (orjson escapes C0
    only): the same JSON value, and nothing that reaches a terminal as a control. They occur
    only inside strings, where the escape means the same character."""
    import orjson

    from .visible import json_visible

    try:
        text = orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONEncodeError:
        import json

        text = json.dumps(summary, indent=2, ensure_ascii=False)
    return json_visible(text)


def cmd_summary(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Totals and lists of a rollout: from an up-to-date ``state.json`` when the bundle has
    one, else reduced now (standard error says which); text or ``--json``."""
    from .reports import recorder_reports
    from .summary import build_summary
    from .summary_source import load_summary_state, log_facts

    if args.limit is not None and args.limit < 0:
        print("rollout-trace summary: --limit must be 0 or more", file=err)
        return 2
    from .visible import visible

    loaded = load_summary_state(
        args.source, lenient=args.lenient, err=err, thread=args.thread, checkpoints=False
    )
    print(f"summary: {visible(loaded.how)}", file=err)  # lenient notes quote the agent's ids
    errors: dict[str, str] = {}
    metadata: dict[str, Any] = {}
    cut = 0
    if loaded.bundle is not None:  # one pass over the log: texts, metadata, cut checkpoints
        errors, metadata, cut = log_facts(loaded.bundle, loaded.state)
    reports = recorder_reports(loaded.bundle) if loaded.bundle is not None else []
    limit = args.limit if args.limit is not None or args.json else SUMMARY_TEXT_LIMIT
    try:
        summary = build_summary(
            loaded.state,
            thread=args.thread,
            limit=limit,
            errors=errors,
            reports=reports,
            metadata=metadata,
            metadata_cut=cut,
        )
    except LookupError as exc:
        print(f"rollout-trace summary: {exc.args[0]}", file=err)
        return 1
    if args.json:
        out.write(summary_json(summary) + "\n")
        return 0
    from .summary_text import render_plain, render_rich, summary_lines

    terminal = out is sys.stdout and out.isatty()
    if terminal:
        from ..outputs import terminal_width

        width = terminal_width()  # (shutil.get_terminal_size's rule, as show's)
    else:
        columns = os.environ.get("COLUMNS", "")  # 0 (a size not known yet) is no width
        width = int(columns) if columns.isdigit() and int(columns) else SUMMARY_PIPED_WIDTH
    lines = summary_lines(summary, width)
    if terminal and not os.environ.get("NO_COLOR"):
        from rich.console import Console

        render_rich(lines, Console(file=out, highlight=False, width=width))
    else:
        render_plain(lines, out)
    return 0
