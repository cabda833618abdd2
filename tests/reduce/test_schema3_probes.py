"""Schema-3 rules on edited copies of corpus bundles: the probes of v3.md, checked against what
Codex 0.171 did (and against the binary itself when ``$CODEX3_BIN`` is set)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from rollout_trace_sdk.reduce import ReduceError, reduce_bundle, state_bytes
from tests.codex_oracle import codex_bin, codex_reduce
from tests.reduce.v3_bundles import (
    Event,
    copy_bundle,
    corpus_bundle,
    edit_events,
    edit_shard,
    payload_of,
)


def _state(bundle: Path) -> dict[str, Any]:
    state: dict[str, Any] = orjson.loads(state_bytes(reduce_bundle(bundle)))
    return state


def _error(bundle: Path) -> ReduceError:
    with pytest.raises(ReduceError) as info:
        reduce_bundle(bundle)
    return info.value


def _agrees_with_codex(bundle: Path) -> None:
    """When the 0.171 binary is here, it reduces the probe the way we do."""
    if codex_bin(3) is None:
        return
    ok, stderr, state = codex_reduce(bundle, schema=3)
    try:
        ours: Any = _state(bundle)
    except ReduceError as exc:
        assert not ok and stderr.strip().splitlines()[0] == exc.codex_text().splitlines()[0]
        return
    assert ok and state == ours


def _first(events: list[Event], kind: str) -> dict[str, Any]:
    return next(payload_of(e) for e in events if payload_of(e)["type"] == kind)


def test_references_to_one_payload_must_agree(tmp_path: Path) -> None:
    bundle = copy_bundle("single_exec", tmp_path)

    def relabel(events: list[Event]) -> None:
        prompts = [payload_of(e) for e in events if payload_of(e)["type"] == "inference_started"]
        prompts[1]["prepared_prompt_payload"]["parts"][0]["kind"] = {"type": "content_value"}

    edit_events(bundle, relabel)
    assert _error(bundle).message == "conflicting references for payload raw_payload:5"
    _agrees_with_codex(bundle)


def test_request_evidence_must_carry_its_kind(tmp_path: Path) -> None:
    bundle = copy_bundle("single_exec", tmp_path)

    def relabel(events: list[Event]) -> None:
        _first(events, "inference_started")["request_payload"]["kind"] = {"type": "model_item"}

    edit_events(bundle, relabel)
    message = _error(bundle).message
    assert (
        message == "inference ab081bc1-e940-4230-b849-83d9349f215e has mislabeled request evidence"
    )
    _agrees_with_codex(bundle)


def test_omitted_payload_marks_the_recording_partial(tmp_path: Path) -> None:
    bundle = copy_bundle("single_exec", tmp_path)
    original = _state(corpus_bundle("single_exec"))

    def omit(events: list[Event]) -> None:
        ref = _first(events, "protocol_event_observed")["event_payload"]
        ref["shard"] = None
        ref["capture"] = {"status": "omitted", "original_bytes": 1000}

    edit_events(bundle, omit)
    state = _state(bundle)
    assert state["recording_status"] == "closed_with_partial_payloads"
    assert state["raw_payloads"]["raw_payload:2"] == {
        "raw_payload_id": "raw_payload:2",
        "kind": {"type": "protocol_event"},
        "shard": None,
        "capture": {"status": "omitted", "original_bytes": 1000},
    }
    for key in ("conversation_items", "inference_calls", "tool_calls"):
        assert state[key] == original[key]
    _agrees_with_codex(bundle)


@pytest.mark.parametrize(
    ("capture", "message"),
    [
        ({"status": "complete"}, "payload omitted by size limit"),
        (None, "payload omitted by size limit"),
    ],
)
def test_a_reference_without_a_shard_must_be_omitted(
    tmp_path: Path, capture: dict[str, Any] | None, message: str
) -> None:
    bundle = copy_bundle("single_exec", tmp_path)

    def drop_shard(events: list[Event]) -> None:
        ref = _first(events, "protocol_event_observed")["event_payload"]
        ref["shard"] = None
        if capture is not None:
            ref["capture"] = capture

    edit_events(bundle, drop_shard)
    assert _error(bundle).message == message


def test_an_omitted_payload_has_no_shard(tmp_path: Path) -> None:
    bundle = copy_bundle("single_exec", tmp_path)

    def omit_keep_shard(events: list[Event]) -> None:
        ref = _first(events, "protocol_event_observed")["event_payload"]
        ref["capture"] = {"status": "omitted", "original_bytes": 10}

    edit_events(bundle, omit_keep_shard)
    assert _error(bundle).message == "omitted payload has a shard"
    _agrees_with_codex(bundle)


def test_a_truncated_payload_keeps_its_retained_length(tmp_path: Path) -> None:
    """Checked after the last event (an event error wins), and never parsed."""
    bundle = copy_bundle("single_exec", tmp_path)

    def cut(events: list[Event]) -> None:
        ref = _first(events, "protocol_event_observed")["event_payload"]
        ref["capture"] = {"status": "truncated", "original_bytes": 100_000, "retained_bytes": 10}

    edit_events(bundle, cut)
    assert _error(bundle).message == "invalid retained length"
    _agrees_with_codex(bundle)


def test_waits_are_linked_only_by_the_confirmed_target(tmp_path: Path) -> None:
    bundle = copy_bundle("code_mode_yield_wait", tmp_path)
    original = _state(corpus_bundle("code_mode_yield_wait"))
    assert original["tool_calls"]["call_wait_cell"]["resolved_wait_runtime_cell_id"] == "1"
    assert original["code_cells"]["code_cell:call_cell2"]["wait_tool_call_ids"] == [
        "call_wait_cell"
    ]

    def drop(events: list[Event]) -> list[Event]:
        kept = [e for e in events if payload_of(e)["type"] != "code_cell_wait_target_resolved"]
        for seq, event in enumerate(kept, start=1):
            event["seq"] = seq
        return kept

    edit_events(bundle, drop)
    state = _state(bundle)
    assert "resolved_wait_runtime_cell_id" not in state["tool_calls"]["call_wait_cell"]
    assert state["code_cells"]["code_cell:call_cell2"]["wait_tool_call_ids"] == []
    _agrees_with_codex(bundle)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tool_call_id": "nope"}, "confirmed wait referenced unknown dispatch nope"),
        ({"@thread": None}, "confirmed wait missing thread"),
        ({"@turn": None}, "confirmed wait missing turn"),
        ({"@turn": "other-turn"}, "confirmed wait target has wrong dispatch context"),
        ({"@twice": True}, "duplicate confirmed wait target for call_wait_cell"),
        # the envelope is checked before the tool is looked up (0.171; found by the mutation
        # differential: we named the unknown tool)
        ({"tool_call_id": "nope", "@thread": None}, "confirmed wait missing thread"),
        ({"tool_call_id": "nope", "@turn": None}, "confirmed wait missing turn"),
        (
            {"tool_call_id": "nope", "@thread": "other"},
            "confirmed wait referenced unknown dispatch nope",
        ),
    ],
)
def test_confirmed_wait_checks(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    bundle = copy_bundle("code_mode_yield_wait", tmp_path)

    def edit(events: list[Event]) -> list[Event]:
        index = next(
            n
            for n, e in enumerate(events)
            if payload_of(e)["type"] == "code_cell_wait_target_resolved"
        )
        event = events[index]
        if change.get("@twice"):
            events.insert(index + 1, orjson.loads(orjson.dumps(event)))
            for seq, each in enumerate(events, start=1):
                each["seq"] = seq
        for key, value in change.items():
            if key == "@thread":
                event["thread_id"] = value
            elif key == "@turn":
                event["codex_turn_id"] = value
            elif not key.startswith("@"):
                event["payload"][key] = value
        return events

    edit_events(bundle, edit)
    assert _error(bundle).message == message


def test_stripped_tool_output_ids_are_restored(tmp_path: Path) -> None:
    """v3.md §7.1: the request lost the output's id; the event gives it back."""
    bundle = copy_bundle("single_exec", tmp_path)
    events_before = orjson.loads(state_bytes(reduce_bundle(corpus_bundle("single_exec"))))
    output_id: list[str] = []

    def strip(records: dict[str, bytes]) -> None:
        request = orjson.loads(records["raw_payload:14"])
        output_id.append(request["input"][4].pop("id"))
        records["raw_payload:14"] = orjson.dumps(request)

    edit_shard(bundle, 1, strip)

    def name_it(events: list[Event]) -> None:
        starts = [payload_of(e) for e in events if payload_of(e)["type"] == "inference_started"]
        starts[1]["stripped_tool_output_ids"] = [[4, output_id[0]]]

    edit_events(bundle, name_it)
    assert _state(bundle) == events_before
    _agrees_with_codex(bundle)


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        # v3.md §9: the new replacement items (7, 8, 9) go before the claimed output (5); the
        # marker (6) is no part of the batch and keeps its place after it.
        (False, [1, 2, 3, 4, 7, 8, 9, 5, 6, 10, 11, 12, 13]),
        # with the output first in the replacement history, nothing precedes it
        (True, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]),
    ],
)
def test_a_claimed_output_moved_into_the_replacement_history(
    tmp_path: Path, first: bool, expected: list[int]
) -> None:
    """v3.md §9's compaction probe: ``auto_compaction_remote``'s checkpoint with its tool
    output (unclaimed ci:5) moved from the input history into the replacement history."""
    bundle = copy_bundle("auto_compaction_remote", tmp_path)

    def move(records: dict[str, bytes]) -> None:
        checkpoint = orjson.loads(records["raw_payload:16"])
        outputs = [i for i in checkpoint["input_history"] if i["type"] == "function_call_output"]
        assert len(outputs) == 1
        checkpoint["input_history"].remove(outputs[0])
        replacement = checkpoint["replacement_history"]
        checkpoint["replacement_history"] = (
            outputs + replacement if first else replacement + outputs
        )
        records["raw_payload:16"] = orjson.dumps(checkpoint)

    edit_shard(bundle, 1, move)
    state = _state(bundle)
    listed = state["threads"][state["root_thread_id"]]["conversation_item_ids"]
    assert listed == [f"conversation_item:{n}" for n in expected]
    _agrees_with_codex(bundle)


def test_stripped_id_must_name_an_id_less_output(tmp_path: Path) -> None:
    bundle = copy_bundle("single_exec", tmp_path)

    def name_it(events: list[Event]) -> None:
        starts = [payload_of(e) for e in events if payload_of(e)["type"] == "inference_started"]
        starts[1]["stripped_tool_output_ids"] = [[0, "x"]]

    edit_events(bundle, name_it)
    assert _error(bundle).message == (
        "stripped tool output ID does not refer to an ID-less output at input 0"
    )


def test_lenient_reduces_what_a_crash_left(tmp_path: Path) -> None:
    """A recording killed mid-write: the log cut mid-line and the shard's frame cut short.
    Strict replay refuses the missing payload; lenient replay reduces the rest and says what
    it passed over."""
    bundle = copy_bundle("single_exec", tmp_path)
    log = bundle / "trace.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:16]) + lines[16][:40])
    shard = bundle / "payloads" / "000001.zst"
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ReduceError):
        reduce_bundle(bundle)
    notes: list[str] = []
    state = orjson.loads(state_bytes(reduce_bundle(bundle, lenient=True, skipped=notes)))
    assert state["recording_status"] == "unclosed"
    assert state["threads"] and notes
    assert any("missing payload" in note for note in notes)


def test_lenient_reduces_a_closed_log_over_a_cut_shard(tmp_path: Path) -> None:
    """The log closed (``recording_completed``) but a shard cut short or unsealed (a full
    disk, a copy cut off): lenient replay refused the whole bundle with "missing footer"
    (found by review); it notes each such shard and reduces what is whole."""
    bundle = copy_bundle("view_image", tmp_path)
    shard = max((bundle / "payloads").glob("*.zst"))
    shard.write_bytes(shard.read_bytes()[:-30])
    with pytest.raises(ReduceError, match="missing footer in payload shard"):
        reduce_bundle(bundle)
    notes: list[str] = []
    state = orjson.loads(state_bytes(reduce_bundle(bundle, lenient=True, skipped=notes)))
    assert state["threads"]
    assert state["recording_status"] == "closed_with_partial_payloads"  # not "complete"
    assert any(
        note.startswith(f"missing footer in payload shard {int(shard.stem)} (")
        and note.endswith("; the recording said it was complete")
        for note in notes
    ), notes
    shard.write_bytes(b"")  # nothing readable at all
    notes = []
    reduce_bundle(bundle, lenient=True, skipped=notes)
    assert notes


@pytest.mark.parametrize(("unsealed", "expected"), [(3, None), (2, 2), (1, 1)])
def test_only_the_last_shard_a_cut_recording_cites_may_be_unsealed(
    tmp_path: Path, unsealed: int, expected: int | None
) -> None:
    """A recording cut short (no ``recording_completed``) may leave the last shard it cites
    open, and only that one: a writer seals a shard before it starts the next. Codex 0.171
    refuses any other ("missing footer in payload shard N"); we accepted them all (found by
    probing a bundle whose loss report went to a shard of its own)."""
    import zstandard

    bundle = copy_bundle("view_image", tmp_path)
    edit_events(bundle, lambda events: events[:-1])  # recording_completed
    started = zstandard.ZstdCompressor(write_checksum=True).compress(b"x" * 100)[:9]
    with (bundle / "payloads" / f"{unsealed:06d}.zst").open("ab") as handle:
        handle.write(started)  # a frame begun, not finished: the shard is not sealed
    if expected is None:
        reduce_bundle(bundle)
    else:
        assert _error(bundle).message == f"missing footer in payload shard {expected}"
        notes: list[str] = []
        reduce_bundle(bundle, lenient=True, skipped=notes)
        assert any(note.endswith("; not the last shard") for note in notes), notes
    _agrees_with_codex(bundle)


@pytest.mark.parametrize("completed", [True, False])
def test_an_empty_shard_file_is_not_sealed(tmp_path: Path, completed: bool) -> None:
    """An empty shard file (created, never written: a crash, a copy cut off) holds no frame,
    so no footer: Codex 0.171 refuses it as any unsealed shard it may not leave open, "missing
    footer in payload shard 2"; we read it as a sealed shard without records and named a
    payload it lacked instead (found by review: a shard cut at offset 0). Shard 2 holds only a
    cut image no handler reads, so the end-of-replay checks meet it first."""
    bundle = copy_bundle("capture_payload_limit_exec", tmp_path)
    if not completed:
        edit_events(bundle, lambda events: events[:-1])  # recording_completed
    (bundle / "payloads" / "000002.zst").write_bytes(b"")
    assert _error(bundle).message == "missing footer in payload shard 2"
    notes: list[str] = []
    reduce_bundle(bundle, lenient=True, skipped=notes)
    assert any(note.startswith("missing footer in payload shard 2 (") for note in notes), notes
    _agrees_with_codex(bundle)


@pytest.mark.parametrize(
    ("scenario", "shard", "lost", "named"),
    [
        ("capture_payload_limit_exec", 3, ("raw_payload:26", "raw_payload:27"), "raw_payload:27"),
        ("view_image", 3, ("raw_payload:14", "raw_payload:15"), "raw_payload:15"),
        ("view_image", 3, ("raw_payload:22", "raw_payload:23"), "raw_payload:23"),
    ],
)
def test_payloads_lost_from_a_shard_are_named_in_codex_order(
    tmp_path: Path, scenario: str, shard: int, lost: tuple[str, ...], named: str
) -> None:
    """A shard cut short loses several records. The end-of-replay check names the first
    missing one in Codex 0.171's order: by shard, and within a shard as Rust's unstable sort
    leaves the references in (``reduce/rust_sort.py``), not in id order as we did (found by
    review: a crash-cut shard, the log cut too, and we named another payload than Codex)."""
    bundle = copy_bundle(scenario, tmp_path)
    edit_shard(bundle, shard, lambda records: {k: v for k, v in records.items() if k not in lost})
    assert _error(bundle).message == f"missing payload {named} in shard {shard}"
    _agrees_with_codex(bundle)


def test_the_end_check_of_a_template_is_its_skeleton(tmp_path: Path) -> None:
    """Codex 0.171's end check of a template no handler read (a prepared prompt) is its
    skeleton, ``null`` standing for each part: a part is checked at its own turn, and a splice
    that is no JSON passes. We checked each part at the turn of a template citing it, then the
    splice (found by review: prompt 22 cites part 6 and comes before prompt 7, which comes
    before part 6)."""
    bundle = copy_bundle("capture_payload_limit_exec", tmp_path)
    parts_in_a_string = orjson.dumps(['["', '","', '"]'])  # prompt 7 has two parts
    edit_shard(bundle, 1, lambda records: {**records, "raw_payload:7": parts_in_a_string})
    reduce_bundle(bundle)
    _agrees_with_codex(bundle)

    def broken_part_and_lost_prompt(records: dict[str, bytes]) -> dict[str, bytes]:
        records["raw_payload:6"] = b"{bad"
        del records["raw_payload:7"]
        return records

    edit_shard(bundle, 1, broken_part_and_lost_prompt)
    assert _error(bundle).message == "missing payload raw_payload:7 in shard 1"
    _agrees_with_codex(bundle)


def test_a_shard_that_is_a_directory_is_worded_as_codex_words_it(tmp_path: Path) -> None:
    """Codex opens a directory, then its decoder fails to read it: "decompress shard", not
    "open shard" (found by review)."""
    bundle = copy_bundle("view_image", tmp_path)
    shard = max((bundle / "payloads").glob("*.zst"))
    shard.unlink()
    shard.mkdir()
    error = _error(bundle)
    assert error.message == f"decompress shard {bundle}/payloads/{shard.name}"
    assert error.cause == "Is a directory (os error 21)"
    _agrees_with_codex(bundle)


_ROUTING = "failed to parse agent_message routing in payload raw_payload:21"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda v: v.pop("author"), (_ROUTING, "missing field `author`")),
        (lambda v: v.update(author=5), (_ROUTING, "invalid type: number, expected a string")),
        (lambda v: v.pop("content"), ("expected agent_message content array", None)),
        (lambda v: v.update(content="x"), ("expected agent_message content array", None)),
        (
            lambda v: v.update(content=[{"type": "zzz"}]),
            ("unknown variant `zzz`, expected `input_text` or `encrypted_content`", None),
        ),
        (lambda v: v.update(content=[{"type": "input_text"}]), ("missing field `text`", None)),
        (
            lambda v: v.update(id=5),
            (
                "accepted item payload does not match amsg_01a23439-51e5-7303-8937-0be33b48cc78",
                None,
            ),
        ),
        (lambda v: (v.pop("author"), v.update(content="x")), (_ROUTING, "missing field `author`")),
        (lambda v: v.update(internal_chat_message_metadata_passthrough=5), None),
    ],
    ids=[
        "no_author",
        "author_int",
        "no_content",
        "content_str",
        "entry_variant",
        "entry_no_text",
        "id_int",
        "routing_first",
        "passthrough_not_read",
    ],
)
def test_agent_message_acceptance_errors_use_0171_words(
    tmp_path: Path, edit: Any, expected: tuple[str, str | None] | None
) -> None:
    """v3.md §12, each text as Codex 0.171 printed it for the same edit."""
    bundle = copy_bundle("multi_agent_v2_lifecycle", tmp_path)

    def change(records: dict[str, bytes]) -> None:
        value = orjson.loads(records["raw_payload:21"])
        edit(value)
        records["raw_payload:21"] = orjson.dumps(value)

    edit_shard(bundle, 1, change)
    if expected is None:
        _state(bundle)
    else:
        error = _error(bundle)
        assert (error.message, error.cause) == expected
    _agrees_with_codex(bundle)


def test_shard_files_are_read_only_through_the_confined_reader(tmp_path: Path) -> None:
    """A shard that is a symlink (even to a good copy) is refused, as every bundle file is."""
    bundle = copy_bundle("single_exec", tmp_path)
    shard = bundle / "payloads" / "000001.zst"
    outside = tmp_path / "elsewhere.zst"
    shard.rename(outside)
    shard.symlink_to(outside)
    error = _error(bundle)
    assert error.message == f"open shard {bundle}/payloads/000001.zst"
    assert error.cause is not None and "symlink" in error.cause


@pytest.mark.parametrize("unkept", ["omitted", "truncated"])
def test_a_write_stdin_result_is_read_whole(tmp_path: Path, unkept: str) -> None:
    """A ``write_stdin`` ends from its ``tool_result`` (the dispatch payload), which Codex
    0.171 reads whole: a template over a part the recorder cut or left out (at any depth) is
    refused as "partial payload <id>". We read the placeholder as JSON and went on (found by
    review: a write_stdin printing 64 Ki characters under ``max_payload_bytes``)."""
    bundle = copy_bundle("terminal_session_reuse", tmp_path)
    wrapper = b'["{\\"type\\":\\"direct_response\\",\\"response_item\\":","}"]'
    edit_shard(bundle, 1, lambda records: records.update({"raw_payload:19": wrapper}))
    capture: dict[str, Any] = {"status": unkept, "original_bytes": 5000}
    shard: int | None = None
    if unkept == "truncated":
        capture["retained_bytes"] = 2
        shard = 1
        edit_shard(bundle, 1, lambda records: records.update({"raw_payload:90": b"{}"}))
    item = {"raw_payload_id": "raw_payload:90", "kind": {"type": "model_item"}, "shard": shard}
    # the output item is itself a template over the part that was not kept (depth 2)
    outer = {
        "raw_payload_id": "raw_payload:91",
        "kind": {"type": "model_item"},
        "shard": 1,
        "parts": [{**item, "capture": capture}],
    }
    edit_shard(bundle, 1, lambda records: records.update({"raw_payload:91": b'["",""]'}))

    def cite(events: list[Event]) -> None:
        ended = next(
            payload_of(e)
            for e in events
            if payload_of(e)["type"] == "tool_call_ended"
            and payload_of(e)["tool_call_id"] == "call_w1"
        )
        ended["result_payload"]["parts"] = [outer]

    edit_events(bundle, cite)
    assert _error(bundle).message == "partial payload raw_payload:19"
    _agrees_with_codex(bundle)
