"""The handler of ``validate``: one bundle, every problem listed; or a traces root, one line per
damaged bundle and a count of the sound ones.

A root of an RL run holds thousands of bundles: they are validated one at a time, each report
dropped once its line is printed, so memory is one bundle's validation however many there
are; or, with ``--jobs`` (the default: every CPU), by worker processes
(:mod:`._cli_validate_jobs`), whose lines are printed in the same order, the same bytes. The
root's bundles are the ones ``ls`` lists (``sources.bundle_dirs``).

Loaded by ``cli`` only when ``validate`` runs.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Generator
from pathlib import Path
from typing import Final, NamedTuple, TextIO

from .reduce.liveness import OpenLogs
from .reduce.validate import Report, validate_bundle
from .sources import bundle_dirs, looks_like_bundle
from .view.progress import reduction_progress
from .view.visible import visible  # paths and ids printed were named by the bundle's maker

_REFUSED = 1
#: Without ``--jobs``, a root of fewer bundles is checked in this process: starting the
#: workers costs 0.4-0.7 s (session 34, 2 CPUs), what 100-200 one-episode bundles take.
_WORKERS_FROM: Final = 256


def cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if getattr(args, "more", None):
        if args.latest:
            print("rollout-trace validate: --latest takes one traces root", file=err)
            return 2
        return _validate_named([args.bundle, *args.more], out, err, args.jobs or 0)
    path = Path(args.bundle)
    if path.is_dir() and not looks_like_bundle(path):  # `sources.resolve` let a root through
        return _validate_root(path, out, err, args.jobs or 0)
    report = _validate(path, err)
    for problem in report.problems:  # they quote the bundle's paths and ids
        print(visible(str(problem)), file=out)
    _notes(report, err)
    # beside the problems too: a writer's failure there is what explains them (review45)
    _reported(path, err)
    shown = visible(report.bundle)
    if report.problems:
        print(f"{len(report.problems)} problem(s) in {shown}", file=err)
        if report.unclosed or report.recording:
            reader = _reader(report, shown)
            print(
                _writer_text(report) + (f"; {reader} reads what it holds" if reader else ""),
                file=err,
            )
        return _REFUSED
    print(f"OK {shown}: {report.events} events, {report.payloads} payloads", file=out)
    return 0


def _reported(bundle: Path, err: TextIO) -> None:
    """What the recorder said at the log's end (events dropped, values approximated, secrets
    redacted), as notes: a bundle whose recorder left events out is valid, and reads as OK,
    but a user asking about it should learn that it is not all that happened (a bundle past
    its ``max_bundle_bytes`` ceiling said OK and nothing else); one whose writer failed names
    problems (threads that never ended), and the report says why."""
    for said in _recorder_said(bundle):
        print(visible(f"note: {said}"), file=err)


def _recorder_said(bundle: str | Path) -> list[str]:
    """The recorder's reports at the end of ``bundle``'s log, each as a note says it."""
    from .view.reports import recorder_reports

    return [f"the recorder reported: {report}" for report in recorder_reports(Path(bundle))]


def _validate(bundle: Path, err: TextIO, held: OpenLogs | None = None) -> Report:
    with reduction_progress(err, f"replaying {bundle.name}") as progress:
        return validate_bundle(bundle, progress=progress, held=held)


def _notes(report: Report, err: TextIO) -> None:
    for note in report.notes:
        print(visible(f"note: {note}"), file=err)


def _validate_named(sources: list[str], out: TextIO, err: TextIO, jobs: int) -> int:
    """Several bundles or roots named (a shell's ``traces/trace-*``): every bundle among
    them, a root's in name order, each once, checked and counted as a root's are. The first
    was resolved by the command line; the others are resolved here the same way."""
    from .sources import resolve

    bundles: list[Path] = []
    seen: set[Path] = set()
    for source in sources:
        path = Path(resolve(source, "validate", needs_bundle=True, takes_root=True))
        for bundle in [path] if looks_like_bundle(path) else bundle_dirs(path):
            if bundle not in seen:
                seen.add(bundle)
                bundles.append(bundle)
    return _validate_bundles(bundles, "", out, err, jobs)


def _validate_root(root: Path, out: TextIO, err: TextIO, jobs: int) -> int:
    """Each bundle directly under ``root``, in name order: a damaged one is one line on
    ``out`` (its path, how many problems, the first), then the count of good ones. With
    ``jobs`` above 1, workers check them (:mod:`._cli_validate_jobs`) and the lines come out
    in the same order, the same bytes."""
    return _validate_bundles(bundle_dirs(root), f" under {visible(str(root))}", out, err, jobs)


def _validate_bundles(bundles: list[Path], where: str, out: TextIO, err: TextIO, jobs: int) -> int:
    """:func:`_validate_root`'s work on ``bundles``; ``where`` ends its count lines
    (`` under ROOT``, or nothing for bundles named one by one)."""
    if jobs == 0:  # every CPU, for a root worth starting workers for
        jobs = (os.cpu_count() or 1) if len(bundles) >= _WORKERS_FROM else 1
    verdicts: Generator[Verdict, None, None]
    if jobs > 1 and len(bundles) > 1:
        from ._cli_validate_jobs import verdicts_in_workers

        verdicts = verdicts_in_workers(bundles, jobs)
    else:
        held = OpenLogs()  # one /proc scan for the command, not one an unclosed bundle
        verdicts = (_judge(_validate(bundle, err, held)) for bundle in bundles)
    try:
        kinds = [_say(verdict, out, err) for verdict in verdicts]
    finally:
        # at once: Ctrl-C while a line is printed leaves the pool's generator suspended, and
        # its workers (killed when it closes) would otherwise live until it is collected
        verdicts.close()
    bad = sum(kind is not None for kind in kinds)
    total = len(bundles)
    print(f"{total - bad} of {total} bundle{'' if total == 1 else 's'} OK{where}", file=out)
    if bad:
        print(
            f"{bad} bundle{'' if bad == 1 else 's'} not OK{where}: "
            + "; ".join(_counts(kinds))
            + "; rollout-trace validate BUNDLE lists all of one's problems",
            file=err,
        )
        return _REFUSED
    return 0


def _writer_text(report: Report) -> str:
    """Whether an unclosed bundle's recorder is still at it: it holds the log's lock while it
    writes, and the kernel drops the lock when it dies (``reduce.liveness``). One that left
    payloads out may have spent Codex's byte budget instead (its log ends at the first event
    that no longer fits): of the 286 bundles Codex 0.171 recorded under tight limits in
    live27's random sessions, 107 ended unclosed, 49 of them with payloads omitted, and each
    was called killed."""
    if report.recording:
        return "recording: its recorder is still writing it (so far it reads as unclosed)"
    if report.torn:  # as ``ls`` says it
        return "torn: its last line was cut mid-write (its recorder killed while writing)"
    if report.recording is None:  # no lock to look at here
        text = "unclosed: its recorder was killed or stopped, or is still writing"
    else:
        text = "unclosed: its recorder was killed or stopped (no process is writing it)"
    return text + _budget_text(report.omitted)


def _budget_text(omitted: int) -> str:
    if not omitted:
        return ""
    payloads = "payload" if omitted == 1 else "payloads"
    return (
        f", or its byte budget ran out ({omitted} {payloads} omitted: with "
        "rollout_trace.max_bytes, Codex ends the log at the first event that no longer fits)"
    )


def _reader(report: Report, shown: str) -> str | None:
    """The command that reads an unclosed bundle as far as it goes, if one does."""
    if not report.refused:
        return f"rollout-trace reduce {shown}"
    return f"rollout-trace reduce {shown} --lenient" if report.lenient_reads else None


def _counts(kinds: list[str | None]) -> list[str]:
    """How many of a root's bundles that are not OK are damaged, how many a killed (or
    stopped) recorder left unclosed or torn (cut mid-line, as ``ls`` says: they were
    counted unclosed; fix47), and what reads those, and how many are still being recorded:
    after a crash most are only unclosed, and a live recording is no damage (the count
    called them all damaged; review26)."""
    damaged = kinds.count(_OTHER)
    omitting = kinds.count(_OMITTING)
    unclosed = kinds.count(_UNCLOSED) + kinds.count(_CUT) + omitting
    recording = kinds.count(_RECORDING)
    cut = kinds.count(_CUT)
    torn = kinds.count(_TORN)
    unchecked = kinds.count(UNCHECKED)
    counts = [f"{damaged} damaged"] if damaged else []
    if unclosed:
        spent = (
            f", or, for the {omitting} that left payloads out, their byte budget spent"
            if omitting
            else ""
        )
        counts.append(
            f"{unclosed} unclosed (their recorder killed or stopped{spent}): "
            "rollout-trace reduce reads what each holds"
            + (f" (with --lenient: the {cut} left cut mid-write)" if cut else "")
        )
    if torn:
        counts.append(
            f"{torn} torn (their last line cut mid-write: their recorder killed while "
            "writing): rollout-trace reduce --lenient reads what each holds"
        )
    if recording:
        counts.append(f"{recording} still being recorded (their recorder is writing them)")
    if unchecked:
        counts.append(f"{unchecked} not checked (the worker process checking each died)")
    return counts


#: What a root's damaged bundle is, for the count: still being recorded, unclosed (the
#: reducer reads it; with payloads the capture rules left out, perhaps for want of budget),
#: unclosed with what only lenient reduction reads past, torn (its last line cut mid-write,
#: which lenient reduction reads past), anything else; or not checked at all (``--jobs``: its
#: worker died, also when it ran alone).
_RECORDING, _UNCLOSED, _OMITTING, _CUT, _OTHER = "recording", "unclosed", "omitting", "cut", "other"
_TORN: Final = "torn"
UNCHECKED: Final = "unchecked"


class Verdict(NamedTuple):
    """A bundle of a root as its lines say it: the notes (for ``err``), the damage line (for
    ``out``) and its kind, or none (OK); or what checking it raised, raised when its turn
    comes. Text only: a worker sends it back, and a report is dropped once judged."""

    notes: tuple[str, ...]
    line: str | None = None
    kind: str | None = None
    raised: Exception | None = None


def _judge(report: Report) -> Verdict:
    """What one bundle's report says on a root's lines (see :class:`Verdict`)."""
    notes = tuple(visible(f"note: {report.bundle}: {note}") for note in report.notes)
    if not report.problems:
        said = _recorder_said(report.bundle)  # as for one bundle (``_reported``)
        return Verdict(notes + tuple(visible(f"note: {report.bundle}: {s}") for s in said))
    if report.recording:
        kind = _RECORDING
    elif not report.unclosed or (report.refused and not report.lenient_reads):
        kind = _OTHER
    elif report.torn:
        kind = _TORN
    elif report.refused:
        kind = _CUT
    else:
        kind = _OMITTING if report.omitted else _UNCLOSED
    return Verdict(notes, visible(_damage_line(report)), kind)


def judge_in_worker(bundle: str, held: OpenLogs | None = None) -> Verdict:
    """:func:`_judge` of one bundle in a worker (no progress bar: its standard error is not
    the command's), what it raised kept for the driver to raise in its turn; ``held``: the
    batch's one ``/proc`` scan."""
    try:
        return _judge(validate_bundle(bundle, held=held))
    except Exception as exc:  # raised in order, as the serial loop would have
        import pickle

        try:
            pickle.dumps(exc)
        except Exception:
            exc = RuntimeError(f"{type(exc).__name__}: {exc}")
        return Verdict((), raised=exc)


def _say(verdict: Verdict, out: TextIO, err: TextIO) -> str | None:
    """Print one bundle's verdict and return its kind (None: OK)."""
    if verdict.raised is not None:
        raise verdict.raised
    for note in verdict.notes:
        print(note, file=err)
    if verdict.line is not None:
        print(verdict.line, file=out, flush=True)
    return verdict.kind


def _damage_line(report: Report) -> str:
    """``BUNDLE: N problem(s), first: FILE:LINE: MESSAGE``, the file named within the bundle."""
    first = report.problems[0]
    inside = report.bundle + "/"
    where = first.file[len(inside) :] if first.file.startswith(inside) else first.file
    if first.line is not None:
        where = f"{where}:{first.line}"
    count = len(report.problems)
    state = (
        "recording, "
        if report.recording
        else "torn, "
        if report.torn and report.unclosed
        else "unclosed, "
        if report.unclosed
        else ""
    )
    return (
        f"{report.bundle}: {state}{count} problem{'' if count == 1 else 's'}, "
        f"first {where}: {first.message}"
    )
