"""``rollout-trace``: demo | ls | reduce | validate | summary | convert | redact | view | show |
diff | export | query.

Exit codes: 0 success, 1 the input was refused (Codex-style ``Error: ...`` text on stderr, plus
where it happened), 2 usage errors. No traceback reaches the user for bad input.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final, TextIO, TypeAlias, cast

from ._cli_help import Parser, add_examples
from .model.layout import EVENT_LOG, STATE_FILE
from .outputs import StandardOutputClosed, forbidden_output, write_output
from .reduce.errors import ReduceError
from .view.visible import visible  # paths and ids printed were named by the bundle's maker

_USAGE = 2
_REFUSED = 1


class _UsageError(Exception):
    """Bad arguments found after parsing (exit 2)."""


def build_parser(command: str | None = None, *, alone: bool = False) -> argparse.ArgumentParser:
    """The command line; given the ``command`` about to run, only its own part when that is
    one of this module's (the viewer's and the exports' parsers cost start-up time), and with
    ``alone`` (``command`` is the first argument: no top-level option asks for the list of
    commands) that command's parser only (argparse builds each in ~0.3 ms)."""
    parser = Parser(
        prog="rollout-trace", description="Record, check and reduce rollout-trace bundles."
    )
    parser.add_argument("--version", action=_VersionAction)
    commands = cast(
        _Commands,
        parser.add_subparsers(
            dest="command", required=True, metavar="COMMAND", parser_class=Parser
        ),
    )
    if alone and command in _OWN_COMMANDS:
        _OWN_COMMANDS[command](commands)
    else:
        for name, add in _OWN_COMMANDS.items():
            if name == "ls" and command not in _OWN_COMMANDS:
                from .view.commands import add_parsers as add_view_parsers

                add_view_parsers(commands)
                from .export.commands import add_parsers as add_export_parsers

                add_export_parsers(commands)
            add(commands)
    add_examples(commands.choices)
    for name in _SOURCE_COMMANDS.keys() & commands.choices.keys():
        commands.choices[name].add_argument(
            "--latest",
            action="store_true",
            help="the argument is a traces root: read its newest bundle",
        )
    return parser


_Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _add_reduce(commands: _Commands) -> None:
    reduce = commands.add_parser(
        "reduce", help="reduce a bundle to state.json (as `codex debug trace-reduce`)"
    )
    reduce.add_argument("bundle", metavar="BUNDLE", help="bundle directory")
    reduce.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="where to write the state (default BUNDLE/state.json; - for standard output)",
    )
    reduce.add_argument(
        "--lenient",
        action="store_true",
        help="reduce what a killed recorder left (torn last line, missing payloads) and "
        "report what was skipped",
    )


def _add_validate(commands: _Commands) -> None:
    validate = commands.add_parser(
        "validate", help="check a bundle (or every bundle under a root) against the writer's rules"
    )
    validate.add_argument(
        "bundle",
        metavar="BUNDLE_OR_ROOT",
        help="bundle directory, or a traces root: each bundle in it (one line per damaged one)",
    )
    validate.add_argument(
        "more",
        nargs="*",
        metavar="BUNDLE_OR_ROOT",
        help="more bundles or roots (a shell's traces/trace-*): every bundle named, one line "
        "per damaged one",
    )
    validate.add_argument(
        "--jobs",
        type=_jobs,
        metavar="N",
        help="with a root: worker processes checking its bundles (0: one a CPU; the default: "
        "one a CPU from 256 bundles; 1: none, this process checks them)",
    )


def _jobs(text: str) -> int:
    """``--jobs``: 0 (every CPU) or more."""
    try:
        jobs = int(text)
    except ValueError:
        jobs = -1
    if jobs < 0:
        raise argparse.ArgumentTypeError("must be 0 (all CPUs) or more")
    return jobs


def _add_summary(commands: _Commands) -> None:
    summary = commands.add_parser(
        "summary",
        help="totals of a rollout (agents, calls, tokens, time, failures), then short lists",
    )
    summary.add_argument(
        "source",
        metavar="BUNDLE_OR_STATE",
        help="bundle directory (its state.json is used when up to date) or a state.json file",
    )
    summary.add_argument("--lenient", action="store_true", help="reduce leniently (bundles)")
    summary.add_argument(
        "--limit", type=int, metavar="N", help="rows per list (text default 10; JSON: all)"
    )
    summary.add_argument(
        "--thread",
        metavar="PATH",
        help="only this agent (agent path, nickname, thread id or its prefix), with its calls",
    )
    summary.add_argument(
        "--json", action="store_true", help="print the summary as JSON (docs/summary.md)"
    )


def _add_convert(commands: _Commands) -> None:
    convert = commands.add_parser(
        "convert", help="write a bundle in the other schema (2: Codex 0.169, 3: Codex 0.171)"
    )
    convert.add_argument("bundle", metavar="BUNDLE", help="bundle directory")
    convert.add_argument("--to", type=int, choices=(2, 3), required=True, help="target schema")
    convert.add_argument(
        "-o", "--output", required=True, metavar="DIR", help="new bundle directory (must not exist)"
    )
    convert.add_argument(
        "--lenient",
        action="store_true",
        help="carry over what reduce --lenient keeps of a bundle a crash cut short",
    )


def _add_redact(commands: _Commands) -> None:
    redact = commands.add_parser("redact", help="write a copy of a bundle with secrets redacted")
    redact.add_argument("bundle", metavar="BUNDLE", help="bundle directory")
    where = redact.add_mutually_exclusive_group()
    where.add_argument("-o", "--output", metavar="DIR", help="new bundle (default BUNDLE-redacted)")
    where.add_argument("--in-place", action="store_true", help="replace BUNDLE itself")


def _add_demo(commands: _Commands) -> None:
    demo = commands.add_parser(
        "demo",
        help="record a demo rollout with a scripted fake model",
        description="Record a demo rollout: a scripted fake model, real subprocess tools, a "
        "helper agent and a compaction per episode. Schema 3; ROLLOUT_TRACE_SCHEMA=2 records "
        "schema 2.",
    )
    demo.add_argument(
        "--out", required=True, metavar="DIR", help="traces root to record the bundle under"
    )
    demo.add_argument(
        "--scale",
        type=int,
        default=1,
        metavar="N",
        help="episodes (default 1), each with its helper agent: the bundle grows with N",
    )
    demo.add_argument(
        "--fail-every",
        type=int,
        default=0,
        metavar="N",
        help="fail every Nth tool call (the model reads the error) and every Nth model request "
        "(retried), to see what failures look like; default 0: nothing fails",
    )


def _add_ls(commands: _Commands) -> None:
    from ._cli_ls import add_parser

    add_parser(commands)


#: The commands whose parsers ``build_parser`` makes itself, in the order ``--help`` lists
#: them (the viewer's and the exports' come before ``ls``).
_OWN_COMMANDS: Final[dict[str, Callable[[_Commands], None]]] = {
    "reduce": _add_reduce,
    "validate": _add_validate,
    "summary": _add_summary,
    "convert": _add_convert,
    "redact": _add_redact,
    "demo": _add_demo,
    "ls": _add_ls,
}

#: Commands whose arguments go through ``sources.resolve``: the attributes holding them, and
#: whether only a bundle will do (``_ROOT_COMMANDS`` take a traces root too).
_SOURCE_COMMANDS: dict[str, tuple[tuple[str, ...], bool]] = {
    "reduce": (("bundle",), True),
    "validate": (("bundle",), True),
    "summary": (("source",), False),
    "view": (("source",), False),
    "show": (("source",), False),
    "diff": (("source", "other"), False),
    "convert": (("bundle",), True),
    "redact": (("bundle",), True),
}
_ROOT_COMMANDS: Final = frozenset({"validate"})


def _version() -> str:
    from . import __version__

    return __version__


class _VersionAction(argparse.Action):
    """``--version``, looked up only when asked (package metadata costs ~0.1 s to import,
    which every other command would pay for nothing)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        sys.stdout.write(f"{parser.prog} {_version()}\n")
        parser.exit()


# --- reduce --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _loading() -> Iterator[None]:
    """In a process of our own, imports without the cycle collector, then what they made
    frozen (``gc.freeze``): a module's objects live as long as the process, yet the collector
    went over them ~40 times while ``reduce`` loaded the model and the reducer, and once more
    at exit (that one ~10 ms). 12 ms of the 3.3 MB benchmark bundle's ~165 (disabling alone
    gains nothing: the work waits). Frozen objects are out of the collector's sight for good
    (``gc.get_referrers`` too), which is no business of a program calling ``main``."""
    if not _own_process:
        yield
        return
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _reduce(path: str, *, lenient: bool, err: TextIO) -> tuple[Any, list[str]]:
    """Reduce through the replay package (a progress bar on a terminal's stderr when it takes
    more than a second); returns (RolloutTrace, what lenient mode skipped)."""
    with _loading():
        from .reduce import reduce_bundle
        from .view.progress import reduction_progress

    notes: list[str] = []
    with reduction_progress(err, f"reducing {Path(path).name}") as progress:
        trace = reduce_bundle(path, lenient=lenient, skipped=notes, progress=progress)
    return trace, notes


def _state_chunks(trace: Any) -> Iterable[bytes]:
    """The state's bytes in pieces, written as they come: the whole state as one string (tens
    of megabytes for a long rollout) would set the command's peak memory."""
    from .model.state_json import state_chunks

    return state_chunks(trace)


def _where(error: ReduceError) -> str | None:
    """Where it happened, which Codex does not say. Replay stamps the trace line and seq onto
    errors raised while reading a payload, so ``line`` may belong to trace.jsonl while ``file``
    names the payload."""
    seq = f"seq {error.seq}" if error.seq is not None else None
    if error.file is not None and error.file.endswith(EVENT_LOG):
        head = error.file if error.line is None else f"{error.file}:{error.line}"
        return ", ".join(p for p in (head, seq) if p)
    event = None
    if error.line is not None:
        event = f"trace.jsonl line {error.line}" + (f", {seq}" if seq else "")
    elif seq:
        event = seq
    if error.file is not None:
        return f"{error.file}" + (f" (event at {event})" if event else "")
    return event


#: The commands with ``--lenient``, and what it does: a refusal lenient reduction would pass
#: over (a kill's cut last line) says so after Codex's text and where it happened.
_LENIENT_DOES = {
    "view": "shows",
    "show": "shows",
    "diff": "compares",
    "summary": "shows",
    "reduce": "reduces",
    "convert": "converts",
    "export": "exports",
}


def _report_error(error: ReduceError, err: TextIO) -> None:
    """Codex's error text and where it happened, control characters spelled out here, at the
    terminal: the text quotes agent-controlled ids (an ESC in a call id must not retitle or
    recolour the terminal), and the exception keeps Codex's exact wording."""
    print(visible(error.codex_text()), file=err)
    where = _where(error)
    if where is not None:
        print(visible(f"\n  at {where}"), file=err)


def _cmd_reduce(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .view.commands import notes_to
    from .view.state_mtime import date_back_if_moved, inputs_seen

    bundle = Path(args.bundle)
    if args.output == "":
        raise _UsageError("-o needs a file name (or - for standard output)")
    output = Path(args.output) if args.output else None
    shown = args.output or f"{str(args.bundle).rstrip('/') or '/'}/{STATE_FILE}"
    if output is not None and args.output != "-":
        why = forbidden_output(bundle, output)
        if why is not None:
            raise _UsageError(why)
    before = inputs_seen(bundle)  # summary trusts a state.json newer than the bundle's files
    trace, notes = _reduce(args.bundle, lenient=args.lenient, err=err)
    data = _state_chunks(trace)
    target = args.output or str(bundle / STATE_FILE)
    try:
        to_out = write_output(target, data, out, named=args.output is not None)
    except BrokenPipeError:
        raise  # `-o - | head`: as every command, the reader has all it wanted
    except OSError as exc:  # standard output closed (>&-): said as every command says it
        if isinstance(exc, StandardOutputClosed):
            raise
        # said as every command says a path the system refuses (``main``), the state's path
        # named (the write went to a temporary file beside it)
        raise OSError(exc.errno, exc.strerror or str(exc), shown) from None
    date_back_if_moved(bundle, target, before)
    notes_to(notes, err)
    if not to_out:
        print(visible(shown), file=out)
    global nothing_left_open
    nothing_left_open = True  # the state's file is closed (``write_output``), the bundle's too
    return 0


# --- the other commands -------------------------------------------------------------------------


#: The other commands' functions, imported when one runs: ``(module, function)``. Only the
#: command run is loaded (the viewer's and the exports' modules cost start-up time ``reduce``
#: need not pay).
_COMMANDS: Final = {
    "ls": ("._cli_ls", "cmd_ls"),
    "validate": ("._cli_validate", "cmd_validate"),
    "summary": (".view.commands", "cmd_summary"),
    "demo": ("._cli_new_bundles", "cmd_demo"),
    "view": (".view.commands", "cmd_view"),
    "show": (".view.commands", "cmd_show"),
    "diff": (".view.commands", "cmd_diff"),
    "export": (".export.commands", "cmd_export"),
    "query": (".export.commands", "cmd_query"),
    "convert": ("._cli_new_bundles", "cmd_convert"),
    "redact": ("._cli_new_bundles", "cmd_redact"),
}


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the command ``args`` names."""
    if args.command == "reduce":
        return _cmd_reduce(args, out, err)
    import importlib

    module, function = _COMMANDS[args.command]
    if args.command == "diff" and args.by is not None:
        module, function = "._cli_diff_pairs", "cmd_diff_pairs"
    run: Callable[[argparse.Namespace, TextIO, TextIO], int] = getattr(
        importlib.import_module(module, __package__), function
    )
    return run(args, out, err)


def _resolve_source(args: argparse.Namespace, err: TextIO) -> None:
    """Replace the command's argument by what it should read (see ``sources.resolve``)."""
    spec = _SOURCE_COMMANDS.get(args.command)
    if spec is None:
        return
    from .sources import resolve

    attributes, needs_bundle = spec
    if args.command == "diff" and args.by is not None:  # roots, paired by _cli_diff_pairs
        return
    if args.command == "diff" and args.other is None:  # ``diff ROOT --latest``: its newest two
        if not args.latest:
            raise _UsageError("give two rollouts (A B), or a traces root with --latest")
        from .sources import newest_pair

        args.source, args.other = newest_pair(args.source)
        return
    for attribute in attributes:
        value = getattr(args, attribute)
        if value == "":
            raise _UsageError("an empty path names nothing; give a bundle, a state file or a root")
        if args.command == "show" and args.follow and args.latest:
            # ``show ROOT --latest --follow`` waits for a bundle when the root has none
            from .sources import wait_for_newest
            from .view.show_follow import POLL_S

            args.source = wait_for_newest(value, "show", err, POLL_S)
            return
        setattr(
            args,
            attribute,
            resolve(
                value,
                args.command,
                latest=args.latest,
                needs_bundle=needs_bundle,
                takes_root=args.command in _ROOT_COMMANDS,
            ),
        )


class _Closed(io.TextIOBase):
    """Standard output when the process started without one (``>&-``). Python's
    ``sys.stdout`` is then ``None``, and ``print(file=None)`` prints nowhere without a word
    (``ls`` and ``validate`` exited 0 having shown nothing; ``show`` and ``reduce -o -``
    ended in an internal error): writing fails as on a closed descriptor."""

    def write(self, s: str) -> int:
        raise StandardOutputClosed


def _printable(stream: TextIO | None, *, error: bool = False) -> TextIO:
    """``stream``, made to print any path: a file name that is not valid UTF-8 reaches Python
    as lone surrogates, which a strict UTF-8 stream refuses after the work is done. A
    stream closed when the process started is :class:`_Closed` (standard error: nowhere;
    ``print(file=None)`` wrote the messages into standard output, in ``--json`` output)."""
    if stream is None:
        return cast(TextIO, io.StringIO() if error else _Closed())
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        with contextlib.suppress(ValueError, OSError):
            reconfigure(errors="backslashreplace")
    return stream


#: Whether ``main`` runs as the process's entry point (no ``argv`` given): then it keeps
#: attrs' code between runs (``_attrs_code``) and freezes what ``reduce`` imports
#: (``_loading``); a program or a test calling ``main(argv)`` gets attrs and the collector as
#: they are.
_own_process = False
#: Set by a command that succeeded having closed every file it wrote (``reduce``): the
#: process may then end without the interpreter's teardown (``__main__._leave``).
nothing_left_open = False


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    global _own_process
    if argv is None:  # the console script or `python -m`: start-up is ours to tune
        _own_process = True
    with _loading():  # attrs and ``sources`` load as the reducer's modules do
        if argv is None:
            from ._attrs_code import install

            install()  # attrs' generated code kept between runs: 18 ms of reduce's start-up
        # after ``install``: ``sources`` is the first module to load attrs, whose own classes
        # are then built with their code kept too
        from .sources import SourceError as _SourceError

    out = out or _printable(sys.stdout)
    err = err or _printable(sys.stderr, error=True)
    arguments = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in arguments if not a.startswith("-")), None)
    parser = build_parser(command, alone=arguments[:1] == [command])
    if not arguments:
        parser.print_help(out)
        return _USAGE
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse already printed usage and the reason
        return exit_.code if isinstance(exit_.code, int) else _USAGE
    from ._signals import stop_signals_as_sigint

    stopped_by: list[int] = []
    try:
        with stop_signals_as_sigint(stopped_by):
            _resolve_source(args, err)
            return _run(args, out, err)
    except _SourceError as exc:  # both quote paths: their control characters spelled out
        print(visible(f"rollout-trace {args.command}: {exc}"), file=err)
        return _REFUSED
    except _UsageError as exc:
        print(visible(f"rollout-trace {args.command}: {exc}"), file=err)
        return _USAGE
    except ReduceError as exc:
        _report_error(exc, err)
        does = _LENIENT_DOES.get(args.command)
        if does and not getattr(args, "lenient", True) and exc.lenient_skips:
            # what lenient reduction passes over (a crash's cut last line, an event replay
            # cannot apply, a payload the end checks refuse; not a seq gap or a bad line
            # mid-log, which it refuses too); Codex's text above stays as it is
            print(f"  (rollout-trace {args.command} --lenient {does} the rest)", file=err)
        return _REFUSED
    except KeyboardInterrupt:
        if stopped_by:
            print("terminated" if stopped_by[0] == signal.SIGTERM else "hung up", file=err)
            return 128 + stopped_by[0]
        print("interrupted", file=err)
        return 130
    except BrokenPipeError:  # `rollout-trace show B | head`: the reader has all it wanted
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # the system refused a path (too long, not allowed, ...): input
        where = f"{exc.filename}: " if exc.filename is not None else ""
        print(visible(f"rollout-trace {args.command}: {where}{exc.strerror or exc}"), file=err)
        return _REFUSED
    except Exception as exc:  # a bug, not bad input: say so briefly, traceback on request
        if os.environ.get("ROLLOUT_TRACE_DEBUG"):
            raise
        print(
            f"rollout-trace {args.command}: internal error: {type(exc).__name__}: {exc}\n"
            "  (set ROLLOUT_TRACE_DEBUG=1 for the traceback)",
            file=err,
        )
        return _REFUSED


if __name__ == "__main__":  # `python -m rollout_trace_sdk.cli ...`: without this, it ran the
    # module's definitions and exited 0 having done nothing. The command runs as `python -m
    # rollout_trace_sdk` runs it (this module is imported again there, under its own name).
    from rollout_trace_sdk.__main__ import run

    raise SystemExit(run())
