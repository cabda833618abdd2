"""The ``export --format otlp`` command: read each source, map it, send or write the spans.

Kept apart from :mod:`.commands` so that module stays a table of writers, and from
:mod:`.otlp` so the mapping stays free of OpenTelemetry imports (this module needs the
``otel`` extra, and the command reports its absence).
"""

from __future__ import annotations

import argparse
import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from ..reduce import ReduceError
from ..view.commands import load_noting, write_named
from ..view.payloads import PayloadReader, PayloadRefused
from ..view.reports import is_loss_report, recorder_reports
from ..view.show_format import counted
from ..view.visible import one_line, visible
from .listing import lenient_hint, named, refusal
from .otlp import OtlpTrace, PayloadText, otlp_trace, trace_id_of
from .otlp_sdk import OtlpExportError, json_lines, masked_url, sdk_spans, send, traces_url


def export_otlp(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``export --format otlp`` (``--endpoint URL`` or ``-o FILE``; many sources).

    Returns:
        0, or 1 when a source could not be read (the others are exported), the receiver
        refused spans or the file could not be written, or 2 for a usage error.
    """
    if bool(args.endpoint) == bool(args.output):
        said = (
            "takes one of --endpoint URL and -o FILE, not both"
            if args.endpoint
            else "needs one of --endpoint URL and -o FILE"
        )
        print(f"rollout-trace export: --format otlp {said}", file=err)
        return 2
    traces: list[OtlpTrace] = []
    failed = 0
    paths: dict[Path, str] = {}  # each source's resolved path -> the source as named
    trace_ids: dict[int, str] = {}  # the trace ids sent -> the source that sent each
    for source in args.sources:
        path = Path(os.path.realpath(source))  # a loop names itself (resolve raises on one)
        if path in paths:
            print(
                visible(f"note: {source}: the same path as {paths[path]}; exported once"), file=err
            )
            continue
        paths[path] = source
        notes: list[str] = []
        try:
            state = load_noting(source, args.lenient, err, notes)
        except ReduceError as exc:
            # one bad bundle among many: named, and the others still go (as with --to)
            text = refusal(exc, source)
            text = lenient_hint(text) if exc.lenient_skips else text
            print(one_line(visible(f"rollout-trace export: {named(source, text)}")), file=err)
            failed += 1
            continue
        _note_shared_trace_id(source, state, trace_ids, err)
        reader = PayloadReader(source) if args.inline_payloads and Path(source).is_dir() else None
        if args.inline_payloads and reader is None:
            print(
                f"rollout-trace export: {source}: payload bodies are in the bundle, "
                "not the state file; inlining the conversation only",
                file=err,
            )
        try:
            trace = otlp_trace(state, inline=args.inline_payloads, payload=_text(reader, state))
            _say_lenient(trace, notes)
            _say_reports(trace, recorder_reports(source))
            traces.append(trace)
        finally:
            if reader is not None:
                reader.close()
    if not traces:
        return 1
    spans = [span for trace in traces for span in sdk_spans(trace)]
    if args.endpoint:
        url = traces_url(args.endpoint)
        try:
            send(spans, args.endpoint)
        except OtlpExportError as exc:
            print(f"rollout-trace export: {str(exc).replace(url, masked_url(url))}", file=err)
            return 1
        sent = f"{counted(len(spans), 'span')}, {counted(len(traces), 'trace')}"
        print(f"{sent} -> {masked_url(url)}", file=out)
        return 1 if failed else 0

    lines = functools.partial(json_lines, spans)
    code = write_named("export", args.sources, args.output, Path(args.output), lines, out, err)
    return code or (1 if failed else 0)


#: The lenient notes the root span carries at most, as the page's notice shows the first 100.
_NOTES = 100


def _say_lenient(trace: OtlpTrace, notes: list[str]) -> None:
    """Put on the root span what lenient reduction skipped (``rollout_trace.lenient_skipped``,
    the first 100 ``rollout_trace.lenient_notes``, one a line): a receiver shows the rollout
    without the terminal that printed them, and would show a crash-cut one as whole."""
    if notes:
        trace.spans[0].attributes["rollout_trace.lenient_skipped"] = len(notes)
        trace.spans[0].attributes["rollout_trace.lenient_notes"] = "\n".join(notes[:_NOTES])


def _say_reports(trace: OtlpTrace, reports: list[str]) -> None:
    """Put on the root span what our recorder reported at the end of the log
    (``rollout_trace.recorder_reports``, one a line; ``rollout_trace.lossy`` when one is the
    loss report): a rollout that lost events is not sent as one that holds everything."""
    if reports:
        trace.spans[0].attributes["rollout_trace.recorder_reports"] = "\n".join(reports)
        trace.spans[0].attributes["rollout_trace.lossy"] = any(map(is_loss_report, reports))


def _note_shared_trace_id(
    source: str, state: Mapping[str, Any], trace_ids: dict[int, str], err: TextIO
) -> None:
    """Span ids derive from the trace id, so two sources of one recording (a bundle and its
    redacted copy, or a copy elsewhere) send spans with the same ids, which a receiver merges,
    keeping one of each: say so (both are still sent; a file gets both)."""
    trace_id = trace_id_of(state)
    first = trace_ids.setdefault(trace_id, source)
    if first != source:
        print(
            visible(
                f"note: {source}: trace id {state.get('trace_id') or f'{trace_id:032x}'} was "
                f"exported from {first} too: their spans share ids, and a receiver keeps one "
                "of each"
            ),
            file=err,
        )


def _text(reader: PayloadReader | None, state: Mapping[str, Any]) -> PayloadText | None:
    """Payload bodies as text (UTF-8, undecodable bytes replaced), read the reducer's way; only
    payloads the state names are read."""
    if reader is None:
        return None

    def read(payload_id: str) -> str | None:
        try:
            raw = reader.read_checked(reader.ref_of(state, payload_id))
        except PayloadRefused:
            return None
        return raw.decode("utf-8", errors="replace")

    return read
