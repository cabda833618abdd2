"""The handler of ``validate``: one bundle, every problem listed; or a traces root, one line per
damaged bundle and a count of the sound ones.

A root of an RL run holds thousands of bundles: they are validated one at a time, each report
dropped once its line is printed, so memory is one bundle's validation however many there
are. The root's bundles are the ones ``ls`` lists (``sources.bundle_dirs``).

Loaded by ``cli`` only when ``validate`` runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from .reduce.validate import Report, validate_bundle
from .sources import bundle_dirs, looks_like_bundle
from .view.progress import reduction_progress
from .view.visible import visible  # paths and ids printed were named by the bundle's maker

_REFUSED = 1


def cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    path = Path(args.bundle)
    if path.is_dir() and not looks_like_bundle(path):  # `sources.resolve` let a root through
        return _validate_root(path, out, err)
    report = _validate(path, err)
    for problem in report.problems:  # they quote the bundle's paths and ids
        print(visible(str(problem)), file=out)
    _notes(report, err, prefix="")
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


def _validate(bundle: Path, err: TextIO) -> Report:
    with reduction_progress(err, f"replaying {bundle.name}") as progress:
        return validate_bundle(bundle, progress=progress)


def _notes(report: Report, err: TextIO, *, prefix: str) -> None:
    for note in report.notes:
        print(visible(f"note: {prefix}{note}"), file=err)


def _validate_root(root: Path, out: TextIO, err: TextIO) -> int:
    """Each bundle directly under ``root``, in name order: a damaged one is one line on
    ``out`` (its path, how many problems, the first), then the count of good ones."""
    bundles = bundle_dirs(root)
    kinds = [_damaged(bundle, out, err) for bundle in bundles]
    bad = sum(kind is not None for kind in kinds)
    total = len(bundles)
    shown = visible(str(root))
    print(f"{total - bad} of {total} bundle{'' if total == 1 else 's'} OK under {shown}", file=out)
    if bad:
        print(
            f"{bad} bundle{'' if bad == 1 else 's'} not OK under {shown}: "
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
    stopped) recorder left unclosed, and what reads those, and how many are still being
    recorded: after a crash most are only unclosed, and a live recording is no damage
    (the count called them all damaged; review26)."""
    damaged = kinds.count(_OTHER)
    omitting = kinds.count(_OMITTING)
    unclosed = kinds.count(_UNCLOSED) + kinds.count(_CUT) + omitting
    recording = kinds.count(_RECORDING)
    cut = kinds.count(_CUT)
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
            + (f" (with --lenient: the {cut} whose last line was cut mid-write)" if cut else "")
        )
    if recording:
        counts.append(f"{recording} still being recorded (their recorder is writing them)")
    return counts


#: What a root's damaged bundle is, for the count: still being recorded, unclosed (the
#: reducer reads it; with payloads the capture rules left out, perhaps for want of budget),
#: unclosed with what only lenient reduction reads past, or anything else.
_RECORDING, _UNCLOSED, _OMITTING, _CUT, _OTHER = "recording", "unclosed", "omitting", "cut", "other"


def _damaged(bundle: Path, out: TextIO, err: TextIO) -> str | None:
    """Validate one bundle and say whether it is damaged, and how (its line printed), holding
    its report no longer than that: a loop's variable would keep it through the next one's."""
    report = _validate(bundle, err)
    _notes(report, err, prefix=f"{report.bundle}: ")
    if not report.problems:
        return None
    print(visible(_damage_line(report)), file=out, flush=True)
    if report.recording:
        return _RECORDING
    if not report.unclosed or (report.refused and not report.lenient_reads):
        return _OTHER
    if report.refused:
        return _CUT
    return _OMITTING if report.omitted else _UNCLOSED


def _damage_line(report: Report) -> str:
    """``BUNDLE: N problem(s), first: FILE:LINE: MESSAGE``, the file named within the bundle."""
    first = report.problems[0]
    inside = report.bundle + "/"
    where = first.file[len(inside) :] if first.file.startswith(inside) else first.file
    if first.line is not None:
        where = f"{where}:{first.line}"
    count = len(report.problems)
    state = "recording, " if report.recording else "unclosed, " if report.unclosed else ""
    return (
        f"{report.bundle}: {state}{count} problem{'' if count == 1 else 's'}, "
        f"first {where}: {first.message}"
    )
