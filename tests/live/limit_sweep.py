"""Capture limits swept, not drawn: each of a few live scenarios recorded by Codex 0.171 once
without limits, to learn its payloads' sizes and where its events fall in the recording, then
again under each of a sweep of ``rollout_trace.max_payload_bytes`` and
``rollout_trace.max_bytes`` values (:func:`limits_for`): tiny ones (1, 2, 64, 200, 1000,
4096), one byte under, at and over a payload's size, and total budgets that run out at a turn's
start, at a tool call's start or end, at a compaction's, and at a sub-agent's spawn (give or
take a few bytes: the next recording's ids and times are not the same, and Codex's count is not
ours). :mod:`tests.live.random_limits` draws tight limits for random sessions; this covers the
values between, where a payload is just cut or just whole, and where the budget stops the log
mid-turn.

:func:`check_limited` is what each recording must pass (``tests/live/test_codex_limit_sweep.py``).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import attrs
import zstandard

from rollout_trace_sdk.model import layout
from rollout_trace_sdk.testing import reduce_and_compare
from tests.differential.convert_checks import check_convert
from tests.differential.crash_cuts import check_some_cuts
from tests.hostile import argv, run_in_process, verdict
from tests.killed_checks import agrees, check_killed
from tests.live.scenarios import SCENARIOS, Scenario

#: scenarios of every kind that writes payloads Codex reads (commands, polls, patches, MCP,
#: code cells, sub-agents, compaction local and remote, images, resumed sessions, long texts)
SWEPT = (
    "terminal_session_with_stdin",
    "compaction_local_twice",
    "compaction_remote_mid_turn",
    "two_workers_in_parallel",
    "mcp_tools_of_every_result",
    "code_cells_in_parallel_with_nested_calls_of_every_kind",
    "apply_patch_add_delete",
    "reasoning_and_phases",
    "resumed_twice",
    "huge_and_odd_texts_over_three_runs",
    "view_image_png",
    "compactions_in_the_root_and_a_worker",
)
#: bytes a payload, or a whole recording's
TINY = (1, 2, 64, 200, 1000, 4096)
#: the events at which a total budget is made to run out
_EDGES = (
    "codex_turn_started",
    "tool_call_started",
    "tool_call_runtime_started",
    "tool_call_ended",
    "compaction_request_started",
    "compaction_installed",
    "code_cell_started",
    "inference_completed",
)


def scenario(name: str) -> Scenario:
    """The catalogue's scenario ``name``, without limits of its own, for schema 3 only."""
    found = next(s for s in SCENARIOS if s.name == name)
    extra: list[str] = []
    parts = list(found.extra)
    while parts:
        part = parts.pop(0)
        if part == "-c" and parts and parts[0].startswith("rollout_trace."):
            parts.pop(0)
            continue
        extra.append(part)
    return attrs.evolve(found, extra=tuple(extra), schemas=(3,))


def limited(base: Scenario, setting: str, value: int) -> Scenario:
    """``base`` recorded under ``rollout_trace.<setting>=<value>``."""
    extra = (*base.extra, "-c", f"rollout_trace.{setting}={value}")
    return attrs.evolve(base, extra=extra, name=f"{base.name}[{setting}={value}]")


def _records(bundle: Path) -> dict[str, int]:
    """The size of each payload record (header, id and body), by id."""
    sizes = {}
    for shard in sorted((bundle / "payloads").glob("*.zst")):
        with shard.open("rb") as raw:
            reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
            data = reader.read()
        at = 0
        header = layout.SHARD_RECORD_HEADER
        while at + header.size <= len(data):
            id_len, body_len = header.unpack_from(data, at)
            ident = data[at + header.size : at + header.size + id_len].decode()
            size = header.size + id_len + body_len
            sizes[ident] = size
            at += size
    return sizes


def _cited(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["raw_payload_id"]] if "raw_payload_id" in value else []
        return found + [i for v in value.values() for i in _cited(v)]
    if isinstance(value, list):
        return [i for v in value for i in _cited(v)]
    return []


def limits_for(bundle: Path) -> list[tuple[str, int]]:
    """The sweep for a scenario whose unlimited recording is ``bundle``: (setting, value)."""
    sizes = _records(bundle)
    bodies = sorted({size for size in sizes.values() if size > 40})
    sweep = [("max_payload_bytes", n) for n in TINY]
    for size in (bodies[len(bodies) // 3], bodies[-1]) if bodies else ():
        # the record's header and id are not the body's: aim either side of the body
        body = size - layout.SHARD_RECORD_HEADER.size - len("raw_payload:00")
        sweep += [("max_payload_bytes", n) for n in (body - 1, body, body + 1)]
    sweep += [("max_bytes", n) for n in TINY]
    spent, seen, edges = 0, set(), {}
    for line in (bundle / "trace.jsonl").read_bytes().splitlines(keepends=True):
        event = json.loads(line)
        kind = event["payload"]["type"]
        for ident in _cited(event["payload"]):
            if ident not in seen:
                seen.add(ident)
                spent += sizes.get(ident, 0)
        if kind in _EDGES and kind not in edges:
            edges[kind] = spent  # the budget runs out as this event is written
        spent += len(line)
    for where in sorted(set(edges.values())):
        sweep += [("max_bytes", n) for n in (where - 1, where + 1, where + 300)]
    # and budgets spread over the whole (Codex counts otherwise: where it stops varies)
    sweep += [("max_bytes", spent * k // 10) for k in range(1, 10)]
    sweep.append(("max_bytes", spent - 200))
    return list(dict.fromkeys(sweep))


@attrs.define
class Outcome:
    """What one limited recording gave: the strict reduction's headline (or ``"state"``),
    and convert's (``"written"``, or the refusal blanked)."""

    reduced: str
    converted: str


def check_limited(bundle: Path, codex: str, described: str) -> Outcome:
    """One recording under limits: our strict reduction is Codex 0.171's (bytes, or its
    refusal inside ours: a budget too small for the manifest leaves none, and we name the
    file Codex's ``No such file or directory`` is about); ``reduce --lenient``, ``validate``
    and ``summary`` end cleanly (:func:`~tests.killed_checks.check_killed`); ``convert --to 2`` refuses clearly or writes a
    copy Codex 0.169 reduces as we do, and its 3 → 2 → 3 round trip reduces with Codex 0.171
    as with ours (:func:`~tests.differential.convert_checks.check_convert`); and a few crash
    cuts of a recording that reaches a state are judged as the crash-cut differential judges
    them (:func:`~tests.differential.crash_cuts.check_some_cuts`)."""
    if not (bundle / "manifest.json").exists():
        # a budget smaller than the manifest: Codex leaves an empty bundle (``payloads/``
        # alone), refused by both, and by ours naming the file (by design); nothing to read
        result = reduce_and_compare(bundle, codex, timeout=60)
        assert agrees(result) and result.error is not None, result.explain()
        for command in (("reduce", "--lenient"), ("validate",), ("summary",)):
            code, text = run_in_process(argv(command, bundle, bundle.parent / "state.json"), 60)
            assert verdict(code, text) is None and code == 1, f"{command}: {text[-2000:]}"
        return Outcome("no manifest", "-")
    result = check_killed(bundle, codex, described)
    converted, broken = check_convert(bundle, 3, result)
    assert broken is None, f"{broken}\n{described}"
    if result.error is None:
        state = json.loads(result.ours or b"{}")
        scratch = bundle.parent / "cuts"
        problems = check_some_cuts(bundle, codex, random.Random(described), scratch)
        assert not problems, "\n".join([*problems[:3], described])
        return Outcome(f"state {state.get('recording_status')}", converted)
    return Outcome(result.error.message.split("\n")[0][:90], converted)
