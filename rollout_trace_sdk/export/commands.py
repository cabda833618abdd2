"""The ``export`` subcommand: one argument parser, one writer per ``--format``.

A format is a function ``(args, out, err) -> exit code`` in ``_FORMATS``; the modules that do
the work are imported only when their format is chosen, so optional extras (pyarrow, duckdb,
ray, opentelemetry) are needed only by the formats that use them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TextIO

_Writer = Callable[[argparse.Namespace, TextIO, TextIO], int]


def add_parsers(commands: Any) -> None:
    """Add ``export`` to the CLI's subparsers."""
    export = commands.add_parser(
        "export", help="export rollouts to other tools (perfetto: Chrome trace-event JSON)"
    )
    export.add_argument(
        "sources", nargs="+", metavar="SOURCE", help="bundle directory or a state.json file"
    )
    export.add_argument(
        "--format", choices=sorted(_FORMATS), default="perfetto", help="output format"
    )
    export.add_argument("-o", "--output", metavar="FILE", help="file to write")
    export.add_argument("--lenient", action="store_true", help="reduce leniently (bundles)")
    export.add_argument(
        "--endpoint", metavar="URL", help="otlp: send to this OTLP/HTTP receiver (not with -o)"
    )
    export.add_argument(
        "--inline-payloads",
        action="store_true",
        help="otlp: put messages, tool arguments/results and payload bodies on the spans",
    )


def cmd_export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run the chosen format's writer."""
    return _FORMATS[args.format](args, out, err)


def _single_source(args: argparse.Namespace, err: TextIO) -> str | None:
    """The one source a single-rollout format takes, or None after saying why."""
    if len(args.sources) != 1:
        print(f"rollout-trace export: --format {args.format} takes one SOURCE", file=err)
        return None
    return str(args.sources[0])


def _perfetto(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Write the Chrome trace-event JSON (opens in ui.perfetto.dev and chrome://tracing)."""
    import orjson

    from ..view.commands import notes_to
    from ..view.model import load_state
    from .perfetto import chrome_trace

    source = _single_source(args, err)
    if source is None:
        return 2
    if not args.output:
        print("rollout-trace export: --format perfetto needs -o FILE", file=err)
        return 2
    notes: list[str] = []
    state = load_state(source, lenient=args.lenient, skipped=notes)
    notes_to(notes, err)
    target = Path(args.output)
    try:
        target.write_bytes(orjson.dumps(chrome_trace(state)))
    except OSError as exc:
        print(f"rollout-trace export: cannot write {target}: {exc.strerror or exc}", file=err)
        return 1
    print(target, file=out)
    return 0


def _otlp(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Send OpenTelemetry GenAI spans to an OTLP/HTTP receiver, or write OTLP/JSON lines."""
    try:
        from .otlp_run import export_otlp
    except ImportError as exc:
        print(
            f"rollout-trace export: --format otlp needs the otel extra "
            f"(pip install 'rollout-trace-sdk[otel]'): {exc}",
            file=err,
        )
        return 2
    return export_otlp(args, out, err)


_FORMATS: Final[dict[str, _Writer]] = {
    "otlp": _otlp,
    "perfetto": _perfetto,
}
