"""``validate``: structural promises without clocks, the reducer's own checks, and the same
words as ``reduce`` for the same mistake."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from rollout_trace_sdk.record import open_rollout
from rollout_trace_sdk.reduce import ReduceError, reduce_bundle
from tests.conftest import CONFORMANCE, CONFORMANCE_V3, conformance_bundles, needs_conformance
from tests.held_log import counted_scans, held_open, needs_proc, unclosed_bundle, unclosed_root
from tests.reduce.test_bundle import event_lines, make_bundle
from tests.test_cli import run

ERRORS = CONFORMANCE / "_errors"
ERROR_CASES = sorted(p.name for p in ERRORS.iterdir()) if ERRORS.is_dir() else []


def test_a_writer_that_ran_behind_is_healthy(tmp_path: Path) -> None:
    """Payloads written seconds after the wall time on the line citing them (a loaded writer
    queue): nothing is wrong, the payload was on disk before the line was."""
    now_ms = int(time.time() * 1000)
    bundle = make_bundle(tmp_path, event_lines(start_ms=now_ms - 60_000))
    late = now_ms / 1000
    for name in ("1.json", "2.json"):
        os.utime(bundle / "payloads" / name, (late, late))
    code, out, _ = run("validate", bundle)
    assert code == 0, out


@pytest.mark.parametrize(
    "bundle",
    conformance_bundles() + conformance_bundles(CONFORMANCE_V3),
    ids=lambda b: f"{b.parts[-3]}/{b.parts[-2]}",
)
def test_the_payload_count_is_codexs(bundle: Path) -> None:
    """``N payloads`` counts what Codex registers in ``raw_payloads``: in schema 3 that
    includes the parts of templates (a prompt's history items), which no event cites alone."""
    code, out, _ = run("validate", bundle)
    registered = json.loads((bundle / "expected_state.json").read_bytes())["raw_payloads"]
    assert code == 0 and out.rstrip().endswith(f", {len(registered)} payloads"), out


def test_an_empty_log_is_not_ok(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path, b"")
    code, out, _ = run("validate", bundle)
    assert code == 1
    assert f"{bundle}/trace.jsonl: no events: the log is empty" in out


def test_a_torn_last_line_is_one_problem(tmp_path: Path) -> None:
    """Pass 1's "no newline" and its parse error on the same line both gave way to the
    reducer's words: the one problem was printed twice (found by review)."""
    bundle = make_bundle(tmp_path)
    log = bundle / "trace.jsonl"
    log.write_bytes(log.read_bytes()[:-20])
    code, out, _ = run("validate", bundle)
    assert code == 1
    torn = [line for line in out.splitlines() if "parse trace event line" in line]
    assert len(torn) == 1, out


@needs_conformance
def test_what_only_replay_sees_is_reported_with_file_and_line(tmp_path: Path) -> None:
    source = next(b for b in conformance_bundles() if b.parent.name == "single_exec")
    bundle = tmp_path / "bundle"
    shutil.copytree(source, bundle)
    request = json.loads((bundle / "payloads" / "4.json").read_text())
    del request["input"][0]["type"]
    (bundle / "payloads" / "4.json").write_text(json.dumps(request))
    code, out, _ = run("validate", bundle)
    assert code == 1
    assert (
        f"{bundle}/trace.jsonl:8: model item in payload raw_payload:4 did not contain a string "
        "type (seq 8)\n"
    ) in out


@needs_conformance
@pytest.mark.parametrize("case", ERROR_CASES)
def test_validate_refuses_what_reduce_refuses_in_the_same_words(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ERRORS / case)
    try:
        reduce_bundle("bundle")
    except ReduceError as exc:
        refused: ReduceError | None = exc
    else:
        refused = None
    code, out, _ = run("validate", "bundle")
    if refused is None:
        return  # validate may still flag writer promises Codex does not need (no closing events)
    assert code == 1, out
    assert refused.message in out
    if refused.cause is not None:
        assert refused.cause in out


@needs_conformance
@pytest.mark.parametrize("damage", [b"{1: 2}", b"", b'{"cut'])
def test_a_broken_payload_is_one_problem_in_reduces_words(tmp_path: Path, damage: bytes) -> None:
    """A payload a handler parses, not JSON (a crash leaves it empty or cut): pass 1 said
    "invalid payload raw_payload:4: ..." and the reducer "parse payload raw_payload:4: ...",
    two problems for one file (the corpus's ``invalid_payload_json`` too; found by review)."""
    source = next(b for b in conformance_bundles() if b.parent.name == "single_exec")
    bundle = tmp_path / "bundle"
    shutil.copytree(source, bundle)
    (bundle / "payloads" / "4.json").write_bytes(damage)
    with pytest.raises(ReduceError) as info:
        reduce_bundle(bundle)
    code, out, _ = run("validate", bundle)
    assert code == 1
    about = [line for line in out.splitlines() if line.startswith(f"{bundle}/payloads/4.json")]
    said = f"{info.value.message}: {info.value.cause}"
    where = f"(cited at trace.jsonl line {info.value.log_line}, seq {info.value.seq})"
    assert info.value.log_line is not None
    assert about == [f"{bundle}/payloads/4.json: {said} {where}"], out


def test_numbers_serde_accepts_are_not_problems(tmp_path: Path) -> None:
    """A line orjson cannot hold (a 5,000-digit integer in an unknown field) reduces, as in
    Codex, so validate must not call it broken."""
    lines = event_lines().splitlines(keepends=True)
    lines[0] = lines[0].rstrip(b"\n")[:-1] + b',"extra":' + b"9" * 5_000 + b"}\n"
    bundle = make_bundle(tmp_path, b"".join(lines))
    assert run("reduce", bundle, "-o", tmp_path / "s.json")[0] == 0
    code, out, _ = run("validate", bundle)
    assert code == 0, out


# --- schema 3 -----------------------------------------------------------------------------------


def _v3_corpus_bundle(tmp_path: Path) -> Path:
    from tests.conftest import CONFORMANCE_V3

    bundles = conformance_bundles(CONFORMANCE_V3)
    if not bundles:
        pytest.skip("../shared/conformance-v3 is not present")
    source = next(b for b in bundles if any((b / "payloads").glob("*.zst")))
    bundle = tmp_path / "bundle"
    shutil.copytree(source, bundle)
    (bundle / "expected_state.json").unlink(missing_ok=True)
    return bundle


def test_schema3_bundles_get_the_structural_pass(tmp_path: Path) -> None:
    """A healthy schema-3 bundle is counted (events and cited payloads), not skipped."""
    bundle = _v3_corpus_bundle(tmp_path)
    code, out, _ = run("validate", bundle)
    assert code == 0, out
    events = (bundle / "trace.jsonl").read_bytes().count(b"\n")
    assert out.startswith(f"OK {bundle}: {events} events, ")
    assert not out.startswith(f"OK {bundle}: {events} events, 0 payloads")


def test_schema3_cut_shard_and_seq_gap_are_reported(tmp_path: Path) -> None:
    """A shard cut short and a missing seq in a schema-3 log are both named."""
    bundle = _v3_corpus_bundle(tmp_path)
    shard = sorted((bundle / "payloads").glob("*.zst"))[0]
    shard.write_bytes(shard.read_bytes()[: len(shard.read_bytes()) // 2])
    lines = (bundle / "trace.jsonl").read_bytes().splitlines(keepends=True)
    (bundle / "trace.jsonl").write_bytes(b"".join(lines[:2] + lines[3:]))
    code, out, _ = run("validate", bundle)
    assert code == 1
    assert "trace.jsonl:3: " in out and "seq 4" in out
    assert shard.name in out


def test_schema3_every_record_a_cut_shard_lost_is_named(tmp_path: Path) -> None:
    """A crash cuts the last shard short and the log with it: every record lost is named, a
    truncated one too (its record holds what was kept, which Codex checks; we skipped it, and
    of a template named its own record only), the reducer's refusal among them in place of
    its payload's line (it replaced the first named; found by review)."""
    from tests.reduce.v3_bundles import copy_bundle

    bundle = copy_bundle("capture_payload_limit_exec", tmp_path)
    shard = bundle / "payloads" / "000003.zst"  # raw_payload:24 to 27, 26 truncated
    shard.write_bytes(shard.read_bytes()[:300])  # keeps 24 and 25
    lines = (bundle / "trace.jsonl").read_bytes().splitlines(keepends=True)
    (bundle / "trace.jsonl").write_bytes(b"".join(lines[:-1]))
    with pytest.raises(ReduceError) as info:
        reduce_bundle(bundle)
    code, out, _ = run("validate", bundle)
    assert code == 1
    named = [line for line in out.splitlines() if "missing payload" in line]
    assert [line.split()[3] for line in named] == ["raw_payload:26", "raw_payload:27"], out
    assert any(line.endswith(info.value.message) for line in named), out


def test_the_payloads_a_kill_left_uncited_are_one_explained_problem(tmp_path: Path) -> None:
    """A writer puts each payload on disk before the line citing it, so a recording stopped
    in between (never closed) leaves its last payloads uncited: a killed demo-sized
    recording got 18 bare "not cited by any event" lines, nothing saying why (found by
    review). They are one problem that says so; an uncited payload of a closed recording is
    still named alone."""
    lines = event_lines().splitlines(keepends=True)
    bundle = make_bundle(tmp_path, b"".join(lines[:-2]))  # no rollout_ended, not closed
    for n in (3, 4, 5):
        (bundle / "payloads" / f"{n}.json").write_bytes(b"{}")
    code, out, _ = run("validate", bundle)
    assert code == 1
    uncited = [line for line in out.splitlines() if "not cited" in line]
    assert uncited == [
        f"{bundle}/payloads: 3 payload files not cited by any event (3.json to 5.json): the "
        "recording was not closed, and its writer puts each payload on disk before the line "
        "citing it, so a stop in between leaves the last ones uncited (the reducers read "
        "past them)"
    ]


def test_a_kill_before_the_first_citing_line_leaves_every_payload_in_the_trail(
    tmp_path: Path,
) -> None:
    """Stopped after its first payloads but before any line cited one, a recording has no
    cited payload to count from: the trail starts at ``1.json``. Counted from 1 instead of
    0, the first payload was named alone as "not cited by any event", the bare problem
    that says nothing of the kill (mutation audit)."""
    first = event_lines().splitlines(keepends=True)[0]  # rollout_started, nothing cited
    bundle = make_bundle(tmp_path, first)  # payloads 1.json and 2.json on disk
    code, out, _ = run("validate", bundle)
    assert code == 1
    uncited = [line for line in out.splitlines() if "not cited" in line]
    assert len(uncited) == 1, out
    assert uncited[0].startswith(
        f"{bundle}/payloads: 2 payload files not cited by any event (1.json to 2.json): "
    ), out


def test_schema3_a_missing_shard_is_one_problem(tmp_path: Path) -> None:
    """A shard lost whole is said once, where it is first cited: the templates of later
    shards whose parts it held each said it again (one line per citing line: 3 for
    ``view_image``, 175 for a killed demo-sized recording; found by review)."""
    from tests.reduce.v3_bundles import copy_bundle

    bundle = copy_bundle("view_image", tmp_path)
    (bundle / "payloads" / "000001.zst").unlink()
    with pytest.raises(ReduceError) as info:
        reduce_bundle(bundle)
    code, out, _ = run("validate", bundle)
    assert code == 1
    problems = [line for line in out.splitlines() if line.startswith(str(bundle))]
    assert problems == [
        f"{info.value.file}: {info.value.message}: {info.value.cause} "
        "(cited at trace.jsonl line 2, seq 2)"
    ]


def test_schema3_a_missing_record_is_cited_in_one_style(tmp_path: Path) -> None:
    """A shard record that is missing was cited as "(cited at trace.jsonl line 12)" when only
    pass 1 saw it, and as "(seq 9)" when the reducer's words took its place (polish35): the
    same problem, two ways to say where. Both now name the citing line and its seq, the way
    every payload problem does."""
    from tests.reduce.v3_bundles import copy_bundle

    bundle = copy_bundle("view_image", tmp_path)
    log = bundle / "trace.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    # two citations of records the shards do not hold: the first the reducer reads (its
    # words replace pass 1's), the second it never reaches (pass 1's words stand)
    found = []
    for number, raw in enumerate(lines, 1):
        event = json.loads(raw)
        refs = re.findall(rb'"raw_payload_id":"(raw_payload:[0-9]+)","kind":{[^}]*},"shard":', raw)
        if refs and event["payload"]["type"] in ("thread_started", "inference_started"):
            shard = int(re.findall(rb'"shard":([0-9]+)', raw)[0])
            found.append((number, event["seq"], refs[0], shard))
    (first, first_seq, one, one_shard), (second, second_seq, other, other_shard) = (
        found[0],
        found[-1],
    )
    assert first != second
    lines[first - 1] = lines[first - 1].replace(b'"' + one + b'"', b'"raw_payload:901"')
    lines[second - 1] = lines[second - 1].replace(b'"' + other + b'"', b'"raw_payload:902"')
    log.write_bytes(b"".join(lines))
    code, out, _ = run("validate", bundle)
    assert code == 1
    missing = [line for line in out.splitlines() if "missing payload raw_payload:90" in line]
    assert missing == [
        f"{bundle}/payloads/{one_shard:06}.zst: missing payload raw_payload:901 in shard "
        f"{one_shard} (cited at trace.jsonl line {first}, seq {first_seq})",
        f"{bundle}/payloads/{other_shard:06}.zst: missing payload raw_payload:902 in shard "
        f"{other_shard} (cited at trace.jsonl line {second}, seq {second_seq})",
    ], out


@pytest.mark.parametrize("schema", [2, 3])
def test_an_unreadable_manifest_is_one_problem_not_one_per_line(
    tmp_path: Path, schema: int
) -> None:
    # without a manifest the lines were read as schema 2: a schema-3 log gave 120 problems
    bundle = make_bundle(tmp_path) if schema == 2 else _v3_corpus_bundle(tmp_path)
    (bundle / "manifest.json").rename(tmp_path / "manifest.json")
    (bundle / "manifest.json").symlink_to(tmp_path / "manifest.json")
    code, out, _ = run("validate", bundle)
    assert code == 1
    problems = [line for line in out.splitlines() if line.startswith(str(bundle))]
    assert len(problems) == 1 and "manifest.json" in problems[0] and "symlink" in problems[0]


def _record_with_a_dropped_event(root: Path) -> Path:
    """A schema-2 recording with ``overflow="drop"`` and a queue so small that some of the
    turn's protocol events are dropped (counted), one of them after its payload was queued
    (``inference_started`` found it full before starts were kept as ends are)."""
    import warnings

    import anyio

    from rollout_trace_sdk.record import open_rollout

    async def record() -> None:
        async with (
            open_rollout(root, schema_version=2, overflow="drop", max_queued_bytes=2000) as rollout,
            rollout.root.turn() as turn,
        ):
            await rollout.flush()
            message = {"type": "message", "role": "user", "content": "x" * 37}
            request = {"model": "m", "input": [message]}
            turn.inference(request).completed(response_id="r", output_items=[])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        anyio.run(record)
    (bundle,) = root.glob("trace-*")
    return bundle


def test_a_payload_whose_event_the_recorder_dropped_is_explained(tmp_path: Path) -> None:
    """``validate`` failed our own ``overflow="drop"`` bundle: "payloads/5.json: not cited by
    any event", a payload queued before the event citing it found the queue full (found by
    review). Both reducers read it; the loss report says events were dropped: a note."""
    bundle = _record_with_a_dropped_event(tmp_path / "ours")
    log = (bundle / "trace.jsonl").read_text()
    assert [p.name for p in (bundle / "payloads").iterdir() if f"payloads/{p.name}" not in log]
    code, out, err = run("validate", bundle)
    assert code == 0, out
    assert "not cited by any event: the recorder's loss report says it dropped events" in err
    # without a loss report an uncited payload is still a problem
    plain = make_bundle(tmp_path / "plain", event_lines())
    (plain / "payloads" / "9.json").write_bytes(b"{}")
    code, out, _ = run("validate", plain)
    assert code == 1
    assert f"{plain}/payloads/9.json: not cited by any event\n" in out


@pytest.mark.parametrize(
    "said",
    [
        "dropped 1 event and 1 payload (473 bytes)",  # as the recorder says it now
        "dropped 1 events and 1 payloads (473 bytes)",  # as bundles written before said it
    ],
)
def test_the_loss_report_is_read_in_either_wording(tmp_path: Path, said: str) -> None:
    """The loss report said "1 events and 1 payloads" until fix47; ``validate`` matched its
    counts' plural nouns, so the singular "1 event" no longer explained a payload whose event
    was dropped. Bundles already written keep the plural: both must read as a loss report,
    to ``validate``, ``ls`` (``lossy``) and the exports (``is_loss_report``)."""
    from rollout_trace_sdk._log_status import bundle_status
    from rollout_trace_sdk.view.reports import is_loss_report, recorder_reports

    bundle = _record_with_a_dropped_event(tmp_path / "ours")
    (report,) = [
        p
        for p in (bundle / "payloads").iterdir()
        if b"rollout_trace_sdk: dropped" in p.read_bytes()
    ]
    body = json.loads(report.read_bytes())
    body["message"] = f"rollout_trace_sdk: {said} while recording this trace: a test"
    report.write_text(json.dumps(body, indent=2))
    code, out, err = run("validate", bundle)
    assert code == 0, out
    assert "not cited by any event: the recorder's loss report says it dropped events" in err
    assert [is_loss_report(r) for r in recorder_reports(bundle)] == [True]
    assert bundle_status(bundle).lossy


@needs_conformance
def test_a_log_growing_while_validated_is_checked_as_it_stood(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reducer reads a regular log to the size it had when opened (c26894c: a live
    recording was chased for minutes); validate's own pass over the lines still read to the
    end, so a writer faster than the checks kept it going (found by review24b). A line is
    appended after each one checked: the lines there at the open are the ones counted."""
    from rollout_trace_sdk.reduce import validate

    bundle = tmp_path / "b"
    shutil.copytree(conformance_bundles(CONFORMANCE_V3)[0], bundle)
    log = bundle / "trace.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    real = validate._Validator.line

    def line(self: validate._Validator, number: int, raw: bytes, *rest: object) -> int:
        if number < 1000:  # the writer goes on (bounded: a regression ends)
            with log.open("ab") as handle:
                handle.write(lines[-1])
        return real(self, number, raw, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(validate._Validator, "line", line)
    report = validate.validate_bundle(bundle)
    assert report.events == len(lines)


def _killed_copies(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A traces root with a closed bundle, one whose recorder was killed between lines (no
    closing events) and one killed mid-line (its last line cut)."""
    lines = event_lines().splitlines(keepends=True)
    root = tmp_path / "runs"
    root.mkdir()
    bundles = []
    for name, log in (
        ("a-closed", b"".join(lines)),
        ("b-killed", b"".join(lines[:3])),
        ("c-cut", b"".join(lines[:3]) + lines[3][:20]),
    ):
        made = make_bundle(tmp_path / name, log)
        bundles.append(made.rename(root / name))
    return bundles[0], bundles[1], bundles[2]


def test_a_killed_recording_is_called_unclosed_with_what_reads_it(tmp_path: Path) -> None:
    """``validate ROOT`` after a process was killed (newuser26: 49 of 550 bundles) printed
    each as ``4 problems, first trace.jsonl:2: thread ... started here never ended`` and
    counted them "damaged": nothing said the recorder never closed them, nor that ``reduce``
    reads them as they are (``--lenient`` past a line the kill cut). Each line now says
    ``unclosed``, the count says how many were, and what reads them; ``validate BUNDLE``
    says the same of one. One cut mid-line is ``torn``, as ``ls`` says (it was counted
    unclosed, with a --lenient aside; fix47)."""
    _, killed, cut = _killed_copies(tmp_path)
    code, out, _ = run("ls", killed.parent)
    listed = {Path(row.split()[-1]).name: row for row in out.splitlines()[1::2]}
    assert " torn " in listed[cut.name] and " unclosed " in listed[killed.name], out
    code, out, err = run("validate", killed.parent)
    assert code == 1
    rows = out.splitlines()
    assert rows[0].startswith(f"{killed}: unclosed, 3 problems, first trace.jsonl:2: "), rows
    assert rows[1].startswith(f"{cut}: torn, "), rows
    assert rows[2] == f"1 of 3 bundles OK under {killed.parent}"
    assert err.startswith(
        f"2 bundles not OK under {killed.parent}: 1 unclosed (their recorder killed or "
        "stopped): rollout-trace reduce reads what each holds; 1 torn (their last line cut "
        "mid-write: their recorder killed while writing): rollout-trace reduce --lenient reads "
        "what each holds; rollout-trace validate BUNDLE "
    ), err

    code, _, err = run("validate", killed)
    assert code == 1
    assert "unclosed: its recorder was killed or stopped (no process is writing it)" in err, err
    assert f"rollout-trace reduce {killed} reads what it holds" in err, err
    code, _, err = run("validate", cut)
    assert code == 1
    assert "torn: its last line was cut mid-write (its recorder killed while writing)" in err
    assert f"rollout-trace reduce {cut} --lenient reads what it holds" in err, err
    # and the advice holds
    assert run("reduce", killed, "-o", tmp_path / "k.json")[0] == 0
    assert run("reduce", cut, "-o", tmp_path / "c.json")[0] == 1
    assert run("reduce", cut, "--lenient", "-o", tmp_path / "c.json")[0] == 0


def test_an_unclosed_bundle_no_reduction_reads_is_damaged_with_no_reader_named(
    tmp_path: Path,
) -> None:
    """Unclosed is not all that is wrong with a killed bundle whose middle line is broken (or
    whose seqs skip): ``reduce`` refuses it, ``--lenient`` too (it passes over a cut last line
    only), so none is named as its reader and the root's count calls it damaged. Naming
    ``reduce --lenient`` for every refused bundle, or counting every refused unclosed one as
    cut, passed every validate test (mut33)."""
    lines = event_lines().splitlines(keepends=True)
    root = tmp_path / "runs"
    root.mkdir()
    logs = {"broken": lines[0] + lines[1][:25] + b"\n" + lines[2], "gap": lines[0] + lines[2]}
    for name, log in logs.items():
        bundle = make_bundle(tmp_path / name, log).rename(root / name)
        code, _, err = run("validate", bundle)
        assert code == 1
        assert err.endswith(
            "unclosed: its recorder was killed or stopped (no process is writing it)\n"
        )
        assert run("reduce", bundle, "--lenient", "-o", tmp_path / f"{name}.json")[0] == 1
    code, _, err = run("validate", root)
    assert code == 1
    assert err.startswith(f"2 bundles not OK under {root}: 2 damaged; "), err


def test_a_closed_bundle_is_not_called_unclosed(tmp_path: Path) -> None:
    closed, _, _ = _killed_copies(tmp_path)
    lines = (closed / "trace.jsonl").read_bytes().splitlines(keepends=True)
    (closed / "trace.jsonl").write_bytes(b"".join(lines[:2] + lines[3:]))  # a seq gap
    code, out, err = run("validate", closed)
    assert code == 1 and "unclosed" not in out + err and "reduce" not in err, err


@pytest.mark.anyio
async def test_a_root_with_a_live_recording_calls_it_no_damage(tmp_path: Path) -> None:
    """``validate ROOT`` beside a running recorder said ``1 damaged bundle under ROOT; 1 still
    being recorded``: the count called every bundle that was not OK damaged, a live recording
    and a killed one's unclosed bundles too, which its own lines and docs/reducing.md say are
    not damage (review26). The count names damage only what is."""
    lines = event_lines().splitlines(keepends=True)
    made = make_bundle(tmp_path / "made", b"".join(lines[:1] + lines[2:]))  # seq 2 is gone
    made.rename(tmp_path / "a-damaged")
    (tmp_path / "made").rmdir()
    async with open_rollout(tmp_path) as rollout:
        async with rollout.root.turn() as turn:
            turn.accept_item_id("a")
        await rollout._writer.flush()
        code, out, err = run("validate", tmp_path)
    assert code == 1
    assert out.splitlines()[-1] == f"0 of 2 bundles OK under {tmp_path}", out
    assert err.startswith(f"2 bundles not OK under {tmp_path}: 1 damaged; 1 still being "), err
    assert "damaged" not in err.replace("1 damaged;", ""), err


@pytest.mark.anyio
async def test_a_recording_that_has_written_nothing_yet_is_no_damage(tmp_path: Path) -> None:
    """A rollout just opened, its writer not yet at its first write (on a busy service it can
    be seconds behind: review prod27 saw 262 of 400 live bundles so), has an empty log under
    its lock. ``ls`` called it ``recording`` and ``validate ROOT`` ``damaged`` ("no events:
    the log is empty"), beside the bundles it counted as still being recorded."""
    async with open_rollout(tmp_path) as rollout:
        bundle = rollout.bundle_dir
        assert bundle is not None and (bundle / "trace.jsonl").stat().st_size == 0
        # no checkpoint since the open: the writer task has not run
        code, out, err = run("validate", tmp_path)
        one = run("validate", bundle)
    assert code == 1
    assert out.splitlines()[0].startswith(f"{bundle}: recording, 1 problem, "), out
    assert err.startswith(f"1 bundle not OK under {tmp_path}: 1 still being recorded "), err
    assert "damaged" not in err, err
    assert one[0] == 1 and "recording: its recorder is still writing it" in one[2], one
    # closed, it is whole
    assert run("validate", tmp_path)[0] == 0


def _budget_spent(tmp_path: Path) -> Path:
    """The corpus's ``rollout_trace.max_bytes`` bundle (14 of its 51 payloads omitted) as
    Codex 0.171 leaves it when its budget runs out before the closing events: the log ends
    at the first event that no longer fits (conformance-v3 scenario notes; live27 saw 49 such
    bundles under tight limits)."""
    source = next(
        (b for b in conformance_bundles(CONFORMANCE_V3) if "capture_total_limit" in str(b)), None
    )
    if source is None:
        pytest.skip("../shared/conformance-v3 is not present")
    bundle = tmp_path / "spent"
    shutil.copytree(source, bundle)
    (bundle / "expected_state.json").unlink(missing_ok=True)
    lines = (bundle / "trace.jsonl").read_bytes().splitlines(keepends=True)
    (bundle / "trace.jsonl").write_bytes(b"".join(lines[:-3]))  # thread_ended onwards
    return bundle


def test_an_unclosed_bundle_that_left_payloads_out_may_have_spent_its_budget(
    tmp_path: Path,
) -> None:
    """An unclosed schema-3 bundle with payloads the capture rules omitted was called killed
    or stopped and nothing more: Codex 0.171 under ``rollout_trace.max_bytes`` ends its log so
    when the budget runs out (live27: 49 of 286 tightly limited bundles). ``validate`` now
    says the budget may have run out, and how many payloads were left out; an unclosed
    bundle with none is told as before."""
    runs = tmp_path / "mixed"
    runs.mkdir()
    spent = _budget_spent(tmp_path).rename(runs / "a-spent")
    code, _, err = run("validate", spent)
    assert code == 1
    assert (
        "unclosed: its recorder was killed or stopped (no process is writing it), or its byte "
        "budget ran out (14 payloads omitted: with rollout_trace.max_bytes, Codex ends the log "
        "at the first event that no longer fits); "
        f"rollout-trace reduce {spent} reads what it holds"
    ) in err, err
    assert run("reduce", spent, "-o", tmp_path / "s.json")[0] == 0  # and the advice holds

    _, killed, _ = _killed_copies(tmp_path)
    code, _, err = run("validate", killed)
    assert code == 1 and "budget" not in err, err
    killed.rename(runs / "b-killed")
    code, _, err = run("validate", runs)
    assert code == 1
    assert err.startswith(
        f"2 bundles not OK under {runs}: 2 unclosed (their recorder killed or stopped, or, "
        "for the 1 that left payloads out, their byte budget spent): rollout-trace reduce "
        "reads what each holds; "
    ), err


def test_the_budget_note_counts_one_payload_in_the_singular() -> None:
    """``(1 payload omitted``, not ``1 payloads`` (the corpus bundle omits 14: the plural
    alone passed every validate test, mut33)."""
    from rollout_trace_sdk._cli_validate import _budget_text

    assert "(1 payload omitted: " in _budget_text(1)
    assert "(2 payloads omitted: " in _budget_text(2)
    assert _budget_text(0) == ""


@pytest.mark.parametrize("schema", [2, 3])
def test_a_manifest_giving_a_key_twice_is_named_in_codex_words(tmp_path: Path, schema: int) -> None:
    """A manifest serde refuses (here a key given twice, which orjson accepts) is one problem
    in serde's words, with its position, as the reducer says it. Found by the mut38 audit:
    the problem could say our decoder's own "a key is given twice" and no test failed."""
    bundle = make_bundle(tmp_path) if schema == 2 else _v3_corpus_bundle(tmp_path)
    manifest = bundle / "manifest.json"
    raw = manifest.read_bytes()
    manifest.write_bytes(raw.replace(b"{", b'{"schema_version": 2, ', 1))
    with pytest.raises(ReduceError) as refused:
        reduce_bundle(bundle)
    cause = refused.value.cause
    assert cause is not None and cause.startswith("duplicate field `schema_version` at "), cause
    code, out, _ = run("validate", bundle)
    assert code == 1
    problems = [line for line in out.splitlines() if line.startswith(str(bundle))]
    assert problems == [f"{manifest}: read {manifest}: {cause}"], out


def test_one_payload_id_cited_at_two_paths_is_a_problem(tmp_path: Path) -> None:
    """A payload id one line cites at one path and a later line at another names two files
    for one payload: validate says so, naming both lines' paths. Dropping the check left
    every test green (mutation audit, mut41)."""
    bundle = make_bundle(tmp_path)
    log = bundle / "trace.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    assert b'"raw_payload_id":"raw_payload:2","kind":{"type":"protocol_event"}' in lines[2]
    lines[2] = lines[2].replace(b'"raw_payload:2"', b'"raw_payload:1"')
    log.write_bytes(b"".join(lines))
    code, out, _ = run("validate", bundle)
    assert code == 1
    assert "raw_payload:1 names 'payloads/2.json', but line 2 named 'payloads/1.json'" in out, out


@pytest.mark.parametrize("schema", [2, 3])
def test_ok_says_what_the_recorder_reported_it_lost(tmp_path: Path, schema: int) -> None:
    """A bundle whose recorder recorded a value approximately (a set) is valid, and OK; the
    recorder's report at the log's end is a note beside it, as summary and show say it: a
    bundle that lost events said OK and nothing else."""
    import anyio

    async def main() -> None:
        async with open_rollout(tmp_path, schema_version=schema) as rollout:
            rollout.root.protocol_event("note", {"tags": {"a"}})

    anyio.run(main)
    (bundle,) = tmp_path.glob("trace-*")
    code, out, err = run("validate", bundle)
    assert code == 0 and out.startswith("OK "), err
    assert "note: the recorder reported: dropped 0 events" in err and "approximately" in err


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_root_says_what_each_ok_bundles_recorder_reported(tmp_path: Path, jobs: str) -> None:
    """``validate ROOT`` (serially and in workers) notes each OK bundle's recorder reports,
    the bundle named, as ``validate BUNDLE`` does; a bundle without reports gets none."""
    import anyio

    async def main() -> None:
        async with open_rollout(tmp_path) as rollout:
            rollout.root.protocol_event("note", {"tags": {"a"}})
        async with open_rollout(tmp_path) as rollout:
            rollout.root.protocol_event("note", {"tags": ["a"]})

    anyio.run(main)
    code, out, err = run("validate", tmp_path, "--jobs", jobs)
    assert code == 0 and "2 of 2 bundles OK" in out, err
    notes = [line for line in err.splitlines() if "the recorder reported" in line]
    assert len(notes) == 1 and notes[0].startswith(f"note: {tmp_path}/trace-"), err


@pytest.mark.parametrize("edit", ["missing", "second"])
def test_a_log_must_start_with_its_one_rollout_started(tmp_path: Path, edit: str) -> None:
    """A writer starts the log with ``rollout_started``, once. A log without it said only
    "no rollout_ended event" (review ops41); one with two said nothing. The reducers take
    both (Codex 0.169 reduces them), so it is ``validate``'s to say."""
    from tests.reduce.test_bundle import _payloads

    payloads = _payloads()
    if edit == "missing":
        payloads = payloads[1:]
    else:
        payloads.insert(2, payloads[0])
    bundle = make_bundle(tmp_path, event_lines(payloads))
    code, out, _ = run("validate", bundle)
    assert code == 1
    said = [line for line in out.splitlines() if "rollout_started" in line]
    log = f"{bundle}/trace.jsonl"
    assert said == (
        [f"{log}:1: the first event is thread_started, not rollout_started"]
        if edit == "missing"
        else [f"{log}:3: a second rollout_started (line 1)"]
    )


def test_payloads_cut_by_a_capture_limit_are_noted_as_the_state_counts_them(
    tmp_path: Path,
) -> None:
    """``validate`` said OK and nothing else of a bundle whose capture limits cut or left out
    most of its payloads (review ops41: 59 of 69 omitted). Valid, but not whole: a note
    counts them by status, as the reduced state's ``raw_payloads`` entries (nested parts
    included) carry them, for our recorder's bundles and Codex 0.171's."""
    from tests.test_cli_sources_status import _limited

    bundles = [_limited(tmp_path / "ours")]
    bundles += [b for b in conformance_bundles(CONFORMANCE_V3) if "capture" in b.parts[-2]]
    for bundle in bundles:
        state = json.loads(run("reduce", bundle, "-o", "-")[1])
        statuses: dict[str, str] = {}
        refs = list(state["raw_payloads"].values())
        while refs:  # nested parts included
            ref = refs.pop()
            if isinstance(ref.get("capture"), dict):
                statuses[ref["raw_payload_id"]] = ref["capture"]["status"]
            refs += ref.get("parts") or []
        assert statuses, bundle
        counts = ", ".join(
            f"{list(statuses.values()).count(s)} {s}" for s in sorted(set(statuses.values()))
        )
        code, out, err = run("validate", bundle)
        assert code == 0, out
        assert f"note: payloads cut by a capture limit ({counts}): the reducers say " in err
    code, _, err = run("validate", make_bundle(tmp_path))
    assert code == 0 and "capture limit" not in err


def test_a_damaged_bundle_says_what_the_recorder_reported_it_lost(tmp_path: Path) -> None:
    """A bundle whose writer failed (a real ``EFBIG`` past ``RLIMIT_FSIZE``) closes with its
    loss report and threads that never ended: ``validate`` names those problems, and the
    report that explains them is a note beside them. It was printed beside an OK only, so
    the problems stood alone ("thread ... started here never ended", "no rollout_ended
    event"), the cause nowhere (review45)."""
    from tests.record.test_writer_limits import record_past_the_file_limit

    bundle = record_past_the_file_limit(tmp_path)
    code, out, err = run("validate", bundle)
    assert code == 1 and "started here never ended" in out, out
    assert "note: the recorder reported: dropped " in err and "File too large" in err, err


@needs_proc
def test_a_bundle_a_lockless_writer_holds_is_recording_not_killed(tmp_path: Path) -> None:
    """A bundle another process holds open for writing without a lock, as Codex writes its
    own: ``validate`` calls it being recorded, alone and under a root, not "killed or
    stopped (no process is writing it)" (review status49)."""
    root = tmp_path / "runs"
    root.mkdir()
    bundle = unclosed_bundle(root / "live")
    with held_open(bundle):
        code, _, err = run("validate", bundle)
        assert code == 1
        assert "recording: its recorder is still writing it (so far it reads as unclosed)" in err
        code, out, err = run("validate", root)
        assert out.startswith(f"{bundle}: recording, 3 problems, "), out
    code, _, err = run("validate", bundle)
    assert "unclosed: its recorder was killed or stopped (no process is writing it)" in err, err


@needs_proc
def test_a_root_of_unclosed_bundles_is_scanned_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``validate ROOT``: ``/proc`` is scanned once for the command, not once for each
    unclosed bundle (review review49: 40 bundles a crash left unclosed, 40 scans of every
    descriptor on the machine, ~26 ms each here), and each bundle still reads as a scan of
    its own would say: the one held open ``recording``, the others ``unclosed``."""
    root = tmp_path / "runs"
    live = unclosed_root(root)
    scans = counted_scans(monkeypatch)
    with held_open(live):
        code, out, err = run("validate", root, "--jobs", "1")
    assert code == 1
    assert "1 still being recorded" in err and "4 unclosed" in err, err
    assert f"{live}: recording, " in out, out
    assert len(scans) == 1
