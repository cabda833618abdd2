"""The recorder's own reports in a bundle (view/reports.py): its loss report and warnings, said
by ``summary``, ``summary --json`` and ``show``, with their terminal controls spelled out."""

from __future__ import annotations

import re
from pathlib import Path


def test_the_recorders_reports_are_said(tmp_path: Path) -> None:
    """The recorder's loss report (events it dropped: a full queue, the bundle's ceiling)
    is a protocol event the reducers skip; ``summary`` and ``show`` showed such a recording
    as "completed" and nothing more (found by review). They now say the report in full (and
    ``summary --json``); the text comes from the bundle, so its controls are spelled out."""
    import json

    from tests.test_cli import run
    from tests.test_cli_validate import _record_with_a_dropped_event

    bundle = _record_with_a_dropped_event(tmp_path / "ours")
    code, out, _ = run("summary", bundle)
    assert code == 0
    said = out.replace("\n          ", " ")
    dropped = re.compile(r"recorder: dropped [1-9]\d* events and [1-9]\d* payloads? \(")
    assert dropped.search(said)
    assert "the writer's 2000-byte memory budget was full" in said
    code, out, _ = run("show", bundle)
    assert dropped.search(out)
    code, out, _ = run("summary", "--json", bundle)
    (report,) = json.loads(out)["rollout"]["recorder_reports"]
    assert re.match(r"dropped [1-9]\d* events", report)
    # a bundle whose warning holds terminal controls
    import anyio

    from rollout_trace_sdk.record import open_rollout

    async def record() -> None:
        async with open_rollout(tmp_path / "odd") as rollout:
            message = "rollout_trace_sdk: redacted 1 secrets\x1b[2J here"
            rollout.root.protocol_event("warning", {"message": message})

    anyio.run(record)
    (odd,) = (tmp_path / "odd").glob("trace-*")
    code, out, _ = run("summary", odd)
    assert "recorder: redacted 1 secrets\\x1b[2J here" in out and "\x1b" not in out
    code, out, _ = run("show", odd)
    assert "recorder: redacted 1 secrets\\x1b[2J here" in out and "\x1b" not in out
