"""The handlers of the commands that make a new bundle: ``convert`` and ``redact`` (a copy of
the bundle given) and ``demo`` (a recording, under a traces root). None makes it inside a
bundle (:func:`_refuse_inside_a_bundle`).

Loaded by ``cli`` only when one of them runs: ``reduce``'s start-up never imports it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from .cli import _REFUSED, _UsageError
from .outputs import bundle_around
from .view.visible import visible  # paths printed were named by the bundle's maker


def cmd_convert(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .reduce.convert import convert_bundle
    from .view.commands import notes_to

    _refuse_no_directory(args.output)
    if os.path.lexists(args.output):
        raise _UsageError(f"{args.output} already exists; give a new directory")
    _refuse_inside_a_bundle(args.output)
    notes: list[str] = []
    convert_bundle(args.bundle, args.output, args.to, lenient=args.lenient, skipped=notes)
    notes_to(notes, err)
    print(visible(args.output), file=out)
    return 0


def _refuse_no_directory(output: str | None) -> None:
    """``-o ""`` and ``-o -`` name no directory: a usage error (exit 2), as ``reduce -o ""``
    and ``export --to -`` are, not a refused bundle (exit 1)."""
    if output in ("", "-"):
        raise _UsageError(f"cannot write a bundle to {output!r}: give a new directory")


def _refuse_inside_a_bundle(directory: str) -> None:
    """A directory a command makes (a converted or redacted copy, the demo's traces root) is
    never made inside a bundle, the input or any other: in its payloads directory or beside
    its log it is a stray in that bundle (``export --to`` refused this already)."""
    inside = bundle_around(Path(directory))
    if inside is not None:
        raise _UsageError(f"{directory} is inside the bundle {inside}; give a directory outside it")


def cmd_redact(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .redact_bundle import run_cli

    _refuse_no_directory(args.output)
    # the default lies beside the bundle; one that exists is refused as such by run_cli
    if args.output and not os.path.lexists(args.output):
        _refuse_inside_a_bundle(args.output)
    return run_cli(args.bundle, args.output, args.in_place, out, err)


def cmd_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.scale < 1:
        raise _UsageError("--scale must be at least 1")
    if args.fail_every < 0:
        raise _UsageError("--fail-every must be 0 (nothing fails) or more")
    if not args.out:
        raise _UsageError("--out needs a directory")
    from .sources import looks_like_bundle

    if args.out == "-":
        raise _UsageError("- names standard output; give a directory for the bundle")
    if looks_like_bundle(Path(args.out)):
        raise _UsageError(f"{args.out} is a bundle; give a traces root (a directory of bundles)")
    _refuse_inside_a_bundle(args.out)
    from . import demo  # imported here: it pulls in the recorder, which other commands skip

    try:
        with _recorder_warnings_to(err):
            bundle = demo.run_demo(Path(args.out), args.scale, args.fail_every)
    except OSError as exc:
        why = exc.strerror or exc
        print(visible(f"rollout-trace demo: cannot write under {args.out}: {why}"), file=err)
        return _REFUSED
    counts = demo.bundle_summary(bundle)
    print(visible(str(bundle)), file=out)
    print(
        f"{counts['events']:,} events, {counts['payloads']:,} payloads, "
        f"{counts['bytes']:,} bytes (scale {args.scale})",
        file=out,
    )
    print(_demo_next_steps(args.out), file=out)
    return 0


@contextlib.contextmanager
def _recorder_warnings_to(err: TextIO) -> Iterator[None]:
    """The recorder's warnings (``$ROLLOUT_TRACE_SCHEMA=4``, a full disk) as one line each of
    the command's own: Python's format names the line of anyio that ran the demo and prints
    its source, which tells a command-line user nothing; so does the sentence saying that
    later warnings of a kind are not shown, and how to show them in Python."""
    from .record import RecorderWarning
    from .record._warnings import LATER_NOT_SHOWN

    shown = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], *rest: Any, **kw: Any) -> None:
        if not issubclass(category, RecorderWarning):
            shown(message, category, *rest, **kw)
            return
        # (a command's own process: how to see later ones is no help on its command line)
        text = str(message).removeprefix("rollout trace: ").removesuffix(LATER_NOT_SHOWN)
        print(visible(f"rollout-trace demo: warning: {text}"), file=err)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


def _demo_next_steps(root: str) -> str:
    """What to run on the demo's bundle next (the newest under ``root``): the demo records,
    these commands show."""
    import shlex

    where = visible(shlex.quote(root))
    steps = [
        ("show", "the rollout as a transcript"),
        ("summary", "totals, tokens, failures"),
        ("view", "an HTML page (--serve: a local server)"),
        ("reduce", "state.json, as codex debug trace-reduce writes it"),
    ]
    width = max(len(command) for command, _ in steps)
    return "\n".join(
        ["", "next:"]
        + [f"  rollout-trace {c:<{width}} {where} --latest  # {what}" for c, what in steps]
    )
