"""What ``rollout-trace convert`` must do with a grammar bundle (``docs/reducing.md``,
"Converting between schemas"), checked by ``test_grammar_vs_codex.py``:

* it refuses with a clear error (``Error: ...`` and where; nothing at the target), or writes
  a bundle; never a traceback, an internal error or a hang;
* a written bundle reduces with the other schema's Codex exactly as with ours (the same
  bytes, or the same refusal), ``validate`` ends as on the source, and a source both reducers
  accept gives a copy both accept;
* of a source both accept, 2 → 3 → 2 gives back the same log and state; a 2 → 3 copy without
  receipts reduces to the source's state but for the listed differences; 3 → 2 → 3 is
  refused clearly or reduces with Codex 0.171 as with ours.

:func:`check_convert` returns the outcome (for the counts) and what broke, if anything.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import orjson

from rollout_trace_sdk.model import codec, layout
from rollout_trace_sdk.reduce.bundle import Bundle
from rollout_trace_sdk.testing import Comparison, reduce_and_compare
from tests.codex_oracle import codex_bin
from tests.hostile import run_in_process, verdict
from tests.killed_checks import agrees


def blanked(text: str) -> str:
    """A refusal's headline with its ids, numbers and paths blanked, to count distinct ones."""
    text = re.sub(r"/\S+", "PATH", text)
    return re.sub(r"(raw_payload:|line |event )?\d+|[0-9a-f-]{36}|\b(m|c|t|r)\d\b", "#", text)


def _run(command: list[str]) -> tuple[int | None, str, str | None]:
    code, text = run_in_process(command, 60)
    return code, text, verdict(code, text)


def _convert(source: Path, target: Path, schema: int) -> tuple[str | None, str | None]:
    """(refusal headline or None if written, what broke or None)."""
    code, text, broken = _run(["convert", str(source), "--to", str(schema), "-o", str(target)])
    if broken is not None:
        return None, f"convert --to {schema}: {broken}: {text[-1500:]}"
    if code == 0:
        return None, None
    if target.exists() or not text.startswith("Error: ") or "\n  at " not in text:
        return text, f"convert --to {schema} refused unclearly or left {target}: {text[-1500:]}"
    return text.split("\n", 1)[0], None


def _but_for_the_listed(state: dict[str, Any]) -> dict[str, Any]:
    """A state less what a 2 → 3 copy changes by design: the schema's own fields, the
    payload table (shards, added prompts), the calls' prepared prompts and the cells' waits
    (0.171 links only confirmed ones, and none is invented)."""
    kept = {k: v for k, v in state.items() if k not in _SCHEMA_FIELDS}
    for table, field in (
        ("inference_calls", "prepared_prompt_payload_id"),
        ("code_cells", "wait_tool_call_ids"),
    ):
        kept[table] = {
            key: {k: v for k, v in fields.items() if k != field}
            for key, fields in state[table].items()
        }
    return kept


#: what ``validate`` says of a text not as the writer writes it, which the copy's writer mends
#: (a payload file no event cites is not copied: found by the damage differential, two
#: references made to name one file)
_FORM = (
    "not in Codex's layout",
    "blank line (the writer never writes one)",
    "not cited by any event",
)
_SCHEMA_FIELDS = ("schema_version", "recording_complete", "recording_status", "raw_payloads")


def check_convert(source: Path, schema: int, original: Comparison) -> tuple[str, str | None]:
    """Convert ``source`` (of ``schema``, which both reducers judged alike: ``original``) to
    the other schema and check the copy; returns (outcome, what broke or None)."""
    other = 5 - schema
    codex = codex_bin(other)
    assert codex is not None
    target = source.parent / f"{source.name}-to{other}"
    try:
        refusal, broken = _convert(source, target, other)
        if broken is not None or refusal is not None:
            return f"refused: {blanked(refusal or '')}", broken
        copy = reduce_and_compare(target, codex, timeout=60)
        if not agrees(copy):
            return "written", f"converted to {other}: {copy.explain()}"
        if original.error is None and copy.error is not None:
            return "written", f"accepted, but its copy is refused: {copy.error.message}"
        broken = _validates_alike(source, target)
        if broken is None and original.error is None:
            broken = _round_trip(source, target, schema, original, copy)
        outcome = (
            "written" if copy.error is None else f"written, refused: {blanked(copy.error.message)}"
        )
        return outcome, broken
    finally:
        shutil.rmtree(target, ignore_errors=True)


def _same_log(source: Path, back: Path) -> bool:
    """Whether 2 → 3 → 2 gave back the source's log: its bytes, or when its lines are not as a
    writer writes them (spaces, keys in another order or case, a BOM, ``\\r\\n``) its events
    as convert writes them (but for paths: :func:`_paths_named_anew`)."""
    log = (back / "trace.jsonl").read_bytes()
    if log == (source / "trace.jsonl").read_bytes():
        return True
    with Bundle.open(source) as bundle:
        written = b"".join(codec.event_line(located.event, 2) for located in bundle.events())
    return log == written or (
        _paths_named_anew(written) and _blank_paths(log) == _blank_paths(written)
    )


def _paths_named_anew(log: bytes) -> bool:
    """Whether a payload of the log is not at ``payloads/N.json`` for its id ``raw_payload:N``:
    convert's ``_v2_path`` names the file of an id spelled otherwise by its digest, and
    that of ``raw_payload:N`` ``payloads/N.json``, so 2 → 3 → 2 gives it another path (the
    damage differential pointed a reference at another payload's file)."""
    for found in _REF.finditer(log):
        number = layout.payload_number(orjson.loads(found.group(1)))
        if number is None or orjson.loads(found.group(2)) != layout.payload_path(number):
            return True
    return False


def _blank_paths(text: bytes) -> bytes:
    return _PATH.sub(b'"path":""', text)


_STRING = rb'"(?:[^"\\]|\\.)*"'
_REF = re.compile(
    rb'"raw_payload_id":(' + _STRING + rb'),"kind":\{[^{}]*\},"path":(' + _STRING + rb")"
)
_PATH = re.compile(rb'"path": ?"(?:[^"\\]|\\.)*"')


def _validates_alike(source: Path, target: Path) -> str | None:
    """``validate`` names damage in the copy exactly when it does in the source (but for a
    manifest not in Codex's layout or a blank line in the log, which the copy's writer mends)."""
    code, text, broken = _run(["validate", str(target)])
    before, judged, _ = _run(["validate", str(source)])
    problems = [line for line in judged.splitlines() if line.startswith(str(source))]
    if problems and code == 0 and all(any(f in line for f in _FORM) for line in problems):
        return broken
    if broken is not None or code != before:
        return f"validate: exit {code} on the copy, {before} on the source: {text[-1500:]}"
    return None


def _round_trip(
    source: Path, copy: Path, schema: int, original: Comparison, converted: Comparison
) -> str | None:
    back = copy.parent / f"{copy.name}-back"
    try:
        refusal, broken = _convert(copy, back, schema)
        if broken is not None:
            return broken
        if schema == 2:
            if refusal is not None:
                return f"2 → 3 → 2 refused: {refusal}"
            if not _same_log(source, back):
                return "2 → 3 → 2 changed the log"
            again = reduce_and_compare(back, codex_bin(schema) or "", timeout=60)
            if again.ours != original.ours and not (
                _paths_named_anew((source / "trace.jsonl").read_bytes())
                and again.ours is not None
                and original.ours is not None
                and _blank_paths(again.ours) == _blank_paths(original.ours)
            ):
                return f"2 → 3 → 2 changed the state: {again.explain()}"
            receipts = b"agent_message_payload" in (source / "trace.jsonl").read_bytes()
            assert original.ours is not None and converted.ours is not None
            listed = [_but_for_the_listed(orjson.loads(s)) for s in (original.ours, converted.ours)]
            if not receipts and listed[0] != listed[1]:
                return "the 2 → 3 copy's state differs beyond the listed differences"
        elif refusal is None:
            again = reduce_and_compare(back, codex_bin(schema) or "", timeout=60)
            if not agrees(again):
                return f"3 → 2 → 3: {again.explain()}"
        return None
    finally:
        shutil.rmtree(back, ignore_errors=True)
