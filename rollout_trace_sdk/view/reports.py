"""What our recorder said about its own recording: the loss and redaction reports.

The recorder ends a bundle that lost or approximated anything, or redacted secrets, with
``warning`` protocol events just before ``recording_completed`` ("rollout_trace_sdk: dropped
2953 events and 0 payloads ... while recording this trace: ..."). Both reducers skip protocol
events, so the reduced state does not hold them: the summary and the transcript read them from
the log's last lines, so a recording that left events out never reads as whole.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

import orjson

from ..model.layout import EVENT_LOG, LOSS_REPORT_PREFIX, REPORT_PREFIX
from ..model.structure import loads_value
from ..reduce.confined import BundleFileError, BundleFiles

#: The reports come last: this much of the log's end is read.
_TAIL: Final = 64 << 10


def recorder_reports(bundle: str | Path) -> list[str]:
    """The recorder's reports at the end of ``bundle``'s log, in order, without their
    ``rollout_trace_sdk:`` prefix; none for a bundle another writer made (or unreadable),
    and none for what is no bundle (a state file: a command's source may be either).

    Args:
        bundle: the bundle directory.

    Returns:
        One sentence per report.
    """
    try:
        with BundleFiles(bundle) as files, files.open(EVENT_LOG, what="trace event log") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(max(0, size - _TAIL))
            tail = handle.read(_TAIL)
    except (BundleFileError, OSError):
        return []
    refs = []
    for line in tail.split(b"\n"):
        if b'"warning"' not in line:
            continue
        try:
            payload = orjson.loads(line)["payload"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue  # the first line may be cut, the last torn
        if (
            isinstance(payload, dict)
            and payload.get("type") == "protocol_event_observed"
            and payload.get("event_type") == "warning"
            and isinstance(payload.get("event_payload"), dict)
        ):
            refs.append(payload["event_payload"])
    if not refs:
        return []
    from .payloads import PayloadReader  # here: it opens the bundle's payloads

    try:
        reader = PayloadReader(bundle)
    except Exception:  # an unreadable manifest: no reports to give
        return []
    reports = []
    try:
        for ref in refs:
            raw = reader.read(ref)
            try:
                body = loads_value(raw) if raw is not None else None
            except orjson.JSONDecodeError:
                continue
            message = body.get("message") if isinstance(body, dict) else None
            if isinstance(message, str) and message.startswith(REPORT_PREFIX):
                reports.append(message.removeprefix(REPORT_PREFIX))
    finally:
        reader.close()
    return reports


def loss_reported(bundle: Path) -> bool:
    """Whether ``bundle``'s recorder reported loss: events or payloads it dropped, or values
    it recorded approximately (``ls`` marks such a bundle ``lossy``: closed, not whole).

    Args:
        bundle: the bundle directory.

    Returns:
        True when one of its reports is the loss report.
    """
    return any(map(is_loss_report, recorder_reports(bundle)))


def is_loss_report(report: str) -> bool:
    """Whether one of :func:`recorder_reports` is the loss report (else: the redaction
    report, or one a later recorder adds)."""
    return report.startswith(_LOSS)


#: The loss report as :func:`recorder_reports` gives it (without ``rollout_trace_sdk:``).
_LOSS: Final = LOSS_REPORT_PREFIX.removeprefix(REPORT_PREFIX)
