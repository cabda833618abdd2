"""What ``convert --lenient`` of a bundle a crash cut short must give, whoever recorded it:

* the copy is one the other schema's Codex reduces strictly, exactly as we reduce it;
* it holds what ``reduce --lenient`` of the source holds, up to the schema differences
  ``docs/reducing.md`` lists: 2 → 3 is checked by converting the copy back to schema 2 (which
  gave Codex 0.169's state byte for byte on the corpus), 3 → 2 on what both schemas record
  alike (:func:`comparable_v3_v2`);
* seqs are renumbered after each event left out, and every event left out is named by seq in
  the notes, as ``reduce --lenient`` names what it skipped; nothing else is missing but the
  payloads only those events cited.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import orjson

from rollout_trace_sdk.reduce import reduce_bundle, state_bytes
from rollout_trace_sdk.reduce.convert import convert_bundle
from rollout_trace_sdk.view.lenient_notes import grouped_notes
from tests.codex_oracle import bundle_schema, codex_bin, codex_reduce
from tests.hostile import run_in_process, verdict

#: what a schema-3 state records that schema 2 records otherwise or not at all (3 → 2),
#: besides conversation items and every reference to one (see ``comparable_v3_v2``)
_V3_ONLY: dict[str, tuple[str, ...]] = {
    "inference_calls": ("prepared_prompt_payload_id",),
    "tool_calls": ("resolved_wait_runtime_cell_id",),
    "terminal_operations": ("model_observations",),
    "code_cells": ("wait_tool_call_ids",),
}


#: the notes of an event left out, and of one ``reduce --lenient`` skipped
_LEFT_OUT = re.compile(r"\(seq (\d+)\): left out")
_SKIPPED = re.compile(r"\(seq (\d+)\): skipped")
#: the note of a thread's metadata payload left off its event
_WENT_WITHOUT = re.compile(r"went on without payload (\S+) ")


def _state(bundle: Path, lenient: bool = False) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(state_bytes(reduce_bundle(bundle, lenient=lenient)))
    return value


def _lines(bundle: Path) -> list[dict[str, Any]]:
    """The log's events as JSON (a torn last line left out)."""
    events = []
    for raw in (bundle / "trace.jsonl").read_bytes().splitlines():
        try:
            events.append(orjson.loads(raw))
        except orjson.JSONDecodeError:
            continue
    return events


def _key(event: dict[str, Any]) -> tuple[Any, ...]:
    """What an event says in either schema: its envelope but the seq, and its payload's
    plain fields (ids, statuses; references to payloads differ between the schemas)."""
    plain = sorted((k, v) for k, v in event["payload"].items() if isinstance(v, str | int))
    return (event["wall_time_unix_ms"], event["thread_id"], event["codex_turn_id"], *plain)


def _refs(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {value["raw_payload_id"]} if isinstance(value.get("raw_payload_id"), str) else set()
        return found.union(*(_refs(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_refs(v) for v in value))
    return set()


def seq_map(source: Path, copy: Path) -> tuple[dict[int, int], list[dict[str, Any]]]:
    """Source seq → copy seq, the copy's events matched in order against the source's; and
    the source events the copy does not have."""
    copied = _lines(copy)
    mapping: dict[int, int] = {}
    missing = []
    at = 0
    for event in _lines(source):
        if at < len(copied) and _key(copied[at]) == _key(event):
            mapping[event["seq"]] = copied[at]["seq"]
            at += 1
        else:
            missing.append(event)
    assert at == len(copied), f"the copy has events the source has not: {copied[at]}"
    return mapping, missing


def renumbered(value: Any, mapping: dict[int, int]) -> Any:
    """``value`` with every ``*_seq`` number mapped (one without a match stays visible)."""
    if isinstance(value, dict):
        return {
            k: (
                mapping.get(v, f"left out: {v}")
                if k.endswith("_seq") and isinstance(v, int)
                else renumbered(v, mapping)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [renumbered(v, mapping) for v in value]
    return value


def _without_items(value: Any) -> Any:
    """``value`` with every conversation item id (``*item_id``, ``*item_ids``, an edge's end
    at an item) left out."""
    if isinstance(value, dict):
        if value.get("type") == "conversation_item":
            return "conversation_item"
        return {
            k: _without_items(v)
            for k, v in value.items()
            if not k.endswith(("item_id", "item_ids"))
        }
    if isinstance(value, list):
        return [_without_items(v) for v in value]
    return value


def comparable_v3_v2(state: dict[str, Any]) -> dict[str, Any]:
    """What a schema-2 and a schema-3 state of one rollout record alike: not the
    conversation items (schema 3 makes a tool output's item at acceptance, so they are
    numbered otherwise) nor the ids that point at them, the prompts, the waits 0.171 links
    by confirmation only, the payloads' shape or the recording's status."""
    state = _without_items(state)
    out = {}
    for name, value in state.items():
        if name in ("conversation_items", "schema_version", "recording_complete"):
            continue
        if name in ("recording_status", "raw_payloads"):
            continue
        if name in _V3_ONLY:
            value = {
                key: {k: v for k, v in obj.items() if k not in _V3_ONLY[name]}
                for key, obj in value.items()
            }
        out[name] = value
    return out


def _notes(text: str) -> list[str]:
    return [line[2:] for line in text.splitlines() if line.startswith("  ")]


def _every_note(bundle: Path, schema: int, scratch: Path) -> list[str]:
    """One note per thing ``convert --lenient`` left out: the command prints notes alike once
    (``view/lenient_notes.py``: "(and N more like it: lines ...)", "…" past eight), which
    names neither the others' seqs nor, past eight, their lines; the API's list names each."""
    notes: list[str] = []
    target = scratch / f"notes-{schema}-{bundle.name}"
    convert_bundle(bundle, target, schema, lenient=True, skipped=notes)
    shutil.rmtree(target)
    return notes


def pruned(source: Path, keep: set[int], target: Path) -> dict[int, int]:
    """A copy of ``source`` (same schema, same payloads) whose log has only the events of
    ``keep``, renumbered; returns old seq → new seq."""
    shutil.copytree(source, target)
    mapping: dict[int, int] = {}
    lines = []
    for event in _lines(source):
        if event["seq"] in keep:
            mapping[event["seq"]] = event["seq"] = len(mapping) + 1
            lines.append(orjson.dumps(event) + b"\n")
    (target / "trace.jsonl").write_bytes(b"".join(lines))
    return mapping


def _without_ids(value: Any, ids: set[str]) -> Any:
    """``value`` without the strings of ``ids`` in its lists."""
    if isinstance(value, dict):
        return {k: _without_ids(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_ids(v, ids) for v in value if not (isinstance(v, str) and v in ids)]
    return value


def _without_status(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k not in ("recording_complete", "recording_status")}


def _whole(state: dict[str, Any]) -> bool:
    return bool(state.get("recording_status", "complete") == "complete") and bool(
        state.get("recording_complete", True)
    )


def check_lenient_converted(bundle: Path, scratch: Path, described: str) -> dict[int, str]:
    """``convert --lenient`` to the other schema, when its Codex is here (see the module's
    docstring); returns, by schema, ``"same"`` (as ``reduce --lenient`` of the source),
    ``"fewer"`` (it also left out an event whose payload is not whole that lenient
    reduction reduced without reading it) or the refusal's first line."""
    outcomes = {}
    for schema in {2, 3} - {bundle_schema(bundle)}:
        if codex_bin(schema) is None:
            continue
        copy = scratch / f"lenient-{schema}-{bundle.name}"
        command = ["convert", str(bundle), "--to", str(schema), "-o", str(copy), "--lenient"]
        code, text = run_in_process(command, 60)
        broken = verdict(code, text)
        assert broken is None, f"convert --lenient: {broken}\n{text[-2000:]}\n{described}"
        if code != 0:
            # what the other schema cannot say (a payload the recorder cut, as strict convert
            # refuses it); never the damage lenient reduction passes over
            assert "cannot say so" in text or "cannot tell them apart" in text, (
                f"{text[-2000:]}\n{described}"
            )
            assert not copy.exists(), described
            outcomes[schema] = text.split("\n", 1)[0]
            continue
        ok, stderr, theirs = codex_reduce(copy, schema=schema)
        assert ok, f"Codex refused the copy: {stderr}\n{text[-2000:]}\n{described}"
        ours = _state(copy)
        assert theirs == ours, f"Codex reduces the copy otherwise\n{described}"
        notes = _every_note(bundle, schema, scratch)
        assert _notes(text) == grouped_notes(notes), f"{text[-2000:]}\n{described}"
        outcomes[schema] = _compare(bundle, copy, theirs, notes, scratch, described)
        shutil.rmtree(copy)
    return outcomes


def _compare(
    bundle: Path,
    copy: Path,
    theirs: dict[str, Any],
    notes: list[str],
    scratch: Path,
    described: str,
) -> str:
    schema = 5 - bundle_schema(bundle)
    to_copy, missing = seq_map(bundle, copy)
    left_out = {int(m.group(1)) for n in notes for m in [_LEFT_OUT.search(n)] if m}
    schema_drops = {"code_cell_wait_target_resolved"} if schema == 2 else set()
    dropped = {e["seq"] for e in missing if e["payload"]["type"] not in schema_drops}
    unread = set()
    if not (bundle / "trace.jsonl").read_bytes().endswith(b"\n"):
        # a last line cut before its newline alone: both Codex versions read it but do not
        # count the recording as completed, so neither reducer has it
        unread = {e["seq"] for e in missing if e["payload"]["type"] == "recording_completed"}
    kept_out = left_out - {e["seq"] for e in missing if e["payload"]["type"] in schema_drops}
    assert dropped - unread == kept_out, f"left out {sorted(dropped)}, notes: {notes}\n{described}"
    # the copy holds what the kept events hold: the source's schema reduces them alike
    source_seqs = {e["seq"] for e in _lines(bundle)}
    reference = scratch / f"pruned-{bundle.name}"
    to_pruned = pruned(bundle, source_seqs - left_out - unread, reference)
    kept_state = _state(reference, lenient=True)
    shutil.rmtree(reference)
    pruned_to_copy = {new: to_copy[old] for old, new in to_pruned.items() if old in to_copy}
    if schema == 3:
        back = scratch / f"back-{bundle.name}"
        convert_bundle(copy, back, 2)
        again = _state(back)
        shutil.rmtree(back)
        assert again == kept_state, f"2 → 3 → 2 differs from the kept events\n{described}"
    else:
        expected = comparable_v3_v2(renumbered(kept_state, pruned_to_copy))
        assert comparable_v3_v2(theirs) == expected, f"3 → 2 differs\n{described}"
    # and that is what reduce --lenient of the source holds, unless an event whose payload
    # is not whole was left out that lenient reduction reduced without reading it
    skipped: list[str] = []
    lenient = orjson.loads(state_bytes(reduce_bundle(bundle, lenient=True, skipped=skipped)))
    # a schema-3 payload the recorder cut (closed_with_partial_payloads) that schema 2 never
    # carries (a prepared prompt's part) goes with it: if nothing was left out, the copy is whole
    cut_only_there = (
        schema == 2
        and lenient.get("recording_status") == "closed_with_partial_payloads"
        and not left_out
    )
    whole = _whole(lenient) or cut_only_there
    assert _whole(theirs) == whole, f"whole: {_whole(theirs)}\n{described}"
    skipped_seqs = {int(m.group(1)) for n in skipped for m in [_SKIPPED.search(n)] if m}
    closing = {e["seq"] for e in missing if e["payload"]["type"] == "recording_completed"}
    if left_out - closing - skipped_seqs:
        return "fewer"
    expected = renumbered(lenient, to_pruned)
    # the payloads only the events left out cited (lenient replay registers them first)
    cited = _refs([e["payload"] for e in missing])
    went_without = {m.group(1) for n in notes for m in [_WENT_WITHOUT.search(n)] if m}
    gone = set(expected["raw_payloads"]) - set(kept_state["raw_payloads"])
    assert gone <= cited | went_without, f"{sorted(gone)} gone\n{described}"
    expected["raw_payloads"] = {k: v for k, v in expected["raw_payloads"].items() if k not in gone}
    # a skipped event's handler may have listed its payload before failing to read it (a
    # tool's runtime payloads): lenient replay keeps what a handler did before it failed
    expected = _without_ids(expected, gone)
    assert _without_status(expected) == _without_status(kept_state), (
        f"the kept events reduce otherwise than reduce --lenient\n{described}"
    )
    return "same"
